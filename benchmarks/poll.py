"""`watcher poll --once` over many feeds served on loopback, against a naive poller measured in the same run.

    python benchmarks/poll.py [--feeds 2000] [--items 10] [--full-text-feeds 500]

A server process on 127.0.0.1 serves N RSS feeds (with ETags, answering 304 to a matching If-None-Match).
Measured, each in a fresh process: one `watcher poll --once` cycle with fresh bodies, one with 304s
(feeds/s, peak RSS), and the baseline: one sequential loop of httpx GET + feedparser.parse per feed (what a
simple poller does, storing nothing). Target: 2,000 feeds in under 60 s on the 2-core machine.

Then the cost of `full_text`: M summary-only feeds whose links lead to article pages on the same server,
polled once reading only the summaries and once reading every article (items/s and peak RSS of each).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def serve(port_file: Path, items: int) -> None:
    """The feed server (run in its own process so it does not share a GIL with what it measures)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            if self.path.startswith(("/teaser/", "/article/")):
                self.full_text_site()
                return
            n = self.path.rsplit("/", 1)[-1]
            etag = f'"feed-{n}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            entries = "".join(
                f"<item><guid>feed{n}-{i}</guid><title>Report {i} from desk {n}</title><link>https://example.org/{n}/{i}"
                f"</link><description>Officials said on Monday that talks would continue. Item {i} of feed {n}; "
                f"{'Pyongyang shipped artillery shells to Russia for use in Ukraine.' if i == 0 else 'Nothing else.'}"
                "</description></item>"
                for i in range(items)
            )
            body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk {n}</title>{entries}</channel></rss>'
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def full_text_site(self) -> None:
            """A summary-only feed (/teaser/N) whose links lead to article pages (/article/N/I) with the
            navigation, related links, comments and scripts that real pages wrap around their text."""
            parts = self.path.strip("/").split("/")
            port = self.server.server_address[1]
            if parts[0] == "teaser":
                n = parts[1]
                entries = "".join(
                    f"<item><guid>t{n}-{i}</guid><title>Report {i} from desk {n}</title>"
                    f"<link>http://127.0.0.1:{port}/article/{n}/{i}</link>"
                    "<description>Officials said on Monday that talks would continue...</description></item>"
                    for i in range(items)
                )
                body = (
                    f'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk {n}</title>{entries}</channel></rss>'
                )
                kind = "application/rss+xml"
            else:
                n, i = parts[1], parts[2]
                news = "after Pyongyang shipped artillery shells to Russia for use in Ukraine"
                paragraphs = "".join(
                    f"<p>Paragraph {p} of report {i} from desk {n}: officials said the talks would continue "
                    f"{news if p == 3 else 'next week'}"
                    ", according to people familiar with the matter, who asked not to be named.</p>"
                    for p in range(8)
                )
                body = (
                    f"<!DOCTYPE html><html><head><title>Report {i}</title><script>var t = 1;</script></head><body>"
                    "<nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/sport'>Sport</a></nav>"
                    f"<main><article><h1>Report {i} from desk {n}</h1>{paragraphs}</article>"
                    "<aside><h2>Related</h2><ul><li><a href='/r'>Markets close higher</a></li></ul></aside>"
                    "<section id='comments'><p>First comment: great reporting as always.</p></section></main>"
                    "<footer>Copyright 2026 The Daily Example</footer></body></html>"
                )
                kind = "text/html; charset=utf-8"
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


def naive(port: int, feeds: int) -> None:
    import feedparser
    import httpx

    with httpx.Client() as client:
        for n in range(feeds):
            feedparser.parse(client.get(f"http://127.0.0.1:{port}/feed/{n}").content)


def run_child(args: list[str]) -> tuple[float, float]:
    """(seconds, peak MB of the largest process in its tree): run through a fresh wrapper, whose own
    RUSAGE_CHILDREN then speaks of this run only."""
    out = subprocess.run([sys.executable, __file__, "--measure", *args], check=True, capture_output=True, text=True)
    seconds, peak_kb = out.stdout.split()[-2:]
    return float(seconds), float(peak_kb) / 1024


