"""Full text for summary-only feeds (`full_text:`): the article read from the entry's link, safely and politely,
with every failure falling back to the summary."""

from __future__ import annotations

import ipaddress
import json
import logging
import signal
import sqlite3
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.articlesite import BODY, NOISE, article_page, rss, serve_site
from tests.conftest import write
from tests.daemonproc import daemon, wait_for
from tests.feedserver import feed_server
from tests.servers import receiver
from watcher.backfill import load_engine
from watcher.cli import main
from watcher.config import load_config
from watcher.errors import ConfigError
from watcher.items.model import Item
from watcher.poll import Poller, poll_once
from watcher.sources.article import AUTO, ON, extract_article, wants_full_text
from watcher.sources.fetch import USER_AGENT, GuardedTransport, address_allowed
from watcher.sources.hosts import HostGate
from watcher.sources.sandbox import ParsePool
from watcher.store.feeds import all_feeds, get_feed, sync
from watcher.store.sqlite import Store

RULES = """rules:
  - id: body
    title: Body words
    match: [North Korea, Ukraine, weapons]
"""
NOISE_RULES = "".join(f"  - id: {where}\n    title: {where}\n    match: [{word}]\n" for where, word in NOISE.items())
SITE = "127.0.0.2"  # the site's address: public to the client of these tests, 127.0.0.1 stays private


def setup(tmp_path: Path, feed: str, *, extra: str = "", feed_extra: str = "", http: str = "") -> Path:
    write(tmp_path / "rules" / "r.yaml", RULES + NOISE_RULES)
    return write(
        tmp_path / "watcher.yaml",
        "database: w.db\nrules: rules\nseeds: []\n"
        f"http: {{allow_private_addresses: true, timeout: 5s, per_host_gap: 0{http}}}\n"
        f"feeds:\n  - {{url: '{feed}', name: teasers, interval: 60, alert_existing: true{feed_extra}}}\n{extra}",
    )


def site_client() -> httpx.Client:
    """The feeds' client with the default address policy, except that the test site's own address counts as
    public: a redirect from it to 127.0.0.1 is refused as it would be on the internet."""
    site = ipaddress.ip_address(SITE)
    transport = GuardedTransport(allowed=lambda ip: ip == site or address_allowed(ip))
    return httpx.Client(
        transport=transport, follow_redirects=False, trust_env=False, headers={"User-Agent": USER_AGENT}
    )


def poll_with(cfg: Path, client: httpx.Client | None = None) -> dict[str, object]:
    config = load_config(cfg, env={})
    store = Store.open(config.database)
    try:
        sync(store, config)
        with ParsePool(deadline=20) as pool:
            if client is None:
                results = poll_once(config, store, load_engine(config), pool)
            else:
                poller = Poller(config, store, load_engine(config), parse_pool=pool, client=client)
                try:
                    results = poller.poll_feeds(all_feeds(store))
                finally:
                    poller.close()
        return {r.name: r for r in results}
    finally:
        store.close()


