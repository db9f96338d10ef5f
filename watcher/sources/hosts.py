"""Politeness per host, shared by every request to it (feeds and the articles they link to).

At most `per_host` requests to one host at a time, at least `gap` seconds between the starts of two of
them, and none at all while the host has asked to be left alone (a 429 or 503 with Retry-After).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from watcher.errors import HostWaiting

# However long a host asks for, a request to it is tried again after at most this long.
MAX_HOST_WAIT = 6 * 3600.0


@dataclass
class _Host:
    slots: threading.BoundedSemaphore
    next_start: float = 0.0
    quiet_until: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class HostGate:
    """Thread-safe. `with gate.slot(url):` around each request; `gate.retry_after(url, s)` when told to wait."""

    def __init__(
        self,
        per_host: int = 2,
        gap: float = 0.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.per_host = max(1, per_host)
        self.gap = max(0.0, gap)
        self.clock = clock
        self.sleep = sleep
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()

    def _host(self, url: str) -> tuple[str, _Host]:
        name = (urlsplit(url).hostname or "").lower()
        with self._lock:
            host = self._hosts.get(name)
            if host is None:
                host = self._hosts[name] = _Host(threading.BoundedSemaphore(self.per_host))
            return name, host

    @contextmanager
    def slot(self, url: str) -> Iterator[None]:
        """Wait for a free slot and the gap; HostWaiting when the host asked to be left alone for now."""
        name, host = self._host(url)
        self._refuse_while_quiet(url, name, host)
        with host.slots:
            self._refuse_while_quiet(url, name, host)
            with host.lock:
                now = self.clock()
                start = max(now, host.next_start)
                host.next_start = start + self.gap
            if start > now:
                self.sleep(start - now)
            yield

    def _refuse_while_quiet(self, url: str, name: str, host: _Host) -> None:
        left = host.quiet_until - self.clock()
        if left > 0:
            raise HostWaiting(f"{url}: not fetched: {name} asked to wait {left:.0f}s more (Retry-After)", left)

    def retry_after(self, url: str, seconds: float) -> None:
        """The host answered 429/503 with Retry-After: no request to it for `seconds` (capped)."""
        _, host = self._host(url)
        with host.lock:
            host.quiet_until = max(host.quiet_until, self.clock() + min(max(seconds, 0.0), MAX_HOST_WAIT))
