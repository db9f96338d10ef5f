"""The command line: click wiring over the library, nothing else."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import click

from watcher import __version__
from watcher.backfill import BackfillOptions, backfill, load_engine, open_store, summary
from watcher.config import Config, load_config
from watcher.deliver import Dispatcher, send_test_messages, utcnow
from watcher.durations import parse_duration
from watcher.errors import ConfigError, ProblemsError, RuleError, WatcherError
from watcher.feeds import add_feed, all_feeds, export_opml, import_opml, remove_feed, sync
from watcher.notify import Notifier, target_key
from watcher.outbox import Outbox, deliveries
from watcher.pipeline import Stats
from watcher.poll import poll_once
from watcher.read import Skipped, read_paths
from watcher.read.documents import parse_date
from watcher.rules.engine import Engine
from watcher.rules.load import load_rules
from watcher.rules.model import Rule
from watcher.rules.report import check_examples, item_label, match_line, match_record
from watcher.sandbox import ParsePool
from watcher.search import list_alerts, search_items


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="watcher: %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    # Third-party loggers can print request URLs (and so secrets) at DEBUG.
    for name in ("apprise", "urllib3", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="watcher")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """Watch feeds and documents, match them against rules, and send each match once."""
    _setup_logging(verbose)


@main.command()
@click.option(
    "--rules",
    "rules_dir",
    default="rules",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Rules directory or file.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one object per (item, rule) hit.")
@click.option("--explain", is_flag=True, help="Show, for each rule, which conditions held and which did not.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def match(rules_dir: Path, as_json: bool, explain: bool, paths: tuple[Path, ...]) -> None:
    """Match documents against the rules, touching no database.

    PATHS are files or directories, read like backfill reads them; a saved feed gives one item per entry.
    Exits 0 whether or not anything matched, 2 when the rules are invalid.
    """
    ruleset = load_rules(rules_dir)
    if ruleset.problems:
        for problem in ruleset.problems:
            click.echo(str(problem), err=True)
        click.echo(f"error: invalid rules in {rules_dir} ({len(ruleset.problems)} problems)", err=True)
        sys.exit(2)
    engine = Engine(ruleset)
    for result in read_paths(paths):
        if isinstance(result, Skipped):
            continue
        if explain:
            click.echo(f"== {item_label(result)}: {' '.join(result.title.split())!r}")
            for rule, matched, lines in engine.explain(result, everything=True):
                click.echo(f"{rule.id}: {'MATCH' if matched else 'no match'}")
                for line in lines:
                    click.echo(line)
            continue
        for hit in engine.match(result):
            if as_json:
                click.echo(json.dumps(match_record(result, hit), ensure_ascii=False))
            else:
                click.echo(match_line(result, hit))


def _config(path: Path | None) -> Config:
    config = load_config(path)
    for warning in config.warnings:
        logging.getLogger("watcher").warning(warning)
    return config


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="watcher.yaml to use (default: $WATCHER_CONFIG, then ./watcher.yaml, then built-in defaults).",
)


@main.command("backfill")
@config_option
@click.option("--notify", is_flag=True, help="Send the alerts found (default: record them as not to be sent).")
@click.option("--dry-run", is_flag=True, help="Run everything against a copy in memory: write nothing.")
@click.option("--since", help="Only items published on or after this date (ISO 8601; files: their mtime).")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def backfill_command(
    config_path: Path | None, notify: bool, dry_run: bool, since: str | None, paths: tuple[Path, ...]
) -> None:
    """Replay files and directories (default: the configured seed directories) through the pipeline."""
    config = _config(config_path)
    since_date = parse_date(since) if since else None
    if since and since_date is None:
        raise click.BadParameter(f"not a date: {since!r} (use YYYY-MM-DD)", param_hint="--since")
    targets = list(paths) or [seed.path for seed in config.seeds]
    options = BackfillOptions(targets, notify=notify, dry_run=dry_run, since=since_date)
    result = backfill(config, options, progress=_progress())
    if sys.stderr.isatty():
        click.echo("", err=True)
    for line in summary(result, options):
        click.echo(line)


def _progress() -> Callable[[Stats], None]:
    """A progress line on a terminal (redrawn in place), a plain line every 5,000 items otherwise."""
    tty = sys.stderr.isatty()
    next_line = [5000]

    def report(stats: Stats) -> None:
        line = f"{stats.read} read, {stats.new} new, {stats.duplicate} duplicate, {stats.alerts} alerts"
        if tty:
            click.echo(f"\r{line}", nl=False, err=True)
        elif stats.read >= next_line[0]:
            click.echo(line, err=True)
            next_line[0] = stats.read + 5000

    return report


@main.group("config")
def config_group() -> None:
    """Work with watcher.yaml."""


@config_group.command("check")
@config_option
def config_check(config_path: Path | None) -> None:
    """Validate the configuration; exit 1 listing every problem."""
    try:
        config = _config(config_path)
    except ConfigError as e:
        for problem in e.problems:
            click.echo(str(problem))
        click.echo(f"{len(e.problems)} problems")
        sys.exit(1)
    source = config.path or "built-in defaults"
    click.echo(
        f"{source}: ok; database {config.database}, rules {config.rules}, {len(config.seeds)} seed directories, "
        f"{len(config.feeds)} feeds, {len(config.notify)} notify targets"
    )


@main.group()
def items() -> None:
    """Look at stored items."""


@items.command("search")
@config_option
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines output.")
@click.argument("query", nargs=-1, required=True)
def items_search(config_path: Path | None, limit: int, as_json: bool, query: tuple[str, ...]) -> None:
    """Full-text search over stored items: every word must occur; "quote" a phrase."""
    store = open_store(_config(config_path))
    try:
        for row in search_items(store, " ".join(query), limit):
            if as_json:
                click.echo(json.dumps(row, ensure_ascii=False))
            else:
                click.echo(f"{row['id']:>6}  {row['source']}  {row['title']!r}  {row['link'] or row['path'] or ''}")
                click.echo(f"        {row['snippet']}")
    finally:
        store.close()


@main.group()
def alerts() -> None:
    """Look at recorded alerts."""


@alerts.command("list")
@config_option
@click.option(
    "--state", help="Only alerts in this state: pending, suppressed, or a delivery state (sent, failed, dead)."
)
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines output, with per-target deliveries.")
def alerts_list(config_path: Path | None, state: str | None, limit: int, as_json: bool) -> None:
    """Recorded alerts, newest first, with their delivery to each target."""
    store = open_store(_config(config_path))
    try:
        rows = list_alerts(store, state, limit)
        sent = deliveries(store, [r["id"] for r in rows])
        for row in rows:
            row["deliveries"] = sent.get(row["id"], [])
            if as_json:
                click.echo(json.dumps(row, ensure_ascii=False))
                continue
            click.echo(
                f"{row['id']:>6}  {row['created_at']}  {row['rule']} [{row['severity']}] {row['state']}  "
                f"{row['title']!r}  {row['link'] or row['path'] or ''}"
            )
            for d in row["deliveries"]:
                error = f": {d['last_error']}" if d["last_error"] else ""
                click.echo(f"          -> {d['target']}: {d['state']} ({d['attempts']} attempts){error}")
    finally:
        store.close()


@alerts.command("resend")
@config_option
@click.option("--dead", "dead_only", is_flag=True, help="Retry every alert delivery that was given up.")
@click.option("--all-targets", is_flag=True, help="With ID: send again even where it was delivered.")
@click.argument("alert_id", required=False, type=int)
def alerts_resend(config_path: Path | None, dead_only: bool, all_targets: bool, alert_id: int | None) -> None:
    """Retry an alert's delivery (ID), or every dead delivery (--dead), now."""
    if (alert_id is None) == (not dead_only):
        raise click.UsageError("give an alert ID or --dead")
    config = _config(config_path)
    store = open_store(config)
    try:
        n = Outbox(config.notify).resend(store, alert_id, dead_only=dead_only, include_sent=all_targets, now=utcnow())
        click.echo(f"{n} deliveries due again")
        click.echo(str(Dispatcher(store, config, rules=_rules_by_id(config)).drain()))
    finally:
        store.close()


