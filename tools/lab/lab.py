#!/usr/bin/env python3
"""hoptrace lab: a Kubernetes node simulated in network namespaces, faults, captures with ground truth.

    python3 tools/lab/lab.py list
    python3 tools/lab/lab.py all [--out DIR]
    python3 tools/lab/lab.py SCENARIO... [--out DIR]
    python3 tools/lab/lab.py clean [--all]

Every scenario builds the node (or two nodes) from scratch in network namespaces named
$HOPTRACE_LAB_PREFIX-* (default hl<pid>-*), applies its fault, starts four capture writers per node
(tcpdump -i any as LINUX_SLL2, hoptrace capture -i any, dumpcap -i IF..., one tcpdump -i IF per
interface), runs healthy background traffic and a real client, stops the writers by PID with SIGINT,
writes captures/<scenario>/ (the captures, links.json, truth.json: what the lab did and saw;
k8s.json: the cluster state in `kubectl get ... -o json` form), and tears everything down, also
when a step fails. Python 3 standard library only. See tools/lab/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _default_prefix() -> str:
    prefix = os.environ.get("HOPTRACE_LAB_PREFIX") or f"hl{os.getpid() % 100000}"
    if not re.fullmatch(r"hl[a-z0-9]{0,8}", prefix):
        raise SystemExit(f"lab.py: HOPTRACE_LAB_PREFIX must be hl followed by up to 8 of [a-z0-9], not {prefix!r}")
    return prefix


# Every namespace of one run is PREFIX-<key>; two runs with different prefixes never collide. The lab creates
# no interface in the root namespace (veths are created directly inside their namespaces).
PREFIX = _default_prefix()


def nsn(key: str) -> str:
    """The real namespace name of a logical one (node, ext, client, web1, ..., nodea, nodeb)."""
    return f"{PREFIX}-{key}"


NODE_NS = "node"
EXT_NS = "ext"
NODE_NAME = "lab-node"
NODE_IP = "192.168.49.2"
EXT_IP = "192.168.49.1"
NODE_SUBNET_LEN = 24
POD_CIDR = "10.244.0.0/24"
CLUSTER_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/12"
GATEWAY = "10.244.0.1"
DNS_IP = "10.96.0.10"
SEARCH = ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"]
KUBE_PROXY_VERSION = "v1.28.4"
CREATED = "2026-01-01T00:00:00Z"


def log(msg: str) -> None:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]
    print(f"lab: {stamp} {msg}", file=sys.stderr, flush=True)


class LabError(Exception):
    """A one-line, user-facing failure."""


# --------------------------------------------------------------------------------------------
# The cluster model: pods, services. Everything else (iptables, DNS records, k8s JSON, truth)
# is generated from these tables.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pod:
    key: str  # short lab name: client, web1, ...
    namespace: str
    name: str
    netns: str
    ip: str
    veth: str  # host-side veth in the node namespace
    labels: dict
    container: str
    image: str
    ports: tuple = ()  # (name, containerPort, protocol)


PODS: dict[str, Pod] = {
    p.key: p
    for p in [
        Pod("client", "default", "client", "client", "10.244.0.10", "vethclient0", {"run": "client"}, "client",
            "curlimages/curl:8.5.0"),
        Pod("web1", "default", "web-6b8f9c7d5-k2x7p", "web1", "10.244.0.11", "vethweb1",
            {"app": "web", "pod-template-hash": "6b8f9c7d5"}, "web", "python:3.11-slim", (("http", 8080, "TCP"),)),
        Pod("web2", "default", "web-6b8f9c7d5-q9m4t", "web2", "10.244.0.12", "vethweb2",
            {"app": "web", "pod-template-hash": "6b8f9c7d5"}, "web", "python:3.11-slim", (("http", 8080, "TCP"),)),
        Pod("dns", "kube-system", "coredns-5d78c9869d-7xkqz", "dns", "10.244.0.13", "vethdns0",
            {"k8s-app": "kube-dns", "pod-template-hash": "5d78c9869d"}, "coredns", "dnsmasq:2.90",
            (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"))),
        Pod("ingress", "ingress-nginx", "ingress-nginx-controller-7d9f8b6c4-wq5zt", "ingress", "10.244.0.14",
            "vethingress0", {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
            "controller", "nginx:1.22", (("http", 80, "TCP"),)),
        # Background load: healthy requests and lookups around each scenario's faulty request.
        Pod("load1", "default", "load-7c5d8f6b9-h4k2m", "load1", "10.244.0.20", "vethload1",
            {"app": "load", "pod-template-hash": "7c5d8f6b9"}, "load", "python:3.11-slim"),
        Pod("load2", "default", "load-7c5d8f6b9-x8r5n", "load2", "10.244.0.21", "vethload2",
            {"app": "load", "pod-template-hash": "7c5d8f6b9"}, "load", "python:3.11-slim"),
    ]
}
LOAD_PODS = ("load1", "load2")

# The host-network ingress controller (ingress-ok, ingress-slow-server) runs in the node namespace.
HOSTNET_INGRESS_POD = ("ingress-nginx", "ingress-nginx-controller-hostnet-8k2mv")


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    protocol: str  # TCP / UDP
    target_port: int
    node_port: int | None = None


@dataclass(frozen=True)
class Service:
    key: str
    namespace: str
    name: str
    cluster_ip: str
    ports: tuple
    selector: dict
    type: str = "ClusterIP"

    @property
    def dns_name(self) -> str:
        return f"{self.name}.{self.namespace}.svc.cluster.local"


SERVICES: dict[str, Service] = {
    s.key: s
    for s in [
        Service("web", "default", "web", "10.96.0.100", (ServicePort("http", 80, "TCP", 8080, 30080),),
                {"app": "web"}, "NodePort"),
        Service("kube-dns", "kube-system", "kube-dns", DNS_IP,
                (ServicePort("dns", 53, "UDP", 53), ServicePort("dns-tcp", 53, "TCP", 53)), {"k8s-app": "kube-dns"}),
        Service("web-empty", "default", "web-empty", "10.96.0.200", (ServicePort("http", 80, "TCP", 8080),),
                {"app": "web-empty"}),
        Service("ingress", "ingress-nginx", "ingress-nginx-controller", "10.96.0.150",
                (ServicePort("http", 80, "TCP", 80, 30880),), {"app.kubernetes.io/name": "ingress-nginx"}, "NodePort"),
    ]
}

INGRESS_HOST = "web.example.com"


def default_endpoints() -> dict[str, list[str]]:
    return {"web": ["web1", "web2"], "kube-dns": ["dns"], "web-empty": [], "ingress": ["ingress"]}


# --------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------


@dataclass
class Transfer:
    """One HTTP request made by curl (several transfers in one curl reuse the connection)."""

    url: str
    request_id: str | None = None
    host_header: str | None = None
    close: bool = False  # send `Connection: close` so the next transfer opens a new connection

    @property
    def path(self) -> str:
        rest = self.url.split("://", 1)[1]
        return "/" + rest.split("/", 1)[1] if "/" in rest else "/"

    @property
    def url_host(self) -> str:
        return self.url.split("://", 1)[1].split("/", 1)[0]


@dataclass
class Scenario:
    name: str
    mode: str  # clusterip | nodeport | ingress | direct
    description: str
    client: str  # the pod key the client runs in ("client", "web1", ...) or "ext" (external namespace)
    transfers: list
    service: str | None = "web"
    endpoints: dict = field(default_factory=default_endpoints)
    verdict: str = "ok"
    verdict_hop: str | None = None  # None: computed (e.g. the veth of the pod that served)
    verdict_detail: str = ""
    fault: dict | None = None  # kind, hop, details
    setup: Callable | None = None  # (lab) -> list of commands run (the fault)
    stopped_servers: tuple = ()  # web pods whose server is not started
    connect_timeout: float = 5.0
    max_time: float = 20.0
    dns_name: str | None = None  # the name the client resolves
    dns_rcode: str | None = None
    via_ingress: str | None = None  # "hostnet" | "pod"
    need_both_endpoints: bool = False
    slow_ms: int | None = None
    # What the verdict should name: interface names (hop, nextHop), for slow the part and the segment.
    location: dict | None = None
    phase: str | None = None  # connect | request | response | dns (failures only)
    client_kind: str = "curl"  # curl | upload | aq | lookup-musl | lookup-glibc
    capture_ns: str = NODE_NS  # where the writers run (the loopback scenario captures in the pod)
    hairpin: bool = True
    snaplen96: bool = False  # also `tcpdump -i any -s 96` (headers-only)
    upload_bytes: int = 0
    background: bool = True
    background_dns: bool = True
    expect_rc: tuple | None = None  # the client's exit codes this scenario's fault gives


def _drop_forward(match: str) -> Callable:
    def apply(lab: "Lab") -> list:
        cmd = ["iptables", "-w", "-t", "filter", "-I", "FORWARD", "1"] + match.split() + [
            "-m", "comment", "--comment", "hoptrace-lab fault: drop", "-j", "DROP"]
        lab.node(*cmd)
        return [" ".join(cmd)]

    return apply


def _tbf(dev: str, rate: str, burst: str, latency: str) -> Callable:
    def apply(lab: "Lab") -> list:
        cmd = ["tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate, "burst", burst, "latency", latency]
        lab.node(*cmd)
        return [" ".join(cmd)]

    return apply


def _stop_dns(lab: "Lab") -> list:
    proc = lab.procs["dnsmasq"]
    os.kill(proc.pid, signal.SIGSTOP)
    lab.stopped_pids.add(proc.pid)
    return [f"kill -STOP {proc.pid}  # dnsmasq in {PODS['dns'].netns}"]


WEB = SERVICES["web"]
W1, W2 = PODS["web1"], PODS["web2"]


def scenarios() -> list[Scenario]:
    web_url = "http://web"
    node_port = f"http://{NODE_IP}:{WEB.ports[0].node_port}"
    ing_np = f"http://{NODE_IP}:{SERVICES['ingress'].ports[0].node_port}"
    only1 = {**default_endpoints(), "web": ["web1"]}
    out = [
        Scenario("clusterip-ok", "clusterip", "client pod curls the web Service by DNS name; two endpoints",
                 "client", [Transfer(f"{web_url}/clusterip-ok", "lab-clusterip-ok-1")], dns_name="web",
                 dns_rcode="NOERROR"),
        Scenario("clusterip-lb", "clusterip", "eight requests, each on a new connection (Connection: close); "
                 "kube-proxy's statistic rule spreads them over both endpoints",
                 "client", [Transfer(f"{web_url}/clusterip-lb-{i}", f"lab-clusterip-lb-{i}", close=True)
                            for i in range(1, 9)], dns_name="web", dns_rcode="NOERROR", need_both_endpoints=True),
        Scenario("clusterip-drop", "clusterip", "iptables DROP in the node's FORWARD chain for traffic to the "
                 "endpoint; the SYN reaches cni0 and never the pod's veth",
                 "client", [Transfer(f"{web_url}/clusterip-drop", "lab-clusterip-drop-1")], endpoints=only1,
                 verdict="breakpoint", verdict_hop="cni0",
                 verdict_detail=f"SYN seen on vethclient0 and cni0 (DNATed to {W1.ip}:8080), never on {W1.veth}; "
                 "retransmitted until curl's connect timeout",
                 fault={"kind": "drop", "hop": "cni0",
                        "details": f"filter FORWARD -s {PODS['client'].ip}/32 -d {W1.ip}/32 -p tcp --dport 8080 -j DROP "
                        f"(after DNAT, before {W1.veth}; only the client pod's packets, the background passes)",
                        "nextExpectedHop": W1.veth},
                 setup=_drop_forward(f"-o cni0 -s {PODS['client'].ip}/32 -d {W1.ip}/32 -p tcp --dport 8080"),
                 connect_timeout=3.5,
                 dns_name="web", dns_rcode="NOERROR"),
        Scenario("clusterip-reset", "clusterip", "the only endpoint's pod does not listen on 8080: the pod "
                 "answers the SYN with RST", "client",
                 [Transfer(f"{web_url}/clusterip-reset", "lab-clusterip-reset-1")], endpoints=only1,
                 stopped_servers=("web1",), verdict="reset", verdict_hop=W1.veth,
                 verdict_detail=f"RST from pod {W1.namespace}/{W1.name} {W1.ip}:8080 in the connect phase "
                 "(nothing listening)",
                 fault={"kind": "not-listening", "hop": W1.veth,
                        "details": f"no server on {W1.ip}:8080 in {W1.netns}; the Service still lists it"},
                 dns_name="web", dns_rcode="NOERROR"),
        Scenario("clusterip-noendpoints", "clusterip", "a Service without endpoints: kube-proxy's filter "
                 "KUBE-SERVICES rule REJECTs with ICMP port unreachable", "client",
                 [Transfer("http://web-empty/clusterip-noendpoints", "lab-clusterip-noendpoints-1")],
                 service="web-empty", verdict="rejected", verdict_hop="cni0",
                 verdict_detail=f"ICMP port unreachable from the node ({GATEWAY}) quoting the SYN to "
                 f"{SERVICES['web-empty'].cluster_ip}:80",
                 fault={"kind": "no-endpoints", "hop": "cni0",
                        "details": "filter KUBE-SERVICES -d 10.96.0.200/32 -p tcp --dport 80 -j REJECT "
                        "--reject-with icmp-port-unreachable (Service default/web-empty has no endpoints)"},
                 dns_name="web-empty", dns_rcode="NOERROR"),
        Scenario("clusterip-congested-hop", "clusterip", "tc tbf (128kbit) on vethclient0 (node -> client pod): "
                 "a 24000-byte response crawls over the last hop", "client",
                 [Transfer(f"{web_url}/clusterip-congested-hop?bytes=24000", "lab-clusterip-congested-hop-1")],
                 endpoints=only1, verdict="slow", verdict_hop="vethclient0",
                 verdict_detail="the response leaves the web pod at once and reaches the client pod's veth "
                 "over ~1.5 s: the hop into vethclient0 (tbf 128kbit) holds the time",
                 fault={"kind": "congested-hop", "hop": "vethclient0",
                        "details": "tc qdisc add dev vethclient0 root tbf rate 128kbit burst 4kb latency 4s "
                        "(node namespace, egress toward the client pod)"},
                 setup=_tbf("vethclient0", "128kbit", "4kb", "4s"), dns_name="web", dns_rcode="NOERROR"),
        Scenario("clusterip-slow-server", "clusterip", "the web pod waits 1500 ms before answering", "client",
                 [Transfer(f"{web_url}/slow?ms=1500", "lab-clusterip-slow-server-1")], endpoints=only1,
                 verdict="slow", verdict_hop=W1.veth,
                 verdict_detail="the server holds the time: the request reaches the pod at once, the "
                 "response's first byte leaves it >= 1500 ms later",
                 fault={"kind": "slow-server", "hop": W1.veth, "details": "server-side delay 1500 ms (ms=1500)"},
                 slow_ms=1500, dns_name="web", dns_rcode="NOERROR"),
        Scenario("clusterip-no-response", "clusterip", "the web pod accepts the request and never answers "
                 "(it hangs for 20 s); curl gives up after 3 s", "client",
                 [Transfer(f"{web_url}/hang?ms=20000", "lab-clusterip-no-response-1")], endpoints=only1,
                 verdict="no-response", verdict_hop=W1.veth,
                 verdict_detail=f"the request is delivered to {W1.namespace}/{W1.name} ({W1.veth}) and ACKed; "
                 "no response byte before the client gives up (3 s)",
                 fault={"kind": "server-hang", "hop": W1.veth,
                        "details": "the handler sleeps 20 s before answering (ms=20000); curl --max-time 3"},
                 max_time=3.0, dns_name="web", dns_rcode="NOERROR"),
        Scenario("dns-nxdomain", "clusterip", "the client asks for a name that does not exist: glibc walks the "
                 "search list (ndots:5), NXDOMAIN at every step", "client",
                 [Transfer("http://nosuch-web/dns-nxdomain", "lab-dns-nxdomain-1")], service=None,
                 verdict="dns-failure", verdict_hop=PODS["dns"].veth,
                 verdict_detail="NXDOMAIN for nosuch-web at every search-list step (A and AAAA); no TCP",
                 fault={"kind": "dns-nxdomain", "hop": PODS["dns"].veth,
                        "details": "no record for nosuch-web in any search domain"},
                 dns_name="nosuch-web", dns_rcode="NXDOMAIN"),
        Scenario("dns-timeout", "clusterip", "the DNS pod hangs (dnsmasq SIGSTOPped): queries reach its veth, "
                 "no answer; glibc resends after 5 s, abandons the search list for the bare name, gives up after 20 s",
                 "client",
                 [Transfer(f"{web_url}/dns-timeout", "lab-dns-timeout-1")], verdict="dns-failure",
                 verdict_hop=PODS["dns"].veth,
                 verdict_detail="DNS queries to 10.96.0.10 (DNATed to the DNS pod) get no answer (timeout)",
                 fault={"kind": "dns-timeout", "hop": PODS["dns"].veth,
                        "details": "dnsmasq stopped with SIGSTOP; its socket stays open, nothing answers"},
                 setup=_stop_dns, connect_timeout=28.0, max_time=30.0, dns_name="web", dns_rcode="timeout",
                 background_dns=False),
        Scenario("nodeport-ok", "nodeport", "an external client curls nodeIP:30080: DNAT to a pod and "
                 "MASQUERADE to the node's cni0 address", "ext",
                 [Transfer(f"{node_port}/nodeport-ok", "lab-nodeport-ok-1")]),
        Scenario("nodeport-drop", "nodeport", "iptables DROP in FORWARD for eth0 -> endpoint: the SYN is seen "
                 "on eth0 only", "ext", [Transfer(f"{node_port}/nodeport-drop", "lab-nodeport-drop-1")],
                 endpoints=only1, verdict="breakpoint", verdict_hop="eth0",
                 verdict_detail=f"SYN to {NODE_IP}:30080 seen on eth0, never on cni0 or {W1.veth}",
                 fault={"kind": "drop", "hop": "eth0",
                        "details": f"filter FORWARD -i eth0 -d {W1.ip}/32 -p tcp --dport 8080 -j DROP",
                        "nextExpectedHop": "cni0"},
                 setup=_drop_forward(f"-i eth0 -d {W1.ip}/32 -p tcp --dport 8080"), connect_timeout=3.5),
        Scenario("ingress-ok", "ingress", "external client -> ingress-nginx on the node's host network -> "
                 "ClusterIP -> pod; nginx generates X-Request-ID", "ext",
                 [Transfer(f"http://{NODE_IP}/ingress-ok", None, INGRESS_HOST)], via_ingress="hostnet"),
        Scenario("ingress-slow-server", "ingress", "through the host-network ingress to a pod that waits "
                 "1200 ms", "ext", [Transfer(f"http://{NODE_IP}/slow?ms=1200", None, INGRESS_HOST)],
                 endpoints=only1, via_ingress="hostnet", verdict="slow", verdict_hop=W1.veth,
                 verdict_detail="the server holds the time (1200 ms) behind the ingress proxy",
                 fault={"kind": "slow-server", "hop": W1.veth, "details": "server-side delay 1200 ms (ms=1200)"},
                 slow_ms=1200),
        Scenario("ingress-via-nodeport", "ingress", "external client -> nodeIP:30880 (NodePort of the "
                 "ingress-nginx-controller Service) -> ingress pod -> web ClusterIP -> web pod", "ext",
                 [Transfer(f"{ing_np}/ingress-via-nodeport", "lab-ingress-via-nodeport-1", INGRESS_HOST)],
                 via_ingress="pod"),
        Scenario("keepalive-many", "clusterip", "one curl, four requests on one connection; the second waits "
                 "800 ms", "client",
                 [Transfer(f"{web_url}/keepalive-1", "lab-keepalive-many-1"),
                  Transfer(f"{web_url}/slow?ms=800", "lab-keepalive-many-2"),
                  Transfer(f"{web_url}/keepalive-3", "lab-keepalive-many-3"),
                  Transfer(f"{web_url}/keepalive-4", "lab-keepalive-many-4")], endpoints=only1,
                 verdict="slow", verdict_hop=W1.veth,
                 verdict_detail="request 2 of 4 on the same connection: the server holds 800 ms",
                 fault={"kind": "slow-server", "hop": W1.veth, "details": "GET /slow?ms=800 (second request)"},
                 slow_ms=800, dns_name="web", dns_rcode="NOERROR"),
        Scenario("direct-ok", "direct", "the client pod curls a web pod's IP directly (no Service, no NAT)",
                 "client", [Transfer(f"http://{W1.ip}:8080/direct-ok", "lab-direct-ok-1")], service=None),
    ] + new_scenarios(web_url, only1)
    for sc in out:
        sc.location = sc.location or LEGACY_LOCATIONS.get(sc.name)
        sc.phase = sc.phase or LEGACY_PHASES.get(sc.name)
    return out


# Where each of the first seventeen scenarios' verdict is (see the README's scenario table).
LEGACY_LOCATIONS = {
    "clusterip-drop": {"hop": "cni0", "nextHop": "vethweb1"},
    "clusterip-reset": {"hop": "vethweb1", "nextHop": None},
    "clusterip-noendpoints": {"hop": "cni0", "nextHop": None},
    "clusterip-congested-hop": {"hop": "vethclient0", "nextHop": None, "part": "response",
                                "segment": "cni0 → vethclient0"},
    "clusterip-slow-server": {"hop": "vethweb1", "nextHop": None, "part": "server", "segment": "server"},
    "clusterip-no-response": {"hop": "vethweb1", "nextHop": None},
    "dns-nxdomain": {"hop": "vethdns0", "nextHop": None},
    "dns-timeout": {"hop": "vethdns0", "nextHop": None},
    "nodeport-drop": {"hop": "eth0", "nextHop": "cni0"},
    "ingress-slow-server": {"hop": "vethweb1", "nextHop": None, "part": "server", "segment": "server"},
    "keepalive-many": {"hop": "vethweb1", "nextHop": None, "part": "server", "segment": "server"},
}
LEGACY_PHASES = {"clusterip-drop": "connect", "clusterip-reset": "connect", "clusterip-noendpoints": "connect",
                 "clusterip-no-response": "response", "dns-nxdomain": "dns", "dns-timeout": "dns",
                 "nodeport-drop": "connect"}


def _hairpin_off(lab: "Lab") -> list:
    cmd = ["ip", "link", "set", W1.veth, "type", "bridge_slave", "hairpin", "off"]
    lab.node(*cmd)
    return [" ".join(cmd)]


def _client_tbf(lab: "Lab") -> list:
    # The client pod's own end of its veth pair (eth0 in the pod), egress toward the node: the upload crawls.
    cmd = ["tc", "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "64kbit", "burst", "4kb", "latency", "4s"]
    lab.ns("client", *cmd)
    return [f"ip netns exec <client> {' '.join(cmd)}"]


def _accept_queue(lab: "Lab") -> list:
    # A listener that never accepts, backlog 1; SYN-ACK retries cut to 2 so that the pending connection expires
    # (and the client's next retransmission is answered with RST) within the scenario.
    hold = ["OUTPUT", "-p", "tcp", "--sport", str(AQ_LATE_PORT), "--dport", str(AQ_PORT), "--tcp-flags", "SYN",
            "NONE", "-m", "comment", "--comment", "hoptrace-lab: hold the late handshake ACK", "-j", "DROP"]
    cmds = ["sysctl -w net.ipv4.tcp_synack_retries=2  # in the web1 pod",
            f"listen({W1.ip}:{AQ_PORT}, backlog=1), never accept()  # in the web1 pod",
            f"iptables -w -I {' '.join(hold)}  # in the client pod, removed when the queue is full"]
    lab.ns("web1", "sysctl", "-qw", "net.ipv4.tcp_synack_retries=2")
    lab.ns("client", "iptables", "-w", "-I", *hold)
    lab.aq_hold = hold
    code = ("import socket,time,sys\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
            f"s.bind(('0.0.0.0',{AQ_PORT}));s.listen(1);print('ready',flush=True)\n"
            "while True: time.sleep(3600)\n")
    proc = lab.start("aq-listener", nsexec("web1", sys.executable, "-u", "-c", code))
    if not proc.wait_for("^ready", 10):
        raise LabError(f"accept-queue listener did not start: {proc.lines[-3:]}")
    return cmds


AQ_PORT = 9090
AQ_LATE_PORT = 40001


def new_scenarios(web_url: str, only1: dict) -> list:
    slow_server = {"hop": W1.veth, "nextHop": None, "part": "server", "segment": "server"}
    lookup_name = "web.default"
    return [
        Scenario("clusterip-reset-mid-response", "clusterip", "the web pod sends the headers and 4000 of 20000 "
                 "body bytes, then closes with SO_LINGER 0: an RST in the middle of the response", "client",
                 [Transfer(f"{web_url}/reset-mid?bytes=20000&cut=4000", "lab-clusterip-reset-mid-response-1")],
                 endpoints=only1, verdict="reset", verdict_hop=W1.veth,
                 verdict_detail=f"RST from {W1.ip}:8080 after 4000 of 20000 body bytes (response phase)",
                 fault={"kind": "reset-mid-response", "hop": W1.veth,
                        "details": "the handler writes headers (Content-Length 20000) and 4000 bytes, waits 200 ms, "
                        "sets SO_LINGER {1, 0} and closes"},
                 location={"hop": W1.veth, "nextHop": None}, phase="response", dns_name="web", dns_rcode="NOERROR",
                 expect_rc=(18, 56)),
        Scenario("clusterip-truncated-response", "clusterip", "the web pod sends the headers and 4000 of 20000 "
                 "body bytes, then closes the connection as usual: a FIN in the middle of the response, which the "
                 "client reads as the end of a response cut short (curl: transfer closed with 16000 bytes remaining)",
                 "client",
                 [Transfer(f"{web_url}/close-mid?bytes=20000&cut=4000", "lab-clusterip-truncated-response-1")],
                 endpoints=only1, verdict="truncated", verdict_hop=W1.veth,
                 verdict_detail=f"FIN from {W1.ip}:8080 after 4000 of 20000 body bytes (response phase)",
                 fault={"kind": "truncated-response", "hop": W1.veth,
                        "details": "the handler writes headers (Content-Length 20000) and 4000 bytes, waits 200 ms, "
                        "and shuts its side down (shutdown SHUT_WR: a FIN)"},
                 location={"hop": W1.veth, "nextHop": None}, phase="response", dns_name="web", dns_rcode="NOERROR",
                 expect_rc=(18,)),
        Scenario("clusterip-congested-request", "clusterip", "a 30000-byte upload (POST) through tc tbf 64kbit on "
                 "the client pod's eth0 (egress toward the node): the request direction is slow", "client",
                 [Transfer(f"{web_url}/upload", "lab-clusterip-congested-request-1")], endpoints=only1,
                 verdict="slow", verdict_hop=PODS["client"].veth,
                 verdict_detail="the request body crawls out of the client pod (64 kbit/s, ~3.8 s) and crosses the "
                 "node at once; the server answers as soon as the body is in",
                 fault={"kind": "congested-request", "hop": PODS["client"].veth,
                        "details": "tc qdisc add dev eth0 root tbf rate 64kbit burst 4kb latency 4s in the client "
                        "pod (its veth's pod end, egress toward the node)"},
                 setup=_client_tbf, client_kind="upload", upload_bytes=30_000,
                 location={"hop": PODS["client"].veth, "nextHop": None, "part": "request",
                           "segment": f"client → {PODS['client'].veth}"},
                 dns_name="web", dns_rcode="NOERROR"),
        Scenario("loopback", "direct", "client and server in one pod (web1) over lo: curl http://127.0.0.1:8080; "
                 "the writers run in the pod's namespace (lo and eth0)", "web1",
                 [Transfer("http://127.0.0.1:8080/loopback", "lab-loopback-1")], service=None, verdict_hop="lo",
                 location={"hop": "lo", "nextHop": None}, capture_ns="web1"),
        Scenario("hairpin-on", "clusterip", "web1 calls its own Service (only endpoint: itself); hairpin on: "
                 "DNAT to itself and MASQUERADE to the bridge address", "web1",
                 [Transfer(f"{web_url}/hairpin-on", "lab-hairpin-on-1")], endpoints=only1, verdict_hop=W1.veth,
                 location={"hop": W1.veth, "nextHop": None}, dns_name="web", dns_rcode="NOERROR"),
        Scenario("hairpin-off", "clusterip", "web1 calls its own Service with hairpin off on its veth: the bridge "
                 "cannot send the DNATed frame back out of the port it came in on", "web1",
                 [Transfer(f"{web_url}/hairpin-off", "lab-hairpin-off-1")], endpoints=only1,
                 verdict="breakpoint", verdict_hop="cni0",
                 verdict_detail=f"the SYN enters the bridge from {W1.veth} and is DNATed to {W1.ip}; the bridge "
                 f"never sends it back out of {W1.veth} (hairpin off); retransmitted until curl's connect timeout",
                 fault={"kind": "hairpin-off", "hop": "cni0",
                        "details": f"ip link set {W1.veth} type bridge_slave hairpin off",
                        "nextExpectedHop": W1.veth},
                 setup=_hairpin_off, hairpin=False, connect_timeout=3.5,
                 location={"hop": "cni0", "nextHop": W1.veth}, phase="connect", dns_name="web",
                 dns_rcode="NOERROR"),
        Scenario("keepalive-third-slow", "clusterip", "one curl, four requests on one connection; the third waits "
                 "600 ms", "client",
                 [Transfer(f"{web_url}/ka3-1", "lab-keepalive-third-slow-1"),
                  Transfer(f"{web_url}/ka3-2", "lab-keepalive-third-slow-2"),
                  Transfer(f"{web_url}/slow?ms=600", "lab-keepalive-third-slow-3"),
                  Transfer(f"{web_url}/ka3-4", "lab-keepalive-third-slow-4")], endpoints=only1,
                 verdict="slow", verdict_hop=W1.veth,
                 verdict_detail="request 3 of 4 on the same connection: the server holds 600 ms",
                 fault={"kind": "slow-server", "hop": W1.veth, "details": "GET /slow?ms=600 (third request)"},
                 slow_ms=600, location=slow_server, dns_name="web", dns_rcode="NOERROR"),
        Scenario("headers-only-slow-server", "clusterip", "the web pod waits 1200 ms before a 6000-byte answer; "
                 "also recorded by tcpdump -i any -s 96 (headers only)", "client",
                 [Transfer(f"{web_url}/slow?ms=1200&bytes=6000", "lab-headers-only-slow-server-1")],
                 endpoints=only1, verdict="slow", verdict_hop=W1.veth,
                 verdict_detail="the server holds 1200 ms; in any.s96.sll2.pcap every packet is cut at 96 bytes",
                 fault={"kind": "slow-server", "hop": W1.veth, "details": "server-side delay 1200 ms (ms=1200)"},
                 slow_ms=1200, snaplen96=True, location=slow_server, dns_name="web", dns_rcode="NOERROR"),
        Scenario("accept-queue-overflow", "direct", f"a listener on {W1.ip}:{AQ_PORT} with backlog 1 that never "
                 "accepts; one connection waits in its queue, two more connect at the same instant: the one "
                 "whose handshake ACK finds the queue full is reset", "client",
                 [Transfer(f"http://{W1.ip}:{AQ_PORT}/accept-queue", None)], service=None,
                 verdict="reset", verdict_hop=W1.veth,
                 verdict_detail="the server's SYN-ACK is retransmitted, the client's request is never ACKed and is "
                 "retransmitted, then the listener answers a retransmission with RST",
                 fault={"kind": "accept-queue-overflow", "hop": W1.veth,
                        "details": f"listen(backlog=1) on :{AQ_PORT}, never accept(); tcp_synack_retries=2 in the "
                        "pod"},
                 setup=_accept_queue, client_kind="aq", location={"hop": W1.veth, "nextHop": None},
                 phase="request", max_time=20.0),
        Scenario("dns-glibc", "clusterip", f"glibc's getaddrinfo for {lookup_name} (tools/lab/lookup.c built with "
                 "cc) in the client pod: A and AAAA per search domain, NXDOMAIN then the answer", "client", [],
                 service=None,
                 verdict_hop=PODS["dns"].veth, location={"hop": PODS["dns"].veth, "nextHop": None},
                 client_kind="lookup-glibc", dns_name=lookup_name, dns_rcode="NOERROR"),
        Scenario("dns-musl", "clusterip", f"musl's getaddrinfo (a static musl-gcc program) for {lookup_name} in the "
                 "client pod", "client", [], service=None, verdict_hop=PODS["dns"].veth,
                 location={"hop": PODS["dns"].veth, "nextHop": None}, client_kind="lookup-musl",
                 dns_name=lookup_name, dns_rcode="NOERROR"),
    ]


# --------------------------------------------------------------------------------------------
# Process and namespace bookkeeping
# --------------------------------------------------------------------------------------------


def run(argv: list, check: bool = True, timeout: float = 30, input: str | None = None) -> subprocess.CompletedProcess:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    except FileNotFoundError:
        raise LabError(f"{argv[0]} not found; install it (tools/setup.sh test)") from None
    if check and res.returncode != 0:
        raise LabError(f"`{' '.join(argv)}` failed ({res.returncode}): {res.stderr.strip()[:300]}")
    return res


def mac_for(ip: str, prefix: str) -> str:
    return prefix + "".join(f":{int(o):02x}" for o in ip.split("."))


def nsexec(ns: str, *argv: str) -> list:
    """argv run inside the logical namespace `ns` (its real name is nsn(ns))."""
    return ["ip", "netns", "exec", nsn(ns), *argv]


class Proc:
    """A started process (stopped by PID) whose stdout/stderr lines are collected by threads."""

    def __init__(self, name: str, argv: list, cwd: str | None = None):
        self.name = name
        self.argv = argv
        self.lines: list[str] = []
        self.times: list[float] = []  # arrival time of each line (epoch seconds)
        self._cond = threading.Condition()
        self.popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
                                      start_new_session=True)
        self.pid = self.popen.pid
        for stream in (self.popen.stdout, self.popen.stderr):
            threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            with self._cond:
                self.times.append(time.time())
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float) -> bool:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if any(rx.search(line) for line in self.lines):
                    return True
                if self.popen.poll() is not None:
                    return any(rx.search(line) for line in self.lines)
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int | None:
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, signal.SIGCONT)
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            for follow_up, wait in ((None, timeout), (signal.SIGTERM, 3), (signal.SIGKILL, 5)):
                if follow_up is not None:
                    log(f"{self.name} (pid {self.pid}) still running; sending {follow_up.name}")
                    try:
                        os.kill(self.pid, follow_up)
                    except ProcessLookupError:
                        pass
                try:
                    self.popen.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        time.sleep(0.05)  # let the pump threads read the last lines
        return self.popen.returncode


ACTIVE: list["Lab"] = []


class Lab:
    """One instance of the simulated node; `teardown()` undoes everything `build()` did."""

    def __init__(self, work: Path):
        self.work = work
        self.netns: list[str] = []
        self.etc_dirs: list[Path] = []
        self.procs: dict[str, Proc] = {}
        self.stopped_pids: set[int] = set()
        self.torn_down = False
        ACTIVE.append(self)

    # --- helpers
    def node(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(nsexec(NODE_NS, *argv), check=check)

    def ns(self, ns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(nsexec(ns, *argv), check=check)

    def add_netns(self, key: str) -> None:
        name = nsn(key)
        res = run(["ip", "netns", "add", name], check=False)
        if res.returncode != 0:
            raise LabError(f"cannot create network namespace {name} ({res.stderr.strip()}); the lab needs root "
                           "and network namespace support (run `lab.py clean` if a leftover blocks it)")
        self.netns.append(name)
        # An IPv4 single-stack cluster; without this every new interface chatters (DAD, MLD, RS).
        self.ns(key, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")

    def slow_neighbours(self) -> None:
        """Neighbour entries stay reachable 30-90 s (base 60 s, per device: a new namespace has no neigh/default
        here), so the warm-up's entries are not all probed at the same instant in the middle of a capture."""
        script = "for f in /proc/sys/net/ipv4/neigh/*/base_reachable_time_ms; do echo 60000 > $f; done"
        for name in self.netns:
            run(["ip", "netns", "exec", name, "sh", "-c", script], check=False)

    def start(self, name: str, argv: list, cwd: str | None = None) -> Proc:
        proc = Proc(name, argv, cwd)
        self.procs[name] = proc
        return proc

    def wait_listen(self, ns: str, proto: str, port: int, timeout: float = 10, proc: Proc | None = None) -> None:
        flag = "-Hltn" if proto == "tcp" else "-Hlun"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            res = run(nsexec(ns, "ss", flag, f"sport = :{port}"), check=False)
            if res.stdout.strip():
                return
            time.sleep(0.05)
        said = f": {' | '.join(proc.lines[-3:])}" if proc else ""
        raise LabError(f"nothing listens on {proto}/{port} in {ns} after {timeout}s{said}")

    # --- the node
    def build(self, sc: Scenario) -> None:
        for ns in [NODE_NS, EXT_NS] + [p.netns for p in PODS.values()]:
            self.add_netns(ns)
        self.node("ip", "link", "set", "lo", "up")
        self.node("sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.node("sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1")
        # Fixed MACs (a bridge otherwise takes the lowest port MAC, which changes SLL2 packet types run to run).
        self.node("ip", "link", "add", "cni0", "address", mac_for(GATEWAY, "02:42"), "type", "bridge",
                  "mcast_snooping", "0")
        self.node("ip", "addr", "add", f"{GATEWAY}/24", "dev", "cni0")
        self.node("ip", "link", "set", "cni0", "up")
        # The node's eth0 and the external client on its other end.
        run(["ip", "link", "add", "eth0", "netns", nsn(NODE_NS), "address", mac_for(NODE_IP, "52:54"), "type",
             "veth", "peer", "name", "eth0", "netns", nsn(EXT_NS), "address", mac_for(EXT_IP, "52:54")])
        self.node("ip", "addr", "add", f"{NODE_IP}/{NODE_SUBNET_LEN}", "dev", "eth0")
        self.node("ip", "link", "set", "eth0", "up")
        self.node("ip", "route", "add", "default", "via", EXT_IP)
        self.ns(EXT_NS, "ip", "link", "set", "lo", "up")
        self.ns(EXT_NS, "ip", "addr", "add", f"{EXT_IP}/{NODE_SUBNET_LEN}", "dev", "eth0")
        self.ns(EXT_NS, "ip", "link", "set", "eth0", "up")
        # Pods on veth pairs attached to cni0 (hairpin on, as the bridge CNI plugin does).
        self.write_etc_ext()
        for pod in PODS.values():
            # Pod side: 0a:58 + the IPv4 address, as the CNI bridge plugin does; node side: fixed too.
            run(["ip", "link", "add", pod.veth, "netns", nsn(NODE_NS), "address", mac_for(pod.ip, "ee:ee"), "type",
                 "veth", "peer", "name", "eth0", "netns", nsn(pod.netns), "address", mac_for(pod.ip, "0a:58")])
            self.node("ip", "link", "set", pod.veth, "master", "cni0")
            self.node("ip", "link", "set", pod.veth, "type", "bridge_slave", "hairpin", "on")  # hairpin-off undoes it
            self.node("ip", "link", "set", pod.veth, "up")
            self.ns(pod.netns, "ip", "link", "set", "lo", "up")
            self.ns(pod.netns, "ip", "addr", "add", f"{pod.ip}/24", "dev", "eth0")
            self.ns(pod.netns, "ip", "link", "set", "eth0", "up")
            self.ns(pod.netns, "ip", "route", "add", "default", "via", GATEWAY)
            self.write_etc(pod)
        self.rules = kube_proxy_rules(sc.endpoints)
        run(nsexec(NODE_NS, "iptables-restore", "-w"), input=self.rules)
        self.start_servers(sc)
        self.slow_neighbours()
        self.warm_up()

    def write_etc(self, pod: Pod) -> None:
        d = Path("/etc/netns") / nsn(pod.netns)
        d.mkdir(parents=True, exist_ok=True)
        self.etc_dirs.append(d)
        (d / "resolv.conf").write_text(
            f"search {pod.namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
            f"nameserver {DNS_IP}\noptions ndots:5\n")
        (d / "hosts").write_text(
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            f"{pod.ip}\t{pod.name}\n")

    def write_etc_ext(self) -> None:
        d = Path("/etc/netns") / nsn(EXT_NS)
        d.mkdir(parents=True, exist_ok=True)
        self.etc_dirs.append(d)
        (d / "resolv.conf").write_text("# the external client resolves nothing; it uses addresses\nnameserver 127.0.0.1\n")
        (d / "hosts").write_text(f"127.0.0.1\tlocalhost\n{EXT_IP}\texternal-client\n")

    def start_servers(self, sc: Scenario) -> None:
        for key in ("web1", "web2"):
            if key in sc.stopped_servers:
                continue
            pod = PODS[key]
            proc = self.start(f"web-{key}", nsexec(pod.netns, sys.executable, "-u", str(HERE / "webserver.py"),
                                                      "--name", pod.name, "--port", "8080",
                                                      "--log", str(self.work / f"{key}.log")))
            if not proc.wait_for(r"^ready ", 10):
                raise LabError(f"web server in {pod.netns} did not start: {' | '.join(proc.lines[-3:])}")
        dns = PODS["dns"]
        hosts = []
        for s in SERVICES.values():
            hosts += ["--host-record", f"{s.dns_name},{s.cluster_ip}"]
        for p in PODS.values():
            hosts += ["--host-record", f"{p.ip.replace('.', '-')}.{p.namespace}.pod.cluster.local,{p.ip}"]
        proc = self.start("dnsmasq", nsexec(dns.netns, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                                     "--no-resolv", "--no-hosts", "--no-poll", f"--listen-address={dns.ip}",
                                     "--bind-interfaces", "--user=root", "--group=root", "--pid-file=",
                                     "--local=/cluster.local/", "--address=/#/", "--local-ttl=30",
                                     "--log-queries", f"--log-facility={self.work / 'dnsmasq.log'}", *hosts))
        self.wait_listen(dns.netns, "udp", 53, proc=proc)
        # ingress-nginx: once on the node's host network, once as a pod.
        for where, ns, listen in (("hostnet", NODE_NS, "80"), ("pod", PODS["ingress"].netns, "80")):
            d = self.work / f"nginx-{where}"
            d.mkdir()
            (d / "nginx.conf").write_text(nginx_conf(d, listen, SERVICES["web"]))
            proc = self.start(f"nginx-{where}", nsexec(ns, "nginx", "-p", str(d), "-c", str(d / "nginx.conf"),
                                                "-e", str(d / "error.log")))
            self.wait_listen(ns, "tcp", 80, proc=proc)

    def warm_up(self) -> None:
        """Fill the neighbour (ARP) caches so the captured requests do not start with ARP resolution."""
        targets = [GATEWAY] + [p.ip for p in PODS.values()]
        script = "; ".join(f"(echo x > /dev/udp/{ip}/9) 2>/dev/null" for ip in targets)
        for pod in PODS.values():
            run(nsexec(pod.netns, "bash", "-c", script), check=False)
        run(nsexec(NODE_NS, "bash", "-c", script + f"; (echo x > /dev/udp/{EXT_IP}/9) 2>/dev/null"), check=False)
        run(nsexec(EXT_NS, "bash", "-c", f"(echo x > /dev/udp/{NODE_IP}/9) 2>/dev/null"), check=False)
        time.sleep(0.3)

    def interfaces(self) -> list:
        return json.loads(self.node("ip", "-j", "link").stdout)

    # --- teardown
    def teardown(self) -> None:
        if self.torn_down:
            return
        self.torn_down = True
        for name, proc in reversed(list(self.procs.items())):
            try:
                proc.stop(signal.SIGTERM)
            except Exception as e:  # keep tearing down
                log(f"stopping {name} (pid {proc.pid}): {e}")
        for ns in reversed(self.netns):
            res = run(["ip", "netns", "del", ns], check=False)
            if res.returncode != 0:
                log(f"ip netns del {ns}: {res.stderr.strip()}")
        for d in self.etc_dirs:
            shutil.rmtree(d, ignore_errors=True)
        if self in ACTIVE:
            ACTIVE.remove(self)


def teardown_all() -> None:
    for lab in list(ACTIVE):
        lab.teardown()


def clean(everything: bool = False) -> int:
    """Removes this prefix's namespaces and /etc/netns entries (every hl* one with everything=True), stopping
    the processes left in them by PID."""
    res = run(["ip", "-j", "netns", "list"], check=False)
    names = [n["name"] for n in json.loads(res.stdout or "[]")] if res.returncode == 0 else []
    mine = (lambda n: re.fullmatch(r"hl[a-z0-9]*-.+", n) is not None) if everything else \
        (lambda n: n.startswith(PREFIX + "-"))
    left = [n for n in names if mine(n)]
    for ns in left:
        pids = run(["ip", "netns", "pids", ns], check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGCONT)
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        run(["ip", "netns", "del", ns], check=False)
        log(f"removed namespace {ns} (stopped {len(pids)} process(es) in it)")
    etc = Path("/etc/netns")
    if etc.is_dir():
        for d in etc.iterdir():
            if mine(d.name):
                shutil.rmtree(d, ignore_errors=True)
    if not left:
        log("nothing to clean")
    return 0


# --------------------------------------------------------------------------------------------
# kube-proxy (iptables mode) and ingress-nginx configuration
# --------------------------------------------------------------------------------------------


def _hash16(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def svc_chain(svc: Service, port: ServicePort) -> str:
    return "KUBE-SVC-" + _hash16(f"{svc.namespace}/{svc.name}:{port.name}{port.protocol.lower()}")


def ext_chain(svc: Service, port: ServicePort) -> str:
    return "KUBE-EXT-" + _hash16(f"{svc.namespace}/{svc.name}:{port.name}{port.protocol.lower()}")


def sep_chain(svc: Service, port: ServicePort, endpoint: str) -> str:
    return "KUBE-SEP-" + _hash16(f"{svc.namespace}/{svc.name}:{port.name}{port.protocol.lower()}{endpoint}")


def kube_proxy_rules(endpoints: dict, pods: dict | None = None) -> str:
    """The nat and filter tables as kube-proxy v1.28 (iptables mode) writes them, for iptables-restore."""
    PODS = pods or globals()["PODS"]  # noqa: N806 - the two-node lab passes its own pods
    nat_chains = ["KUBE-SERVICES", "KUBE-POSTROUTING", "KUBE-NODEPORTS", "KUBE-MARK-MASQ", "KUBE-KUBELET-CANARY",
                  "KUBE-PROXY-CANARY"]
    nat: list[str] = [
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
        "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE '
        "--random-fully",
    ]
    filter_chains = ["KUBE-EXTERNAL-SERVICES", "KUBE-FIREWALL", "KUBE-FORWARD", "KUBE-KUBELET-CANARY",
                     "KUBE-NODEPORTS", "KUBE-PROXY-CANARY", "KUBE-PROXY-FIREWALL", "KUBE-SERVICES"]
    flt: list[str] = [
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" '
        "-j KUBE-PROXY-FIREWALL",
        '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" '
        "-j KUBE-EXTERNAL-SERVICES",
        "-A INPUT -j KUBE-FIREWALL",
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" '
        "-j KUBE-PROXY-FIREWALL",
        '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals"'
        " -j KUBE-EXTERNAL-SERVICES",
        '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" '
        "-j KUBE-PROXY-FIREWALL",
        '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        "-A OUTPUT -j KUBE-FIREWALL",
        '-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet '
        'connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate '
        "RELATED,ESTABLISHED -j ACCEPT",
    ]
    svc_rules: list[str] = []
    nodeport_rules: list[str] = []
    for svc in SERVICES.values():
        eps = sorted(endpoints.get(svc.key, []), key=lambda k: PODS[k].ip)
        for port in svc.ports:
            proto = port.protocol.lower()
            spn = f"{svc.namespace}/{svc.name}:{port.name}"
            if not eps:
                flt.append(f'-A KUBE-SERVICES -d {svc.cluster_ip}/32 -p {proto} -m comment --comment "{spn} has no '
                           f'endpoints" -m {proto} --dport {port.port} -j REJECT --reject-with icmp-port-unreachable')
                if port.node_port:
                    flt.append(f'-A KUBE-EXTERNAL-SERVICES -p {proto} -m comment --comment "{spn} has no endpoints"'
                               f" -m addrtype --dst-type LOCAL -m {proto} --dport {port.node_port} -j REJECT "
                               "--reject-with icmp-port-unreachable")
                continue
            svc_c = svc_chain(svc, port)
            nat_chains.append(svc_c)
            svc_rules.append(f'-A KUBE-SERVICES -d {svc.cluster_ip}/32 -p {proto} -m comment --comment "{spn} '
                             f'cluster IP" -m {proto} --dport {port.port} -j {svc_c}')
            if port.node_port:
                ext_c = ext_chain(svc, port)
                nat_chains.append(ext_c)
                nodeport_rules.append(f'-A KUBE-NODEPORTS -p {proto} -m comment --comment "{spn}" -m {proto} '
                                      f"--dport {port.node_port} -j {ext_c}")
                nat.append(f'-A {ext_c} -m comment --comment "masquerade traffic for {spn} external destinations" '
                           "-j KUBE-MARK-MASQ")
                nat.append(f"-A {ext_c} -j {svc_c}")
            nat.append(f"-A {svc_c} ! -s {CLUSTER_CIDR} -d {svc.cluster_ip}/32 -p {proto} -m comment --comment "
                       f'"{spn} cluster IP" -m {proto} --dport {port.port} -j KUBE-MARK-MASQ')
            for i, key in enumerate(eps):
                ep = f"{PODS[key].ip}:{port.target_port}"
                sep = sep_chain(svc, port, ep)
                nat_chains.append(sep)
                left = len(eps) - i
                stat = f" -m statistic --mode random --probability {1.0 / left:.11f}" if left > 1 else ""
                nat.append(f'-A {svc_c} -m comment --comment "{spn} -> {ep}"{stat} -j {sep}')
                nat.append(f'-A {sep} -s {PODS[key].ip}/32 -m comment --comment "{spn}" -j KUBE-MARK-MASQ')
                nat.append(f'-A {sep} -p {proto} -m comment --comment "{spn}" -m {proto} -j DNAT --to-destination {ep}')
    svc_rules.append('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the '
                     'last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')
    out = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
           ":POSTROUTING ACCEPT [0:0]"]
    out += [f":{c} - [0:0]" for c in nat_chains]
    out += nat + svc_rules + nodeport_rules + ["COMMIT", "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
                                               ":OUTPUT ACCEPT [0:0]"]
    out += [f":{c} - [0:0]" for c in filter_chains]
    out += flt + ["COMMIT", ""]
    return "\n".join(out)


def nginx_conf(d: Path, listen: str, web: Service) -> str:
    """nginx with the ingress-nginx behaviour that matters for tracing (see ingress-nginx's nginx.tmpl)."""
    return f"""# ingress-nginx, reduced to what a trace sees (hoptrace lab).
user root;
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    # Reverse proxy: an incoming X-Request-ID is kept, else nginx's random $request_id is used.
    map $http_x_request_id $req_id {{
        default $http_x_request_id;
        ""      $request_id;
    }}
    log_format upstreaminfo escape=json '{{"msec":"$msec","remote_addr":"$remote_addr",'
        '"remote_port":"$remote_port","request":"$request","host":"$host","req_id":"$req_id",'
        '"status":"$status","upstream_addr":"$upstream_addr",'
        '"upstream_connect_time":"$upstream_connect_time",'
        '"upstream_response_time":"$upstream_response_time","request_time":"$request_time"}}';
    access_log {d}/access.log upstreaminfo;
    server {{
        listen {listen} default_server;
        server_name {INGRESS_HOST};
        location / {{
            proxy_set_header Host $host;
            proxy_set_header X-Request-ID $req_id;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Scheme $scheme;
            proxy_set_header X-Scheme $scheme;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 5s;
            proxy_read_timeout 60s;
            proxy_pass http://{web.cluster_ip}:{web.ports[0].port};
        }}
    }}
}}
"""


# --------------------------------------------------------------------------------------------
# Capture, client, truth
# --------------------------------------------------------------------------------------------


def hoptrace_capture_works() -> Path | None:
    """The hoptrace binary for `hoptrace capture`: $HOPTRACE_BIN, else .build/release, else .build/debug."""
    env = os.environ.get("HOPTRACE_BIN")
    for binary in ([Path(env)] if env else []) + [ROOT / ".build" / "release" / "hoptrace",
                                                  ROOT / ".build" / "debug" / "hoptrace"]:
        if binary.exists() and run([str(binary), "capture", "--help"], check=False, timeout=10).returncode == 0:
            return binary
    return None


DUMPCAP_COUNTS = re.compile(r"Packets received/dropped on interface '([^']+)': (\d+)/(\d+)")
TCPDUMP_COUNTS = re.compile(r"^(\d+) packets? (captured|received by filter|dropped by kernel)")
HOPTRACE_COUNTS = re.compile(r"^(\S+): (\d+) received by filter, (\d+) dropped by kernel")
HOPTRACE_WRITTEN = re.compile(r"^(\d+) packets? written to")


class Writers:
    """The four capture writers of one node (namespace `ns`), started together and stopped by PID (SIGINT).

    Files, in `out` (captures/<scenario>/ or captures/<scenario>/<node>/):
      any.sll2.pcap    tcpdump -i any -y LINUX_SLL2 (directions and ifindex, no names)
      hoptrace.pcapng  hoptrace capture -i any (named interface blocks, direction flags), run in a UTS namespace
                       whose hostname is the node's name (it writes `host <name>` in the section header)
      dumpcap.pcapng   dumpcap -i IF ... (every interface; Ethernet interface blocks, no direction flags)
      if/<IF>.pcap     tcpdump -i IF, one per interface (plain pcap: no name inside, no direction)
      any.s96.sll2.pcap  tcpdump -i any -s 96 (headers-only scenarios)
    dumpcap and the per-interface tcpdumps run with their defaults, promiscuous mode included, as users run them:
    while they run, cni0 is promiscuous and passes every frame it bridges up to the -i any writers too.
    """

    def __init__(self, lab: "Lab", ns: str, out: Path, ifnames: list, hostname: str, snaplen96: bool = False):
        self.lab = lab
        self.ns = ns
        self.out = out
        self.hostname = hostname
        self.ifnames = ifnames
        if out.exists():
            for old in ("any.sll2.pcap", "any.s96.sll2.pcap", "hoptrace.pcapng", "dumpcap.pcapng", "links.json"):
                (out / old).unlink(missing_ok=True)
            shutil.rmtree(out / "if", ignore_errors=True)
        (out / "if").mkdir(parents=True, exist_ok=True)
        binary = hoptrace_capture_works()
        if binary is None:
            raise LabError("`.build/release/hoptrace capture --help` does not work; build it first "
                           "(swift build -c release --product hoptrace)")
        self.specs: list[dict] = [
            # --immediate-mode: TPACKET_V2, every packet handed over at once. With TPACKET_V3 (the default) tcpdump
            # lost the last seconds of the capture at SIGINT (a ring block not yet retired), on this kernel even
            # after 2 s of quiet. V2 has one 256 KiB slot per packet: a 64 MiB buffer keeps TSO bursts.
            {"writer": "tcpdump-any", "file": "any.sll2.pcap", "ready": r"listening on",
             "argv": ["tcpdump", "-i", "any", "-y", "LINUX_SLL2", "-n", "-U", "--immediate-mode", "-B", "65536",
                      "-Z", "root", "-w", str(out / "any.sll2.pcap")]},
            # 64 MiB of ring: with the default 8 MiB and 256 KiB snaplen slots it dropped packets in bursts.
            {"writer": "hoptrace", "file": "hoptrace.pcapng", "ready": None,
             "argv": ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname, str(binary),
                      "capture", "-i", "any", "--buffer-size", "64", "-w", str(out / "hoptrace.pcapng")]},
            {"writer": "dumpcap", "file": "dumpcap.pcapng", "ready": r"(?i)capturing on",
             "argv": ["dumpcap"] + [a for n in ifnames for a in ("-i", n)] + ["-w", str(out / "dumpcap.pcapng")]},
        ]
        for name in ifnames:
            self.specs.append({"writer": "tcpdump-if", "interface": name, "file": f"if/{name}.pcap",
                               "ready": r"listening on",
                               "argv": ["tcpdump", "-i", name, "-n", "-U", "--immediate-mode", "-B", "16384",
                                        "-Z", "root", "-w", str(out / "if" / f"{name}.pcap")]})
        if snaplen96:
            self.specs.append({"writer": "tcpdump-any-s96", "file": "any.s96.sll2.pcap", "ready": r"listening on",
                               "argv": ["tcpdump", "-i", "any", "-y", "LINUX_SLL2", "-s", "96", "-n", "-U",
                                        "--immediate-mode", "-B", "8192", "-Z", "root", "-w",
                                        str(out / "any.s96.sll2.pcap")]})
        self.procs: list[Proc] = []

    def start(self) -> None:
        for i, spec in enumerate(self.specs):
            self.procs.append(self.lab.start(f"writer-{self.ns}-{i}", nsexec(self.ns, *spec["argv"])))
        for spec, proc in zip(self.specs, self.procs):
            if spec["ready"] is None:
                # `hoptrace capture` prints nothing at start; it opens every interface before it creates the file.
                path = self.out / spec["file"]
                deadline = time.monotonic() + 15
                while not path.exists() and proc.popen.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.02)
                ok = path.exists() and proc.popen.poll() is None
            else:
                ok = proc.wait_for(spec["ready"], 15) and proc.popen.poll() is None
            if not ok:
                raise LabError(f"{spec['writer']} {spec.get('interface', '')} in {self.ns} did not start: "
                               f"{' | '.join(proc.lines[-3:])}")
        time.sleep(0.5)  # "listening" is printed right after activation; give the last socket a moment

    def stop(self) -> list:
        # The -i any writers first (SIGINT to all of them, then wait), then the per-interface tcpdumps and dumpcap
        # (which take the interfaces out of promiscuous mode as they exit).
        rcs: dict[int, int | None] = {}
        for group in (("tcpdump-any", "hoptrace", "tcpdump-any-s96"), ("dumpcap", "tcpdump-if")):
            members = [(i, proc) for i, (spec, proc) in enumerate(zip(self.specs, self.procs))
                       if spec["writer"] in group]
            for _, proc in members:  # SIGINT to the whole group first, so they stop at about the same packet
                if proc.popen.poll() is None:
                    try:
                        os.kill(proc.pid, signal.SIGINT)
                    except ProcessLookupError:
                        pass
            for i, proc in members:
                rcs[i] = proc.stop(signal.SIGINT)
        records = []
        for i, (spec, proc) in enumerate(zip(self.specs, self.procs)):
            rc = rcs[i]
            del self.lab.procs[proc.name]
            path = self.out / spec["file"]
            if path.exists():
                os.chmod(path, 0o644)
            lines = [line for line in proc.lines if line.strip()]
            rec = {"writer": spec["writer"], "file": spec["file"], "command": display_argv(spec["argv"]),
                   "exitCode": rc, "bytes": path.stat().st_size if path.exists() else None,
                   "stderr": lines[-12:], "counts": parse_counts(spec["writer"], lines)}
            if "interface" in spec:
                rec["interface"] = spec["interface"]
            if spec["writer"] in ("tcpdump-if", "dumpcap"):
                rec["promiscuous"] = True
            if spec["writer"] == "tcpdump-any-s96":
                rec["snaplen"] = 96
            if spec["writer"] == "hoptrace":
                rec["hostname"] = self.hostname
            records.append(rec)
        return records


