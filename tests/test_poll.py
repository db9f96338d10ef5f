from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import database_line, run_measured, store_of, write
from tests.feedserver import FeedServer, drip, endless, feed_server
from tests.servers import receiver
from watcher.backfill import load_engine
from watcher.cli import main
from watcher.config import load_config
from watcher.poll import poll_once
from watcher.sources.sandbox import ParsePool
from watcher.store.feeds import get_feed, sync
from watcher.store.open import open_store
from watcher.store.processes import claim_feed, register

RULES = "rules:\n  - id: shells\n    title: Shells\n    match: [artillery shells]\n"

# Each test on SQLite, and on PostgreSQL where WATCHER_TEST_POSTGRES is set.
pytestmark = pytest.mark.usefixtures("on_each_database")


def rss(*entries: tuple[str, str]) -> bytes:
    items = "".join(
        f"<item><guid>{g}</guid><title>{t}</title><description>{t}</description></item>" for g, t in entries
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()


ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
<id>urn:a</id><updated>2024-11-06T12:00:00Z</updated><entry><title>Atom artillery shells</title><id>urn:a:1</id>
<updated>2024-11-06T12:00:00Z</updated><link href="https://example.org/a1"/></entry></feed>"""
JSONFEED = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [
{"id": "j1", "title": "JSON artillery shells", "content_text": "text", "url": "https://example.org/j1"}]}"""


def setup(tmp_path: Path, feeds: list[tuple[str, str]], notify: str = "", extra: str = "") -> Path:
    write(tmp_path / "rules" / "r.yaml", RULES)
    lines = "".join(f"  - {{url: '{url}', name: {name}, interval: 60}}\n" for name, url in feeds)
    return write(
        tmp_path / "watcher.yaml",
        f"{database_line(tmp_path)}rules: rules\nseeds: []\nhttp: {{allow_private_addresses: true, timeout: 3s}}\n"
        f"feeds:\n{lines}{notify}{extra}",
    )


def poll(cfg: Path, *, force: bool = True) -> dict[str, object]:
    """One poll --once; forced, since these tests poll a failing feed again at once."""
    config = load_config(cfg, env={})
    store = open_store(config.database)
    try:
        sync(store, config)
        with ParsePool(deadline=10) as pool:
            results = poll_once(config, store, load_engine(config), pool, force=force)
        return {r.name: r for r in results}
    finally:
        store.close()


def rows(cfg: Path, sql: str) -> list[tuple]:
    with store_of(cfg.parent) as store:
        return [tuple(r) for r in store.conn.execute(sql).fetchall()]


def state(cfg: Path, name: str):
    store = store_of(cfg.parent)
    try:
        return get_feed(store, name)
    finally:
        store.close()


def test_first_poll_records_without_sending_then_new_entries_alert(tmp_path: Path) -> None:
    with feed_server() as srv, receiver() as hook:
        url = srv.static("/rss", rss(("1", "Old artillery shells story")))
        cfg = setup(tmp_path, [("news", url)], notify=f"notify:\n  - url: {hook.url}\n")
        result = poll(cfg)["news"]
        assert (result.ok, result.new, result.alerts) == (True, 1, 1)
        assert rows(cfg, "SELECT state FROM alerts") == [("suppressed",)]
        assert hook.messages() == []
        srv.static("/rss", rss(("1", "Old artillery shells story"), ("2", "New artillery shells story")))
        result = poll(cfg)["news"]
        assert (result.new, result.alerts) == (1, 1)
        assert [m["title"] for m in hook.messages()] == ["[MEDIUM] Shells: New artillery shells story"]
        assert state(cfg, "news").items_seen == 2


def test_alert_existing_sends_on_first_poll(tmp_path: Path) -> None:
    with feed_server() as srv, receiver() as hook:
        url = srv.static("/rss", rss(("1", "artillery shells")))
        cfg = setup(tmp_path, [("news", url)], notify=f"notify:\n  - url: {hook.url}\n")
        write(cfg, cfg.read_text().replace("interval: 60}", "interval: 60, alert_existing: true}"))
        poll(cfg)
        assert len(hook.messages()) == 1


def test_atom_and_json_feed(tmp_path: Path) -> None:
    with feed_server() as srv:
        a = srv.static("/atom", ATOM, headers={"Content-Type": "application/atom+xml"})
        j = srv.static("/json", JSONFEED, headers={"Content-Type": "application/feed+json"})
        cfg = setup(tmp_path, [("atom", a), ("json", j)])
        results = poll(cfg)
        assert results["atom"].new == 1 and results["json"].new == 1
        assert sorted(rows(cfg, "SELECT guid, title FROM items")) == [
            ("j1", "JSON artillery shells"),
            ("urn:a:1", "Atom artillery shells"),
        ]


def test_entries_sharing_a_guid_are_all_kept_and_stable_across_polls(tmp_path: Path) -> None:
    with feed_server() as srv:
        # First the entry alone, as it was stored before a namesake appeared.
        url = srv.static("/rss", rss(("1", "a"), ("2", "b")))
        cfg = setup(tmp_path, [("news", url)])
        assert poll(cfg)["news"].new == 2
        # A different entry under the same guid, and an exact repeat: one new item, the repeat is nothing.
        srv.static("/rss", rss(("1", "a again"), ("1", "a"), ("1", "a"), ("2", "b")))
        assert poll(cfg)["news"].new == 1
        assert poll(cfg)["news"].new == 0
        titles = sorted(r[0] for r in rows(cfg, "SELECT title FROM items"))
        assert titles == ["a", "a again", "b"]
        # The namesake gone again: the first entry is still the stored one, not new.
        srv.static("/rss", rss(("1", "a"), ("2", "b")))
        assert poll(cfg)["news"].new == 0


def test_fifteen_entries_without_guid_on_one_link_are_fifteen_items(tmp_path: Path) -> None:
    entries = "".join(
        f"<item><title>Update {i}</title><link>https://example.org/live</link><description>{i}</description></item>"
        for i in range(15)
    )
    with feed_server() as srv:
        url = srv.static("/rss", f'<rss version="2.0"><channel><title>T</title>{entries}</channel></rss>'.encode())
        cfg = setup(tmp_path, [("news", url)])
        assert poll(cfg)["news"].new == 15
        assert poll(cfg)["news"].new == 0


def test_conditional_get_and_304(tmp_path: Path) -> None:
    body = rss(("1", "one"))

    def handler(h) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            h.send_response(304)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        h.send_response(200)
        h.send_header("ETag", '"v1"')
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    with feed_server() as srv:
        cfg = setup(tmp_path, [("news", srv.route("/rss", handler))])
        poll(cfg)
        assert state(cfg, "news").etag == '"v1"'
        result = poll(cfg)["news"]
        assert (result.ok, result.status) == (True, "not modified")
        assert state(cfg, "news").last_status == "304 not modified"


def test_permanent_redirect_updates_the_stored_url(tmp_path: Path) -> None:
    with feed_server() as srv:
        new = srv.static("/new", rss(("1", "one")))
        old = srv.static("/old", b"", status=301, headers={"Location": "/new", "Content-Length": "0"})
        cfg = setup(tmp_path, [("news", old)])
        poll(cfg)
        assert state(cfg, "news").current_url == new
        poll(cfg)
        assert srv.hits == {"/old": 1, "/new": 2}


def test_gone_disables_the_feed_and_says_so_once(tmp_path: Path) -> None:
    with feed_server() as srv, receiver() as ops:
        url = srv.static("/gone", b"", status=410)
        cfg = setup(tmp_path, [("news", url)], notify=f"notify:\n  - url: {ops.url}\n    tags: [ops]\n")
        assert poll(cfg)["news"].status == "gone"
        assert "news" not in poll(cfg)
        assert srv.hits == {"/gone": 1}
        assert state(cfg, "news").disabled_reason.startswith("410 Gone")
        assert len([m for m in ops.messages() if "gone" in m["message"]]) == 1
        out = CliRunner().invoke(main, ["feeds", "list", "--config", str(cfg)]).output
        assert "news  [disabled]" in out


def test_429_honours_retry_after(tmp_path: Path) -> None:
    with feed_server() as srv:
        url = srv.static("/busy", b"", status=429, headers={"Retry-After": "600"})
        cfg = setup(tmp_path, [("news", url)])
        before = datetime.now(UTC)
        poll(cfg)
        next_poll = datetime.fromisoformat(state(cfg, "news").next_poll_at)
        assert before + timedelta(seconds=595) <= next_poll <= before + timedelta(seconds=610)


def test_failures_back_off_and_broken_is_reported_once_then_recovery(tmp_path: Path) -> None:
    with feed_server() as srv, receiver() as ops:
        url = srv.static("/rss", b"oops", status=500)
        cfg = setup(tmp_path, [("news", url)], notify=f"notify:\n  - url: {ops.url}\n    tags: [ops]\n")
        delays = []
        for _ in range(5):
            before = datetime.now(UTC)
            assert poll(cfg)["news"].ok is False
            s = state(cfg, "news")
            delays.append((datetime.fromisoformat(s.next_poll_at) - before).total_seconds())
        assert s.failures == 5 and s.health == "broken"
        assert delays[0] < delays[1] < delays[2] < delays[3]
        assert len([m for m in ops.messages() if "broken" in m["message"]]) == 1
        srv.static("/rss", rss(("1", "one")))
        assert poll(cfg)["news"].ok
        assert len([m for m in ops.messages() if "works again" in m["message"]]) == 1
        assert state(cfg, "news").failures == 0


def test_failed_fetch_changes_nothing_seen(tmp_path: Path) -> None:
    with feed_server() as srv:
        url = srv.static("/rss", rss(("1", "one")), headers={"ETag": '"a"'})
        cfg = setup(tmp_path, [("news", url)])
        poll(cfg)
        srv.static("/rss", b"<html><body>maintenance</body></html>", headers={"Content-Type": "text/html"})
        result = poll(cfg)["news"]
        assert not result.ok and "not a feed" in result.error
        s = state(cfg, "news")
        assert (s.etag, s.items_seen) == ('"a"', 1)
        assert rows(cfg, "SELECT count(*) FROM items") == [(1,)]


@pytest.mark.parametrize("body", [b"", b"   \n", b"<html><head><title>x</title></head><body><p>Hi</p></body></html>"])
def test_not_a_feed(tmp_path: Path, body: bytes) -> None:
    with feed_server() as srv:
        cfg = setup(tmp_path, [("news", srv.static("/x", body))])
        result = poll(cfg)["news"]
        assert not result.ok and "not a feed" in result.error


def test_flood_guard_sends_one_digest_and_a_warning(tmp_path: Path) -> None:
    with feed_server() as srv, receiver() as hook, receiver() as ops:
        url = srv.static("/rss", rss(("0", "calm")))
        cfg = setup(
            tmp_path,
            [("news", url)],
            notify=f"notify:\n  - url: {hook.url}\n  - url: {ops.url}\n    tags: [ops]\n    name: ops\n",
            extra="delivery: {flood_threshold: 5}\n",
        )
        poll(cfg)
        srv.static("/rss", rss(*[(f"n{i}", f"artillery shells {i}") for i in range(12)]))
        poll(cfg)
        assert len(hook.messages()) == 1
        assert "(+11 more)" in hook.messages()[0]["title"]
        assert "Flood guard: 12 alerts" in hook.messages()[0]["message"]
        assert any("12 alerts in one poll" in m["message"] for m in ops.messages())


# every hostile feed at once -----------------------------------------------------------------------------

LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(b'<!ENTITY %c "%s">' % (98 + i, (b"&%c;" % (97 + i)) * 10) for i in range(9))
    + b']><rss version="2.0"><channel><item><guid>l</guid><title>&j;</title></item></channel></rss>'
)
ENTITY_10K = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY big "' + b"B" * 3000 + b'">]>\n<rss version="2.0"><channel>'
    b"<item><guid>e</guid><description>" + b"&big;" * 10_000 + b"</description></item></channel></rss>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><rss version="2.0">'
    b"<channel><item><guid>x</guid><title>&xxe;</title><description>&xxe;</description></item></channel></rss>"
)


