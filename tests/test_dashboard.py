"""The dashboard over HTTP: `watcher serve` as a real process on 127.0.0.1, real data from `watcher backfill`."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write
from tests.webtools import HOSTILE_TITLE, corpus, get, served
from watcher.config import load_config
from watcher.errors import ConfigError


@pytest.mark.usefixtures("on_each_database")
def test_every_page_answers_escaped_with_a_strict_policy(tmp_path: Path) -> None:
    cfg = corpus(tmp_path)
    with served(cfg) as base:
        pages = {path: get(base + path) for path in ("/", "/rules", "/feeds", "/items/1", "/static/style.css")}
        missing = get(base + "/items/999")
        nowhere = get(base + "/nowhere")
    for path, (status, headers, body) in pages.items():
        assert status == 200, path
        assert "default-src 'none'" in headers["content-security-policy"], path
        assert "script-src" not in headers["content-security-policy"]  # no script may run at all
        assert headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in body and 'onerror="document' not in body, path
    alerts = pages["/"][2]
    assert "&lt;script&gt;document.title=" in alerts  # the hostile title, shown as text
    assert alerts.count('<article class="alert') == 3 and "3 alerts" in alerts
    assert "<mark>artillery shells</mark>" in alerts  # the matched words highlighted in their snippets
    assert missing[0] == 404 and nowhere[0] == 404


@pytest.mark.usefixtures("on_each_database")
def test_filters_page_and_item(tmp_path: Path) -> None:
    cfg = corpus(tmp_path)
    with served(cfg) as base:
        shells = get(base + "/?rule=shells")[2]
        critical = get(base + "/?severity=critical")[2]
        suppressed = get(base + "/?state=suppressed&since=30d")[2]
        sent = get(base + "/?state=sent")[2]
        bogus = get(base + "/?page=abc&since=<x>")
        beyond = [get(base + f"/?page={page}") for page in ("9" * 30, "9223372036854775808", "%C2%B2")]
        rules = get(base + "/rules")[2]
        feeds = get(base + "/feeds")[2]
        item = get(base + "/items/1")[2]
    assert shells.count('<article class="alert') == 2 and "Troops on the move" not in shells
    assert critical.count('<article class="alert') == 1 and "Troops on the move" in critical
    assert suppressed.count('<article class="alert') == 3  # backfill records without sending
    assert "No alert matches these filters" in sent
    assert bogus[0] == 200 and "<x>" not in bogus[2]
    assert [status for status, _, _ in beyond] == [200, 200, 200]  # past the last page, or no number at all
    # Rules: hits per day as an inline chart, the quiet rule marked, its examples counted.
    assert rules.count("<svg") == 3 and "no match for 30 days" in rules and "1 pass" in rules
    assert re.search(r"shells</a>.*?<td class=\"num\">2</td>", rules, re.S)
    assert "docs" in feeds and "<svg" in feeds
    assert "North Korea sent artillery shells" in item and "Rules it matched" in item


def test_a_token_guards_every_page_with_a_bearer_or_the_login_cookie(tmp_path: Path) -> None:
    token = {"DASH_TOKEN": "s3cret-token"}
    cfg = corpus(tmp_path, extra="server: {listen: '127.0.0.1:0', token: '${DASH_TOKEN}'}\n", env=token)
    with served(cfg, env=token) as base:
        anonymous = get(base + "/")
        wrong = get(base + "/", {"Authorization": "Bearer nope"})
        bearer = get(base + "/", {"Authorization": "Bearer s3cret-token"})
        health = get(base + "/healthz")
        bad_login = get(base + "/login", data=b"token=guess")
        login = get(base + "/login", data=b"token=s3cret-token")
        cookie = login[1]["set-cookie"].split(";")[0]
        with_cookie = get(base + "/rules", {"Cookie": cookie})
        forged = get(base + "/rules", {"Cookie": "watcher_session=s3cret-token"})
    assert anonymous[0] == 401 and 'name="token"' in anonymous[2] and "artillery" not in anonymous[2]
    assert wrong[0] == 401 and bearer[0] == 200 and "artillery" in bearer[2]
    assert health[0] == 200
    assert bad_login[0] == 401 and "not the token" in bad_login[2]
    assert login[0] == 303 and "HttpOnly" in login[1]["set-cookie"] and "SameSite=Strict" in login[1]["set-cookie"]
    assert "s3cret-token" not in login[1]["set-cookie"]  # the cookie is not the token
    assert with_cookie[0] == 200 and forged[0] == 401


def test_off_loopback_without_a_token_is_refused(tmp_path: Path) -> None:
    cfg = corpus(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "watcher", "serve", "--config", str(cfg), "--listen", "0.0.0.0:0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "0.0.0.0:0 is not a loopback address: the dashboard there wants a token" in proc.stderr
    bad = write(tmp_path / "bad.yaml", "database: w.db\nrules: rules\nserver: {listen: '0.0.0.0:9090'}\n")
    try:
        load_config(bad, env={})
    except ConfigError as e:
        assert "bad.yaml:3 server.listen: 0.0.0.0:9090 is not a loopback address" in str(e)
    else:
        raise AssertionError("a non-loopback listen without a token was accepted")
    alone = write(tmp_path / "alone.yaml", "database: w.db\nserver: {listen: '0.0.0.0:9090', dashboard: false}\n")
    assert load_config(alone, env={}).daemon.dashboard is False


def test_serve_without_a_database_says_so(tmp_path: Path) -> None:
    cfg = write(tmp_path / "watcher.yaml", "database: nothing.db\nrules: rules\n")
    proc = subprocess.run(
        [sys.executable, "-m", "watcher", "serve", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "nothing.db: no database here" in proc.stderr
    assert not (tmp_path / "nothing.db").exists()


def test_the_dashboard_never_writes(tmp_path: Path) -> None:
    cfg = corpus(tmp_path)
    db = tmp_path / "w.db"
    before = sqlite3.connect(db).execute("SELECT count(*) FROM alerts").fetchone()
    with served(cfg) as base:
        assert get(base + "/", data=b"x=1")[0] == 405
        for path in ("/", "/rules", "/feeds", "/items/1"):
            get(base + path)
    assert sqlite3.connect(db).execute("SELECT count(*) FROM alerts").fetchone() == before
    assert "<script>" in HOSTILE_TITLE  # what the escaping tests rest on


def test_a_failing_feed_says_since_when_and_why(tmp_path: Path) -> None:
    cfg = corpus(tmp_path)
    with sqlite3.connect(tmp_path / "w.db") as conn:
        conn.execute(
            "UPDATE feeds SET failures = 2, last_error = 'HTTP 503 <b>busy</b>', last_success_at = "
            "'2026-11-01T08:00:00+00:00' WHERE name = 'docs'"
        )
    with served(cfg) as base:
        feeds = get(base + "/feeds")[2]
    assert "failing since 2026-11-01 08:00 (2 failures): HTTP 503 &lt;b&gt;busy&lt;/b&gt;" in feeds


def test_a_database_gone_is_one_line_and_a_503_page(tmp_path: Path) -> None:
    cfg = corpus(tmp_path)
    with served(cfg) as base:
        assert get(base + "/")[0] == 200
        for name in ("w.db", "w.db-wal", "w.db-shm"):
            (tmp_path / name).unlink(missing_ok=True)
        (tmp_path / "w.db").write_text("not a database at all")
        gone = get(base + "/rules")
        assert gone[0] == 503 and "cannot read the database" in gone[2]
        assert get(base + "/healthz")[0] == 200  # the server itself stays up
