"""Documents on disk to items: walk paths in a stable order, read each file by its type.

Whatever cannot be read is skipped with one reason, never raised: empty, binary, too large, unreadable,
not a regular file, a symlink that leaves the directory, an unknown type.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import stat
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from watcher.errors import ReadError
from watcher.items.model import Item
from watcher.sources.decode import looks_binary
from watcher.sources.documents import PLAIN_TEXT, READERS, read_document

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024

DocumentReader = Callable[[Path, bytes, str], list[Item]]


@dataclass(frozen=True)
class Skipped:
    """A file that was not read, and why."""

    path: Path
    reason: str


def read_paths(
    paths: Iterable[str | Path],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    source: str | None = None,
    reader: DocumentReader = read_document,
    ahead: int = 0,
    told: dict[str, str] | None = None,
) -> Iterator[Item | Skipped]:
    """Yield the items of every document under `paths`, in a stable order, and a Skipped for each file left out.

    `reader` turns a file's bytes into items: in-process by default, or `ParsePool.read` to parse untrusted
    files in the sandboxed workers. With `ahead`, that many files are read and parsed concurrently. Each file
    left out is logged once with its reason; with `told` (kept from one read to the next, as a daemon's seed
    directory is read every few minutes), only when that reason is new for that file.
    """
    for result in _read(paths, max_bytes, source, reader, ahead):
        if isinstance(result, Skipped):
            where = str(result.path)
            if told is None or told.get(where) != result.reason:
                log.warning("skipped %s: %s", result.path, result.reason)
                if told is not None:
                    told[where] = result.reason
        elif told is not None and result.path:
            told.pop(result.path, None)
        yield result


def _read(
    paths: Iterable[str | Path], max_bytes: int, source: str | None, reader: DocumentReader, ahead: int
) -> Iterator[Item | Skipped]:
    files = _files(paths, source)
    if ahead <= 0:
        for found in files:
            yield from [found] if isinstance(found, Skipped) else _load(*found, max_bytes, reader)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=ahead) as pool:
        window: deque[concurrent.futures.Future[list[Item | Skipped]]] = deque()
        for found in files:
            if isinstance(found, Skipped) or found[0].suffix.lower() in PLAIN_TEXT:
                # Nothing to wait for, or cheaper to read here than to hand to a thread.
                window.append(concurrent.futures.Future())
                window[-1].set_result([found] if isinstance(found, Skipped) else _load(*found, max_bytes, reader))
            else:
                window.append(pool.submit(_load, *found, max_bytes, reader))
            while len(window) > ahead * 2:
                yield from window.popleft().result()
        while window:
            yield from window.popleft().result()


def count_files(paths: Iterable[str | Path]) -> int:
    """How many files `read_paths` would read (for a progress bar's total), without reading them."""
    return sum(1 for found in _files(paths, None) if not isinstance(found, Skipped))


def _files(paths: Iterable[str | Path], source: str | None) -> Iterator[tuple[Path, str] | Skipped]:
    for raw in paths:
        path = Path(raw)
        try:
            st = path.stat()
        except OSError as e:
            yield _skip(path, f"cannot read: {e.strerror or e}")
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(path, source or path.resolve().name or "documents")
        else:
            yield path, source or path.resolve().parent.name or "documents"


def _walk(root: Path, source: str) -> Iterator[tuple[Path, str] | Skipped]:
    real_root = root.resolve()
    seen_dirs: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=None):
        real_dir = os.path.realpath(dirpath)
        # A symlinked directory may lead out of the root or around in a loop: neither is walked.
        if real_dir in seen_dirs or not _within(Path(real_dir), real_root):
            dirnames[:] = []
            if real_dir not in seen_dirs:
                yield _skip(Path(dirpath), "symlink leaves the directory")
            continue
        seen_dirs.add(real_dir)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            if path.is_symlink() and not _within(path.resolve(), real_root):
                yield _skip(path, "symlink leaves the directory")
                continue
            yield path, source


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _load(path: Path, source: str, max_bytes: int, reader: DocumentReader) -> list[Item | Skipped]:
    if path.suffix.lower() not in READERS:
        return [_skip(path, f"unknown file type {path.suffix or '(none)'}")]
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        return [_skip(path, f"cannot read: {e.strerror or e}")]
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return [_skip(path, "not a regular file")]
        if st.st_size == 0:
            return [_skip(path, "empty file")]
        if st.st_size > max_bytes:
            return [_skip(path, f"larger than {max_bytes} bytes")]
        try:
            # As much as the file holds (and a byte more, should it have grown), never more than the cap: a
            # read of the cap itself allocates that much for every file, however small.
            data = f.read(min(st.st_size, max_bytes) + 1)
            if len(data) > st.st_size:  # it grew since: the rest, up to the cap
                data += f.read(max_bytes + 1 - len(data))
        except OSError as e:
            return [_skip(path, f"cannot read: {e.strerror or e}")]
        if len(data) > max_bytes:
            return [_skip(path, f"larger than {max_bytes} bytes")]
    if not data.strip():
        return [_skip(path, "empty file")]
    if looks_binary(data):
        return [_skip(path, "binary file")]
    try:
        items: list[Item | Skipped] = list(reader(path, data, source))
    except ReadError as e:
        return [_skip(path, str(e).removeprefix(f"{path}: "))]
    except (ValueError, UnicodeError, RecursionError) as e:
        return [_skip(path, f"cannot parse: {e}")]
    return items or [_skip(path, "no items")]


def _skip(path: Path, reason: str) -> Skipped:
    return Skipped(path, reason)
