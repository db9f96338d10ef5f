"""The database as a dataset: the sqlite-utils CLI and datasette read it as it is."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import write
from watcher.cli import main

BIN = Path(sys.executable).parent


def project(tmp_path: Path) -> Path:
    write(tmp_path / "rules" / "r.yaml", "rules:\n  - id: shells\n    match: [artillery shells]\n")
    write(tmp_path / "docs" / "a.txt", "Shells by rail\n\nArtillery shells arrived by rail at the depot.\n")
    write(tmp_path / "docs" / "b.txt", "Weather\n\nRain for the rest of the week.\n")
    cfg = write(tmp_path / "watcher.yaml", "database: w.db\nrules: rules\nseeds: [docs]\n")
    assert CliRunner().invoke(main, ["poll", "--once", "--config", str(cfg)]).exit_code == 0
    return tmp_path / "w.db"


def test_sqlite_utils_searches_items_and_reads_the_views(tmp_path: Path) -> None:
    db = project(tmp_path)
    found = subprocess.run(
        [str(BIN / "sqlite-utils"), "search", str(db), "items", "artillery", "-c", "title"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(found.stdout) == [{"title": "Shells by rail"}]
    alerts = subprocess.run(
        [str(BIN / "sqlite-utils"), "rows", str(db), "alerts_detail"], capture_output=True, text=True, check=True
    )
    [row] = json.loads(alerts.stdout)
    assert (row["rule"], row["title"], row["source"]) == ("shells", "Shells by rail", "docs")
    health = subprocess.run(
        [str(BIN / "sqlite-utils"), "rows", str(db), "feed_health"], capture_output=True, text=True, check=True
    )
    assert [(r["name"], r["kind"], r["health"]) for r in json.loads(health.stdout)] == [("docs", "dir", "ok")]
    kinds = subprocess.run(
        [str(BIN / "sqlite-utils"), "query", str(db), "select name, kind, url from sources"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(kinds.stdout) == [{"name": "docs", "kind": "dir", "url": str(tmp_path / "docs")}]


def test_datasette_searches_the_items_table(tmp_path: Path) -> None:
    db = project(tmp_path)
    proc = subprocess.Popen(
        [str(BIN / "datasette"), "serve", str(db), "-h", "127.0.0.1", "-p", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = None
        assert proc.stderr is not None
        for line in proc.stderr:
            m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        assert port, "datasette did not say where it listens"
        url = f"http://127.0.0.1:{port}/w/items.json?_search=artillery&_shape=array&_col=title"
        with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 - loopback only
            rows = json.loads(r.read())
        assert [row["title"] for row in rows] == ["Shells by rail"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
