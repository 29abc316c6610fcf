#!/usr/bin/env python3
"""Healthy background traffic for the hoptrace lab (Python standard library only).

    loadclient.py http --id PREFIX --target HOST:PORT[,HOST:PORT...] --close N --keepalive K --per-conn R
                       --spread SECONDS --log FILE
    loadclient.py dns --name NAME --count N --spread SECONDS --log FILE

`http`: N requests each on its own connection (`Connection: close`) and K keep-alive connections carrying R
requests each, spread over the targets round-robin, all started within SPREAD seconds from threads that run
at the same time. Every request is `GET /bg/<n>` with `X-Request-ID: <PREFIX>-<n>` and a short answer; one JSON
line per request (start, end, local port, target, status, error) goes to the log.

`dns`: N lookups of NAME through the C library's resolver (getaddrinfo, A and AAAA, the pod's resolv.conf:
its search list and ndots), one every SPREAD/N seconds; one JSON line per lookup.
"""

import argparse
import http.client
import json
import socket
import sys
import threading
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["http", "dns"])
    parser.add_argument("--id", default="bg")
    parser.add_argument("--target", default="")
    parser.add_argument("--close", type=int, default=0)
    parser.add_argument("--keepalive", type=int, default=0)
    parser.add_argument("--per-conn", type=int, default=2)
    parser.add_argument("--name", default="")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--spread", type=float, default=2.0)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    log = open(args.log, "a", buffering=1, encoding="utf-8")
    lock = threading.Lock()

    def write(entry: dict) -> None:
        with lock:
            log.write(json.dumps(entry) + "\n")

    print("ready", flush=True)
    t0 = time.time()
    if args.mode == "dns":
        for i in range(args.count):
            due = t0 + i * args.spread / max(args.count, 1)
            time.sleep(max(0.0, due - time.time()))
            start = time.time()
            try:
                infos = socket.getaddrinfo(args.name, 80, socket.AF_UNSPEC, socket.SOCK_STREAM)
                addrs = sorted({info[4][0] for info in infos})
                error = None
            except OSError as e:
                addrs, error = [], str(e)
            write({"index": i + 1, "name": args.name, "start": start, "end": time.time(), "addresses": addrs,
                   "error": error})
        return 0

    targets = [t for t in args.target.split(",") if t]
    jobs = [("close", 1)] * args.close + [("keepalive", args.per_conn)] * args.keepalive
    counter = iter(range(1, 10_000))
    counter_lock = threading.Lock()

    def next_id() -> int:
        with counter_lock:
            return next(counter)

    def worker(slot: int, kind: str, count: int) -> None:
        host, port = targets[slot % len(targets)].rsplit(":", 1)
        time.sleep(slot * args.spread / max(len(jobs), 1))
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        for _ in range(count):
            n = next_id()
            rid = f"{args.id}-{n}"
            start = time.time()
            entry = {"index": n, "xRequestID": rid, "target": f"{host}:{port}", "kind": kind, "start": start,
                     "connection": slot}
            try:
                headers = {"X-Request-ID": rid}
                if kind == "close":
                    headers["Connection"] = "close"
                conn.request("GET", f"/bg/{n}", headers=headers)
                if conn.sock is not None:
                    entry["localPort"] = conn.sock.getsockname()[1]
                response = conn.getresponse()
                response.read()
                entry["status"] = response.status
            except OSError as e:
                entry["error"] = str(e)
            entry["end"] = time.time()
            write(entry)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i, kind, count)) for i, (kind, count) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
