"""Commands for looking and tuning: serve (the dashboard alone) and rules backtest."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from watcher.backfill import open_existing_store
from watcher.backtest import Backtest, backtest, count_items, render_html
from watcher.cli import _config, config_option, main, rules_path, say
from watcher.cli.documents import rules as rules_group
from watcher.cli.terminal import table
from watcher.config.durations import parse_duration
from watcher.daemon.logs import setup_logging
from watcher.errors import NotFound
from watcher.rules.load import load_rules
from watcher.web.serve import listen_address, serve


@main.command("serve")
@config_option
@click.option("--listen", help="HOST:PORT to listen on (default: server.listen, else 127.0.0.1:8080).")
@click.pass_context
def serve_command(ctx: click.Context, config_path: Path | None, listen: str | None) -> None:
    """Serve the read-only dashboard for a database, with or without a daemon running.

    Pages: alerts (/), rules, feeds, and each item. Off loopback it wants server.token from watcher.yaml, as a
    bearer token or through its login form.

    \b
    Examples:
      watcher serve
      watcher serve --listen 127.0.0.1:8090
      WATCHER_TOKEN=... watcher serve --listen 0.0.0.0:8080   (with server.token: ${WATCHER_TOKEN})
    """
    config = _config(config_path)
    address = None
    if listen:
        m = re.match(r"^\[?([^\]]*?)\]?:(\d{1,5})$", listen)
        if not m or not 0 <= int(m.group(2)) < 65536:
            raise click.BadParameter(f"expected HOST:PORT like 127.0.0.1:8080, not {listen!r}", param_hint="--listen")
        address = (m.group(1) or "127.0.0.1", int(m.group(2)))
    host, port = listen_address(config, address)
    setup_logging(verbose=bool(ctx.parent and ctx.parent.params.get("verbose")), fmt="text")
    asyncio.run(serve(config, host, port))


@rules_group.command("backtest")
@config_option
@click.option(
    "--rules", "rules_dir", type=click.Path(path_type=Path), help="The rules to try (default: the configured ones)."
)
@click.option(
    "--since",
    default="30d",
    show_default=True,
    help="Items first seen within this long (30d, 12h) or since a date; 'all' for every item.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per rule: rule, hits, new, lost, samples.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a self-contained report page.",
)
def backtest_command(
    config_path: Path | None, rules_dir: Path | None, since: str, as_json: bool, html_file: Path | None
) -> None:
    """Evaluate a rule set against the stored items, without alerting: per rule, its hits, the items that would
    alert now but did not (new), and those that alerted but would not now (lost), with samples.

    \b
    Examples:
      watcher rules backtest
      watcher rules backtest --rules ./rules-draft --since 90d --html report.html
      watcher rules backtest --json | jq 'select(.new > 0)'
    """
    config = _config(config_path)
    start = _since(since)
    path = rules_path(rules_dir, config_path) if rules_dir else config.rules
    if not path.exists():
        raise NotFound(f"{path}: no such rules directory or file")
    ruleset = load_rules(path)
    for problem in ruleset.problems:
        say(f"rules: {problem}", err=True)
    with open_existing_store(config) as store:
        if sys.stderr.isatty() and not as_json:
            with click.progressbar(
                length=count_items(store, start), label="backtest", file=sys.stderr, show_pos=True, show_eta=True
            ) as bar:
                result = backtest(store, ruleset, since=start, progress=bar.update)
        else:
            result = backtest(store, ruleset, since=start)
    if html_file:
        html_file.write_text(render_html(result), encoding="utf-8")
    if as_json:
        for outcome in result.rules.values():
            click.echo(json.dumps(outcome.record(), ensure_ascii=False))
    else:
        _print(result)
    done = (
        f"backtested {result.items} items{f' first seen since {start}' if start else ''} in {result.seconds:.1f}s "
        f"({result.rate:,.0f} items/s)" + (f"; report: {html_file}" if html_file else "")
    )
    say(done, err=as_json)


def _since(text: str) -> str | None:
    if text == "all":
        return None
    seconds = parse_duration(text)
    if seconds is not None and not re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", text):
        return datetime.fromtimestamp(datetime.now(UTC).timestamp() - seconds, UTC).isoformat(timespec="seconds")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}(T[0-9:+.Z-]*)?", text):
        return text
    raise click.BadParameter(
        f"not a duration or a date: {text!r} (like 30d, 12h, 2026-11-01, or all)", param_hint="--since"
    )


def _print(result: Backtest) -> None:
    rows = [(o.rule + (" (removed)" if o.removed else ""), o.hits, o.new, o.lost) for o in result.rules.values()]
    for line in table(("rule", "hits", "new", "lost"), rows):
        click.echo(line)
    for outcome in result.rules.values():
        for kind, label in (("new", "would alert now"), ("lost", "alerted, would not now")):
            for sample in outcome.samples[kind]:
                where = sample["link"] or sample["path"] or ""
                title = " ".join((sample["title"] or "").split())
                say(f'  {outcome.rule}: {label}: item {sample["item_id"]} "{title}" {where}'.rstrip())