def display_argv(argv: list) -> str:
    text = " ".join(_rel(a) for a in argv)
    return re.sub(r"\S*/captures/", "captures/", re.sub(r"/tmp/hoptrace-lab-[^/ ]+/", "$WORK/", text))


def parse_counts(writer: str, lines: list) -> dict:
    """The packet counts a writer printed on exit."""
    counts: dict = {}
    for line in lines:
        if writer.startswith("tcpdump"):
            m = TCPDUMP_COUNTS.match(line)
            if m:
                counts[{"captured": "captured", "received by filter": "receivedByFilter",
                        "dropped by kernel": "droppedByKernel"}[m.group(2)]] = int(m.group(1))
        elif writer == "dumpcap":
            m = DUMPCAP_COUNTS.search(line)
            if m:
                counts.setdefault("perInterface", {})[m.group(1)] = {"received": int(m.group(2)),
                                                                     "dropped": int(m.group(3))}
        elif writer == "hoptrace":
            m = HOPTRACE_WRITTEN.match(line)
            if m:
                counts["written"] = int(m.group(1))
            m = HOPTRACE_COUNTS.match(line)
            if m:
                counts.setdefault("perInterface", {})[m.group(1)] = {"receivedByFilter": int(m.group(2)),
                                                                     "droppedByKernel": int(m.group(3))}
    if writer == "dumpcap" and "perInterface" in counts:
        counts["received"] = sum(v["received"] for v in counts["perInterface"].values())
        counts["dropped"] = sum(v["dropped"] for v in counts["perInterface"].values())
    return counts


