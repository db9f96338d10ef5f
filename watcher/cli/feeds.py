"""Commands for feeds: poll --once and feeds list/add/remove/import/export."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

import click

from watcher.backfill import load_engine, open_existing_store, open_store
from watcher.cli import _config, _count, config_option, main, say
from watcher.cli.terminal import HEALTH_COLOURS, interactive, relative, table
from watcher.config.durations import parse_duration
from watcher.daemon.schedule import SUBSCRIPTION_CHECK
from watcher.poll import FEED_FAILURE, poll_once
from watcher.pollresults import PollResult
from watcher.sources.opml import read_opml, write_opml
from watcher.sources.sandbox import ParsePool
from watcher.store.feeds import FeedState, add_feed, all_feeds, remove_feed, subscribe_all, sync


@main.command("poll")
@config_option
@click.option("--once", is_flag=True, required=True, help="Poll every feed and seed directory once, then exit.")
@click.option("--force", is_flag=True, help="Poll feeds that are backing off (failures, Retry-After) too.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: each source's result and the totals.")
def poll_command(config_path: Path | None, once: bool, force: bool, as_json: bool) -> None:
    """Poll every feed and seed directory once, store, evaluate, deliver and exit.

    A feed that is backing off after failures or a Retry-After is left until its time (--force polls it).
    Prints one line for each feed that failed, and then exits 1.

    \b
    Examples:
      watcher poll --once
      watcher poll --once --force --json
    """
    config = _config(config_path)
    engine = load_engine(config)
    # Each failed feed is printed below: its log line would say it a second time, on stderr.
    poll_log = logging.getLogger("watcher.poll")
    quiet = logging.Filter()
    quiet.filter = lambda record: not getattr(record, FEED_FAILURE, False)  # type: ignore[method-assign]
    poll_log.addFilter(quiet)
    try:
        with open_store(config) as store:
            sync(store, config)
            with ParsePool(deadline=config.daemon.parse_timeout) as parse_pool:
                results = poll_once(config, store, engine, parse_pool, force=force)
    finally:
        poll_log.removeFilter(quiet)
    deferred = [r for r in results if r.status == "deferred"]
    ok = [r for r in results if r.ok and r.status != "deferred"]
    failed = [r for r in results if not r.ok]
    if as_json:
        fields = ("name", "url", "ok", "status", "new", "alerts", "recorded", "error")
        record = {
            "sources": [{**{f: getattr(r, f) for f in fields}, **_full_text_fields(r)} for r in results],
            "ok": len(ok),
            "failed": len(failed),
            "deferred": len(deferred),
            "new": sum(r.new for r in results),
            "alerts": sum(r.alerts - r.recorded for r in results),
            "recorded": sum(r.recorded for r in results),
        }
        click.echo(json.dumps(record, ensure_ascii=False))
        if failed:
            sys.exit(1)
        return
    for r in deferred:
        say(f"deferred: {r.name} ({r.url}): {r.error} (--force polls it now)")
    for r in failed:
        # The error often begins with the URL already: name it once.
        say(f"failed: {r.name} ({r.url}): {r.error.removeprefix(r.url + ': ')}")
    recorded = sum(r.recorded for r in results)
    say(
        f"polled {_count(len(ok) + len(failed), 'source')}: {len(ok)} ok, {len(failed)} failed"
        + (f", {len(deferred)} deferred" if deferred else "")
        + f"; {_count(sum(r.new for r in results), 'new item')}, "
        + _count(sum(r.alerts for r in results) - recorded, "alert")
        + (f", {recorded} recorded, not sent (first poll of a source: watcher alerts send)" if recorded else "")
    )
    if failed:
        sys.exit(1)


def _full_text_fields(result: PollResult) -> dict[str, object]:
    """A full_text feed's articles in this poll: how many were read, and how many not by reason."""
    report = result.full_text
    if report is None:
        return {}
    return {"full_text_read": report.read, "full_text_failed": dict(report.failed)}


@main.group()
def feeds() -> None:
    """Feeds and their health."""


