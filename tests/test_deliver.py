from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import database_line, store_of, write
from tests.servers import receiver, smtp_server
from watcher.backfill import BackfillOptions, backfill, load_engine
from watcher.cli import main
from watcher.config import load_config
from watcher.delivery.deliver import Dispatcher, enqueue_alerts
from watcher.delivery.message import Renderer, clean_text
from watcher.delivery.outbox import Outbox
from watcher.items.model import Item
from watcher.pipeline import Pipeline
from watcher.store.open import open_store
from watcher.store.sqlite import PENDING, Store

RULES = """
rules:
  - id: shells
    title: Shells on the move
    severity: high
    notify: [analysts]
    match: [artillery shells]
  - id: drones
    title: Drones seen
    match: [drones]
"""

# Each test on SQLite, and on PostgreSQL where WATCHER_TEST_POSTGRES is set.
pytestmark = pytest.mark.usefixtures("on_each_database")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def project(tmp_path: Path, notify_yaml: str, rules: str = RULES, delivery: str = "") -> Path:
    write(tmp_path / "rules" / "r.yaml", rules)
    write(tmp_path / "watcher.yaml", f"{database_line(tmp_path)}rules: rules\nseeds: [docs]\n{notify_yaml}{delivery}")
    (tmp_path / "docs").mkdir(exist_ok=True)
    return tmp_path / "watcher.yaml"


def doc(tmp_path: Path, name: str, text: str) -> None:
    write(tmp_path / "docs" / name, text)


def ingest(config_path: Path, items: list[Item], clock: Clock) -> tuple[Store, Dispatcher]:
    config = load_config(config_path, env={})
    engine = load_engine(config)
    store = open_store(config.database)
    Pipeline(store, engine, on_alert=enqueue_alerts(Outbox(config.notify), clock)).ingest(items, alert_state=PENDING)
    rules = {r.id: r for r in engine.ruleset.rules}
    return store, Dispatcher(store, config, rules=rules, clock=clock)


def test_backfill_notify_sends_each_alert_to_its_routed_targets(tmp_path: Path) -> None:
    with receiver() as analysts, receiver() as everyone:
        cfg = project(
            tmp_path,
            f"notify:\n  - url: {analysts.url}\n    tags: [analysts]\n  - url: {everyone.url}\n",
        )
        doc(tmp_path, "a.txt", "Shells\n\nArtillery shells arrived at https://example.org/x today.\n")
        doc(tmp_path, "b.txt", "Drones\n\nDrones were seen over the port.\n")
        result = backfill(load_config(cfg, env={}), BackfillOptions([tmp_path / "docs"], notify=True))
        assert result.delivery is not None and result.delivery.sent == 3
        assert sorted(m["title"] for m in analysts.messages()) == [
            "[HIGH] Shells on the move: Shells",
            "[MEDIUM] Drones seen: Drones",
        ]
        assert [m["title"] for m in everyone.messages()] == ["[MEDIUM] Drones seen: Drones"]
        body = next(m["message"] for m in analysts.messages() if "Shells" in m["title"])
        # json:// receivers get plain text: no Markdown emphasis, no escapes.
        assert body.startswith("Shells\n") and "Alert id: " in body and "Source: docs" in body
        assert '- "artillery shells": Artillery shells arrived' in body and "**" not in body
        # A rerun sends nothing more.
        again = backfill(load_config(cfg, env={}), BackfillOptions([tmp_path / "docs"], notify=True))
        assert again.delivery is not None and again.delivery.sent == 0
        assert len(analysts.messages()) == 2


