"""The one pipeline every edge shares: items in, deduplicated and stored, rules evaluated, alerts recorded.

`backfill`, `poll --once` and `run` differ only in where items come from and whether their alerts are sent.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from watcher.config.model import Stories
from watcher.items.model import Item
from watcher.rules.engine import Engine, Match
from watcher.sources.read import Skipped
from watcher.store.sqlite import COPY, DUPLICATE, NEW, PENDING, SUPPRESSED, UPDATED, OnAlert, Outcome, Store

BATCH_SIZE = 500
EXAMPLES_PER_RULE = 3


@dataclass
class Stats:
    """What a run of the pipeline did."""

    read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    new: int = 0
    duplicate: int = 0
    updated: int = 0
    copies: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    # Rules whose hit was a later copy of a story they had alerted: recorded with that alert, not sent.
    story_copies: Counter[str] = field(default_factory=Counter)
    # Per rule, the first few items it alerted for (their path, link or title), to show what matched.
    examples: dict[str, list[str]] = field(default_factory=dict)
    evaluated: int = 0
    eval_seconds: float = 0.0

    @property
    def alerts(self) -> int:
        return sum(self.hits.values())

    def count(self, outcome: Outcome) -> None:
        if outcome.status == NEW:
            self.new += 1
        elif outcome.status == UPDATED:
            self.updated += 1
        elif outcome.status == DUPLICATE:
            self.duplicate += 1
        elif outcome.status == COPY:
            self.copies += 1
        self.hits.update(outcome.alerts)
        self.story_copies.update(outcome.copies)
        for rule_id in outcome.alerts:
            shown = self.examples.setdefault(rule_id, [])
            if len(shown) < EXAMPLES_PER_RULE:
                item = outcome.item
                shown.append(item.path or item.link or " ".join(item.title.split()) or item.source)


class Pipeline:
    """Stores items and records the alerts of the rules they match."""

    def __init__(
        self, store: Store, engine: Engine, *, on_alert: OnAlert | None = None, stories: Stories | None = None
    ):
        self.store = store
        self.engine = engine
        self.on_alert = on_alert
        self.stories = stories

    def ingest(
        self,
        results: Iterable[Item | Skipped],
        *,
        alert_state: str,
        keep: Callable[[Item], str | None] | None = None,
        progress: Callable[[Stats], None] | None = None,
        batch_size: int = BATCH_SIZE,
        stats: Stats | None = None,
    ) -> Stats:
        """Ingest items in batches of one transaction each; `keep` may return a reason to skip an item.

        `stats` carries the counts of earlier calls on, for a source ingested a part at a time.
        """
        stats = stats if stats is not None else Stats()
        batch: list[Item] = []
        for result in results:
            if isinstance(result, Skipped):
                stats.skipped[result.reason.split(":")[0]] += 1
                continue
            stats.read += 1
            reason = keep(result) if keep else None
            if reason:
                stats.skipped[reason] += 1
                continue
            batch.append(result)
            if len(batch) >= batch_size:
                self._flush(batch, alert_state, stats)
                if progress:
                    progress(stats)
        self._flush(batch, alert_state, stats)
        if progress:
            progress(stats)
        return stats

    def _flush(self, batch: list[Item], alert_state: str, stats: Stats) -> None:
        if not batch:
            return

        def evaluate(item: Item) -> list[Match]:
            started = time.perf_counter()
            try:
                return self.engine.match(item)
            finally:
                stats.evaluated += 1
                stats.eval_seconds += time.perf_counter() - started

        outcomes = self.store.ingest(
            batch, evaluate, alert_state=alert_state, on_alert=self.on_alert, stories=self.stories
        )
        for outcome in outcomes:
            stats.count(outcome)
        batch.clear()


class SourceIngest:
    """One source's items through a pipeline, a part at a time, collecting the ids of the alerts it records
    (the flood guard's count); a source's first poll records its alerts without sending them."""

    def __init__(self, pipeline: Pipeline, first: bool):
        self.stats = Stats()
        self.alert_ids: list[int] = []
        self._state = SUPPRESSED if first else PENDING
        self._pipeline = pipeline
        enqueue = pipeline.on_alert
        if enqueue is None:
            return

        def on_alert(conn, alert_id, match, item_id, version):  # type: ignore[no-untyped-def]
            self.alert_ids.append(alert_id)
            enqueue(conn, alert_id, match, item_id, version)

        pipeline.on_alert = on_alert

    def add(self, items: Iterable[Item | Skipped]) -> None:
        """Store a part (on the store's thread)."""
        self._pipeline.ingest(items, alert_state=self._state, stats=self.stats)
