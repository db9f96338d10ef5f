"""The one pipeline every edge shares: items in, deduplicated and stored, rules evaluated, alerts recorded.

`backfill`, `poll --once` and `run` differ only in where items come from and whether their alerts are sent.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from watcher.config.model import Stories
from watcher.errors import ReadError
from watcher.items.model import Item
from watcher.items.stories import MAX_CHARACTERS, story_text
from watcher.rules.engine import Engine, Match
from watcher.sources.read import Skipped
from watcher.store.lookahead import Ahead
from watcher.store.sqlite import COPY, DUPLICATE, NEW, PENDING, SUPPRESSED, UPDATED, OnAlert, Outcome, Store

log = logging.getLogger(__name__)

BATCH_SIZE = 500
# Makes the story sketches of a batch's texts, and looks their keys up where it can (in a worker process).
Sketcher = Callable[[list[str]], Ahead]
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
    """Stores items and records the alerts of the rules they match.

    With a `sketcher` (a backfill's: its parse workers), the story sketches of each batch are made in another
    process while the batch before it is stored, and the batch is stored after the next one is read: a new
    item's story search then costs the main process its share of one lookup per batch instead of a
    fingerprint and a lookup of its own.
    """

    def __init__(
        self,
        store: Store,
        engine: Engine,
        *,
        on_alert: OnAlert | None = None,
        stories: Stories | None = None,
        sketcher: Sketcher | None = None,
    ):
        self.store = store
        self.engine = engine
        self.on_alert = on_alert
        self.stories = stories
        self.sketcher = sketcher

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
        with self._sketching() as sketching:
            waiting: tuple[list[Item], Future[Ahead] | None] | None = None
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
                    # This batch's sketches are made while the one before is stored.
                    ahead, waiting, batch = waiting, (batch, sketching.start(batch)), []
                    if ahead is not None:
                        self._flush(*ahead, sketching, alert_state, stats)
                        if progress:
                            progress(stats)
            if waiting is not None:
                self._flush(*waiting, sketching, alert_state, stats)
            if batch:
                self._flush(batch, None, sketching, alert_state, stats)  # (stored at once: sketched here)
        if progress:
            progress(stats)
        return stats

    @contextmanager
    def _sketching(self) -> Iterator[Sketching]:
        sketcher = self.sketcher if self.stories is not None and self.stories.enabled else None
        if sketcher is None:
            yield Sketching(None)
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sketches") as pool:
            yield Sketching(sketcher, pool)

    def _flush(
        self,
        batch: list[Item],
        sketches: Future[Ahead] | None,
        sketching: Sketching,
        alert_state: str,
        stats: Stats,
    ) -> None:
        if not batch:
            return

        def evaluate(item: Item) -> list[Match]:
            started = time.perf_counter()
            try:
                return self.engine.match(item)
            finally:
                stats.evaluated += 1
                stats.eval_seconds += time.perf_counter() - started

        ahead = sketching.take(sketches)
        outcomes = self.store.ingest(
            batch,
            evaluate,
            alert_state=alert_state,
            on_alert=self.on_alert,
            stories=self.stories,
            sketches=ahead.sketches,
            found=ahead.found,
        )
        for outcome in outcomes:
            stats.count(outcome)


class Sketching:
    """Story sketches of a batch made by a sketcher (in a worker process), on a thread of their own, while the
    main thread stores the batch before: `start` a batch's, `take` them when it is stored. Sketches not
    ready by then (the worker is starting, or slower than this process) are made as the items are stored,
    never waited for; after a failure the worker is not asked again."""

    def __init__(self, sketcher: Sketcher | None, pool: ThreadPoolExecutor | None = None):
        self._sketcher = sketcher
        self._pool = pool

    def start(self, batch: list[Item]) -> Future[Ahead] | None:
        if self._sketcher is None or self._pool is None:
            return None
        return self._pool.submit(self._sketcher, [story_text(item)[:MAX_CHARACTERS] for item in batch])

    def take(self, sketches: Future[Ahead] | None) -> Ahead:
        """A batch's sketches (and what was found for them), or none (they are made as its items are stored)."""
        if sketches is None or not sketches.done():
            if sketches is not None:
                sketches.cancel()
            return Ahead()
        try:
            return sketches.result()
        except ReadError as e:
            if self._sketcher is not None:  # (once: the next batch's may have been asked for already)
                log.warning("%s; stories are sketched in this process from here on", e)
                self._sketcher = None
            return Ahead()


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
