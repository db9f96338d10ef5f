"""End-to-end backfill throughput and peak memory, against a naive baseline measured in the same run.

    python benchmarks/backfill.py [--sizes 10000,100000] [--repeat 3]

For each size: generate that many news-like documents (.txt, ~1.5 KB) in a temporary directory, then in a
fresh process each: `watcher backfill` through the library with the example rules (documents/s end to end,
peak RSS), with stories on (the default) and off, and the baseline (the same items inserted row by row with
an FTS5 trigger: what the obvious schema does). Peak memory should stay flat as the corpus grows.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = """the a of to in and said on for with officials government report new week year people after talks
minister country statement told would could also security meeting border trade plan agreement region forces
spokesman president military economic support according deal foreign city capital press agency local""".split()
TOPICS = [
    "North Korea",
    "Pyongyang",
    "Ukraine",
    "Kyiv",
    "Russia",
    "Moscow",
    "Seoul",
    "South Korea",
    "weapons",
    "artillery shells",
    "troops",
    "deployed",
    "sanctions",
    "ship-to-ship transfers",
    "WHO",
    "outbreak",
]


def generate(root: Path, n: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    root.mkdir(parents=True)
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(220)]
        for _ in range(rng.randint(0, 6)):
            words.insert(rng.randrange(len(words)), rng.choice(TOPICS))
        title = " ".join(rng.choice(WORDS + TOPICS) for _ in range(7)).capitalize()
        sub = root / f"{i // 1000:03d}"
        sub.mkdir(exist_ok=True)
        (sub / f"{i:06d}.txt").write_text(f"{title}\n\n{' '.join(words)} (doc {i}).\n")


def run_watcher(corpus: Path, work: Path, *, stories: bool = True) -> dict[str, float]:
    from watcher.backfill import BackfillOptions, backfill
    from watcher.config import Config, SeedDir, Stories

    config = Config(
        path=None,
        database=work / f"w-{stories}.db",
        rules=ROOT / "rules",
        seeds=(SeedDir(corpus, "bench"),),
        stories=Stories(enabled=stories),
    )
    t0 = time.perf_counter()
    stats = backfill(config, BackfillOptions([corpus])).stats
    elapsed = time.perf_counter() - t0
    return {"docs": stats.new, "seconds": elapsed, "alerts": stats.alerts}


def run_baseline(corpus: Path, work: Path) -> dict[str, float]:
    from watcher.sources.read import Item, read_paths

    conn = sqlite3.connect(work / "naive.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, key TEXT UNIQUE, title TEXT, content TEXT)")
    conn.execute("CREATE VIRTUAL TABLE items_fts USING fts5(title, content, content='items', content_rowid='id')")
    conn.execute(
        "CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN "
        "INSERT INTO items_fts (rowid, title, content) VALUES (new.id, new.title, new.content); END"
    )
    t0 = time.perf_counter()
    n = 0
    for item in read_paths([corpus]):
        if isinstance(item, Item):
            # One transaction per item, as a naive poller stores each entry as it sees it.
            conn.execute(
                "INSERT INTO items (key, title, content) VALUES (?, ?, ?)", (item.path, item.title, item.content)
            )
            n += 1
    return {"docs": n, "seconds": time.perf_counter() - t0, "alerts": 0}


def child(kind: str, corpus: Path, work: Path) -> None:
    stories = kind == "watcher"
    result = run_baseline(corpus, work) if kind == "baseline" else run_watcher(corpus, work, stories=stories)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(kind: str, corpus: Path, work: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(corpus), str(work)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run of median time (its own peak memory and counts with it)."""
    return sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each kind, alternated; the median is shown")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to show the benchmark still runs (CI)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.sizes = "200"
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    print(
        f"{'docs':>7} {'stories':>8} {'watcher docs/s':>15} {'peak MB':>8} {'alerts':>7} {'baseline docs/s':>16} "
        f"{'peak MB':>8} {'ratio':>6} {'vs off':>7}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "corpus"
            generate(corpus, size)
            kinds = ("watcher-nostories", "watcher", "baseline")
            # Alternated, so that a slow spell of the machine (its disk, mostly) falls on every kind alike.
            measured = [
                {kind: measure(kind, corpus, Path(tempfile.mkdtemp(dir=tmp))) for kind in kinds}
                for _ in range(max(1, args.repeat))
            ]
            runs = {kind: median([m[kind] for m in measured]) for kind in kinds}
        base = runs["baseline"]
        if any(run["docs"] != size for run in runs.values()):
            raise SystemExit(f"stored {[r['docs'] for r in runs.values()]} of {size} documents: the runs are broken")
        base_rate = base["docs"] / base["seconds"]
        off_rate = runs["watcher-nostories"]["docs"] / runs["watcher-nostories"]["seconds"]
        for kind, label in (("watcher-nostories", "off"), ("watcher", "on")):
            ours = runs[kind]
            rate = ours["docs"] / ours["seconds"]
            print(
                f"{size:>7} {label:>8} {rate:>15.0f} {ours['peak_mb']:>8.0f} {ours['alerts']:>7.0f} "
                f"{base_rate:>16.0f} {base['peak_mb']:>8.0f} {rate / base_rate:>5.1f}x {rate / off_rate:>6.2f}x"
            )


if __name__ == "__main__":
    main()
