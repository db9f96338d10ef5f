"""`watcher rules backtest`: what a rule set would have caught among the stored items, against what alerted.

Items are streamed in chunks (memory stays flat however many there are) with their stored text, the
article's where it was read, and evaluated without alerting. Per rule:

- hits: stored items the rule matches now;
- new: of those, items that would alert now but did not: neither the item, nor (for a rule that alerts once
  per story) any item of its story, has an alert of that rule, and no earlier hit of this run stands for its
  story;
- lost: items with an alert of the rule that the rule no longer matches.

Exact copies (stored as duplicates of another item) are not items of their own and are left out.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from watcher.items.model import Item
from watcher.rules.engine import Engine, Match
from watcher.rules.model import RuleSet
from watcher.store.sqlite import Store
from watcher.web.app import page_environment
from watcher.web.charts import bars
from watcher.web.queries import days

CHUNK = 1000
SAMPLES = 3


@dataclass
class RuleOutcome:
    rule: str
    title: str
    hits: int = 0
    new: int = 0
    lost: int = 0
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"new": [], "lost": [], "hits": []})
    # Hits per day of the items' first sight: the report's chart.
    per_day: Counter[str] = field(default_factory=Counter)
    removed: bool = False  # alerted in the database, but no longer in the rule set

    def record(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "hits": self.hits,
            "new": self.new,
            "lost": self.lost,
            "removed": self.removed,
            "samples": self.samples,
        }


@dataclass
class Backtest:
    rules: dict[str, RuleOutcome]
    items: int = 0
    seconds: float = 0.0
    since: str | None = None

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def count_items(store: Store, since: str | None) -> int:
    return int(
        store.query(
            "SELECT count(*) AS n FROM items WHERE duplicate_of IS NULL AND (? IS NULL OR first_seen >= ?)",
            (since, since),
        )[0]["n"]
    )


def backtest(
    store: Store, ruleset: RuleSet, *, since: str | None = None, progress: Callable[[int], None] | None = None
) -> Backtest:
    """Evaluate `ruleset` over the stored items first seen since `since` (an ISO time; all when None)."""
    engine = Engine(ruleset)
    per_story = {r.id for r in ruleset.rules if r.per == "story"}
    result = Backtest({r.id: RuleOutcome(r.id, r.title) for r in ruleset.rules}, since=since)
    started = time.perf_counter()
    # Stories for which this run found a hit of a rule (rule, story): later copies stand behind it.
    story_hits: set[tuple[str, int]] = set()
    last_id = 0
    while True:
        rows = store.query(
            "SELECT items.id, items.guid, items.link, items.title, items.summary, items.content, items.author, "
            "items.path, items.story_id, items.first_seen, sources.name AS source FROM items "
            "JOIN sources ON sources.id = items.source_id WHERE items.id > ? AND items.duplicate_of IS NULL "
            "AND (? IS NULL OR items.first_seen >= ?) ORDER BY items.id LIMIT ?",
            (last_id, since, since, CHUNK),
        )
        if not rows:
            break
        last_id = rows[-1]["id"]
        alerted, story_alerted = _alerted(store, rows)
        alerted_rules: dict[int, set[str]] = {}
        for rule_id, item_id in alerted:
            alerted_rules.setdefault(item_id, set()).add(rule_id)
        for row in rows:
            item = Item(
                source=row["source"],
                guid=row["guid"],
                link=row["link"],
                title=row["title"] or "",
                summary=row["summary"] or "",
                content=row["content"] or "",
                author=row["author"] or "",
                path=row["path"],
            )
            matches = engine.match(item)
            matched = {m.rule.id for m in matches}
            story = row["story_id"]
            for match in matches:
                rule_id = match.rule.id
                outcome = result.rules[rule_id]
                outcome.hits += 1
                outcome.per_day[(row["first_seen"] or "")[:10]] += 1
                _sample(outcome, "hits", row, match)
                covered = (rule_id, row["id"]) in alerted
                if rule_id in per_story and story is not None:
                    covered = covered or (rule_id, story) in story_alerted or (rule_id, story) in story_hits
                    story_hits.add((rule_id, story))
                if not covered:
                    outcome.new += 1
                    _sample(outcome, "new", row, match)
            for rule_id in sorted(alerted_rules.get(row["id"], set()) - matched):
                gone = result.rules.setdefault(rule_id, RuleOutcome(rule_id, rule_id, removed=True))
                gone.lost += 1
                _sample(gone, "lost", row, None)
        result.items += len(rows)
        if progress:
            progress(len(rows))
    result.seconds = time.perf_counter() - started
    return result


def _alerted(store: Store, rows: list[dict[str, Any]]) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
    """For a chunk of items: (rule, item) pairs with an alert (or recorded as a copy with one), and (rule,
    story) pairs whose story has an alert of the rule."""
    ids = json.dumps([r["id"] for r in rows])
    stories = json.dumps(sorted({r["story_id"] for r in rows if r["story_id"] is not None}))
    pairs = {
        (r["rule_id"], r["item_id"])
        for r in store.query(
            "SELECT rule_id, item_id FROM alerts WHERE item_id IN (SELECT value FROM json_each(?)) "
            "UNION SELECT alerts.rule_id, alert_copies.item_id FROM alert_copies JOIN alerts "
            "ON alerts.id = alert_copies.alert_id WHERE alert_copies.item_id IN (SELECT value FROM json_each(?))",
            (ids, ids),
        )
    }
    story_pairs = {
        (r["rule_id"], r["story_id"])
        for r in store.query(
            "SELECT DISTINCT alerts.rule_id, items.story_id FROM alerts JOIN items ON items.id = alerts.item_id "
            "WHERE items.story_id IN (SELECT value FROM json_each(?))",
            (stories,),
        )
    }
    return pairs, story_pairs


def _sample(outcome: RuleOutcome, kind: str, row: dict[str, Any], match: Match | None) -> None:
    shown = outcome.samples[kind]
    if len(shown) >= SAMPLES:
        return
    shown.append(
        {
            "item_id": row["id"],
            "source": row["source"],
            "title": row["title"],
            "link": row["link"],
            "path": row["path"],
            "evidence": [e.as_dict() for e in match.evidence[:SAMPLES]] if match else [],
        }
    )


def render_html(result: Backtest, *, now: datetime | None = None) -> str:
    """A self-contained page: the report, its charts inline, its stylesheet inline."""
    now = now or datetime.now(UTC)
    window = days(now)
    rows = [
        {
            "outcome": o,
            "chart": bars([(d, o.per_day.get(d, 0)) for d in window], label=f"{o.rule}: hits per day"),
        }
        for o in result.rules.values()
    ]
    env = page_environment()
    return env.get_template("backtest.html").render(result=result, rows=rows, generated=now.isoformat("T", "seconds"))
