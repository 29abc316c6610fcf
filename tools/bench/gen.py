#!/usr/bin/env python3
"""Writes a large, deterministic, lab-like node capture for benchmarks, in all its formats at once.

Usage: tools/bench/gen.py [--scale S] [--seed N] [--concurrency C] [--format both|sll2|pcapng|ether] OUT_PREFIX
       writes OUT_PREFIX.sll2.pcap (LINUX_SLL2, one ifindex per capture point, packet type 3 "from the pod"
       or 4 "outgoing", microseconds), OUT_PREFIX.pcapng (one Ethernet IDB per interface with its name,
       nanosecond timestamps, EPB flags inbound/outbound) and OUT_PREFIX.ether.pcap (classic pcap, LINKTYPE_ETHERNET,
       microseconds: one capture point's view, the client pods' veths, i.e. every packet once, pre-DNAT, as the
       client sees it; for the peers that cannot read SLL2 or several interfaces: tcptrace, ndpiReader, httpry),
       and prints the packet and connection counts (both: all three files).

What is in it, modelled on the lab's captures (tools/lab/lab.py, captures/*/any.sll2.pcap):
- 8 client pods (10.244.0.20+i behind vethcli<i>), a Service ClusterIP 10.96.0.100:80 load-balanced over 4 server
  pods (10.244.0.40+j:8080 behind vethsrv<j>), CoreDNS 10.244.0.13:53 behind the kube-dns ClusterIP 10.96.0.10.
- Every packet is seen at three capture points: the sender's veth, cni0, the receiver's veth. Requests are
  pre-DNAT (dst = ClusterIP) on the client veth and post-DNAT (dst = pod) on cni0 and the server veth; replies
  carry the pod address on the server veth and cni0 and the ClusterIP on the client veth (reverse NAT).
- C concurrent keep-alive HTTP/1.1 connections (default 400) each with 2-8 requests, responses of 80 B to 6 KB
  (MSS-sized segments with TCP timestamps), delayed ACKs, FIN close; each connection is preceded by its DNS
  lookup: A + AAAA for web.default.svc.cluster.local (A answer, empty AAAA), and every 5th by an ndots walk
  with NXDOMAIN answers first. SYN options as Linux sends them (mss, sackOK, TS, nop, wscale), TS on every segment.
- Scale 1 is about 2.8 million packets (1.1 GB per format); the concurrency does not grow with the scale, so a flow stage with
  bounded memory keeps a flat peak RSS across 1x/2x/4x.
"""
import argparse
import random
import struct
import sys

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("out", help="output prefix: writes OUT.sll2.pcap, OUT.pcapng and OUT.ether.pcap")
parser.add_argument("--scale", type=float, default=1.0)
parser.add_argument("--seed", type=int, default=7)
parser.add_argument("--concurrency", type=int, default=400)
parser.add_argument("--slowdown", type=float, default=1.0,
                    help="every gap in and between conversations F times longer: with F times the concurrency, the "
                    "same packet rate (so the same rate of connections closing) and F times the concurrent flows")
parser.add_argument("--format", choices=["both", "sll2", "pcapng", "ether"], default="both",
                    help="both (the default) writes all three")
args = parser.parse_args()
rng = random.Random(args.seed)

CONNECTIONS = int(27_500 * args.scale)
REQUESTS = 0
pack = struct.pack

# --- topology ------------------------------------------------------------------------------------------------
def ip4(text):
    return bytes(int(x) for x in text.split("."))


def mac_of(ip):
    return b"\x0a\x58" + ip


CNI0 = (2, "cni0", b"\x02\x42\x0a\xf4\x00\x01")
CLIENTS = [(ip4(f"10.244.0.{20 + i}"), 10 + i, f"vethcli{i}") for i in range(8)]
SERVERS = [(ip4(f"10.244.0.{40 + j}"), 30 + j, f"vethsrv{j}") for j in range(4)]
DNS_POD = (ip4("10.244.0.13"), 7, "vethdns")
SVC_IP, SVC_PORT, POD_PORT = ip4("10.96.0.100"), 80, 8080
DNS_SVC = ip4("10.96.0.10")
interfaces = [CNI0[:2]] + [(i, n) for _, i, n in CLIENTS + SERVERS] + [DNS_POD[1:]]
idb_of = {ifindex: k for k, (ifindex, _) in enumerate(interfaces)}

# --- writers -------------------------------------------------------------------------------------------------
want_sll2 = args.format in ("both", "sll2")
want_ng = args.format in ("both", "pcapng")
want_ether = args.format in ("both", "ether")
sll2 = open(args.out + ".sll2.pcap", "wb") if want_sll2 else None
ng = open(args.out + ".pcapng", "wb") if want_ng else None
ether = open(args.out + ".ether.pcap", "wb") if want_ether else None
if sll2:
    sll2.write(pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 276))  # LINKTYPE_LINUX_SLL2