def curl_argv(sc: Scenario, work: Path) -> list:
    argv = ["curl"]
    for i, t in enumerate(sc.transfers):
        if i:
            argv.append("--next")
        argv += ["-sS", "--connect-timeout", str(sc.connect_timeout), "--max-time", str(sc.max_time),
                 "-o", str(work / f"body-{i + 1}"), "-w", "%{json}\\n"]
        if t.request_id:
            argv += ["-H", f"X-Request-ID: {t.request_id}"]
        if t.host_header:
            argv += ["-H", f"Host: {t.host_header}"]
        if t.close:
            argv += ["-H", "Connection: close"]
        argv.append(t.url)
    return argv


CURL_FIELDS = ["url_effective", "http_code", "exitcode", "errormsg", "num_connects", "local_ip", "local_port",
               "remote_ip", "remote_port", "size_request", "size_download", "time_namelookup", "time_connect",
               "time_pretransfer", "time_starttransfer", "time_total"]


def read_jsonl(path: Path) -> list:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return out


def _rel(arg: str) -> str:
    """A path inside the package, shown relative to its root (truth files must not depend on the checkout)."""
    try:
        return str(Path(arg).relative_to(ROOT)) if arg.startswith("/") else arg
    except ValueError:
        return arg


def iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="microseconds")


