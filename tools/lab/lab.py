#!/usr/bin/env python3
"""hoptrace lab: a Kubernetes node simulated in network namespaces, faults, captures with ground truth.

    python3 tools/lab/lab.py list
    python3 tools/lab/lab.py all [--out DIR] [--pcapng-writer hoptrace|dumpcap]
    python3 tools/lab/lab.py SCENARIO... [--out DIR] [--pcapng-writer ...]
    python3 tools/lab/lab.py clean

Every scenario builds the node from scratch (namespaces hl-*), applies its fault, starts two
captures inside the node namespace (tcpdump -i any as LINUX_SLL2, and a multi-interface pcapng),
runs a real client (curl), stops the captures by PID with SIGINT, writes
<scenario>.truth.json (what the lab did) and <scenario>.k8s.json (the cluster state in
`kubectl get ... -o json` form), and tears everything down, also when a step fails.
Python 3 standard library only. See tools/lab/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import datetime
import fcntl
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
PREFIX = "hl-"
NODE_NS = "hl-node"
EXT_NS = "hl-ext"
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
LOCK_FILE = "/run/hoptrace-lab.lock"
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
        Pod("client", "default", "client", "hl-client", "10.244.0.10", "vethclient0", {"run": "client"}, "client",
            "curlimages/curl:8.5.0"),
        Pod("web1", "default", "web-6b8f9c7d5-k2x7p", "hl-web1", "10.244.0.11", "vethweb1",
            {"app": "web", "pod-template-hash": "6b8f9c7d5"}, "web", "python:3.11-slim", (("http", 8080, "TCP"),)),
        Pod("web2", "default", "web-6b8f9c7d5-q9m4t", "hl-web2", "10.244.0.12", "vethweb2",
            {"app": "web", "pod-template-hash": "6b8f9c7d5"}, "web", "python:3.11-slim", (("http", 8080, "TCP"),)),
        Pod("dns", "kube-system", "coredns-5d78c9869d-7xkqz", "hl-dns", "10.244.0.13", "vethdns0",
            {"k8s-app": "kube-dns", "pod-template-hash": "5d78c9869d"}, "coredns", "dnsmasq:2.90",
            (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"))),
        Pod("ingress", "ingress-nginx", "ingress-nginx-controller-7d9f8b6c4-wq5zt", "hl-ingress", "10.244.0.14",
            "vethingress0", {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
            "controller", "nginx:1.22", (("http", 80, "TCP"),)),
    ]
}

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
    client: str  # "client" (pod) or "ext" (external namespace)
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
    return [
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
                        "details": f"filter FORWARD -d {W1.ip}/32 -p tcp --dport 8080 -j DROP (after DNAT, "
                        f"before {W1.veth})", "nextExpectedHop": W1.veth},
                 setup=_drop_forward(f"-o cni0 -d {W1.ip}/32 -p tcp --dport 8080"), connect_timeout=3.5,
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
                 setup=_stop_dns, connect_timeout=28.0, max_time=30.0, dns_name="web", dns_rcode="timeout"),
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
    return ["ip", "netns", "exec", ns, *argv]


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

    def add_netns(self, name: str) -> None:
        assert name.startswith(PREFIX)
        res = run(["ip", "netns", "add", name], check=False)
        if res.returncode != 0:
            raise LabError(f"cannot create network namespace {name} ({res.stderr.strip()}); the lab needs root "
                           "and network namespace support (run `lab.py clean` if a leftover blocks it)")
        self.netns.append(name)

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
            # An IPv4 single-stack cluster; without this every new interface chatters (DAD, MLD, RS).
            self.ns(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        self.node("ip", "link", "set", "lo", "up")
        self.node("sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.node("sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1")
        # Fixed MACs (a bridge otherwise takes the lowest port MAC, which changes SLL2 packet types run to run).
        self.node("ip", "link", "add", "cni0", "address", mac_for(GATEWAY, "02:42"), "type", "bridge",
                  "mcast_snooping", "0")
        self.node("ip", "addr", "add", f"{GATEWAY}/24", "dev", "cni0")
        self.node("ip", "link", "set", "cni0", "up")
        # The node's eth0 and the external client on its other end.
        run(["ip", "link", "add", "eth0", "netns", NODE_NS, "address", mac_for(NODE_IP, "52:54"), "type", "veth",
             "peer", "name", "eth0", "netns", EXT_NS, "address", mac_for(EXT_IP, "52:54")])
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
            run(["ip", "link", "add", pod.veth, "netns", NODE_NS, "address", mac_for(pod.ip, "ee:ee"), "type", "veth",
                 "peer", "name", "eth0", "netns", pod.netns, "address", mac_for(pod.ip, "0a:58")])
            self.node("ip", "link", "set", pod.veth, "master", "cni0")
            self.node("ip", "link", "set", pod.veth, "type", "bridge_slave", "hairpin", "on")
            self.node("ip", "link", "set", pod.veth, "up")
            self.ns(pod.netns, "ip", "link", "set", "lo", "up")
            self.ns(pod.netns, "ip", "addr", "add", f"{pod.ip}/24", "dev", "eth0")
            self.ns(pod.netns, "ip", "link", "set", "eth0", "up")
            self.ns(pod.netns, "ip", "route", "add", "default", "via", GATEWAY)
            self.write_etc(pod)
        self.rules = kube_proxy_rules(sc.endpoints)
        run(nsexec(NODE_NS, "iptables-restore", "-w"), input=self.rules)
        self.start_servers(sc)
        self.warm_up()

    def write_etc(self, pod: Pod) -> None:
        d = Path("/etc/netns") / pod.netns
        d.mkdir(parents=True, exist_ok=True)
        self.etc_dirs.append(d)
        (d / "resolv.conf").write_text(
            f"search {pod.namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
            f"nameserver {DNS_IP}\noptions ndots:5\n")
        (d / "hosts").write_text(
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            f"{pod.ip}\t{pod.name}\n")

    def write_etc_ext(self) -> None:
        d = Path("/etc/netns") / EXT_NS
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


def clean() -> int:
    res = run(["ip", "-j", "netns", "list"], check=False)
    names = [n["name"] for n in json.loads(res.stdout or "[]")] if res.returncode == 0 else []
    left = [n for n in names if n.startswith(PREFIX)]
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
            if d.name.startswith(PREFIX):
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


def kube_proxy_rules(endpoints: dict) -> str:
    """The nat and filter tables as kube-proxy v1.28 (iptables mode) writes them, for iptables-restore."""
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
    binary = ROOT / ".build" / "release" / "hoptrace"
    if not binary.exists():
        return None
    res = run([str(binary), "capture", "--help"], check=False, timeout=10)
    return binary if res.returncode == 0 else None


class Captures:
    def __init__(self, lab: Lab, out: Path, scenario: str, writer: str, ifnames: list):
        self.lab = lab
        self.sll2 = out / f"{scenario}.sll2.pcap"
        self.pcapng = out / f"{scenario}.pcapng"
        self.writer = writer
        self.ifnames = ifnames
        for f in (self.sll2, self.pcapng):
            f.unlink(missing_ok=True)
        self.display = lambda argv: " ".join(_rel(a) for a in argv)
        self.tcpdump_argv = ["tcpdump", "-i", "any", "-y", "LINUX_SLL2", "-n", "-U", "-Z", "root", "-w", str(self.sll2)]
        if writer == "hoptrace":
            binary = hoptrace_capture_works()
            if binary is None:
                raise LabError("--pcapng-writer hoptrace: `.build/release/hoptrace capture --help` does not work; "
                               "build it (swift build -c release) or use --pcapng-writer dumpcap")
            # 64 MiB of ring: with the default 8 MiB and 256 KiB snaplen slots it dropped packets in bursts.
            self.pcapng_argv = [str(binary), "capture", "-i", "any", "--buffer-size", "64", "-w", str(self.pcapng)]
        else:
            # -p: no promiscuous mode, like tcpdump -i any (promiscuous cni0 would pass every bridged frame up).
            self.pcapng_argv = ["dumpcap", "-p"] + [a for n in ifnames for a in ("-i", n)] + ["-w", str(self.pcapng)]

    def start(self) -> None:
        self.tcpdump = self.lab.start("tcpdump", nsexec(NODE_NS, *self.tcpdump_argv))
        self.pcapng_proc = self.lab.start("pcapng-writer", nsexec(NODE_NS, *self.pcapng_argv))
        if not self.tcpdump.wait_for(r"listening on", 10):
            raise LabError(f"tcpdump did not start: {' | '.join(self.tcpdump.lines[-3:])}")
        if self.writer == "hoptrace":
            # `hoptrace capture` prints nothing at start; it opens every interface before it creates the file.
            deadline = time.monotonic() + 10
            while not self.pcapng.exists() and self.pcapng_proc.popen.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            if not self.pcapng.exists() or self.pcapng_proc.popen.poll() is not None:
                raise LabError(f"hoptrace capture did not start: {' | '.join(self.pcapng_proc.lines[-3:])}")
        elif not self.pcapng_proc.wait_for(r"(?i)capturing on", 10):
            raise LabError(f"{self.writer} did not start: {' | '.join(self.pcapng_proc.lines[-3:])}")
        time.sleep(0.5)  # "listening" is printed right after activation; give the last socket a moment

    def stop(self) -> dict:
        stats = {}
        for key, proc in (("sll2", self.tcpdump), ("pcapng", self.pcapng_proc)):
            rc = proc.stop(signal.SIGINT)
            stats[key] = {"exitCode": rc, "stderr": [line for line in proc.lines if line.strip()][-6:]}
            del self.lab.procs[proc.name]
        for f in (self.sll2, self.pcapng):
            if f.exists():
                os.chmod(f, 0o644)
        return stats


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


def run_scenario(sc: Scenario, out: Path, writer: str, exec_cmd: str | None = None, exec_ready: str | None = None,
                 linger: float = 2.0) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"hoptrace-lab-{sc.name}-"))
    os.chmod(work, 0o755)
    lab = Lab(work)
    try:
        log(f"{sc.name}: building the node")
        lab.build(sc)
        fault_cmds = sc.setup(lab) if sc.setup else []
        links = lab.interfaces()
        macs = {ns: json.loads(lab.ns(ns, "ip", "-j", "link", "show", "eth0").stdout)[0]["address"]
                for ns in [EXT_NS] + [p.netns for p in PODS.values()]}
        ifnames = [link["ifname"] for link in links]
        caps = Captures(lab, out, sc.name, writer, ifnames)
        t_start = time.time()
        caps.start()
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
        argv = curl_argv(sc, work)
        client_ns = PODS["client"].netns if sc.client == "client" else EXT_NS
        log(f"{sc.name}: {' '.join(argv)}")
        t_req = time.time()
        # The pod's own UTS namespace and hostname (kubelet puts it in the pod's /etc/hosts), so nothing
        # resolves the machine's hostname through cluster DNS.
        hostname = PODS["client"].name if sc.client == "client" else "external-client"
        wrapped = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname, *argv]
        res = run(nsexec(client_ns, *wrapped), check=False, timeout=sc.max_time * len(sc.transfers) + 10)
        t_req_end = time.time()
        # FIN/ACK, late retransmissions, and tcpdump's TPACKET_V3 block timeout (1 s): packets still in an
        # unretired block when SIGINT arrives are counted "received by filter" but never written.
        time.sleep(linger)
        if exec_proc is not None:
            t_exec_stop = time.time()
            rc = exec_proc.stop(signal.SIGINT)
            del lab.procs[exec_proc.name]
            (out / f"{sc.name}.exec.json").write_text(json.dumps({
                "command": exec_cmd, "requestStart": t_req, "requestEnd": t_req_end, "stopped": t_exec_stop,
                "exitCode": rc, "lines": [{"t": t, "line": line} for t, line in zip(exec_proc.times, exec_proc.lines)],
            }, indent=2) + "\n")
        stats = caps.stop()
        t_end = time.time()
        transfers = []
        for line in res.stdout.splitlines():
            try:
                j = json.loads(line)
            except json.JSONDecodeError:
                continue
            transfers.append({k: j.get(k) for k in CURL_FIELDS})
        bodies = []
        for i in range(len(sc.transfers)):
            b = work / f"body-{i + 1}"
            bodies.append(b.read_text(errors="replace")[:200] if b.exists() else None)
        web_log = read_jsonl(work / "web1.log") + read_jsonl(work / "web2.log")
        ingress_log = read_jsonl(work / "nginx-hostnet" / "access.log") + read_jsonl(work / "nginx-pod" / "access.log")
        tc = lab.node("tc", "-j", "qdisc", "show", check=False).stdout
        ipt = lab.node("iptables-save", check=False).stdout
        truth = make_truth(sc, links, ifnames, caps, stats, fault_cmds, argv, res, transfers, bodies, web_log,
                           ingress_log, dict(start=t_start, capturing=t_capturing, requestStart=t_req,
                                             requestEnd=t_req_end, end=t_end), tc, ipt, lab)
        truth["topology"] = topology(macs)
        return truth
    finally:
        lab.teardown()
        shutil.rmtree(work, ignore_errors=True)


def pod_json(p: Pod) -> dict:
    return {"namespace": p.namespace, "name": p.name, "ip": p.ip, "netns": p.netns, "veth": p.veth}


def make_truth(sc, links, ifnames, caps, stats, fault_cmds, argv, res, transfers, bodies, web_log, ingress_log,
               times, tc, ipt, lab) -> dict:
    svc = SERVICES.get(sc.service) if sc.service else None
    served = sorted({e["pod"] for e in web_log})
    pods_by_name = {p.name: p for p in PODS.values()}
    verdict_hop = sc.verdict_hop
    if verdict_hop is None:
        hops = [pods_by_name[n].veth for n in served]
        verdict_hop = hops[0] if len(hops) == 1 else hops
    t0 = sc.transfers[0]
    requests = []
    for i, t in enumerate(sc.transfers):
        host = t.host_header or t.url_host
        got = [e for e in web_log if e["path"] == t.path]
        requests.append({
            "index": i + 1, "method": "GET", "path": t.path, "host": host, "url": t.url,
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
        target = next((s for s in SERVICES.values() if s.name == sc.dns_name and s.namespace == "default"), None)
        if sc.dns_rcode == "NOERROR":
            steps = steps[:1]
        elif sc.dns_rcode == "timeout":
            # glibc abandons the search list on a timeout and tries the name as is (res_nsearch).
            steps = [steps[0], sc.dns_name]
        dns = {"name": sc.dns_name, "searchList": SEARCH, "ndots": 5, "nameserver": DNS_IP,
               "server": pod_json(PODS["dns"]), "expectedQueries": [{"name": s, "types": ["A", "AAAA"],
                                                     "attempts": 2 if sc.dns_rcode == "timeout" else 1}
                                                    for s in steps],
               "expectedRcode": sc.dns_rcode, "answer": target.cluster_ip if target and sc.dns_rcode == "NOERROR"
               else None}
    client = pod_json(PODS["client"]) if sc.client == "client" else {
        "namespace": None, "name": "external-client", "ip": EXT_IP, "netns": EXT_NS, "veth": None,
        "via": "eth0"}
    endpoints = []
    if svc:
        for key in sorted(sc.endpoints.get(svc.key, []), key=lambda k: PODS[k].ip):
            p = PODS[key]
            endpoints.append({**pod_json(p), "port": svc.ports[0].target_port, "listening":
                              key not in sc.stopped_servers})
    elif sc.mode == "direct":
        # No Service: the pod the client addressed by IP is the endpoint.
        host = sc.transfers[0].url_host.split(":")[0]
        p = next(p for p in PODS.values() if p.ip == host)
        endpoints.append({**pod_json(p), "port": 8080, "listening": p.key not in sc.stopped_servers})
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
    truth = {
        "schemaVersion": 1,
        "scenario": sc.name,
        "description": sc.description,
        "mode": sc.mode,
        "request": requests[0] | {"count": len(requests)},
        "requests": requests,
        "client": client,
        "service": svc_json(svc) if svc else None,
        "endpoints": endpoints,
        "ingress": ingress,
        "dns": dns,
        "fault": ({**sc.fault, "commands": fault_cmds} if sc.fault else None),
        "expected": {"verdict": {"kind": sc.verdict, "hop": verdict_hop, "detail": sc.verdict_detail}},
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
            "namespace": NODE_NS,
            "sll2": {"file": caps.sll2.name, "linktype": "LINUX_SLL2", "command": caps.display(caps.tcpdump_argv),
                     "bytes": caps.sll2.stat().st_size if caps.sll2.exists() else None, **stats["sll2"]},
            "pcapng": {"file": caps.pcapng.name, "writer": caps.writer, "interfaces": ifnames,
                       "command": caps.display(caps.pcapng_argv),
                       "bytes": caps.pcapng.stat().st_size if caps.pcapng.exists() else None, **stats["pcapng"]},
        },
        "time": {k: iso(v) for k, v in times.items()} | {k + "Epoch": round(v, 6) for k, v in times.items()},
        "clientResult": {"command": [re.sub(r"^/tmp/hoptrace-lab-[^/]+/", "$WORK/", a) for a in argv], "namespace": PODS["client"].netns if sc.client == "client" else EXT_NS,
                         "exitCode": res.returncode, "stderr": res.stderr.strip()[:500],
                         "transfers": transfers},
        "topology": topology(),
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


def _on_signal(signum, _frame) -> None:
    raise SystemExit(128 + signum)


def preflight() -> None:
    if os.geteuid() != 0:
        raise LabError("needs root (network namespaces, iptables, packet capture); run it as root")
    for tool in ("ip", "iptables-restore", "tcpdump", "dumpcap", "dnsmasq", "nginx", "curl", "tc", "ss"):
        if shutil.which(tool) is None:
            raise LabError(f"{tool} not found; install the lab's packages: tools/setup.sh test")
    probe = "hl-probe"
    run(["ip", "netns", "del", probe], check=False)
    res = run(["ip", "netns", "add", probe], check=False)
    if res.returncode != 0:
        raise LabError(f"`ip netns add` fails here ({res.stderr.strip()}); the lab needs network namespace support")
    run(["ip", "netns", "del", probe], check=False)


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="+", help="list | all | clean | SCENARIO...")
    parser.add_argument("--out", default=str(ROOT / "captures"), help="output directory (default: captures/)")
    parser.add_argument("--pcapng-writer", choices=["hoptrace", "dumpcap"], default=None,
                        help="who writes <scenario>.pcapng (default: hoptrace if its capture command works, "
                        "else dumpcap)")
    parser.add_argument("--exec", dest="exec_cmd", default=None, metavar="CMD",
                        help="also run CMD (sh -c) in the node namespace from just before each scenario's traffic "
                        "until the captures stop (SIGINT); its output lines, timed, go to <scenario>.exec.json")
    parser.add_argument("--exec-ready", default=None, metavar="REGEX",
                        help="wait for CMD to print a line matching REGEX before the traffic (default: wait 1 s)")
    parser.add_argument("--linger", type=float, default=2.0, metavar="SECONDS",
                        help="how long to keep capturing after the client ends (default: 2)")
    args = parser.parse_args(argv)
    # A parent (e.g. `swift test`) may hand us blocked signals; children inherit the mask, and a capture that
    # never sees its SIGINT never flushes. Unblock everything before starting anything.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    known = {s.name: s for s in scenarios()}
    if args.what == ["list"]:
        for s in scenarios():
            print(f"{s.name:26} {s.mode:9} {s.description}")
        return 0
    try:
        if args.what == ["clean"]:
            if os.geteuid() != 0:
                raise LabError("needs root to remove namespaces; run it as root")
            return clean()
        chosen = list(known.values()) if args.what == ["all"] else []
        if not chosen:
            for name in args.what:
                if name not in known:
                    raise LabError(f"unknown scenario {name!r}; `lab.py list` shows them")
                chosen.append(known[name])
        preflight()
        writer = args.pcapng_writer or ("hoptrace" if hoptrace_capture_works() else "dumpcap")
        out = Path(args.out).resolve()
        out.mkdir(parents=True, exist_ok=True)
        lock = open(LOCK_FILE, "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("another lab run holds the lock; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        # Leftovers of a crashed run would block `ip netns add`; they are ours (hl-) and we hold the lock.
        leftovers = [n["name"] for n in json.loads(run(["ip", "-j", "netns", "list"]).stdout or "[]")
                     if n["name"].startswith(PREFIX)]
        if leftovers:
            log(f"removing leftovers of an earlier run: {' '.join(leftovers)}")
            clean()
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGHUP, _on_signal)
        atexit.register(teardown_all)
        failures = []
        for sc in chosen:
            for attempt in range(1, 4):
                truth = run_scenario(sc, out, writer, args.exec_cmd, args.exec_ready, args.linger)
                if sc.need_both_endpoints and len(truth["observed"]["servedBy"]) < 2 and attempt < 3:
                    log(f"{sc.name}: only {truth['observed']['servedBy']} served (random balancing); again")
                    continue
                break
            problems = check_truth(sc, truth)
            (out / f"{sc.name}.truth.json").write_text(json.dumps(truth, indent=2) + "\n")
            (out / f"{sc.name}.k8s.json").write_text(json.dumps(k8s_list(sc), indent=2) + "\n")
            cap = truth["capture"]
            log(f"{sc.name}: curl exit {truth['clientResult']['exitCode']}, served by "
                f"{truth['observed']['servedBy'] or '-'}; {cap['sll2']['bytes']} B sll2, {cap['pcapng']['bytes']} B "
                f"pcapng" + (f"; PROBLEM: {'; '.join(problems)}" if problems else ""))
            if problems:
                failures.append(sc.name)
        if failures:
            raise LabError(f"scenarios did not behave as designed: {', '.join(failures)}")
        return 0
    except LabError as e:
        print(f"lab.py: {e}", file=sys.stderr)
        return 2
    finally:
        teardown_all()


def check_truth(sc: Scenario, truth: dict) -> list:
    """Sanity checks on what the client saw (not on the capture): the fault must have had its effect."""
    problems = []
    rc = truth["clientResult"]["exitCode"]
    want_rc = {"ok": 0, "slow": 0, "breakpoint": 28, "reset": 7, "rejected": 7, "dns-failure": (6, 28),
               "no-response": 28}[sc.verdict]
    if rc not in (want_rc if isinstance(want_rc, tuple) else (want_rc,)):
        problems.append(f"curl exit {rc}, expected {want_rc}")
    if sc.verdict in ("ok", "slow") and not truth["observed"]["servedBy"]:
        problems.append("no web pod logged the request")
    if sc.need_both_endpoints and len(truth["observed"]["servedBy"]) < 2:
        problems.append("only one endpoint served")
    for f in ("sll2", "pcapng"):
        if not truth["capture"][f]["bytes"]:
            problems.append(f"{f} capture empty")
    return problems


if __name__ == "__main__":
    sys.exit(main())
