"""A small HTTP/1.0 server on the event loop, bounded against slow and hostile clients.

The request line and headers must arrive within `header_deadline` seconds and `max_header_bytes` bytes, a
body (a login form) within `max_body_bytes`, and at most `max_connections` are served at once; each refusal
is one log line. Every answer closes its connection. The handler decides everything else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)

_REASONS = {
    200: "OK",
    303: "See Other",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    body: bytes = b""
    peer: str = ""

    def form(self) -> dict[str, str]:
        """The fields of a url-encoded form body."""
        return dict(parse_qsl(self.body.decode("utf-8", errors="replace"), keep_blank_values=True))

    def cookie(self, name: str) -> str | None:
        for part in self.headers.get("cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None


@dataclass
class Response:
    status: int = 200
    body: bytes | str = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    def encode(self) -> bytes:
        body = self.body.encode() if isinstance(self.body, str) else self.body
        lines = [f"HTTP/1.0 {self.status} {_REASONS.get(self.status, 'Status')}"]
        lines += [f"Content-Type: {self.content_type}", f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


Handler = Callable[[Request], Awaitable[Response]]


class HttpServer:
    def __init__(
        self,
        handler: Handler,
        *,
        name: str = "http server",
        header_deadline: float = 5.0,
        max_connections: int = 64,
        max_header_bytes: int = 8192,
        max_body_bytes: int = 16384,
    ):
        self.handler = handler
        self.name = name
        self.header_deadline = header_deadline
        self.max_connections = max_connections
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self._open = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        """Listen; the port bound (port 0 takes a free one)."""
        self._server = await asyncio.start_server(self._handle, host, port, limit=self.max_header_bytes)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer)
        if self._open >= self.max_connections:
            log.warning("%s: refused %s: %d connections already open", self.name, peer, self._open)
            writer.close()
            return
        self._open += 1
        try:
            try:
                request = await asyncio.wait_for(self._read_request(reader, peer), timeout=self.header_deadline)
            except TimeoutError:
                log.warning("%s: dropped %s: no complete request within %gs", self.name, peer, self.header_deadline)
                return
            except (ValueError, asyncio.LimitOverrunError):
                log.warning("%s: refused %s: request head over %d bytes", self.name, peer, self.max_header_bytes)
                writer.write(Response(431, "request head too large\n").encode())
                await writer.drain()
                return
            except _TooLarge:
                log.warning("%s: refused %s: request body over %d bytes", self.name, peer, self.max_body_bytes)
                writer.write(Response(413, "request body too large\n").encode())
                await writer.drain()
                return
            if request is None:
                writer.write(Response(400, "bad request\n").encode())
            else:
                try:
                    response = await self.handler(request)
                except Exception:
                    log.exception("%s: %s %s failed", self.name, request.method, request.path)
                    response = Response(500, "internal error: see the daemon's log\n")
                writer.write(response.encode())
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._open -= 1
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader, peer: str) -> Request | None:
        """The request (None when its first line is not one); ValueError past the head's size cap."""
        line = await reader.readline()
        size = len(line)
        parts = line.decode("latin-1").split()
        headers: dict[str, str] = {}
        while True:
            raw = await reader.readline()
            size += len(raw)
            if size > self.max_header_bytes:
                raise ValueError("request head too large")
            if not raw.strip():
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if len(parts) < 2:
            return None
        body = b""
        length = headers.get("content-length", "0").strip()
        if length.isdigit() and int(length) > 0:
            if int(length) > self.max_body_bytes:
                raise _TooLarge
            body = await reader.readexactly(int(length))
        target = urlsplit(parts[1])
        query = dict(parse_qsl(target.query, keep_blank_values=False))
        return Request(parts[0].upper(), target.path or "/", query, headers, body, peer)


class _TooLarge(Exception):
    pass


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "a client"