def test_partial_failure_retries_only_the_failed_target(tmp_path: Path) -> None:
    clock = Clock()
    with receiver() as healthy, receiver(fail=1) as flaky:
        cfg = project(tmp_path, f"notify:\n  - url: {healthy.url}\n  - url: {flaky.url}\n")
        store, dispatcher = ingest(cfg, [Item(source="s", guid="1", content="drones over the port")], clock)
        first = dispatcher.drain()
        assert (first.sent, first.failed) == (1, 1)
        assert dispatcher.drain().sent == 0  # the retry is not due yet
        clock.advance(3600)
        assert dispatcher.drain().sent == 1
        assert len(healthy.messages()) == 1 and len(flaky.messages()) == 1
        # The retried message is the one the healthy target got: same title and text.
        [good], [retried] = healthy.messages(), flaky.messages()
        assert good["title"] == retried["title"] == "[MEDIUM] Drones seen: (untitled)"
        # Each target's copy carries its own delivery key (the receiver's idempotency key); the rest is the same.
        text, key = good["message"].rsplit("\nAlert id: ", 1)
        retried_text, retried_key = retried["message"].rsplit("\nAlert id: ", 1)
        assert "drones over the port" in text and text == retried_text and key != retried_key
        rows = store.query("SELECT state, attempts FROM outbox ORDER BY id")
        assert rows == [{"state": "sent", "attempts": 1}, {"state": "sent", "attempts": 2}]
        store.close()


def test_hanging_target_times_out_and_is_retried_later(tmp_path: Path) -> None:
    clock = Clock()
    with receiver(delay=5) as hanging:
        cfg = project(tmp_path, f"notify:\n  - url: {hanging.url}\n", delivery="delivery: {timeout: 1s}\n")
        store, dispatcher = ingest(cfg, [Item(source="s", guid="1", content="drones")], clock)
        started = time.monotonic()
        stats = dispatcher.drain()
        assert time.monotonic() - started < 4.5
        assert stats.failed == 1
        [row] = store.query("SELECT state, last_error FROM outbox")
        assert row["state"] == "failed" and row["last_error"]
        store.close()


def test_dead_after_max_attempts_tells_ops_once_and_resend_retries(tmp_path: Path) -> None:
    clock = Clock()
    with receiver(fail=1000) as broken, receiver() as ops:
        cfg = project(
            tmp_path,
            f"notify:\n  - url: {broken.url}\n    name: broken\n  - url: {ops.url}\n    tags: [ops]\n    name: ops\n",
            rules=RULES.replace("match: [drones]", "notify: [x]\n    match: [drones]"),
            delivery="delivery: {max_attempts: 3, retry_base: 10s}\n",
        )
        write(
            tmp_path / "watcher.yaml",
            (tmp_path / "watcher.yaml")
            .read_text()
            .replace("tags: [ops]", "tags: [ops, x]")
            .replace("name: broken", "name: broken\n    tags: [x]"),
        )
        store, dispatcher = ingest(cfg, [Item(source="s", guid="1", content="drones")], clock)
        ops_alerts = 1  # the alert itself also reaches ops (tagged x)
        for _ in range(5):
            dispatcher.drain()
            clock.advance(3600)
        [row] = store.query("SELECT state, attempts FROM outbox WHERE target = 'broken'")
        assert row == {"state": "dead", "attempts": 3}
        told = [m for m in ops.messages() if "could not be delivered" in m["title"]]
        assert len(told) == 1 and "after 3 attempts" in told[0]["message"]
        assert len(ops.messages()) == ops_alerts + 1
        broken.fail = 0
        result = CliRunner().invoke(main, ["alerts", "resend", "--dead", "--config", str(cfg)])
        assert result.exit_code == 0, result.output
        assert "1 delivery due again" in result.output
        assert len(broken.messages()) == 1
        store.close()


def test_digest_collects_a_period_into_one_message(tmp_path: Path) -> None:
    clock = Clock()
    rules = "rules:\n  - id: drones\n    title: Drones\n    digest: 15m\n    match: [drones]\n"
    with receiver() as hook:
        cfg = project(tmp_path, f"notify:\n  - url: {hook.url}\n", rules=rules)
        items = [Item(source="s", guid=str(i), title=f"Sighting {i}", content="drones") for i in range(3)]
        store, dispatcher = ingest(cfg, items, clock)
        assert dispatcher.drain().sent == 0
        clock.advance(15 * 60)
        assert dispatcher.drain().sent == 3
        [message] = hook.messages()
        assert message["title"].endswith("(+2 more)")
        assert "Digest: 3 alerts" in message["message"] and "Sighting 2" in message["message"]
        store.close()