def hostile(srv: FeedServer) -> list[tuple[str, str]]:
    return [
        ("good", srv.static("/good", rss(("g", "artillery shells")))),
        ("atom", srv.static("/atom", ATOM)),
        ("json", srv.static("/json", JSONFEED, headers={"Content-Type": "application/feed+json"})),
        ("not-modified", srv.static("/304", b"", status=304)),
        ("moved", srv.static("/301", b"", status=301, headers={"Location": "/good"})),
        ("gone", srv.static("/410", b"", status=410)),
        # On a host name of its own: a host that answers 429 with Retry-After is left alone, all its feeds.
        ("busy", srv.static("/429", b"", status=429, headers={"Retry-After": "120"}).replace("127.0.0.1", "localhost")),
        ("error", srv.static("/500", b"", status=500)),
        (
            "html",
            srv.static("/html", b"<html><body><h1>Welcome</h1></body></html>", headers={"Content-Type": "text/html"}),
        ),
        ("empty", srv.static("/empty", b"")),
        ("laughs", srv.static("/laughs", LAUGHS)),
        ("entity", srv.static("/entity", ENTITY_10K)),
        ("xxe", srv.static("/xxe", XXE)),
        ("bomb", srv.static("/bomb", gzip.compress(b"<" * (200 * 1024 * 1024)), headers={"Content-Encoding": "gzip"})),
        ("endless", srv.route("/endless", endless)),
        ("drip", srv.route("/drip", drip)),
        ("loop", srv.static("/loop", b"", status=302, headers={"Location": "/loop"})),
    ]


