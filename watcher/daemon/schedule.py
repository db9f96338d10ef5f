"""The daemon's poll jobs, one per source, in APScheduler: added, re-timed and removed as sources change."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from watcher.store.feeds import FeedState

# How often the daemon looks for subscriptions added or removed in the database (watcher feeds add|remove).
SUBSCRIPTION_CHECK = 5.0


def schedule_source(scheduler: AsyncIOScheduler, state: FeedState, func: Callable[..., Any]) -> None:
    """Poll a source every interval (with a little jitter), first when it is due."""
    job_id = f"source:{state.name}"
    interval = max(1.0, state.interval)
    trigger = IntervalTrigger(seconds=interval, jitter=min(interval * 0.1, 60))
    due = datetime.fromisoformat(state.next_poll_at) if state.next_poll_at else None
    now = datetime.now(UTC)
    # Sources not polled for a while start soon, spread over a few seconds rather than all at once (by a
    # stable hash of the name: Python's hash() differs in every process).
    spread = zlib.crc32(state.name.encode()) % 100 / 100
    first = due if due and due > now else now + timedelta(seconds=min(interval, 5) * spread)
    if scheduler.get_job(job_id):
        scheduler.reschedule_job(job_id, trigger=trigger)
    else:
        scheduler.add_job(func, trigger, id=job_id, name=f"poll {state.name}", args=[state.name], next_run_time=first)


def reschedule(scheduler: AsyncIOScheduler, states: list[FeedState], func: Callable[..., Any]) -> list[str]:
    """Make the poll jobs those of `states`; what changed ("+name", "-name", "~name")."""
    wanted = {f"source:{s.name}": s for s in states}
    changes = []
    for job in scheduler.get_jobs():
        if job.id.startswith("source:") and job.id not in wanted:
            job.remove()
            changes.append("-" + job.id.removeprefix("source:"))
    for job_id, state in wanted.items():
        job = scheduler.get_job(job_id)
        if job is None or getattr(job.trigger, "interval", None) != timedelta(seconds=max(1.0, state.interval)):
            changes.append(("+" if job is None else "~") + state.name)
            schedule_source(scheduler, state, func)
    return changes
