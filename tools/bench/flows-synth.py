#!/usr/bin/env python3
"""Writes a synthetic pcap of many short HTTP/1.1 connections to stdout, for measuring the flow stage's memory.

Usage: tools/bench/flows-synth.py SCALE [--open] | /usr/bin/time -v .build/release/hoptrace flows - > /dev/null

SCALE 1 is 1,008,000 packets (112,000 connections of 9 packets: handshake, request, ACK, response, FIN both
ways, last ACK), 64 connections in flight at once, 100 us of packet time between packets. Every connection closes,
so a flow stage with bounded memory holds only the ones in flight plus those lingering after close. With --open the
connections never close (no FINs: 6 packets each): then only the cap on concurrent connections bounds memory.
"""
import struct
import sys

scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
steps = 6 if "--open" in sys.argv else 9
connections = int(112_000 * scale)
in_flight = 64
out = sys.stdout.buffer
out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # pcap, microseconds, Ethernet

request = b"GET /item HTTP/1.1\r\nHost: svc.default\r\nUser-Agent: synth\r\nX-Request-ID: %08d\r\n\r\n"
response = b"HTTP/1.1 200 OK\r\nContent-Length: 32\r\nContent-Type: text/plain\r\n\r\n" + b"x" * 32
ether = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00"


def packet(src, dst, sport, dport, seq, ack, flags, payload):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, src, dst)
    return ether + ip + tcp + payload


def conversation(index):
    client = bytes([10, 1, (index >> 8) & 0xFF, index & 0xFF])
    server = bytes([10, 96, 0, 10])
    port = 1024 + (index * 7) % 60000
    c = (index * 2654435761) & 0xFFFFFFFF
    s = (index * 40503 + 12345) & 0xFFFFFFFF
    q = request % (index % 100_000_000)
    r = response
    SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
    return [
        packet(client, server, port, 80, c, 0, SYN, b""),
        packet(server, client, 80, port, s, c + 1, SYN | ACK, b""),
        packet(client, server, port, 80, c + 1, s + 1, ACK, b""),
        packet(client, server, port, 80, c + 1, s + 1, ACK | PSH, q),
        packet(server, client, 80, port, s + 1, c + 1 + len(q), ACK, b""),
        packet(server, client, 80, port, s + 1, c + 1 + len(q), ACK | PSH, r),
        packet(client, server, port, 80, c + 1 + len(q), s + 1 + len(r), ACK | FIN, b""),
        packet(server, client, 80, port, s + 1 + len(r), c + 2 + len(q), ACK | FIN, b""),
        packet(client, server, port, 80, c + 2 + len(q), s + 2 + len(r), ACK, b""),
    ]


time_us = 1_700_000_000 * 1_000_000
chunk = []
for start in range(0, connections, in_flight):
    batch = [conversation(i) for i in range(start, min(connections, start + in_flight))]
    for step in range(steps):
        for conv in batch:
            frame = conv[step]
            chunk.append(struct.pack("<IIII", time_us // 1_000_000, time_us % 1_000_000, len(frame), len(frame)))
            chunk.append(frame)
            time_us += 100
    if len(chunk) > 20_000:
        out.write(b"".join(chunk))
        chunk = []
out.write(b"".join(chunk))