def test_cooldown_sends_the_first_and_counts_the_rest_into_the_next(tmp_path: Path) -> None:
    clock = Clock()
    rules = "rules:\n  - id: drones\n    title: Drones\n    cooldown: 1h\n    match: [drones]\n"
    with receiver() as hook:
        cfg = project(tmp_path, f"notify:\n  - url: {hook.url}\n", rules=rules)
        store, dispatcher = ingest(cfg, [Item(source="s", guid="0", title="First", content="drones")], clock)
        assert dispatcher.drain().sent == 1
        config = load_config(cfg, env={})
        engine = load_engine(config)
        pipeline = Pipeline(store, engine, on_alert=enqueue_alerts(Outbox(config.notify), clock))
        clock.advance(60)
        pipeline.ingest(
            [Item(source="s", guid=str(i), title=f"Later {i}", content="drones") for i in (1, 2)], alert_state=PENDING
        )
        assert dispatcher.drain().sent == 0
        clock.advance(3600)
        assert dispatcher.drain().sent == 2
        assert [m["title"] for m in hook.messages()] == ["[MEDIUM] Drones: First", "[MEDIUM] Drones: Later 1 (+1 more)"]
        store.close()


def test_mailto_reaches_an_smtp_server(tmp_path: Path) -> None:
    clock = Clock()
    with smtp_server() as box:
        url = f"mailto://127.0.0.1:{box.port}?from=watcher@example.org&to=analyst@example.org&secure=no"
        cfg = project(tmp_path, f"notify:\n  - url: '{url}'\n")
        store, dispatcher = ingest(cfg, [Item(source="s", guid="1", title="Port", content="drones")], clock)
        assert dispatcher.drain().sent == 1
        [envelope] = box.messages
        assert envelope.rcpt_tos == ["analyst@example.org"]
        assert b"Drones seen: Port" in envelope.content
        store.close()