def measure(args: list[str]) -> None:
    started = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--full-text-feeds", type=int, default=500, help="summary-only feeds for the full-text run")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to show the benchmark still runs (CI)")
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--naive", nargs=2, type=int, help=argparse.SUPPRESS)
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        measure(sys.argv[2:])
        return
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]))
        return
    if args.naive:
        naive(*args.naive)
        return
    if args.smoke:
        args.feeds, args.items, args.full_text_feeds = 20, 3, 4
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port_file = work / "port"
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file), str(args.items)])
        try:
            while not port_file.exists() or not port_file.read_text():
                time.sleep(0.05)
            port = int(port_file.read_text())
            feeds = "".join(
                f"  - {{url: 'http://127.0.0.1:{port}/feed/{n}', name: feed{n}, interval: 15m}}\n"
                for n in range(args.feeds)
            )
            # One loopback host stands for the many hosts of real feeds: no gap between its requests.
            http = "http: {allow_private_addresses: true, per_host_gap: 0}\n"
            config = work / "watcher.yaml"
            config.write_text(f"database: w.db\nrules: {ROOT / 'rules'}\nseeds: []\n{http}feeds:\n{feeds}")
            poll = [sys.executable, "-m", "watcher", "poll", "--once", "--config", str(config)]
            fresh = run_child(poll)
            cached = run_child(poll)
            base = run_child([sys.executable, __file__, "--naive", str(port), str(args.feeds)])
            teasers = "".join(
                f"  - {{url: 'http://127.0.0.1:{port}/teaser/{n}', name: teaser{n}, interval: 15m}}\n"
                for n in range(args.full_text_feeds)
            )
            summary_only, full_text = work / "summary.yaml", work / "full.yaml"
            for path, mode in ((summary_only, "false"), (full_text, "true")):
                # per_host 8: the articles of real feeds are on many hosts; here all are on one.
                path.write_text(
                    f"database: {path.stem}.db\nrules: {ROOT / 'rules'}\nseeds: []\nfull_text: {mode}\n"
                    f"http: {{allow_private_addresses: true, per_host_gap: 0, per_host: 8}}\nfeeds:\n{teasers}"
                )
            summaries = run_child([*poll[:-1], str(summary_only)])
            articles = run_child([*poll[:-1], str(full_text)])
        finally:
            server.kill()
            server.wait()
    rows = [("poll --once, fresh bodies", fresh), ("poll --once, all 304", cached), ("naive GET+parse, no store", base)]
    print(f"{args.feeds} feeds x {args.items} items on loopback")
    print(f"{'run':<28} {'seconds':>8} {'feeds/s':>8} {'peak MB':>8} {'vs naive':>9}")
    for label, (seconds, peak) in rows:
        print(f"{label:<28} {seconds:>8.1f} {args.feeds / seconds:>8.0f} {peak:>8.0f} {base[0] / seconds:>8.1f}x")
    entries = args.full_text_feeds * args.items
    print(f"\n{args.full_text_feeds} summary-only feeds x {args.items} items, the articles on loopback")
    print(f"{'run':<28} {'seconds':>8} {'items/s':>8} {'peak MB':>8} {'vs summary':>10}")
    for label, (seconds, peak) in (("summaries only", summaries), ("full_text: true", articles)):
        print(f"{label:<28} {seconds:>8.1f} {entries / seconds:>8.0f} {peak:>8.0f} {summaries[0] / seconds:>9.2f}x")
    print(
        json.dumps(
            {
                "fresh_s": round(fresh[0], 1),
                "cached_s": round(cached[0], 1),
                "naive_s": round(base[0], 1),
                "summary_only_s": round(summaries[0], 1),
                "full_text_s": round(articles[0], 1),
                "full_text_peak_mb": round(articles[1]),
            }
        )
    )


if __name__ == "__main__":
    main()
