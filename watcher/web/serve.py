"""`watcher serve`: the dashboard alone, over a database with or without a daemon."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from watcher.config import Config
from watcher.config.http import is_loopback
from watcher.errors import NotFound, WatcherError
from watcher.rules.load import load_rules
from watcher.rules.model import RuleSet
from watcher.store.open import exists, open_readonly
from watcher.web.app import Dashboard
from watcher.web.server import HttpServer, Request, Response

log = logging.getLogger(__name__)
DEFAULT_LISTEN = ("127.0.0.1", 8080)


class UnsafeListen(WatcherError):
    """A non-loopback address without a token."""

    exit_code = 2


class RulesOnDisk:
    """The rule set in a directory, loaded again when one of its files changes."""

    def __init__(self, path: Path):
        self.path = path
        self._seen: tuple[tuple[str, float], ...] | None = None
        self._ruleset = RuleSet()

    def __call__(self) -> RuleSet:
        files = sorted(self.path.rglob("*.y*ml")) if self.path.is_dir() else [self.path]
        seen = tuple((str(f), f.stat().st_mtime) for f in files if f.exists())
        if seen != self._seen:
            self._ruleset = load_rules(self.path)
            self._seen = seen
        return self._ruleset


def listen_address(config: Config, listen: tuple[str, int] | None) -> tuple[str, int]:
    """Where `serve` listens: --listen, else server.listen, else 127.0.0.1:8080; refused off loopback
    without a token."""
    host, port = listen or config.daemon.listen or DEFAULT_LISTEN
    if not is_loopback(host) and not config.daemon.token:
        raise UnsafeListen(
            f"{host}:{port} is not a loopback address: the dashboard there wants a token "
            "(server.token in watcher.yaml, from ${VAR} or ${credential:NAME})"
        )
    return host, port


async def serve(config: Config, host: str, port: int, *, ready: asyncio.Event | None = None) -> None:
    """Serve the dashboard (and /healthz) until SIGINT or SIGTERM."""
    if not exists(config.database):
        raise NotFound(f"{config.database}: no database here (run `watcher backfill` or `watcher run` first)")
    open_readonly(config.database).close()  # a foreign or unreadable file is refused now, not per page
    dashboard = Dashboard(config.database, RulesOnDisk(config.rules), token=config.daemon.token)

    async def answer(request: Request) -> Response:
        if request.path == "/healthz":
            return Response(200, "ok\n")
        return await dashboard(request)

    server = HttpServer(answer, name="dashboard")
    bound = await server.start(host, port)
    shown = f"[{host}]" if ":" in host else host
    log.info("dashboard on http://%s:%d/ (read-only; Ctrl-C stops)", shown, bound)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        await server.stop()
        await loop.run_in_executor(None, dashboard.close)