def test_every_hostile_feed_together_within_deadlines_and_memory(tmp_path: Path) -> None:
    with feed_server() as srv:
        cfg = setup(tmp_path, hostile(srv))
        write(cfg, cfg.read_text().replace("timeout: 3s}", "timeout: 3s, max_bytes: 5000000}"))
        started = time.monotonic()
        proc = run_measured([sys.executable, "-m", "watcher", "poll", "--once", "--config", str(cfg)], timeout=120)
        elapsed = time.monotonic() - started
        peak_mb = proc.peak_mb
    assert proc.returncode == 1, proc.stderr  # feeds failed: poll --once says so in its status
    failed = set(re.findall(r"^failed: (\S+)", proc.stdout, re.M))
    assert failed == {"gone", "busy", "error", "html", "empty", "bomb", "endless", "drip", "loop"}, proc.stdout
    assert elapsed < 30
    # The poll process's own peak, its parse workers included, not pytest's (run_measured): ~275 MB measured.
    assert peak_mb < 400, peak_mb
    text = " ".join(str(r) for r in rows(cfg, "SELECT title, summary, content FROM items"))
    assert "root:" not in text and "BBBB" not in text
    assert len(text) < 100_000
    assert {r[0] for r in rows(cfg, "SELECT guid FROM items")} >= {"g", "urn:a:1", "j1", "l", "e", "x"}


