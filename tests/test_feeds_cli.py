from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import database_line, store_of, write
from watcher.cli import main

OPML = """<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY x "xxxxxxxxxx">]>
<opml version="2.0"><head><title>mine</title></head><body>
  <outline text="News"><outline text="World desk" title="World desk" type="rss" xmlUrl="https://example.org/world.xml"/>
  <outline text="Tech" xmlUrl="https://example.org/tech.xml"/></outline>
  <outline text="no url"/>
</body></opml>
"""

# Each test on SQLite, and on PostgreSQL where WATCHER_TEST_POSTGRES is set.
pytestmark = pytest.mark.usefixtures("on_each_database")


def cli(*args: str) -> tuple[int, str]:
    """Exit code and output; a library error (printed by the entry point in real use) counts as output."""
    result = CliRunner().invoke(main, list(args))
    error = "" if result.exception is None or isinstance(result.exception, SystemExit) else str(result.exception)
    return result.exit_code, result.output + error


def config(tmp_path: Path) -> str:
    write(tmp_path / "rules" / "r.yaml", "rules:\n  - id: a\n    match: [x]\n")
    cfg = write(
        tmp_path / "watcher.yaml",
        f"{database_line(tmp_path)}rules: rules\nseeds: []\n"
        "feeds:\n  - {url: 'https://example.org/cfg.xml', name: cfg}\n",
    )
    return str(cfg)


def test_feeds_add_list_remove(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    assert cli(
        "feeds", "add", "--config", cfg, "--name", "extra", "--interval", "30m", "https://example.org/x.xml"
    ) == (
        0,
        "added extra: polled every 30m; a running daemon starts polling it within 5s\n",
    )
    code, out = cli("feeds", "list", "--config", cfg)
    assert code == 0
    assert "cfg  [new]  https://example.org/cfg.xml  every 900s" in out
    assert "extra  [new]  https://example.org/x.xml  every 1800s" in out
    code, out = cli("feeds", "add", "--config", cfg, "--name", "extra", "https://example.org/y.xml")
    assert code == 1 and "already exists" in out
    code, out = cli("feeds", "add", "--config", cfg, "ftp://example.org/z")
    assert code == 1 and "only http and https" in out
    code, out = cli("feeds", "remove", "--config", cfg, "cfg")
    assert code == 1 and "defined in watcher.yaml: remove it there" in out
    assert cli("feeds", "remove", "--config", cfg, "extra") == (0, "removed extra\n")
    records = [json.loads(line) for line in cli("feeds", "list", "--json", "--config", cfg)[1].splitlines()]
    assert [(r["name"], r["health"]) for r in records] == [("cfg", "new")]


def test_opml_import_and_export(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    opml = write(tmp_path / "subs.opml", OPML)
    code, out = cli("feeds", "import", "--config", cfg, str(opml))
    assert code == 0 and "imported 2 feeds" in out
    code, out = cli("feeds", "import", "--config", cfg, str(opml))
    assert "skipped: https://example.org/world.xml: already subscribed" in out and "imported 0 feeds" in out
    code, out = cli("feeds", "export", "--config", cfg)
    assert code == 0
    assert out.count("<outline ") == 3
    assert 'xmlUrl="https://example.org/world.xml"' in out and 'text="World-desk"' in out
    broken = write(tmp_path / "broken.opml", "<opml><body><outline")
    code, out = cli("feeds", "import", "--config", cfg, str(broken))
    assert code != 0
    assert f"{broken}:1: invalid OPML: unclosed token" in out
    code, out = cli("feeds", "list", "--config", cfg)
    assert out.count("[new]") == 3  # the broken file added nothing


def test_status_reads_the_database_alone(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    store_of(tmp_path).close()  # read-only commands never create the database
    cli("feeds", "list", "--config", cfg)
    code, out = cli("status", "--config", cfg)
    assert code == 0
    assert "items: 0; alerts: none" in out
    assert "outbox: 0 waiting (0 retrying), 0 sent, 0 given up" in out
    assert "cfg" in out and "new" in out
    data = json.loads(cli("status", "--json", "--config", cfg)[1])
    assert data["feeds"][0]["name"] == "cfg" and data["items"] == 0
