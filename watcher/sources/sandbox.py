"""Parsing untrusted bytes (feed bodies and document files) in worker processes with a memory limit and a deadline.

No single input can hang or bloat the daemon: each call runs in a worker process of its own for its
duration, and the deadline starts when that worker starts on it (time spent waiting for a free worker does
not count). A worker that runs past the deadline is killed alone and replaced; one that hits its
address-space limit fails with MemoryError in its own process. Every failure of an input, whatever raised it
in the worker (RecursionError on a JSON document nested 100,000 deep, say), comes back as one ReadError
naming it; the other inputs go on. Workers ignore SIGINT: Ctrl-C is the parent's to handle, and the parent
shuts them down.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import resource
import signal
import threading
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from watcher.errors import ReadError
from watcher.items.model import TEXT_FIELDS, Item
from watcher.sources.documents import PLAIN_TEXT, read_document

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_MEMORY_LIMIT = 512 * 1024 * 1024
DEFAULT_DEADLINE = 20.0
# An item's text fields are cut to this many characters each: a 50 MB entry costs the engine ~20x its size.
DEFAULT_MAX_ITEM_CHARS = 1_000_000
_JOIN_SECONDS = 2.0


class _Notes(logging.Handler):
    """What the parsers log in a worker, carried back with the answer for the parent to log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _serve(conn: Connection, memory_limit: int) -> None:
    """A worker's loop: run each (function, args) sent, answer with ("ok", value) or (kind, message)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    notes = _Notes()
    logger = logging.getLogger("watcher")
    logger.addHandler(notes)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(
        resource.RLIMIT_AS, (memory_limit if hard == resource.RLIM_INFINITY else min(memory_limit, hard), hard)
    )
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        function, args = task
        notes.lines.clear()
        try:
            answer: tuple[str, Any] = ("ok", (*function(*args), list(notes.lines)))
        except MemoryError:
            answer = ("memory", "")
        except ReadError as e:
            answer = ("error", str(e))
        except RecursionError:
            answer = ("error", "nested too deeply to parse")
        except Exception as e:  # noqa: BLE001 - any failure of one input is that input's failure
            answer = ("error", f"cannot parse: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
        try:
            conn.send(answer)
        except MemoryError:
            conn.send(("memory", ""))


def _parse_feed(
    data: bytes, source: str, url: str, headers: Mapping[str, str], max_chars: int
) -> tuple[list[Item], int]:
    from watcher.sources.parse import parse_body

    return _capped(parse_body(data, source=source, url=url, headers=headers), max_chars)


def _read_document(path: Path, data: bytes, source: str, max_chars: int) -> tuple[list[Item], int]:
    return _capped(read_document(path, data, source), max_chars)


def _extract_article(data: bytes, url: str, content_type: str, selector: str | None, max_chars: int) -> tuple[str, int]:
    from watcher.sources.article import extract_article

    text = extract_article(data, url=url, content_type=content_type, selector=selector)
    return text[:max_chars], int(len(text) > max_chars)


def _capped(items: list[Item], max_chars: int) -> tuple[list[Item], int]:
    """The items with each text field cut to `max_chars`, and how many items were cut."""
    cut = 0
    for item in items:
        long = [name for name in TEXT_FIELDS if len(item.text(name)) > max_chars]
        for name in long:
            setattr(item, name, item.text(name)[:max_chars])
        cut += bool(long)
    return items, cut


class _Worker:
    def __init__(self, context: Any, memory_limit: int):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, memory_limit), daemon=True)
        self.process.start()
        child.close()
        # The pool's close() and the thread using this worker may both end it at once: once is enough.
        self._ending = threading.Lock()
        self._ended = False

    def kill(self) -> None:
        self._end(gracefully=False)

    def stop(self) -> None:
        self._end(gracefully=True)

    def _end(self, *, gracefully: bool) -> None:
        with self._ending:
            if self._ended:
                return
            self._ended = True
        if gracefully:
            with contextlib.suppress(OSError, ValueError):
                self.conn.send(None)
            self.process.join(_JOIN_SECONDS)
        if self.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                self.process.kill()
            self.process.join(_JOIN_SECONDS)
        with contextlib.suppress(OSError):
            self.conn.close()


class ParsePool:
    """A few parser processes, each serving one call at a time; `close` (or leave the `with`) when done.

    Thread-safe: up to `workers` calls run at once, the others wait for a free worker.
    """

    def __init__(
        self,
        workers: int = 2,
        *,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        deadline: float = DEFAULT_DEADLINE,
        max_item_chars: int = DEFAULT_MAX_ITEM_CHARS,
    ):
        self.workers = workers
        self.memory_limit = memory_limit
        self.deadline = deadline
        self.max_item_chars = max_item_chars
        self._slots = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._context: Any = None
        self._closed = False
        self._noted: set[str] = set()

    def warm(self) -> None:
        """Start a worker now rather than at the first call (it takes a fraction of a second to start)."""
        self._give_back(self._take())

    def parse(self, data: bytes, *, source: str, url: str, headers: Mapping[str, str]) -> list[Item]:
        """Items of a feed body; ReadError when it is not a feed, too big to parse or too slow."""
        return self._call(url, _parse_feed, data, source, url, dict(headers), self.max_item_chars)

    def read(self, path: Path, data: bytes, source: str) -> list[Item]:
        """Items of a document file's bytes, read by its type; ReadError when it cannot be read.

        Plain text is read here: a decode and a split, linear and with no parser to attack, where a round
        trip to a worker would halve a backfill's speed. Every other type is parsed in a worker.
        """
        if path.suffix.lower() in PLAIN_TEXT:
            items, cut = _capped(read_document(path, data, source), self.max_item_chars)
            return self._done(str(path), items, cut, [])
        return self._call(str(path), _read_document, path, data, source, self.max_item_chars)

    def extract(self, data: bytes, *, url: str, content_type: str, selector: str | None = None) -> str:
        """The main text of an article page (see `watcher.sources.article`); ReadError when it cannot be had."""
        return self._call(url, _extract_article, data, url, content_type, selector, self.max_item_chars)

    def run(self, name: str, function: Callable[..., tuple[T, int]], *args: Any) -> T:
        """`function(*args)` in a worker: a module-level function (sent by name) whose answer is its value and
        how many items it cut. A backfill's story sketches are made so, beside its main process, in a pool of
        their own (numpy's address space is then not taken from the parsers' memory limit). ReadError, naming
        `name`, when the worker fails or runs past the deadline."""
        return self._call(name, function, *args)

    def _call(self, name: str, function: Callable[..., tuple[T, int]], *args: Any) -> T:
        with self._slots:
            worker = self._take()
            try:
                worker.conn.send((function, args))
                ready = worker.conn.poll(self.deadline)
                answer = worker.conn.recv() if ready else None
            except (EOFError, OSError):
                self._discard(worker)
                raise ReadError(f"{name}: the parser process died") from None
            if answer is None:
                self._discard(worker)
                raise ReadError(f"{name}: parsing took longer than {self.deadline:g}s")
            self._give_back(worker)
        kind, value = answer
        if kind == "ok":
            return self._done(name, *value)
        if kind == "memory":
            raise ReadError(f"{name}: parsing needed more than {self.memory_limit // 2**20} MB")
        message = str(value)
        raise ReadError(message if message.startswith(name) else f"{name}: {message}")

    def _done(self, name: str, items: T, cut: int, notes: list[str]) -> T:
        """A parse's items (or text), after logging what it noted and how many items were cut."""
        if cut and isinstance(items, list):
            log.warning("%s: %d items cut to %d characters a field", name, cut, self.max_item_chars)
        elif cut:
            log.warning("%s: the article's text cut to %d characters", name, self.max_item_chars)
        for note in notes:
            self._note(note)
        return items

    def _note(self, note: str) -> None:
        """Log what a parser noted, once per pool: a feed that always shares ids says so once, not every poll."""
        with self._lock:
            if note in self._noted:
                return
            self._noted.add(note)
        log.warning("%s", note)

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise ReadError("the parser pool is closed")
            if self._idle:
                return self._idle.pop()
            if self._context is None:
                # forkserver: workers start from a clean process, not a fork of a threaded daemon.
                self._context = multiprocessing.get_context("forkserver")
            worker = _Worker(self._context, self.memory_limit)
            self._all.add(worker)
            return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if self._closed:
                worker.stop()
            else:
                self._idle.append(worker)

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    def close(self) -> None:
        """Stop every worker: idle ones at once, busy ones are killed."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = self._all - set(idle)
            self._all = set()
        for worker in idle:
            worker.stop()
        for worker in busy:
            worker.kill()

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
