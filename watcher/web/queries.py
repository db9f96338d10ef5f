"""What the dashboard's pages read: one query or a few per page, each bounded (a page of rows, a window of
days), on indexes (migration 9), so that a page stays fast with 100,000 items and 10,000 alerts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from watcher.delivery.outbox import deliveries
from watcher.store.search import ALERT_STATE_SQL, DELIVERIES_JOIN, alert_copies, story_members
from watcher.store.sqlite import Store

PER_PAGE = 50
DAYS = 30


@dataclass(frozen=True)
class AlertFilter:
    rule: str = ""
    severity: str = ""
    source: str = ""
    state: str = ""
    since: str = ""  # an ISO date or time: alerts recorded on or after it
    page: int = 1


def alerts_page(store: Store, f: AlertFilter) -> tuple[list[dict[str, Any]], int]:
    """A page of alerts, newest first, with their item, deliveries, story copies and evidence; and how many
    alerts the filter matches in all."""
    where, params = ["1 = 1"], []
    for column, value in (("alerts.rule_id", f.rule), ("alerts.severity", f.severity), ("sources.name", f.source)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if f.since:
        where.append("alerts.created_at >= ?")
        params.append(f.since)
    state_join, state_where = "", ""
    if f.state:
        state_join = DELIVERIES_JOIN
        state_where = f" AND {ALERT_STATE_SQL} = ?"
        params.append(f.state)
    base = (
        "FROM alerts JOIN items ON items.id = alerts.item_id JOIN sources ON sources.id = items.source_id "
        + state_join
        + "WHERE "
        + " AND ".join(where)
        + state_where
    )
    total = int(store.query(f"SELECT count(*) AS n {base}", params)[0]["n"])  # noqa: S608 - fixed columns
    offset = (max(1, f.page) - 1) * PER_PAGE
    rows = store.query(
        "SELECT alerts.id, alerts.rule_id AS rule, alerts.rule_title, alerts.severity, alerts.created_at, "  # noqa: S608
        "alerts.evidence, alerts.state AS recorded_state, items.id AS item_id, items.title, items.link, "
        f"items.path, items.story_id AS story, sources.name AS source {base} ORDER BY alerts.id DESC LIMIT ? OFFSET ?",
        [*params, PER_PAGE, offset],
    )
    ids = [r["id"] for r in rows]
    sent, copies, states = deliveries(store, ids), alert_copies(store, ids), alert_states(store, ids)
    for row in rows:
        row["evidence"] = json.loads(row["evidence"] or "[]")
        row["deliveries"] = sent.get(row["id"], [])
        row["copies"] = copies.get(row["id"], [])
        row["state"] = states.get(row["id"], "pending")
    return rows, total


def alert_states(store: Store, ids: list[int]) -> dict[int, str]:
    """The one state of each of these alerts (pending, sent, partly sent, failed, suppressed)."""
    if not ids:
        return {}
    rows = store.query(
        f"SELECT alerts.id, {ALERT_STATE_SQL} AS state FROM alerts {DELIVERIES_JOIN}"  # noqa: S608 - fixed SQL
        "WHERE alerts.id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids),),
    )
    return {r["id"]: r["state"] for r in rows}


def filter_choices(store: Store) -> dict[str, list[str]]:
    """The values the alert filters offer: rules and sources that have alerts, severities."""
    rules = [r["rule_id"] for r in store.query("SELECT DISTINCT rule_id FROM alerts ORDER BY rule_id")]
    sources = [r["name"] for r in store.query("SELECT name FROM sources ORDER BY name")]
    return {"rule": rules, "source": sources}


def days(now: datetime, count: int = DAYS) -> list[str]:
    """The last `count` dates, oldest first, ending today (UTC)."""
    today = now.astimezone(UTC).date()
    return [(today - timedelta(days=count - 1 - i)).isoformat() for i in range(count)]


def rule_hits(store: Store, now: datetime) -> dict[str, dict[str, Any]]:
    """Per rule that has alerts: hits per day over the last 30 days, hits in all and the last hit."""
    window = days(now)
    out: dict[str, dict[str, Any]] = {}
    for row in store.query("SELECT rule_id, count(*) AS total, max(created_at) AS last FROM alerts GROUP BY rule_id"):
        out[row["rule_id"]] = {"total": row["total"], "last": row["last"], "per_day": dict.fromkeys(window, 0)}
    for row in store.query(
        "SELECT rule_id, substr(created_at, 1, 10) AS day, count(*) AS n FROM alerts "
        "WHERE created_at >= ? GROUP BY rule_id, day",
        (window[0],),
    ):
        per_day = out[row["rule_id"]]["per_day"]
        if row["day"] in per_day:
            per_day[row["day"]] = row["n"]
    return out


def feed_items_per_day(store: Store, now: datetime, count: int = 7) -> dict[str, dict[str, int]]:
    """Per source: new items per day over the last `count` days."""
    window = days(now, count)
    out: dict[str, dict[str, int]] = {}
    for row in store.query(
        "SELECT sources.name, substr(items.first_seen, 1, 10) AS day, count(*) AS n FROM items "
        "JOIN sources ON sources.id = items.source_id WHERE items.first_seen >= ? GROUP BY sources.name, day",
        (window[0],),
    ):
        out.setdefault(row["name"], dict.fromkeys(window, 0))
        if row["day"] in out[row["name"]]:
            out[row["name"]][row["day"]] = row["n"]
    return out


def item_page(store: Store, item_id: int) -> dict[str, Any] | None:
    """One item: its fields, its story's other items, and its alerts with their evidence."""
    rows = store.query(
        "SELECT items.*, sources.name AS source FROM items JOIN sources ON sources.id = items.source_id "
        "WHERE items.id = ?",
        (item_id,),
    )
    if not rows:
        return None
    item = rows[0]
    item["siblings"] = (
        [m for m in story_members(store, item["story_id"]) if m["id"] != item_id] if item["story_id"] else []
    )
    item["alerts"] = store.query(
        "SELECT id, rule_id AS rule, rule_title, severity, created_at, evidence FROM alerts WHERE item_id = ? "
        "ORDER BY id",
        (item_id,),
    )
    states = alert_states(store, [a["id"] for a in item["alerts"]])
    for alert in item["alerts"]:
        alert["evidence"] = json.loads(alert["evidence"] or "[]")
        alert["state"] = states.get(alert["id"], "pending")
    return item
