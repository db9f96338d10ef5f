"""Reading back what the store holds: full-text search over items, and the alerts recorded."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from watcher.errors import WatcherError
from watcher.rules.digest import rule_digests
from watcher.rules.model import RuleSet
from watcher.store.sqlite import Store, now_iso

_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
# Words and phrases a search may hold: more is no search anyone types (and PostgreSQL nests each in the query).
MAX_TERMS = 64


def search_terms(text: str) -> list[str]:
    """A user's words and "quoted phrases", each to be found, all required."""
    terms = [term for term in ((phrase or word).strip() for phrase, word in _TOKEN.findall(text)) if term]
    if not terms:
        raise WatcherError("empty search query")
    if len(terms) > MAX_TERMS:
        raise WatcherError(f"a search of {len(terms)} words and phrases: at most {MAX_TERMS}")
    return terms


def fts_query(text: str) -> str:
    """A user's words as an FTS5 query: each word or "quoted phrase" a literal string, all required."""
    return " ".join('"' + term.replace('"', '""') + '"' for term in search_terms(text))


def search_items(store: Store, text: str, limit: int = 20) -> list[dict[str, Any]]:
    """Items whose text holds every word of `text`, best first."""
    if store.dialect == "postgresql":
        return _search_postgres(store, text, limit)
    return store.query(
        "SELECT items.id, sources.name AS source, items.title, items.link, items.path, items.published, "
        "snippet(items_fts, 2, '[', ']', '...', 12) AS snippet "
        "FROM items_fts JOIN items ON items.id = items_fts.rowid JOIN sources ON sources.id = items.source_id "
        "WHERE items_fts MATCH ? ORDER BY rank LIMIT ?",
        (fts_query(text), limit),
    )


def _search_postgres(store: Store, text: str, limit: int) -> list[dict[str, Any]]:
    """The same search on PostgreSQL: each word or phrase a phraseto_tsquery, all required, over the generated
    tsvector column (GIN-indexed); the snippet from ts_headline, marked as FTS5 marks it."""
    terms = search_terms(text)
    query = " && ".join("phraseto_tsquery('simple', ?)" for _ in terms)
    return store.query(
        "SELECT items.id, sources.name AS source, items.title, items.link, items.path, items.published, "  # noqa: S608
        "ts_headline('simple', items.content, q, 'StartSel=[, StopSel=], MaxWords=12, MinWords=4') AS snippet "
        f"FROM items JOIN sources ON sources.id = items.source_id, (SELECT {query} AS q) AS search "
        "WHERE items.search @@ q AND items.duplicate_of IS NULL ORDER BY ts_rank(items.search, q) DESC LIMIT ?",
        (*terms, limit),
    )


# One state per alert, from its deliveries: suppressed (recorded, never to be sent), pending (a delivery still
# to go, or none yet), sent (every delivery), partly sent, failed (none sent, some given up).
ALERT_STATES = ("pending", "sent", "partly sent", "failed", "suppressed")
ALERT_STATE_SQL = (
    "CASE WHEN alerts.state = 'suppressed' THEN 'suppressed' "
    "WHEN d.total IS NULL OR d.total = 0 THEN 'pending' "
    "WHEN d.sent = d.total THEN 'sent' "
    "WHEN d.sent > 0 THEN 'partly sent' "
    "WHEN d.dead > 0 AND d.waiting = 0 THEN 'failed' "
    "ELSE 'pending' END"
)
DELIVERIES_JOIN = (
    "LEFT JOIN (SELECT alert_id, count(*) AS total, sum(CASE WHEN state = 'sent' THEN 1 ELSE 0 END) AS sent, "
    "sum(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS dead, "
    "sum(CASE WHEN state IN ('pending', 'failed') THEN 1 ELSE 0 END) AS waiting "
    "FROM outbox GROUP BY alert_id) AS d ON d.alert_id = alerts.id "
)


