#!/usr/bin/env python3
"""Writes the flood captures of issue 20 (classic pcap, Ethernet, microseconds) for the flow stage's bounds.

Usage: tools/bench/floods.py KIND COUNT > FILE
  syn        COUNT pure SYNs (distinct source addresses and ports) to one server, never answered
  dns        COUNT DNS queries (distinct ids, ports and names) to one resolver, never answered
  ka         COUNT concurrent keep-alive connections, each with its own path (GET /ka/<i>): all handshakes, then
             all requests, then all responses; none closes (6 packets per connection)
  ka-shared  the same with one shared path (GET /ka), as health checks and /metrics scrapes look
  ka-serial  COUNT keep-alive connections opened one after the other, each answered once (handshake, GET /ka/<i>,
             200, ACK) and never closed (6 packets per connection)
  ka-random  the same six packets of COUNT keep-alive connections, each connection's in order, the connections
             interleaved at random (a fixed seed): all open at once, as real concurrency mixes them
  syn-answered COUNT SYNs from random addresses and ports, each answered by the server's SYN-ACK and never
             acknowledged (half-open connections: a SYN flood against a listening port)
  pipe       COUNT pipelined requests (GET /p/<i>) on one connection after its handshake, never answered
  dns-one    COUNT DNS queries from one client address (ports and ids cycling, distinct names), never answered
  dns-answered COUNT A lookups from one client address (distinct names, each answered 1 us later with an address),
             one every 20 us: about 12,500 open at a time (a resolver may continue one for 250 ms after its answer)
  icmp       COUNT ICMP port unreachables (from a router, each quoting a TCP tuple of its own), and every 20th a
             short HTTP connection (handshake, GET, 200, close) to the server they quote
  fixed-isn  COUNT connections from distinct clients with the same client and server ISNs and IP ID 0 (a scanner's
             fixed ISN), each SYN, SYN-ACK, RST
  rst        COUNT lone RSTs (distinct clients, no SYN), as a scan's replies or a reset storm look
  ack        COUNT lone bare ACKs mid-stream (distinct clients), as a capture begun on busy idle connections
  midstream  COUNT requests each alone on a connection begun mid-stream (distinct clients, GET /m/<i>, no handshake,
             never answered)
  frag       COUNT first fragments of UDP datagrams whose other fragments never come (distinct IP ids and clients)
  clock-back COUNT short HTTP connections (GET /b, 200, close) whose clock steps an hour back every 1,000 packets
             and forward again after the next 1,000, as files appended out of order (mergecap -a) look
  many-points COUNT short HTTP connections (handshake, GET /m/<i>, 200, a FIN each way, no last ACK), one after the
             other, every packet seen at each of $POINTS (100) capture points (pcapng, an interface each, 1 us
             apart): a connection with a hundred views, as a hostile or mis-merged capture holds
  many-interfaces COUNT SYNs from distinct clients, each on an interface index of its own (SLL2, as `tcpdump -i any`
             writes): a capture naming a new interface in every packet, corrupt or written to exhaust the reader;
             with $PER (1) above 1, that many SYNs on each interface (the server then seems to live behind each)
  many-idbs  the same in pcapng: before each SYN an interface description block of its own (veth<i>)
  tiny-reverse one connection: a GET of COUNT bytes (padded with a header) sent as COUNT one-byte segments in reverse
             order after the handshake, then the server's ACK, a 200 and a FIN each way
  tiny-runs  the same GET, its last 2,046 bytes' every other byte (1,023 separate segments) first, then the bytes
             before them one at a time from the last to the second, then the 1,023 between the separate ones, then
             the first: a run grown one byte at a time in front of a thousand separate segments
  many-nodes node $NODE's file (0 to $NODES-1, 60 nodes by default) of COUNT short HTTP connections seen on every
             node: its clock $NODE x 3 ms ahead, each packet 5 us later per node along its way (the client's from node
             0 on, the server's from the last); trace them with --node NAME=FILE for each

Packets are 1 us apart (but for dns-answered), so no timeout expires inside a flood: the caps alone bound memory.
"""
import os
import struct
import sys

