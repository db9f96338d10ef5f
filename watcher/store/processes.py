"""The daemons that share a database, and the feeds each is polling now.

Every `watcher run` registers itself (host, pid, start) and beats a heartbeat; `watcher status` lists the live
ones. A feed is polled by the process that claims its lease: a claim takes a feed that is due and whose lease
is free or expired (SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL, so that processes never wait on each
other), the holder renews its leases with its heartbeat while it polls, and gives the feed back when done. A
process that dies stops renewing: its leases expire and another process takes its feeds over at their next
due time. On SQLite (one daemon per database) the same claims simply always succeed.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from watcher.store.feeds import FEED_COLUMNS, FeedState
from watcher.store.sqlite import Store

# How long a claim holds without a renewal, and how often the holder renews it (with its heartbeat).
LEASE_SECONDS = 60.0
HEARTBEAT_SECONDS = 10.0
# A process whose heartbeat is older than this is listed as gone.
STALE_AFTER = 3 * HEARTBEAT_SECONDS
# A due time this close ahead counts as due (schedulers fire a little early).
DUE_SLACK = timedelta(seconds=1)


def process_id() -> str:
    """This process, as the outbox's claims name it too: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


@dataclass
class Process:
    id: str
    host: str
    pid: int
    version: str
    started_at: str
    heartbeat_at: str
    feeds: list[str]


def register(store: Store, holder: str, version: str, now: datetime) -> None:
    host, _, pid = holder.rpartition(":")
    with store.write() as conn:
        conn.execute(
            "INSERT INTO processes (id, host, pid, version, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET version = excluded.version, started_at = excluded.started_at, "
            "heartbeat_at = excluded.heartbeat_at",
            (holder, host, int(pid), version, _iso(now), _iso(now)),
        )
        # Leases left by an earlier process of the same id (the same pid, after a restart) are void.
        conn.execute("UPDATE feeds SET lease_holder = NULL, lease_until = NULL WHERE lease_holder = ?", (holder,))


def heartbeat(store: Store, holder: str, now: datetime, lease: float = LEASE_SECONDS) -> None:
    """Say this process is alive, and renew the leases of the feeds it is polling."""
    with store.write(durable=False) as conn:
        conn.execute("UPDATE processes SET heartbeat_at = ? WHERE id = ?", (_iso(now), holder))
        conn.execute(
            "UPDATE feeds SET lease_until = ? WHERE lease_holder = ?", (_iso(now + timedelta(seconds=lease)), holder)
        )
        # Gone processes are forgotten after a while (their leases expired long before).
        conn.execute("DELETE FROM processes WHERE heartbeat_at < ?", (_iso(now - timedelta(days=1)),))


def unregister(store: Store, holder: str) -> None:
    with store.write() as conn:
        conn.execute("UPDATE feeds SET lease_holder = NULL, lease_until = NULL WHERE lease_holder = ?", (holder,))
        conn.execute("DELETE FROM processes WHERE id = ?", (holder,))


def claim_feed(store: Store, name: str, holder: str, now: datetime, lease: float = LEASE_SECONDS) -> FeedState | None:
    """The feed's state, leased to `holder`, when it is due and no other process holds it; else None.

    On a database only one daemon uses (SQLite) nothing is written: the feed is read and judged due."""
    if not store.shared:
        rows = store.query(
            f"SELECT {', '.join(FEED_COLUMNS)} FROM feeds WHERE name = ? AND disabled_reason IS NULL "  # noqa: S608
            "AND (next_poll_at IS NULL OR next_poll_at <= ?)",
            (name, _iso(now + DUE_SLACK)),
        )
        return FeedState(**rows[0]) if rows else None
    with store.write(durable=False) as conn:
        row = conn.execute(
            f"SELECT {', '.join(FEED_COLUMNS)} FROM feeds WHERE name = ? AND disabled_reason IS NULL "  # noqa: S608
            "AND (lease_until IS NULL OR lease_until < ? OR lease_holder = ?) "
            f"AND (next_poll_at IS NULL OR next_poll_at <= ?){store.skip_locked}",
            (name, _iso(now), holder, _iso(now + DUE_SLACK)),
        ).fetchone()
        if row is None:
            return None
        conn.execute(
            "UPDATE feeds SET lease_holder = ?, lease_until = ? WHERE name = ?",
            (holder, _iso(now + timedelta(seconds=lease)), name),
        )
    return FeedState(**dict(zip(FEED_COLUMNS, row, strict=True)))


def release_feed(store: Store, name: str, holder: str) -> None:
    """End a lease the poll did not end itself (it failed before recording its state); else nothing changes."""
    if not store.shared:
        return
    with store.write(durable=False) as conn:
        conn.execute(
            "UPDATE feeds SET lease_holder = NULL, lease_until = NULL WHERE name = ? AND lease_holder = ?",
            (name, holder),
        )


def held_feeds(store: Store, now: datetime) -> dict[str, str]:
    """The feeds a daemon is polling now (their lease holds): feed name -> the process."""
    rows = store.query(
        "SELECT name, lease_holder FROM feeds WHERE lease_holder IS NOT NULL AND lease_until >= ?", (_iso(now),)
    )
    return {r["name"]: r["lease_holder"] for r in rows}


def live_processes(store: Store, now: datetime, stale_after: float = STALE_AFTER) -> list[Process]:
    """The processes whose heartbeat is recent, with the feeds each holds now, oldest first."""
    rows: list[dict[str, Any]] = store.query(
        "SELECT id, host, pid, version, started_at, heartbeat_at FROM processes WHERE heartbeat_at >= ? "
        "ORDER BY started_at, id",
        (_iso(now - timedelta(seconds=stale_after)),),
    )
    held: dict[str, list[str]] = {}
    for r in store.query(
        "SELECT lease_holder, name FROM feeds WHERE lease_holder IS NOT NULL AND lease_until >= ? ORDER BY name",
        (_iso(now),),
    ):
        held.setdefault(r["lease_holder"], []).append(r["name"])
    return [Process(**row, feeds=held.get(row["id"], [])) for row in rows]
