"""The dispatcher: drain due outbox rows through Apprise, one target at a time, at least once.

Every destination passes claim -> send -> record. A row is marked sent only after its target accepted it;
a failure backs off exponentially with jitter; after `delivery.max_attempts` the row is dead and the
operator is told once (a log line, and a notification to targets tagged `ops`).
"""

from __future__ import annotations

import hashlib
import logging
import random
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from watcher.config import Config
from watcher.delivery.message import Renderer
from watcher.delivery.notify import Notifier, target_key
from watcher.delivery.outbox import Outbox, Schedule, decode_evidence, iso, parse_iso, unrouted_tags
from watcher.rules.engine import Match
from watcher.rules.model import Rule
from watcher.store.sqlite import OnAlert, Store, now_iso

log = logging.getLogger(__name__)

OPS_TAG = "ops"
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class DeliveryStats:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    # Seconds from each sent row's alert being recorded to its delivery (cooldowns and digests included).
    latencies: list[float] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.failed} failed (will retry), {self.dead} given up"


def schedule_of(rule: Rule) -> Schedule | None:
    return Schedule(rule.cooldown, rule.digest) if rule.cooldown or rule.digest else None


def enqueue_alerts(outbox: Outbox, clock: Clock = utcnow) -> OnAlert:
    """The pipeline's hook that writes outbox rows for each new alert, inside its transaction."""

    def on_alert(conn: sqlite3.Connection, alert_id: int, match: Match, item_id: int, version: int) -> None:
        outbox.enqueue(conn, alert_id, match, item_id, version, clock(), schedule_of(match.rule))

    return on_alert