KINDS = (
    "syn", "dns", "ka", "ka-shared", "ka-serial", "pipe", "dns-one", "dns-answered", "icmp", "fixed-isn", "clock-back",
    "rst", "ack", "midstream", "frag", "ka-random", "syn-answered", "many-points", "many-nodes", "many-interfaces",
    "many-idbs", "tiny-reverse", "tiny-runs",
)
if len(sys.argv) != 3 or sys.argv[1] not in KINDS or not sys.argv[2].isdigit():
    sys.exit("usage: tools/bench/floods.py KIND COUNT > FILE (KIND: " + ", ".join(KINDS) + ")")
if sys.stdout.isatty():
    sys.exit("floods.py writes a capture to stdout: redirect it to a file (> FILE)")
kind = sys.argv[1]
count = int(sys.argv[2])
out = sys.stdout.buffer
POINTS = int(os.environ.get("POINTS", "100"))
if kind == "many-points":
    # pcapng: a section header, then an interface (if0..if99, Ethernet, microseconds) for each capture point.
    out.write(struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28))
    for n in range(POINTS):
        name = b"if%d" % n
        options = struct.pack("<HH", 2, len(name)) + name + b"\0" * (-len(name) % 4) + struct.pack("<HH", 0, 0)
        body = struct.pack("<HHI", 1, 0, 65535) + options
        out.write(struct.pack("<II", 1, 12 + len(body)) + body + struct.pack("<I", 12 + len(body)))
elif kind == "many-idbs":
    out.write(struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28))
elif kind == "many-interfaces":
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 276))
else:
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
ETHER = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00"
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
t = [1_700_000_000 * 1_000_000]
buffer = []


def emit(frame):
    t[0] += 1
    buffer.append(struct.pack("<IIII", t[0] // 1_000_000, t[0] % 1_000_000, len(frame), len(frame)) + frame)
    if len(buffer) >= 4096:
        out.write(b"".join(buffer))
        buffer.clear()


def ip(src, dst, proto, payload):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0, src, dst) + payload


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b""):
    header = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
    emit(ETHER + ip(src, dst, 6, header + payload))


def client(i):
    return bytes([10, 1 + (i >> 16) % 200, (i >> 8) & 0xFF, i & 0xFF]), 1024 + (i * 7919) % 64000


SERVER = bytes([10, 96, 0, 10])
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def flush():
    if len(buffer) >= 4096:
        out.write(b"".join(buffer))
        buffer.clear()


def short_connection(i, get, before=lambda forward: None):
    """Client i's short HTTP connection to SERVER: handshake, `get`, 200 with no body, a FIN each way (no last ACK).
    `before` is told, ahead of each packet, whether it goes from the client to the server."""
    a, p = client(i)
    c, s = (i * 2654435761) & 0xFFFFFFF, (i * 40503 + 77) & 0xFFFFFFF
    for source, flags, payload, forward in (
        ((a, SERVER, p, 80, c, 0), SYN, b"", True),
        ((SERVER, a, 80, p, s, c + 1), SYN | ACK, b"", False),
        ((a, SERVER, p, 80, c + 1, s + 1), ACK, b"", True),
        ((a, SERVER, p, 80, c + 1, s + 1), ACK | PSH, get, True),
        ((SERVER, a, 80, p, s + 1, c + 1 + len(get)), ACK | PSH, OK, False),
        ((a, SERVER, p, 80, c + 1 + len(get), s + 1 + len(OK)), ACK | FIN, b"", True),
        ((SERVER, a, 80, p, s + 1 + len(OK), c + 2 + len(get)), ACK | FIN, b"", False),
    ):
        before(forward)
        tcp(*source, flags, payload)
if kind == "syn":
    for i in range(count):
        address, port = client(i)
        tcp(address, SERVER, port, 80, i * 2654435761, 0, SYN)
elif kind in ("rst", "ack", "midstream"):
    for i in range(count):
        address, port = client(i)
        seq = i * 2654435761
        if kind == "rst":
            tcp(address, SERVER, port, 80, seq, 0, RST)
        elif kind == "ack":
            tcp(address, SERVER, port, 80, seq, seq ^ 0x5555, ACK)
        else:
            tcp(address, SERVER, port, 80, seq, seq ^ 0x5555, ACK | PSH, b"GET /m/%d HTTP/1.1\r\nHost: svc.default\r\n\r\n" % i)