class Background:
    """Healthy traffic around the faulty request: HTTP from the load pods (new and keep-alive connections, to the
    Service and to pods directly) and repeated lookups of one name by one pod, through the C library's resolver."""

    HTTP_CLOSE = 8
    HTTP_KEEPALIVE = 4
    PER_CONN = 2
    DNS_LOOKUPS = 20
    SPREAD = 2.0

    def __init__(self, lab: "Lab", work: Path, scenario: str, plan: list, dns: tuple | None):
        """plan: [(load pod ns key, pod ip, [targets host:port])]; dns: (ns key, pod ip, name) or None."""
        self.lab, self.work, self.scenario, self.plan, self.dns = lab, work, scenario, plan, dns
        self.procs: list[Proc] = []
        self.logs: list[Path] = []

    def start(self) -> None:
        for i, (ns, _ip, targets) in enumerate(self.plan):
            log_path = self.work / f"bg-http-{i}.log"
            self.logs.append(log_path)
            self.procs.append(self.lab.start(f"bg-http-{i}", nsexec(
                ns, sys.executable, "-u", str(HERE / "loadclient.py"), "http", "--id", f"bg-{self.scenario}-{i + 1}",
                "--target", ",".join(targets), "--close", str(self.HTTP_CLOSE), "--keepalive",
                str(self.HTTP_KEEPALIVE), "--per-conn", str(self.PER_CONN), "--spread", str(self.SPREAD),
                "--log", str(log_path))))
        if self.dns:
            ns, _ip, name = self.dns
            self.procs.append(self.lab.start("bg-dns", nsexec(
                ns, sys.executable, "-u", str(HERE / "loadclient.py"), "dns", "--name", name, "--count",
                str(self.DNS_LOOKUPS), "--spread", str(self.SPREAD), "--log", str(self.work / "bg-dns.log"))))
        for proc in self.procs:
            if not proc.wait_for("^ready", 10):
                raise LabError(f"background client {proc.name} did not start: {proc.lines[-3:]}")

    def wait(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"background {proc.name} still running; stopping it")
            proc.stop(signal.SIGTERM)
            self.lab.procs.pop(proc.name, None)

    def truth(self, server_log: list) -> dict:
        http = []
        for path in self.logs:
            http += read_jsonl(path)
        http.sort(key=lambda e: e["start"])
        lookups = read_jsonl(self.work / "bg-dns.log")
        ok = [e for e in http if e.get("status") == 200]
        served = {e["xRequestID"] for e in server_log}
        return {
            "pods": [{"netns": ns, "ip": ip, "targets": targets} for ns, ip, targets in self.plan],
            "podIPs": sorted({ip for _, ip, _ in self.plan} | ({self.dns[1]} if self.dns else set())),
            "xRequestIDPrefix": f"bg-{self.scenario}-",
            "httpRequests": len(http),
            "httpSucceeded": len(ok),
            "allSucceeded": bool(http) and len(ok) == len(http),
            "newConnections": sum(1 for e in http if e["kind"] == "close"),
            "keepAliveRequests": sum(1 for e in http if e["kind"] == "keepalive"),
            "servedPerServerLog": len(served & {e["xRequestID"] for e in http}),
            "start": min((e["start"] for e in http), default=None),
            "end": max((e["end"] for e in http), default=None),
            "requests": http,
            "dnsLookups": {"name": self.dns[2] if self.dns else None, "count": len(lookups),
                           "succeeded": sum(1 for e in lookups if e.get("addresses")),
                           "lookups": lookups} if self.dns else None,
        }