@main.command("deliver")
@config_option
def deliver_command(config_path: Path | None) -> None:
    """Send every due alert delivery once, then exit (for cron, and after a crash)."""
    config = _config(config_path)
    store = open_store(config)
    try:
        stats = Dispatcher(store, config, rules=_rules_by_id(config)).drain()
    finally:
        store.close()
    click.echo(str(stats))


@main.group()
def notify() -> None:
    """Work with notification targets."""


@notify.command("test")
@config_option
@click.option("--tag", help="Only the targets with this tag.")
def notify_test(config_path: Path | None, tag: str | None) -> None:
    """Send a test message to each target and print each result; exit 1 if any failed."""
    config = _config(config_path)
    targets = [t for t in config.notify if tag is None or tag in t.tags]
    if not targets:
        click.echo("no notify targets" + (f" tagged {tag!r}" if tag else "") + " in the configuration")
        sys.exit(1)
    notifier = Notifier(targets, timeout=config.delivery.timeout)
    failed = 0
    for label, ok, error in send_test_messages(notifier, [target_key(t) for t in targets]):
        click.echo(f"{label}: {'ok' if ok else 'FAILED: ' + error}")
        failed += not ok
    sys.exit(1 if failed else 0)


def _rules_by_id(config: Config) -> dict[str, Rule]:
    """Rules for their templates when sending; the delivery still goes out if the rules are broken."""
    ruleset = load_rules(config.rules)
    return {r.id: r for r in ruleset.rules}


