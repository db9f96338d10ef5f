"""The command line: click wiring over the library, nothing else. Commands live beside this module.

The top of the flow: the CLI may import every stage and the orchestration; nothing imports the CLI.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from watcher import __version__
from watcher.check import check as run_check
from watcher.config import Config, load_config
from watcher.daemon.logs import printable, protect_secrets, setup_logging
from watcher.delivery.outbox import unrouted_tags
from watcher.errors import ConfigError, NotFound, ProblemsError, RuleError, WatcherError
from watcher.rules.load import load_rules


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="watcher")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """Watch feeds and documents, match them against rules, and send each match once."""
    setup_logging(verbose=verbose)


def say(message: str = "", *, err: bool = False) -> None:
    """Print one line for a person: control characters from feeds and file names shown escaped, never run."""
    click.echo(printable(message), err=err)


def _count(n: int, noun: str) -> str:
    """`n` and the noun, in the plural unless n is 1 ("entity" becomes "entities", "copy" "copies")."""
    if n == 1:
        return f"{n} {noun}"
    plural = noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
    return f"{n} {plural}"


def _config(path: Path | None) -> Config:
    config = load_config(path)
    protect_secrets(config.secrets)
    for warning in config.warnings:
        logging.getLogger("watcher").warning(warning)
    return config


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="watcher.yaml to use (default: $WATCHER_CONFIG, then ./watcher.yaml, then built-in defaults).",
)
rules_option = click.option(
    "--rules",
    "rules_dir",
    type=click.Path(path_type=Path),
    help="Rules directory or file (default: the configuration's `rules`, ./rules without one).",
)


def existing_paths(paths: tuple[Path, ...] | list[Path]) -> None:
    """Refuse, before any work, paths that do not exist (a typo must not look like an empty corpus)."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise NotFound(f"no such file or directory: {', '.join(missing)}")


def rules_path(rules_dir: Path | None, config_path: Path | None) -> Path:
    """The rules a command reads: as given, else the configuration's (--config, $WATCHER_CONFIG,
    ./watcher.yaml), else ./rules."""
    return rules_dir if rules_dir is not None else _config(config_path).rules


@main.group("config")
def config_group() -> None:
    """Work with watcher.yaml."""


@config_group.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object: ok, problems.")
def config_check(config_path: Path | None, as_json: bool) -> None:
    """Validate the configuration; exit 1 listing every problem (`watcher check` checks more).

    \b
    Examples:
      watcher config check
      watcher config check --config /etc/watcher/watcher.yaml --json
    """
    try:
        config = _config(config_path)
        # Every rule tag must reach a target: an alert whose tags no target carries goes nowhere.
        rules = load_rules(config.rules).rules if config.rules.exists() else []
        problems = unrouted_tags(rules, config.notify)
    except ConfigError as e:
        config, problems = None, [str(p) for p in e.problems]
    if as_json:
        click.echo(json.dumps({"ok": not problems, "problems": problems}, ensure_ascii=False))
    else:
        for problem in problems:
            say(problem)
        if problems:
            say(f"{_count(len(problems), 'problem')}")
        elif config is not None:
            source = config.path or "built-in defaults"
            say(
                f"{source}: ok; database {config.database}, rules {config.rules}, "
                f"{len(config.seeds)} seed directories, {len(config.feeds)} feeds, {len(config.notify)} notify targets"
            )
    if problems:
        sys.exit(1)


@main.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object: ok, problems, warnings.")
def check_command(config_path: Path | None, as_json: bool) -> None:
    """Check everything a daemon needs, offline: configuration, rules and their examples, paths, notify
    targets and their tags, feeds' addresses, the listen address. Every problem at once; exit 1 on any.

    \b
    Examples:
      watcher check
      watcher check --config /etc/watcher/watcher.yaml --json
    """
    result = run_check(config_path)
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        for problem in result.problems:
            say(problem)
        for warning in result.warnings:
            say(f"warning: {warning}")
        if result.ok:
            say(
                f"{result.config}: ok; {_count(result.rules, 'rule')}, {_count(result.feeds, 'feed')}, "
                f"{_count(result.targets, 'notify target')}"
            )
        else:
            say(_count(len(result.problems), "problem"))
    if not result.ok:
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
            say(str(problem), err=True)
        what = "rules" if isinstance(e, RuleError) else "configuration"
        say(f"error: invalid {what} ({_count(len(e.problems), 'problem')})", err=True)
        sys.exit(2)
    except WatcherError as e:
        say(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


# Registering the commands: each module adds its own to `main`.
from watcher.cli import daemon, db, delivery, documents, entities, feeds, web  # noqa: E402, F401
