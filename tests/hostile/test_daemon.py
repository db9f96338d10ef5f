"""The real daemon against hostile inputs: it keeps answering /healthz, stops on SIGTERM, loses nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import write
from tests.daemonproc import daemon, wait_for
from tests.hostile.files import BILLION_LAUGHS, hostile_documents
from tests.servers import receiver

RULES = "rules:\n  - id: shells\n    title: Shells\n    match: [artillery shells]\n"


def config(tmp_path: Path, hook_url: str, extra: str = "") -> Path:
    """A daemon whose health server takes any free port (it logs which): no race for a port."""
    write(tmp_path / "rules" / "r.yaml", RULES)
    return write(
        tmp_path / "watcher.yaml",
        f"database: w.db\nrules: rules\nseeds: [{{path: docs, interval: 1s}}]\n"
        f"notify:\n  - {{url: '{hook_url}', name: hook}}\n"
        "server: {listen: '127.0.0.1:0'}\n"
        "daemon: {grace_period: 5s, deliver_interval: 1s, reload_debounce: 0.5s, parse_timeout: 3s}\n" + extra,
    )


def healthz(port: int, timeout: float = 1.0) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as r:  # noqa: S310
        return int(r.status)


def test_hostile_seed_files_never_freeze_the_daemon(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    hostile_documents(docs)
    (docs / "slow.html").write_bytes(b"<meta " * 20_000)  # ~30 s of html.parser: killed at parse_timeout
    with receiver() as hook:
        cfg = config(tmp_path, hook.url)
        with daemon(cfg) as d:
            wait_for(lambda: "running:" in d.log(), what="start")
            port = d.health_port()
            # Throughout the hostile reads, /healthz answers within a second.
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                assert healthz(port) == 200
                time.sleep(0.2)
            wait_for(lambda: "slow.html: parsing took longer than 3s" in d.log(), what="the slow file cut off")
            # The first poll recorded what was there; what arrives next is alerted, hostile neighbours or not.
            (docs / "new.txt").write_text("New\n\nMore artillery shells arrived.\n")
            wait_for(lambda: [m["title"] for m in hook.messages()] == ["[MEDIUM] Shells: New"], what="the alert")
            assert healthz(port) == 200
            started = time.monotonic()
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(timeout=10) == 0, d.log()[-2000:]
            assert time.monotonic() - started < 6
    log = d.log()
    assert "Traceback" not in log, log[log.find("Traceback") - 300 :][:3000]


def test_reload_refuses_hostile_rule_files_and_keeps_running(tmp_path: Path) -> None:
    with receiver() as hook, receiver() as ops:
        cfg = config(tmp_path, hook.url)
        cfg.write_text(
            cfg.read_text().replace("name: hook}\n", f"name: hook}}\n  - {{url: '{ops.url}', tags: [ops]}}\n")
        )
        (tmp_path / "docs").mkdir()
        with daemon(cfg) as d:
            wait_for(lambda: "running:" in d.log(), what="start")
            port = d.health_port()
            cases = {
                "bomb.yaml": BILLION_LAUGHS,
                "self.yaml": "entities: &a {x: [*a]}\n",
                "deep.yaml": "rules:\n  - id: deep\n    match: " + "{all: [" * 300 + "x" + "]}" * 300 + "\n",
            }
            for name, text in cases.items():
                refused = d.log().count("reload refused")
                write(tmp_path / "rules" / name, text)
                wait_for(lambda n=refused: d.log().count("reload refused") > n, what=f"{name} refused")
                assert healthz(port) == 200
                (tmp_path / "rules" / name).unlink()
                wait_for(lambda: d.log().count("reloaded:") >= 1, what="back to the good rules")
            wait_for(lambda: any("invalid edit" in m["title"] for m in ops.messages()), what="ops told")
            (tmp_path / "docs" / "a.txt").write_text("A\n\nartillery shells\n")
            wait_for(lambda: len(hook.messages()) == 1, what="alerts still flow")
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(timeout=10) == 0
    log = d.log()
    assert "Traceback" not in log and "RecursionError" not in log
    assert "YAML aliases repeat more than 10000 nodes" in log
    assert "a YAML alias refers to a node that contains it" in log
    assert "nested deeper than 64 levels" in log


def test_health_server_bounds_slow_many_and_oversized_requests(tmp_path: Path) -> None:
    with receiver() as hook:
        cfg = config(tmp_path, hook.url)
        (tmp_path / "docs").mkdir()
        with daemon(cfg) as d:
            wait_for(lambda: "running:" in d.log(), what="start")
            port = d.health_port()
            # A client that drips one header line a second is dropped at the 5 s header deadline.
            drip = socket.create_connection(("127.0.0.1", port))
            drip.sendall(b"GET /healthz HTTP/1.0\r\n")
            started = time.monotonic()
            closed_after = None
            drip.settimeout(0.2)
            while time.monotonic() - started < 12:
                try:
                    if drip.recv(100) == b"":
                        closed_after = time.monotonic() - started
                        break
                except TimeoutError:
                    drip.sendall(b"X-Drip: 1\r\n")
                    time.sleep(0.8)
                except ConnectionResetError:
                    closed_after = time.monotonic() - started
                    break
            drip.close()
            assert closed_after is not None and closed_after < 7, closed_after
            # Past the cap, connections are refused at once, and one log line says so each time.
            idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(80)]
            wait_for(lambda: d.log().count("health server: refused") >= 16, what="refusals logged")
            for s in idle:
                s.close()
            wait_for(lambda: _answers(port), what="healthz after the flood")
            # An oversized request line is answered 431, logged once, with no traceback.
            big = socket.create_connection(("127.0.0.1", port))
            big.sendall(b"GET /" + b"a" * 20_000 + b" HTTP/1.0\r\n\r\n")
            assert big.recv(100).startswith(b"HTTP/1.0 431")
            big.close()
            wait_for(lambda: "request head over 8192 bytes" in d.log(), what="oversized logged")
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(timeout=10) == 0
    assert "Traceback" not in d.log()


def _answers(port: int) -> bool:
    try:
        return healthz(port) == 200
    except OSError:
        return False


def test_a_symlink_to_the_database_does_not_get_a_second_lock(tmp_path: Path) -> None:
    with receiver() as hook:
        cfg = config(tmp_path, hook.url)
        (tmp_path / "docs").mkdir()
        with daemon(cfg) as d:
            wait_for(lambda: "running:" in d.log(), what="start")
            d.health_port()
            (tmp_path / "other").mkdir()
            os.symlink(tmp_path / "w.db", tmp_path / "other" / "link.db")
            second = write(tmp_path / "other" / "watcher.yaml", "database: link.db\nrules: ../rules\nseeds: []\n")
            proc = subprocess.run(
                [sys.executable, "-m", "watcher", "run", "--config", str(second)],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert proc.returncode != 0
            assert "another watcher (PID" in proc.stderr
            d.proc.send_signal(signal.SIGTERM)
            assert d.proc.wait(timeout=10) == 0