@feeds.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="JSON Lines output.")
def feeds_list(config_path: Path | None, as_json: bool) -> None:
    """Every feed and seed directory with its health.

    \b
    Examples:
      watcher feeds list
      watcher feeds list --json
    """
    config = _config(config_path)
    with open_existing_store(config) as store:
        sync(store, config)
        states = all_feeds(store)
        if interactive() and not as_json:
            headers: tuple[str, ...] = ("name", "health", "kind", "url", "every", "items", "last success", "last error")
            rows: list[tuple[object, ...]] = [
                (
                    s.name,
                    s.health,
                    s.kind,
                    s.fetch_url,
                    f"{s.interval:g}s",
                    s.items_seen,
                    relative(s.last_success_at),
                    s.last_error or "",
                )
                for s in states
            ]
            if any(_reads(s, config.full_text) for s in states):
                headers = (*headers[:6], "full text", *headers[6:])
                rows = [(*r[:6], _full_text(s, config.full_text), *r[6:]) for r, s in zip(rows, states, strict=True)]
            for line in table(headers, rows, [HEALTH_COLOURS.get(s.health) for s in states]):
                click.echo(line)
            return
        for state in states:
            mode = _reads(state, config.full_text)
            if as_json:
                record = {**asdict(state), "health": state.health, "full_text_mode": mode or "off"}
                click.echo(json.dumps(record, ensure_ascii=False))
                continue
            error = f"  last error: {state.last_error}" if state.last_error else ""
            full_text = f"  full text: {_full_text(state, config.full_text)}" if mode else ""
            say(
                f"{state.name}  [{state.health}]  {state.fetch_url}  every {state.interval:g}s  "
                f"{state.items_seen} items, last success {state.last_success_at or 'never'}{error}{full_text}"
            )


def _reads(state: FeedState, default: str) -> str | None:
    """The feed's full-text mode ("on" or "auto"), or None when it reads no articles."""
    mode = state.full_text or default
    return mode if state.kind == "feed" and mode != "off" else None


def _full_text(state: FeedState, default: str) -> str:
    """How reading a feed's articles goes: mode, counts and the last poll's failures."""
    mode = _reads(state, default)
    if mode is None:
        return ""
    text = f"{mode}, {state.full_text_read} read, {state.full_text_failed} kept their summary"
    return text + (f" (last: {state.full_text_error})" if state.full_text_error else "")


@feeds.command("add")
@config_option
@click.option("--name", help="Name of the feed (default: from its URL).")
@click.option("--interval", default="15m", show_default=True, help="How often to poll.")
@click.option("--full-text", "full_text", flag_value="on", help="Read the article each new entry links to.")
@click.option("--full-text-auto", "full_text", flag_value="auto", help="Read it only for short or cut-off entries.")
@click.argument("url")
def feeds_add(config_path: Path | None, name: str | None, interval: str, full_text: str | None, url: str) -> None:
    """Subscribe to a feed (kept in the database; feeds in watcher.yaml are edited there).

    With --full-text, the article each new entry links to is fetched and its main text stored as the entry's
    content (the summary is kept): for feeds that carry only a headline and a teaser.

    \b
    Examples:
      watcher feeds add https://example.org/feed.xml
      watcher feeds add --name wire --interval 5m https://example.org/wire.rss
      watcher feeds add --full-text https://example.org/teasers.rss
    """
    seconds = _interval(interval)
    with open_store(_config(config_path)) as store:
        added = add_feed(store, url, name, seconds, full_text=full_text)
    every = next(f"{seconds / unit:g}{name}" for unit, name in ((3600, "h"), (60, "m"), (1, "s")) if seconds >= unit)
    reads = {"on": "; reads the article of each new entry", "auto": "; reads the article of short entries"}
    say(
        f"added {added}: polled every {every}{reads.get(full_text or '', '')}; "
        f"a running daemon starts polling it within {SUBSCRIPTION_CHECK:g}s"
    )


@feeds.command("remove")
@config_option
@click.argument("name")
def feeds_remove(config_path: Path | None, name: str) -> None:
    """Unsubscribe from a feed added with `feeds add` or `feeds import` (its items stay).

    \b
    Examples:
      watcher feeds remove wire
    """
    with open_store(_config(config_path)) as store:
        remove_feed(store, name)
        say(f"removed {name}")


@feeds.command("import")
@config_option
@click.option("--interval", default="15m", show_default=True, help="How often to poll the imported feeds.")
@click.argument("opml", type=click.Path(path_type=Path))
def feeds_import(config_path: Path | None, interval: str, opml: Path) -> None:
    """Subscribe to every feed of an OPML file.

    \b
    Examples:
      watcher feeds import subscriptions.opml
      watcher feeds import --interval 30m subscriptions.opml
    """
    seconds = _interval(interval)
    with open_store(_config(config_path)) as store:
        added, skipped = subscribe_all(store, read_opml(opml), seconds)
    for reason in skipped:
        say(f"skipped: {reason}")
    say(f"imported {len(added)} feeds")


@feeds.command("export")
@config_option
def feeds_export(config_path: Path | None) -> None:
    """Print every feed as OPML.

    \b
    Examples:
      watcher feeds export > subscriptions.opml
    """
    config = _config(config_path)
    with open_existing_store(config) as store:
        sync(store, config)
        click.echo(write_opml((s.name, s.fetch_url) for s in all_feeds(store, kind="feed")), nl=False)


def _interval(text: str) -> float:
    seconds = parse_duration(text)
    if seconds is None or seconds <= 0:
        raise click.BadParameter(f"not a duration: {text!r} (like 30s, 15m, 1h)", param_hint="--interval")
    return seconds
