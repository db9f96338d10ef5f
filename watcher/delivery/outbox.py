"""The durable outbox: one row per (alert, target), written in the alert's own transaction.

States: pending -> sent | failed (retry at) -> ... -> dead. A dispatcher claims due rows with a lease, sends,
and marks a row sent only after its target accepted it: a crash between send and mark repeats at most that
one message and never drops it. Rows of a rule with a cooldown or a digest share a group key and go out
together as one message.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from watcher.config import Target
from watcher.delivery.notify import target_key
from watcher.rules.engine import Match
from watcher.rules.model import Rule
from watcher.store.sqlite import Store

PENDING, SENT, FAILED, DEAD = "pending", "sent", "failed", "dead"
LEASE = timedelta(minutes=5)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def routed(targets: Sequence[Target], tags: Sequence[str]) -> list[Target]:
    """The targets a rule's notify tags choose; no tags means every target. Tags that no target carries fall
    back on the targets without tags (and, with none, choose nothing: the caller says so)."""
    if not tags:
        return list(targets)
    wanted = set(tags)
    chosen = [t for t in targets if wanted & set(t.tags)]
    return chosen or [t for t in targets if not t.tags]


def unrouted_tags(rules: Sequence[Rule], targets: Sequence[Target]) -> list[str]:
    """One line for each rule whose notify tags no target carries (its alerts would go nowhere, or only to
    the untagged targets); nothing when no target is configured (alerts are then only recorded)."""
    if not targets:
        return []
    carried = {tag for t in targets for tag in t.tags}
    untagged = [t.name or t.url.split("://")[0] for t in targets if not t.tags]
    out = []
    for rule in rules:
        missing = [tag for tag in rule.notify if tag not in carried]
        if rule.notify and len(missing) == len(rule.notify):
            where = f"{rule.file}:{rule.line}" if rule.line else rule.file
            fallback = (
                f"its alerts go to the untagged targets ({', '.join(untagged)})"
                if untagged
                else ("its alerts reach nobody")
            )
            out.append(
                f"{where} rule {rule.id}: notify {', '.join(rule.notify)}: no target carries "
                f"{'this tag' if len(missing) == 1 else 'these tags'}; {fallback}"
            )
    return out


def idempotency_key(rule_id: str, item_id: int, version: int, target: str) -> str:
    """Stable per (rule, item version, target): shown in the message, so a receiver can drop a repeat."""
    digest = hashlib.sha256(f"{rule_id}\x00{item_id}\x00{version}\x00{target}".encode()).hexdigest()
    return digest[:16]


@dataclass(frozen=True)
class Schedule:
    """Noise control of one rule: at most one message per cooldown, or one digest per period (seconds)."""

    cooldown: float | None = None
    digest: float | None = None


class Outbox:
    """Writes outbox rows for new alerts; claims and settles them for the dispatcher."""

    def __init__(self, targets: Sequence[Target], owner: str | None = None):
        self.targets = list(targets)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"

    # enqueue (inside the transaction that records the alert) ---------------------------------------------

    def enqueue(
        self,
        conn: sqlite3.Connection,
        alert_id: int,
        match: Match,
        item_id: int,
        version: int,
        now: datetime,
        schedule: Schedule | None = None,
    ) -> int:
        """One pending row per routed target; returns how many. An alert that reaches no target (its rule's
        tags are carried by none, and no target is untagged) is noted once per rule for `watcher status`."""
        rule = match.rule
        n = 0
        chosen = routed(self.targets, rule.notify)
        if not chosen and self.targets:
            conn.execute(
                "INSERT INTO notices (key, message, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    f"unrouted:{rule.id}",
                    f"rule {rule.id}: notify {', '.join(rule.notify)} reaches no target; its alerts are not sent",
                    iso(now),
                ),
            )
        for target in chosen:
            key = target_key(target)
            due, group = self._schedule(conn, rule.id, key, now, schedule)
            conn.execute(
                "INSERT INTO outbox (alert_id, target, idempotency_key, state, next_attempt_at, group_key, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (alert_id, key, idempotency_key(rule.id, item_id, version, key), PENDING, iso(due), group, iso(now)),
            )
            n += 1
        return n

    def _schedule(
        self, conn: sqlite3.Connection, rule_id: str, target: str, now: datetime, schedule: Schedule | None
    ) -> tuple[datetime, str | None]:
        if schedule is None:
            return now, None
        if schedule.digest:
            period = schedule.digest
            start = datetime.fromtimestamp(int(now.timestamp() // period * period), tz=UTC)
            return start + timedelta(seconds=period), f"digest:{rule_id}:{iso(start)}"
        if schedule.cooldown:
            # An open group for this rule and target: join it.
            row = conn.execute(
                "SELECT o.group_key, o.next_attempt_at FROM outbox o JOIN alerts a ON a.id = o.alert_id "
                "WHERE a.rule_id = ? AND o.target = ? AND o.state IN ('pending', 'failed') "
                "AND o.group_key LIKE 'cooldown:%' ORDER BY o.id DESC LIMIT 1",
                (rule_id, target),
            ).fetchone()
            if row:
                return parse_iso(row[1]), row[0]
            # Else the last message for this rule and target (sent, or queued alone): within the cooldown,
            # start a group due when the cooldown ends.
            row = conn.execute(
                "SELECT max(CASE WHEN o.state = 'sent' THEN o.sent_at ELSE o.created_at END) "
                "FROM outbox o JOIN alerts a ON a.id = o.alert_id "
                "WHERE a.rule_id = ? AND o.target = ? AND o.group_key IS NULL",
                (rule_id, target),
            ).fetchone()
            if row and row[0]:
                due = parse_iso(row[0]) + timedelta(seconds=schedule.cooldown)
                if due > now:
                    return due, f"cooldown:{rule_id}:{iso(due)}"
        return now, None

    # claims and settling --------------------------------------------------------------------------------

    def claim(self, store: Store, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        """Claim due rows (with their alert and item) for this process, for LEASE."""
        with store.write(durable=False) as conn:
            # Rows whose claim is free, expired or this process's, or held by a process of this host that may
            # be gone (checked below); rows another process is claiming right now are skipped, not waited for.
            rows = conn.execute(
                "SELECT id, claimed_by, claimed_until FROM outbox WHERE state IN ('pending', 'failed') "  # noqa: S608
                "AND next_attempt_at <= ? AND (claimed_by IS NULL OR claimed_until IS NULL OR claimed_until < ? "
                "OR claimed_by = ? OR claimed_by LIKE ?) "
                f"ORDER BY next_attempt_at, id LIMIT ?{store.skip_locked}",
                (iso(now), iso(now), self.owner, socket.gethostname() + ":%", limit),
            ).fetchall()
            ids = [r[0] for r in rows if self._claimable(r[1], r[2], now)][:limit]
            conn.executemany(
                "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id = ?",
                [(self.owner, iso(now + LEASE), i) for i in ids],
            )
        if not ids:
            return []
        return store.query(
            "SELECT o.id, o.alert_id, o.target, o.idempotency_key, o.attempts, o.group_key, o.created_at, "
            "a.rule_id, a.rule_title, "
            "a.severity, a.evidence, a.item_version, i.title, i.link, i.path, i.published, i.guid, s.name AS source "
            "FROM outbox o JOIN alerts a ON a.id = o.alert_id JOIN items i ON i.id = a.item_id "
            "JOIN sources s ON s.id = i.source_id WHERE o.id IN (SELECT value FROM json_each(?)) ORDER BY o.id",
            (json.dumps(ids),),
        )

    def _claimable(self, owner: str | None, until: str | None, now: datetime) -> bool:
        if owner is None or until is None or owner == self.owner or parse_iso(until) < now:
            return True
        host, _, pid = owner.rpartition(":")
        if host != socket.gethostname() or not pid.isdigit():
            return False
        # A claim of a process on this host that is gone (killed) is free at once, not after its lease.
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def mark_sent(self, store: Store, ids: Sequence[int], now: datetime) -> None:
        with store.write() as conn:
            conn.executemany(
                "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL, "
                "claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                [(iso(now), i) for i in ids],
            )

    def mark_failed(
        self, store: Store, ids: Sequence[int], error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        """Record a failed attempt: due again at `retry_at`, or dead when it is None."""
        with store.write() as conn:
            conn.executemany(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?, "
                "claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                [(FAILED if retry_at else DEAD, error, iso(retry_at or now), i) for i in ids],
            )

    def resend(self, store: Store, alert_id: int | None, *, dead_only: bool, include_sent: bool, now: datetime) -> int:
        """Make rows due again (fresh attempts): one alert's, or every dead row. Returns how many."""
        states = ["dead"] if dead_only else ["dead", "failed", "pending"] + (["sent"] if include_sent else [])
        with store.write() as conn:
            cur = conn.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, last_error = NULL, "
                "claimed_by = NULL, claimed_until = NULL, group_key = NULL "
                "WHERE state IN (SELECT value FROM json_each(?)) AND (? IS NULL OR alert_id = ?)",
                (iso(now), json.dumps(states), alert_id, alert_id),
            )
            return cur.rowcount


