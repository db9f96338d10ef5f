"""The dashboard's pages on a large database, and `rules backtest` over it, against baselines in the same run.

    python benchmarks/dashboard.py [--items 100000] [--alerts 10000] [--backtest 20000]

Builds a database through the store's own migrations, filled in bulk: N items from 200 sources over 60 days,
M alerts of 40 rules with evidence and a delivery each, stories. Then times each page (median of 7 requests,
through the dashboard's handler: queries and rendering, no socket), against the same page on an empty
database. Target: every page under 200 ms at 100,000 items and 10,000 alerts.

Then `rules backtest` with the example rules (rules/) over the first K items, against the engine alone
matching the same items already in memory. Target: at least 3,000 items/s.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watcher.backtest import backtest  # noqa: E402
from watcher.items.model import Item  # noqa: E402
from watcher.rules.engine import Engine  # noqa: E402
from watcher.rules.load import load_rules  # noqa: E402
from watcher.store.sqlite import Store  # noqa: E402
from watcher.web.app import Dashboard  # noqa: E402
from watcher.web.server import Request  # noqa: E402

WORDS = (
    "officials said the talks would continue next week while the ministry denied any shipment of artillery shells "
    "to Russia troops were seen near the border Pyongyang Kyiv Moscow sanctions port rail convoy grain harvest"
).split()


def fill(path: Path, items: int, alerts: int, rng: random.Random) -> None:
    store = Store.open(path)
    now = datetime.now(UTC)
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO sources (id, name, kind, created_at) VALUES (?, ?, 'feed', ?)",
            [(i, f"feed-{i}", now.isoformat()) for i in range(1, 201)],
        )
        conn.executemany(
            "INSERT INTO feeds (name, kind, url, interval, created_at, last_success_at, items_seen) "
            "VALUES (?, 'feed', ?, 900, ?, ?, ?)",
            [
                (f"feed-{i}", f"https://example.org/{i}.rss", now.isoformat(), now.isoformat(), items // 200)
                for i in range(1, 201)
            ],
        )
        rows = []
        for i in range(1, items + 1):
            seen = (now - timedelta(seconds=rng.uniform(0, 60 * 86400))).isoformat(timespec="seconds")
            body = " ".join(rng.choices(WORDS, k=120))
            rows.append((i, 1 + i % 200, f"k{i}", f"Report {i} on the talks", body, f"h{i}", seen, seen, 1 + i // 3))
        conn.executemany(
            "INSERT INTO items (id, source_id, key, title, content, text_hash, first_seen, updated_at, story_id, "
            "version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            rows,
        )
        evidence = json.dumps(
            [
                {
                    "condition": "a",
                    "matched": "artillery shells",
                    "field": "content",
                    "start": 10,
                    "end": 26,
                    "snippet": "the ministry denied any shipment of artillery shells to Russia",
                }
            ]
        )
        alert_rows, outbox = [], []
        for a, item in enumerate(rng.sample(range(1, items + 1), alerts), start=1):
            created = (now - timedelta(seconds=rng.uniform(0, 45 * 86400))).isoformat(timespec="seconds")
            alert_rows.append((a, f"rule-{a % 40}", item, "high", f"Rule {a % 40}", "[]", evidence, "pending", created))
            outbox.append((a, "hook", f"k{a}", rng.choice(["sent", "sent", "dead", "pending"]), created, created))
        conn.executemany(
            "INSERT OR IGNORE INTO alerts (id, rule_id, item_id, severity, rule_title, notify_tags, evidence, state, "
            "created_at, item_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            alert_rows,
        )
        conn.executemany(
            "INSERT INTO outbox (alert_id, target, idempotency_key, state, next_attempt_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            outbox,
        )
    store.close()


PAGES = ["/", "/?rule=rule-7", "/?state=failed", "/?severity=high&since=7d&page=3", "/rules", "/feeds", "/items/4242"]


def time_pages(db: Path, ruleset: object) -> dict[str, float]:
    dashboard = Dashboard(db, lambda: ruleset)  # type: ignore[arg-type, return-value]
    out = {}
    try:
        for page in PAGES:
            path, _, query = page.partition("?")
            params = dict(p.split("=") for p in query.split("&")) if query else {}
            samples = []
            for _ in range(7):
                started = time.perf_counter()
                response = dashboard.handle(Request("GET", path, params))
                samples.append(time.perf_counter() - started)
                assert response.status in (200, 404), (page, response.status)
            out[page] = statistics.median(samples) * 1000
    finally:
        dashboard.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--backtest", type=int, default=20_000)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to show the benchmark still runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.items, args.alerts, args.backtest = 2_000, 200, 500
    rng = random.Random(7)
    ruleset = load_rules(ROOT / "rules")
    with tempfile.TemporaryDirectory() as tmp:
        big, empty = Path(tmp) / "big.db", Path(tmp) / "empty.db"
        started = time.perf_counter()
        fill(big, args.items, args.alerts, rng)
        built = time.perf_counter() - started
        Store.open(empty).close()
        # Rules page: the examples are checked once per rule set; the first request pays for it, not these.
        loaded = time_pages(big, ruleset)
        baseline = time_pages(empty, ruleset)
        print(f"{args.items:,} items, {args.alerts:,} alerts (built in {built:.1f}s); median of 7 requests")
        print(f"{'page':<34} {'ms':>8} {'empty db':>9} {'ratio':>7}")
        for page in PAGES:
            ratio = loaded[page] / max(baseline[page], 0.01)
            print(f"{page:<34} {loaded[page]:>8.1f} {baseline[page]:>9.1f} {ratio:>6.1f}x")
        worst = max(loaded.values())
        print(f"slowest page: {worst:.0f} ms (target: under 200 ms)")

        # Backtest against the engine alone on the same items, in memory.
        store = Store.open(big)
        rows = store.query("SELECT title, content FROM items ORDER BY id LIMIT ?", (args.backtest,))
        engine = Engine(ruleset)
        items = [Item("feed", title=r["title"], content=r["content"]) for r in rows]
        started = time.perf_counter()
        for item in items:
            engine.match(item)
        alone = len(items) / (time.perf_counter() - started)
        limit = store.query(
            "SELECT first_seen FROM items ORDER BY first_seen DESC LIMIT 1 OFFSET ?", (args.backtest - 1,)
        )
        since = limit[0]["first_seen"] if limit else None
        result = backtest(store, ruleset, since=since)
        store.close()
        print(
            f"\nrules backtest, example rules, {result.items:,} items: {result.rate:,.0f} items/s; "
            f"the engine alone on them in memory: {alone:,.0f} items/s ({result.rate / alone:.2f}x); target 3,000"
        )
        print(json.dumps({"slowest_page_ms": round(worst, 1), "backtest_items_per_s": round(result.rate)}))


if __name__ == "__main__":
    main()
