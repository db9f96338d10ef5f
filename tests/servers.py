"""Real servers on 127.0.0.1 for tests: a webhook receiver for Apprise's json://, and an SMTP server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    """Records every JSON body posted to it. `fail` answers 500 that many times first; `delay` stalls each
    answer (longer than the client's timeout: a hanging receiver)."""

    fail: int = 0
    delay: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    requests: int = 0

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def messages(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.received)


@contextmanager
def receiver(fail: int = 0, delay: float = 0.0) -> Iterator[Receiver]:
    state = Receiver(fail=fail, delay=delay)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = self.rfile.read(length)
            if state.delay:
                time.sleep(state.delay)
            with state.lock:
                state.requests += 1
                failing = state.fail > 0
                if failing:
                    state.fail -= 1
                else:
                    state.received.append(json.loads(body))
            self.send_response(500 if failing else 200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    port: int = 0
    messages: list[Any] = field(default_factory=list)


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
            box.messages.append(envelope)
            return "250 OK"

    # aiosmtpd binds by host and port, not by a socket handed over: a port found free may be taken by the
    # time it binds, so another is tried.
    for attempt in range(5):
        box.port = _free_port()
        controller = Controller(Handler(), hostname="127.0.0.1", port=box.port)
        try:
            controller.start()
            break
        except (OSError, RuntimeError):
            if attempt == 4:
                raise
    try:
        yield box
    finally:
        controller.stop()