def test_secrets_never_reach_logs_database_or_output(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    with receiver(fail=1000) as hook:
        secret_url = f"json://alice:Sup3rSecretPW@127.0.0.1:{hook.port}/hook/t0kenValue123"
        cfg = project(tmp_path, f"notify:\n  - url: '{secret_url}'\n")
        store, dispatcher = ingest(cfg, [Item(source="s", guid="1", content="drones")], clock)
        dispatcher.drain()
        dumped = "\n".join(str(r) for r in store.query("SELECT * FROM outbox"))
        result = CliRunner().invoke(main, ["alerts", "list", "--json", "--config", str(cfg)])
        test = CliRunner().invoke(main, ["notify", "test", "--config", str(cfg)])
        store.close()
    everything = caplog.text + dumped + result.output + test.output
    assert "Sup3rSecretPW" not in everything
    assert "t0kenValue123" not in everything
    assert "127.0.0.1" in dumped  # the redacted form still says which target


def test_messages_neutralize_untrusted_text() -> None:
    alert = {
        "rule_id": "r",
        "rule_title": "R",
        "severity": "low",
        "idempotency_key": "k",
        "title": "Breaking\r\n@channel <!here> <script>x</script>[click](javascript:alert(1))\x07",
        "link": "javascript:alert(1)",
        "source": "s",
        "published": None,
        "path": None,
        "evidence": [
            {"condition": "c", "matched": "word", "snippet": "@everyone look at this word", "field": "content"}
        ],
    }
    title, body = Renderer().render([alert])
    assert "\r" not in title and "\n" not in title and "\x07" not in title
    for text in (title, body):
        assert "@channel" not in text and "<!here>" not in text and "@everyone" not in text
        assert "javascript:" not in text.replace("\\[click\\](javascript:alert(1))", "")
    assert "\\[click\\]" in body
    assert clean_text("a\u202eb") == "a b"


@pytest.mark.parametrize("cmd", [["deliver"], ["notify", "test"]])
def test_commands_without_targets(tmp_path: Path, cmd: list[str]) -> None:
    cfg = project(tmp_path, "")
    result = CliRunner().invoke(main, [*cmd, "--config", str(cfg)])
    assert ("0 sent" in result.output) if cmd == ["deliver"] else (result.exit_code == 1)


def test_rule_template_then_target_template_then_default(tmp_path: Path) -> None:
    clock = Clock()
    rules = (
        "rules:\n  - id: drones\n    title: Drones\n    template: {title: 'RULE {{ rule.id }}: {{ item.title }}'}\n"
        "    match: [drones]\n  - id: ships\n    title: Ships\n    match: [ships]\n"
    )
    with receiver() as hook:
        cfg = project(
            tmp_path,
            f"notify:\n  - url: {hook.url}\n"
            "    template: {title: 'TARGET {{ severity }}', body: 'see {{ item.link }}'}\n",
            rules=rules,
        )
        store, dispatcher = ingest(
            cfg,
            [
                Item(source="s", guid="1", title="Sky", content="drones"),
                Item(source="s", guid="2", title="Sea", link="https://example.org/sea", content="ships"),
            ],
            clock,
        )
        dispatcher.drain()
        got = sorted((m["title"], m["message"]) for m in hook.messages())
        assert got[0][0] == "RULE drones: Sky" and got[0][1] == "see"
        assert got[1] == ("TARGET medium", "see https://example.org/sea")
        store.close()


def test_deliver_exits_1_while_deliveries_are_given_up(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from watcher.cli import main

    runner = CliRunner()
    with receiver(fail=1000) as broken:
        cfg = project(tmp_path, f"notify:\n  - url: {broken.url}\n", delivery="delivery: {max_attempts: 1}\n")
        doc(tmp_path, "a.txt", "Drones\n\nDrones were seen over the harbour.\n")
        backfilled = runner.invoke(main, ["backfill", "--notify", "--config", str(cfg)])
        assert backfilled.exit_code == 0, backfilled.output
        assert "1 given up" in backfilled.output
        result = runner.invoke(main, ["deliver", "--config", str(cfg)])
        as_json = runner.invoke(main, ["deliver", "--json", "--config", str(cfg)])
    assert result.exit_code == 1
    assert "1 delivery given up in all: watcher alerts resend --dead retries" in result.output
    assert as_json.exit_code == 1 and json.loads(as_json.output) == {"sent": 0, "failed": 0, "dead": 0, "given_up": 1}


UNROUTED_RULES = """
rules:
  - id: shells
    title: Shells
    notify: [analysts]
    match: [artillery shells]
"""


def test_alerts_whose_tags_no_target_carries_go_to_the_untagged_targets(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from watcher.cli import main

    with receiver() as ops, receiver() as everyone:
        targets = f"notify:\n  - {{url: '{ops.url}', tags: [ops]}}\n  - {{url: '{everyone.url}'}}\n"
        cfg = project(tmp_path, targets, rules=UNROUTED_RULES)
        checked = CliRunner().invoke(main, ["config", "check", "--config", str(cfg)])
        assert checked.exit_code == 1
        assert "r.yaml:2 rule shells: notify analysts: no target carries this tag; its alerts go to the untagged" in (
            checked.output
        )
        doc(tmp_path, "a.txt", "Shells\n\nArtillery shells by rail.\n")
        assert CliRunner().invoke(main, ["backfill", "--notify", "--config", str(cfg)]).exit_code == 0
        assert len(everyone.messages()) == 1 and ops.messages() == []


def test_alerts_that_reach_no_target_are_noted_and_counted(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from watcher.cli import main
    from watcher.status import read_gauges, read_status

    with receiver() as ops:
        cfg = project(tmp_path, f"notify:\n  - {{url: '{ops.url}', tags: [ops]}}\n", rules=UNROUTED_RULES)
        doc(tmp_path, "a.txt", "Shells\n\nArtillery shells by rail.\n")
        doc(tmp_path, "b.txt", "More shells\n\nArtillery shells by road.\n")
        assert CliRunner().invoke(main, ["backfill", "--notify", "--config", str(cfg)]).exit_code == 0
        assert CliRunner().invoke(main, ["deliver", "--config", str(cfg)]).exit_code == 0
        # ops hears of it once, not the alerts themselves, and not once per alert.
        [told] = ops.messages()
        assert told["title"] == "watcher: alerts that reach no target"
        assert "rule shells: notify analysts reaches no target" in told["message"]
    store = store_of(tmp_path)
    assert read_gauges(store)["alerts_unrouted"] == 2
    assert "rule shells: notify analysts reaches no target; its alerts are not sent" in [
        n["message"] for n in read_status(store).notices
    ]
    store.close()


def test_an_alert_has_one_state_from_its_deliveries(tmp_path: Path) -> None:
    """Sent to every target, to some, given up everywhere, or never to be sent: the list says which."""
    from click.testing import CliRunner

    from watcher.cli import main

    runner = CliRunner()

    def states(cfg: Path, *args: str) -> list[str]:
        out = runner.invoke(main, ["alerts", "list", "--json", "--config", str(cfg), *args]).output
        return [json.loads(line)["state"] for line in out.splitlines()]

    with receiver() as good, receiver(fail=1000) as broken:
        notify = f"notify:\n  - {{url: '{good.url}'}}\n  - {{url: '{broken.url}'}}\n"
        cfg = project(tmp_path, notify, delivery="delivery: {max_attempts: 1}\n")
        doc(tmp_path, "a.txt", "Drones\n\nDrones over the harbour.\n")
        assert runner.invoke(main, ["backfill", "--notify", "--config", str(cfg)]).exit_code == 0
        assert states(cfg) == ["partly sent"]
        assert states(cfg, "--state", "partly-sent") == ["partly sent"] and states(cfg, "--state", "sent") == []
        doc(tmp_path, "b.txt", "More drones\n\nDrones over the airport.\n")
        assert runner.invoke(main, ["backfill", "--config", str(cfg)]).exit_code == 0
        assert states(cfg) == ["suppressed", "partly sent"]
    cfg_one = project(tmp_path / "one", "notify:\n  - {url: 'json://127.0.0.1:9/unused'}\n")
    doc(tmp_path / "one", "a.txt", "Drones\n\nDrones over the harbour.\n")
    assert runner.invoke(main, ["backfill", "--config", str(cfg_one)]).exit_code == 0
    status = runner.invoke(main, ["status", "--config", str(cfg_one)]).output
    assert "alerts: 1 suppressed" in status


def test_alerts_send_releases_what_was_recorded_without_being_sent(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from watcher.cli import main

    runner = CliRunner()
    with receiver() as hook:
        cfg = project(tmp_path, f"notify:\n  - {{url: '{hook.url}'}}\n")
        doc(tmp_path, "a.txt", "Drones\n\nDrones over the harbour.\n")
        doc(tmp_path, "b.txt", "Shells\n\nArtillery shells by rail.\n")
        assert runner.invoke(main, ["backfill", "--config", str(cfg)]).exit_code == 0
        assert hook.messages() == []
        listed = [
            json.loads(x)
            for x in runner.invoke(main, ["alerts", "list", "--json", "--config", str(cfg)]).output.splitlines()
        ]
        first = min(r["id"] for r in listed)
        sent = runner.invoke(main, ["alerts", "send", str(first), "--config", str(cfg)])
        assert sent.exit_code == 0 and "1 alert released" in sent.output
        assert len(hook.messages()) == 1
        again = runner.invoke(main, ["alerts", "send", str(first), "--config", str(cfg)])
        assert again.exit_code != 0 and "was not held back" in str(again.exception)
        rest = runner.invoke(main, ["alerts", "send", "--suppressed", "--config", str(cfg)])
        assert rest.exit_code == 0 and "1 alert released" in rest.output
        assert len(hook.messages()) == 2


def test_json_bodies_carry_no_markdown_escapes(tmp_path: Path) -> None:
    rules = "rules:\n  - id: north_korea_arms\n    title: north_korea *arms*\n    match: [drones]\n"
    with receiver() as hook:
        cfg = project(tmp_path, f"notify:\n  - url: {hook.url}\n", rules=rules)
        doc(tmp_path, "a.txt", "Drones_over *the* port\n\nDrones over the port.\n")
        backfill(load_config(cfg, env={}), BackfillOptions([tmp_path / "docs"], notify=True))
        [message] = hook.messages()
    assert "Rule: north_korea *arms* (north_korea_arms, medium)" in message["message"]
    assert message["message"].startswith("Drones_over *the* port\n") and "\\" not in message["message"]