def test_poll_once_leaves_a_feed_a_daemon_is_polling_to_it(tmp_path: Path, database: str) -> None:
    if "://" not in database:
        pytest.skip("feeds are leased only on a database daemons share (PostgreSQL)")
    with feed_server() as srv:
        cfg = setup(tmp_path, [("news", srv.static("/rss", rss(("1", "one"))))])
        assert poll(cfg)["news"].ok
        with store_of(tmp_path) as store:
            now = datetime.now(UTC)
            store.conn.execute("UPDATE feeds SET next_poll_at = NULL")
            register(store, "elsewhere:7", "test", now)
            assert claim_feed(store, "news", "elsewhere:7", now) is not None
        held = poll(cfg, force=True)["news"]
        assert (held.status, held.error, srv.hits["/rss"]) == ("deferred", "being polled by elsewhere:7", 1)


def test_poll_once_defers_a_feed_backing_off_until_forced(tmp_path: Path) -> None:
    with feed_server() as srv:
        url = srv.static("/rss", b"busy", status=503, headers={"Retry-After": "3600"})
        cfg = setup(tmp_path, [("news", url)])
        assert poll(cfg, force=False)["news"].ok is False
        hits = srv.hits["/rss"]
        deferred = poll(cfg, force=False)["news"]
        assert (deferred.status, srv.hits["/rss"]) == ("deferred", hits)
        assert "backing off until" in deferred.error
        srv.static("/rss", rss(("1", "one")))
        forced = poll(cfg, force=True)["news"]
        assert forced.ok and forced.status == "ok" and srv.hits["/rss"] == hits + 1


