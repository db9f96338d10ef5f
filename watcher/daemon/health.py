"""/healthz and Prometheus /metrics on an optional address (server.listen), served from the event loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Metrics:
    """Counters the daemon updates; gauges are read when scraped."""

    counters: Counter[str] = field(default_factory=Counter)
    rule_eval_seconds: float = 0.0
    rule_eval_items: int = 0
    started: float = field(default_factory=time.time)
    healthy: bool = False
    last_check: float = 0.0

    def render(self, gauges: dict[str, float]) -> str:
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, value: float, labels: str = "") -> None:
            if not any(line.startswith(f"# HELP {name} ") for line in lines):
                lines.append(f"# HELP {name} {help_text}")
                lines.append(f"# TYPE {name} {kind}")
            lines.append(f"{name}{labels} {value:g}")

        c = self.counters
        metric("watcher_polls_total", "counter", "Feed and directory polls.", c["polls"])
        metric("watcher_poll_failures_total", "counter", "Polls that failed.", c["poll_failures"])
        metric("watcher_items_total", "counter", "New items stored.", c["items"])
        metric("watcher_alerts_total", "counter", "Alerts recorded.", c["alerts"])
        for result in ("sent", "failed", "dead"):
            metric(
                "watcher_deliveries_total",
                "counter",
                "Delivery attempts by result.",
                c[f"deliveries_{result}"],
                f'{{result="{result}"}}',
            )
        metric("watcher_reloads_total", "counter", "Rule and config reloads applied.", c["reloads"])
        metric("watcher_reload_failures_total", "counter", "Reloads refused (invalid).", c["reload_failures"])
        metric("watcher_rule_eval_seconds_total", "counter", "Time spent evaluating rules.", self.rule_eval_seconds)
        metric("watcher_rule_eval_items_total", "counter", "Items evaluated.", self.rule_eval_items)
        for name, value in sorted(gauges.items()):
            metric(f"watcher_{name}", "gauge", name.replace("_", " ").capitalize() + ".", value)
        metric("watcher_up", "gauge", "1 while the scheduler runs and the database answers.", 1 if self.healthy else 0)
        return "\n".join(lines) + "\n"


class HealthServer:
    """A minimal HTTP/1.0 server: GET /healthz and GET /metrics, nothing else."""

    def __init__(self, metrics: Metrics, gauges: Callable[[], dict[str, float]]):
        self.metrics = metrics
        self.gauges = gauges
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._handle, host, port)
        log.info("health and metrics on http://%s:%d/healthz and /metrics", host, port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)).strip():
                pass
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else ""
            if parts[:1] != ["GET"]:
                status, body, kind = "405 Method Not Allowed", "only GET\n", "text/plain"
            elif path == "/healthz":
                ok = self.metrics.healthy
                status, body, kind = (
                    ("200 OK", "ok\n", "text/plain") if ok else ("503 Service Unavailable", "unhealthy\n", "text/plain")
                )
            elif path == "/metrics":
                status, body, kind = "200 OK", self.metrics.render(self.gauges()), "text/plain; version=0.0.4"
            else:
                status, body, kind = "404 Not Found", "not found\n", "text/plain"
            data = body.encode()
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