def rows(cfg: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(cfg.parent / "w.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def alerts(cfg: Path) -> list[dict]:
    out = CliRunner().invoke(main, ["alerts", "list", "--json", "--config", str(cfg)])
    assert out.exit_code == 0, out.output
    return [json.loads(line) for line in out.output.splitlines() if line.strip()]


def test_the_article_body_alerts_with_its_evidence_and_every_bad_page_keeps_its_summary(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with feed_server(SITE) as srv, feed_server() as private:
        private.static("/secret", article_page("Internal", BODY * 3))
        cfg = setup(tmp_path, serve_site(srv, private_redirect=private.url("/secret")), feed_extra=", full_text: true")
        with caplog.at_level(logging.WARNING, logger="watcher"):
            result = poll_with(cfg, site_client())["teasers"]
        assert private.hits.get("/secret") is None  # refused before any connection
    assert result.ok and result.full_text is not None
    assert (result.full_text.read, dict(result.full_text.failed)) == (
        1,
        {"http_error": 1, "too_short": 1, "too_large": 1, "refused": 1},
    )
    # The rule needs Ukraine and weapons: only the article's body has them.
    fired = alerts(cfg)
    assert [a["rule"] for a in fired] == ["body"], fired
    evidence = fired[0]["evidence"]
    assert {e["field"] for e in evidence if e["matched"].casefold() in ("ukraine", "weapons")} == {"content"}
    assert any("front line in eastern" in e["snippet"] for e in evidence)
    content, summary, status = rows(cfg, "SELECT content, summary, full_text FROM items WHERE guid = 'good'")[0]
    assert summary.startswith("North Korea sent artillery shells") and status == "ok"
    assert "Rajin" in content and not any(word in content for word in NOISE.values())
    # The others keep what the feed gave, and say why.
    kept = dict(rows(cfg, "SELECT guid, full_text FROM items WHERE guid != 'good'"))
    assert "HTTP 404" in kept["missing"] and "characters of text" in kept["login"]
    assert "larger than" in kept["huge"] and "private or reserved" in kept["moved"]
    assert rows(cfg, "SELECT content FROM items WHERE guid = 'missing'") == [("",)]
    # One line for the feed's poll, naming each reason.
    lines = [r.getMessage() for r in caplog.records if "full text" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "4 of 5 new entries keep their summary" in lines[0]
    for reason in ("http error", "too short", "too large", "refused"):
        assert reason in lines[0]


def test_an_article_is_read_once_and_an_updated_entry_keeps_it(tmp_path: Path) -> None:
    with feed_server() as srv:
        srv.static("/a", article_page("Shells", BODY), headers={"Content-Type": "text/html"})
        entry = ("1", "Shells", srv.url("/a"), "North Korea sent shells.")
        srv.static("/rss", rss([entry]))
        cfg = setup(tmp_path, srv.url("/rss"), feed_extra=", full_text: true")
        poll_with(cfg)
        poll_with(cfg)
        assert srv.hits["/a"] == 1
        srv.static("/rss", rss([(*entry[:3], "North Korea sent shells, the ministry said.")]))
        result = poll_with(cfg)["teasers"]
        assert srv.hits["/a"] == 1 and result.ok
    content, summary, version, status = rows(cfg, "SELECT content, summary, version, full_text FROM items")[0]
    assert (version, status) == (2, "ok")
    assert "ministry said" in summary and "Rajin" in content
    assert [a["rule"] for a in alerts(cfg)] == ["body"]  # evaluated once on the article; the update adds none


def test_auto_reads_short_or_cut_entries_only() -> None:
    long = "North Korea " + "and more words about the talks " * 30
    assert wants_full_text(Item("f", link="https://example.org/a", summary="Short."), AUTO)
    assert not wants_full_text(Item("f", link="https://example.org/a", summary=long), AUTO)
    assert wants_full_text(Item("f", link="https://example.org/a", summary=long + " Read more"), AUTO)
    assert wants_full_text(Item("f", link="https://example.org/a", summary=long + " [\u2026]"), AUTO)
    assert wants_full_text(Item("f", link="https://example.org/a", summary=long + "..."), AUTO)
    assert wants_full_text(Item("f", link="https://example.org/a", summary=long), ON)
    assert not wants_full_text(Item("f", link="mailto:x@example.org", summary="Short."), ON)
    assert not wants_full_text(Item("f", summary="Short, and no link."), ON)


def test_auto_in_a_feed_leaves_long_entries_alone(tmp_path: Path) -> None:
    long = "North Korea " + "said nothing more about the talks today " * 20
    with feed_server() as srv:
        srv.static("/a", article_page("A", BODY), headers={"Content-Type": "text/html"})
        srv.static("/b", article_page("B", BODY), headers={"Content-Type": "text/html"})
        srv.static("/rss", rss([("a", "A", srv.url("/a"), "North Korea..."), ("b", "B", srv.url("/b"), long)]))
        cfg = setup(tmp_path, srv.url("/rss"), extra="full_text: auto\n")
        poll_with(cfg)
        assert (srv.hits.get("/a"), srv.hits.get("/b")) == (1, None)


def test_a_selector_reads_the_block_it_names() -> None:
    page = b"""<html><body><div class="promo"><p>Subscribe now to our premium newsletter for daily briefings on
    everything that matters to you and your family, delivered every morning.</p></div><div class="teaser-box">
    <p>Artillery shells reached the front line, officials said on Tuesday in a briefing to reporters.</p>
    <script>var bagpipe = 1;</script></div></body></html>"""
    text = extract_article(page, url="https://example.org/a", selector="div.teaser-box")
    assert "Artillery shells reached" in text and "Subscribe" not in text and "bagpipe" not in text


def test_a_selector_that_matches_nothing_keeps_the_summary(tmp_path: Path) -> None:
    with feed_server() as srv:
        srv.static("/a", article_page("Shells", BODY), headers={"Content-Type": "text/html"})
        srv.static("/rss", rss([("1", "Shells", srv.url("/a"), "North Korea sent shells.")]))
        cfg = setup(tmp_path, srv.url("/rss"), feed_extra=", full_text: true, full_text_selector: 'div.nowhere'")
        result = poll_with(cfg)["teasers"]
    assert result.full_text is not None and dict(result.full_text.failed) == {"extraction_failed": 1}
    assert "matches nothing" in rows(cfg, "SELECT full_text FROM items")[0][0]


def test_not_html_and_an_entity_bomb_page(tmp_path: Path) -> None:
    chain = zip("abcdefg", "bcdefgh", strict=True)
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY a "lollollollollollollollol">'
        + b"".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">'.encode() for p, c in chain)
        + b"]><html><body><article><p>"
        + b"Artillery shells reached the front line in eastern Ukraine, officials said. " * 5
        + b"&h;</p></article></body></html>"
    )
    with feed_server() as srv:
        srv.static("/pdf", b"%PDF-1.4 not a page", headers={"Content-Type": "application/pdf"})
        srv.static("/bomb", bomb, headers={"Content-Type": "text/html"})
        entries = [
            ("pdf", "A PDF", srv.url("/pdf"), "North Korea."),
            ("bomb", "Bomb", srv.url("/bomb"), "North Korea."),
        ]
        srv.static("/rss", rss(entries))
        cfg = setup(tmp_path, srv.url("/rss"), feed_extra=", full_text: true")
        result = poll_with(cfg)["teasers"]
    assert result.ok and result.full_text is not None
    assert result.full_text.failed["not_html"] == 1
    (content,) = rows(cfg, "SELECT content FROM items WHERE guid = 'bomb'")[0]
    assert "lollollol" not in content and len(content) < 10_000


def _timed_site(tmp_path: Path, http: str, pause: float) -> tuple[int, list[float], object]:
    """Eight articles on one host, each served after `pause`: (most served at once, arrival times, result)."""
    active, peak, starts = [0], [0], []
    lock = threading.Lock()

    def slow_page(h: BaseHTTPRequestHandler) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            starts.append(time.monotonic())
        time.sleep(pause)
        body = article_page("A", BODY)
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
        with lock:
            active[0] -= 1

    with feed_server() as srv:
        entries = [(str(i), f"Entry {i}", srv.route(f"/a{i}", slow_page), "North Korea.") for i in range(8)]
        srv.static("/rss", rss(entries))
        cfg = setup(tmp_path, srv.url("/rss"), feed_extra=", full_text: true")
        cfg = write(cfg, cfg.read_text().replace("per_host_gap: 0", http))
        result = poll_with(cfg)["teasers"]
    return peak[0], starts, result


def test_at_most_per_host_requests_to_one_host_at_once(tmp_path: Path) -> None:
    peak, _, result = _timed_site(tmp_path, "per_host_gap: 0, per_host: 2", pause=0.2)
    assert result.full_text is not None and result.full_text.read == 8  # type: ignore[attr-defined]
    assert peak == 2


def test_a_gap_between_the_requests_to_one_host(tmp_path: Path) -> None:
    _, starts, result = _timed_site(tmp_path, "per_host_gap: 0.3, per_host: 2", pause=0.02)
    assert result.full_text is not None and result.full_text.read == 8  # type: ignore[attr-defined]
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    # The gate spaces the starts of the requests by 0.3 s; where the server sees them arrive, a little less
    # or more (connection and thread scheduling). Without the gap, two of them would arrive together.
    assert min(gaps) >= 0.2, gaps


def test_a_host_that_says_retry_after_is_left_alone_feeds_included(tmp_path: Path) -> None:
    with feed_server() as srv:
        srv.static("/busy", b"slow down", status=429, headers={"Retry-After": "600", "Content-Type": "text/html"})
        srv.static("/a", article_page("A", BODY), headers={"Content-Type": "text/html"})
        entries = [("busy", "Busy", srv.url("/busy"), "North Korea."), ("a", "A", srv.url("/a"), "North Korea.")]
        srv.static("/rss", rss(entries))
        cfg = setup(tmp_path, srv.url("/rss"), feed_extra=", full_text: true", http=", per_host: 1")
        config = load_config(cfg, env={})
        with Store.open(config.database) as store, ParsePool(deadline=20) as pool:
            sync(store, config)
            poller = Poller(config, store, load_engine(config), parse_pool=pool)
            try:
                first = poller.poll_feeds(all_feeds(store))[0]
                assert first.full_text is not None
                assert dict(first.full_text.failed) == {"http_error": 1, "host_waiting": 1}
                assert srv.hits.get("/a") is None
                # The feed is on that host too: its next poll is deferred, not failed, and asks nothing.
                second = poller.poll_feeds(all_feeds(store))[0]
            finally:
                poller.close()
            assert (second.ok, second.status, srv.hits["/rss"]) == (True, "deferred", 1)
            assert "asked to wait" in second.error
            state = get_feed(store, "teasers")
            assert state is not None and state.failures == 0 and state.next_poll_at > state.last_poll_at


def test_gate_refuses_a_host_while_it_asked_for_quiet() -> None:
    now = [100.0]
    gate = HostGate(per_host=1, gap=0, clock=lambda: now[0], sleep=lambda s: None)
    gate.retry_after("https://example.org/a", 30)
    with pytest.raises(Exception, match="asked to wait 30s"), gate.slot("https://example.org/b"):
        pass
    with gate.slot("https://other.example/b"):
        pass
    now[0] += 31
    with gate.slot("https://example.org/b"):
        pass


def test_config_keys_for_full_text(tmp_path: Path) -> None:
    base = "database: w.db\nrules: rules\nseeds: []\nfeeds:\n  - {url: 'https://example.org/rss', name: f%s}\n"
    write(tmp_path / "rules" / "r.yaml", RULES)
    config = load_config(write(tmp_path / "a.yaml", base % ", full_text: auto" + "full_text: true\n"), env={})
    assert (config.full_text, config.feeds[0].full_text) == ("on", "auto")
    config = load_config(write(tmp_path / "b.yaml", base % "" + "http: {full_text: auto}\n"), env={})
    assert (config.full_text, config.feeds[0].full_text) == ("auto", None)
    for bad, message in (
        (base % ", full_text: sometimes", "a.yaml:5 feeds[0].full_text: must be true, false or auto"),
        (base % ", full_text_selector: 'div[['", "full_text_selector: not a CSS selector"),
        (base % "" + "full_text: true\nhttp: {full_text: auto}\n", "say it once"),
        (base % "" + "http: {per_host: 0}\n", "http.per_host: must be a whole number, at least 1"),
    ):
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("a.yaml:5", r"\S*a.yaml:\d+")):
            load_config(write(tmp_path / "a.yaml", bad), env={})


def test_feeds_add_full_text_and_feeds_list_shows_how_it_goes(tmp_path: Path) -> None:
    with feed_server() as srv:
        srv.static("/a", article_page("A", BODY), headers={"Content-Type": "text/html"})
        srv.static("/rss", rss([("a", "A", srv.url("/a"), "North Korea."), ("b", "B", srv.url("/b"), "North Korea.")]))
        write(tmp_path / "rules" / "r.yaml", RULES)
        cfg = write(
            tmp_path / "watcher.yaml",
            "database: w.db\nrules: rules\nseeds: []\nhttp: {allow_private_addresses: true, per_host_gap: 0}\n",
        )
        runner = CliRunner()
        out = runner.invoke(
            main, ["feeds", "add", "--full-text", "--name", "teasers", srv.url("/rss"), "--config", str(cfg)]
        )
        assert out.exit_code == 0 and "reads the article of each new entry" in out.output, out.output
        store = Store.open(tmp_path / "w.db")
        assert get_feed(store, "teasers").full_text == "on"  # type: ignore[union-attr]
        store.close()
        polled = runner.invoke(main, ["poll", "--once", "--json", "--config", str(cfg)])
        assert polled.exit_code == 0, polled.output
        source = json.loads(polled.stdout)["sources"][0]
        assert (source["full_text_read"], source["full_text_failed"]) == (1, {"http_error": 1})
    listed = runner.invoke(main, ["feeds", "list", "--config", str(cfg)])
    assert "full text: on, 1 read, 1 kept their summary (last: http error x1" in listed.output, listed.output
    record = json.loads(runner.invoke(main, ["feeds", "list", "--json", "--config", str(cfg)]).output)
    assert (record["full_text_mode"], record["full_text_read"], record["full_text_failed"]) == ("on", 1, 1)


def test_the_daemon_reads_articles_counts_them_in_metrics_and_sends_the_alert(tmp_path: Path) -> None:
    with feed_server() as srv, receiver() as hook:
        srv.static("/a", article_page("Shells", BODY), headers={"Content-Type": "text/html"})
        entries = [("a", "Shells", srv.url("/a"), "North Korea sent shells."), ("gone", "Gone", srv.url("/x"), "Gone.")]
        srv.static("/rss", rss(entries))
        write(tmp_path / "rules" / "r.yaml", RULES)
        cfg = write(
            tmp_path / "watcher.yaml",
            "database: w.db\nrules: rules\nseeds: []\nserver: {listen: '127.0.0.1:0'}\nfull_text: auto\n"
            f"feeds:\n  - {{url: '{srv.url('/rss')}', name: teasers, interval: 60s, alert_existing: true}}\n"
            f"notify:\n  - {{url: '{hook.url}', name: hook}}\n"
            "http: {allow_private_addresses: true, timeout: 3s, per_host_gap: 0}\n"
            "daemon: {grace_period: 5s, deliver_interval: 1s}\n",
        )
        with daemon(cfg) as d:
            port = d.health_port()
            wait_for(lambda: hook.messages(), what="the alert")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:  # noqa: S310
                text = r.read().decode()
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(timeout=10) == 0
        assert srv.hits["/a"] == 1
    assert "watcher_full_text_read_total 1.0" in text
    assert 'watcher_full_text_failures_total{reason="http_error"} 1.0' in text
    assert "Body words" in hook.messages()[0]["title"]
    assert "feed teasers: full text: 1 of 2 new entries keep their summary: http error x1" in d.log()


def test_items_show_says_whether_the_content_is_the_article(tmp_path: Path) -> None:
    with feed_server() as srv:
        srv.static("/a", article_page("Shells", BODY), headers={"Content-Type": "text/html"})
        entries = [("a", "Shells", srv.url("/a"), "North Korea sent shells."), ("b", "B", srv.url("/b"), "Gone.")]
        srv.static("/rss", rss(entries))
        cfg = setup(tmp_path, srv.url("/rss"), feed_extra=", full_text: true")
        poll_with(cfg)
    ids = dict(rows(cfg, "SELECT guid, id FROM items"))
    runner = CliRunner()
    shown = runner.invoke(main, ["items", "show", str(ids["a"]), "--config", str(cfg)]).output
    assert "full text:   the article, read from the link" in shown and "summary:     North Korea sent" in shown
    assert "Rajin" in shown
    other = runner.invoke(main, ["items", "show", str(ids["b"]), "--json", "--config", str(cfg)]).output
    assert "HTTP 404" in json.loads(other)["full_text"]


def test_an_entry_longer_than_its_page_keeps_its_own_text(tmp_path: Path) -> None:
    whole = " ".join(BODY * 4)
    with feed_server() as srv:
        srv.static("/a", article_page("Shells", BODY[:2]), headers={"Content-Type": "text/html"})
        srv.static("/rss", rss([("1", "Shells", srv.url("/a"), whole)]))
        cfg = setup(tmp_path, srv.url("/rss"), feed_extra=", full_text: true")
        result = poll_with(cfg)["teasers"]
    assert result.full_text is not None and dict(result.full_text.failed) == {"shorter": 1}
    content, summary, status = rows(cfg, "SELECT content, summary, full_text FROM items")[0]
    assert content == "" and summary == whole and "no longer than the entry's" in status
