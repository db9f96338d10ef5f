"""Commands over documents, stories and rules: match, backfill, items search|show, stories list, rules check."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

from watcher.backfill import BackfillOptions, backfill, next_steps, open_existing_store, summary, summary_record
from watcher.cli import _config, _count, config_option, existing_paths, main, rules_option, rules_path, say
from watcher.cli.terminal import interactive, relative, table
from watcher.errors import WatcherError
from watcher.items.model import Item
from watcher.pipeline import Stats
from watcher.rules.digest import rule_digests
from watcher.rules.engine import Engine
from watcher.rules.load import load_rules
from watcher.rules.model import RuleSet
from watcher.rules.report import check_examples, item_label, match_line, match_record
from watcher.sources.dates import parse_date
from watcher.sources.read import Skipped, count_files, read_paths
from watcher.sources.sandbox import ParsePool
from watcher.store.open import exists, open_readonly
from watcher.store.search import changed_rules, item_detail, list_stories, search_items, story_members


@main.command()
@rules_option
@config_option
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one object per (item, rule) hit.")
@click.option("--explain", is_flag=True, help="Show, for each rule, which conditions held and which did not.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def match(
    rules_dir: Path | None, config_path: Path | None, as_json: bool, explain: bool, paths: tuple[Path, ...]
) -> None:
    """Match documents against the rules, touching no database.

    PATHS are files or directories, read like backfill reads them; a saved feed gives one item per entry.
    Exits 0 whether or not anything matched, 2 when the rules are invalid.

    \b
    Examples:
      watcher match seeds/
      watcher match --rules rules/korea.yaml --explain report.html
      watcher match --json feed.xml
    """
    existing_paths(paths)
    rules_dir = rules_path(rules_dir, config_path)
    ruleset = load_rules(rules_dir)
    if ruleset.problems:
        for problem in ruleset.problems:
            say(str(problem), err=True)
        say(f"error: invalid rules in {rules_dir} ({_count(len(ruleset.problems), 'problem')})", err=True)
        sys.exit(2)
    engine = Engine(ruleset)
    documents = matched = 0
    # JSON Lines through one encoder into the buffered stream, a document's hits at once (not an echo a line).
    encode = json.JSONEncoder(ensure_ascii=False).encode
    write = sys.stdout.write
    with ParsePool() as pool:
        for result in read_paths(paths, reader=pool.read, ahead=pool.workers):
            if isinstance(result, Skipped):
                continue
            documents += 1
            if explain:
                _explain(engine, result, as_json)
                continue
            hits = engine.match(result)
            matched += bool(hits)
            if as_json and hits:
                write("".join(encode(match_record(result, hit)) + "\n" for hit in hits))
                continue
            for hit in hits:
                say(match_line(result, hit))
    if not as_json and not explain:
        if matched:
            say(f"{matched} of {_count(documents, 'document')} matched", err=True)
        else:
            say(f"no rule matched {_count(documents, 'document')}", err=True)


def _explain(engine: Engine, item: Item, as_json: bool) -> None:
    """Each rule's verdict on an item, with the state of its conditions: lines, or one JSON object a rule."""
    title = " ".join(item.title.split())
    if not as_json:
        say(f'== {item_label(item)}: "{title}"')
    for rule, matched, lines in engine.explain(item, everything=True):
        if as_json:
            record: dict[str, object] = {"path": item.path, "guid": item.guid, "title": item.title, "rule": rule.id}
            record |= {"matched": matched, "conditions": [line.strip() for line in lines]}
            click.echo(json.dumps(record, ensure_ascii=False))
            continue
        say(f"{rule.id}: {'MATCH' if matched else 'no match'}")
        for line in lines:
            say(line)


