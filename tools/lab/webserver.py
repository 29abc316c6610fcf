#!/usr/bin/env python3
"""A tiny HTTP/1.1 web pod for the hoptrace lab (Python standard library only).

Answers every GET. Query parameters shape the answer:
  ms=N     wait N milliseconds before sending anything (a slow server),
  bytes=N  send an N-byte body (a big response for the congested-hop scenario).
`/slow?ms=N` is the documented slow endpoint. `/reset-mid?bytes=N&cut=M` sends the headers of an N-byte
body and its first M bytes, then closes with SO_LINGER 0 (an RST in the middle of the response);
`/close-mid?bytes=N&cut=M` the same, but closes as usual (a FIN: the response cut short, not reset). POST
reads the request body (Content-Length) and answers with its size (the upload scenario). Connections are kept alive (HTTP/1.1,
Content-Length), so one curl with several URLs reuses its connection.

Each request is logged as one JSON line (received/answered times, client address,
request line, the headers that matter for tracing) to --log; the lab reads that log
to record in its truth file which pod served which request.
"""

import argparse
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_DELAY_MS = 30_000
MAX_BYTES = 4 * 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--bind", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    lock = threading.Lock()
    log = open(args.log, "a", buffering=1, encoding="utf-8")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "lab-web/1"

        def log_message(self, format: str, *a) -> None:  # noqa: A002 - stdlib signature
            pass

        def do_POST(self) -> None:  # noqa: N802 - stdlib naming
            received = time.time()
            length = _int(self.headers.get("Content-Length", "0"), 0, 64 * 1024 * 1024)
            left = length
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
            body_read = time.time()
            body = f"received {length - left} bytes path={self.path}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Served-By", args.name)
            self.end_headers()
            answered = time.time()
            self.wfile.write(body)
            self._log(received, answered, 0, len(body), {"requestBodyBytes": length - left, "bodyRead": body_read})

        def _log(self, received: float, answered: float, delay_ms: int, size: int, extra: dict) -> None:
            entry = {
                "pod": args.name,
                "received": received,
                "answered": answered,
                "delayMs": delay_ms,
                "bodyBytes": size,
                "client": f"{self.client_address[0]}:{self.client_address[1]}",
                "method": self.command,
                "path": self.path,
                "host": self.headers.get("Host"),
                "xRequestID": self.headers.get("X-Request-ID"),
                "xForwardedFor": self.headers.get("X-Forwarded-For"),
                "xRealIP": self.headers.get("X-Real-IP"),
                **extra,
            }
            with lock:
                log.write(json.dumps(entry) + "\n")

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            received = time.time()
            query = parse_qs(urlsplit(self.path).query)
            if urlsplit(self.path).path in ("/reset-mid", "/close-mid"):
                self._cut_mid(received, query, reset=urlsplit(self.path).path == "/reset-mid")
                return
            delay_ms = _int(query.get("ms", ["0"])[0], 0, MAX_DELAY_MS)
            size = _int(query.get("bytes", ["0"])[0], 0, MAX_BYTES)
            if delay_ms:
                time.sleep(delay_ms / 1000.0)
            if size:
                body = (b"0123456789abcdef" * (size // 16 + 1))[:size]
            else:
                body = f"hello from {args.name} path={self.path}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Served-By", args.name)
            if self.close_connection:
                # Say so, so the client does not reuse the connection while it closes (a keep-alive race that
                # makes curl resend the request on a new connection).
                self.send_header("Connection", "close")
            self.end_headers()
            answered = time.time()
            self.wfile.write(body)
            self._log(received, answered, delay_ms, len(body), {})

        def _cut_mid(self, received: float, query: dict, reset: bool) -> None:
            size = _int(query.get("bytes", ["20000"])[0], 1, MAX_BYTES)
            cut = _int(query.get("cut", ["4000"])[0], 0, size - 1)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(size))
            self.send_header("X-Served-By", args.name)
            self.end_headers()
            answered = time.time()
            self.wfile.write((b"0123456789abcdef" * (cut // 16 + 1))[:cut])
            self.wfile.flush()
            time.sleep(0.2)
            if reset:
                # SO_LINGER on, 0 s: close() discards the socket at once and sends RST instead of FIN.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                reset_at = time.time()
                self.connection.close()
                self.close_connection = True
                self._log(received, answered, 0, cut, {"declaredBytes": size, "resetAt": reset_at, "reset": True})
                return
            # A FIN after the bytes written: the peer reads them, then the end of the stream.
            closed_at = time.time()
            self.connection.shutdown(socket.SHUT_WR)
            self.close_connection = True
            self._log(received, answered, 0, cut, {"declaredBytes": size, "closedAt": closed_at, "closed": True})

    server = ThreadingHTTPServer((args.bind, args.port), Handler)
    server.daemon_threads = True
    print(f"ready {args.name} {args.bind}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.exit(0)


def _int(text: str, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(text)))
    except ValueError:
        return low


if __name__ == "__main__":
    main()