def list_alerts(store: Store, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Recorded alerts, newest first, with their item, story and one state from their deliveries."""
    rows = store.query(
        f"SELECT * FROM (SELECT alerts.id, alerts.rule_id AS rule, alerts.severity, {ALERT_STATE_SQL} AS state, "  # noqa: S608
        "alerts.created_at, alerts.item_version, items.id AS item_id, sources.name AS source, items.title, "
        "items.link, items.path, items.guid, items.published, items.story_id AS story, alerts.evidence "
        "FROM alerts JOIN items ON items.id = alerts.item_id JOIN sources ON sources.id = items.source_id "
        f"{DELIVERIES_JOIN}) AS listed WHERE (? IS NULL OR state = ?) ORDER BY id DESC LIMIT ?",
        (state, state, limit),
    )
    for row in rows:
        # What matched where: each term with its field and snippet.
        row["evidence"] = json.loads(row["evidence"] or "[]")
    return rows


def alert_state_counts(store: Store) -> dict[str, int]:
    """How many alerts are in each state."""
    rows = store.query(
        f"SELECT {ALERT_STATE_SQL} AS state, count(*) AS n FROM alerts {DELIVERIES_JOIN}GROUP BY 1"  # noqa: S608
    )
    return {r["state"]: r["n"] for r in rows}


MEMBERS_SHOWN = 50


def alert_copies(store: Store, alert_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Per alert, the later copies of its story recorded with it (oldest first)."""
    out: dict[int, list[dict[str, Any]]] = {}
    if not alert_ids:
        return out
    marks = ",".join("?" * len(alert_ids))  # placeholders only: every value is a bound parameter
    where = f"WHERE alert_copies.alert_id IN ({marks}) "
    rows = store.query(
        "SELECT alert_copies.alert_id, items.id AS item_id, sources.name AS source, items.title, items.link, "  # noqa: S608
        "items.path, alert_copies.created_at FROM alert_copies JOIN items ON items.id = alert_copies.item_id "
        "JOIN sources ON sources.id = items.source_id " + where + "ORDER BY alert_copies.alert_id, items.id",
        alert_ids,
    )
    for row in rows:
        out.setdefault(row.pop("alert_id"), []).append(row)
    return out


def story_members(store: Store, story_id: int, limit: int = MEMBERS_SHOWN) -> list[dict[str, Any]]:
    """The items of a story, first stored first."""
    return store.query(
        "SELECT items.id, sources.name AS source, items.title, items.link, items.path, items.first_seen "
        "FROM items JOIN sources ON sources.id = items.source_id WHERE items.story_id = ? ORDER BY items.id LIMIT ?",
        (story_id, limit),
    )


def list_stories(store: Store, since: str | None = None, limit: int = 100, min_size: int = 1) -> list[dict[str, Any]]:
    """Stories seen since a time (ISO 8601), most recently seen first, with their sources."""
    return store.query(
        "SELECT stories.id, stories.title, stories.first_seen, stories.last_seen, stories.size, "
        "stories.first_item_id AS first_item, "
        "(SELECT group_concat(name, ', ') FROM (SELECT DISTINCT sources.name AS name FROM items "
        "JOIN sources ON sources.id = items.source_id WHERE items.story_id = stories.id ORDER BY name) AS names) "
        "AS sources "
        "FROM stories WHERE (? IS NULL OR stories.last_seen >= ?) AND stories.size >= ? "
        "ORDER BY stories.last_seen DESC, stories.id DESC LIMIT ?",
        (since, since, min_size, limit),
    )


def item_detail(store: Store, item_id: int) -> dict[str, Any] | None:
    """One stored item: its fields, its story and the story's other items, and the alerts it raised."""
    rows = store.query(
        "SELECT items.id, sources.name AS source, items.guid, items.link, items.path, items.title, items.summary, "
        "items.content, items.author, items.published, items.first_seen, items.updated_at, items.version, "
        "items.duplicate_of, items.story_id AS story, items.full_text "
        "FROM items JOIN sources ON sources.id = items.source_id WHERE items.id = ?",
        (item_id,),
    )
    if not rows:
        return None
    item = rows[0]
    item["siblings"] = (
        [m for m in story_members(store, item["story"]) if m["id"] != item_id] if item["story"] is not None else []
    )
    item["alerts"] = store.query(
        "SELECT id, rule_id AS rule, severity, state, created_at FROM alerts WHERE item_id = ? ORDER BY id",
        (item_id,),
    )
    item["copy_of_alerts"] = store.query(
        "SELECT alerts.id, alerts.rule_id AS rule, alerts.item_id FROM alert_copies "
        "JOIN alerts ON alerts.id = alert_copies.alert_id WHERE alert_copies.item_id = ? ORDER BY alerts.id",
        (item_id,),
    )
    return item


def known_keys(store: Store, source: str, keys: Sequence[str]) -> set[str]:
    """Which of `keys` (item keys) a source's stored items have."""
    row = store.conn.execute("SELECT id FROM sources WHERE name = ?", (source,)).fetchone()
    if row is None or not keys:
        return set()
    found: set[str] = set()
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        found.update(
            r[0]
            for r in store.conn.execute(
                f"SELECT key FROM items WHERE source_id = ? AND key IN ({marks})",  # noqa: S608
                (row[0], *chunk),
            )
        )
    return found


def remember_rules(store: Store, ruleset: RuleSet) -> None:
    """Remember the rules that run now (their digests), replacing those remembered before."""
    digests = rule_digests(ruleset)
    now = now_iso()
    with store.write() as conn:
        conn.execute(
            "DELETE FROM rule_digests WHERE rule_id NOT IN (SELECT value FROM json_each(?))",
            (json.dumps(list(digests)),),
        )
        # An upsert: daemons sharing PostgreSQL may remember the same rules at once.
        conn.executemany(
            "INSERT INTO rule_digests (rule_id, digest, loaded_at) VALUES (?, ?, ?) "
            "ON CONFLICT (rule_id) DO UPDATE SET digest = excluded.digest, loaded_at = excluded.loaded_at",
            [(rule_id, digest, now) for rule_id, digest in digests.items()],
        )


def changed_rules(store: Store, digests: dict[str, str]) -> list[str]:
    """The rules that differ from those last run (new ones included); [] when none was ever recorded."""
    known = {r["rule_id"]: r["digest"] for r in store.query("SELECT rule_id, digest FROM rule_digests")}
    if not known:
        return []
    return sorted(rule_id for rule_id, digest in digests.items() if known.get(rule_id) != digest)
