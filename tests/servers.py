"""Real servers on 127.0.0.1 for tests: the webhook receiver for Apprise's json:// (a role of the one test
HTTP server), and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.feedserver import feed_server


@dataclass
class Receiver:
    """Records every JSON body posted to it. `fail` answers 500 that many times first; `delay` stalls each
    answer (longer than the client's timeout: a hanging receiver); `on_receive` runs as each message arrives,
    before the answer (to cut something at exactly that moment)."""

    fail: int = 0
    delay: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    requests: int = 0
    on_receive: Callable[[], None] | None = None

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def messages(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.received)


@contextmanager
def receiver(fail: int = 0, delay: float = 0.0) -> Iterator[Receiver]:
    """The test HTTP server (tests/feedserver.py) recording each JSON body POSTed to it."""
    state = Receiver(fail=fail, delay=delay)

    def record(h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("content-length", 0)))
        if state.delay:
            time.sleep(state.delay)
        if state.on_receive is not None:
            state.on_receive()
        with state.lock:
            state.requests += 1
            failing = state.fail > 0
            if failing:
                state.fail -= 1
            else:
                state.received.append(json.loads(body))
        h.send_response(500 if failing else 200)
        h.send_header("content-length", "0")
        h.end_headers()

    with feed_server() as server:
        server.post = record
        state.port = server.port
        yield state


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
