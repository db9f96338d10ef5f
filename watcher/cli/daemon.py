"""Commands for the daemon: run and status."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from watcher.backfill import open_existing_store
from watcher.cli import _config, config_option, main, say
from watcher.daemon.logs import setup_logging
from watcher.daemon.runner import run_daemon
from watcher.status import read_status, status_lines


@main.command("run")
@config_option
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as text, or as one JSON object each.",
)
@click.pass_context
def run_command(ctx: click.Context, config_path: Path | None, log_format: str) -> None:
    """Run the daemon: poll every source on schedule, deliver alerts, reload rules on change.

    SIGHUP reloads; SIGTERM and SIGINT stop gracefully. One daemon per database.

    \b
    Examples:
      watcher run
      watcher run --config /etc/watcher/watcher.yaml --log-format json
    """
    verbose = bool(ctx.parent and ctx.parent.params.get("verbose"))
    setup_logging(verbose=verbose, fmt=log_format)
    sys.exit(run_daemon(config_path))


@main.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def status_command(config_path: Path | None, as_json: bool) -> None:
    """Feeds' health, outbox depth and the last errors, from the database (no daemon needed).

    Exits 1 when a source is failing, broken or disabled, or a delivery was given up.

    \b
    Examples:
      watcher status
      watcher status --json | jq .feeds
    """
    with open_existing_store(_config(config_path)) as store:
        status = read_status(store)
    if as_json:
        data = asdict(status)
        data["feeds"] = [{**asdict(f), "health": f.health} for f in status.feeds]
        data["failing"] = status.failing
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        for line in status_lines(status):
            say(line)
    if status.failing:
        sys.exit(1)