elif kind == "frag":
    for i in range(count):
        address, port = client(i)
        payload = struct.pack("!HHHH", port, 9999, 8 + 1400, 0) + bytes(1400 - 8 - 8 + 8)
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 1400, i & 0xFFFF, 0x2000, 64, 17, 0, address, SERVER)
        emit(ETHER + header + payload[:1400])
elif kind == "dns":
    for i in range(count):
        address, port = client(i)
        name = b"".join(bytes([len(label)]) + label for label in [b"q%d" % i, b"default", b"svc", b"cluster", b"local"])
        query = struct.pack("!HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + name + b"\x00" + struct.pack("!HH", 1, 1)
        udp = struct.pack("!HHHH", port, 53, 8 + len(query), 0) + query
        emit(ETHER + ip(address, SERVER, 17, udp))
elif kind == "syn-answered":
    import random
    rnd = random.Random(42)
    for i in range(count):
        a = bytes([rnd.randrange(1, 224), rnd.randrange(256), rnd.randrange(256), rnd.randrange(1, 255)])
        p, c = rnd.randrange(1024, 65535), rnd.getrandbits(32)
        tcp(a, SERVER, p, 80, c, 0, SYN)
        tcp(SERVER, a, 80, p, rnd.getrandbits(32), c + 1, SYN | ACK)
elif kind in ("ka", "ka-shared", "ka-serial", "ka-random"):
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    def keepalive(i, step):
        """The step-th of connection i's six packets: SYN, SYN-ACK, ACK, request, response, the client's ACK."""
        a, p = client(i)
        c = (i * 2654435761) & 0xFFFFFFFF
        s = c ^ 0x5555
        path = b"/ka" if kind == "ka-shared" else b"/ka/%d" % i
        request = b"GET " + path + b" HTTP/1.1\r\nHost: svc.default\r\n\r\n"
        q = len(request)
        if step == 0:
            tcp(a, SERVER, p, 80, c, 0, SYN)
        elif step == 1:
            tcp(SERVER, a, 80, p, s, c + 1, SYN | ACK)
        elif step == 2:
            tcp(a, SERVER, p, 80, c + 1, s + 1, ACK)
        elif step == 3:
            tcp(a, SERVER, p, 80, c + 1, s + 1, ACK | PSH, request)
        elif step == 4:
            tcp(SERVER, a, 80, p, s + 1, c + 1 + q, ACK | PSH, response)
        else:
            tcp(a, SERVER, p, 80, c + 1 + q, s + 1 + len(response), ACK)

    if kind == "ka-serial":
        for i in range(count):
            for step in range(6):
                keepalive(i, step)
    elif kind == "ka-random":
        import random
        rnd = random.Random(42)
        steps = [0] * count
        live = list(range(count))
        while live:
            j = rnd.randrange(len(live))
            i = live[j]
            keepalive(i, steps[i])
            steps[i] += 1
            if steps[i] == 6:
                live[j] = live[-1]
                live.pop()
    else:
        for step in range(6):
            for i in range(count):
                keepalive(i, step)
elif kind == "pipe":
    a, p = client(0)
    tcp(a, SERVER, p, 80, 1000, 0, SYN)
    tcp(SERVER, a, 80, p, 5000, 1001, SYN | ACK)
    tcp(a, SERVER, p, 80, 1001, 5001, ACK)
    seq = 1001
    for i in range(count):
        request = b"GET /p/%d HTTP/1.1\r\nHost: svc.default\r\n\r\n" % i
        tcp(a, SERVER, p, 80, seq, 5001, ACK | PSH, request)
        seq += len(request)
elif kind == "dns-one":
    address, _ = client(0)
    for i in range(count):
        name = b"".join(bytes([len(label)]) + label for label in [b"q%d" % i, b"default", b"svc", b"cluster", b"local"])
        query = struct.pack("!HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + name + b"\x00" + struct.pack("!HH", 1, 1)
        udp = struct.pack("!HHHH", 1024 + i % 60000, 53, 8 + len(query), 0) + query
        emit(ETHER + ip(address, SERVER, 17, udp))
elif kind == "dns-answered":
    address, _ = client(0)
    for i in range(count):
        name = b"".join(bytes([len(label)]) + label for label in [b"h%d" % i, b"svc", b"cluster", b"local"]) + b"\x00"
        query = struct.pack("!HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1)
        port = 1024 + i % 60000
        t[0] += 18
        emit(ETHER + ip(address, SERVER, 17, struct.pack("!HHHH", port, 53, 8 + len(query), 0) + query))
        answer = bytes([10, 96, (i >> 8) & 0xFF, i & 0xFF])
        response = (
            struct.pack("!HHHHHH", i & 0xFFFF, 0x8180, 1, 1, 0, 0)
            + name
            + struct.pack("!HH", 1, 1)
            + b"\xc0\x0c"
            + struct.pack("!HHIH", 1, 1, 30, 4)
            + answer
        )
        emit(ETHER + ip(SERVER, address, 17, struct.pack("!HHHH", 53, port, 8 + len(response), 0) + response))
elif kind == "icmp":
    ROUTER = bytes([10, 0, 0, 1])
    for i in range(count):
        address, port = client(i)
        header = struct.pack("!HHIIBBHHH", 80, port, i, 0, 5 << 4, SYN | ACK, 65535, 0, 0)
        quoted = ip(SERVER, address, 6, header)[:28]
        emit(ETHER + ip(ROUTER, SERVER, 1, struct.pack("!BBHI", 3, 3, 0, 0) + quoted))
        if i % 20 == 0:
            a, p = client(i + 7)
            get = b"GET / HTTP/1.1\r\nHost: svc.default\r\n\r\n"
            ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
            tcp(a, SERVER, p, 80, 1000, 0, SYN)
            tcp(SERVER, a, 80, p, 5000, 1001, SYN | ACK)
            tcp(a, SERVER, p, 80, 1001, 5001, ACK)
            tcp(a, SERVER, p, 80, 1001, 5001, ACK | PSH, get)
            tcp(SERVER, a, 80, p, 5001, 1001 + len(get), ACK | PSH, ok)
            tcp(a, SERVER, p, 80, 1001 + len(get), 5001 + len(ok), ACK | FIN)
            tcp(SERVER, a, 80, p, 5001 + len(ok), 1002 + len(get), ACK | FIN)
            tcp(a, SERVER, p, 80, 1002 + len(get), 5002 + len(ok), ACK)
elif kind == "fixed-isn":
    for i in range(count):
        a, p = client(i)
        tcp(a, SERVER, p, 80, 12345, 0, SYN)
        tcp(SERVER, a, 80, p, 777, 12346, SYN | ACK)
        tcp(a, SERVER, p, 80, 12346, 0, RST)
elif kind == "clock-back":
    start, sent = t[0], [0]

    def stepped(frame):
        # The clock of every other thousand packets runs an hour behind.
        sent[0] += 1
        t[0] = start + sent[0] - (3_600_000_000 if (sent[0] // 1000) % 2 else 0)
        buffer.append(struct.pack("<IIII", t[0] // 1_000_000, t[0] % 1_000_000, len(frame), len(frame)) + frame)

    emit = stepped
    for i in range(count):
        short_connection(i, b"GET /b HTTP/1.1\r\nHost: s\r\n\r\n")
        flush()
elif kind == "many-points":

    def everywhere(frame):
        # The frame once at each capture point, 1 us apart (an enhanced packet block each).
        padded = frame + b"\0" * (-len(frame) % 4)
        for n in range(POINTS):
            t[0] += 1
            block = struct.pack("<IIIIIII", 6, 32 + len(padded), n, t[0] >> 32, t[0] & 0xFFFFFFFF, len(frame), len(frame))
            buffer.append(block + padded + struct.pack("<I", 32 + len(padded)))
        flush()

    emit = everywhere
    for i in range(count):
        short_connection(i, b"GET /m/%d HTTP/1.1\r\nHost: s\r\n\r\n" % i)
elif kind == "many-nodes":
    nodes, node = int(os.environ.get("NODES", "60")), int(os.environ.get("NODE", "0"))
    forward = [True]

    def on_node(frame):
        # The packet's time on this node's clock: 1 ms per packet, the node's offset, its delay along the way.
        t[0] += 1000
        hop = node if forward[0] else nodes - 1 - node
        at = t[0] + 3000 * node + 5 * hop
        buffer.append(struct.pack("<IIII", at // 1_000_000, at % 1_000_000, len(frame), len(frame)) + frame)

    emit = on_node
    for i in range(count):
        short_connection(i, b"GET /n/%d HTTP/1.1\r\nHost: s\r\n\r\n" % i, lambda fwd: forward.__setitem__(0, fwd))
        flush()
elif kind in ("many-interfaces", "many-idbs"):
    for i in range(count):
        a, p = client(i)
        syn = ip(a, SERVER, 6, struct.pack("!HHIIBBHHH", p, 80, (i * 2654435761) & 0xFFFFFFFF, 0, 5 << 4, SYN, 65535, 0, 0))
        t[0] += 1
        if kind == "many-interfaces":
            # SLL2: protocol, reserved, interface index (i + 1), ARPHRD_ETHER, packet type, address length, address.
            index = i // int(os.environ.get("PER", "1")) + 1
            frame = struct.pack("!HHIHBB8s", 0x0800, 0, index, 1, 0, 6, b"\x02\0\0\0\0\x01\0\0") + syn
            buffer.append(struct.pack("<IIII", t[0] // 1_000_000, t[0] % 1_000_000, len(frame), len(frame)) + frame)
        else:
            name = b"veth%d" % i
            options = struct.pack("<HH", 2, len(name)) + name + b"\0" * (-len(name) % 4) + struct.pack("<HH", 0, 0)
            body = struct.pack("<HHI", 1, 0, 65535) + options
            buffer.append(struct.pack("<II", 1, 12 + len(body)) + body + struct.pack("<I", 12 + len(body)))
            frame = ETHER + syn
            padded = frame + b"\0" * (-len(frame) % 4)
            block = struct.pack("<IIIIIII", 6, 32 + len(padded), i, t[0] >> 32, t[0] & 0xFFFFFFFF, len(frame), len(frame))
            buffer.append(block + padded + struct.pack("<I", 32 + len(padded)))
        flush()
elif kind in ("tiny-reverse", "tiny-runs"):
    a, p = client(0)
    c, s = 1000, 5000
    start, end = b"GET /tiny HTTP/1.1\r\nHost: svc.default\r\nX-Pad: ", b"\r\n\r\n"
    request = start + b"p" * max(0, count - len(start) - len(end)) + end
    q = len(request)
    tcp(a, SERVER, p, 80, c, 0, SYN)
    tcp(SERVER, a, 80, p, s, c + 1, SYN | ACK)
    tcp(a, SERVER, p, 80, c + 1, s + 1, ACK)
    if kind == "tiny-reverse":
        order = range(q - 1, -1, -1)
    else:
        separate = [q - 2 * k for k in range(1, 1024)]
        order = separate + list(range(q - 2 * 1023 - 1, 0, -1)) + [i + 1 for i in separate] + [0]
    for i in order:
        tcp(a, SERVER, p, 80, c + 1 + i, s + 1, ACK | PSH, request[i:i + 1])
        flush()
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    tcp(SERVER, a, 80, p, s + 1, c + 1 + q, ACK)
    tcp(SERVER, a, 80, p, s + 1, c + 1 + q, ACK | PSH, response)
    tcp(a, SERVER, p, 80, c + 1 + q, s + 1 + len(response), ACK | FIN)
    tcp(SERVER, a, 80, p, s + 1 + len(response), c + 2 + q, ACK | FIN)
    tcp(a, SERVER, p, 80, c + 2 + q, s + 2 + len(response), ACK)
else:
    sys.exit("kind: " + ", ".join(KINDS))
out.write(b"".join(buffer))
