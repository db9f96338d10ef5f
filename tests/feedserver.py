"""The one HTTP server of the tests, real, on 127.0.0.1: GET paths scripted per test (good feeds and every
hostile kind), and a POST handler for the webhook receiver of Apprise's json:// (tests/servers.py)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class FeedServer:
    port: int = 0
    routes: dict[str, Handler] = field(default_factory=dict)
    post: Handler | None = None
    hits: dict[str, int] = field(default_factory=dict)
    headers_seen: dict[str, dict[str, str]] = field(default_factory=dict)

    host: str = "127.0.0.1"

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def static(self, path: str, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> str:
        def handler(h: BaseHTTPRequestHandler) -> None:
            h.send_response(status)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)

        return self.route(path, handler)


@contextmanager
def feed_server(host: str = "127.0.0.1") -> Iterator[FeedServer]:
    state = FeedServer(host=host)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            path = self.path.split("?")[0]
            state.hits[path] = state.hits.get(path, 0) + 1
            state.headers_seen[path] = {k.lower(): v for k, v in self.headers.items()}
            handler = state.routes.get(path)
            if handler is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                handler(self)

        def do_POST(self) -> None:  # noqa: N802 - http.server API
            if state.post is None:
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                state.post(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def drip(h: BaseHTTPRequestHandler, body: bytes = b"<rss>" + b" " * 100, delay: float = 1.0) -> None:
    """One byte a second."""
    h.send_response(200)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    for byte in body:
        h.wfile.write(bytes([byte]))
        h.wfile.flush()
        time.sleep(delay)


def endless(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.end_headers()
    chunk = b"<item><title>x</title></item>" * 1000
    while True:
        h.wfile.write(chunk)
