"""`watcher status`: feeds' health, outbox depth and the last errors, read from the database alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from watcher.store.feeds import BROKEN_AFTER, FeedState, all_feeds
from watcher.store.processes import Process, live_processes
from watcher.store.search import alert_state_counts
from watcher.store.sqlite import Store


@dataclass
class Status:
    feeds: list[FeedState] = field(default_factory=list)
    outbox: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    items: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    # The daemons running on this database (their heartbeat is recent), with the feeds each is polling now.
    processes: list[Process] = field(default_factory=list)

    @property
    def failing(self) -> bool:
        """Whether something needs the operator: a source failing, broken or disabled, a delivery given up."""
        unwell = any(f.health in ("failing", "broken", "disabled") for f in self.feeds)
        return unwell or self.outbox.get("dead", 0) > 0


def read_gauges(store: Store) -> dict[str, float]:
    """What /metrics reports of the database: deliveries waiting and given up, feeds that need a look."""
    conn = store.conn
    due = conn.execute("SELECT count(*) FROM outbox WHERE state IN ('pending', 'failed')").fetchone()[0]
    dead = conn.execute("SELECT count(*) FROM outbox WHERE state = 'dead'").fetchone()[0]
    unhealthy = conn.execute(
        "SELECT count(*) FROM feeds WHERE failures >= ? OR disabled_reason IS NOT NULL", (BROKEN_AFTER,)
    ).fetchone()[0]
    # Alerts to be sent that reach no target: a rule's notify tags that no target carries.
    unrouted = conn.execute(
        "SELECT count(*) FROM alerts WHERE state = 'pending' AND NOT EXISTS "
        "(SELECT 1 FROM outbox WHERE outbox.alert_id = alerts.id)"
    ).fetchone()[0]
    return {"outbox_queue_depth": due, "outbox_dead": dead, "feeds_unhealthy": unhealthy, "alerts_unrouted": unrouted}


def read_status(store: Store, limit: int = 10) -> Status:
    status = Status(feeds=all_feeds(store), items=store.count("items"))
    status.outbox = {r["state"]: r["n"] for r in store.query("SELECT state, count(*) AS n FROM outbox GROUP BY state")}
    status.alerts = alert_state_counts(store)
    status.errors = store.query(
        "SELECT 'delivery' AS kind, target AS source, last_error AS error, next_attempt_at AS at FROM outbox "
        "WHERE last_error IS NOT NULL AND state != 'sent' "
        "UNION ALL SELECT 'feed', name, last_error, last_poll_at FROM feeds WHERE last_error IS NOT NULL "
        "ORDER BY at DESC LIMIT ?",
        (limit,),
    )
    status.notices = store.query("SELECT created_at, message FROM notices ORDER BY created_at DESC LIMIT ?", (limit,))
    status.processes = live_processes(store, datetime.now(UTC))
    return status


def status_lines(status: Status) -> list[str]:
    lines = [
        f"items: {status.items}; alerts: " + (", ".join(f"{n} {s}" for s, n in sorted(status.alerts.items())) or "none")
    ]
    depth = status.outbox.get("pending", 0) + status.outbox.get("failed", 0)
    lines.append(
        f"outbox: {depth} waiting ({status.outbox.get('failed', 0)} retrying), {status.outbox.get('sent', 0)} sent, "
        f"{status.outbox.get('dead', 0)} given up"
    )
    lines.append(f"daemons: {len(status.processes) or 'none running'}")
    for p in status.processes:
        held = f", polling {', '.join(p.feeds[:5])}" + (" ..." if len(p.feeds) > 5 else "") if p.feeds else ""
        lines.append(f"  {p.host} pid {p.pid}  started {p.started_at}, last heartbeat {p.heartbeat_at}{held}")
    lines.append(f"sources: {len(status.feeds)}")
    for f in status.feeds:
        lines.append(
            f"  {f.name:<24} {f.health:<8} {f.kind:<4} last success {f.last_success_at or 'never'}"
            + (f", {f.failures} failures" if f.failures else "")
        )
    if status.errors:
        lines.append("last errors:")
        lines += [f"  {e['at']}  {e['kind']} {e['source']}: {e['error']}" for e in status.errors]
    if status.notices:
        lines.append("operator notices:")
        lines += [f"  {n['created_at']}  {n['message'].splitlines()[0]}" for n in status.notices]
    return lines