if ether:
    ether.write(pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))  # LINKTYPE_ETHERNET


def ng_option(code, value):
    pad = (-len(value)) % 4
    return pack("<HH", code, len(value)) + value + b"\0" * pad


if ng:
    shb_body = pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + ng_option(4, b"hoptrace tools/bench/gen.py") + b"\0\0\0\0"
    ng.write(pack("<II", 0x0A0D0D0A, 12 + len(shb_body)) + shb_body + pack("<I", 12 + len(shb_body)))
    for _, name in interfaces:
        body = pack("<HHI", 1, 0, 262144) + ng_option(2, name.encode()) + ng_option(9, b"\x09") + b"\0\0\0\0"
        ng.write(pack("<II", 1, 12 + len(body)) + body + pack("<I", 12 + len(body)))

out_sll2, out_ng, out_ether = [], [], []
packets = 0
ether_packets = 0
CLIENT_IFINDEXES = {ifindex for _, ifindex, _ in CLIENTS}


def flush():
    if sll2:
        sll2.write(b"".join(out_sll2))
    if ng:
        ng.write(b"".join(out_ng))
    if ether:
        ether.write(b"".join(out_ether))
    out_sll2.clear()
    out_ng.clear()
    out_ether.clear()


def ip_checksum(header):
    s = sum(struct.unpack("!10H", header))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


ip_ids = {}


