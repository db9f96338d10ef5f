"""`watcher db copy`: move an installation from one database to another (SQLite to PostgreSQL, usually).

Every table that holds state is copied in key order, in chunks of rows each committed on its own, and each
row is inserted only where the target lacks it (ON CONFLICT DO NOTHING): a copy that stops half way is
resumed by running it again, and a copy run twice copies nothing the second time. Ids are kept, so alerts,
outbox rows, stories and their items still point at each other; identity sequences move past them after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from watcher.store.sqlite import Store

CHUNK = 1000

# In an order that satisfies the foreign keys. (table, ordering key); "id" tables resume after the last id.
TABLES: list[tuple[str, str]] = [
    ("sources", "id"),
    ("feeds", "name"),
    ("items", "id"),
    ("stories", "id"),
    ("story_index", "item_id"),
    ("story_bands", "key, slot"),
    ("story_band_runs", "id"),
    ("alerts", "id"),
    ("alert_copies", "alert_id, item_id"),
    ("outbox", "id"),
    ("notices", "key"),
    ("rule_digests", "rule_id"),
]
# Copied as they were, except what belongs to the processes of the old installation.
CLEARED = {"feeds": {"lease_holder": None, "lease_until": None}, "outbox": {"claimed_by": None, "claimed_until": None}}


@dataclass
class CopyReport:
    copied: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.copied.values())


def _columns(store: Store, table: str) -> list[str]:
    # Read from an empty result: both databases describe the columns of a query the same way.
    result = store.conn.execute(f'SELECT * FROM "{table}" LIMIT 0')  # noqa: S608 - a name from TABLES
    names = [d[0] for d in result.description or ()]
    return [n for n in names if n != "search"]  # PostgreSQL's generated full-text column


def copy_database(source: Store, target: Store, progress: Callable[[str, int], None] | None = None) -> CopyReport:
    """Copy every row of `source` that `target` lacks; both schemas must be current (opening migrates them)."""
    report = CopyReport()
    for table, order in TABLES:
        columns = [c for c in _columns(source, table) if c in set(_columns(target, table))]
        cleared = CLEARED.get(table, {})
        after = None
        if order == "id":
            row = target.conn.execute(f'SELECT max(id) FROM "{table}"').fetchone()  # noqa: S608
            after = row[0] if row and row[0] is not None else None
        report.present[table] = target.count(table)
        report.copied[table] = 0
        marks = ", ".join("?" * len(columns))
        insert = f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({marks}) ON CONFLICT DO NOTHING'  # noqa: S608
        offset = 0
        while True:
            if order == "id":
                rows = source.conn.execute(
                    f'SELECT {", ".join(columns)} FROM "{table}" WHERE id > ? ORDER BY id LIMIT ?',  # noqa: S608
                    (after if after is not None else -1, CHUNK),
                ).fetchall()
            else:
                rows = source.conn.execute(
                    f'SELECT {", ".join(columns)} FROM "{table}" ORDER BY {order} LIMIT ? OFFSET ?',  # noqa: S608
                    (CHUNK, offset),
                ).fetchall()
                offset += len(rows)
            if not rows:
                break
            values = [
                tuple(cleared.get(c, v) if c in cleared else v for c, v in zip(columns, row, strict=True))
                for row in rows
            ]
            with target.write() as conn:
                report.copied[table] += max(0, conn.executemany(insert, values).rowcount)
            if order == "id":
                after = rows[-1][columns.index("id")]
            if progress is not None:
                progress(table, len(rows))
    target.after_copy([table for table, order in TABLES if order == "id"])
    return report
