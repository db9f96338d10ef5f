"""One store, two databases: what must hold on SQLite and PostgreSQL alike, and what PostgreSQL adds for
several daemons sharing it (leases, claims, concurrent ingest). Runs on PostgreSQL where WATCHER_TEST_POSTGRES
names a server; skips with that reason elsewhere."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests import storycorpus
from tests.conftest import location, postgres_schema, write
from watcher.config.database import parse_postgres_url
from watcher.config.model import Stories
from watcher.delivery.outbox import Outbox
from watcher.errors import StoreError
from watcher.items.model import Item
from watcher.rules.engine import Engine
from watcher.rules.load import load_rules
from watcher.store.feeds import add_feed, get_feed
from watcher.store.open import open_dry_run, open_existing, open_store
from watcher.store.postgres import PostgresStore
from watcher.store.processes import claim_feed, heartbeat, live_processes, register, release_feed, unregister
from watcher.store.search import list_alerts, list_stories, search_items
from watcher.store.sqlite import PENDING, SUPPRESSED, Store

TEXT = (
    "North Korea sent artillery shells to Russia by rail, officials in Seoul said on Monday. The shipments "
    "crossed at the Tumen river bridge and continued west for several days. Analysts said the volume had grown. "
)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    write(tmp_path / "rules" / "r.yaml", "rules:\n  - id: shells\n    match: [artillery shells]\n")
    return Engine(load_rules(tmp_path / "rules"))


@pytest.fixture
def store(each_store: Store) -> Store:
    return each_store


def test_items_alerts_stories_and_search_behave_alike(store: Store, engine: Engine) -> None:
    rng = random.Random(7)
    paragraphs = storycorpus.article(rng, 5)
    body = TEXT + storycorpus.text(paragraphs)
    first = Item(source="wire", guid="a", title="Shells by rail", content=body)
    copy = Item(source="daily", guid="b", title="Rail shells", content="SEOUL (Reuters) - " + body)
    outcomes = store.ingest([first, copy], engine.match, alert_state=SUPPRESSED, stories=Stories())
    assert [o.status for o in outcomes] == ["new", "new"]
    assert outcomes[0].alerts == ["shells"] and outcomes[1].copies == ["shells"]
    assert outcomes[0].story_id == outcomes[1].story_id
    again = store.ingest([first], engine.match, alert_state=SUPPRESSED)
    assert again[0].status == "duplicate"
    assert [a["rule"] for a in list_alerts(store)] == ["shells"]
    [story] = list_stories(store)
    assert story["size"] == 2 and story["sources"] in ("daily, wire", "wire, daily")
    found = [r["title"] for r in search_items(store, '"artillery shells" Tumen')]
    assert sorted(found) == ["Rail shells", "Shells by rail"]
    assert search_items(store, "zeppelin") == []


def test_an_item_with_nul_characters_is_stored_and_kept_once(store: Store, engine: Engine) -> None:
    """A hostile feed's `\u0000`, which PostgreSQL's text cannot hold: stored all the same, found again by its
    key, with its evidence where it was."""
    item = Item(source="feed\x00", guid="g\x00", title="Nul\x00 title", content="Nul\x00 then artillery shells.")
    [outcome] = store.ingest([item], engine.match, alert_state=SUPPRESSED, stories=Stories())
    assert (outcome.status, outcome.alerts) == ("new", ["shells"])
    [again] = store.ingest([item], engine.match, alert_state=SUPPRESSED, stories=Stories())
    assert again.status == "duplicate"
    assert [a["rule"] for a in list_alerts(store)] == ["shells"]
    [evidence] = json.loads(store.query("SELECT evidence FROM alerts")[0]["evidence"])
    assert item.content[evidence["start"] : evidence["end"]] == "artillery shells"
    assert [r["title"].replace("\ufffd", "\x00") for r in search_items(store, "artillery")] == [item.title]


def test_schemas_have_the_same_tables_and_columns(tmp_path: Path, pg_url: str) -> None:
    with Store.open(tmp_path / "w.db") as lite:
        tables = [
            r["name"]
            for r in lite.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%fts%'")
            if not r["name"].startswith(("_", "sqlite"))
        ]
        sqlite_columns = {t: {r["name"] for r in lite.query(f"PRAGMA table_info({t})")} for t in tables}
    with open_store(location(pg_url)) as pg:
        rows = pg.query(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name IN (SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE')"
        )
        pg_columns: dict[str, set[str]] = {}
        for r in rows:
            pg_columns.setdefault(r["table_name"], set()).add(r["column_name"])
        pg_columns.pop("watcher_migrations")
        pg_columns["items"].discard("search")  # SQLite's items_fts
        assert pg_columns == sqlite_columns
        assert isinstance(pg, PostgresStore) and pg.pending() == []


def test_a_newer_schema_is_refused_and_a_foreign_database_too(pg_url: str) -> None:
    url = parse_postgres_url(pg_url)
    assert not isinstance(url, str)
    with open_store(url) as store:
        store.conn.execute("INSERT INTO watcher_migrations (name, applied_at) VALUES ('m999_future', 'x')")
    with pytest.raises(StoreError, match=r"schema is newer than this watcher \(it has m999_future\)"):
        open_store(url)
    with postgres_schema() as (other, _):
        with psycopg.connect(other, autocommit=True) as conn:
            conn.execute("CREATE TABLE invoices (id int)")
        with pytest.raises(StoreError, match=r"belongs to another program \(invoices\)"):
            open_store(parse_postgres_url(other))  # type: ignore[arg-type]


def test_a_dry_run_leaves_nothing_behind(database: str, engine: Engine) -> None:
    where = location(database)
    open_store(where).close()
    with open_dry_run(where) as dry:
        dry.ingest([Item(source="s", guid="1", content=TEXT)], engine.match, alert_state=SUPPRESSED)
        assert dry.count("items") == 1
    with open_existing(where) as store:
        assert store.count("items") == 0


def test_two_stores_ingesting_the_same_items_at_once_keep_one_item_and_one_alert(database: str, engine: Engine) -> None:
    where = location(database)
    open_store(where).close()
    items = [Item(source="wire", guid=str(i), content=f"{i}: " + TEXT) for i in range(40)]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with open_store(where) as s:
                for start in range(0, 40, 5):
                    s.ingest(items[start : start + 5], engine.match, alert_state=SUPPRESSED)
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with open_existing(where) as s:
        assert s.count("items") == 40
        assert s.query("SELECT count(*) AS n FROM alerts")[0]["n"] == 40


def test_a_feed_is_leased_to_one_process_until_released_or_expired(pg_url: str) -> None:
    with open_store(location(pg_url)) as store:
        _leases(store)


def test_on_sqlite_one_daemon_polls_without_leases(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db") as store:
        add_feed(store, "https://example.org/feed", "f", 300)
        now = datetime.now(UTC)
        assert claim_feed(store, "f", "host-a:1", now) is not None
        assert store.query("SELECT lease_holder FROM feeds") == [{"lease_holder": None}]  # nothing written
        store.conn.execute("UPDATE feeds SET next_poll_at = ?", ((now + timedelta(seconds=300)).isoformat(),))
        assert claim_feed(store, "f", "host-a:1", now) is None  # not due


def _leases(store: Store) -> None:
    add_feed(store, "https://example.org/feed", "f", 300)
    now = datetime.now(UTC)
    register(store, "host-a:1", "test", now)
    register(store, "host-b:2", "test", now)
    assert claim_feed(store, "f", "host-a:1", now) is not None
    assert claim_feed(store, "f", "host-b:2", now) is None  # held
    heartbeat(store, "host-a:1", now)
    [a, b] = live_processes(store, now)
    assert (a.id, a.feeds, b.feeds) == ("host-a:1", ["f"], [])
    release_feed(store, "f", "host-a:1")
    assert claim_feed(store, "f", "host-b:2", now) is not None
    # host-b dies: its lease runs out, and the feed is anyone's once it is due.
    later = now + timedelta(seconds=120)
    assert claim_feed(store, "f", "host-a:1", later) is not None
    release_feed(store, "f", "host-a:1")
    # Polled: not due again before its next poll time, whoever asks.
    due = (now + timedelta(seconds=300)).isoformat()
    store.conn.execute("UPDATE feeds SET next_poll_at = ? WHERE name = 'f'", (due,))
    assert claim_feed(store, "f", "host-b:2", later) is None
    unregister(store, "host-a:1")
    assert [p.id for p in live_processes(store, now)] == ["host-b:2"]
    assert get_feed(store, "f") is not None


def test_outbox_rows_are_claimed_by_one_process_at_a_time(database: str, engine: Engine) -> None:
    where = location(database)
    from watcher.config.model import Target
    from watcher.delivery.deliver import enqueue_alerts

    outbox = Outbox((Target(url="json://127.0.0.1:9/x", tags=()),))
    with open_store(where) as s:
        items = [Item(source="s", guid=str(i), content=f"{i} " + TEXT) for i in range(30)]
        s.ingest(items, engine.match, alert_state=PENDING, on_alert=enqueue_alerts(outbox))
    now = datetime.now(UTC)
    claimed: list[list[int]] = []

    def claim(owner: str) -> None:
        box = Outbox((Target(url="json://127.0.0.1:9/x", tags=()),))
        box.owner = owner
        with open_store(where) as s:
            claimed.append([r["id"] for r in box.claim(s, now, limit=10)])

    threads = [threading.Thread(target=claim, args=(f"other-host:{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for batch in claimed for i in batch]
    assert len(ids) == 30 and len(set(ids)) == 30


def test_a_wrong_password_or_a_silent_server_is_one_line_naming_host_and_database(tmp_path: Path) -> None:
    cases = {
        "postgresql://postgres:s3cretpass@127.0.0.1:1/test": "127.0.0.1:1",
        "postgresql://nobody:s3cretpass@127.0.0.1:5432/no_such_db": "no_such_db on 127.0.0.1:5432",
    }
    for url, named in cases.items():
        write(tmp_path / "watcher.yaml", f"database: {url}\n")
        (tmp_path / "rules").mkdir(exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "watcher", "status", "--config", str(tmp_path / "watcher.yaml")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and named in lines[0] and "s3cretpass" not in done.stderr, done.stderr


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher", *args], capture_output=True, text=True, timeout=120)


def test_db_copy_moves_an_installation_and_is_idempotent_and_resumable(tmp_path: Path, pg_url: str) -> None:
    write(tmp_path / "rules" / "r.yaml", "rules:\n  - id: shells\n    match: [artillery shells]\n")
    for n in range(12):
        write(tmp_path / "docs" / f"{n}.txt", f"Report {n}\n\n{n}: " + TEXT)
    write(
        tmp_path / "watcher.yaml",
        "database: w.db\nrules: rules\nseeds: [docs]\nstories: {enabled: false}\n"
        "feeds:\n  - {url: 'https://example.org/f', name: f}\n",
    )
    assert _cli("backfill", "--config", str(tmp_path / "watcher.yaml")).returncode == 0
    assert _cli("feeds", "list", "--config", str(tmp_path / "watcher.yaml")).returncode == 0

    first = _cli("db", "copy", "--from", str(tmp_path / "w.db"), "--to", pg_url, "--json")
    assert first.returncode == 0, first.stderr
    copied = json.loads(first.stdout)["copied"]
    assert (copied["items"], copied["alerts"], copied["feeds"]) == (12, 12, 2)  # feeds: f and the seed directory
    again = json.loads(_cli("db", "copy", "--from", str(tmp_path / "w.db"), "--to", pg_url, "--json").stdout)
    assert sum(again["copied"].values()) == 0 and again["present"]["items"] == 12

    # Interrupted half way: what is missing is copied by running it again.
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM alerts WHERE id > 6")
    resumed = json.loads(_cli("db", "copy", "--from", str(tmp_path / "w.db"), "--to", pg_url, "--json").stdout)
    assert resumed["copied"]["alerts"] == 6 and resumed["copied"]["items"] == 0

    write(tmp_path / "pg.yaml", f"database: '{pg_url}'\nrules: rules\nseeds: [docs]\nstories: {{enabled: false}}\n")
    lite = _cli("alerts", "list", "--json", "--config", str(tmp_path / "watcher.yaml")).stdout.splitlines()
    moved = _cli("alerts", "list", "--json", "--config", str(tmp_path / "pg.yaml")).stdout.splitlines()
    assert len(moved) == 12 and [json.loads(a) for a in moved] == [json.loads(a) for a in lite]
    # New items after the move get ids of their own (the sequences moved past the copied ones).
    write(tmp_path / "docs" / "new.txt", "New\n\nMore " + TEXT)
    assert _cli("backfill", "--config", str(tmp_path / "pg.yaml")).returncode == 0
    with open_existing(location(pg_url)) as store:
        assert store.count("items") == 13


def test_db_upgrade_says_where_the_schema_stands(database: str, tmp_path: Path) -> None:
    write(tmp_path / "watcher.yaml", f"database: '{database}'\n")
    done = _cli("db", "upgrade", "--config", str(tmp_path / "watcher.yaml"))
    assert done.returncode == 0, done.stderr
    assert "schema up to date (11 migrations, the last m011_story_band_runs)" in done.stdout


def test_sqlite_refuses_a_schema_newer_than_itself(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db") as store:
        store.conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('watcher', 'm999_future', 'x')"
        )
    with pytest.raises(StoreError, match=r"schema is newer than this watcher \(it has m999_future\)"):
        Store.open(tmp_path / "w.db")


def test_db_copy_refuses_what_it_cannot_copy_with_one_line_each(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "r.yaml", "rules:\n  - id: shells\n    match: [artillery shells]\n")
    write(tmp_path / "docs" / "a.txt", "Report\n\n" + TEXT)
    write(tmp_path / "watcher.yaml", "database: w.db\nrules: rules\nseeds: [docs]\n")
    assert _cli("backfill", "--config", str(tmp_path / "watcher.yaml")).returncode == 0
    db = str(tmp_path / "w.db")

    missing = _cli("db", "copy", "--from", str(tmp_path / "none.db"), "--to", str(tmp_path / "x.db"))
    assert missing.returncode == 2 and "no database at" in missing.stderr, missing.stderr
    assert not list(tmp_path.glob("none.db*")), "a lock file was left beside a database that is not there"
    same = _cli("db", "copy", "--from", db, "--to", str(tmp_path / "." / "w.db"))
    assert same.returncode == 2 and "the same database" in same.stderr, same.stderr
    bad = _cli("db", "copy", "--from", db, "--to", "postgresql://u:s3cret@127.0.0.1:99999/x")
    assert bad.returncode == 2 and "'--to'" in bad.stderr and "s3cret" not in bad.stderr, bad.stderr

    # SQLite to SQLite works too (a copy to check before the move): a line per table and a total.
    done = _cli("db", "copy", "--from", db, "--to", str(tmp_path / "copy.db"))
    assert done.returncode == 0, done.stderr
    assert "items" in done.stdout and f"rows from {db} to {tmp_path / 'copy.db'}" in done.stdout, done.stdout
