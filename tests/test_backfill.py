from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT, write
from watcher.cli import main
from watcher.store.sqlite import Store

RULES = """
rules:
  - id: shells
    title: Shells
    match: [artillery shells]
  - id: drones
    match: [drones]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path / "rules" / "r.yaml", RULES)
    write(tmp_path / "watcher.yaml", "database: w.db\nrules: rules\nseeds: [docs]\n")
    write(tmp_path / "docs" / "a.txt", "Shells\n\nArtillery shells arrived by train overnight at the depot.\n")
    write(tmp_path / "docs" / "b.txt", "Drones\n\nDrones were seen over the harbour on Tuesday night.\n")
    write(tmp_path / "docs" / "c.txt", "Weather\n\nRain is expected for most of the week ahead.\n")
    return tmp_path


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def db_rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_backfill_records_alerts_without_sending(project: Path) -> None:
    code, out = cli("backfill", "--config", str(project / "watcher.yaml"), str(project / "docs"))
    assert code == 0, out
    assert "3 items read, 0 skipped" in out
    assert "items: 3 new, 0 duplicate" in out
    assert "alerts: 2 recorded, not sent" in out
    assert db_rows(project / "w.db", "SELECT rule_id, state FROM alerts ORDER BY rule_id") == [
        ("drones", "suppressed"),
        ("shells", "suppressed"),
    ]


def test_rerun_adds_nothing(project: Path) -> None:
    cli("backfill", "--config", str(project / "watcher.yaml"), str(project / "docs"))
    code, out = cli("backfill", "--config", str(project / "watcher.yaml"), str(project / "docs"))
    assert code == 0
    assert "items: 0 new, 3 duplicate" in out and "alerts: 0" in out
    assert db_rows(project / "w.db", "SELECT count(*) FROM alerts") == [(2,)]


def test_backfill_defaults_to_configured_seed_directories(project: Path) -> None:
    code, out = cli("backfill", "--config", str(project / "watcher.yaml"))
    assert code == 0 and "3 items read" in out


def test_notify_queues_alerts_as_pending(project: Path) -> None:
    cli("backfill", "--notify", "--config", str(project / "watcher.yaml"), str(project / "docs"))
    assert {r[0] for r in db_rows(project / "w.db", "SELECT state FROM alerts")} == {"pending"}


def test_dry_run_writes_nothing(project: Path) -> None:
    code, out = cli("backfill", "--dry-run", "--config", str(project / "watcher.yaml"), str(project / "docs"))
    assert code == 0 and "alerts: 2 dry run: nothing was written" in out
    assert not (project / "w.db").exists()
    cli("backfill", "--config", str(project / "watcher.yaml"), str(project / "docs"))
    before = (project / "w.db").read_bytes()
    write(project / "docs" / "d.txt", "More\n\nMore drones today.\n")
    code, out = cli("backfill", "--dry-run", "--config", str(project / "watcher.yaml"), str(project / "docs"))
    assert "items: 1 new, 3 duplicate" in out
    assert (project / "w.db").read_bytes() == before


def test_since_skips_older_items(project: Path) -> None:
    old = project / "docs" / "a.txt"
    os.utime(old, (0, 0))
    code, out = cli(
        "backfill", "--since", "2000-01-01", "--config", str(project / "watcher.yaml"), str(project / "docs")
    )
    assert code == 0
    assert "skipped 1: older than --since" in out and "items: 2 new" in out
    code, out = cli("backfill", "--since", "yesterday-ish", "--config", str(project / "watcher.yaml"))
    assert code == 2 and "not a date" in out


def test_summary_counts_skips_with_reasons(project: Path) -> None:
    (project / "docs" / "bin.txt").write_bytes(b"\x00\x01")
    (project / "docs" / "empty.md").write_bytes(b"")
    _, out = cli("backfill", "--config", str(project / "watcher.yaml"), str(project / "docs"))
    assert "skipped 1: binary file" in out and "skipped 1: empty file" in out


def test_invalid_rules_stop_backfill_before_anything_is_stored(project: Path) -> None:
    write(project / "rules" / "bad.yaml", "rules:\n  - id: x\n    match: [{entity: nope}]\n")
    result = subprocess.run(
        [sys.executable, "-m", "watcher", "backfill", "--config", str(project / "watcher.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "bad.yaml:3 rules[0].match[0].entity: unknown entity 'nope'" in result.stderr
    assert not (project / "w.db").exists()


def test_quickstart_on_shipped_seeds(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("WATCHER_CONFIG", "")
    db = tmp_path / "w.db"
    write(tmp_path / "w.yaml", f"database: {db}\nrules: {ROOT / 'rules'}\nseeds: [{ROOT / 'seeds'}]\n")
    code, out = cli("backfill", "--config", str(tmp_path / "w.yaml"), "seeds/")
    assert code == 0, out
    assert "dprk-ukraine-arms" in out and "0 skipped" in out


# crashes ------------------------------------------------------------------------------------------------


def _corpus(root: Path, n: int) -> None:
    root.mkdir()
    for i in range(n):
        topic = "artillery shells" if i % 7 == 0 else ("drones" if i % 11 == 0 else "the weather")
        (root / f"{i:05d}.txt").write_text(f"Report {i}\n\nDocument {i} is about {topic} and nothing else {i}.\n")


def _run_backfill(config: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "watcher", "backfill", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A pytest started in the background inherits SIGINT ignored; the child gets the default back, as a
        # terminal's Ctrl-C would find it.
        preexec_fn=_default_sigint,  # noqa: PLW1509
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _count(db: Path) -> int:
    try:
        return db_rows(db, "SELECT count(*) FROM items")[0][0]
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_backfill_rerun_loses_and_duplicates_nothing(tmp_path: Path, sig: int) -> None:
    n = 6000
    write(tmp_path / "rules" / "r.yaml", RULES)
    _corpus(tmp_path / "docs", n)
    write(tmp_path / "crash.yaml", "database: crash.db\nrules: rules\nseeds: [docs]\n")
    write(tmp_path / "clean.yaml", "database: clean.db\nrules: rules\nseeds: [docs]\n")

    proc = _run_backfill(tmp_path / "crash.yaml")
    deadline = time.monotonic() + 60
    while _count(tmp_path / "crash.db") < 500 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    stored = _count(tmp_path / "crash.db")
    assert 0 < stored < n, "the backfill was not interrupted mid-run"
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "interrupted" in err

    rerun = _run_backfill(tmp_path / "crash.yaml")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert f"{n - stored} new, {stored} duplicate" in out
    clean = _run_backfill(tmp_path / "clean.yaml")
    clean.communicate(timeout=120)

    query = "SELECT a.rule_id, i.path FROM alerts a JOIN items i ON i.id = a.item_id ORDER BY 1, 2"
    assert db_rows(tmp_path / "crash.db", query) == db_rows(tmp_path / "clean.db", query)
    assert db_rows(tmp_path / "crash.db", "SELECT count(*), count(DISTINCT path) FROM items") == [(n, n)]
    assert db_rows(tmp_path / "crash.db", "PRAGMA integrity_check") == [("ok",)]


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["alerts", "list"],
        ["items", "search", "shells"],
        ["items", "show", "1"],
        ["stories", "list"],
        ["feeds", "list"],
        ["feeds", "export"],
    ],
)
def test_read_only_commands_never_create_a_database(tmp_path: Path, monkeypatch, command: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WATCHER_CONFIG", raising=False)
    result = subprocess.run(
        [sys.executable, "-m", "watcher", *command], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: no database at {tmp_path / 'watcher.db'}: run backfill or poll first, or pass --config"
    ]
    assert list(tmp_path.iterdir()) == []


def test_one_file_is_one_item_however_its_path_is_typed(project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project)
    monkeypatch.delenv("WATCHER_CONFIG", raising=False)
    assert cli("backfill", "--config", str(project / "watcher.yaml"))[0] == 0  # the configured seeds: docs
    code, out = cli("backfill", "--config", str(project / "watcher.yaml"), "docs/")
    assert code == 0 and "items: 0 new, 3 duplicate" in out
    code, out = cli("backfill", "--config", str(project / "watcher.yaml"), "./docs/../docs")
    assert "items: 0 new, 3 duplicate" in out
    assert db_rows(project / "w.db", "SELECT count(*) FROM items") == [(3,)]


def test_relative_document_keys_of_an_older_database_become_absolute(tmp_path: Path) -> None:
    from watcher.store.migrations import migrations

    db_path = tmp_path / "w.db"
    store = Store.open(db_path)
    sid = store.source_id("docs")
    with store.write() as conn:
        for key in ("path:docs/a.txt", f"path:{tmp_path}/docs/b.txt", "path:docs/b.txt"):
            conn.execute(
                "INSERT INTO items (source_id, key, text_hash, first_seen, updated_at) VALUES (?, ?, 'h', 'x', 'x')",
                (sid, key),
            )
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm006_absolute_document_keys'")
    migrations.apply(store.db)
    keys = sorted(r[0] for r in store.conn.execute("SELECT key FROM items"))
    store.close()
    # a.txt's key is made absolute; b.txt was stored both ways: its relative copy stays as it is.
    assert keys == [f"path:{tmp_path}/docs/a.txt", f"path:{tmp_path}/docs/b.txt", "path:docs/b.txt"]


def test_backfill_json(project: Path) -> None:
    code, out = cli("backfill", "--json", "--config", str(project / "watcher.yaml"))
    record = json.loads(out)
    assert code == 0 and (record["new"], record["alerts"], record["hits"]) == (3, 2, {"shells": 1, "drones": 1})
    assert record["database"] == str(project / "w.db") and record["delivery"] is None


def test_backfill_ends_with_what_matched_where_it_is_and_what_next(project: Path) -> None:
    code, out = cli("backfill", "--config", str(project / "watcher.yaml"))
    assert code == 0
    lines = out.splitlines()
    assert any(line.split() == ["shells", "1", str(project / "docs" / "a.txt")] for line in lines), out
    assert f"database: {project / 'w.db'}" in lines
    assert f"next: watcher alerts list --config {project / 'watcher.yaml'}" in lines
    serve = f"      watcher serve --config {project / 'watcher.yaml'}  (the dashboard, on http://127.0.0.1:8080/)"
    assert serve in lines
