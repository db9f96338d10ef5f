"""Fetching feeds safely with httpx: feedparser never fetches.

- http and https only; loopback, private, link-local and reserved addresses are refused on the address
  actually connected to, at connect time, on every redirect hop (`http.allow_private_addresses` lifts it);
- one total deadline per fetch that a server dripping a byte a second cannot outlive;
- a body cap applied after decompression (gzip and deflate are decoded here, bounded), so a gzip bomb
  stops at the cap; at most 5 redirects; a User-Agent naming the project;
- conditional GET with the stored ETag and Last-Modified.
"""

from __future__ import annotations

import contextvars
import email.utils
import ipaddress
import socket
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from watcher import __version__
from watcher.errors import FetchError

USER_AGENT = f"watcher/{__version__} (feed monitor; +https://github.com/watcher-feeds/watcher)"
MAX_REDIRECTS = 5
ACCEPT_HTML = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
ACCEPT = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, */*;q=0.5"


class BlockedAddress(Exception):
    """A connection to an address the policy refuses."""


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# RFC 8215's local-use NAT64 prefix: translates to whatever the local network wants, so never allowed.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d),
    NAT64 (64:ff9b::a.b.c.d), 6to4 (2002:aabb:ccdd::) and Teredo (server and client)."""
    out = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo is not None:
        out.extend(ip.teredo)
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return out


def address_allowed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Only globally routable unicast addresses; an IPv6 address that wraps an IPv4 one is judged by both."""
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = embedded_ipv4(ip)
        # A mapped address is the IPv4 address itself: judged as IPv4 alone (::ffff:8.8.8.8 is fine).
        candidates = list(embedded) if ip.ipv4_mapped is not None else [ip, *embedded]
        if ip in _LOCAL_NAT64:
            return False
    return all(c.is_global and not c.is_multicast for c in candidates)


AddressPolicy = Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], bool]


# The deadline of the fetch running on this thread (time.monotonic()), read by every socket operation.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("watcher_fetch_deadline", default=None)


def _within_deadline(timeout: float | None, error: type[Exception]) -> float | None:
    """`timeout` cut to what is left of the current fetch's deadline; `error` when nothing is left."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise error("the fetch deadline passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the fetch's deadline: httpx's own read timeout
    restarts at each read, so a server sending one header line a second would otherwise never time out."""

    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _within_deadline(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _within_deadline(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves the host itself and connects only to allowed addresses (no rebinding between check and use)."""

    def __init__(self, allowed: AddressPolicy):
        self.allowed = allowed

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise httpcore.ConnectError(f"cannot resolve {host}: {e.strerror}") from None
        addresses = []
        for info in infos:
            ip = ipaddress.ip_address(info[4][0])
            if not self.allowed(ip):
                raise BlockedAddress(f"{host} resolves to {ip}, a private or reserved address")
            addresses.append(str(ip))
        last: Exception | None = None
        for address in dict.fromkeys(addresses):
            try:
                stream = super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as e:
                last = e
            else:
                return _DeadlineStream(stream)
        raise last or httpcore.ConnectError(f"cannot connect to {host}")


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with the connect-time address policy and the per-fetch deadline on every socket."""

    def __init__(self, *, limits: httpx.Limits | None = None, allowed: AddressPolicy = address_allowed) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(trust_env=False, limits=limits)
        # httpx takes no network backend; its pool does. Built as HTTPTransport builds it, plus the guard.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(allowed),
        )


def _any_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return True


def make_client(*, allow_private_addresses: bool, limits: httpx.Limits | None = None) -> httpx.Client:
    """The HTTP client for feeds: redirects followed by hand (each hop checked), no proxies from the environment."""
    transport = GuardedTransport(limits=limits, allowed=_any_address if allow_private_addresses else address_allowed)
    return httpx.Client(
        transport=transport, follow_redirects=False, trust_env=False, headers={"User-Agent": USER_AGENT}
    )


@dataclass
class FetchResult:
    url: str
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    permanent_url: str | None = None  # where a 301/308 chain says the feed now lives
    retry_after: float | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def fetch(
    client: httpx.Client,
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    etag: str | None = None,
    last_modified: str | None = None,
    now: float | None = None,
    accept: str = ACCEPT,
) -> FetchResult:
    """GET a feed (or, with `accept`, a page) within one deadline; raise FetchError (with .retryable) on any
    failure."""
    deadline = time.monotonic() + timeout
    token = _DEADLINE.set(deadline)
    try:
        return _fetch(client, url, deadline, timeout, max_bytes, etag, last_modified, now, accept)
    finally:
        _DEADLINE.reset(token)


def _fetch(
    client: httpx.Client,
    url: str,
    deadline: float,
    timeout: float,
    max_bytes: int,
    etag: str | None,
    last_modified: str | None,
    now: float | None,
    accept: str,
) -> FetchResult:
    current = url
    permanent: str | None = None
    all_permanent = True
    for _ in range(MAX_REDIRECTS + 1):
        _check_scheme(current)
        headers = {"Accept": accept, "Accept-Encoding": "gzip, deflate"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"{url}: no answer within {timeout:g}s", kind="timeout")
        try:
            request = client.build_request("GET", current, headers=headers, timeout=httpx.Timeout(remaining))
            response = client.send(request, stream=True)
        except BlockedAddress as e:
            raise FetchError(
                f"{url}: refused: {e} (set http.allow_private_addresses to allow)", retryable=False, kind="refused"
            ) from None
        except httpx.TimeoutException:
            raise FetchError(f"{url}: no answer within {timeout:g}s", kind="timeout") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
            raise FetchError(f"{url}: not a URL that can be fetched: {_reason(e)}", retryable=False) from None
        except (httpx.HTTPError, httpcore.ConnectError, OSError) as e:
            raise FetchError(f"{url}: {_reason(e)}") from None
        try:
            if response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("location")
                if not location:
                    raise FetchError(f"{url}: redirect without a Location", retryable=False, kind="redirects")
                try:
                    current = urljoin(current, location.strip())
                except ValueError:
                    raise FetchError(
                        f"{url}: redirect to an invalid URL {location[:200]!r}", retryable=False, kind="redirects"
                    ) from None
                all_permanent = all_permanent and response.status_code in (301, 308)
                permanent = current if all_permanent else permanent
                continue
            result = FetchResult(
                url=current,
                status=response.status_code,
                headers={k.lower(): v for k, v in response.headers.items()},
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                permanent_url=permanent,
                retry_after=parse_retry_after(response.headers.get("retry-after"), now),
            )
            if response.status_code == 200:
                result.body = _read_body(response, url, deadline, timeout, max_bytes)
            return result
        finally:
            response.close()
    raise FetchError(
        f"{url}: more than {MAX_REDIRECTS} redirects (a redirect loop?)", retryable=False, kind="redirects"
    )


def _check_scheme(url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"{url}: only http and https can be fetched", retryable=False)


def _read_body(response: httpx.Response, url: str, deadline: float, timeout: float, max_bytes: int) -> bytes:
    encoding = response.headers.get("content-encoding", "").strip().lower()
    decoder: Any = None
    if encoding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decoder = _Deflate()
    elif encoding not in ("", "identity"):
        raise FetchError(f"{url}: unsupported Content-Encoding {encoding!r}", retryable=False)
    chunks: list[bytes] = []
    size = 0
    try:
        for raw in response.iter_raw():
            if time.monotonic() > deadline:
                raise FetchError(f"{url}: body not received within {timeout:g}s", kind="timeout")
            pieces = [raw] if decoder is None else _bounded(decoder, raw, max_bytes - size + 1)
            for piece in pieces:
                size += len(piece)
                if size > max_bytes:
                    raise FetchError(f"{url}: body larger than {max_bytes} bytes", retryable=False, kind="too_large")
                chunks.append(piece)
    except httpx.TimeoutException:
        raise FetchError(f"{url}: body not received within {timeout:g}s", kind="timeout") from None
    except (httpx.HTTPError, zlib.error) as e:
        raise FetchError(f"{url}: {_reason(e)}") from None
    return b"".join(chunks)


def _bounded(decoder: Any, data: bytes, limit: int) -> list[bytes]:
    """Decompress without ever producing more than `limit` (+1 chunk) bytes at once."""
    out = [decoder.decompress(data, max(1, limit))]
    produced = len(out[0])
    while decoder.unconsumed_tail and produced <= limit:
        piece = decoder.decompress(decoder.unconsumed_tail, max(1, limit - produced + 1))
        out.append(piece)
        produced += len(piece)
    return out


class _Deflate:
    """'deflate' is zlib-wrapped by the spec and raw deflate in practice: try the one, then the other."""

    def __init__(self) -> None:
        self._obj: Any = None
        self.unconsumed_tail = b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._obj is None:
            self._obj = zlib.decompressobj()
            try:
                out = self._obj.decompress(data, max_length)
            except zlib.error:
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._obj.decompress(data, max_length)
        else:
            out = self._obj.decompress(data, max_length)
        self.unconsumed_tail = self._obj.unconsumed_tail
        return out


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC).timestamp()
    return max(0.0, when.timestamp() - current)


def _reason(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return text.splitlines()[0][:300]
