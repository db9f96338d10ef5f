"""Hostile documents: read in the sandboxed workers, within a deadline and a memory limit, nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import run_measured, write
from tests.hostile.files import hostile_documents
from watcher.errors import ReadError
from watcher.sources.read import Skipped, read_paths
from watcher.sources.sandbox import ParsePool

RULES = "rules:\n  - id: shells\n    title: Shells\n    match: {all: [artillery shells, North Korean]}\n"
SLOW_HTML = b"<meta " * 20_000  # html.parser is quadratic on unclosed tags: ~30 s in one process


def test_hostile_documents_match_quickly_with_bounded_memory(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    hostile_documents(docs)
    write(tmp_path / "rules" / "r.yaml", RULES)
    started = time.monotonic()
    done = run_measured(
        [sys.executable, "-m", "watcher", "match", "--rules", str(tmp_path / "rules"), str(docs)], timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 20
    assert done.peak_mb < 400, done.peak_mb
    assert "shells [medium]" in done.stdout and "good.txt" in done.stdout
    assert "Traceback" not in done.stderr
    # Each hostile file is skipped with one located reason, or read as the text it is.
    assert "laughs.md: front matter, line 2: YAML aliases repeat more than" in done.stderr
    assert "nested.json: nested too deeply to parse" in done.stderr


def test_hostile_documents_each_skipped_or_read_in_the_pool(tmp_path: Path) -> None:
    paths = hostile_documents(tmp_path)
    with ParsePool(2, deadline=10) as pool:
        results = list(read_paths([tmp_path], reader=pool.read, ahead=2))
    skipped = {r.path.name: r.reason for r in results if isinstance(r, Skipped)}
    read = {Path(r.path or "").name for r in results if not isinstance(r, Skipped)}
    assert set(paths) == set(skipped) | read
    assert "good.txt" in read and "brackets.md" in read and "heading.md" in read
    assert skipped["laughs.md"].startswith("front matter, line 2: YAML aliases repeat more than 10000 nodes")
    assert skipped["nested.json"] == "nested too deeply to parse"


def read_in_background(pool: ParsePool, path: Path) -> tuple[threading.Thread, list[str]]:
    """Start reading `path` in the pool on another thread; the errors it raises are collected."""
    errors: list[str] = []

    def read() -> None:
        try:
            pool.read(path, path.read_bytes(), "s")
        except ReadError as e:
            errors.append(str(e))

    thread = threading.Thread(target=read)
    thread.start()
    time.sleep(0.5)
    return thread, errors


def test_slow_parse_is_killed_alone_while_other_parses_finish(tmp_path: Path) -> None:
    slow = tmp_path / "slow.html"
    slow.write_bytes(SLOW_HTML)
    # Markdown, not plain text: it is parsed in a worker, the one the slow file leaves free.
    good = tmp_path / "good.md"
    good.write_bytes(b"# Title\n\nbody text\n")
    with ParsePool(2, deadline=3) as pool:
        thread, errors = read_in_background(pool, slow)
        # The other worker keeps serving while the slow one runs, and after it is killed.
        for _ in range(5):
            assert pool.read(good, good.read_bytes(), "s")[0].title == "Title"
        thread.join(timeout=10)
        assert errors == [f"{slow}: parsing took longer than 3s"]
        assert pool.read(good, good.read_bytes(), "s")[0].content == "body text"


def test_time_waiting_for_a_worker_is_not_counted_against_the_deadline(tmp_path: Path) -> None:
    # Eight parses of ~0.3 s each on one worker: the last waits ~2 s, far past a 1 s deadline, and passes.
    body = b"<rss><channel>" + b"<item><title>t</title><description>words here</description></item>" * 3000
    body += b"</channel></rss>"
    with ParsePool(1, deadline=5) as pool:
        started = time.monotonic()
        pool.parse(body, source="s", url="u", headers={})
        single = time.monotonic() - started
        pool.deadline = max(1.0, single * 2.5)
        failures: list[str] = []

        def parse() -> None:
            try:
                pool.parse(body, source="s", url="u", headers={})
            except ReadError as e:
                failures.append(str(e))

        threads = [threading.Thread(target=parse) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert failures == []


def test_a_huge_item_is_cut_in_the_worker(tmp_path: Path) -> None:
    body = b'<rss version="2.0"><channel><item><guid>1</guid><description>' + b"word " * 400_000
    body += b"</description></item></channel></rss>"
    with ParsePool(1, deadline=60, max_item_chars=100_000) as pool:
        [item] = pool.parse(body, source="s", url="http://example.org/f", headers={})
    assert item.guid == "1" and len(item.summary) == 100_000


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups")
def test_ctrl_c_on_the_process_group_prints_no_worker_traceback(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3000):
        (docs / f"{i:05}.txt").write_text(f"Title {i}\n\nNorth Korean artillery shells, report {i}.\n")
    write(tmp_path / "rules" / "r.yaml", RULES)
    write(tmp_path / "watcher.yaml", "database: w.db\nrules: rules\nseeds: [docs]\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "backfill", "--config", str(tmp_path / "watcher.yaml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # SIGINT must reach the child as a terminal would deliver it, whatever pytest inherited.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    time.sleep(2.5)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert "interrupted" in err or proc.returncode == 0
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


def test_closing_the_pool_while_a_worker_is_busy_is_clean(tmp_path: Path) -> None:
    slow = tmp_path / "slow.html"
    slow.write_bytes(SLOW_HTML)
    for _ in range(3):
        pool = ParsePool(1, deadline=30)
        thread, errors = read_in_background(pool, slow)
        pool.close()  # the stop of a daemon whose worker is mid-parse: no exception here
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert errors == [f"{slow}: the parser process died"]
