"""Scaling out: one, two and three `watcher run` daemons sharing PostgreSQL, against one daemon on SQLite.

    python benchmarks/scale.py [--feeds 10000] [--interval 60] [--window 60] [--postgres URL]

A server process on 127.0.0.1 serves N RSS feeds, each gaining an entry that matches the rule once per
interval (at a phase of its own), and receives the alerts (Apprise's json://) with the time each arrives.
Each setup runs the daemons on a fresh database: a warm-up until every feed's first poll is stored (its
entries are recorded without being sent), then a measured window. Reported per setup: feeds polled per
second in the window (the server counts the GETs), alert latency from an entry appearing on its feed to its
message arriving, for the messages that arrived in the window (p50, p99), and the peak memory of each daemon
(its parse workers apart).

The interval is chosen short enough that the daemons are saturated: feeds/s is then what they can do, and
latency includes the time a due feed waits for its turn. PostgreSQL: --postgres, else $WATCHER_TEST_POSTGRES;
each setup gets a schema of its own. Without a server, the PostgreSQL setups are skipped and say so.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RULE = "rules:\n  - id: shells\n    title: Shells\n    match: [artillery shells]\n"


def serve(work: Path, feeds: int, interval: float) -> None:
    """The feed server and alert receiver, in a process of its own (it must not share a GIL with the daemons).
    Feed n gains entry k at start + (k + n / feeds) * interval; GETs and arrivals are written to files."""
    start = time.time()
    lock = threading.Lock()
    gets: list[float] = []
    arrivals: list[tuple[float, float]] = []  # (appeared, arrived)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            n = int(self.path.rsplit("/", 1)[-1])
            now = time.time()
            with lock:
                gets.append(now)
            phase = n / feeds * interval
            newest = int((now - start - phase) // interval)
            entries = "".join(
                f"<item><guid>f{n}-{k}</guid><title>Desk {n} report {k} on artillery shells "
                f"@{start + phase + k * interval:.3f}</title><description>Officials said shipments continued."
                "</description></item>"
                for k in range(max(0, newest - 4), newest + 1)
            )
            body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk {n}</title>{entries}</channel></rss>'
            self.answer(body.encode(), "application/rss+xml")

        def answer(self, data: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            arrived = time.time()
            title = str(body.get("title", ""))
            if "@" in title:
                with lock:
                    arrivals.append((float(title.rsplit("@", 1)[1]), arrived))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def dump(*_: object) -> None:
        with lock:
            (work / "gets.json").write_text(json.dumps(gets))
            (work / "arrivals.json").write_text(json.dumps(arrivals))
        (work / "dumped").write_text("1")

    signal.signal(signal.SIGUSR1, dump)
    (work / "port").write_text(str(server.server_address[1]))
    while True:
        time.sleep(3600)


def postgres_url(server: str) -> tuple[str, str]:
    """A fresh schema on the server: (URL selecting it, schema name)."""
    import psycopg

    schema = f"scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in server else "?"
    return f"{server}{sep}options=-csearch_path%3D{schema}", schema


def drop_schema(server: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def first_polls_stored(database: str) -> int:
    """How many feeds have had a poll stored (0 while the daemons are still creating the database)."""
    from watcher.config.database import parse_postgres_url
    from watcher.errors import WatcherError
    from watcher.store.open import open_existing

    where = parse_postgres_url(database) if "://" in database else Path(database)
    try:
        with open_existing(where) as store:  # type: ignore[arg-type]
            return int(store.query("SELECT count(*) AS n FROM feeds WHERE last_success_at IS NOT NULL")[0]["n"])
    except WatcherError:
        return 0


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_setup(work: Path, port: int, database: str, daemons: int, args: argparse.Namespace) -> dict[str, float]:
    feeds = "".join(
        f"  - {{url: 'http://127.0.0.1:{port}/feed/{n}', name: f{n}, interval: {args.interval:g}s}}\n"
        for n in range(args.feeds)
    )
    config = work / f"{uuid.uuid4().hex[:6]}.yaml"
    (work / "rules").mkdir(exist_ok=True)
    (work / "rules" / "r.yaml").write_text(RULE)
    config.write_text(
        f"database: '{database}'\nrules: rules\nseeds: []\nfeeds:\n{feeds}"
        f"notify:\n  - {{url: 'json://127.0.0.1:{port}/hook', name: hook}}\n"
        # One loopback host stands for the many hosts of real feeds: no per-host limits.
        "http: {allow_private_addresses: true, per_host_gap: 0, per_host: 64, timeout: 20s}\n"
        "delivery: {flood_threshold: 100000}\n"
        "daemon: {deliver_interval: 1s, grace_period: 10s}\n"
    )
    (args.logs or work).mkdir(parents=True, exist_ok=True)
    logs = [(args.logs or work) / f"daemon-{config.stem}-{n}.log" for n in range(daemons)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "watcher", "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
            cwd=work,
        )
        for log in logs
    ]
    try:
        # Warm-up: every feed's first poll stored (its entries recorded, not sent), however long that takes.
        deadline = time.monotonic() + args.warmup
        while first_polls_stored(database) < args.feeds:
            if time.monotonic() > deadline:
                raise SystemExit(f"{database}: not every feed was polled within {args.warmup:g}s of warm-up")
            time.sleep(2)
        window_start = time.time()
        time.sleep(args.window)
        window_end = time.time()
        (work / "dumped").unlink(missing_ok=True)
        server_pid = int((work / "server.pid").read_text())
        os.kill(server_pid, signal.SIGUSR1)
        while not (work / "dumped").exists():
            time.sleep(0.05)
        memory = [peak_mb(p.pid) for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    gets = [t for t in json.loads((work / "gets.json").read_text()) if window_start <= t < window_end]
    # Every alert that arrived in the window, from its entry's appearance: under saturation, what a user waits.
    latencies = sorted(
        arrived - appeared
        for appeared, arrived in json.loads((work / "arrivals.json").read_text())
        if window_start <= arrived < window_end
    )
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
    return {
        "feeds_per_s": len(gets) / (window_end - window_start),
        "p50": quantiles[49],
        "p99": quantiles[98],
        "alerts": len(latencies),
        "memory_mb": max(memory) if memory else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=10000)
    parser.add_argument("--interval", type=float, default=60.0, help="each feed's poll interval, seconds")
    parser.add_argument("--window", type=float, default=60.0, help="the measured window after warm-up, seconds")
    parser.add_argument("--logs", type=Path, help="keep each daemon's log in this directory")
    parser.add_argument("--warmup", type=float, default=1800.0, help="at most this long for every first poll")
    parser.add_argument("--postgres", default=os.environ.get("WATCHER_TEST_POSTGRES"), help="postgresql:// URL")
    parser.add_argument(
        "--setups", default="sqlite:1,postgresql:1,postgresql:2,postgresql:3", help="database:daemons, ..."
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to show the benchmark still runs (CI)")
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), float(args.serve[2]))
        return
    if args.smoke:
        args.feeds, args.interval, args.window, args.setups = 30, 4.0, 4.0, "sqlite:1,postgresql:2"
    setups = [(kind, int(n)) for kind, _, n in (s.partition(":") for s in args.setups.split(","))]
    results: list[tuple[str, dict[str, float] | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = subprocess.Popen([sys.executable, __file__, "--serve", tmp, str(args.feeds), str(args.interval)])
        (work / "server.pid").write_text(str(server.pid))
        try:
            while not (work / "port").exists() or not (work / "port").read_text():
                time.sleep(0.05)
            port = int((work / "port").read_text())
            for kind, daemons in setups:
                label = f"{daemons} daemon{'s' if daemons > 1 else ''} on {kind}"
                if kind == "sqlite":
                    results.append((label, run_setup(work, port, str(work / f"w{daemons}.db"), daemons, args)))
                    continue
                if not args.postgres:
                    results.append((label + " (skipped: no --postgres or $WATCHER_TEST_POSTGRES)", None))
                    continue
                url, schema = postgres_url(args.postgres)
                try:
                    results.append((label, run_setup(work, port, url, daemons, args)))
                finally:
                    drop_schema(args.postgres, schema)
        finally:
            server.kill()
            server.wait()
    print(f"{args.feeds} feeds on loopback, each polled every {args.interval:g}s; measured over {args.window:g}s")
    print(f"{'setup':<26} {'feeds/s':>8} {'vs sqlite':>9} {'alerts':>7} {'p50 s':>7} {'p99 s':>7} {'peak MB':>8}")
    base = results[0][1]["feeds_per_s"] if results[0][1] and setups[0] == ("sqlite", 1) else 0.0
    for label, r in results:
        if r is None:
            print(label)
            continue
        ratio = f"{r['feeds_per_s'] / base:>8.2f}x" if base else f"{'-':>9}"  # no SQLite setup to compare with
        print(
            f"{label:<26} {r['feeds_per_s']:>8.0f} {ratio} {r['alerts']:>7.0f} {r['p50']:>7.1f} "
            f"{r['p99']:>7.1f} {r['memory_mb']:>8.0f}"
        )


if __name__ == "__main__":
    main()
