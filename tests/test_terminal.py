"""Output at a terminal: tables with headers, colour unless NO_COLOR, relative times, progress bars."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import write
from watcher.cli.terminal import relative


def at_a_terminal(args: list[str], env: dict[str, str] | None = None) -> str:
    """What a command writes to a terminal (a pseudo-terminal), stdout and stderr together."""
    master, slave = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    environ |= {"TERM": "xterm", "COLUMNS": "200", **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=environ
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the other side closed
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def project(tmp_path: Path) -> Path:
    write(tmp_path / "rules" / "r.yaml", "rules:\n  - id: shells\n    match: [artillery shells]\n")
    for i in range(3):
        write(tmp_path / "docs" / f"{i}.txt", f"Report {i}\n\nArtillery shells moved by rail, report {i}.\n")
    return write(tmp_path / "watcher.yaml", "database: w.db\nrules: rules\nseeds: [docs]\n")


def test_a_terminal_gets_tables_with_headers_colour_and_relative_times(tmp_path: Path) -> None:
    cfg = project(tmp_path)
    out = at_a_terminal(["backfill", "--config", str(cfg)])
    assert "backfill" in out and "3/3" in out  # the bar's label and its total
    out = at_a_terminal(["alerts", "list", "--config", str(cfg)])
    assert "ID" in out and "CREATED" in out and "RULE" in out and "STATE" in out
    assert "\x1b[" in out  # colour
    assert " ago)" in out  # a relative time beside the ISO one
    out = at_a_terminal(["feeds", "list", "--config", str(cfg)], env={"NO_COLOR": "1"})
    assert "HEALTH" in out and "docs" in out and "\x1b[" not in out


def test_relative_times() -> None:
    now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert relative("2026-11-30T07:57:00+00:00", now) == "2026-11-30T07:57:00+00:00 (3 min ago)"
    assert relative("2026-11-28T08:00:00+00:00", now).endswith("(2 days ago)")
    assert relative("2026-11-30T09:00:00+00:00", now).endswith("(in 1 h)")
    assert relative(None, now) == "never"
