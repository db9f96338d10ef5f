"""Several `watcher run` processes sharing one PostgreSQL database: three daemons, 200 feeds on 127.0.0.1 with
entries appearing as they run, one daemon SIGKILLed and another stopped with SIGTERM. Every feed is polled,
every matching entry reaches the receiver exactly once (a killed process may repeat at most one send), nothing
stays pending, and no feed is fetched twice within one interval."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from tests.conftest import postgres_schema, write
from tests.daemonproc import daemon, wait_for
from tests.feedserver import feed_server
from tests.servers import receiver
from watcher.backfill import load_engine
from watcher.config import load_config
from watcher.delivery.deliver import Dispatcher, enqueue_alerts
from watcher.delivery.outbox import Outbox
from watcher.errors import DatabaseUnavailable
from watcher.items.model import Item
from watcher.pipeline import Pipeline
from watcher.store.open import open_store
from watcher.store.sqlite import PENDING

FEEDS = 200
RULE = "rules:\n  - id: shells\n    title: Shells\n    match: [artillery shells]\n"
INTERVAL = 5.0


class Feeds:
    """200 feeds whose entries grow while the daemons run; every fetch recorded with its time."""

    def __init__(self) -> None:
        self.entries: dict[int, list[str]] = {
            n: [f"f{n}-e0 artillery shells", f"f{n}-e1 weather"] for n in range(FEEDS)
        }
        self.fetches: dict[int, list[float]] = {n: [] for n in range(FEEDS)}
        self.lock = threading.Lock()
        self.rng = random.Random(5)

    def handler(self, n: int):
        def serve(h: BaseHTTPRequestHandler) -> None:
            with self.lock:
                self.fetches[n].append(time.monotonic())
                titles = list(self.entries[n])
            items = "".join(f"<item><guid>{t}</guid><title>{t}</title></item>" for t in titles)
            body = f'<rss version="2.0"><channel><title>F{n}</title>{items}</channel></rss>'.encode()
            h.send_response(200)
            h.send_header("Content-Type", "application/rss+xml")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)

        return serve

    def add(self) -> None:
        """A new entry in a random feed: every other one matches the rule."""
        n = self.rng.randrange(FEEDS)
        with self.lock:
            k = len(self.entries[n])
            self.entries[n].append(f"f{n}-e{k} " + ("artillery shells" if k % 2 == 0 else "weather"))

    def matching(self) -> set[str]:
        with self.lock:
            return {t for titles in self.entries.values() for t in titles if "artillery" in t}


def test_three_daemons_share_the_feeds_and_send_each_alert_once(tmp_path: Path) -> None:
    feeds = Feeds()
    with postgres_schema() as (url, _), feed_server() as srv, receiver() as hook:
        lines = [
            f"  - {{url: '{srv.route(f'/f/{n}', feeds.handler(n))}', name: f{n}, interval: {INTERVAL:g}s, "
            "alert_existing: true}"
            for n in range(FEEDS)
        ]
        write(
            tmp_path / "rules" / "r.yaml", "rules:\n  - id: shells\n    title: Shells\n    match: [artillery shells]\n"
        )
        cfg = write(
            tmp_path / "watcher.yaml",
            f"database: '{url}'\nrules: rules\nseeds: []\nfeeds:\n"
            + "\n".join(lines)
            + f"\nnotify:\n  - {{url: '{hook.url}', name: hook}}\n"
            "http: {allow_private_addresses: true, timeout: 5s}\n"
            "delivery: {flood_threshold: 1000}\n"
            "daemon: {grace_period: 10s, deliver_interval: 1s, lease: 4s}\n",
        )
        env = {"PYTHONUNBUFFERED": "1"}
        # Unmeasured by coverage: three traced daemons polling 200 feeds would take minutes of CI's two cores
        # (the outage test below and the store's tests measure the same code).
        three = [daemon(cfg, env, measured=False) for _ in range(3)]
        with three[0] as a, three[1] as b, three[2] as c:
            for d in (a, b, c):
                wait_for(lambda d=d: "running:" in d.log(), timeout=120, what=f"start: {d.log()[-3000:]}")

            def grow(seconds: float) -> None:
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    feeds.add()
                    time.sleep(0.2)

            grow(8)
            os.kill(a.proc.pid, signal.SIGKILL)  # mid-run: its leases and claims are left behind
            grow(8)
            b.proc.send_signal(signal.SIGTERM)
            assert b.proc.wait(timeout=30) == 0, b.log()[-2000:]
            grow(8)
            expected = feeds.matching()

            def arrived() -> bool:
                return expected <= {m["title"].split(": ", 1)[1] for m in hook.messages()}

            wait_for(arrived, timeout=120, what="every matching entry at the receiver")
            wait_for(lambda: _waiting(url) == 0, timeout=60, what="an empty outbox")
            assert "Traceback" not in c.log(), c.log()[-3000:]

        sent = Counter(m["title"].split(": ", 1)[1] for m in hook.messages())
        assert set(sent) == expected
        repeated = {t: n for t, n in sent.items() if n > 1}
        assert sum(n - 1 for n in repeated.values()) <= 1, repeated  # one killed process: one repeat at most
        assert all(feeds.fetches[n] for n in range(FEEDS)), "a feed was never polled"
        # Never two processes on one feed in one interval: consecutive fetches are most of an interval apart
        # (a poll may run a second early; a feed taken over after the kill waits for its lease).
        gaps = [b - a for times in feeds.fetches.values() for a, b in zip(times, times[1:], strict=False)]
        assert min(gaps) > INTERVAL / 2, sorted(gaps)[:5]
        with psycopg.connect(url) as conn:
            polled = conn.execute("SELECT count(*) FROM feeds WHERE last_success_at IS NOT NULL").fetchone()
            assert polled == (FEEDS,)


def _waiting(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM outbox WHERE state != 'sent') + (SELECT count(*) FROM alerts "
            "WHERE state = 'pending' AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.alert_id = alerts.id))"
        ).fetchone()
        return int(row[0]) if row else -1


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of the PostgreSQL server, that a test can cut and restore: the
    database going away and coming back, as a daemon sees it."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = 0
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        self.listen()

    def listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        assert self.listener is not None
        # Shut down before closing: a close alone leaves the accept blocked in its thread holding the socket,
        # and the next connection would still be let through.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.sockets.clear()


@contextlib.contextmanager
def proxied_postgres() -> Iterator[tuple[str, Proxy]]:
    """A fresh schema reached through a Proxy that a test can cut: (the URL through the proxy, the proxy)."""
    with postgres_schema() as (url, _):
        split = urlsplit(url)
        proxy = Proxy((split.hostname or "127.0.0.1", split.port or 5432))
        try:
            yield url.replace(f"{split.hostname}:{split.port or 5432}", f"127.0.0.1:{proxy.port}", 1), proxy
        finally:
            proxy.cut()


def test_a_daemon_rides_out_a_database_outage(tmp_path: Path) -> None:
    entries = ["e0 artillery shells"]

    def feed(h: BaseHTTPRequestHandler) -> None:
        items = "".join(f"<item><guid>{t}</guid><title>{t}</title></item>" for t in entries)
        body = f'<rss version="2.0"><channel><title>F</title>{items}</channel></rss>'.encode()
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    with proxied_postgres() as (proxied, proxy), feed_server() as srv, receiver() as hook:
        write(tmp_path / "rules" / "r.yaml", RULE)
        cfg = write(
            tmp_path / "watcher.yaml",
            f"database: '{proxied}'\nrules: rules\nseeds: []\n"
            f"feeds:\n  - {{url: '{srv.route('/f', feed)}', name: f, interval: 1s, alert_existing: true}}\n"
            f"notify:\n  - {{url: '{hook.url}', name: hook}}\nserver: {{listen: '127.0.0.1:0'}}\n"
            "http: {allow_private_addresses: true, timeout: 3s}\n"
            "daemon: {grace_period: 5s, deliver_interval: 1s, lease: 3s}\n",
        )

        def titles() -> list[str]:
            return [m["title"].split(": ", 1)[1] for m in hook.messages()]

        def health() -> int:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code
            except httpx.HTTPError:
                return 0

        with daemon(cfg, {"PYTHONUNBUFFERED": "1"}) as d:
            port = d.health_port()
            wait_for(lambda: titles() == ["e0 artillery shells"], timeout=30, what="the first alert")
            proxy.cut()
            entries.append("e1 artillery shells")
            wait_for(lambda: health() == 503, timeout=30, what="/healthz unhealthy")
            assert "polls paused until it answers again" in d.log()
            assert f"PostgreSQL database test on 127.0.0.1:{proxy.port}: " in d.log()
            proxy.listen()
            wait_for(lambda: "the database answers again" in d.log(), timeout=90, what="the database back")
            wait_for(lambda: titles() == ["e0 artillery shells", "e1 artillery shells"], timeout=30, what="e1")
            wait_for(lambda: health() == 200, timeout=30, what="/healthz healthy")
            assert d.log().count("polls paused") == 1, d.log()


def test_a_send_whose_record_the_database_missed_is_recorded_not_sent_again(tmp_path: Path) -> None:
    """The database goes away between a target accepting a message and the outbox recording it: the
    dispatcher keeps the send in mind and records it when the database answers, instead of sending again."""
    with proxied_postgres() as (proxied, proxy), receiver() as hook:
        write(tmp_path / "rules" / "r.yaml", RULE)
        cfg = write(
            tmp_path / "watcher.yaml",
            f"database: '{proxied}'\nrules: rules\nseeds: []\nnotify:\n  - {{url: '{hook.url}', name: hook}}\n",
        )
        config = load_config(cfg, env={})
        engine = load_engine(config)
        store = open_store(config.database)
        item = Item(source="docs", guid="a", title="A", content="Artillery shells arrived.")
        Pipeline(store, engine, on_alert=enqueue_alerts(Outbox(config.notify))).ingest([item], alert_state=PENDING)
        dispatcher = Dispatcher(store, config, rules={r.id: r for r in engine.ruleset.rules})
        hook.on_receive = proxy.cut
        with pytest.raises(DatabaseUnavailable):
            dispatcher.drain()
        hook.on_receive = None
        proxy.listen()
        stats = dispatcher.drain()
        assert len(hook.messages()) == 1
        assert stats.sent == 1  # counted once, when it is recorded
        assert [r["state"] for r in store.query("SELECT state FROM outbox")] == ["sent"]
        store.close()