@main.command("poll")
@config_option
@click.option("--once", is_flag=True, required=True, help="Poll every feed and seed directory once, then exit.")
def poll_command(config_path: Path | None, once: bool) -> None:
    """Poll every feed and seed directory once, store, evaluate, deliver and exit.

    Exits 0 even when some feeds failed, printing one line for each.
    """
    config = _config(config_path)
    engine = load_engine(config)
    store = open_store(config)
    try:
        sync(store, config)
        with ParsePool() as parse_pool:
            results = poll_once(config, store, engine, parse_pool)
    finally:
        store.close()
    ok = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    for r in failed:
        click.echo(f"failed: {r.name} ({r.url}): {r.error}")
    click.echo(
        f"polled {len(results)} sources: {len(ok)} ok, {len(failed)} failed; "
        f"{sum(r.new for r in results)} new items, {sum(r.alerts for r in results)} alerts"
    )


@main.group()
def feeds() -> None:
    """Feeds and their health."""


@feeds.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="JSON Lines output.")
def feeds_list(config_path: Path | None, as_json: bool) -> None:
    """Every feed and seed directory with its health."""
    config = _config(config_path)
    store = open_store(config)
    try:
        sync(store, config)
        for state in all_feeds(store):
            if as_json:
                click.echo(json.dumps({**asdict(state), "health": state.health}, ensure_ascii=False))
                continue
            error = f"  last error: {state.last_error}" if state.last_error else ""
            click.echo(
                f"{state.name}  [{state.health}]  {state.fetch_url}  every {state.interval:g}s  "
                f"{state.items_seen} items, last success {state.last_success_at or 'never'}{error}"
            )
    finally:
        store.close()


@feeds.command("add")
@config_option
@click.option("--name", help="Name of the feed (default: from its URL).")
@click.option("--interval", default="15m", show_default=True, help="How often to poll.")
@click.argument("url")
def feeds_add(config_path: Path | None, name: str | None, interval: str, url: str) -> None:
    """Subscribe to a feed (kept in the database; feeds in watcher.yaml are edited there)."""
    seconds = _interval(interval)
    store = open_store(_config(config_path))
    try:
        click.echo(f"added {add_feed(store, url, name, seconds)}")
    finally:
        store.close()


@feeds.command("remove")
@config_option
@click.argument("name")
def feeds_remove(config_path: Path | None, name: str) -> None:
    """Unsubscribe from a feed added with `feeds add` or `feeds import` (its items stay)."""
    store = open_store(_config(config_path))
    try:
        remove_feed(store, name)
        click.echo(f"removed {name}")
    finally:
        store.close()


@feeds.command("import")
@config_option
@click.option("--interval", default="15m", show_default=True, help="How often to poll the imported feeds.")
@click.argument("opml", type=click.Path(path_type=Path))
def feeds_import(config_path: Path | None, interval: str, opml: Path) -> None:
    """Subscribe to every feed of an OPML file."""
    seconds = _interval(interval)
    store = open_store(_config(config_path))
    try:
        added, skipped = import_opml(store, opml, seconds)
    finally:
        store.close()
    for reason in skipped:
        click.echo(f"skipped: {reason}")
    click.echo(f"imported {len(added)} feeds")


@feeds.command("export")
@config_option
def feeds_export(config_path: Path | None) -> None:
    """Print every feed as OPML."""
    config = _config(config_path)
    store = open_store(config)
    try:
        sync(store, config)
        click.echo(export_opml(all_feeds(store)), nl=False)
    finally:
        store.close()


def _interval(text: str) -> float:
    seconds = parse_duration(text)
    if seconds is None or seconds <= 0:
        raise click.BadParameter(f"not a duration: {text!r} (like 30s, 15m, 1h)", param_hint="--interval")
    return seconds


@main.group()
def rules() -> None:
    """Work with rule files."""


@rules.command("check")
@click.argument("rules_dir", default="rules", type=click.Path(path_type=Path))
def rules_check(rules_dir: Path) -> None:
    """Validate the rules and run every rule's examples; exit 1 on any problem."""
    ruleset = load_rules(rules_dir)
    for problem in ruleset.problems:
        click.echo(str(problem))
    for rejected in ruleset.rejected_files:
        click.echo(f"rejected: {rejected}")
    report = check_examples(ruleset, Engine(ruleset))
    for failure in report.failures:
        click.echo(failure)
    problems = len(ruleset.problems) + len(report.failures)
    click.echo(
        f"{report.rules} rules, {report.entities} entities in {report.files} files; "
        f"examples: {report.passed} passed, {len(report.failures)} failed; "
        f"{len(ruleset.problems)} problems"
    )
    if problems:
        sys.exit(1)


def run() -> None:
    """Entry point that turns library errors into one-line messages."""
    try:
        code = main.main(standalone_mode=False)
    except (KeyboardInterrupt, click.Abort):
        click.echo("\ninterrupted: what was committed stays; run the command again to continue", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except ProblemsError as e:
        for problem in e.problems:
            click.echo(str(problem), err=True)
        what = "rules" if isinstance(e, RuleError) else "configuration"
        click.echo(f"error: invalid {what} ({len(e.problems)} problems)", err=True)
        sys.exit(2)
    except WatcherError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
