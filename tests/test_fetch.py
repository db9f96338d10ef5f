from __future__ import annotations

import gzip
import ipaddress
import time
import zlib

import httpx
import pytest

from tests.feedserver import drip, endless, feed_server
from watcher.errors import FetchError
from watcher.sources.fetch import USER_AGENT, GuardedTransport, address_allowed, fetch, make_client, parse_retry_after

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><guid>1</guid><title>One</title></item>'
    b"</channel></rss>"
)


@pytest.fixture
def client():
    c = make_client(allow_private_addresses=True)
    yield c
    c.close()


def test_fetch_sends_user_agent_and_conditional_headers(client) -> None:
    with feed_server() as srv:
        url = srv.static("/f", RSS, headers={"ETag": '"v1"', "Last-Modified": "Mon, 04 Nov 2024 08:00:00 GMT"})
        first = fetch(client, url, timeout=5, max_bytes=10_000)
        assert (first.status, first.body, first.etag) == (200, RSS, '"v1"')
        fetch(client, url, timeout=5, max_bytes=10_000, etag=first.etag, last_modified=first.last_modified)
        seen = srv.headers_seen["/f"]
        assert seen["user-agent"] == USER_AGENT and "watcher/" in USER_AGENT
        assert seen["if-none-match"] == '"v1"' and seen["if-modified-since"] == "Mon, 04 Nov 2024 08:00:00 GMT"


def test_304_has_no_body(client) -> None:
    with feed_server() as srv:
        url = srv.static("/f", b"", status=304)
        assert fetch(client, url, timeout=5, max_bytes=100).not_modified


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_is_reported(client, status: int) -> None:
    with feed_server() as srv:
        new = srv.static("/new", RSS)
        old = srv.static("/old", b"", status=status, headers={"Location": "/new"})
        result = fetch(client, old, timeout=5, max_bytes=10_000)
        assert (result.status, result.url, result.permanent_url) == (200, new, new)


def test_temporary_redirect_is_not_permanent(client) -> None:
    with feed_server() as srv:
        srv.static("/new", RSS)
        old = srv.static("/old", b"", status=302, headers={"Location": "/new"})
        assert fetch(client, old, timeout=5, max_bytes=10_000).permanent_url is None


def test_redirect_loop_stops(client) -> None:
    with feed_server() as srv:
        srv.static("/a", b"", status=302, headers={"Location": "/b"})
        url = srv.static("/b", b"", status=302, headers={"Location": "/a"})
        with pytest.raises(FetchError, match="more than 5 redirects") as info:
            fetch(client, url, timeout=5, max_bytes=100)
        assert (info.value.retryable, info.value.kind) == (False, "redirects")


def test_redirect_to_another_scheme_is_refused(client) -> None:
    with feed_server() as srv:
        url = srv.static("/a", b"", status=302, headers={"Location": "file:///etc/passwd"})
        with pytest.raises(FetchError, match="only http and https"):
            fetch(client, url, timeout=5, max_bytes=100)


def test_gzip_bomb_stops_at_the_cap(client) -> None:
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    with feed_server() as srv:
        url = srv.static("/bomb", bomb, headers={"Content-Encoding": "gzip"})
        with pytest.raises(FetchError, match="larger than 1000000 bytes") as info:
            fetch(client, url, timeout=10, max_bytes=1_000_000)
        assert info.value.kind == "too_large"


@pytest.mark.parametrize("compress", [zlib.compress, lambda d: zlib.compress(d)[2:-4]])
def test_deflate_both_forms(client, compress) -> None:
    with feed_server() as srv:
        url = srv.static("/d", compress(RSS), headers={"Content-Encoding": "deflate"})
        assert fetch(client, url, timeout=5, max_bytes=10_000).body == RSS


def test_gzip_body_is_decoded(client) -> None:
    with feed_server() as srv:
        url = srv.static("/g", gzip.compress(RSS), headers={"Content-Encoding": "gzip"})
        assert fetch(client, url, timeout=5, max_bytes=10_000).body == RSS


def test_endless_body_stops_at_the_cap(client) -> None:
    with feed_server() as srv:
        url = srv.route("/endless", endless)
        with pytest.raises(FetchError, match="larger than"):
            fetch(client, url, timeout=10, max_bytes=2_000_000)


def test_one_byte_a_second_cannot_outlive_the_deadline(client) -> None:
    with feed_server() as srv:
        url = srv.route("/drip", drip)
        started = time.monotonic()
        with pytest.raises(FetchError, match="within 2s") as info:
            fetch(client, url, timeout=2, max_bytes=10_000)
        assert time.monotonic() - started < 4
        assert info.value.kind == "timeout"


