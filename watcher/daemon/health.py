"""/healthz and Prometheus /metrics (prometheus_client's exposition) on an optional address (server.listen),
served from the event loop."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from watcher.web.server import Handler, HttpServer, Request, Response

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

    def count_poll(self, eval_seconds: float, evaluated: int, new: int, alerts: int, *, ok: bool) -> None:
        self.rule_eval_seconds += eval_seconds
        self.rule_eval_items += evaluated
        self.counters["items"] += new
        self.counters["alerts"] += alerts
        if not ok:
            self.counters["poll_failures"] += 1

    def count_delivery(self, sent: int, failed: int, dead: int, latencies: Sequence[float]) -> None:
        self.counters["deliveries_sent"] += sent
        self.counters["deliveries_failed"] += failed
        self.counters["deliveries_dead"] += dead
        for seconds in latencies:
            self.alert_latency_seconds.observe(seconds)

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
    (
        "watcher_polls_skipped",
        "Scheduled polls skipped because the source's previous poll was still running (more than the daemon "
        "keeps up with).",
        "polls_skipped",
    ),
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
    """GET /healthz and GET /metrics on the event loop; every other request goes to `pages` (the dashboard),
    when there is one, else 404. Bounded against slow and hostile clients (`watcher.web.server`)."""

    def __init__(
        self,
        metrics: Metrics,
        gauges: Callable[[], dict[str, float]],
        *,
        pages: Handler | None = None,
        header_deadline: float = 5.0,
        max_connections: int = 64,
        max_header_bytes: int = 8192,
    ):
        self.metrics = metrics
        self.gauges = gauges
        self.pages = pages
        self.server = HttpServer(
            self._answer,
            name="health server",
            header_deadline=header_deadline,
            max_connections=max_connections,
            max_header_bytes=max_header_bytes,
        )

    async def start(self, host: str, port: int) -> None:
        port = await self.server.start(host, port)
        log.info("health and metrics on http://%s:%d/healthz and /metrics", host, port)
        if self.pages is not None:
            log.info("dashboard on http://%s:%d/", host, port)

    async def stop(self) -> None:
        await self.server.stop()

    async def _answer(self, request: Request) -> Response:
        if request.path == "/healthz" and request.method == "GET":
            if self.metrics.healthy:
                return Response(200, "ok\n")
            reasons = "".join(f"{p}\n" for p in self.metrics.problems.values())
            return Response(503, f"unhealthy\n{reasons}")
        if request.path == "/metrics" and request.method == "GET":
            return Response(200, self.metrics.render(self.gauges()), "text/plain; version=0.0.4")
        if self.pages is not None:
            return await self.pages(request)
        if request.method != "GET":
            return Response(405, "only GET\n")
        return Response(404, "not found\n")