def emit(t_ns, sightings, proto, payload_l4):
    """Writes one IP packet (proto, L4 bytes) at its capture points.

    sightings: [(offset_ns, ifindex, pkttype, src, dst, src_mac, dst_mac, l4_override)]; l4_override replaces the
    ports (NAT) when not None."""
    global packets, ether_packets
    ident = ip_ids.get(sightings[0][3], 1)
    for off, ifindex, pkttype, src, dst, smac, dmac, l4 in sightings:
        l4 = l4 if l4 is not None else payload_l4
        head = pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident, 0x4000, 64, proto, 0, src, dst)
        head = head[:10] + pack("!H", ip_checksum(head)) + head[12:]
        ip = head + l4
        t = t_ns + off
        if sll2:
            hdr = pack("!HHIHBB", 0x0800, 0, ifindex, 1, pkttype, 6) + smac + b"\0\0"
            frame = hdr + ip
            out_sll2.append(pack("<IIII", t // 1_000_000_000, (t % 1_000_000_000) // 1000, len(frame), len(frame)))
            out_sll2.append(frame)
        if ng:
            frame = dmac + smac + b"\x08\x00" + ip
            pad = (-len(frame)) % 4
            total = 32 + len(frame) + pad + 12
            flags = 1 if pkttype != 4 else 2
            out_ng.append(pack("<IIIIIII", 6, total, idb_of[ifindex], t >> 32, t & 0xFFFFFFFF, len(frame), len(frame)))
            out_ng.append(frame + b"\0" * pad)
            out_ng.append(pack("<HHII", 2, 4, flags, 0) + pack("<I", total))
        if ether and ifindex in CLIENT_IFINDEXES:  # the client veth's sighting only: each packet once
            frame = dmac + smac + b"\x08\x00" + ip
            out_ether.append(pack("<IIII", t // 1_000_000_000, (t % 1_000_000_000) // 1000, len(frame), len(frame)))
            out_ether.append(frame)
            ether_packets += 1
        packets += 1
    # one IP ID per sender and packet (NAT keeps it), the same at every capture point
    ip_ids[sightings[0][3]] = (ip_ids.get(sightings[0][3], 1) + 1) & 0xFFFF


# --- TCP / UDP ------------------------------------------------------------------------------------------------
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def tcp(sport, dport, seq, ack, flags, win, opts, payload):
    off = (20 + len(opts)) // 4
    return pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off << 4, flags, win, 0, 0) + opts + payload


def syn_opts(tsval, tsecr):
    return pack("!BBHBBBBIIBBBB", 2, 4, 1460, 4, 2, 8, 10, tsval, tsecr, 1, 3, 3, 7)


def ts_opts(tsval, tsecr):
    return pack("!BBBBII", 1, 1, 8, 10, tsval, tsecr)


def udp(sport, dport, payload):
    return pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def dns_name(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def dns_query(ident, name, qtype):
    return pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + dns_name(name) + pack("!HH", qtype, 1)


def dns_answer(ident, name, qtype, rcode, address):
    q = dns_name(name) + pack("!HH", qtype, 1)
    if address is None:
        return pack("!HHHHHH", ident, 0x8580 | rcode, 1, 0, 0, 0) + q
    return pack("!HHHHHH", ident, 0x8580, 1, 1, 0, 0) + q + pack("!HHHIH", 0xC00C, 1, 1, 30, 4) + address


# --- conversations -------------------------------------------------------------------------------------------
class Conn:
    """One client's DNS lookup then a keep-alive HTTP/1.1 connection, as a list of steps to play one by one."""

    def __init__(self, index):
        self.client = CLIENTS[index % len(CLIENTS)]
        self.server = SERVERS[(index * 7 + index // 3) % len(SERVERS)]
        self.sport = 32768 + (index * 13) % 28000
        self.steps = self.script(index)
        self.next = 0

    def script(self, index):
        steps = []
        qport = 40000 + (index * 17) % 20000
        names = ["web.default.svc.cluster.local"]
        if index % 5 == 0:
            names = ["web.default.default.svc.cluster.local", "web.default.svc.svc.cluster.local"] + names
        ident = (index * 7919) & 0xFFFF
        for name in names:
            found = name == "web.default.svc.cluster.local"
            for qtype in (1, 28):
                ident = (ident + 1) & 0xFFFF
                steps.append(("dq", qport, dns_query(ident, name, qtype)))
            for qtype in (1, 28):
                rid = (ident - 1 if qtype == 1 else ident) & 0xFFFF
                addr = SVC_IP if (found and qtype == 1) else None
                rcode = 0 if found else 3
                steps.append(("dr", qport, dns_answer(rid, name, qtype, rcode, addr)))
        c = rng.getrandbits(32)
        s = rng.getrandbits(32)
        tc, ts = rng.getrandbits(31), rng.getrandbits(31)
        steps.append(("c", tcp(self.sport, SVC_PORT, c, 0, SYN, 64240, syn_opts(tc, 0), b"")))
        steps.append(("s", tcp(POD_PORT, self.sport, s, c + 1, SYN | ACK, 65160, syn_opts(ts, tc), b"")))
        c += 1
        s += 1
        steps.append(("c", tcp(self.sport, SVC_PORT, c, s, ACK, 502, ts_opts(tc, ts), b"")))
        global REQUESTS
        count = rng.randint(2, 8)
        REQUESTS += count
        for k in range(count):
            tc += 1
            ts += 1
            req = (
                b"GET /api/items/%d?page=%d HTTP/1.1\r\nHost: web.default.svc.cluster.local\r\n"
                b"User-Agent: client/1.4\r\nAccept: application/json\r\nX-Request-ID: %08x-%04x\r\n\r\n"
                % (index, k, index, k)
            )
            steps.append(("c", tcp(self.sport, SVC_PORT, c, s, ACK | PSH, 502, ts_opts(tc, ts), req)))
            c += len(req)
            body = rng.choice((80, 200, 512, 900, 1400, 2600, 6000))
            status = b"200 OK" if rng.random() > 0.05 else b"404 Not Found"
            resp = (
                b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                b"Date: Sun, 22 Nov 2026 15:00:00 GMT\r\nServer: nginx\r\n\r\n" % (status, body)
            ) + b"x" * body
            if rng.random() < 0.3:  # the server ACKs the request before it answers
                steps.append(("s", tcp(POD_PORT, self.sport, s, c, ACK, 509, ts_opts(ts, tc), b"")))
            for at in range(0, len(resp), 1448):
                seg = resp[at : at + 1448]
                steps.append(("s", tcp(POD_PORT, self.sport, s, c, ACK | PSH, 509, ts_opts(ts, tc), seg)))
                s += len(seg)
                if (at // 1448) % 2 == 1 or at + 1448 >= len(resp):  # delayed ACK: every second segment
                    steps.append(("c", tcp(self.sport, SVC_PORT, c, s, ACK, 502, ts_opts(tc, ts), b"")))
        steps.append(("c", tcp(self.sport, SVC_PORT, c, s, FIN | ACK, 502, ts_opts(tc + 1, ts), b"")))
        steps.append(("s", tcp(POD_PORT, self.sport, s, c + 1, FIN | ACK, 509, ts_opts(ts + 1, tc + 1), b"")))
        steps.append(("c", tcp(self.sport, SVC_PORT, c + 1, s + 1, ACK, 502, ts_opts(tc + 1, ts + 1), b"")))
        return steps

    def play(self, t_ns):
        """Emits the next step at its three capture points; returns False when the conversation is over."""
        step = self.steps[self.next]
        self.next += 1
        cip, cif, _ = self.client
        kind = step[0]
        if kind == "dq":
            qport, msg = step[1], step[2]
            pre, post = udp(qport, 53, msg), None
            dip, dif, _ = DNS_POD
            emit(t_ns, [
                (0, cif, 3, cip, DNS_SVC, mac_of(cip), CNI0[2], pre),
                (1_400, 2, 4, cip, dip, CNI0[2], mac_of(dip), pre),
                (2_400, dif, 4, cip, dip, CNI0[2], mac_of(dip), pre),
            ], 17, None)
        elif kind == "dr":
            qport, msg = step[1], step[2]
            dip, dif, _ = DNS_POD
            l4 = udp(53, qport, msg)
            emit(t_ns, [
                (0, dif, 3, dip, cip, mac_of(dip), CNI0[2], l4),
                (1_100, 2, 0, dip, cip, mac_of(dip), CNI0[2], l4),
                (2_200, cif, 4, DNS_SVC, cip, CNI0[2], mac_of(cip), l4),
            ], 17, None)
        elif kind == "c":
            seg = step[1]
            sip, sif, _ = self.server
            post = seg[:2] + pack("!H", POD_PORT) + seg[4:]  # DNAT 10.96.0.100:80 -> pod:8080
            emit(t_ns, [
                (0, cif, 3, cip, SVC_IP, mac_of(cip), CNI0[2], seg),
                (1_300, 2, 4, cip, sip, CNI0[2], mac_of(sip), post),
                (2_100, sif, 4, cip, sip, CNI0[2], mac_of(sip), post),
            ], 6, None)
        else:
            seg = step[1]
            sip, sif, _ = self.server
            pre = pack("!H", SVC_PORT) + seg[2:]  # reverse NAT pod:8080 -> 10.96.0.100:80
            emit(t_ns, [
                (0, sif, 3, sip, cip, mac_of(sip), CNI0[2], seg),
                (1_000, 2, 0, sip, cip, mac_of(sip), CNI0[2], seg),
                (1_900, cif, 4, SVC_IP, cip, CNI0[2], mac_of(cip), pre),
            ], 6, None)
        return self.next < len(self.steps)


def gap(step, following):
    """Capture time from one step to the next of the same conversation, as a healthy node shows it: the resolver
    and TCP stacks answer in tens of microseconds, DNS in ~300 us, the server in 1-5 ms, the client thinks 2-40 ms
    between two requests of a keep-alive connection."""
    kind, nxt = step[0], following[0]
    if kind == "dq":
        return 15_000 if nxt == "dq" else rng.randint(200_000, 400_000)
    if kind == "dr":
        return 10_000 if nxt == "dr" else rng.randint(50_000, 150_000)
    payload = len(step[-1]) > 40  # TCP: a segment with data (20 header + 20 options bytes without)
    if kind == "c" and nxt == "s":
        return rng.randint(1_000_000, 5_000_000) if payload else rng.randint(40_000, 80_000)
    if kind == "c" and nxt == "c":
        return rng.randint(2_000_000, 40_000_000) if len(following[-1]) > 40 else 20_000
    if kind == "s" and nxt == "c":
        return rng.randint(20_000, 60_000)
    return 12_000  # the server's next segment


def slow(ns):
    return ns if args.slowdown == 1 else int(ns * args.slowdown)


# Event-driven: each conversation's next step is due a realistic gap after its last; steps are played in time
# order, at least 2.5 us apart (three capture points each), so a busy node's healthy traffic looks healthy.
import heapq

t_ns = 1_795_000_000 * 1_000_000_000
due = []
started = 0
while started < min(args.concurrency, CONNECTIONS):
    heapq.heappush(due, (t_ns + slow(started * 20_000), started, Conn(started)))
    started += 1
finished = 0
last = 0
while due:
    when, order, conn = heapq.heappop(due)
    now = max(when, last + 2_500)
    last = now
    step = conn.steps[conn.next]
    if conn.play(now):
        heapq.heappush(due, (now + slow(gap(step, conn.steps[conn.next])), order, conn))
    else:
        finished += 1
        if started < CONNECTIONS:
            heapq.heappush(due, (now + slow(rng.randint(10_000, 500_000)), started, Conn(started)))
            started += 1
    if len(out_sll2) + len(out_ng) + len(out_ether) > 60_000:
        flush()
flush()
for f in (sll2, ng, ether):
    if f:
        f.close()
if ether:
    print(f"ether.pcap (client veths): {ether_packets} packets", file=sys.stderr)
print(f"{packets} packets (three capture points), {CONNECTIONS} HTTP connections, {REQUESTS} HTTP requests, {args.concurrency} concurrent",
      file=sys.stderr)
