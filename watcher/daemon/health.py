"""/healthz and Prometheus /metrics (prometheus_client's exposition) on an optional address (server.listen),
served from the event loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class Metrics:
    """What the daemon counts, exposed by prometheus_client at each scrape; gauges are read then."""

    counters: Counter[str] = field(default_factory=Counter)
    rule_eval_seconds: float = 0.0
    rule_eval_items: int = 0
    started: float = field(default_factory=time.time)
    healthy: bool = False
    # What makes the daemon unhealthy though it runs (the rules directory gone), by what it concerns.
    problems: dict[str, str] = field(default_factory=dict)
    last_check: float = 0.0
    # Articles of full_text feeds that could not be read, by reason (timeout, http_error, too_short, ...).
    full_text_failures: Counter[str] = field(default_factory=Counter)
    fetch_seconds: Histogram = field(
        default_factory=lambda: Histogram(
            "watcher_fetch_seconds", "Time to fetch one feed (to the last byte).", registry=None, buckets=_SECONDS
        )
    )
    parse_seconds: Histogram = field(
        default_factory=lambda: Histogram(
            "watcher_parse_seconds", "Time to parse one feed in its worker.", registry=None, buckets=_SECONDS
        )
    )

    alert_latency_seconds: Histogram = field(
        default_factory=lambda: Histogram(
            "watcher_alert_latency_seconds",
            "Time from an alert being recorded to its delivery to a target.",
            registry=None,
            buckets=(1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0),
        )
    )

    def set_problem(self, what: str, problem: str | None) -> None:
        """Record (or, with None, clear) a reason for /healthz to answer unhealthy."""
        if problem is None:
            self.problems.pop(what, None)
        else:
            self.problems[what] = problem
            self.healthy = False

    def count_full_text(self, read: int, failed: Mapping[str, int]) -> None:
        """Count a poll's articles: read, and not read by reason."""
        self.counters["full_text_read"] += read
        for reason, count in failed.items():
            self.full_text_failures[reason] += count

    def render(self, gauges: dict[str, float]) -> str:
        """The Prometheus text exposition of every metric, now."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Scrape(self, gauges))
        return generate_latest(registry).decode()


_COUNTERS = (
    ("watcher_polls", "Feed and directory polls.", "polls"),
    ("watcher_poll_failures", "Polls that failed.", "poll_failures"),
    ("watcher_items", "New items stored.", "items"),
    ("watcher_alerts", "Alerts recorded.", "alerts"),
    ("watcher_reloads", "Rule and config reloads applied.", "reloads"),
    ("watcher_reload_failures", "Reloads refused (invalid).", "reload_failures"),
)


class _Scrape(Collector):
    """One scrape's view of the daemon's counters and gauges (a registry of its own: no global state)."""

    def __init__(self, metrics: Metrics, gauges: dict[str, float]):
        self.metrics = metrics
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        for name, help_text, key in _COUNTERS:
            yield CounterMetricFamily(name, help_text, value=m.counters[key])
        deliveries = CounterMetricFamily("watcher_deliveries", "Delivery attempts by result.", labels=["result"])
        for result in ("sent", "failed", "dead"):
            deliveries.add_metric([result], m.counters[f"deliveries_{result}"])
        yield deliveries
        yield CounterMetricFamily(
            "watcher_full_text_read", "Articles of full_text feeds read.", value=m.counters["full_text_read"]
        )
        failures = CounterMetricFamily(
            "watcher_full_text_failures",
            "Articles of full_text feeds not read (the entry keeps its summary), by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(m.full_text_failures.items()):
            failures.add_metric([reason], count)
        yield failures
        yield CounterMetricFamily(
            "watcher_rule_eval_seconds", "Time spent evaluating rules.", value=m.rule_eval_seconds
        )
        yield CounterMetricFamily("watcher_rule_eval_items", "Items evaluated.", value=m.rule_eval_items)
        for name, value in sorted(self.gauges.items()):
            yield GaugeMetricFamily(f"watcher_{name}", name.replace("_", " ").capitalize() + ".", value=value)
        yield GaugeMetricFamily(
            "watcher_up", "1 while the scheduler runs and the database answers.", value=1 if m.healthy else 0
        )
        yield from m.fetch_seconds.collect()
        yield from m.parse_seconds.collect()
        yield from m.alert_latency_seconds.collect()


class HealthServer:
    """A minimal HTTP/1.0 server: GET /healthz and GET /metrics, nothing else.

    Bounded against slow and hostile clients: the request line and headers must arrive within
    `header_deadline` seconds and `max_header_bytes` bytes, and at most `max_connections` are served at once;
    each refusal is one log line.
    """

    def __init__(
        self,
        metrics: Metrics,
        gauges: Callable[[], dict[str, float]],
        *,
        header_deadline: float = 5.0,
        max_connections: int = 64,
        max_header_bytes: int = 8192,
    ):
        self.metrics = metrics
        self.gauges = gauges
        self.header_deadline = header_deadline
        self.max_connections = max_connections
        self.max_header_bytes = max_header_bytes
        self._open = 0
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._handle, host, port, limit=self.max_header_bytes)
        port = self._server.sockets[0].getsockname()[1]
        log.info("health and metrics on http://%s:%d/healthz and /metrics", host, port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer)
        if self._open >= self.max_connections:
            log.warning("health server: refused %s: %d connections already open", peer, self._open)
            writer.close()
            return
        self._open += 1
        try:
            try:
                request = await asyncio.wait_for(self._read_head(reader), timeout=self.header_deadline)
            except TimeoutError:
                log.warning("health server: dropped %s: no complete request within %gs", peer, self.header_deadline)
                return
            except (ValueError, asyncio.LimitOverrunError):
                log.warning("health server: refused %s: request head over %d bytes", peer, self.max_header_bytes)
                writer.write(b"HTTP/1.0 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            status, body, kind = self._answer(request)
            data = body.encode()
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._open -= 1
            writer.close()

    async def _read_head(self, reader: asyncio.StreamReader) -> str:
        """The request line, after reading (and dropping) the headers; ValueError past the size cap."""
        request = await reader.readline()
        size = len(request)
        while True:
            line = await reader.readline()
            size += len(line)
            if size > self.max_header_bytes:
                raise ValueError("request head too large")
            if not line.strip():
                return request.decode("latin-1")

    def _answer(self, request: str) -> tuple[str, str, str]:
        parts = request.split()
        path = parts[1] if len(parts) >= 2 else ""
        if parts[:1] != ["GET"]:
            return "405 Method Not Allowed", "only GET\n", "text/plain"
        if path == "/healthz":
            if self.metrics.healthy:
                return "200 OK", "ok\n", "text/plain"
            reasons = "".join(f"{p}\n" for p in self.metrics.problems.values())
            return "503 Service Unavailable", f"unhealthy\n{reasons}", "text/plain"
        if path == "/metrics":
            return "200 OK", self.metrics.render(self.gauges()), "text/plain; version=0.0.4"
        return "404 Not Found", "not found\n", "text/plain"


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "a client"