def test_unreachable_server_is_a_retryable_error(client) -> None:
    with pytest.raises(FetchError) as info:
        fetch(client, "http://127.0.0.1:9/feed", timeout=2, max_bytes=100)
    assert (info.value.retryable, info.value.kind) == (True, "fetch_failed")


# the address policy ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address under test, not a bind
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
        "240.0.0.1",
    ],
)
def test_private_and_reserved_addresses_are_refused(address: str) -> None:
    assert not address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_allowed(ipaddress.ip_address(address))


def test_default_client_refuses_loopback() -> None:
    with feed_server() as srv, make_client(allow_private_addresses=False) as client:
        for url in (srv.static("/f", RSS), f"http://localhost:{srv.port}/f"):
            with pytest.raises(FetchError, match="refused: .* private or reserved") as info:
                fetch(client, url, timeout=5, max_bytes=10_000)
            assert (info.value.retryable, info.value.kind) == (False, "refused")
        assert srv.hits == {}


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data/", "http://[::1]:{port}/f", "http://10.0.0.1/"]
)
def test_redirect_to_a_private_address_is_refused_on_that_hop(target: str) -> None:
    only_this_test_server = ipaddress.ip_address("127.0.0.1")
    transport = GuardedTransport(allowed=lambda ip: ip == only_this_test_server or address_allowed(ip))
    with feed_server() as srv, httpx.Client(transport=transport, follow_redirects=False) as client:
        url = srv.static("/r", b"", status=302, headers={"Location": target.format(port=srv.port)})
        with pytest.raises(FetchError, match=r"refused: .* a private or reserved address"):
            fetch(client, url, timeout=5, max_bytes=100)
        assert srv.hits == {"/r": 1}


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert parse_retry_after("soon") is None


def test_a_name_resolving_to_a_public_and_a_private_address_is_refused(monkeypatch) -> None:
    # DNS cannot be served here: the resolver alone is replaced, the guard and the client are real.
    import socket

    def resolve(host: str, port: int, *args, **kwargs):  # type: ignore[no-untyped-def]
        assert host == "mixed.example"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    guard = r"refused: mixed\.example resolves to 10\.0\.0\.7, a private or reserved"
    with make_client(allow_private_addresses=False) as client, pytest.raises(FetchError, match=guard):
        fetch(client, "http://mixed.example/feed", timeout=5, max_bytes=100)


def test_one_redirect_over_the_limit_is_refused(client) -> None:
    with feed_server() as srv:
        for i in range(6):
            srv.static(f"/r{i}", b"", status=302, headers={"Location": f"/r{i + 1}"})
        srv.static("/r6", RSS)
        with pytest.raises(FetchError, match="more than 5 redirects"):
            fetch(client, srv.url("/r0"), timeout=5, max_bytes=10_000)
        # Five hops are fine.
        assert fetch(client, srv.url("/r1"), timeout=5, max_bytes=10_000).body == RSS


def test_body_cap_is_exact(client) -> None:
    with feed_server() as srv:
        srv.static("/exact", b"x" * 1000)
        assert len(fetch(client, srv.url("/exact"), timeout=5, max_bytes=1000).body) == 1000
        with pytest.raises(FetchError, match="body larger than 999 bytes"):
            fetch(client, srv.url("/exact"), timeout=5, max_bytes=999)
        srv.static("/gz", gzip.compress(b"y" * 1000), headers={"Content-Encoding": "gzip"})
        assert len(fetch(client, srv.url("/gz"), timeout=5, max_bytes=1000).body) == 1000
        with pytest.raises(FetchError, match="body larger than 999 bytes"):
            fetch(client, srv.url("/gz"), timeout=5, max_bytes=999)


def test_one_deadline_across_redirects(client) -> None:
    def slow_redirect(h) -> None:  # type: ignore[no-untyped-def]
        time.sleep(0.8)
        h.send_response(302)
        h.send_header("Location", "/slow")
        h.send_header("Content-Length", "0")
        h.end_headers()

    with feed_server() as srv:
        srv.route("/slow", slow_redirect)
        started = time.monotonic()
        with pytest.raises(FetchError, match="no answer within 2s") as info:
            fetch(client, srv.url("/slow"), timeout=2, max_bytes=100)
        assert info.value.kind == "timeout"
        # Three hops of 0.8 s each would be 2.4 s: the deadline is the fetch's, not each hop's.
        assert time.monotonic() - started < 2.6
