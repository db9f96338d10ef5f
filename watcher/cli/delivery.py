"""Commands for alerts and their delivery: alerts list/resend, deliver, notify test."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from watcher.backfill import open_existing_store, open_store
from watcher.cli import _config, config_option, main, say
from watcher.cli.terminal import STATE_COLOURS, interactive, relative, table
from watcher.config import Config
from watcher.delivery.deliver import DeliveryStats, Dispatcher, send_test_messages, utcnow
from watcher.delivery.notify import Notifier, target_key
from watcher.delivery.outbox import Outbox, deliveries, release
from watcher.errors import NotFound
from watcher.rules.load import load_rules
from watcher.rules.model import Rule
from watcher.store.search import alert_copies, list_alerts, story_members


@main.group()
def alerts() -> None:
    """Look at recorded alerts."""


@alerts.command("list")
@config_option
@click.option(
    "--state",
    type=click.Choice(["pending", "sent", "partly-sent", "failed", "suppressed"]),
    help="Only alerts in this state: pending (still to go), sent (to every target), partly-sent, failed (given "
    "up), suppressed (recorded, not to be sent).",
)
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines output, with per-target deliveries.")
def alerts_list(config_path: Path | None, state: str | None, limit: int, as_json: bool) -> None:
    """Recorded alerts, newest first, with their delivery to each target.

    \b
    Examples:
      watcher alerts list --limit 20
      watcher alerts list --state failed --json
    """
    with open_existing_store(_config(config_path)) as store:
        rows = list_alerts(store, state.replace("-", " ") if state else None, limit)
        ids = [r["id"] for r in rows]
        sent = deliveries(store, ids)
        recorded = alert_copies(store, ids)
        if interactive() and not as_json:
            cells = [
                (
                    r["id"],
                    relative(r["created_at"]),
                    r["rule"],
                    r["severity"],
                    r["state"],
                    r["title"] or "",
                    len(recorded.get(r["id"], [])) or "",
                    r["link"] or r["path"] or "",
                )
                for r in rows
            ]
            headers = ("id", "created", "rule", "severity", "state", "title", "copies", "where")
            for line in table(headers, cells, [STATE_COLOURS.get(r["state"]) for r in rows]):
                click.echo(line)
            return
        for row in rows:
            row["deliveries"] = sent.get(row["id"], [])
            row["copies"] = recorded.get(row["id"], [])
            if as_json:
                row["story_members"] = story_members(store, row["story"]) if row["story"] is not None else []
                click.echo(json.dumps(row, ensure_ascii=False))
                continue
            say(
                f"{row['id']:>6}  {row['created_at']}  {row['rule']} [{row['severity']}] {row['state']}  "
                f'"{row["title"]}"  {row["link"] or row["path"] or ""}'
            )
            if row["copies"]:
                sources = sorted({c["source"] for c in row["copies"]})
                n, copies = len(sources), len(row["copies"])
                say(
                    f"          also reported by {n} source{'s' if n > 1 else ''}: {', '.join(sources)} "
                    f"({copies} cop{'ies' if copies > 1 else 'y'}, story {row['story']})"
                )
            for d in row["deliveries"]:
                error = f": {d['last_error']}" if d["last_error"] else ""
                say(f"          -> {d['target']}: {d['state']} ({d['attempts']} attempts){error}")


@alerts.command("resend")
@config_option
@click.option("--dead", "dead_only", is_flag=True, help="Retry every alert delivery that was given up.")
@click.option("--all-targets", is_flag=True, help="With ID: send again even where it was delivered.")
@click.argument("alert_id", required=False, type=int)
def alerts_resend(config_path: Path | None, dead_only: bool, all_targets: bool, alert_id: int | None) -> None:
    """Retry an alert's delivery (ID), or every dead delivery (--dead), now.

    \b
    Examples:
      watcher alerts resend 42
      watcher alerts resend --dead
    """
    if (alert_id is None) == (not dead_only):
        raise click.UsageError("give an alert ID or --dead")
    config = _config(config_path)
    with open_existing_store(config) as store:
        if alert_id is not None and not store.query("SELECT 1 FROM alerts WHERE id = ?", (alert_id,)):
            raise NotFound(f"no alert {alert_id} in {config.database} (watcher alerts list shows them)")
        n = Outbox(config.notify).resend(store, alert_id, dead_only=dead_only, include_sent=all_targets, now=utcnow())
        say(f"{n} {'delivery' if n == 1 else 'deliveries'} due again")
        say(str(_drain(Dispatcher(store, config, rules=_rules_by_id(config)))))


@alerts.command("send")
@config_option
@click.option("--suppressed", "every", is_flag=True, help="Every alert recorded without being sent.")
@click.argument("alert_ids", nargs=-1, type=int)
def alerts_send(config_path: Path | None, every: bool, alert_ids: tuple[int, ...]) -> None:
    """Send alerts that were recorded without being sent (a feed's first poll, backfill without --notify).

    \b
    Examples:
      watcher alerts send 17 18
      watcher alerts send --suppressed
    """
    if bool(alert_ids) == every:
        raise click.UsageError("give alert IDs or --suppressed")
    config = _config(config_path)
    with open_existing_store(config) as store:
        for alert_id in alert_ids:
            row = store.query("SELECT state FROM alerts WHERE id = ?", (alert_id,))
            if not row:
                raise NotFound(f"no alert {alert_id} in {config.database} (watcher alerts list shows them)")
            if row[0]["state"] != "suppressed":
                raise NotFound(f"alert {alert_id} was not held back (watcher alerts resend {alert_id} sends it again)")
        rules = _rules_by_id(config)
        n = release(Outbox(config.notify), store, list(alert_ids) or None, rules, utcnow())
        say(f"{n} alert{'s' if n != 1 else ''} released")
        stats = _drain(Dispatcher(store, config, rules=rules))
    say(str(stats))
    if stats.failed or stats.dead:
        sys.exit(1)


@main.command("deliver")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object: sent, failed, dead, given_up.")
def deliver_command(config_path: Path | None, as_json: bool) -> None:
    """Send every due alert delivery once, then exit (for cron, and after a crash).

    Exits 1 when a delivery failed or has been given up (`watcher alerts resend --dead` retries those).

    \b
    Examples:
      watcher deliver
      watcher deliver --json
    """
    config = _config(config_path)
    with open_store(config) as store:
        stats = _drain(Dispatcher(store, config, rules=_rules_by_id(config)), as_json)
        dead = store.query("SELECT count(*) AS n FROM outbox WHERE state = 'dead'")[0]["n"]
    if as_json:
        record = {"sent": stats.sent, "failed": stats.failed, "dead": stats.dead, "given_up": dead}
        click.echo(json.dumps(record))
    else:
        say(str(stats))
    if dead and not as_json:
        say(f"{dead} {'delivery' if dead == 1 else 'deliveries'} given up in all: watcher alerts resend --dead retries")
    if stats.failed or dead:
        sys.exit(1)


def _drain(dispatcher: Dispatcher, quiet: bool = False) -> DeliveryStats:
    """Send what is due; on a terminal, with a progress bar (a total and an ETA) when there are many."""
    due = dispatcher.due() if sys.stderr.isatty() and not quiet else 0
    if due < PROGRESS_FROM:
        return dispatcher.drain()
    with click.progressbar(length=due, label="delivering", file=sys.stderr, show_pos=True, show_eta=True) as bar:
        return dispatcher.drain(progress=bar.update)


PROGRESS_FROM = 20  # deliveries: fewer go by too fast for a bar


@main.group()
def notify() -> None:
    """Work with notification targets."""


@notify.command("test")
@config_option
@click.option("--tag", help="Only the targets with this tag.")
def notify_test(config_path: Path | None, tag: str | None) -> None:
    """Send a test message to each target and print each result; exit 1 if any failed.

    \b
    Examples:
      watcher notify test
      watcher notify test --tag ops
    """
    config = _config(config_path)
    targets = [t for t in config.notify if tag is None or tag in t.tags]
    if not targets:
        say("no notify targets" + (f" tagged {tag!r}" if tag else "") + " in the configuration")
        sys.exit(1)
    notifier = Notifier(targets, timeout=config.delivery.timeout)
    failed = 0
    for label, ok, error in send_test_messages(notifier, [target_key(t) for t in targets]):
        say(f"{label}: {'ok' if ok else 'FAILED: ' + error}")
        failed += not ok
    sys.exit(1 if failed else 0)


def _rules_by_id(config: Config) -> dict[str, Rule]:
    """Rules for their templates when sending; the delivery still goes out if the rules are broken."""
    ruleset = load_rules(config.rules)
    return {r.id: r for r in ruleset.rules}
