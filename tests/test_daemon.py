"""`watcher run` as a real process, against feeds on 127.0.0.1 and a json:// receiver."""

from __future__ import annotations

import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path

from tests.conftest import write
from tests.daemonproc import daemon, wait_for
from tests.feedserver import feed_server
from tests.servers import receiver


def rss(*titles: str) -> bytes:
    items = "".join(f"<item><guid>{t}</guid><title>{t}</title></item>" for t in titles)
    return f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()


def setup(tmp_path: Path, feed_url: str, hook_url: str, ops_url: str = "", health: bool = False) -> Path:
    write(tmp_path / "rules" / "r.yaml", "rules:\n  - id: shells\n    title: Shells\n    match: [artillery shells]\n")
    ops = f"  - {{url: '{ops_url}', tags: [ops], name: ops}}\n" if ops_url else ""
    # Port 0: the daemon takes any free port and logs it (no race for a port between tests).
    server = "server: {listen: '127.0.0.1:0'}\n" if health else ""
    return write(
        tmp_path / "watcher.yaml",
        f"database: w.db\nrules: rules\nseeds: []\n"
        f"feeds:\n  - {{url: '{feed_url}', name: news, interval: 1s}}\n"
        f"notify:\n  - {{url: '{hook_url}', name: hook}}\n{ops}"
        f"http: {{allow_private_addresses: true, timeout: 3s}}\n{server}"
        "daemon: {grace_period: 5s, deliver_interval: 1s, reload_debounce: 0.5s}\n",
    )


def titles(hook) -> list[str]:
    return [m["title"] for m in hook.messages()]


def test_daemon_alerts_reloads_rules_and_survives_a_broken_edit(tmp_path: Path) -> None:
    with feed_server() as srv, receiver() as hook, receiver() as ops:
        srv.static("/rss", rss("old artillery shells"))
        cfg = setup(tmp_path, srv.url("/rss"), hook.url, ops.url)
        with daemon(cfg) as d:
            wait_for(lambda: "running:" in d.log(), what="start")
            wait_for(lambda: srv.hits.get("/rss", 0) >= 1, what="first poll")
            # A new entry is alerted within an interval or two; the first poll's entries are not.
            srv.static("/rss", rss("old artillery shells", "new artillery shells"))
            wait_for(lambda: titles(hook) == ["[MEDIUM] Shells: new artillery shells"], what="alert")

            # Editing a rule file changes what alerts.
            write(
                tmp_path / "rules" / "drones.yaml", "rules:\n  - id: drones\n    title: Drones\n    match: [drones]\n"
            )
            wait_for(lambda: "reloaded: 2 rules" in d.log(), what="reload")
            srv.static("/rss", rss("old artillery shells", "new artillery shells", "drones over the port"))
            wait_for(lambda: "[MEDIUM] Drones: drones over the port" in titles(hook), what="new rule's alert")

            # A broken edit keeps the last good rules and says where the problem is.
            write(tmp_path / "rules" / "drones.yaml", "rules:\n  - id: drones\n    match: [drones\n")
            wait_for(lambda: "reload refused" in d.log(), what="refusal")
            assert "drones.yaml:4: YAML syntax error" in d.log()
            wait_for(lambda: any("invalid edit" in m["title"] for m in ops.messages()), what="ops report")
            srv.static("/rss", rss("more drones today"))
            wait_for(lambda: "[MEDIUM] Drones: more drones today" in titles(hook), what="old rules still run")

            started = time.monotonic()
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(timeout=10) == 0
            assert time.monotonic() - started < 5 + 2
        sent = titles(hook)

        # A restart sends nothing that was sent before.
        write(tmp_path / "rules" / "drones.yaml", "rules:\n  - id: drones\n    title: Drones\n    match: [drones]\n")
        with daemon(cfg) as d:
            wait_for(lambda: "running:" in d.log(), what="restart")
            hits = srv.hits["/rss"]
            wait_for(lambda: srv.hits["/rss"] >= hits + 2, what="polls after restart")
            # What would be sent is in the outbox first: after two polls, nothing new is there to send.
            with sqlite3.connect(tmp_path / "w.db") as db:
                waiting = db.execute("SELECT count(*) FROM outbox WHERE state IN ('pending', 'failed')").fetchone()
                delivered = db.execute(
                    "SELECT count(*) FROM outbox WHERE state = 'sent' AND target = 'hook'"
                ).fetchone()
            assert waiting == (0,) and delivered == (len(sent),)
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(timeout=10) == 0
        assert titles(hook) == sent


