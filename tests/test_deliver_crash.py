"""Kill the dispatcher at random moments while alerts flow: nothing is lost, duplicates are at most one per kill."""

from __future__ import annotations

import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.conftest import write
from tests.servers import receiver
from watcher.backfill import load_engine
from watcher.config import load_config
from watcher.delivery.deliver import enqueue_alerts
from watcher.delivery.outbox import Outbox
from watcher.items.model import Item
from watcher.pipeline import Pipeline
from watcher.store.sqlite import PENDING, Store

KILLS = 20


def _add_alerts(config_path: Path, start: int, n: int) -> None:
    config = load_config(config_path, env={})
    store = Store.open(config.database)
    try:
        pipeline = Pipeline(store, load_engine(config), on_alert=enqueue_alerts(Outbox(config.notify)))
        items = [
            Item(source="s", guid=f"g{i}", title=f"Item {i}", content=f"drones number {i}")
            for i in range(start, start + n)
        ]
        pipeline.ingest(items, alert_state=PENDING)
    finally:
        store.close()


def _keys(messages: list[dict]) -> list[str]:
    return [re.search(r"Alert id: (\w+)", m["message"]).group(1) for m in messages]  # type: ignore[union-attr]


def test_sigkill_during_delivery_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261124)
    with receiver(delay=0.03) as a, receiver(delay=0.03) as b:
        write(tmp_path / "rules" / "r.yaml", "rules:\n  - id: drones\n    match: [drones]\n")
        cfg = write(
            tmp_path / "watcher.yaml",
            f"database: w.db\nrules: rules\nnotify:\n  - url: {a.url}\n  - url: {b.url}\n",
        )
        added = 0
        interrupted = 0
        for _ in range(KILLS):
            _add_alerts(cfg, added, 15)
            added += 15
            proc = subprocess.Popen(
                [sys.executable, "-m", "watcher", "deliver", "--config", str(cfg)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.4, 1.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            conn = sqlite3.connect(tmp_path / "w.db")
            interrupted += conn.execute("SELECT count(*) > 0 FROM outbox WHERE state != 'sent'").fetchone()[0]
            conn.close()
        assert interrupted >= KILLS // 2, "the kills must land while deliveries are under way"
        final = subprocess.run(
            [sys.executable, "-m", "watcher", "deliver", "--config", str(cfg)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert final.returncode == 0, final.stderr

        conn = sqlite3.connect(tmp_path / "w.db")
        expected = {row[0]: row[1] for row in conn.execute("SELECT idempotency_key, target FROM outbox")}
        states = Counter(row[0] for row in conn.execute("SELECT state FROM outbox"))
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.close()

        assert len(expected) == added * 2
        assert states == Counter({"sent": added * 2})
        got = Counter(_keys(a.messages()) + _keys(b.messages()))
        assert set(got) == set(expected), "every alert reached every target"
        duplicates = sum(n - 1 for n in got.values())
        assert duplicates <= interrupted
