"""`watcher run`: the daemon. All scheduling lives here (APScheduler 3.11, AsyncIOScheduler).

Jobs: one per feed at its interval with jitter, one per seed directory, one draining the outbox, one
watching rule files and watcher.yaml, and a heartbeat. The event loop only schedules: SQLite runs on one
thread (the writer), delivery on another, fetching and parsing on a bounded pool, so the loop stays free
and APScheduler never has to skip a run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from watcher import __version__
from watcher.config import Config, load_config
from watcher.daemon.health import HealthServer, Metrics
from watcher.daemon.logs import SkippedRuns, protect_secrets
from watcher.daemon.outage import Outage
from watcher.daemon.reload import Reloads
from watcher.daemon.schedule import SUBSCRIPTION_CHECK, schedule_source
from watcher.daemon.service import InstanceLock, StallGuard, sd_notify, watchdog_interval
from watcher.daemon.watch import FileWatch, Snapshot
from watcher.delivery.deliver import Dispatcher
from watcher.errors import DatabaseUnavailable, NotFound, WatcherError
from watcher.poll import Poller, PollResult
from watcher.rules.engine import Engine
from watcher.rules.load import load_rules
from watcher.sources.sandbox import ParsePool
from watcher.status import read_gauges
from watcher.store.feeds import FeedState, all_feeds, sync
from watcher.store.open import open_store
from watcher.store.processes import (
    HEARTBEAT_SECONDS,
    claim_feed,
    heartbeat,
    process_id,
    register,
    release_feed,
    unregister,
)
from watcher.store.search import remember_rules
from watcher.store.sqlite import Store
from watcher.web.app import Dashboard

log = logging.getLogger(__name__)
T = TypeVar("T")


class Daemon(Reloads):
    def __init__(self, config_path: Path | None, config: Config):
        self.config_path = config_path.resolve() if config_path else None
        self.config = config
        self.metrics = Metrics()
        # One daemon per SQLite file; on PostgreSQL any number, coordinating through leases in the database.
        self.lock = InstanceLock(config.database) if isinstance(config.database, Path) else None
        self.holder = process_id()
        self.db_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="db")
        self.delivery_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="deliver")
        self.fetch_pool = concurrent.futures.ThreadPoolExecutor(16, thread_name_prefix="fetch")
        self.parse_pool = ParsePool(deadline=config.daemon.parse_timeout)
        self.scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}, timezone=UTC
        )
        self.stall_guard = StallGuard(config.daemon.stall_timeout)
        self.stopping = asyncio.Event()
        self.reload_requested = False
        self._inflight: set[asyncio.Task[Any]] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self.watch = FileWatch()
        self._gauges: dict[str, float] = {}
        self._reported_problems: str = ""
        self.outage = Outage(self.metrics)
        # Sends whose record waits for the database: kept across the dispatchers that reloads make.
        self._unrecorded: list[tuple[list[int], datetime]] = []
        # Polls skipped because their source's last poll was still running: said once a minute, not per feed.
        self._skipped = SkippedRuns(lambda: self.metrics.counters.update(("polls_skipped",)))
        self._skipped_told = (0, time.monotonic())
        self.store: Store
        self.delivery_store: Store
        self.engine: Engine
        self.poller: Poller
        self.dispatcher: Dispatcher
        self.health: HealthServer | None = None
        self.dashboard: Dashboard | None = None

    # plumbing -------------------------------------------------------------------------------------------

    async def _in(self, executor: concurrent.futures.Executor, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    def _job(self, coro_fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a job: track it for the graceful stop, and never let one failure kill the scheduler."""

        async def run(*args: Any) -> None:
            if self.stopping.is_set():
                return
            task = asyncio.current_task()
            if task is not None:
                self._inflight.add(task)
            try:
                await coro_fn(*args)
            except asyncio.CancelledError:
                # Cut short by the stop after its grace period: what it had committed stays, the rest is redone
                # at the next start. The scheduler need not print a traceback for that.
                log.warning("job %s was still running at the end of the grace period: stopped", coro_fn.__name__)
            except DatabaseUnavailable as e:
                self.outage.lost(e)
            except WatcherError as e:
                log.error("%s", e)
            except Exception:
                log.exception("job %s failed", coro_fn.__name__)
            finally:
                if task is not None:
                    self._inflight.discard(task)

        run.__name__ = coro_fn.__name__
        return run

    # start ----------------------------------------------------------------------------------------------

    def _open(self) -> None:
        """Runs on the db thread: the writer's connection, rules, feed state."""
        self.store = open_store(self.config.database)
        register(self.store, self.holder, __version__, datetime.now(UTC))
        ruleset = load_rules(self.config.rules)
        for problem in ruleset.problems:
            log.error("rules: %s", problem)
        if ruleset.rejected_files:
            log.error("rejected rule files (their rules are not running): %s", ", ".join(ruleset.rejected_files))
        if not ruleset.rules:
            raise NotFound(f"no rules to run in {self.config.rules}: refusing to start a daemon that alerts on nothing")
        self.engine = Engine(ruleset)
        remember_rules(self.store, ruleset)
        sync(self.store, self.config)
        self.poller = Poller(self.config, self.store, self.engine, parse_pool=self.parse_pool)

    def _open_delivery(self) -> None:
        self.delivery_store = open_store(self.config.database, check=False)
        self._new_dispatcher(self.config)

    def _new_dispatcher(self, config: Config) -> None:
        self.dispatcher = Dispatcher(self.delivery_store, config, rules=self._rules(), unrecorded=self._unrecorded)

    def _rules(self) -> dict[str, Any]:
        return {r.id: r for r in self.engine.ruleset.rules}

    async def run(self) -> int:
        if self.lock is not None:
            self.lock.acquire()
        try:
            return await self._run()
        finally:
            if self.lock is not None:
                self.lock.release()

    async def _run(self) -> int:
        loop = asyncio.get_running_loop()
        await self._in(self.db_thread, self._open)
        await self._in(self.delivery_thread, self._open_delivery)
        await self._in(self.delivery_thread, self.dispatcher.report_unrouted, self.engine.ruleset.rules)
        self.watch.apply(Snapshot.take(self.config_path, self.config.rules))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self._request_reload)
        if self.config.daemon.listen:
            if self.config.daemon.dashboard:
                self.dashboard = Dashboard(
                    self.config.database, lambda: self.engine.ruleset, token=self.config.daemon.token
                )
            self.health = HealthServer(self.metrics, lambda: dict(self._gauges), pages=self.dashboard)
            await self.health.start(*self.config.daemon.listen)
        states = await self._in(self.db_thread, all_feeds, self.store)
        for state in states:
            self._schedule_source(state)
        # The daemon's own jobs: (name, job, every so many seconds, run at once).
        for name, job, seconds, now in (
            ("deliver", self.deliver, self.config.daemon.deliver_interval, True),
            ("reload", self.watch_files, 1, False),
            ("heartbeat", self.heartbeat, 1, True),
            ("leases", self.renew_leases, min(HEARTBEAT_SECONDS, self.config.daemon.lease / 3), False),
            ("gauges", self.refresh_gauges, 10, True),
            ("subscriptions", self.watch_subscriptions, SUBSCRIPTION_CHECK, False),
        ):
            first = {"next_run_time": datetime.now(UTC)} if now else {}
            self.scheduler.add_job(self._job(job), IntervalTrigger(seconds=seconds), id=name, name=name, **first)
        logging.getLogger("apscheduler.scheduler").addFilter(self._skipped)
        self.scheduler.start()
        self.stall_guard.start()
        await self.heartbeat()
        sd_notify("READY=1\nSTATUS=watching")
        log.info(
            "watcher %s running: %d feeds, %d seed directories, %d rules (%s), database %s",
            "daemon",
            sum(s.kind == "feed" for s in states),
            sum(s.kind == "dir" for s in states),
            len(self.engine.ruleset.rules),
            self.engine.scanner.name,
            self.config.database,
        )
        await self.stopping.wait()
        return await self._stop()

    def _schedule_source(self, state: FeedState) -> None:
        schedule_source(self.scheduler, state, self._job(self.poll_source))

    # jobs -----------------------------------------------------------------------------------------------

    async def poll_source(self, name: str) -> None:
        if self.outage.active:
            return  # nothing can be stored: the heartbeat says when the database is back
        # Due (not backing off after failures, nor asked to wait by Retry-After) and not being polled by
        # another daemon on the same database: this process holds the feed's lease until the poll is done.
        now, lease = datetime.now(UTC), self.config.daemon.lease
        state = await self._in(self.db_thread, claim_feed, self.store, name, self.holder, now, lease)
        if state is None:
            return
        try:
            await self._poll_claimed(state)
        finally:
            await self._in(self.db_thread, release_feed, self.store, name, self.holder)

    async def _poll_claimed(self, state: FeedState) -> None:
        if self.stopping.is_set():
            return  # claimed while the stop began: the next start polls it
        self.metrics.counters["polls"] += 1
        if state.kind == "dir":
            result = await self._poll_dir(state)
        else:
            fetched = await self._in(self.fetch_pool, self.poller.fetch_and_parse, state)
            if fetched.fetch_seconds is not None:
                self.metrics.fetch_seconds.observe(fetched.fetch_seconds)
            if fetched.parse_seconds is not None:
                self.metrics.parse_seconds.observe(fetched.parse_seconds)
            articles = await self._in(self.db_thread, self.poller.articles.to_read, fetched)
            if articles:
                await self._in(self.fetch_pool, self.poller.articles.read, fetched, articles)
            result = await self._in(self.db_thread, self.poller.store_result, fetched)
            if result.full_text is not None:
                self.metrics.count_full_text(result.full_text.read, result.full_text.failed)
        self.metrics.count_poll(result.eval_seconds, result.evaluated, result.new, result.alerts, ok=result.ok)
        if result.alerts:
            task = asyncio.ensure_future(self._job(self.deliver)())
            # The loop keeps only a weak reference to a task: hold it until it is done.
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _poll_dir(self, state: FeedState) -> PollResult:
        """Parse a batch of files on a worker thread, store it on the store's thread, and so on: the store's
        thread (and the health check behind it) never waits for a parse."""
        poller = self.poller
        batches = poller.read_dir(state)
        ingest = poller.start_dir(state)
        while True:
            batch = await self._in(self.fetch_pool, next, batches, None)
            if batch is None or self.stopping.is_set():
                break
            await self._in(self.db_thread, ingest.add, batch)
        # Left early (a stop), the reader waits for the parses it started: on a worker thread, not the loop.
        # (Cancelled instead, its `next` may still run: the process is ending, and the generator with it.)
        await self._in(self.fetch_pool, batches.close)
        return await self._in(self.db_thread, poller.finish_dir, state, ingest)

    async def deliver(self) -> None:
        dispatcher = self.dispatcher
        stats = await self._in(self.delivery_thread, lambda: dispatcher.drain(stop=self.stopping.is_set))
        self.metrics.count_delivery(stats.sent, stats.failed, stats.dead, stats.latencies)

    async def heartbeat(self) -> None:
        self.stall_guard.beat()
        interval = watchdog_interval()
        now = time.monotonic()
        if now - self.metrics.last_check < (interval or 5):
            return
        self.metrics.last_check = now
        if not self.outage.time_to_try():
            return
        try:
            await asyncio.wait_for(self._in(self.db_thread, self._db_answers), timeout=10)
            self.outage.answered()
            self.metrics.healthy = self.scheduler.running and not self.metrics.problems
        except DatabaseUnavailable as e:
            self.outage.lost(e)
        except Exception:  # noqa: BLE001 - any failure (a timeout included) means unhealthy
            self.metrics.healthy = False
        if self.metrics.healthy and interval:
            sd_notify("WATCHDOG=1")

    def _db_answers(self) -> None:
        self.store.conn.execute("SELECT 1").fetchone()

    async def renew_leases(self) -> None:
        """The process's heartbeat in the database, which renews the leases of the feeds it is polling: on the
        delivery thread's connection, so that a backlog of polls on the store's thread cannot let them expire."""
        now, lease = datetime.now(UTC), self.config.daemon.lease
        await self._in(self.delivery_thread, heartbeat, self.delivery_store, self.holder, now, lease)

    async def refresh_gauges(self) -> None:
        gauges = await self._in(self.delivery_thread, read_gauges, self.delivery_store)
        self._gauges = {**gauges, "rules": len(self.engine.ruleset.rules)}
        told, since = self._skipped_told
        skipped, now = self.metrics.counters["polls_skipped"], time.monotonic()
        if now - since >= 60:
            if skipped > told:
                log.warning(
                    "%d scheduled polls skipped in the last %.0fs: their source's previous poll was still running. "
                    "This daemon does not keep up with its feeds' intervals: lengthen them, or run more daemons on "
                    "PostgreSQL (docs/operations.md, Scaling out)",
                    skipped - told,
                    now - since,
                )
            self._skipped_told = (skipped, now)

    # stop -----------------------------------------------------------------------------------------------

    async def _stop(self) -> int:
        grace = self.config.daemon.grace_period
        log.info("stopping: no new polls; waiting up to %gs for work in flight", grace)
        # Paused, not shut down: shutting APScheduler's asyncio executor down cancels the jobs in flight, which
        # the grace period is for.
        self.scheduler.pause()
        if self.health is not None:
            await self.health.stop()
        if self.dashboard is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.dashboard.close)
        pending = [t for t in self._inflight if t is not asyncio.current_task()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace)
            if late:
                log.warning("%d jobs still running after %gs; their transactions roll back", len(late), grace)
                self._exit_now()
        self.scheduler.shutdown(wait=False)
        logging.getLogger("apscheduler.scheduler").removeFilter(self._skipped)
        self.stall_guard.stop()
        try:
            self.db_thread.submit(unregister, self.store, self.holder).result(timeout=grace)
        except WatcherError as e:
            log.warning("could not sign off from the database (its leases expire by themselves): %s", e)
        # Each connection is closed on the thread that opened it.
        self.db_thread.submit(self.store.close).result(timeout=grace)
        self.delivery_thread.submit(self.delivery_store.close).result(timeout=grace)
        self.fetch_pool.shutdown(wait=False, cancel_futures=True)
        self.db_thread.shutdown(wait=True)
        self.delivery_thread.shutdown(wait=True)
        self.parse_pool.close()
        self.poller.close()
        log.info("stopped")
        return 0

    def _exit_now(self) -> None:
        if self.lock is not None:
            self.lock.release()
        logging.shutdown()
        os._exit(0)


def run_daemon(config_path: Path | None) -> int:
    config = load_config(config_path)
    protect_secrets(config.secrets)
    for warning in config.warnings:
        log.warning("%s", warning)
    if not config.rules.exists():
        raise NotFound(f"no rules at {config.rules}: refusing to start a daemon that alerts on nothing")
    return asyncio.run(Daemon(config_path, config).run())
