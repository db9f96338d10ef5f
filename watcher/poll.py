"""Polling feeds and seed directories into the pipeline, with per-feed state.

Fetch and parse run concurrently in threads (bounded overall and per host; parsing in worker processes);
storing runs on the calling thread, one writer. A feed's first poll records its alerts without sending them
(no flood when a feed is added) unless it says `alert_existing: true`. A failed fetch changes nothing that
is recorded as seen.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import random
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from watcher.config import Config
from watcher.delivery.deliver import Dispatcher, enqueue_alerts
from watcher.delivery.outbox import Outbox, iso
from watcher.errors import FetchError, HostWaiting, ReadError
from watcher.items.model import Item
from watcher.pipeline import Pipeline, SourceIngest, Stats
from watcher.pollarticles import Articles
from watcher.pollresults import Fetched, PollResult
from watcher.rules.engine import Engine
from watcher.sources.fetch import FetchResult, fetch, make_client
from watcher.sources.fulltext import ArticleReader
from watcher.sources.hosts import HostGate
from watcher.sources.read import Skipped, read_paths
from watcher.sources.sandbox import ParsePool
from watcher.store.feeds import BROKEN_AFTER, FeedState, all_feeds, update_feed
from watcher.store.processes import held_feeds
from watcher.store.search import remember_rules
from watcher.store.sqlite import Store

log = logging.getLogger(__name__)
FEED_FAILURE = "feed_failure"  # set on the log record of a failed poll

MAX_BACKOFF = 6 * 3600.0
# Documents of a seed directory stored per step: the store's thread is free again between steps.
DIR_BATCH = 100
MAX_RETRY_AFTER = 24 * 3600.0


class Poller:
    """Polls feeds and seed directories through one pipeline."""

    def __init__(
        self,
        config: Config,
        store: Store,
        engine: Engine,
        *,
        parse_pool: ParsePool,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        concurrency: int = 16,
    ):
        self.config = config
        self.store = store
        self.engine = engine
        self.parse_pool = parse_pool
        self.client = client or make_client(
            allow_private_addresses=config.http.allow_private_addresses,
            limits=httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency),
        )
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter
        self.concurrency = concurrency
        self.gate = HostGate(config.http.per_host, config.http.per_host_gap)
        reader = ArticleReader(
            self.client, self.gate, parse_pool, timeout=config.http.timeout, max_bytes=config.http.max_page_bytes
        )
        self.articles = Articles(config, store, reader)
        # Per seed directory, the files left out and why, said once (not at every poll) until that changes.
        self._told_skips: dict[str, dict[str, str]] = {}
        self.outbox = Outbox(config.notify)
        self.dispatcher = Dispatcher(store, config, rules={r.id: r for r in engine.ruleset.rules}, clock=clock)

    # feeds ----------------------------------------------------------------------------------------------

    def poll_feeds(self, states: Sequence[FeedState]) -> list[PollResult]:
        """Fetch and parse the feeds concurrently (then the articles of their new entries, where a feed reads
        them); store each as it arrives."""
        results: list[PollResult] = []
        active = [s for s in states if s.kind == "feed" and not s.disabled_reason]
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            pending = {pool.submit(self.fetch_and_parse, state) for state in active}
            while pending:
                done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    fetched = future.result()
                    todo = self.articles.to_read(fetched)
                    if todo:
                        pending.add(pool.submit(self.articles.read, fetched, todo))
                    else:
                        results.append(self.store_result(fetched))
        return results

    def fetch_and_parse(self, state: FeedState) -> Fetched:
        """Fetch and parse one feed (any thread); never raises for the feed's own failures."""
        url = state.fetch_url
        timings: dict[str, float] = {}
        try:
            fetched = self._fetch_and_parse(state, url, timings)
        except (FetchError, ReadError) as e:
            fetched = Fetched(state, error=e)
        except Exception as e:  # noqa: BLE001 - whatever one feed raises is that feed's failure, not the poll's
            log.debug("feed %s: unexpected failure", state.name, exc_info=True)
            fetched = Fetched(state, error=FetchError(f"{url}: {type(e).__name__}: {_first_line(e)}"))
        fetched.fetch_seconds, fetched.parse_seconds = timings.get("fetch"), timings.get("parse")
        return fetched

    def _fetch_and_parse(self, state: FeedState, url: str, timings: dict[str, float]) -> Fetched:
        with self.gate.slot(url):
            started = time.monotonic()
            try:
                result = fetch(
                    self.client,
                    url,
                    timeout=self.config.http.timeout,
                    max_bytes=self.config.http.max_bytes,
                    etag=state.etag,
                    last_modified=state.last_modified,
                )
            finally:
                timings["fetch"] = time.monotonic() - started
        if result.status != 200:
            return Fetched(state, result)
        if not result.body.strip():
            raise ReadError(f"{url}: not a feed (empty body)")
        started = time.monotonic()
        try:
            items = self.parse_pool.parse(result.body, source=state.name, url=result.url, headers=result.headers)
        finally:
            timings["parse"] = time.monotonic() - started
        return Fetched(state, result, items)

    def store_result(self, fetched: Fetched) -> PollResult:
        """Store what a fetch brought, and the feed's new state (on the store's thread); never raises for it."""
        try:
            return self._store(fetched)
        except Exception as e:  # noqa: BLE001 - one feed's items must not stop the others being stored
            log.debug("feed %s: storing failed", fetched.state.name, exc_info=True)
            error = f"{fetched.state.fetch_url}: cannot store: {type(e).__name__}: {_first_line(e)}"
            return self._failed(fetched.state, error, self.clock(), retry_after=None)

    def _store(self, fetched: Fetched) -> PollResult:
        state, result = fetched.state, fetched.result
        now = self.clock()
        if isinstance(fetched.error, HostWaiting):
            # Not a failure of the feed: its host asked for quiet (it answered another request 429 or 503).
            update_feed(
                self.store, state.name, done=True, next_poll_at=iso(now + timedelta(seconds=fetched.error.seconds))
            )
            return PollResult(state.name, state.fetch_url, True, "deferred", error=str(fetched.error))
        if fetched.error is not None:
            retryable = not isinstance(fetched.error, FetchError) or fetched.error.retryable
            return self._failed(state, str(fetched.error), now, retry_after=None, permanent=not retryable)
        assert result is not None  # noqa: S101 - Fetched has a result or an error
        moved = result.permanent_url if result.permanent_url and result.permanent_url != state.fetch_url else None
        if moved:
            log.warning("feed %s moved permanently to %s; polling the new address from now on", state.name, moved)
        if result.status == 304:
            self._succeeded(state, now, "304 not modified", moved, result)
            return PollResult(state.name, state.fetch_url, True, "not modified")
        if result.status == 410:
            reason = f"410 Gone at {iso(now)}: the publisher removed the feed"
            update_feed(
                self.store,
                state.name,
                done=True,
                disabled_reason=reason,
                last_status="410",
                last_poll_at=iso(now),
                last_error=reason,
            )
            self._tell(f"gone:{state.name}", f"feed {state.name} ({state.fetch_url}) is gone (410): it is disabled")
            return PollResult(state.name, state.fetch_url, False, "gone", error=reason)
        if result.status in (429, 503):
            if result.retry_after is not None:
                self.gate.retry_after(state.fetch_url, result.retry_after)
            return self._failed(state, f"{state.fetch_url}: HTTP {result.status}", now, result.retry_after)
        if result.status != 200 or fetched.items is None:
            return self._failed(state, f"{state.fetch_url}: HTTP {result.status}", now, None)
        first = not state.polled and not state.alert_existing
        stats, alert_ids = self._ingest(fetched.items, first=first)
        self._flood_guard(state, alert_ids, now)
        self._succeeded(state, now, "200 ok", moved, result, new=stats.new)
        poll_result = PollResult.from_stats(state.name, state.fetch_url, stats, first=first)
        if fetched.full_text is not None:
            self.articles.record(state, fetched.full_text)
            poll_result.full_text = fetched.full_text
        return poll_result

    def _ingest(self, items: Iterable[Item | Skipped], *, first: bool) -> tuple[Stats, list[int]]:
        ingest = self._source_ingest(first)
        ingest.add(items)
        return ingest.stats, ingest.alert_ids

    def _flood_guard(self, state: FeedState, alert_ids: list[int], now: datetime) -> None:
        threshold = self.config.delivery.flood_threshold
        if len(alert_ids) <= threshold:
            return
        group = f"flood:{state.name}:{iso(now)}"
        with self.store.write() as conn:
            conn.executemany(
                "UPDATE outbox SET group_key = ? WHERE alert_id = ? AND state = 'pending'",
                [(group, a) for a in alert_ids],
            )
        message = (
            f"feed {state.name} produced {len(alert_ids)} alerts in one poll (more than {threshold}); they are sent "
            "as one digest. A publisher may have rewritten its entry ids."
        )
        log.warning("%s", message)
        self._tell(f"flood:{state.name}:{iso(now)}", message)

    def _succeeded(
        self, state: FeedState, now: datetime, status: str, moved: str | None, result: FetchResult, new: int = 0
    ) -> None:
        if state.broken_reported:
            self._tell(f"recovered:{state.name}:{iso(now)}", f"feed {state.name} ({state.fetch_url}) works again")
        update_feed(
            self.store,
            state.name,
            done=True,
            current_url=moved or state.current_url,
            etag=result.etag or state.etag,
            last_modified=result.last_modified or state.last_modified,
            last_status=status,
            last_error=None,
            failures=0,
            broken_reported=0,
            polled=1,
            last_poll_at=iso(now),
            last_success_at=iso(now),
            items_seen=state.items_seen + new,
            next_poll_at=iso(now + timedelta(seconds=self._jitter(state.interval))),
        )

    def _failed(
        self, state: FeedState, error: str, now: datetime, retry_after: float | None, permanent: bool = False
    ) -> PollResult:
        failures = state.failures + 1
        if retry_after is not None:
            delay = min(max(retry_after, state.interval), MAX_RETRY_AFTER)
        else:
            delay = self._jitter(min(max(state.interval, MAX_BACKOFF), state.interval * 2 ** (failures - 1)))
        reported = state.broken_reported
        if failures >= BROKEN_AFTER and not reported:
            self._tell(f"broken:{state.name}:{iso(now)}", f"feed {state.name} is broken ({failures} failures): {error}")
            reported = 1
        update_feed(
            self.store,
            state.name,
            done=True,
            failures=failures,
            last_error=error,
            last_status="error",
            last_poll_at=iso(now),
            broken_reported=reported,
            next_poll_at=iso(now + timedelta(seconds=delay)),
        )
        # Marked, so that a command that prints each failed feed itself can leave this line out.
        log.log(
            logging.ERROR if permanent else logging.WARNING,
            "feed %s: %s",
            state.name,
            error,
            extra={FEED_FAILURE: True},
        )
        return PollResult(state.name, state.fetch_url, False, "error", error=error)

    def _jitter(self, seconds: float) -> float:
        return seconds * self.rng.uniform(0.9, 1.1)

    def _tell(self, key: str, message: str) -> None:
        """Tell the operator once: a log line and a notification to `ops` targets."""
        if self.dispatcher.notice(key, message):
            log.error("%s", message)
            self.dispatcher.send_ops("watcher: " + message.split(":")[0], message)

    # seed directories -----------------------------------------------------------------------------------

    def poll_dir(self, state: FeedState) -> PollResult:
        """Read a seed directory: new and changed files go through the pipeline."""
        ingest = self.start_dir(state)
        for batch in self.read_dir(state):
            ingest.add(batch)
        return self.finish_dir(state, ingest)

    def read_dir(self, state: FeedState) -> Generator[list[Item | Skipped], None, None]:
        """A seed directory's documents, parsed in the sandbox, in batches (any thread, one at a time).

        The daemon reads a batch on a worker thread and stores it on the store's thread, so that the store's
        thread is never held while untrusted files are parsed. A directory that is not there yields nothing:
        `finish_dir` records the failure.
        """
        if not Path(state.url).is_dir():
            return
        results = read_paths(
            [state.url],
            source=state.name,
            max_bytes=self.config.http.max_bytes,
            reader=self.parse_pool.read,
            ahead=self.parse_pool.workers,
            told=self._told_skips.setdefault(state.name, {}),
        )
        while batch := list(itertools.islice(results, DIR_BATCH)):
            yield batch

    def start_dir(self, state: FeedState) -> SourceIngest:
        """What a seed directory poll collects as its batches are stored."""
        return self._source_ingest(not state.polled)

    def finish_dir(self, state: FeedState, ingest: SourceIngest) -> PollResult:
        """Record a seed directory poll (on the store's thread); a directory that is not there is a failure."""
        now = self.clock()
        where = Path(state.url)
        if not where.is_dir():
            return self._failed(state, "not a directory" if where.exists() else "no such directory", now, None)
        self._flood_guard(state, ingest.alert_ids, now)
        update_feed(
            self.store,
            state.name,
            done=True,
            polled=1,
            last_poll_at=iso(now),
            last_success_at=iso(now),
            last_status="ok",
            last_error=None,
            failures=0,
            broken_reported=0,
            items_seen=state.items_seen + ingest.stats.new,
            next_poll_at=iso(now + timedelta(seconds=state.interval)),
        )
        return PollResult.from_stats(state.name, state.url, ingest.stats, first=not state.polled)

    def _source_ingest(self, first: bool) -> SourceIngest:
        on_alert = None if first else enqueue_alerts(self.outbox, self.clock)
        return SourceIngest(Pipeline(self.store, self.engine, on_alert=on_alert, stories=self.config.stories), first)

    def deliver(self) -> None:
        self.dispatcher.drain()

    def close(self) -> None:
        self.client.close()