def release(
    outbox: Outbox, store: Store, alert_ids: Sequence[int] | None, rules: dict[str, Rule], now: datetime
) -> int:
    """Send alerts that were recorded without being sent (a first poll, backfill without --notify): the given
    ones, or every suppressed one (None). Each gets an outbox row per target its rule routes it to now; an
    alert whose rule is gone stays as it was. Returns how many were released."""
    with store.write() as conn:
        rows = conn.execute(
            "SELECT id, rule_id, item_id, item_version FROM alerts WHERE state = 'suppressed' "
            "AND (? IS NULL OR id IN (SELECT value FROM json_each(?)))",
            (None if alert_ids is None else 1, json.dumps(list(alert_ids or ()))),
        ).fetchall()
        released = 0
        for alert_id, rule_id, item_id, version in rows:
            rule = rules.get(rule_id)
            if rule is None:
                continue
            conn.execute("UPDATE alerts SET state = 'pending' WHERE id = ?", (alert_id,))
            outbox.enqueue(conn, alert_id, Match(rule, ()), item_id, version, now)
            released += 1
        return released


def deliveries(store: Store, alert_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Per-target delivery state of the given alerts."""
    if not alert_ids:
        return {}
    rows = store.query(
        "SELECT alert_id, target, state, attempts, last_error, next_attempt_at, sent_at, idempotency_key "
        "FROM outbox WHERE alert_id IN (SELECT value FROM json_each(?)) ORDER BY id",
        (json.dumps(list(alert_ids)),),
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row.pop("alert_id"), []).append(row)
    return out


def decode_evidence(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["evidence"] = json.loads(row.get("evidence") or "[]")
    return row