def test_second_instance_is_refused_with_the_pid(tmp_path: Path) -> None:
    with feed_server() as srv, receiver() as hook:
        srv.static("/rss", rss("x"))
        cfg = setup(tmp_path, srv.url("/rss"), hook.url)
        with daemon(cfg) as first:
            wait_for(lambda: "running:" in first.log(), what="start")
            second = subprocess.run(
                [sys.executable, "-m", "watcher", "run", "--config", str(cfg)],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert second.returncode == 1
            assert f"another watcher (PID {first.proc.pid}) is running" in second.stderr
            first.proc.send_signal(signal.SIGINT)
            assert first.proc.wait(timeout=10) == 0


def test_health_metrics_and_systemd_notifications(tmp_path: Path) -> None:
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.2)
    messages: list[str] = []
    with feed_server() as srv, receiver() as hook:
        srv.static("/rss", rss("artillery shells"))
        cfg = setup(tmp_path, srv.url("/rss"), hook.url, health=True)
        with daemon(cfg, env={"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "2000000"}) as d:

            def received(text: str) -> bool:
                with suppress(TimeoutError):
                    messages.append(sock.recv(4096).decode())
                return any(text in m for m in messages)

            wait_for(lambda: received("READY=1"), what="READY=1")
            port = d.health_port()
            wait_for(lambda: received("WATCHDOG=1"), what="WATCHDOG=1")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:  # noqa: S310
                assert (r.status, r.read()) == (200, b"ok\n")
            wait_for(lambda: srv.hits.get("/rss", 0) >= 1, what="a poll")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:  # noqa: S310
                text = r.read().decode()
            assert "# TYPE watcher_polls_total counter" in text
            # prometheus_client's exposition: fetch and parse durations as histograms.
            assert "# TYPE watcher_fetch_seconds histogram" in text
            assert 'watcher_fetch_seconds_bucket{le="+Inf"}' in text and "watcher_parse_seconds_count" in text
            for name in (
                "watcher_polls_total",
                "watcher_poll_failures_total",
                "watcher_items_total",
                "watcher_alerts_total",
                'watcher_deliveries_total{result="sent"}',
                "watcher_outbox_queue_depth",
                "watcher_rule_eval_seconds_total",
                "watcher_up 1.0",
            ):
                assert name in text, name
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(timeout=10) == 0
    sock.close()


def test_config_edit_adds_a_feed_sighup_reloads_and_logs_are_json(tmp_path: Path) -> None:
    import json

    with feed_server() as srv, receiver() as hook:
        srv.static("/a", rss("a"))
        srv.static("/b", rss("b"))
        cfg = setup(tmp_path, srv.url("/a"), hook.url)
        with daemon(cfg, args=("--log-format", "json")) as d:
            wait_for(lambda: "running:" in d.log(), what="start")
            wait_for(lambda: srv.hits.get("/a", 0) >= 1, what="first feed polled")
            text = cfg.read_text().replace(
                "feeds:\n", f"feeds:\n  - {{url: '{srv.url('/b')}', name: second, interval: 1s}}\n"
            )
            write(cfg, text)
            wait_for(lambda: srv.hits.get("/b", 0) >= 1, what="the added feed polled")
            a_hits = srv.hits["/a"]
            wait_for(lambda: srv.hits["/a"] > a_hits, what="the first feed still polled")
            d.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "SIGHUP: reloading" in d.log(), what="SIGHUP")
            wait_for(lambda: d.log().count("reloaded:") >= 2, what="the SIGHUP reload")
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(timeout=10) == 0
        records = [json.loads(line) for line in d.lines if line.strip()]
        assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)