def poll_once(
    config: Config, store: Store, engine: Engine, parse_pool: ParsePool, *, force: bool = False
) -> list[PollResult]:
    """Poll every feed and seed directory once, store, evaluate and deliver.

    A feed that is backing off (failures, or a Retry-After it was given) is left until its time, with a
    "deferred" result, unless `force`.
    """
    remember_rules(store, engine.ruleset)
    poller = Poller(config, store, engine, parse_pool=parse_pool)
    try:
        now = iso(poller.clock())
        # A feed a running daemon is polling at this moment is left to it, forced or not.
        held = held_feeds(store, poller.clock())
        states: list[FeedState] = []
        results: list[PollResult] = []
        for s in all_feeds(store):
            if s.name in held:
                results.append(
                    PollResult(s.name, s.fetch_url, True, "deferred", error=f"being polled by {held[s.name]}")
                )
            elif s.failures and s.next_poll_at and s.next_poll_at > now and not force:
                results.append(
                    PollResult(s.name, s.fetch_url, True, "deferred", error=f"backing off until {s.next_poll_at}")
                )
            else:
                states.append(s)
        results += poller.poll_feeds(states)
        results += [poller.poll_dir(s) for s in states if s.kind == "dir"]
        poller.deliver()
        return results
    finally:
        poller.close()


def _first_line(e: BaseException) -> str:
    text = str(e)
    return text.splitlines()[0][:300] if text else ""
