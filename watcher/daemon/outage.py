"""The database out of reach (PostgreSQL restarting, a network cut): polls pause, /healthz says why, and the
heartbeat tries again at growing intervals until the database answers; nothing is lost meanwhile, since
nothing counts as seen or sent until it is committed."""

from __future__ import annotations

import logging
import time

from watcher.daemon.health import Metrics
from watcher.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

PROBLEM = "database"
MAX_RETRY = 60.0


class Outage:
    def __init__(self, metrics: Metrics):
        self.metrics = metrics
        self.since = 0.0
        self.retry = 1.0

    @property
    def active(self) -> bool:
        return PROBLEM in self.metrics.problems

    def lost(self, e: DatabaseUnavailable) -> None:
        """Record that the database did not answer; said once, not at every failed job."""
        if not self.active:
            log.error("%s: polls paused until it answers again (nothing is lost meanwhile)", e)
            self.retry = 1.0
        else:
            self.retry = min(self.retry * 2, MAX_RETRY)
        self.since = time.monotonic()
        self.metrics.set_problem(PROBLEM, str(e))

    def time_to_try(self) -> bool:
        """Whether the heartbeat should ask the database now (always, unless it is away and was just tried)."""
        return not self.active or time.monotonic() - self.since >= self.retry

    def answered(self) -> None:
        if self.active:
            log.warning("the database answers again: polling and delivering resume")
            self.metrics.set_problem(PROBLEM, None)
