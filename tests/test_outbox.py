"""The outbox's guarantees one by one: leases between dispatchers, backoff growth, idempotency keys."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from tests.servers import receiver
from tests.test_deliver import Clock, ingest, project
from watcher.delivery.outbox import LEASE, Outbox, idempotency_key, iso, parse_iso
from watcher.items.model import Item


def test_a_claim_holds_until_its_lease_expires_then_another_dispatcher_takes_it(tmp_path: Path) -> None:
    clock = Clock()
    with receiver() as hook:
        cfg = project(tmp_path, f"notify:\n  - url: {hook.url}\n")
        store, _ = ingest(cfg, [Item(source="s", guid="1", content="drones")], clock)
        # Two dispatchers on other hosts: a claim cannot be checked for a live process, only timed out.
        first, second = Outbox([], owner="host-a:111"), Outbox([], owner="host-b:222")
        [row] = first.claim(store, clock())
        assert second.claim(store, clock()) == []
        assert second.claim(store, clock() + LEASE - timedelta(seconds=1)) == []
        [again] = second.claim(store, clock() + LEASE + timedelta(seconds=1))
        assert again["id"] == row["id"]
        [claimed] = store.query("SELECT claimed_by, claimed_until FROM outbox")
        assert claimed == {"claimed_by": "host-b:222", "claimed_until": iso(clock() + LEASE * 2 + timedelta(seconds=1))}
        store.close()


def test_backoff_doubles_with_jitter_up_to_its_cap(tmp_path: Path) -> None:
    clock = Clock()
    with receiver(fail=100) as broken:
        cfg = project(
            tmp_path,
            f"notify:\n  - url: {broken.url}\n",
            delivery="delivery: {max_attempts: 10, retry_base: 10s, retry_max: 100s}\n",
        )
        store, dispatcher = ingest(cfg, [Item(source="s", guid="1", content="drones")], clock)
        dispatcher.rng = random.Random(7)
        delays = []
        for _ in range(6):
            assert dispatcher.drain().failed == 1
            [row] = store.query("SELECT next_attempt_at FROM outbox")
            due = row["next_attempt_at"]
            delays.append((parse_iso(due) - clock()).total_seconds())
            clock.now = parse_iso(due)
        # Attempt n waits retry_base * 2^(n-1), capped at retry_max, times a jitter in [0.5, 1].
        bounds = [(5, 10), (10, 20), (20, 40), (40, 80), (50, 100), (50, 100)]
        assert all(low <= d <= high for d, (low, high) in zip(delays, bounds, strict=True)), delays
        store.close()


def test_idempotency_key_is_stable_and_changes_with_the_item_version() -> None:
    key = idempotency_key("shells", 7, 1, "hook")
    assert key == idempotency_key("shells", 7, 1, "hook") and len(key) == 16
    assert len({key, idempotency_key("shells", 7, 2, "hook"), idempotency_key("shells", 8, 1, "hook")}) == 3
    assert key != idempotency_key("shells", 7, 1, "other") != idempotency_key("drones", 7, 1, "hook")


def test_delivery_reports_each_alerts_latency(tmp_path: Path) -> None:
    clock = Clock()
    with receiver() as healthy, receiver(fail=1) as flaky:
        cfg = project(tmp_path, f"notify:\n  - url: {healthy.url}\n  - url: {flaky.url}\n")
        store, dispatcher = ingest(cfg, [Item(source="s", guid="1", content="drones")], clock)
        clock.advance(2)
        assert dispatcher.drain().latencies == [2.0]
        clock.advance(3600)
        later = dispatcher.drain()
        assert later.sent == 1 and later.latencies == [3602.0]
        store.close()
