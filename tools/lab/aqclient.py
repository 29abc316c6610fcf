#!/usr/bin/env python3
"""The accept-queue-overflow client of the hoptrace lab (Python standard library only).

    aqclient.py HOST PORT --id PREFIX --late-port P --wait SECONDS

The listener (backlog 1) never calls accept(); its queue is full with two connections. The lab makes one
connection's handshake ACK arrive after the queue filled up:
  k=0 the filler: connects first and sits in the queue;
  k=1 the late one: binds source port P and connects; while the lab drops every non-SYN packet from port P in
      this pod's OUTPUT chain, its handshake ACK and its request never leave the pod;
  k=2 connects normally and fills the queue (two queued > backlog 1: full); the client prints `filled`;
the lab then removes the drop rule, and k=1's retransmitted request completes its handshake at a full queue.
Each connection sends one HTTP request (`X-Request-ID: PREFIX-<k>`) and waits up to SECONDS for an answer. The
last line printed is one JSON object: per connection its local port, times and the outcome the client saw
(reset, timeout, data).
"""

import argparse
import errno
import json
import select
import socket
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--id", required=True)
    parser.add_argument("--late-port", type=int, default=40001)
    parser.add_argument("--wait", type=float, default=16.0)
    args = parser.parse_args()
    conns = []

    def request(c: dict) -> None:
        text = (f"GET /accept-queue/{c['k']} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
                f"User-Agent: lab-aqclient/1\r\nX-Request-ID: {c['xRequestID']}\r\n\r\n").encode()
        c["sent"] = time.time()
        c["sock"].send(text)

    def connect(k: int, port: int = 0) -> dict:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if port:
            s.bind(("0.0.0.0", port))
        c = {"k": k, "sock": s, "xRequestID": f"{args.id}-{k}", "connectStart": time.time()}
        s.settimeout(5)
        try:
            s.connect((args.host, args.port))
            c["connected"] = time.time()
        except OSError as e:
            c["outcome"] = f"connect error: {e}"
            c["outcomeAt"] = time.time()
        c["localPort"] = s.getsockname()[1]
        conns.append(c)
        return c

    for k, port in ((0, 0), (1, args.late_port), (2, 0)):
        c = connect(k, port)
        if "outcome" not in c:
            request(c)
        time.sleep(0.3 if k == 0 else 0.2)
    print("filled", flush=True)
    end = time.time() + args.wait
    waiting = [c for c in conns if "outcome" not in c]
    for c in waiting:
        c["sock"].setblocking(False)
    while waiting and time.time() < end:
        readable, _, _ = select.select([c["sock"] for c in waiting], [], [], 0.05)
        for c in [c for c in waiting if c["sock"] in readable]:
            try:
                data = c["sock"].recv(4096)
                c["outcome"] = "data" if data else "eof"
                c["bytes"] = len(data)
            except OSError as e:
                c["outcome"] = "reset" if e.errno == errno.ECONNRESET else f"error: {e}"
            c["outcomeAt"] = time.time()
            waiting.remove(c)
    for c in waiting:
        c["outcome"] = "timeout"
        c["outcomeAt"] = time.time()
    for c in conns:
        c["sock"].close()
        del c["sock"]
    print(json.dumps({"host": args.host, "port": args.port, "latePort": args.late_port, "connections": conns}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