@main.command("backfill")
@config_option
@click.option("--notify", is_flag=True, help="Send the alerts found (default: record them as not to be sent).")
@click.option("--dry-run", is_flag=True, help="Run everything against a copy in memory: write nothing.")
@click.option("--since", help="Only items published on or after this date (ISO 8601; files: their mtime).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with the counts, instead of the summary.")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def backfill_command(
    config_path: Path | None, notify: bool, dry_run: bool, since: str | None, as_json: bool, paths: tuple[Path, ...]
) -> None:
    """Replay files and directories (default: the configured seed directories) through the pipeline.

    \b
    Examples:
      watcher backfill seeds/
      watcher backfill --notify --since 2026-11-01 /srv/archive
      watcher backfill --dry-run --json docs/
    """
    config = _config(config_path)
    since_date = parse_date(since) if since else None
    if since and since_date is None:
        raise click.BadParameter(f"not a date: {since!r} (use YYYY-MM-DD)", param_hint="--since")
    targets = list(paths) or [seed.path for seed in config.seeds]
    existing_paths(targets)
    options = BackfillOptions(targets, notify=notify, dry_run=dry_run, since=since_date)
    if sys.stderr.isatty() and not as_json:
        # A bar with a total and an ETA; documents are counted first (feed files hold several items).
        with click.progressbar(
            length=count_files(targets), label="backfill", file=sys.stderr, show_pos=True, show_eta=True
        ) as bar:
            result = backfill(config, options, progress=lambda stats: bar.update(stats.read - bar.pos))
    else:
        result = backfill(config, options, progress=None if as_json else _progress())
    if as_json:
        click.echo(json.dumps(summary_record(result, options, config), ensure_ascii=False))
        return
    for line in summary(result, options):
        say(line)
    for line in next_steps(result, options, config, f" --config {config_path}" if config_path else ""):
        say(line)


def _progress() -> Callable[[Stats], None]:
    """Off a terminal (a terminal gets a bar), a plain progress line every 5,000 items."""
    next_line = [5000]

    def report(stats: Stats) -> None:
        if stats.read >= next_line[0]:
            say(f"{stats.read} read, {stats.new} new, {stats.duplicate} duplicate, {stats.alerts} alerts", err=True)
            next_line[0] = stats.read + 5000

    return report


@main.group()
def items() -> None:
    """Look at stored items."""


@items.command("search")
@config_option
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines output.")
@click.argument("query", nargs=-1, required=True)
def items_search(config_path: Path | None, limit: int, as_json: bool, query: tuple[str, ...]) -> None:
    """Full-text search over stored items: every word must occur; "quote" a phrase.

    \b
    Examples:
      watcher items search artillery shells
      watcher items search '"North Korea"' --json
    """
    with open_existing_store(_config(config_path)) as store:
        for row in search_items(store, " ".join(query), limit):
            if as_json:
                click.echo(json.dumps(row, ensure_ascii=False))
            else:
                say(f'{row["id"]:>6}  {row["source"]}  "{row["title"]}"  {row["link"] or row["path"] or ""}')
                say(f"        {row['snippet']}")


@items.command("show")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.argument("item_id", type=int)
def items_show(config_path: Path | None, as_json: bool, item_id: int) -> None:
    """One stored item: its fields, its story and that story's other items, its alerts.

    \b
    Examples:
      watcher items show 1234
      watcher items show 1234 --json
    """
    with open_existing_store(_config(config_path)) as store:
        item = item_detail(store, item_id)
    if item is None:
        raise WatcherError(f"no item {item_id} in the database")
    if as_json:
        click.echo(json.dumps(item, ensure_ascii=False))
        return
    for key in ("id", "source", "title", "link", "path", "guid", "author", "published", "first_seen", "version"):
        if item[key] not in (None, ""):
            say(f"{key + ':':<12} {item[key]}")
    if item["full_text"] is not None:
        read = item["full_text"] == "ok"
        say(f"full text:   {'the article, read from the link' if read else 'not read: ' + item['full_text']}")
    story = item["story"]
    if story is None:
        say("story:       none (stored before stories, or with stories off)")
    else:
        say(f"story:       {story}, with {len(item['siblings'])} other item(s)")
        for sibling in item["siblings"]:
            where = sibling["link"] or sibling["path"] or ""
            say(f'  {sibling["id"]:>6}  {sibling["source"]}  "{sibling["title"]}"  {where}')
    for alert in item["alerts"]:
        say(f"alert:       {alert['id']} {alert['rule']} [{alert['severity']}] {alert['state']}")
    for alert in item["copy_of_alerts"]:
        say(f"copy of:     alert {alert['id']} {alert['rule']} (item {alert['item_id']}): not sent again")
    text = item["content"] or item["summary"]
    if item["full_text"] == "ok" and item["summary"]:
        say("")
        say(f"summary:     {item['summary']}")
    if text:
        say("")
        say(text)