def test_daemon_refuses_to_start_without_rules(tmp_path: Path) -> None:
    with feed_server() as srv, receiver() as hook:
        cfg = setup(tmp_path, srv.url("/rss"), hook.url)
        write(cfg, cfg.read_text().replace("rules: rules", "rules: rulez"))

        def start() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "watcher", "run", "--config", str(cfg)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )

        done = start()
        assert done.returncode == 2
        assert done.stderr.strip().splitlines()[-1] == (
            f"error: no rules at {tmp_path / 'rulez'}: refusing to start a daemon that alerts on nothing"
        )
        (tmp_path / "rulez").mkdir()  # there, but without a rule
        done = start()
        assert done.returncode == 2
        assert "error: no rules to run in" in done.stderr and "Traceback" not in done.stderr


def test_a_rules_directory_that_goes_away_keeps_the_last_rules_and_turns_healthz_unhealthy(tmp_path: Path) -> None:
    with feed_server() as srv, receiver() as hook:
        srv.static("/rss", rss("artillery shells"))
        cfg = setup(tmp_path, srv.url("/rss"), hook.url, health=True)
        with daemon(cfg) as d:
            port = d.health_port()

            def healthz() -> tuple[int, str]:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:  # noqa: S310
                        return r.status, r.read().decode()
                except urllib.error.HTTPError as e:
                    return e.code, e.read().decode()

            wait_for(lambda: healthz()[0] == 200, what="healthy")
            shutil.move(tmp_path / "rules", tmp_path / "rules.moved")
            wait_for(lambda: healthz()[0] == 503, what="unhealthy")
            assert healthz()[1] == f"unhealthy\nno rules at {tmp_path / 'rules'}\n"
            assert "reload refused, keeping the last good rules" in d.log()
            shutil.move(tmp_path / "rules.moved", tmp_path / "rules")
            wait_for(lambda: healthz()[0] == 200, what="healthy again")
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(timeout=10) == 0


def test_feeds_added_and_removed_reach_a_running_daemon(tmp_path: Path) -> None:
    with feed_server() as srv, receiver() as hook:
        srv.static("/rss", rss("the weather"))
        srv.static("/extra", rss("more weather"))
        cfg = setup(tmp_path, srv.url("/rss"), hook.url)
        with daemon(cfg) as d:
            wait_for(lambda: srv.hits.get("/rss", 0) >= 1, what="the configured feed polled")
            added = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "watcher",
                    "feeds",
                    "add",
                    "--config",
                    str(cfg),
                    "--name",
                    "extra",
                    "--interval",
                    "1s",
                    srv.url("/extra"),
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            assert "a running daemon starts polling it within 5s" in added.stdout
            wait_for(lambda: srv.hits.get("/extra", 0) >= 1, timeout=20, what="the added feed polled")
            subprocess.run(
                [sys.executable, "-m", "watcher", "feeds", "remove", "--config", str(cfg), "extra"],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            wait_for(lambda: "subscriptions changed: -extra" in d.log(), timeout=20, what="the removal seen")
            hits = srv.hits.get("/extra", 0)
            time.sleep(3)  # the removed feed's interval is 1s: three more polls if it were still scheduled
            assert srv.hits.get("/extra", 0) <= hits + 1
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(timeout=10) == 0


def test_skipped_runs_are_counted_not_logged_one_by_one(caplog) -> None:
    import logging

    from watcher.daemon.logs import SkippedRuns

    counted: list[int] = []
    logger = logging.getLogger("apscheduler.scheduler")
    skipped = SkippedRuns(lambda: counted.append(1))
    logger.addFilter(skipped)
    try:
        with caplog.at_level(logging.WARNING, logger="apscheduler.scheduler"):
            for n in range(3):
                logger.warning(
                    'Execution of job "%s" skipped: maximum number of running instances reached (%d)', f"poll f{n}", 1
                )
            logger.warning("Scheduler started")
    finally:
        logger.removeFilter(skipped)
    assert counted == [1, 1, 1]
    assert [r.getMessage() for r in caplog.records] == ["Scheduler started"]
