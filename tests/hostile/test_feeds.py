"""Hostile feeds and servers: every failure is that feed's alone, within one deadline and the address policy."""

from __future__ import annotations

import ipaddress
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import run_measured, write
from tests.feedserver import feed_server
from watcher.errors import FetchError
from watcher.sources.fetch import address_allowed, fetch, make_client

RULES = "rules:\n  - id: shells\n    title: Shells\n    match: [artillery shells]\n"
GOOD = b'<rss version="2.0"><channel><item><guid>g1</guid><title>artillery shells</title></item></channel></rss>'


def config(tmp_path: Path, feeds: dict[str, str], http: str = "allow_private_addresses: true, timeout: 3s") -> Path:
    write(tmp_path / "rules" / "r.yaml", RULES)
    lines = "".join(f"  - {{url: '{url}', name: {name}, interval: 60}}\n" for name, url in feeds.items())
    feeds_yaml = f"feeds:\n{lines}" if lines else ""
    return write(tmp_path / "watcher.yaml", f"database: w.db\nrules: rules\nseeds: []\nhttp: {{{http}}}\n{feeds_yaml}")


def watcher(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watcher", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_one_feeds_failure_never_aborts_the_poll(tmp_path: Path) -> None:
    with feed_server() as srv:
        feeds = {
            "good": srv.static("/good", GOOD),
            "badlocation": srv.static("/bad", b"", status=302, headers={"Location": "http://[oops/x"}),
            "deepjson": srv.static(
                "/deep",
                b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                headers={"Content-Type": "application/feed+json"},
            ),
        }
        cfg = config(tmp_path, feeds)
        proc = watcher("poll", "--once", "--config", str(cfg))
    assert proc.returncode == 1, proc.stderr  # two feeds failed
    assert "Traceback" not in proc.stderr
    failed = dict(line.split(": ", 2)[1:] for line in proc.stdout.splitlines() if line.startswith("failed: "))
    assert set(failed) == {"badlocation (" + feeds["badlocation"] + ")", "deepjson (" + feeds["deepjson"] + ")"}
    assert "redirect to an invalid URL" in proc.stdout and "nested too deeply to parse" in proc.stdout
    with sqlite3.connect(tmp_path / "w.db") as db:
        assert db.execute("SELECT guid FROM items").fetchall() == [("g1",)]
        failures = dict(db.execute("SELECT name, failures FROM feeds").fetchall())
    assert failures == {"good": 0, "badlocation": 1, "deepjson": 1}


@pytest.mark.parametrize("url", ["http://0177.0.0.1/feed", "http://[oops/x", "http://example.org:99999/"])
def test_a_url_httpx_cannot_request_is_refused_by_config_check_and_feeds_add(tmp_path: Path, url: str) -> None:
    cfg = config(tmp_path, {"odd": url})
    check = watcher("config", "check", "--config", str(cfg))
    assert check.returncode == 1
    assert f"{cfg}:6 feeds[0].url: not a valid URL" in check.stdout
    ok = config(tmp_path / "ok", {})
    add = watcher("feeds", "add", "--config", str(ok), url)
    assert add.returncode == 1 and "not a valid URL" in add.stderr and "Traceback" not in add.stderr


@contextmanager
def header_dripper() -> Iterator[int]:
    """A server that sends its status line, then one header line a second, forever."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(1000)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                for i in range(60):
                    if stop.is_set():
                        break
                    try:
                        conn.sendall(f"X-Drip-{i}: 1\r\n".encode())
                    except OSError:
                        break
                    time.sleep(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def test_headers_dripping_a_line_a_second_cannot_outlive_the_deadline() -> None:
    with header_dripper() as port, make_client(allow_private_addresses=True) as client:
        started = time.monotonic()
        with pytest.raises(FetchError, match="no answer within 2s"):
            fetch(client, f"http://127.0.0.1:{port}/feed", timeout=2, max_bytes=10_000)
        assert time.monotonic() - started < 3.5


@pytest.mark.parametrize(
    "address",
    [
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:10.0.0.1",  # IPv4-mapped
        "64:ff9b::127.0.0.1",  # NAT64 of loopback
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::a00:1",  # local-use NAT64
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "fd00::1",  # unique local
        "fe80::1",  # link-local
    ],
)
def test_ipv6_forms_of_private_addresses_are_refused(address: str) -> None:
    assert not address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8"])
def test_ipv6_forms_of_public_addresses_stay_allowed(address: str) -> None:
    assert address_allowed(ipaddress.ip_address(address))


def test_a_fetch_to_mapped_loopback_is_refused_by_the_guard() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    with feed_server() as srv, make_client(allow_private_addresses=False) as client:
        with pytest.raises(
            FetchError, match=r"refused: ::ffff:127\.0\.0\.1 resolves to ::ffff:7f00:1, a private or reserved address"
        ):
            fetch(client, f"http://[::ffff:127.0.0.1]:{srv.port}/f", timeout=5, max_bytes=100)
        assert srv.hits == {}


def big_feed(megabytes: int) -> bytes:
    body = b'<rss version="2.0"><channel><item><guid>big</guid><description>'
    body += b"artillery shells and more words " * (megabytes * 2**20 // 32)
    return body + b"</description></item></channel></rss>"


def test_a_50_mb_entry_fails_alone_in_its_worker_with_memory_bounded(tmp_path: Path) -> None:
    with feed_server() as srv:
        feeds = {"big": srv.static("/big", big_feed(50)), "good": srv.static("/good", GOOD)}
        cfg = config(tmp_path, feeds, http="allow_private_addresses: true, max_bytes: 60000000")
        done = run_measured([sys.executable, "-m", "watcher", "poll", "--once", "--config", str(cfg)], timeout=120)
    assert done.returncode == 1, done.stderr  # the big feed failed
    assert "failed: big" in done.stdout and "parsing needed more than 512 MB" in done.stdout
    # The poll process and its parse workers together, at their peak.
    assert done.peak_mb < 700, done.peak_mb
    with sqlite3.connect(tmp_path / "w.db") as db:
        assert db.execute("SELECT guid FROM items").fetchall() == [("g1",)]


def test_an_8_mb_entry_is_cut_to_a_million_characters(tmp_path: Path) -> None:
    with feed_server() as srv:
        cfg = config(tmp_path, {"big": srv.static("/big", big_feed(8))}, http="allow_private_addresses: true")
        done = run_measured([sys.executable, "-m", "watcher", "poll", "--once", "--config", str(cfg)], timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 items cut to 1000000 characters a field" in done.stderr
    with sqlite3.connect(tmp_path / "w.db") as db:
        [(size,)] = db.execute("SELECT length(summary) FROM items WHERE guid = 'big'").fetchall()
    assert size == 1_000_000
