"""The command line: click wiring over the library, nothing else."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from watcher import __version__
from watcher.errors import WatcherError
from watcher.read import Skipped, read_paths
from watcher.rules.engine import Engine
from watcher.rules.load import load_rules
from watcher.rules.report import check_examples, item_label, match_line, match_record


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
        main(standalone_mode=True)
    except WatcherError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
