"""A batch's story candidates found ahead, in the worker that sketches it, while the batch before is stored.

A backfill sketches batch N in a worker process while its main process stores batch N-1 (see
`watcher.pipeline.Sketching`). On SQLite the same worker then looks the sketches' band keys up in
story_bands, on a read-only connection of its own, so that the main process only searches the runs (in
memory) and never probes the b-tree: at 100,000 items that lookup was the largest part of a story's cost.

What the worker read is one snapshot. story_bands changes only when runs are merged into it (or pruned),
so the snapshot still holds when the main process takes it if every run of the snapshot is still waiting
and every run written since is too (`Found.current`); otherwise the main process looks the keys up itself.
A look that fails in any way (the database busy, moved, not SQLite) is no look, and on PostgreSQL none is
made: the main process looks up, as it does without a worker.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from watcher.items.stories import Sketch, sketches
from watcher.store.bandruns import ROWS_PER_ITEM

LOOKUP_KEYS = 250  # band keys per lookup statement (twice as many parameters: under SQLite's oldest limit, 999)


@dataclass(frozen=True)
class Found:
    """What story_bands held for a batch's band keys (key -> items; keys no item has are left out), as read
    at one moment, and what marks that moment: the runs then waiting, and the last run id given out."""

    items: dict[int, list[int]]
    runs: tuple[int, ...]
    last_run: int

    def current(self, conn: sqlite3.Connection, runs: Sequence[int]) -> bool:
        """Whether story_bands is as read (inside the transaction that uses it, `runs` being the runs now
        waiting): no run has gone since, neither one then waiting nor one written after (ids are given in
        order and never twice; a gap in them is taken as a run gone)."""
        waiting = set(runs)
        if not waiting.issuperset(self.runs):
            return False
        return last_run(conn) - self.last_run == sum(1 for run in waiting if run > self.last_run)


@dataclass(frozen=True)
class Ahead:
    """A batch's story sketches (one per text, in order), made in a worker, and what story_bands held for
    their keys when it could be read there."""

    sketches: list[Sketch] = field(default_factory=list)
    found: Found | None = None


def sketch_and_find(texts: list[str], database: str | None) -> tuple[Ahead, int]:
    """The sketches of `texts` and, given a SQLite database file, what story_bands holds for their keys.

    Run in a sandboxed worker (`ParsePool.run`): the answer is the value and no item cut."""
    made = sketches(texts)
    found = None
    if database is not None:
        try:
            found = find(Path(database), (key for sketch in made for key in sketch.keys))
        except sqlite3.Error:
            found = None
    return Ahead(made, found), 0


def find(database: Path, keys: Iterable[int]) -> Found:
    """Read story_bands for these keys, and the runs waiting, in one read transaction (a snapshot)."""
    conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("BEGIN")
        runs = tuple(int(row[0]) for row in conn.execute("SELECT id FROM story_band_runs ORDER BY id"))
        found = Found(lookup(conn, sorted(set(keys))), runs, last_run(conn))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return found


def last_run(conn: sqlite3.Connection) -> int:
    """The last run id SQLite gave out (AUTOINCREMENT keeps it), 0 before the first."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'story_band_runs'").fetchone()
    return int(row[0]) if row else 0


def lookup(conn: sqlite3.Connection, wanted: Sequence[int]) -> dict[int, list[int]]:
    """The items in story_bands with each of these band keys (distinct, in ascending order; keys no item has
    are left out), LOOKUP_KEYS keys a statement (bound lists beat a JSON array, which SQLite sorts into a
    temporary index)."""
    found: dict[int, list[int]] = {}
    for start in range(0, len(wanted), LOOKUP_KEYS):
        part = wanted[start : start + LOOKUP_KEYS]
        marks = ",".join("?" * len(part))  # placeholders only: every value is a bound parameter
        for key, slot in conn.execute(f"SELECT key, slot FROM story_bands WHERE key IN ({marks})", part):  # noqa: S608
            found.setdefault(int(key), []).append(int(slot) // ROWS_PER_ITEM)
    return found
