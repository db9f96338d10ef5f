"""Stories in the database: each new item joins the story of a near copy stored within the window, or
starts its own. The LSH index lives in tables (story_index, story_bands), pruned past the window, so the
process holds nothing however long the history; see `watcher.items.stories` for how copies are judged.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from watcher.config.model import Stories
from watcher.items.model import Item
from watcher.items.stories import Fingerprint, fingerprint, related, story_text

ROWS_PER_ITEM = 64  # story_bands rowid = item id * ROWS_PER_ITEM + band number
CANDIDATES = 8  # stored items sharing the most band keys, judged on their texts, best first


@dataclass(frozen=True)
class Placed:
    """Where an item went: its story, and whether that story existed (the item is a later copy)."""

    story_id: int
    joined: bool


def place(conn: sqlite3.Connection, item_id: int, item: Item, settings: Stories, now: str) -> Placed:
    """Put a newly stored item in a story (inside the transaction that stores it)."""
    at = item.published.timestamp() if item.published else time.time()
    fp = fingerprint(story_text(item))
    if fp.usable:
        keys = fp.band_keys()
        for story_id in _candidates(conn, keys, at, settings.window, fp):
            conn.execute("UPDATE items SET story_id = ? WHERE id = ?", (story_id, item_id))
            conn.execute(
                "UPDATE stories SET size = size + 1, last_seen = max(last_seen, ?) WHERE id = ?", (now, story_id)
            )
            _index(conn, item_id, at, keys)
            return Placed(story_id, True)
    story_id = _new_story(conn, item_id, item, now)
    if fp.usable:
        _index(conn, item_id, at, fp.band_keys())
    return Placed(story_id, False)


def join(conn: sqlite3.Connection, item_id: int, copy_of: int, item: Item, now: str) -> Placed:
    """Put an exact copy of a stored item in that item's story."""
    row = conn.execute("SELECT story_id FROM items WHERE id = ?", (copy_of,)).fetchone()
    if row is None or row[0] is None:
        return Placed(_new_story(conn, item_id, item, now), False)
    story_id = int(row[0])
    conn.execute("UPDATE items SET story_id = ? WHERE id = ?", (story_id, item_id))
    conn.execute("UPDATE stories SET size = size + 1, last_seen = max(last_seen, ?) WHERE id = ?", (now, story_id))
    return Placed(story_id, True)


def prune(conn: sqlite3.Connection, window: float) -> int:
    """Drop the index entries of items indexed longer ago than the window; how many items went."""
    cutoff = time.time() - window
    first_kept = conn.execute(
        "SELECT item_id FROM story_index WHERE indexed_at >= ? ORDER BY item_id LIMIT 1", (cutoff,)
    ).fetchone()
    bound = int(first_kept[0]) if first_kept else None
    if bound is None:
        top = conn.execute("SELECT max(item_id) FROM story_index").fetchone()
        if top is None or top[0] is None:
            return 0
        bound = int(top[0]) + 1
    gone = conn.execute("DELETE FROM story_index WHERE item_id < ?", (bound,)).rowcount
    if gone:
        conn.execute("DELETE FROM story_bands WHERE rowid < ?", (bound * ROWS_PER_ITEM,))
    return int(gone)


def _candidates(conn: sqlite3.Connection, keys: list[int], at: float, window: float, fp: Fingerprint) -> list[int]:
    """The stories of stored items within the window that the new item is a copy or excerpt of (best first:
    at most one, the first whose text agrees)."""
    marks = ",".join("?" * len(keys))  # placeholders only: every value is a bound parameter
    rows = conn.execute(
        f"SELECT rowid / ? AS item_id, count(*) AS hits FROM story_bands WHERE key IN ({marks}) "  # noqa: S608
        "GROUP BY item_id ORDER BY hits DESC, item_id LIMIT ?",
        (ROWS_PER_ITEM, *keys, CANDIDATES),
    ).fetchall()
    for item_id, _ in rows:
        found = conn.execute(
            "SELECT items.story_id, items.content, items.summary, story_index.at FROM items "
            "JOIN story_index ON story_index.item_id = items.id WHERE items.id = ?",
            (item_id,),
        ).fetchone()
        if found is None or found[0] is None or abs(at - float(found[3])) > window:
            continue
        content, summary = found[1], found[2]
        old = fingerprint(content if len(content) >= len(summary) else summary, signatures=False)
        if related(fp, old):
            return [int(found[0])]
    return []


def _new_story(conn: sqlite3.Connection, item_id: int, item: Item, now: str) -> int:
    cur = conn.execute(
        "INSERT INTO stories (first_item_id, title, first_seen, last_seen, size) VALUES (?, ?, ?, ?, 1)",
        (item_id, item.title, now, now),
    )
    story_id = int(cur.lastrowid or 0)
    conn.execute("UPDATE items SET story_id = ? WHERE id = ?", (story_id, item_id))
    return story_id


def _index(conn: sqlite3.Connection, item_id: int, at: float, keys: list[int]) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO story_index (item_id, at, indexed_at) VALUES (?, ?, ?)", (item_id, at, time.time())
    )
    base = item_id * ROWS_PER_ITEM
    conn.executemany(
        "INSERT OR REPLACE INTO story_bands (rowid, key) VALUES (?, ?)", [(base + i, k) for i, k in enumerate(keys)]
    )