class Dispatcher:
    """Sends what is due in the outbox."""

    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        rules: Mapping[str, Rule] | None = None,
        notifier: Notifier | None = None,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        unrecorded: list[tuple[list[int], datetime]] | None = None,
    ):
        self.store = store
        self.config = config
        self.rules = dict(rules or {})
        self.notifier = notifier or Notifier(config.notify, timeout=config.delivery.timeout)
        self.outbox = Outbox(config.notify)
        self.renderer = Renderer()
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._templates = {target_key(t): t.template for t in config.notify}
        # Sends a target accepted whose record the database refused (an outage between send and record):
        # recorded first when it answers again, so that they are not sent a second time. A daemon passes the
        # same list to the dispatcher a reload makes.
        self.unrecorded = unrecorded if unrecorded is not None else []

    def drain(
        self, *, stop: Callable[[], bool] | None = None, progress: Callable[[int], None] | None = None
    ) -> DeliveryStats:
        """Send every due row once (failures are rescheduled, not retried in this call); `progress` is told
        how many rows each message settled."""
        stats = DeliveryStats()
        self._record_unrecorded(stats)
        self._tell_unrouted()
        while not (stop and stop()):
            rows = self.outbox.claim(self.store, self.clock())
            if not rows:
                break
            for group in _groups(rows):
                if stop and stop():
                    break
                self._deliver(group, stats)
                if progress is not None:
                    progress(len(group))
        return stats

    def _record_unrecorded(self, stats: DeliveryStats) -> None:
        while self.unrecorded:
            ids, sent_at = self.unrecorded[0]
            self.outbox.mark_sent(self.store, ids, sent_at)
            self.unrecorded.pop(0)
            stats.sent += len(ids)
            log.info("recorded as sent: outbox %s (sent while the database was away)", ",".join(map(str, ids)))

    def _tell_unrouted(self) -> None:
        """Tell `ops`, once per rule, of alerts that reach no target (noted when they were recorded)."""
        # Only what ops was not yet told: no write at each drain for what it was.
        untold = self.store.query(
            "SELECT key, message FROM notices AS n WHERE key LIKE 'unrouted:%' "
            "AND NOT EXISTS (SELECT 1 FROM notices AS t WHERE t.key = 'told:' || n.key)"
        )
        for row in untold:
            if self.notice(f"told:{row['key']}", row["message"]):
                log.error("%s", row["message"])
                self.send_ops("watcher: alerts that reach no target", row["message"])

    def due(self) -> int:
        """How many deliveries are due now (a progress bar's total)."""
        rows = self.store.query(
            "SELECT count(*) AS n FROM outbox WHERE state IN ('pending', 'failed') AND next_attempt_at <= ?",
            (iso(self.clock()),),
        )
        return int(rows[0]["n"])

    def _deliver(self, rows: Sequence[dict[str, Any]], stats: DeliveryStats) -> None:
        alerts = [decode_evidence(r) for r in rows]
        target = rows[0]["target"]
        rule = self.rules.get(rows[0]["rule_id"])
        templates = [t for t in (rule.template if rule else None, self._templates.get(target)) if t is not None]
        note = _group_note(rows[0].get("group_key"), len(rows))
        markdown = self.notifier.markdown(target)
        title, body = self.renderer.render(alerts, templates=templates, note=note, markdown=markdown)
        result = self.notifier.send(target, title, body, markdown=markdown)
        now = self.clock()
        ids = [r["id"] for r in rows]
        if result.ok:
            try:
                self.outbox.mark_sent(self.store, ids, now)
            except Exception:
                self.unrecorded.append((ids, now))
                raise
            stats.sent += len(ids)
            stats.latencies.extend((now - parse_iso(r["created_at"])).total_seconds() for r in rows)
            log.info("sent alert %s to %s", ",".join(str(r["alert_id"]) for r in rows), self.notifier.label(target))
            return
        attempts = max(r["attempts"] for r in rows) + 1
        if attempts >= self.config.delivery.max_attempts:
            self.outbox.mark_failed(self.store, ids, result.error, None, now)
            stats.dead += len(ids)
            self._tell_operator(rows, target, attempts, result.error)
            return
        retry_at = now + timedelta(seconds=self._backoff(attempts))
        self.outbox.mark_failed(self.store, ids, result.error, retry_at, now)
        stats.failed += len(ids)
        log.warning(
            "could not send alert %s to %s (attempt %d, retry at %s): %s",
            ",".join(str(r["alert_id"]) for r in rows),
            self.notifier.label(target),
            attempts,
            retry_at.isoformat(timespec="seconds"),
            result.error,
        )

    def _backoff(self, attempts: int) -> float:
        delivery = self.config.delivery
        delay = min(delivery.retry_max, delivery.retry_base * 2 ** (attempts - 1))
        return delay * self.rng.uniform(0.5, 1.0)

    def _tell_operator(self, rows: Sequence[dict[str, Any]], target: str, attempts: int, error: str) -> None:
        alert_ids = ",".join(str(r["alert_id"]) for r in rows)
        message = (
            f"gave up on alert {alert_ids} for {self.notifier.label(target)} after {attempts} attempts: {error}. "
            f"Retry with: watcher alerts resend {rows[0]['alert_id']}"
        )
        if not self.notice(f"dead:{target}:{alert_ids}", message):
            return
        log.error("%s", message)
        self.send_ops("watcher: an alert could not be delivered", message, exclude=target)

    def notice(self, key: str, message: str) -> bool:
        """Record a notice for the operator; False when it was already told."""
        with self.store.write() as conn:
            cur = conn.execute(
                "INSERT INTO notices (key, message, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (key, message, now_iso()),
            )
            return cur.rowcount > 0

    def report_unrouted(self, rules: Sequence[Rule]) -> list[str]:
        """Log each rule whose notify tags no target carries, and tell the `ops` targets once per finding."""
        lines = unrouted_tags(rules, self.config.notify)
        for line in lines:
            log.warning("%s", line)
        if lines:
            digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
            if self.notice(f"unrouted-tags:{digest}", "\n".join(lines)):
                self.send_ops("watcher: rule tags that reach no target", "\n".join(lines))
        return lines

    def send_ops(self, title: str, body: str, *, exclude: str | None = None) -> None:
        """Tell the targets tagged `ops` directly (not through the outbox); failures are only logged."""
        for target in self.config.notify:
            key = target_key(target)
            if OPS_TAG in target.tags and key != exclude:
                result = self.notifier.send(key, title, body, markdown=False)
                if not result.ok:
                    log.warning("could not tell %s: %s", self.notifier.label(key), result.error)


def _groups(rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    out: list[list[dict[str, Any]]] = []
    for row in rows:
        if row.get("group_key"):
            key = (row["group_key"], row["target"])
            if key not in grouped:
                grouped[key] = []
                out.append(grouped[key])
            grouped[key].append(row)
        else:
            out.append([row])
    return out


def _group_note(group_key: str | None, n: int) -> str:
    if not group_key or n < 2:
        return ""
    kind = group_key.split(":", 1)[0]
    if kind == "digest":
        return f"Digest: {n} alerts in this period."
    if kind == "flood":
        return f"Flood guard: {n} alerts from one poll of one source were collected into this one message."
    return f"{n} alerts during the rule's cooldown."


def send_test_messages(notifier: Notifier, keys: Sequence[str]) -> list[tuple[str, bool, str]]:
    """Send a test message to each target; (label, ok, error) for each."""
    out = []
    for key in keys:
        result = notifier.send(key, "watcher test notification", "This is a test message from watcher.")
        out.append((notifier.label(key), result.ok, result.error))
    return out