@main.group()
def stories() -> None:
    """Look at stories: items that are copies of one another, across sources."""


@stories.command("list")
@config_option
@click.option("--since", help="Only stories seen on or after this date (ISO 8601).")
@click.option("--limit", default=100, show_default=True)
@click.option("--min-size", default=1, show_default=True, help="Only stories with at least this many items.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines output, with each story's items.")
def stories_list(config_path: Path | None, since: str | None, limit: int, min_size: int, as_json: bool) -> None:
    """Stories, most recently seen first: size, sources, first and last seen.

    \b
    Examples:
      watcher stories list --min-size 2
      watcher stories list --since 2026-11-01 --json
    """
    since_iso = _iso(since) if since else None
    with open_existing_store(_config(config_path)) as store:
        rows = list_stories(store, since_iso, limit, min_size)
        if interactive() and not as_json:
            cells = [
                (
                    r["id"],
                    r["size"],
                    relative(r["first_seen"]),
                    relative(r["last_seen"]),
                    r["title"],
                    r["sources"] or "",
                )
                for r in rows
            ]
            for line in table(("story", "items", "first seen", "last seen", "title", "sources"), cells):
                click.echo(line)
            return
        for row in rows:
            if as_json:
                row["members"] = story_members(store, row["id"])
                click.echo(json.dumps(row, ensure_ascii=False))
                continue
            say(
                f"{row['id']:>6}  {row['first_seen']} .. {row['last_seen']}  {row['size']:>3} item(s)  "
                f'"{row["title"]}"  [{row["sources"]}]'
            )


def _iso(text: str) -> str:
    """A date or time as given on the command line, as the ISO 8601 the store keeps (UTC)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected a date like 2026-11-30 or 2026-11-30T08:00") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds")


@main.group()
def rules() -> None:
    """Work with rule files."""


@rules.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object: counts, problems, example failures.")
@click.argument("rules_dir", required=False, type=click.Path(path_type=Path))
def rules_check(config_path: Path | None, as_json: bool, rules_dir: Path | None) -> None:
    """Validate the rules (RULES_DIR, else the configuration's) and run every rule's examples; exit 1 on any
    problem.

    \b
    Examples:
      watcher rules check
      watcher rules check rules/ --json
    """
    ruleset = load_rules(rules_path(rules_dir, config_path))
    report = check_examples(ruleset, Engine(ruleset))
    problems = len(ruleset.problems) + len(report.failures)
    changed = _changed_since_run(ruleset, config_path)
    if as_json:
        record = {
            "ok": not problems,
            "rules": report.rules,
            "entities": report.entities,
            "files": report.files,
            "problems": [str(p) for p in ruleset.problems],
            "rejected_files": ruleset.rejected_files,
            "examples_passed": report.passed,
            "example_failures": report.failures,
            "changed": changed,
        }
        click.echo(json.dumps(record, ensure_ascii=False))
        if problems:
            sys.exit(1)
        return
    for problem in ruleset.problems:
        say(str(problem))
    for rejected in ruleset.rejected_files:
        say(f"rejected: {rejected}")
    for failure in report.failures:
        say(failure)
    say(
        f"{_count(report.rules, 'rule')}, {_count(report.entities, 'entity')} in {_count(report.files, 'file')}; "
        f"examples: {report.passed} passed, {len(report.failures)} failed; "
        f"{_count(len(ruleset.problems), 'problem')}"
    )
    if changed:
        shown = ", ".join(changed[:5]) + (", ..." if len(changed) > 5 else "")
        say(
            f"{_count(len(changed), 'rule')} changed since the daemon last ran them ({shown}); "
            "run `watcher rules backtest` to see what they would catch"
        )
    if problems:
        sys.exit(1)


def _changed_since_run(ruleset: RuleSet, config_path: Path | None) -> list[str]:
    """The rules that differ from those the configured database last ran (none when there is no database)."""
    try:
        config = _config(config_path)
    except WatcherError:
        return []
    if not exists(config.database):
        return []
    try:
        with open_readonly(config.database) as store:
            return changed_rules(store, rule_digests(ruleset))
    except WatcherError:
        return []