def tshark_rows(path: Path, display_filter: str, fields: list) -> list:
    """The lab's own reading of a capture it wrote (tshark, never hoptrace): one list of field values per packet."""
    argv = ["tshark", "-n", "-r", str(path), "-Y", display_filter, "-T", "fields", "-E", "separator=\t",
            "-E", "occurrence=f", "-o", "tcp.desegment_tcp_streams:FALSE", "-o", "tcp.analyze_sequence_numbers:FALSE"]
    for f in fields:
        argv += ["-e", f]
    res = run(argv, check=False, timeout=60)
    return [line.split("\t") for line in res.stdout.splitlines() if line.strip()]


def dns_seen(capture: Path, ifindex: int, client_ip: str) -> list:
    """What a resolver sent and got, as the lab's tcpdump saw it on the client's veth: time, id, source port,
    type, name, and for answers the rcode."""
    rows = tshark_rows(capture, f"dns && sll.ifindex == {ifindex} && (ip.src == {client_ip} || ip.dst == {client_ip})",
                       ["frame.time_epoch", "dns.id", "udp.srcport", "udp.dstport", "dns.flags.response",
                        "dns.qry.type", "dns.qry.name", "dns.flags.rcode", "dns.count.answers"])
    out = []
    for r in rows:
        response = r[4] in ("1", "True")
        qtype = {"1": "A", "28": "AAAA"}.get(r[5], r[5])
        out.append({"time": float(r[0]), "id": int(r[1], 16) if r[1].startswith("0x") else int(r[1] or 0),
                    "sourcePort": int(r[3] if response else r[2]), "response": response, "type": qtype,
                    "name": r[6], **({"rcode": int(r[7] or 0), "answers": int(r[8] or 0)} if response else {})})
    return out


def client_argv(sc: Scenario, work: Path) -> list:
    if sc.client_kind in ("curl", "upload"):
        argv = curl_argv(sc, work)
        if sc.client_kind == "upload":
            body = work / "upload.bin"
            body.write_bytes((b"upload-0123456789" * (sc.upload_bytes // 17 + 1))[:sc.upload_bytes])
            argv[1:1] = ["-X", "POST", "--data-binary", f"@{body}", "-H", "Expect:", "-H",
                         "Content-Type: application/octet-stream"]
        return argv
    if sc.client_kind == "aq":
        return [sys.executable, "-u", str(HERE / "aqclient.py"), W1.ip, str(AQ_PORT), "--id",
                f"lab-{sc.name}", "--late-port", str(AQ_LATE_PORT), "--wait", "16"]
    if sc.client_kind in ("lookup-glibc", "lookup-musl"):
        # The same one-call program against each C library: getaddrinfo(name, AF_UNSPEC, no AI_ADDRCONFIG).
        # (`getent ahosts` sets AI_ADDRCONFIG: in these IPv4-only pods glibc then asks A only.)
        musl = sc.client_kind == "lookup-musl"
        binary = work / ("lookup-musl" if musl else "lookup-glibc")
        run(["musl-gcc" if musl else "cc", "-static" if musl else "-O2", "-O2", "-o", str(binary),
             str(HERE / "lookup.c")], timeout=60)
        return [str(binary), sc.dns_name]
    raise LabError(f"unknown client kind {sc.client_kind}")


def run_scenario(sc: Scenario, out: Path, exec_cmd: str | None = None, exec_ready: str | None = None,
                 linger: float = 2.0) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"hoptrace-lab-{sc.name}-"))
    os.chmod(work, 0o755)
    lab = Lab(work)
    sc_out = out / sc.name
    sc_out.mkdir(parents=True, exist_ok=True)
    try:
        log(f"{sc.name}: building the node ({PREFIX}-*)")
        lab.build(sc)
        fault_cmds = sc.setup(lab) if sc.setup else []
        links = json.loads(lab.ns(sc.capture_ns, "ip", "-j", "link").stdout)
        node_links = lab.interfaces()
        macs = {ns: json.loads(lab.ns(ns, "ip", "-j", "link", "show", "eth0").stdout)[0]["address"]
                for ns in [EXT_NS] + [p.netns for p in PODS.values()]}
        ifnames = [link["ifname"] for link in links]
        hostname = NODE_NAME if sc.capture_ns == NODE_NS else PODS[sc.capture_ns].name
        writers = Writers(lab, sc.capture_ns, sc_out, ifnames, hostname, sc.snaplen96)
        (sc_out / "links.json").write_text(json.dumps(links, indent=1) + "\n")
        t_start = time.time()
        writers.start()
        t_capturing = time.time()
        exec_proc = None
        if exec_cmd:
            # --exec: an operator's command on the node (e.g. `hoptrace trace --live`) around the traffic.
            exec_proc = lab.start("exec", nsexec(NODE_NS, "sh", "-c", exec_cmd))
            if exec_ready:
                if not exec_proc.wait_for(exec_ready, 15):
                    raise LabError(f"--exec did not print {exec_ready!r}: {' | '.join(exec_proc.lines[-3:])}")
                time.sleep(0.3)
            else:
                time.sleep(1.0)
        background = None
        if sc.background:
            background = Background(lab, work, sc.name, background_plan(sc),
                                    ("load1", PODS["load1"].ip, "web") if sc.background_dns else None)
            t_bg = time.time()
            background.start()
            time.sleep(max(0.0, 0.7 - (time.time() - t_bg)))
        argv = client_argv(sc, work)
        client_ns = EXT_NS if sc.client == "ext" else PODS[sc.client].netns
        log(f"{sc.name}: {display_argv(argv)}")
        t_req = time.time()
        # The pod's own UTS namespace and hostname (kubelet puts it in the pod's /etc/hosts), so nothing
        # resolves the machine's hostname through cluster DNS.
        hostname_c = PODS[sc.client].name if sc.client != "ext" else "external-client"
        wrapped = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname_c, *argv]
        if sc.client_kind == "aq":
            res = run_aq_client(lab, nsexec(client_ns, *wrapped))
        else:
            res = run(nsexec(client_ns, *wrapped), check=False,
                      timeout=sc.max_time * max(1, len(sc.transfers)) + 15)
        t_req_end = time.time()
        if background:
            background.wait()
        # FIN/ACK, late retransmissions, and tcpdump's TPACKET_V3 block timeout (1 s): packets still in an
        # unretired block when SIGINT arrives are counted "received by filter" but never written.
        time.sleep(linger)
        if exec_proc is not None:
            t_exec_stop = time.time()
            rc = exec_proc.stop(signal.SIGINT)
            del lab.procs[exec_proc.name]
            (sc_out / "exec.json").write_text(json.dumps({
                "command": exec_cmd, "requestStart": t_req, "requestEnd": t_req_end, "stopped": t_exec_stop,
                "exitCode": rc, "lines": [{"t": t, "line": line} for t, line in zip(exec_proc.times, exec_proc.lines)],
            }, indent=2) + "\n")
        records = writers.stop()
        t_end = time.time()
        transfers = []
        for line in res.stdout.splitlines():
            try:
                j = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(j, dict) and "exitcode" in j:
                transfers.append({k: j.get(k) for k in CURL_FIELDS})
        bodies = []
        for i in range(len(sc.transfers)):
            b = work / f"body-{i + 1}"
            bodies.append(b.read_text(errors="replace")[:200] if b.exists() else None)
        all_web = read_jsonl(work / "web1.log") + read_jsonl(work / "web2.log")
        bg_prefix = f"bg-{sc.name}-"
        web_log = [e for e in all_web if not (e.get("xRequestID") or "").startswith(bg_prefix)]
        bg_log = [e for e in all_web if (e.get("xRequestID") or "").startswith(bg_prefix)]
        ingress_log = read_jsonl(work / "nginx-hostnet" / "access.log") + read_jsonl(work / "nginx-pod" / "access.log")
        tc = lab.node("tc", "-j", "qdisc", "show", check=False).stdout
        ipt = lab.node("iptables-save", check=False).stdout
        times = dict(start=t_start, capturing=t_capturing, requestStart=t_req, requestEnd=t_req_end, end=t_end)
        truth = make_truth(sc, node_links, links, records, fault_cmds, argv, res, transfers, bodies, web_log,
                           ingress_log, times, tc, ipt, lab)
        truth["topology"] = topology(macs)
        truth["background"] = background.truth(bg_log) if background else None
        truth["clientResult"]["stdout"] = res.stdout.strip()[:4000] if sc.client_kind != "curl" else None
        if sc.client_kind == "aq":
            accept_queue_truth(truth, res, lab)
        if sc.client_kind.startswith("lookup"):
            lookup_truth(truth, sc, sc_out, links)
        if sc.client_kind == "upload":
            truth["request"]["method"] = truth["requests"][0]["method"] = "POST"
            truth["request"]["uploadBytes"] = truth["requests"][0]["uploadBytes"] = sc.upload_bytes
        truth["faultyRequest"] = faulty_request(truth)
        return truth
    finally:
        lab.teardown()
        shutil.rmtree(work, ignore_errors=True)


def run_aq_client(lab: "Lab", argv: list) -> subprocess.CompletedProcess:
    """The accept-queue client: once it says the queue is full, the late connection's packets are let out."""
    proc = lab.start("aq-client", argv)
    if not proc.wait_for("^filled", 10):
        raise LabError(f"accept-queue client did not fill the queue: {proc.lines[-3:]}")
    lab.aq_released = time.time()
    lab.ns("client", "iptables", "-w", "-D", *lab.aq_hold)
    try:
        proc.popen.wait(30)
    except subprocess.TimeoutExpired:
        pass
    rc = proc.stop(signal.SIGTERM)
    del lab.procs[proc.name]
    out = "\n".join(line for line in proc.lines if line.startswith("{") or line == "filled")
    return subprocess.CompletedProcess(argv, rc if rc is not None else -1, out + "\n",
                                       "\n".join(line for line in proc.lines if not line.startswith("{")))


def background_plan(sc: Scenario) -> list:
    """Which targets the load pods call: the web Service when every endpoint of it serves, and the web pods
    that run a server, directly."""
    listening = [k for k in ("web1", "web2") if k not in sc.stopped_servers]
    eps = sc.endpoints.get("web", [])
    service_ok = bool(eps) and all(k in listening for k in eps)
    pods = [f"{PODS[k].ip}:8080" for k in listening]
    svc = [f"{WEB.cluster_ip}:80"] if service_ok else pods
    return [("load1", PODS["load1"].ip, svc), ("load2", PODS["load2"].ip, pods)]


