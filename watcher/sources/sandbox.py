"""Parsing untrusted feed bodies in worker processes with a memory limit and a deadline.

No single feed can hang or bloat the daemon: a worker that runs past the deadline is killed and replaced,
and one that hits the address-space limit fails with MemoryError in its own process.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import resource
from collections.abc import Mapping
from typing import Any

from watcher.errors import ReadError
from watcher.items.model import Item

DEFAULT_MEMORY_LIMIT = 512 * 1024 * 1024
DEFAULT_DEADLINE = 20.0


def _limit_memory(limit: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    new = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (new, hard))


def _parse(data: bytes, source: str, url: str, headers: Mapping[str, str]) -> list[Item]:
    from watcher.sources.parse import parse_body

    return parse_body(data, source=source, url=url, headers=headers)


class ParsePool:
    """A small pool of parser processes. Call `parse`; `close` when done."""

    def __init__(
        self, workers: int = 2, *, memory_limit: int = DEFAULT_MEMORY_LIMIT, deadline: float = DEFAULT_DEADLINE
    ):
        self.workers = workers
        self.memory_limit = memory_limit
        self.deadline = deadline
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: workers start from a clean process, not a fork of a threaded daemon.
            context = multiprocessing.get_context("forkserver")
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_limit_memory, initargs=(self.memory_limit,)
            )
        return self._pool

    def parse(self, data: bytes, *, source: str, url: str, headers: Mapping[str, str]) -> list[Item]:
        """Items of a feed body; ReadError when it is not a feed, too big to parse or too slow."""
        future = self._executor().submit(_parse, data, source, url, dict(headers))
        try:
            return future.result(timeout=self.deadline)
        except concurrent.futures.TimeoutError:
            self._kill()
            raise ReadError(f"{url}: parsing took longer than {self.deadline:g}s") from None
        except MemoryError:
            raise ReadError(f"{url}: parsing needed more than {self.memory_limit // 2**20} MB") from None
        except concurrent.futures.process.BrokenProcessPool:
            self._kill()
            raise ReadError(f"{url}: the parser process died") from None

    def _kill(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes: dict[Any, Any] = getattr(pool, "_processes", None) or {}
        for process in list(processes.values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
