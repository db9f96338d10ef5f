"""The daemon's reloads: rule files and watcher.yaml watched and reloaded when an edit settles (or on
SIGHUP), a bad edit refused while the last good version keeps running (and `ops` told once), and feeds
added or removed in the database picked up."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from watcher.config import Config, load_config
from watcher.daemon.health import Metrics
from watcher.daemon.logs import protect_secrets
from watcher.daemon.schedule import reschedule
from watcher.daemon.watch import FileWatch, Snapshot
from watcher.delivery.deliver import Dispatcher
from watcher.errors import ConfigError
from watcher.poll import Poller
from watcher.rules.engine import Engine
from watcher.rules.load import load_rules
from watcher.sources.sandbox import ParsePool
from watcher.store.feeds import FeedState, all_feeds, sync
from watcher.store.search import remember_rules
from watcher.store.sqlite import Store

log = logging.getLogger(__name__)


class Reloads:
    """Mixed into the daemon, whose state it swaps on a reload."""

    config_path: Path | None
    config: Config
    metrics: Metrics
    engine: Engine
    poller: Poller
    dispatcher: Dispatcher
    store: Store
    scheduler: AsyncIOScheduler
    parse_pool: ParsePool
    watch: FileWatch
    reload_requested: bool
    _reported_problems: str
    db_thread: concurrent.futures.Executor
    delivery_thread: concurrent.futures.Executor

    # The daemon's own plumbing.
    _in: Callable[..., Awaitable[Any]]
    _job: Callable[[Callable[..., Any]], Callable[..., Any]]
    _new_dispatcher: Callable[[Config], None]
    poll_source: Callable[[str], Awaitable[None]]

    def _request_reload(self) -> None:
        log.info("SIGHUP: reloading rules and configuration")
        self.reload_requested = True

    async def watch_files(self) -> None:
        # Walking the rules directory is file I/O: keep it off the SQLite writer's thread.
        snapshot = await asyncio.get_running_loop().run_in_executor(
            None, Snapshot.take, self.config_path, self.config.rules
        )
        if self.reload_requested:
            self.reload_requested = False
            await self.reload(snapshot)
        elif self.watch.settled(snapshot, self.config.daemon.reload_debounce):
            await self.reload(snapshot)

    async def reload(self, snapshot: Snapshot) -> None:
        self.watch.apply(snapshot)
        try:
            config = load_config(self.config_path) if self.config_path else self.config
        except ConfigError as e:
            await self._refuse("watcher.yaml", [str(p) for p in e.problems])
            return
        protect_secrets(config.secrets | self.config.secrets)
        try:
            ruleset = await self._in(self.db_thread, load_rules, config.rules)
            # A rules directory that went away keeps the last good rules running, and says so on /healthz.
            self.metrics.set_problem("rules", None if config.rules.exists() else f"no rules at {config.rules}")
            if ruleset.problems:
                await self._refuse("rules", [str(p) for p in ruleset.problems])
                return
            engine = await self._in(self.db_thread, Engine, ruleset)
        except Exception as e:  # noqa: BLE001 - whatever a rule edit breaks, the edit is refused, not the daemon
            await self._refuse("rules", [f"{config.rules}: cannot load: {type(e).__name__}: {e}"])
            return
        old = self.config
        self.config, self.engine = config, engine
        self.parse_pool.deadline = config.daemon.parse_timeout
        self._reported_problems = ""

        def swap() -> list[FeedState]:
            sync(self.store, config)
            remember_rules(self.store, engine.ruleset)
            previous = self.poller
            # The HTTP client (its connection pool) carries over unless the http settings changed.
            same_http = config.http == previous.config.http
            client = previous.client if same_http else None
            self.poller = Poller(config, self.store, engine, parse_pool=self.parse_pool, client=client)
            if not same_http:
                previous.close()
            return all_feeds(self.store)

        states = await self._in(self.db_thread, swap)
        await self._in(self.delivery_thread, self._new_dispatcher, config)
        self._reschedule(states)
        if config.database != old.database:
            log.warning("the database path changed in watcher.yaml: restart watcher to use it")
        self.metrics.counters["reloads"] += 1
        log.info("reloaded: %d rules, %d sources", len(ruleset.rules), len(states))
        await self._in(self.delivery_thread, self.dispatcher.report_unrouted, ruleset.rules)

    def _reschedule(self, states: list[FeedState]) -> list[str]:
        return reschedule(self.scheduler, states, self._job(self.poll_source))

    async def watch_subscriptions(self) -> None:
        """Feeds added or removed in the database (`watcher feeds add|remove`) are polled, or not, from now."""
        changes = self._reschedule(await self._in(self.db_thread, all_feeds, self.store))
        if changes:
            log.info("subscriptions changed: %s", ", ".join(changes))

    async def _refuse(self, what: str, problems: list[str]) -> None:
        self.metrics.counters["reload_failures"] += 1
        for problem in problems:
            log.error("reload refused, keeping the last good %s: %s", what, problem)
        key = "\n".join(problems)
        if key != self._reported_problems:
            self._reported_problems = key
            message = f"an edit of the {what} is invalid; the last good version keeps running:\n" + "\n".join(
                problems[:20]
            )
            await self._in(self.delivery_thread, self.dispatcher.send_ops, "watcher: invalid edit", message)