def accept_queue_truth(truth: dict, res, lab: "Lab") -> None:
    try:
        report = json.loads(res.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        raise LabError(f"accept-queue client printed no report: {res.stdout[-300:]} {res.stderr[-300:]}") from None
    conns = report["connections"]
    reset = [c for c in conns if c.get("outcome") == "reset"]
    truth["acceptQueue"] = {"listener": f"{W1.ip}:{AQ_PORT}", "backlog": 1, "tcpSynackRetries": 2,
                            "latePort": AQ_LATE_PORT, "released": getattr(lab, "aq_released", None),
                            "connections": conns,
                            "nstat": lab.ns("web1", "nstat", "-az", "TcpExtListenOverflows", "TcpExtListenDrops",
                                            check=False).stdout.splitlines()}
    reqs = []
    for c in conns:
        reqs.append({"index": c["k"] + 1, "method": "GET", "path": f"/accept-queue/{c['k']}",
                     "host": f"{W1.ip}:{AQ_PORT}", "url": f"http://{W1.ip}:{AQ_PORT}/accept-queue/{c['k']}",
                     "xRequestID": c["xRequestID"], "receivedXRequestID": None, "servedBy": None,
                     "serverDelayMs": None, "clientTiming": {"local_port": c.get("localPort")},
                     "outcome": c.get("outcome"), "outcomeAt": c.get("outcomeAt"), "body": None,
                     "role": {0: "filler", 1: "overflowed" if c in reset else "late", 2: "queued"}[c["k"]]})
    truth["requests"] = reqs
    faulty = next((r for r in reqs if r["role"] == "overflowed"), reqs[-1])
    truth["request"] = faulty | {"count": len(reqs)}


def lookup_truth(truth: dict, sc: Scenario, sc_out: Path, links: list) -> None:
    ifindex = next(link["ifindex"] for link in links if link["ifname"] == PODS["client"].veth)
    seen = dns_seen(sc_out / "any.sll2.pcap", ifindex, PODS["client"].ip)
    queries = [q for q in seen if not q["response"]]
    truth["dns"]["resolver"] = "musl" if sc.client_kind == "lookup-musl" else "glibc"
    truth["dns"]["sent"] = seen
    truth["dns"]["sourcePorts"] = sorted({q["sourcePort"] for q in queries})
    truth["dns"]["order"] = [f"{q['type']} {q['name']}" for q in queries]
    truth["request"] = None
    truth["requests"] = []


def faulty_request(truth: dict) -> dict | None:
    req = truth.get("request")
    if not req:
        return None
    # Several requests on one connection: the faulty one is the one the server delayed (the first when none was).
    delayed = [r for r in truth.get("requests") or [] if (r.get("serverDelayMs") or 0) > 0]
    if delayed:
        req = max(delayed, key=lambda r: r["serverDelayMs"])
    timing = req.get("clientTiming") or {}
    ip = truth["client"]["ip"]
    ports = sorted({t.get("local_port") for t in (truth["clientResult"].get("transfers") or []) if t.get("local_port")}
                   | ({timing.get("local_port")} if timing.get("local_port") else set()))
    return {"xRequestID": req.get("xRequestID") or req.get("receivedXRequestID"), "clientIP": ip,
            "clientPorts": ports, "clients": [f"{ip}:{p}" for p in ports],
            "start": truth["time"]["requestStartEpoch"], "end": truth["time"]["requestEndEpoch"]}


def pod_json(p: Pod) -> dict:
    return {"namespace": p.namespace, "name": p.name, "ip": p.ip, "netns": p.netns, "veth": p.veth}


def make_truth(sc, node_links, links, records, fault_cmds, argv, res, transfers, bodies, web_log, ingress_log,
               times, tc, ipt, lab) -> dict:
    svc = SERVICES.get(sc.service) if sc.service else None
    served = sorted({e["pod"] for e in web_log})
    pods_by_name = {p.name: p for p in PODS.values()}
    verdict_hop = sc.verdict_hop
    if verdict_hop is None:
        hops = [pods_by_name[n].veth for n in served]
        verdict_hop = hops[0] if len(hops) == 1 else hops
    requests = []
    for i, t in enumerate(sc.transfers):
        host = t.host_header or t.url_host
        got = [e for e in web_log if e["path"] == t.path]
        requests.append({
            "index": i + 1, "method": "GET", "path": t.path.split("?")[0] if t.path.startswith("/upload") else t.path,
            "host": host, "url": t.url,
            "xRequestID": t.request_id,
            "receivedXRequestID": got[0]["xRequestID"] if got else None,
            "servedBy": got[0]["pod"] if got else None,
            "serverDelayMs": got[0]["delayMs"] if got else None,
            "clientTiming": transfers[i] if i < len(transfers) else None,
            "body": bodies[i],
        })
    dns = None
    if sc.dns_name:
        dots = sc.dns_name.count(".")
        steps = ([f"{sc.dns_name}.{d}" for d in SEARCH] + [sc.dns_name]) if dots < 5 else [sc.dns_name]
        known = {s.dns_name: s for s in SERVICES.values()}
        target = next((known[s] for s in steps if s in known), None)
        if sc.dns_rcode == "NOERROR":
            # The walk stops at the first search domain that has the name.
            steps = steps[:next((i for i, s in enumerate(steps) if s in known), 0) + 1]
        elif sc.dns_rcode == "timeout":
            # glibc abandons the search list on a timeout and tries the name as is (res_nsearch).
            steps = [steps[0], sc.dns_name]
        dns = {"name": sc.dns_name, "searchList": SEARCH, "ndots": 5, "nameserver": DNS_IP,
               "server": pod_json(PODS["dns"]), "expectedQueries": [{"name": s, "types": ["A", "AAAA"],
                                                     "attempts": 2 if sc.dns_rcode == "timeout" else 1}
                                                    for s in steps],
               "expectedRcode": sc.dns_rcode, "answer": target.cluster_ip if target and sc.dns_rcode == "NOERROR"
               else None}
    client = pod_json(PODS[sc.client]) if sc.client != "ext" else {
        "namespace": None, "name": "external-client", "ip": EXT_IP, "netns": EXT_NS, "veth": None,
        "via": "eth0"}
    if sc.name == "loopback":
        client = {**pod_json(PODS[sc.client]), "ip": "127.0.0.1", "veth": "lo"}
    endpoints = []
    if svc:
        for key in sorted(sc.endpoints.get(svc.key, []), key=lambda k: PODS[k].ip):
            p = PODS[key]
            endpoints.append({**pod_json(p), "port": svc.ports[0].target_port, "listening":
                              key not in sc.stopped_servers})
    elif sc.mode == "direct":
        # No Service: the pod the client addressed by IP is the endpoint.
        host, _, port = sc.transfers[0].url_host.partition(":")
        if host == "127.0.0.1":
            p = PODS[sc.client]
            endpoints.append({**pod_json(p), "ip": host, "veth": "lo", "port": int(port),
                              "listening": p.key not in sc.stopped_servers})
        else:
            p = next(p for p in PODS.values() if p.ip == host)
            endpoints.append({**pod_json(p), "port": int(port or 80),
                              "listening": p.key not in sc.stopped_servers and sc.client_kind != "aq",
                              **({"acceptQueueFull": True} if sc.client_kind == "aq" else {})})
    ingress = None
    if sc.via_ingress:
        ip = PODS["ingress"]
        ingress = {"placement": sc.via_ingress, "host": INGRESS_HOST,
                   "controller": (pod_json(ip) if sc.via_ingress == "pod" else
                                  {"namespace": HOSTNET_INGRESS_POD[0], "name": HOSTNET_INGRESS_POD[1], "ip": NODE_IP,
                                   "netns": NODE_NS, "veth": None, "hostNetwork": True}),
                   "service": svc_json(SERVICES["ingress"]) if sc.via_ingress == "pod" else None,
                   "upstream": f"{WEB.cluster_ip}:{WEB.ports[0].port}",
                   "accessLog": ingress_log}
    location = sc.location or {"hop": verdict_hop, "nextHop": None}
    by_file = {r["file"]: r for r in records}
    truth = {
        "schemaVersion": 2,
        "scenario": sc.name,
        "description": sc.description,
        "mode": sc.mode,
        "verdict": sc.verdict,
        "location": location,
        "phase": sc.phase,
        "nodes": [NODE_NAME],
        "request": (requests[0] | {"count": len(requests)}) if requests else None,
        "requests": requests,
        "client": client,
        "service": svc_json(svc) if svc else None,
        "endpoints": endpoints,
        "ingress": ingress,
        "dns": dns,
        "fault": ({**sc.fault, "commands": fault_cmds} if sc.fault else None),
        "expected": {"verdict": {"kind": sc.verdict, "hop": verdict_hop, "detail": sc.verdict_detail,
                                 "location": location, "phase": sc.phase}},
        "observed": {"servedBy": served, "serverLog": web_log,
                     "dnsmasqLog": (lab.work / "dnsmasq.log").read_text(errors="replace").splitlines()[-40:]
                     if (lab.work / "dnsmasq.log").exists() else []},
        "node": {"name": NODE_NAME, "ip": NODE_IP, "netns": NODE_NS, "podCIDR": POD_CIDR, "cni0": GATEWAY},
        "interfaces": {str(link["ifindex"]): link["ifname"] for link in links},
        "interfaceDetails": [{"ifindex": link["ifindex"], "name": link["ifname"],
                              "mac": link.get("address"), "master": link.get("master"),
                              "kind": "veth" if link["ifname"].startswith("veth") or link["ifname"] == "eth0"
                              else ("bridge" if link["ifname"] == "cni0" else link.get("link_type"))}
                             for link in links],
        "capture": {
            "namespace": sc.capture_ns,
            "hostname": NODE_NAME if sc.capture_ns == NODE_NS else PODS[sc.capture_ns].name,
            "interfaceNames": [link["ifname"] for link in links],
            "files": sorted(r["file"] for r in records) + ["links.json"],
            "writers": records,
            # The two files the first lab wrote, under their new names (older tests read these fields).
            "sll2": {**by_file["any.sll2.pcap"], "linktype": "LINUX_SLL2"},
            "pcapng": {**by_file["hoptrace.pcapng"], "interfaces": [link["ifname"] for link in links]},
        },
        "time": {k: iso(v) for k, v in times.items()} | {k + "Epoch": round(v, 6) for k, v in times.items()},
        "clientResult": {"command": [re.sub(r"^/tmp/hoptrace-lab-[^/]+/", "$WORK/", a) for a in argv],
                         "namespace": EXT_NS if sc.client == "ext" else PODS[sc.client].netns,
                         "kind": sc.client_kind, "exitCode": res.returncode, "stderr": res.stderr.strip()[:500],
                         "transfers": transfers},
        "topology": topology(),
        "nodeInterfaces": {str(link["ifindex"]): link["ifname"] for link in node_links},
        "iptablesSave": ipt.splitlines(),
        "tc": json.loads(tc) if tc.strip().startswith("[") else tc,
    }
    return truth


def svc_json(svc: Service) -> dict:
    p = svc.ports[0]
    return {"namespace": svc.namespace, "name": svc.name, "type": svc.type, "clusterIP": svc.cluster_ip,
            "port": p.port, "protocol": p.protocol, "targetPort": p.target_port, "nodePort": p.node_port,
            "dnsName": svc.dns_name}


def topology(macs: dict | None = None) -> dict:
    macs = macs or {}
    return {
        "node": {"name": NODE_NAME, "ip": NODE_IP, "netns": NODE_NS, "eth0": NODE_IP, "cni0": GATEWAY,
                 "podCIDR": POD_CIDR, "clusterCIDR": CLUSTER_CIDR, "serviceCIDR": SERVICE_CIDR,
                 "kubeProxy": f"iptables mode, as {KUBE_PROXY_VERSION} writes it"},
        "external": {"name": "external-client", "ip": EXT_IP, "netns": EXT_NS, "mac": macs.get(EXT_NS)},
        "pods": [{**pod_json(p), "key": p.key, "labels": p.labels, "mac": macs.get(p.netns)} for p in PODS.values()],
        "services": [
            {"namespace": s.namespace, "name": s.name, "type": s.type, "clusterIP": s.cluster_ip,
             "ports": [{"name": p.name, "port": p.port, "protocol": p.protocol, "targetPort": p.target_port,
                        "nodePort": p.node_port} for p in s.ports]} for s in SERVICES.values()],
    }


# --------------------------------------------------------------------------------------------
# kubectl get pods,services,endpointslices,nodes,ingresses -A -o json
# --------------------------------------------------------------------------------------------


def uid(kind: str, ns: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hoptrace-lab/{kind}/{ns}/{name}"))


def meta(kind: str, ns: str | None, name: str, labels: dict | None = None, **extra) -> dict:
    m = {"creationTimestamp": CREATED, "name": name, "resourceVersion": str(1000 + len(name)),
         "uid": uid(kind, ns or "", name)}
    if ns:
        m["namespace"] = ns
    if labels:
        m["labels"] = labels
    m.update(extra)
    return m


def k8s_list(sc: Scenario) -> dict:
    items = []
    for p in PODS.values():
        items.append(pod_object(p.namespace, p.name, p.labels, p.container, p.image, p.ports, p.ip, False))
    items.append(pod_object(HOSTNET_INGRESS_POD[0], HOSTNET_INGRESS_POD[1],
                            {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller",
                             "hoptrace-lab/placement": "host-network"},
                            "controller", "nginx:1.22", (("http", 80, "TCP"),), NODE_IP, True))
    for s in SERVICES.values():
        ports = []
        for p in s.ports:
            d = {"name": p.name, "port": p.port, "protocol": p.protocol, "targetPort": p.target_port}
            if p.node_port:
                d["nodePort"] = p.node_port
            ports.append(d)
        spec = {"clusterIP": s.cluster_ip, "clusterIPs": [s.cluster_ip], "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "ports": ports, "selector": s.selector,
                "sessionAffinity": "None", "type": s.type}
        if s.type == "NodePort":
            spec["externalTrafficPolicy"] = "Cluster"
        labels = {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"} if s.key == "kube-dns" else None
        items.append({"apiVersion": "v1", "kind": "Service", "metadata": meta("Service", s.namespace, s.name, labels),
                      "spec": spec, "status": {"loadBalancer": {}}})
    for s in SERVICES.values():
        eps = sorted(sc.endpoints.get(s.key, []), key=lambda k: PODS[k].ip)
        suffix = _hash16(s.name).lower()[:5]
        endpoints = [{"addresses": [PODS[k].ip], "conditions": {"ready": True, "serving": True, "terminating": False},
                      "nodeName": NODE_NAME,
                      "targetRef": {"kind": "Pod", "name": PODS[k].name, "namespace": PODS[k].namespace,
                                    "uid": uid("Pod", PODS[k].namespace, PODS[k].name)}} for k in eps]
        items.append({
            "addressType": "IPv4", "apiVersion": "discovery.k8s.io/v1",
            "endpoints": endpoints or None, "kind": "EndpointSlice",
            "metadata": meta("EndpointSlice", s.namespace, f"{s.name}-{suffix}",
                             {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                              "kubernetes.io/service-name": s.name},
                             generateName=f"{s.name}-",
                             ownerReferences=[{"apiVersion": "v1", "blockOwnerDeletion": True, "controller": True,
                                               "kind": "Service", "name": s.name,
                                               "uid": uid("Service", s.namespace, s.name)}]),
            "ports": [{"name": p.name, "port": p.target_port, "protocol": p.protocol} for p in s.ports],
        })
    items.append({
        "apiVersion": "v1", "kind": "Node",
        "metadata": meta("Node", None, NODE_NAME, {"kubernetes.io/arch": "amd64", "kubernetes.io/hostname": NODE_NAME,
                                                   "kubernetes.io/os": "linux",
                                                   "node-role.kubernetes.io/control-plane": ""}),
        "spec": {"podCIDR": POD_CIDR, "podCIDRs": [POD_CIDR]},
        "status": {"addresses": [{"address": NODE_IP, "type": "InternalIP"},
                                 {"address": NODE_NAME, "type": "Hostname"}],
                   "conditions": [{"lastHeartbeatTime": CREATED, "lastTransitionTime": CREATED,
                                   "message": "kubelet is posting ready status", "reason": "KubeletReady",
                                   "status": "True", "type": "Ready"}],
                   "nodeInfo": {"architecture": "amd64", "containerRuntimeVersion": "containerd://1.7.11",
                                "kernelVersion": os.uname().release, "kubeProxyVersion": KUBE_PROXY_VERSION,
                                "kubeletVersion": KUBE_PROXY_VERSION, "operatingSystem": "linux",
                                "osImage": "Debian GNU/Linux 12 (bookworm)"}},
    })
    items.append({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": meta("Ingress", "default", "web", generation=1),
        "spec": {"ingressClassName": "nginx",
                 "rules": [{"host": INGRESS_HOST, "http": {"paths": [
                     {"backend": {"service": {"name": "web", "port": {"number": 80}}}, "path": "/",
                      "pathType": "Prefix"}]}}]},
        "status": {"loadBalancer": {"ingress": [{"ip": NODE_IP}]}},
    })
    order = {"Pod": 0, "Service": 1, "EndpointSlice": 2, "Node": 3, "Ingress": 4}
    items.sort(key=lambda o: (order[o["kind"]], o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def pod_object(ns, name, labels, container, image, ports, ip, host_network) -> dict:
    spec = {"containers": [{"image": image, "imagePullPolicy": "IfNotPresent", "name": container,
                            "ports": [{"containerPort": p[1], "name": p[0], "protocol": p[2]} for p in ports]}],
            "dnsPolicy": "ClusterFirstWithHostNet" if host_network else "ClusterFirst",
            "enableServiceLinks": True, "nodeName": NODE_NAME, "restartPolicy": "Always",
            "schedulerName": "default-scheduler", "serviceAccountName": "default"}
    if not spec["containers"][0]["ports"]:
        del spec["containers"][0]["ports"]
    if host_network:
        spec["hostNetwork"] = True
    cond = [{"lastProbeTime": None, "lastTransitionTime": CREATED, "status": "True", "type": t}
            for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta("Pod", ns, name, labels),
            "spec": spec,
            "status": {"conditions": cond,
                       "containerStatuses": [{"image": image, "name": container, "ready": True, "restartCount": 0,
                                              "started": True, "state": {"running": {"startedAt": CREATED}}}],
                       "hostIP": NODE_IP, "hostIPs": [{"ip": NODE_IP}], "phase": "Running", "podIP": ip,
                       "podIPs": [{"ip": ip}], "qosClass": "BestEffort", "startTime": CREATED}}


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Two nodes: node-a and node-b joined by an underlay veth, flannel-style VXLAN between them.
# --------------------------------------------------------------------------------------------

XNODES = {
    "node-a": {"ns": "nodea", "eth0": "192.168.60.11", "cidr": "10.244.0.0/24", "gw": "10.244.0.1",
               "vtep": "10.244.0.0", "vtep_mac": "8e:a1:00:00:00:0a"},
    "node-b": {"ns": "nodeb", "eth0": "192.168.60.12", "cidr": "10.244.1.0/24", "gw": "10.244.1.1",
               "vtep": "10.244.1.0", "vtep_mac": "8e:a1:00:00:00:0b"},
}
X_UNDERLAY_LEN = 24
X_EXT_IP, X_A_ETH1 = "192.168.49.1", "192.168.49.2"  # the external client, on node-a's second NIC (eth1)
VXLAN_PORT = 8472
VXLAN_MTU = 1450


@dataclass(frozen=True)
class XPod:
    key: str
    node: str
    namespace: str
    name: str
    ip: str
    veth: str
    labels: dict
    image: str
    ports: tuple = ()

    @property
    def netns(self) -> str:
        return f"x{self.key}"


XPODS: dict[str, XPod] = {p.key: p for p in [
    XPod("client", "node-a", "default", "client", "10.244.0.10", "vethclient0", {"run": "client"},
         "curlimages/curl:8.5.0"),
    XPod("weba", "node-a", "default", "web-6b8f9c7d5-a7c2d", "10.244.0.11", "vethweba",
         {"app": "web-a", "pod-template-hash": "6b8f9c7d5"}, "python:3.11-slim", (("http", 8080, "TCP"),)),
    XPod("dns", "node-a", "kube-system", "coredns-5d78c9869d-7xkqz", "10.244.0.13", "vethdns0",
         {"k8s-app": "kube-dns"}, "dnsmasq:2.90", (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"))),
    XPod("load1", "node-a", "default", "load-7c5d8f6b9-h4k2m", "10.244.0.20", "vethload1", {"app": "load"},
         "python:3.11-slim"),
    XPod("web1", "node-b", "default", "web-6b8f9c7d5-k2x7p", "10.244.1.11", "vethweb1",
         {"app": "web", "pod-template-hash": "6b8f9c7d5"}, "python:3.11-slim", (("http", 8080, "TCP"),)),
    XPod("load2", "node-b", "default", "load-7c5d8f6b9-x8r5n", "10.244.1.20", "vethload2", {"app": "load"},
         "python:3.11-slim"),
]}
X_ENDPOINTS = {"web": ["web1"], "kube-dns": ["dns"], "web-empty": [], "ingress": []}


@dataclass
class XScenario:
    name: str
    mode: str
    description: str
    client: str  # "client" (pod on node-a) or "ext"
    url: str
    request_id: str
    verdict: str = "ok"
    location: dict = field(default_factory=lambda: {"hop": "node-b/vethweb1", "nextHop": None})
    phase: str | None = None
    detail: str = ""
    fault: dict | None = None
    setup: Callable | None = None
    connect_timeout: float = 5.0
    max_time: float = 20.0
    expect_rc: tuple | None = None
    client_kind: str = "curl"
    transfers: tuple = ()


def _x_iptables(node: str, *rule: str) -> Callable:
    def apply(lab: "XLab") -> list:
        cmd = ["iptables", "-w", *rule]
        lab.ns(XNODES[node]["ns"], *cmd)
        return [f"{node}: {' '.join(cmd)}"]
    return apply


def _x_tbf(node: str, dev: str, rate: str) -> Callable:
    def apply(lab: "XLab") -> list:
        cmd = ["tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate, "burst", "4kb", "latency", "4s"]
        lab.ns(XNODES[node]["ns"], *cmd)
        return [f"{node}: {' '.join(cmd)}"]
    return apply


def xnode_scenarios() -> list:
    c, w = XPODS["client"], XPODS["web1"]
    inner_src = "0x" + "".join(f"{int(o):02x}" for o in c.ip.split("."))
    return [
        XScenario("xnode-ok", "clusterip", "client pod on node-a curls the web Service; the endpoint is on node-b "
                  "(DNAT on node-a, VXLAN over the underlay)", "client", "http://web/xnode-ok", "lab-xnode-ok-1"),
        XScenario("xnode-drop-far", "clusterip", "node-b drops the client's packets in FORWARD between flannel.1 and "
                  "cni0: the SYN crosses the overlay and never reaches the server pod's veth", "client",
                  "http://web/xnode-drop-far", "lab-xnode-drop-far-1", verdict="breakpoint",
                  location={"hop": "node-b/flannel.1", "nextHop": "node-b/cni0"}, phase="connect",
                  detail="SYN seen on node-a (vethclient0, cni0, flannel.1, eth0) and node-b (eth0, flannel.1); "
                  "dropped in node-b's FORWARD chain",
                  fault={"kind": "drop", "hop": "node-b/flannel.1", "nextExpectedHop": "node-b/cni0",
                         "details": f"node-b filter FORWARD -i flannel.1 -o cni0 -s {c.ip} -d {w.ip} -j DROP"},
                  setup=_x_iptables("node-b", "-I", "FORWARD", "1", "-i", "flannel.1", "-o", "cni0", "-s",
                                    f"{c.ip}/32", "-d", f"{w.ip}/32", "-p", "tcp", "--dport", "8080", "-j", "DROP"),
                  connect_timeout=3.5),
        XScenario("xnode-underlay-drop", "clusterip", "node-b drops the VXLAN packets that carry the client pod's "
                  "traffic (INPUT, udp/8472, u32 match on the inner source address): they reach node-b's eth0 "
                  "and are never decapsulated", "client", "http://web/xnode-underlay-drop",
                  "lab-xnode-underlay-drop-1", verdict="breakpoint",
                  location={"hop": "node-b/eth0", "nextHop": "node-b/flannel.1"}, phase="connect",
                  detail="the encapsulated SYN leaves node-a/eth0 and is captured on node-b/eth0 (taps run before "
                  "netfilter); it never appears on node-b/flannel.1",
                  fault={"kind": "underlay-drop", "hop": "node-b/eth0", "nextExpectedHop": "node-b/flannel.1",
                         "details": f"node-b filter INPUT -i eth0 -p udp --dport {VXLAN_PORT} -m u32 --u32 "
                         f"'62={inner_src}' (inner source {c.ip}) -j DROP"},
                  setup=_x_iptables("node-b", "-I", "INPUT", "1", "-i", "eth0", "-p", "udp", "--dport",
                                    str(VXLAN_PORT), "-m", "u32", "--u32", f"62={inner_src}", "-j", "DROP"),
                  connect_timeout=3.5),
        XScenario("xnode-slow-underlay", "clusterip", "tc tbf 160kbit on node-b's eth0 (egress toward node-a): a "
                  "32000-byte response crawls over the underlay", "client",
                  "http://web/xnode-slow-underlay?bytes=32000", "lab-xnode-slow-underlay-1", verdict="slow",
                  location={"hop": "node-b/eth0", "nextHop": None, "part": "response",
                            "segment": "node-b/flannel.1 → node-b/eth0"},
                  detail="the response leaves the server and node-b/flannel.1 at once and queues in node-b/eth0's "
                  "tbf; taps on an egress device see a packet when the qdisc releases it, so the time shows "
                  "between node-b/flannel.1 and node-b/eth0; node-a/eth0 follows node-b/eth0 at once",
                  fault={"kind": "slow-underlay", "hop": "node-b/eth0",
                         "details": "node-b: tc qdisc add dev eth0 root tbf rate 160kbit burst 4kb latency 4s"},
                  setup=_x_tbf("node-b", "eth0", "160kbit")),
        XScenario("xnode-mtu-blackhole", "clusterip", "the server on node-b answers 8000 bytes; full-size segments "
                  f"(1500-byte packets with DF) do not fit flannel.1 (MTU {VXLAN_MTU}) and node-b's ICMP "
                  "fragmentation-needed is dropped: small segments pass, full-size ones vanish", "client",
                  "http://web/xnode-mtu-blackhole?bytes=8000", "lab-xnode-mtu-blackhole-1", verdict="breakpoint",
                  location={"hop": "node-b/cni0", "nextHop": "node-b/flannel.1"}, phase="response",
                  detail="response segments larger than the overlay MTU are seen on node-b/vethweb1 and node-b/cni0, "
                  "never on node-b/flannel.1; the headers (a small segment) reach the client",
                  fault={"kind": "mtu-blackhole", "hop": "node-b/cni0", "nextExpectedHop": "node-b/flannel.1",
                         "details": "node-b filter OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP; "
                         f"flannel.1 MTU {VXLAN_MTU}, pods and cni0 MTU 1500"},
                  setup=_x_iptables("node-b", "-I", "OUTPUT", "1", "-p", "icmp", "--icmp-type",
                                    "fragmentation-needed", "-j", "DROP"),
                  max_time=4.0, expect_rc=(28,)),
        XScenario("xnode-nodeport-remote", "nodeport", "an external client curls node-a's NodePort; the only "
                  "endpoint is on node-b: DNAT + MASQUERADE (to flannel.1's 10.244.0.0) on node-a, then the overlay",
                  "ext", f"http://{X_A_ETH1}:30080/xnode-nodeport-remote", "lab-xnode-nodeport-remote-1"),
    ]


class XLab(Lab):
    """Two nodes (namespaces nodea, nodeb), their pods, the underlay veth and flannel.1 on each."""

    def node(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        raise LabError("two nodes: say which (lab.ns)")

    def build(self, sc: XScenario) -> None:
        for n in XNODES.values():
            self.add_netns(n["ns"])
        self.add_netns("xext")
        for p in XPODS.values():
            self.add_netns(p.netns)
        a, b = XNODES["node-a"], XNODES["node-b"]
        run(["ip", "link", "add", "eth0", "netns", nsn(a["ns"]), "address", mac_for(a["eth0"], "52:54"), "type",
             "veth", "peer", "name", "eth0", "netns", nsn(b["ns"]), "address", mac_for(b["eth0"], "52:54")])
        run(["ip", "link", "add", "eth1", "netns", nsn(a["ns"]), "address", mac_for(X_A_ETH1, "52:54"), "type",
             "veth", "peer", "name", "eth0", "netns", nsn("xext"), "address", mac_for(X_EXT_IP, "52:54")])
        self.ns("xext", "ip", "link", "set", "lo", "up")
        self.ns("xext", "ip", "addr", "add", f"{X_EXT_IP}/24", "dev", "eth0")
        self.ns("xext", "ip", "link", "set", "eth0", "up")
        self.ns(a["ns"], "ip", "addr", "add", f"{X_A_ETH1}/24", "dev", "eth1")
        self.ns(a["ns"], "ip", "link", "set", "eth1", "up")
        for name, n in XNODES.items():
            peer = b if n is a else a
            ns = n["ns"]
            self.ns(ns, "ip", "link", "set", "lo", "up")
            self.ns(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            self.ns(ns, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1")
            self.ns(ns, "ip", "addr", "add", f"{n['eth0']}/{X_UNDERLAY_LEN}", "dev", "eth0")
            self.ns(ns, "ip", "link", "set", "eth0", "up")
            self.ns(ns, "ip", "link", "add", "cni0", "address", mac_for(n["gw"], "02:42"), "type", "bridge",
                    "mcast_snooping", "0")
            self.ns(ns, "ip", "addr", "add", f"{n['gw']}/24", "dev", "cni0")
            self.ns(ns, "ip", "link", "set", "cni0", "up")
            # flannel's VXLAN backend: VNI 1, port 8472, no learning; static FDB and neighbour entries per peer.
            self.ns(ns, "ip", "link", "add", "flannel.1", "address", n["vtep_mac"], "type", "vxlan", "id", "1",
                    "local", n["eth0"], "dev", "eth0", "dstport", str(VXLAN_PORT), "nolearning", "df", "set")
            self.ns(ns, "ip", "link", "set", "flannel.1", "mtu", str(VXLAN_MTU))
            self.ns(ns, "ip", "addr", "add", f"{n['vtep']}/32", "dev", "flannel.1")
            self.ns(ns, "ip", "link", "set", "flannel.1", "up")
            self.ns(ns, "ip", "neigh", "add", peer["vtep"], "lladdr", peer["vtep_mac"], "dev", "flannel.1", "nud",
                    "permanent")
            self.ns(ns, "bridge", "fdb", "append", peer["vtep_mac"], "dev", "flannel.1", "dst", peer["eth0"])
            self.ns(ns, "ip", "route", "add", peer["cidr"], "via", peer["vtep"], "dev", "flannel.1", "onlink")
        self.ns(a["ns"], "ip", "route", "add", "default", "via", X_EXT_IP)
        self.ns(b["ns"], "ip", "route", "add", "default", "via", a["eth0"])
        for p in XPODS.values():
            n = XNODES[p.node]
            run(["ip", "link", "add", p.veth, "netns", nsn(n["ns"]), "address", mac_for(p.ip, "ee:ee"), "type", "veth",
                 "peer", "name", "eth0", "netns", nsn(p.netns), "address", mac_for(p.ip, "0a:58")])
            self.ns(n["ns"], "ip", "link", "set", p.veth, "master", "cni0")
            self.ns(n["ns"], "ip", "link", "set", p.veth, "type", "bridge_slave", "hairpin", "on")
            self.ns(n["ns"], "ip", "link", "set", p.veth, "up")
            self.ns(p.netns, "ip", "link", "set", "lo", "up")
            self.ns(p.netns, "ip", "addr", "add", f"{p.ip}/24", "dev", "eth0")
            self.ns(p.netns, "ip", "link", "set", "eth0", "up")
            self.ns(p.netns, "ip", "route", "add", "default", "via", n["gw"])
            self.write_etc(Pod(p.key, p.namespace, p.name, p.netns, p.ip, p.veth, p.labels, "c", p.image))
        d = Path("/etc/netns") / nsn("xext")
        d.mkdir(parents=True, exist_ok=True)
        self.etc_dirs.append(d)
        (d / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        self.rules = kube_proxy_rules(X_ENDPOINTS, XPODS)
        for n in XNODES.values():
            run(nsexec(n["ns"], "iptables-restore", "-w"), input=self.rules)
        for key in ("weba", "web1"):
            p = XPODS[key]
            proc = self.start(f"web-{key}", nsexec(p.netns, sys.executable, "-u", str(HERE / "webserver.py"),
                                                      "--name", p.name, "--port", "8080",
                                                      "--log", str(self.work / f"{key}.log")))
            if not proc.wait_for(r"^ready ", 10):
                raise LabError(f"web server in {p.netns} did not start: {' | '.join(proc.lines[-3:])}")
        dns = XPODS["dns"]
        hosts = []
        for s_ in SERVICES.values():
            hosts += ["--host-record", f"{s_.dns_name},{s_.cluster_ip}"]
        proc = self.start("dnsmasq", nsexec(dns.netns, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                                            "--no-resolv", "--no-hosts", "--no-poll", f"--listen-address={dns.ip}",
                                            "--bind-interfaces", "--user=root", "--group=root", "--pid-file=",
                                            "--local=/cluster.local/", "--address=/#/", "--local-ttl=30",
                                            "--log-queries", f"--log-facility={self.work / 'dnsmasq.log'}", *hosts))
        self.wait_listen(dns.netns, "udp", 53, proc=proc)
        self.slow_neighbours()
        # Warm the neighbour caches (pods, gateways, underlay) so the captured requests start without ARP.
        targets = [p.ip for p in XPODS.values()] + [n["gw"] for n in XNODES.values()]
        script = "; ".join(f"(echo x > /dev/udp/{ip}/9) 2>/dev/null" for ip in targets)
        for p in XPODS.values():
            run(nsexec(p.netns, "bash", "-c", script), check=False)
        for n in XNODES.values():
            run(nsexec(n["ns"], "bash", "-c", script), check=False)
        run(nsexec("xext", "bash", "-c", f"(echo x > /dev/udp/{X_A_ETH1}/9) 2>/dev/null"), check=False)
        time.sleep(0.3)


def run_xscenario(sc: XScenario, out: Path, linger: float = 2.0) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"hoptrace-lab-{sc.name}-"))
    os.chmod(work, 0o755)
    lab = XLab(work)
    sc_out = out / sc.name
    sc_out.mkdir(parents=True, exist_ok=True)
    try:
        log(f"{sc.name}: building two nodes ({PREFIX}-*)")
        lab.build(sc)
        fault_cmds = sc.setup(lab) if sc.setup else []
        per_node = {}
        writers = []
        for name, n in XNODES.items():
            links = json.loads(lab.ns(n["ns"], "ip", "-j", "link").stdout)
            d = sc_out / name
            w = Writers(lab, n["ns"], d, [link["ifname"] for link in links], name)
            (d / "links.json").write_text(json.dumps(links, indent=1) + "\n")
            per_node[name] = links
            writers.append((name, w))
        t_start = time.time()
        for _, w in writers:
            w.start()
        t_capturing = time.time()
        plan = [("xload1", XPODS["load1"].ip, [f"{WEB.cluster_ip}:80", f"{XPODS['weba'].ip}:8080"]),
                ("xload2", XPODS["load2"].ip, [f"{XPODS['weba'].ip}:8080", f"{XPODS['web1'].ip}:8080"])]
        background = Background(lab, work, sc.name, plan, ("xload1", XPODS["load1"].ip, "web"))
        background.HTTP_CLOSE, background.HTTP_KEEPALIVE, background.DNS_LOOKUPS = 8, 4, 12
        background.start()
        time.sleep(0.7)
        argv = ["curl", "-sS", "--connect-timeout", str(sc.connect_timeout), "--max-time", str(sc.max_time),
                "-o", str(work / "body-1"), "-w", "%{json}\\n", "-H", f"X-Request-ID: {sc.request_id}", sc.url]
        client_ns = "xext" if sc.client == "ext" else XPODS[sc.client].netns
        hostname = "external-client" if sc.client == "ext" else XPODS[sc.client].name
        log(f"{sc.name}: {display_argv(argv)}")
        t_req = time.time()
        res = run(nsexec(client_ns, "unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname, *argv),
                  check=False, timeout=sc.max_time + 15)
        t_req_end = time.time()
        background.wait()
        time.sleep(linger)
        records = {name: w.stop() for name, w in writers}
        t_end = time.time()
        transfers = []
        for line in res.stdout.splitlines():
            try:
                j = json.loads(line)
            except json.JSONDecodeError:
                continue
            transfers.append({k: j.get(k) for k in CURL_FIELDS})
        all_web = read_jsonl(work / "web1.log") + read_jsonl(work / "weba.log")
        bg_prefix = f"bg-{sc.name}-"
        web_log = [e for e in all_web if not (e.get("xRequestID") or "").startswith(bg_prefix)]
        bg_log = [e for e in all_web if (e.get("xRequestID") or "").startswith(bg_prefix)]
        times = dict(start=t_start, capturing=t_capturing, requestStart=t_req, requestEnd=t_req_end, end=t_end)
        path = "/" + sc.url.split("://", 1)[1].split("/", 1)[1]
        got = [e for e in web_log if e["path"] == path]
        w = XPODS["web1"]
        client = ({"namespace": "default", "name": XPODS["client"].name, "ip": XPODS["client"].ip,
                   "netns": XPODS["client"].netns, "veth": XPODS["client"].veth, "node": "node-a"}
                  if sc.client == "client" else
                  {"namespace": None, "name": "external-client", "ip": X_EXT_IP, "netns": "xext", "veth": None,
                   "via": "eth1", "node": "node-a"})
        request = {"index": 1, "method": "GET", "path": path, "host": sc.url.split("://", 1)[1].split("/")[0],
                   "url": sc.url, "xRequestID": sc.request_id,
                   "receivedXRequestID": got[0]["xRequestID"] if got else None,
                   "servedBy": got[0]["pod"] if got else None, "serverDelayMs": None,
                   "clientTiming": transfers[0] if transfers else None, "count": 1}
        truth = {
            "schemaVersion": 2, "scenario": sc.name, "description": sc.description, "mode": sc.mode,
            "verdict": sc.verdict, "location": sc.location, "phase": sc.phase,
            "nodes": list(XNODES),
            "request": request, "requests": [request], "client": client,
            "service": svc_json(WEB),
            "endpoints": [{"namespace": w.namespace, "name": w.name, "ip": w.ip, "veth": w.veth, "node": w.node,
                           "port": 8080, "listening": True}],
            "fault": ({**sc.fault, "commands": fault_cmds} if sc.fault else None),
            "expected": {"verdict": {"kind": sc.verdict, "hop": sc.location["hop"], "detail": sc.detail,
                                     "location": sc.location, "phase": sc.phase}},
            "observed": {"servedBy": sorted({e["pod"] for e in web_log}), "serverLog": web_log},
            "captureSets": [
                {"node": name, "directory": name, "hostname": name, "namespace": XNODES[name]["ns"],
                 "ip": XNODES[name]["eth0"], "podCIDR": XNODES[name]["cidr"], "cni0": XNODES[name]["gw"],
                 "flannel": {"device": "flannel.1", "vni": 1, "port": VXLAN_PORT, "mtu": VXLAN_MTU,
                             "address": XNODES[name]["vtep"], "mac": XNODES[name]["vtep_mac"]},
                 "interfaces": {str(link["ifindex"]): link["ifname"] for link in per_node[name]},
                 "files": sorted(r["file"] for r in records[name]) + ["links.json"],
                 "writers": records[name],
                 "iptablesSave": lab.ns(XNODES[name]["ns"], "iptables-save", check=False).stdout.splitlines(),
                 "tc": json.loads(lab.ns(XNODES[name]["ns"], "tc", "-j", "qdisc", "show", check=False).stdout
                                  or "[]")}
                for name in XNODES],
            "time": {k: iso(v) for k, v in times.items()} | {k + "Epoch": round(v, 6) for k, v in times.items()},
            "clientResult": {"command": [re.sub(r"^/tmp/hoptrace-lab-[^/]+/", "$WORK/", a) for a in argv],
                             "namespace": client_ns, "kind": "curl", "exitCode": res.returncode,
                             "stderr": res.stderr.strip()[:500], "transfers": transfers},
            "topology": {"underlay": {"link": "veth", "node-a": "192.168.60.11/24 (eth0)",
                                      "node-b": "192.168.60.12/24 (eth0)"},
                         "external": {"ip": X_EXT_IP, "via": "node-a eth1", "nodeAddress": X_A_ETH1},
                         "pods": [{"key": p.key, "node": p.node, "namespace": p.namespace, "name": p.name,
                                   "ip": p.ip, "veth": p.veth, "mac": mac_for(p.ip, "0a:58")}
                                  for p in XPODS.values()],
                         "mtu": {"pods": 1500, "cni0": 1500, "flannel.1": VXLAN_MTU, "eth0": 1500}},
            "background": background.truth(bg_log),
        }
        truth["faultyRequest"] = faulty_request(truth)
        if sc.name == "xnode-mtu-blackhole":
            truth["mtu"] = mtu_sizes(sc_out, truth)
        return truth
    finally:
        lab.teardown()
        shutil.rmtree(work, ignore_errors=True)


def mtu_sizes(sc_out: Path, truth: dict) -> dict:
    """Which response segments (IP total length, TCP payload) crossed the overlay and which did not, as the lab's
    own tcpdump saw them: leaving the server pod (node-b vethweb1) vs arriving at the client's veth (node-a)."""
    w, c = XPODS["web1"], XPODS["client"]

    def seen(node: str, veth: str, src: str) -> list:
        idx = next(k for k, v in next(s for s in truth["captureSets"] if s["node"] == node)["interfaces"].items()
                   if v == veth)
        rows = tshark_rows(sc_out / node / "any.sll2.pcap",
                           f"sll.ifindex == {idx} && ip.src == {src} && ip.dst == {c.ip} && tcp.len > 0",
                           ["tcp.seq_raw", "tcp.len", "ip.len", "ip.flags.df"])
        return [{"seq": int(r[0]), "payload": int(r[1]), "ipLength": int(r[2]), "df": r[3] in ("1", "True")}
                for r in rows]
    sent = seen("node-b", w.veth, w.ip)
    arrived = seen("node-a", c.veth, WEB.cluster_ip)
    got = {(a["seq"], a["payload"]) for a in arrived}
    passed = [s for s in sent if (s["seq"], s["payload"]) in got]
    lost = [s for s in sent if (s["seq"], s["payload"]) not in got]
    return {"overlayMTU": VXLAN_MTU, "sentByServer": sent, "arrivedAtClient": arrived,
            "passedIPLengths": sorted({s["ipLength"] for s in passed}),
            "lostIPLengths": sorted({s["ipLength"] for s in lost}),
            "note": "TSO: the server pod hands its veth segments larger than the MTU; node-b drops any forwarded "
                    f"packet longer than {VXLAN_MTU} bytes for flannel.1 with DF set"}


def xk8s_list(sc: XScenario) -> dict:
    items = []
    for p in XPODS.values():
        obj = pod_object(p.namespace, p.name, p.labels, p.key, p.image, p.ports, p.ip, False)
        obj["spec"]["nodeName"] = p.node
        obj["status"]["hostIP"] = XNODES[p.node]["eth0"]
        obj["status"]["hostIPs"] = [{"ip": XNODES[p.node]["eth0"]}]
        items.append(obj)
    for s_ in SERVICES.values():
        ports = [{"name": p.name, "port": p.port, "protocol": p.protocol, "targetPort": p.target_port,
                  **({"nodePort": p.node_port} if p.node_port else {})} for p in s_.ports]
        spec = {"clusterIP": s_.cluster_ip, "clusterIPs": [s_.cluster_ip], "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack", "ports": ports, "selector": s_.selector,
                "sessionAffinity": "None", "type": s_.type}
        if s_.type == "NodePort":
            spec["externalTrafficPolicy"] = "Cluster"
        items.append({"apiVersion": "v1", "kind": "Service", "metadata": meta("Service", s_.namespace, s_.name),
                      "spec": spec, "status": {"loadBalancer": {}}})
        eps = X_ENDPOINTS.get(s_.key, [])
        items.append({
            "addressType": "IPv4", "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "endpoints": [{"addresses": [XPODS[k].ip], "conditions": {"ready": True, "serving": True,
                                                                      "terminating": False},
                           "nodeName": XPODS[k].node,
                           "targetRef": {"kind": "Pod", "name": XPODS[k].name, "namespace": XPODS[k].namespace,
                                         "uid": uid("Pod", XPODS[k].namespace, XPODS[k].name)}} for k in eps] or None,
            "metadata": meta("EndpointSlice", s_.namespace, f"{s_.name}-{_hash16(s_.name).lower()[:5]}",
                             {"kubernetes.io/service-name": s_.name}),
            "ports": [{"name": p.name, "port": p.target_port, "protocol": p.protocol} for p in s_.ports]})
    for name, n in XNODES.items():
        items.append({"apiVersion": "v1", "kind": "Node",
                      "metadata": meta("Node", None, name, {"kubernetes.io/hostname": name,
                                                            "kubernetes.io/os": "linux"},
                                       annotations={"flannel.alpha.coreos.com/backend-type": "vxlan",
                                                    "flannel.alpha.coreos.com/backend-data":
                                                        json.dumps({"VNI": 1, "VtepMAC": n["vtep_mac"]}),
                                                    "flannel.alpha.coreos.com/public-ip": n["eth0"]}),
                      "spec": {"podCIDR": n["cidr"], "podCIDRs": [n["cidr"]]},
                      "status": {"addresses": [{"address": n["eth0"], "type": "InternalIP"},
                                               {"address": name, "type": "Hostname"}]}})
    items.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                  "metadata": meta("Ingress", "default", "web", generation=1),
                  "spec": {"ingressClassName": "nginx", "rules": [{"host": INGRESS_HOST, "http": {"paths": [
                      {"backend": {"service": {"name": "web", "port": {"number": 80}}}, "path": "/",
                       "pathType": "Prefix"}]}}]}})
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def _on_signal(signum, _frame) -> None:
    raise SystemExit(128 + signum)


def preflight() -> None:
    if os.geteuid() != 0:
        raise LabError("needs root (network namespaces, iptables, packet capture); run it as root")
    for tool in ("ip", "iptables-restore", "tcpdump", "dumpcap", "tshark", "dnsmasq", "nginx", "curl", "tc", "ss",
                 "unshare"):
        if shutil.which(tool) is None:
            raise LabError(f"{tool} not found; install the lab's packages: tools/setup.sh test")
    probe = nsn("probe")
    run(["ip", "netns", "del", probe], check=False)
    res = run(["ip", "netns", "add", probe], check=False)
    if res.returncode != 0:
        raise LabError(f"`ip netns add` fails here ({res.stderr.strip()}); the lab needs network namespace support")
    run(["ip", "netns", "del", probe], check=False)


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="+", help="list | all | clean | SCENARIO...")
    parser.add_argument("--out", default=str(ROOT / "captures"), help="output directory (default: captures/)")
    parser.add_argument("--all", dest="clean_all", action="store_true",
                        help="with clean: remove every hl*-* namespace, not only this prefix's")
    parser.add_argument("--exec", dest="exec_cmd", default=None, metavar="CMD",
                        help="also run CMD (sh -c) in the node namespace from just before each scenario's traffic "
                        "until the captures stop (SIGINT); its output lines, timed, go to <scenario>/exec.json")
    parser.add_argument("--exec-ready", default=None, metavar="REGEX",
                        help="wait for CMD to print a line matching REGEX before the traffic (default: wait 1 s)")
    parser.add_argument("--no-background", action="store_true",
                        help="no healthy background traffic (a live test that counts every request it sees)")
    parser.add_argument("--linger", type=float, default=2.0, metavar="SECONDS",
                        help="how long to keep capturing after the client ends (default: 2)")
    args = parser.parse_args(argv)
    # A parent (e.g. `swift test`) may hand us blocked signals; children inherit the mask, and a capture that
    # never sees its SIGINT never flushes. Unblock everything before starting anything.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    everything = scenarios() + xnode_scenarios()
    known = {s.name: s for s in everything}
    if args.what == ["list"]:
        for s in everything:
            nodes = "2" if isinstance(s, XScenario) else "1"
            print(f"{s.name:30} {s.mode:9} {s.verdict:11} {nodes} {s.description}")
        return 0
    try:
        if args.what == ["clean"]:
            if os.geteuid() != 0:
                raise LabError("needs root to remove namespaces; run it as root")
            return clean(args.clean_all)
        chosen = list(known.values()) if args.what == ["all"] else []
        if not chosen:
            for name in args.what:
                if name not in known:
                    raise LabError(f"unknown scenario {name!r}; `lab.py list` shows them")
                chosen.append(known[name])
        preflight()
        if hoptrace_capture_works() is None:
            raise LabError("`hoptrace capture --help` does not work: build it first "
                           "(swift build -c release --product hoptrace), or set HOPTRACE_BIN")
        out = Path(args.out).resolve()
        out.mkdir(parents=True, exist_ok=True)
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGHUP, _on_signal)
        atexit.register(teardown_all)
        failures = []
        started = time.time()
        for sc in chosen:
            t0 = time.time()
            if isinstance(sc, XScenario):
                truth = run_xscenario(sc, out, args.linger)
                k8s = xk8s_list(sc)
            else:
                if args.no_background:
                    sc.background = False
                for attempt in range(1, 4):
                    truth = run_scenario(sc, out, args.exec_cmd, args.exec_ready, args.linger)
                    if sc.need_both_endpoints and len(truth["observed"]["servedBy"]) < 2 and attempt < 3:
                        log(f"{sc.name}: only {truth['observed']['servedBy']} served (random balancing); again")
                        continue
                    if sc.client_kind == "aq" and truth["request"].get("role") != "overflowed" and attempt < 3:
                        log(f"{sc.name}: no connection overflowed the accept queue this time; again")
                        continue
                    break
                k8s = k8s_list(sc)
            problems = check_truth(sc, truth)
            truth["lab"] = {"prefix": PREFIX, "seconds": round(time.time() - t0, 1)}
            (out / sc.name / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
            (out / sc.name / "k8s.json").write_text(json.dumps(k8s, indent=2) + "\n")
            bg = truth.get("background") or {}
            log(f"{sc.name}: client exit {truth['clientResult']['exitCode']}; background "
                f"{bg.get('httpSucceeded')}/{bg.get('httpRequests')} ok; {time.time() - t0:.1f} s"
                + (f"; PROBLEM: {'; '.join(problems)}" if problems else ""))
            if problems:
                failures.append(sc.name)
        log(f"{len(chosen)} scenario(s) in {time.time() - started:.0f} s")
        if failures:
            raise LabError(f"scenarios did not behave as designed: {', '.join(failures)}")
        return 0
    except LabError as e:
        print(f"lab.py: {e}", file=sys.stderr)
        return 2
    finally:
        teardown_all()


def check_truth(sc, truth: dict) -> list:
    """Sanity checks on what the client saw (not on the capture): the fault must have had its effect."""
    problems = []
    rc = truth["clientResult"]["exitCode"]
    want_rc = sc.expect_rc or {"ok": 0, "slow": 0, "breakpoint": 28, "reset": 7, "rejected": 7,
                               "dns-failure": (6, 28), "no-response": 28}[sc.verdict]
    if sc.client_kind == "aq":
        want_rc = 0
        if (truth.get("request") or {}).get("outcome") != "reset":
            problems.append("no connection was reset")
    if rc not in (want_rc if isinstance(want_rc, tuple) else (want_rc,)):
        problems.append(f"client exit {rc}, expected {want_rc}")
    if sc.verdict in ("ok", "slow") and truth.get("request") and not truth["observed"]["servedBy"]:
        problems.append("no web pod logged the request")
    if getattr(sc, "need_both_endpoints", False) and len(truth["observed"]["servedBy"]) < 2:
        problems.append("only one endpoint served")
    bg = truth.get("background")
    if bg is not None and not bg["allSucceeded"]:
        problems.append(f"background: {bg['httpSucceeded']} of {bg['httpRequests']} requests succeeded")
    for node in truth.get("captureSets") or [truth["capture"]]:
        for w in node["writers"]:
            if not w["bytes"] or w["exitCode"] != 0:
                problems.append(f"{w['file']}: {w['bytes']} bytes, exit {w['exitCode']}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
