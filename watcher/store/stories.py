"""Stories in the database: each new item joins the story of a near copy stored within the window, or
starts its own. The LSH index lives in tables (story_index, story_bands, and the newest keys in
story_band_runs: see `watcher.store.bandruns`), pruned past the window, so the process holds nothing however
long the history; see `watcher.items.stories` for how copies are judged.

A batch of items is placed in one transaction: its band keys are written when it ends, as one run, and the
batch's own items are candidates for its later ones.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from watcher.config.model import Stories
from watcher.items.model import Item
from watcher.items.stories import (
    ESTIMATE_FLOOR,
    LEAD_ESTIMATE_FLOOR,
    Fingerprint,
    Sketch,
    fingerprint,
    related,
    story_text,
)
from watcher.store.bandruns import ROWS_PER_ITEM, RunCache, write_run
from watcher.store.lookahead import Found, lookup

CANDIDATES = 8  # stored items sharing the most band keys, judged on their texts, best first
# Pruning scans the band table, so it waits until the oldest entry is this much of a window past due.
PRUNE_SLACK = 0.1


@dataclass(frozen=True)
class Placed:
    """Where an item went: its story, and whether that story existed (the item is a later copy)."""

    story_id: int
    joined: bool


@dataclass
class StoryBatch:
    """Places the items of one ingest transaction in stories.

    With `sketches` (the batch's, computed ahead, in another process), the band keys of the whole batch are
    looked up together, at the first item placed, instead of item by item: the index does not change until
    `flush`, and the batch's own items are found in memory. With `found` as well (what story_bands held for
    those keys, read by the worker that made them: see `watcher.store.lookahead`), only the runs are searched
    here, while that read still holds.
    """

    conn: sqlite3.Connection
    settings: Stories
    sketches: Sequence[Sketch | None] = ()
    found: Found | None = None
    _keys: dict[int, int] = field(default_factory=dict)  # band key -> the last item of this batch with it
    _at: dict[int, tuple[float, bytes]] = field(default_factory=dict)  # item id -> time, signatures (batch)
    _band_keys: list[int] = field(default_factory=list)  # the batch's band keys, and the slot of each
    _band_slots: list[int] = field(default_factory=list)
    _indexed: list[tuple[int, float, float, bytes]] = field(default_factory=list)
    # New stories (id, first item, title, first seen, last seen), written together: see `_new_story`.
    _new_stories: list[tuple[int, int, str, str, str]] = field(default_factory=list)
    _stored: dict[int, list[int]] | None = None  # band key -> stored items with it, for the batch's sketches
    runs: RunCache = field(default_factory=RunCache)  # the runs not merged yet (the store keeps it)
    _runs_read: bool = False

    def place(self, item_id: int, item: Item, now: str, sketched: Sketch | None = None) -> Placed:
        """Put a newly stored item in a story: the story of the first candidate whose text agrees."""
        at = item.published.timestamp() if item.published else time.time()
        text = story_text(item)
        fp = None  # given a sketch, the text's fingerprint is made only if a candidate comes close
        if sketched is None:
            fp = fingerprint(text)
            sketched = fp.sketch()
        if not sketched.usable:
            return Placed(self._new_story(item_id, item, now), False)
        story_id = self._find(sketched, at, text, fp)
        if story_id is None:
            placed = Placed(self._new_story(item_id, item, now), False)
        else:
            self._add_to(story_id, item_id, now)
            placed = Placed(story_id, True)
        self._index(item_id, at, sketched.keys, sketched.packed)
        return placed

    def join(self, item_id: int, copy_of: int, item: Item, now: str) -> Placed:
        """Put an exact copy of a stored item in that item's story."""
        self._settle()
        row = self.conn.execute("SELECT story_id FROM items WHERE id = ?", (copy_of,)).fetchone()
        if row is None or row[0] is None:
            return Placed(self._new_story(item_id, item, now), False)
        self._add_to(int(row[0]), item_id, now)
        return Placed(int(row[0]), True)

    def flush(self) -> None:
        """Write the batch's index entries (inside its transaction): its items, and their band keys as a run;
        merge the runs into story_bands once they hold MERGE_EVERY items, or MAX_RUNS runs."""
        self._settle()
        if self._indexed:
            conn = self.conn
            conn.executemany(
                "INSERT INTO story_index (item_id, at, indexed_at, signature) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (item_id) DO UPDATE SET at = excluded.at, indexed_at = excluded.indexed_at, "
                "signature = excluded.signature",
                self._indexed,
            )
            last = max(row[0] for row in self._indexed)
            write_run(conn, self._band_keys, self._band_slots, len(self._indexed), last)
        self._keys.clear()
        self._at.clear()
        self._band_keys.clear()
        self._band_slots.clear()
        self._indexed.clear()
        self._stored = None
        self._runs_read = False

    def _candidates(self, keys: Sequence[int]) -> list[int]:
        """Items sharing band keys with these, once per key shared: stored ones (of earlier batches) and
        the batch's own."""
        if self.sketches:
            if self._stored is None:
                keys_ahead = {key for s in self.sketches if s is not None for key in s.keys}
                self._stored = self._lookup(keys_ahead, self.found)
            stored = self._stored
        else:
            stored = self._lookup(keys)
        pending = self._keys
        found = [item_id for key in keys if key in stored for item_id in stored[key]]
        found += [pending[key] for key in keys if key in pending]
        return found

    def _lookup(self, keys: Iterable[int], ahead: Found | None = None) -> dict[int, list[int]]:
        """The stored items with each of these band keys (keys no item has are left out): in story_bands
        (as read `ahead` while that still holds, else here), and in the runs, in memory."""
        wanted = sorted(set(keys))
        if not self._runs_read:
            self.runs.refresh(self.conn)
            self._runs_read = True
        if ahead is not None and ahead.current(self.conn, self.runs.ids):
            found = {key: list(items) for key, items in ahead.items.items()}
        else:
            found = lookup(self.conn, wanted)
        self.runs.search(wanted, found)
        return found

    def _find(self, sketched: Sketch, at: float, text: str, fp: Fingerprint | None) -> int | None:
        found = self._candidates(sketched.keys)
        if not found:
            return None
        hits = Counter(found)
        ranked = sorted(hits, key=lambda item_id: (-hits[item_id], item_id))[:CANDIDATES]
        window = self.settings.window
        for item_id in ranked:
            indexed = self._at.get(item_id)
            if indexed is None:
                row = self.conn.execute(
                    "SELECT at, signature FROM story_index WHERE item_id = ?", (item_id,)
                ).fetchone()
                if row is None:
                    continue
                indexed = (float(row[0]), bytes(row[1]))
            when, packed = indexed
            if abs(at - when) > window:
                continue
            # A first look at the signatures: most candidates of a busy topic stop here, before any text.
            full, lead = sketched.estimate(packed)
            if full < ESTIMATE_FLOOR and lead < LEAD_ESTIMATE_FLOOR:
                continue
            self._settle()
            found = self.conn.execute(
                "SELECT story_id, content, summary FROM items WHERE id = ?", (item_id,)
            ).fetchone()
            if found is None or found[0] is None:
                continue
            if fp is None:
                fp = fingerprint(text, signatures=False)
            content, summary = found[1], found[2]
            if related(fp, fingerprint(content if len(content) >= len(summary) else summary, signatures=False)):
                return int(found[0])
        return None

    def _new_story(self, item_id: int, item: Item, now: str) -> int:
        """A story of the item's own, whose id is the item's (new item ids are above every story's: a story's
        id is at most its first item's), written with the batch's other new stories, or before anything of
        the batch reads stories."""
        self._new_stories.append((item_id, item_id, item.title, now, now))
        return item_id

    def _settle(self) -> None:
        """Write the new stories waiting, and their items' story."""
        if self._new_stories:
            self.conn.executemany(
                "INSERT INTO stories (id, first_item_id, title, first_seen, last_seen, size) VALUES (?, ?, ?, ?, ?, 1)",
                self._new_stories,
            )
            self.conn.executemany(
                "UPDATE items SET story_id = ? WHERE id = ?", [(row[0], row[1]) for row in self._new_stories]
            )
            self._new_stories.clear()

    def _add_to(self, story_id: int, item_id: int, now: str) -> None:
        # (Its callers found the story in the database: the batch's new stories are written already.)
        self.conn.execute("UPDATE items SET story_id = ? WHERE id = ?", (story_id, item_id))
        self.conn.execute(
            "UPDATE stories SET size = size + 1, last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END "
            "WHERE id = ?",
            (now, now, story_id),
        )

    def _index(self, item_id: int, at: float, keys: Sequence[int], packed: bytes) -> None:
        self._at[item_id] = (at, packed)
        self._indexed.append((item_id, at, time.time(), packed))
        base = item_id * ROWS_PER_ITEM
        self._band_keys.extend(keys)
        self._band_slots.extend(range(base, base + len(keys)))
        self._keys.update(dict.fromkeys(keys, item_id))


def prune(conn: sqlite3.Connection, window: float) -> int:
    """Drop the index entries of items indexed longer ago than the window, once the oldest is a tenth of a
    window past due (a full pass over the band table, a few times per window); how many items went."""
    now = time.time()
    oldest = conn.execute("SELECT indexed_at FROM story_index ORDER BY item_id LIMIT 1").fetchone()
    if oldest is None or float(oldest[0]) >= now - window * (1 + PRUNE_SLACK):
        return 0
    first_kept = conn.execute(
        "SELECT item_id FROM story_index WHERE indexed_at >= ? ORDER BY item_id LIMIT 1", (now - window,)
    ).fetchone()
    if first_kept is not None:
        bound = int(first_kept[0])
    else:
        bound = int(conn.execute("SELECT max(item_id) FROM story_index").fetchone()[0]) + 1
    gone = conn.execute("DELETE FROM story_index WHERE item_id < ?", (bound,)).rowcount
    conn.execute("DELETE FROM story_bands WHERE slot < ?", (bound * ROWS_PER_ITEM,))
    # A run with older and newer items is left whole: its older keys lead to no story_index entry.
    conn.execute("DELETE FROM story_band_runs WHERE last_item_id < ?", (bound,))
    return int(gone)
