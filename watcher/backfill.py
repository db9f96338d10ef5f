"""`watcher backfill`: replay files and directories through the pipeline.

Without --notify its alerts are recorded as not to be sent, so a daemon started later does not flood anyone
with history. --dry-run runs the same pipeline against an in-memory copy of the database: nothing is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watcher.config import Config
from watcher.delivery.deliver import DeliveryStats, Dispatcher, enqueue_alerts
from watcher.delivery.outbox import Outbox
from watcher.errors import RuleError
from watcher.items.model import Item
from watcher.pipeline import Pipeline, Stats
from watcher.rules.engine import Engine
from watcher.rules.load import load_rules
from watcher.sources.read import read_paths
from watcher.sources.sandbox import ParsePool
from watcher.store import open as store_open
from watcher.store.lookahead import Ahead, sketch_and_find
from watcher.store.search import remember_rules
from watcher.store.sqlite import PENDING, SUPPRESSED, Store


@dataclass(frozen=True)
class BackfillOptions:
    paths: Sequence[Path]
    notify: bool = False
    dry_run: bool = False
    since: datetime | None = None


def load_engine(config: Config) -> Engine:
    """The configured rules, compiled; RuleError when any rule file has a problem."""
    ruleset = load_rules(config.rules)
    if ruleset.problems:
        raise RuleError(ruleset.problems)
    return Engine(ruleset)


def open_store(config: Config, *, dry_run: bool = False) -> Store:
    return store_open.open_dry_run(config.database) if dry_run else store_open.open_store(config.database)


def open_existing_store(config: Config) -> Store:
    """The database, for a command that only reads it: never created where there is none."""
    return store_open.open_existing(config.database)


@dataclass
class BackfillResult:
    stats: Stats
    delivery: DeliveryStats | None = None


def backfill(
    config: Config, options: BackfillOptions, progress: Callable[[Stats], None] | None = None
) -> BackfillResult:
    """Read (in the sandboxed workers), deduplicate, store and evaluate every document; with notify, deliver."""
    deadline = config.daemon.parse_timeout
    with ParsePool(deadline=deadline) as parse_pool, ParsePool(1, deadline=deadline) as sketch_pool:
        if config.stories.enabled:
            sketch_pool.warm()  # the stories' sketches are made there: the worker starts while the rules load
        engine = load_engine(config)
        with open_store(config, dry_run=options.dry_run) as store:
            remember_rules(store, engine.ruleset)
            sending = options.notify and not options.dry_run
            on_alert = enqueue_alerts(Outbox(config.notify)) if options.notify else None
            keep = _since_filter(options.since) if options.since else None
            state = PENDING if options.notify else SUPPRESSED
            sketcher = story_sketcher(sketch_pool, store)
            pipeline = Pipeline(store, engine, on_alert=on_alert, stories=config.stories, sketcher=sketcher)
            documents = read_paths(options.paths, reader=parse_pool.read, ahead=parse_pool.workers)
            stats = pipeline.ingest(documents, alert_state=state, keep=keep, progress=progress)
            delivery = None
            if sending:
                rules = {r.id: r for r in engine.ruleset.rules}
                delivery = Dispatcher(store, config, rules=rules).drain()
    return BackfillResult(stats, delivery)


def story_sketcher(pool: ParsePool, store: Store) -> Callable[[list[str]], Ahead]:
    """Story sketches made in `pool`'s worker, which also looks their band keys up in the store's database
    file when it has one (see `watcher.store.lookahead`)."""
    database = str(store.file) if store.file is not None else None

    def sketcher(texts: list[str]) -> Ahead:
        return pool.run("story sketches", sketch_and_find, texts, database)

    return sketcher


def _since_filter(since: datetime) -> Callable[[Item], str | None]:
    def keep(item: Item) -> str | None:
        when = item.published
        if when is None and item.path:
            try:
                when = datetime.fromtimestamp(os.stat(item.path).st_mtime, tz=UTC)
            except OSError:
                when = None
        return "older than --since" if when is not None and when < since else None

    return keep


def summary_record(result: BackfillResult, options: BackfillOptions, config: Config) -> dict[str, Any]:
    """The closing summary of a backfill as one JSON-ready object."""
    stats = result.stats
    delivery = result.delivery
    return {
        "database": None if options.dry_run else str(config.database),
        "dry_run": options.dry_run,
        "notify": options.notify,
        "read": stats.read,
        "skipped": dict(stats.skipped),
        "new": stats.new,
        "duplicate": stats.duplicate,
        "copies": stats.copies,
        "updated": stats.updated,
        "alerts": stats.alerts,
        "hits": dict(stats.hits),
        "story_copies": sum(stats.story_copies.values()),
        "delivery": None
        if delivery is None
        else {"sent": delivery.sent, "failed": delivery.failed, "dead": delivery.dead},
    }


def summary(result: BackfillResult, options: BackfillOptions) -> list[str]:
    """The closing summary of a backfill, as lines."""
    stats = result.stats
    skipped = sum(stats.skipped.values())
    lines = [f"{stats.read} {'item' if stats.read == 1 else 'items'} read, {skipped} skipped"]
    for reason, n in sorted(stats.skipped.items()):
        lines.append(f"  skipped {n}: {reason}")
    lines.append(
        f"items: {stats.new} new, {stats.duplicate} duplicate, "
        f"{stats.copies} {'copy' if stats.copies == 1 else 'copies'} of another item, "
        f"{stats.updated} updated"
    )
    if options.dry_run:
        fate = "dry run: nothing was written"
    elif options.notify:
        fate = f"queued for delivery ({result.delivery})" if result.delivery else "queued for delivery"
    else:
        fate = "recorded, not sent (use --notify to send)"
    lines.append(f"alerts: {stats.alerts} {fate}")
    width = max((len(r) for r in stats.hits), default=0)
    for rule_id, n in sorted(stats.hits.items(), key=lambda kv: (-kv[1], kv[0])):
        shown = stats.examples.get(rule_id, [])
        more = f" and {n - len(shown)} more" if n > len(shown) else ""
        lines.append(f"  {rule_id:<{width}}  {n:>5}  {', '.join(shown)}{more}")
    copies = sum(stats.story_copies.values())
    if copies:
        lines.append(f"later copies of an alerted story: {copies}, recorded with its alert, not sent again")
    return lines


def next_steps(result: BackfillResult, options: BackfillOptions, config: Config, config_arg: str) -> list[str]:
    """Where the results are and what to run next, as the closing lines of a backfill."""
    if options.dry_run:
        return ["next: run it again without --dry-run to keep what it found"]
    lines = [f"database: {config.database}"]
    if result.stats.alerts:
        lines.append(f"next: watcher alerts list{config_arg}")
        if not options.notify:
            lines.append(f"      watcher alerts send --suppressed{config_arg}  (to send what was recorded)")
    lines.append(
        f"      watcher items search WORDS{config_arg}"
        if result.stats.alerts
        else f"next: watcher items search WORDS{config_arg}"
    )
    host, port = config.daemon.listen or ("127.0.0.1", 8080)  # where `watcher serve` listens by default
    lines.append(f"      watcher serve{config_arg}  (the dashboard, on http://{host}:{port}/)")
    return lines