def test_poll_once_and_status_exit_1_when_a_feed_failed(tmp_path: Path) -> None:
    with feed_server() as srv:
        good = srv.static("/rss", rss(("1", "artillery shells")))
        cfg = setup(tmp_path, [("news", good)])
        runner = CliRunner()
        assert runner.invoke(main, ["poll", "--once", "--config", str(cfg)]).exit_code == 0
        assert runner.invoke(main, ["status", "--config", str(cfg)]).exit_code == 0
        srv.route("/rss", lambda h: h.send_error(500))
        polled = runner.invoke(main, ["poll", "--once", "--force", "--config", str(cfg)])
        assert polled.exit_code == 1 and "failed: news" in polled.output
        status = runner.invoke(main, ["status", "--config", str(cfg)])
        assert status.exit_code == 1 and "failing" in status.output


def test_a_missing_seed_directory_is_a_failing_source_with_its_reason(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "r.yaml", RULES)
    cfg = write(tmp_path / "watcher.yaml", "database: w.db\nrules: rules\nseeds: [inbox]\n")
    runner = CliRunner()
    polled = runner.invoke(main, ["poll", "--once", "--config", str(cfg)])
    assert polled.exit_code == 1
    assert f"failed: inbox ({tmp_path / 'inbox'}): no such directory" in polled.output
    listed = runner.invoke(main, ["feeds", "list", "--config", str(cfg)])
    assert "inbox  [failing]" in listed.output and "last error: no such directory" in listed.output
    write(tmp_path / "inbox" / "a.txt", "Shells\n\nArtillery shells by rail.\n")
    polled = runner.invoke(main, ["poll", "--once", "--force", "--config", str(cfg)])
    assert polled.exit_code == 0 and "1 new item," in polled.output
    assert "inbox  [ok]" in runner.invoke(main, ["feeds", "list", "--config", str(cfg)]).output


def test_poll_once_says_what_a_first_poll_recorded_without_sending(tmp_path: Path) -> None:
    with feed_server() as srv, receiver() as hook:
        url = srv.static("/rss", rss(("1", "artillery shells")))
        cfg = setup(tmp_path, [("news", url)], notify=f"notify:\n  - url: {hook.url}\n")
        out = CliRunner().invoke(main, ["poll", "--once", "--config", str(cfg)]).output
        assert "1 new item, 0 alerts, 1 recorded, not sent (first poll of a source: watcher alerts send)" in out
        assert hook.messages() == []


def test_poll_once_json(tmp_path: Path) -> None:
    with feed_server() as srv:
        cfg = setup(tmp_path, [("news", srv.static("/rss", rss(("1", "artillery shells"))))])
        result = CliRunner().invoke(main, ["poll", "--once", "--json", "--config", str(cfg)])
    record = json.loads(result.output)
    assert result.exit_code == 0 and (record["ok"], record["failed"], record["new"], record["recorded"]) == (1, 0, 1, 1)
    assert record["sources"][0]["name"] == "news" and record["sources"][0]["status"] == "ok"


def test_poll_once_says_each_failure_once(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "r.yaml", RULES)
    cfg = write(tmp_path / "watcher.yaml", "database: w.db\nrules: rules\nseeds: [inbox]\n")
    done = subprocess.run(
        [sys.executable, "-m", "watcher", "poll", "--once", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.count("no such directory") == 1 and "no such directory" not in done.stderr
