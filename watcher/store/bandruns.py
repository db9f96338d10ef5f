"""The story index's newest band keys: runs, one per batch, that wait to be merged into story_bands.

A batch's band keys are written as one run (two blobs: the keys in order, and their slots) instead of a row
each in a b-tree: a batch's 11,000 random keys dirtied most pages of that b-tree at every commit. Runs never
change once written; every MERGE_EVERY items (or MAX_RUNS runs, a daemon's batches being small) they are
merged into story_bands in key order and dropped. A store keeps the runs it has read as one sorted array
(`RunCache`), so a batch reads only the runs written since the last and finds its keys by binary search.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ROWS_PER_ITEM = 64  # a slot is item id * ROWS_PER_ITEM + band number
# Items in runs before they are merged (at 22 keys of 16 bytes, 1.8 MB in memory), and runs however few.
MERGE_EVERY = 5000
MAX_RUNS = 32
MERGE_ROWS = 250  # rows per statement when runs are merged (twice as many parameters: under SQLite's oldest limit)
INT64 = np.dtype("<i8")  # how a run's keys and slots are stored


def _empty() -> Any:
    return np.empty(0, dtype=INT64)


@dataclass
class RunCache:
    """The runs not merged yet, as read by one store: their ids, and all their keys in one sorted array with
    the item of each. Run ids are never used twice (AUTOINCREMENT, identity), so runs already read are known
    by their ids; when one of them is gone (merged, pruned) the cache is read again from the start."""

    ids: list[int] = field(default_factory=list)
    keys: Any = field(default_factory=_empty)
    items: Any = field(default_factory=_empty)

    def refresh(self, conn: sqlite3.Connection) -> None:
        """Read the runs written since the last refresh (inside the transaction that will search them)."""
        ids = [int(row[0]) for row in conn.execute("SELECT id FROM story_band_runs ORDER BY id")]
        if ids[: len(self.ids)] != self.ids:
            self.ids, self.keys, self.items = [], _empty(), _empty()
        if len(ids) == len(self.ids):
            return
        first_new = ids[len(self.ids)]
        for run_keys, run_slots in conn.execute(
            "SELECT keys, slots FROM story_band_runs WHERE id >= ? ORDER BY id", (first_new,)
        ):
            keys = np.frombuffer(run_keys, dtype=INT64)
            items = np.frombuffer(run_slots, dtype=INT64) // ROWS_PER_ITEM
            # Both sorted: each new key goes where it belongs (after its equals), in one pass.
            where = np.searchsorted(self.keys, keys, side="right")
            self.keys = np.insert(self.keys, where, keys)
            self.items = np.insert(self.items, where, items)
        self.ids = ids

    def search(self, wanted: Sequence[int], found: dict[int, list[int]]) -> None:
        """Add to `found` the items of the runs with each of the `wanted` keys (in ascending order)."""
        if not len(self.keys) or not wanted:
            return
        sought = np.array(wanted, dtype=INT64)
        first = np.searchsorted(self.keys, sought, side="left")
        last = np.searchsorted(self.keys, sought, side="right")
        for i in np.flatnonzero(last > first).tolist():
            found.setdefault(wanted[i], []).extend(self.items[first[i] : last[i]].tolist())


def write_run(
    conn: sqlite3.Connection, keys: Sequence[int], slots: Sequence[int], items: int, last_item_id: int
) -> None:
    """Write the band keys of a batch's `items` as one run; merge the runs once they hold MERGE_EVERY items
    or are MAX_RUNS."""
    key_array = np.array(keys, dtype=INT64)
    order = np.argsort(key_array, kind="stable")
    conn.execute(
        "INSERT INTO story_band_runs (last_item_id, items, keys, slots) VALUES (?, ?, ?, ?)",
        (last_item_id, items, key_array[order].tobytes(), np.array(slots, dtype=INT64)[order].tobytes()),
    )
    runs, waiting = conn.execute("SELECT count(*), coalesce(sum(items), 0) FROM story_band_runs").fetchone()
    if int(waiting) >= MERGE_EVERY or int(runs) >= MAX_RUNS:
        merge_runs(conn)


def merge_runs(conn: sqlite3.Connection) -> None:
    """Move the band keys of every run into story_bands, in key order, and drop the runs."""
    runs = conn.execute("SELECT id, keys, slots FROM story_band_runs ORDER BY id").fetchall()
    if not runs:
        return
    keys = np.concatenate([np.frombuffer(run[1], dtype=INT64) for run in runs])
    slots = np.concatenate([np.frombuffer(run[2], dtype=INT64) for run in runs])
    order = np.lexsort((slots, keys))
    # Rows as (key, slot, key, slot, ...), MERGE_ROWS to a statement: a third faster than a row at a time.
    flat = np.empty(2 * len(order), dtype=INT64)
    flat[0::2], flat[1::2] = keys[order], slots[order]
    values = flat.tolist()
    whole = len(values) // (2 * MERGE_ROWS) * 2 * MERGE_ROWS
    if whole:
        conn.executemany(
            _merge_statement(MERGE_ROWS),
            (values[start : start + 2 * MERGE_ROWS] for start in range(0, whole, 2 * MERGE_ROWS)),
        )
    if whole < len(values):
        conn.execute(_merge_statement((len(values) - whole) // 2), values[whole:])
    conn.execute("DELETE FROM story_band_runs WHERE id <= ?", (int(runs[-1][0]),))


def _merge_statement(rows: int) -> str:
    marks = ",".join(["(?, ?)"] * rows)  # placeholders only: every value is a bound parameter
    return f"INSERT INTO story_bands (key, slot) VALUES {marks} ON CONFLICT DO NOTHING"  # noqa: S608
