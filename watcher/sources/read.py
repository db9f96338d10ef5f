"""Documents on disk to items: walk paths in a stable order, read each file by its type.

Whatever cannot be read is skipped with one reason, never raised: empty, binary, too large, unreadable,
not a regular file, a symlink that leaves the directory, an unknown type.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from watcher.errors import ReadError
from watcher.items.model import Item
from watcher.sources.decode import looks_binary
from watcher.sources.documents import READERS

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Skipped:
    """A file that was not read, and why."""

    path: Path
    reason: str


def read_paths(
    paths: Iterable[str | Path], *, max_bytes: int = DEFAULT_MAX_BYTES, source: str | None = None
) -> Iterator[Item | Skipped]:
    """Yield the items of every document under `paths`, and a Skipped for each file left out."""
    for raw in paths:
        path = Path(raw)
        try:
            st = path.stat()
        except OSError as e:
            yield _skip(path, f"cannot read: {e.strerror or e}")
            continue
        if stat.S_ISDIR(st.st_mode):
            name = source or path.resolve().name or "documents"
            yield from _walk(path, name, max_bytes)
        else:
            yield from read_file(path, source or path.resolve().parent.name or "documents", max_bytes)


def _walk(root: Path, source: str, max_bytes: int) -> Iterator[Item | Skipped]:
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
            yield from read_file(path, source, max_bytes)


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def read_file(path: Path, source: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Item | Skipped]:
    """Read one file into items, or yield why it was skipped."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        yield _skip(path, f"unknown file type {path.suffix or '(none)'}")
        return
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        yield _skip(path, f"cannot read: {e.strerror or e}")
        return
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            yield _skip(path, "not a regular file")
            return
        if st.st_size == 0:
            yield _skip(path, "empty file")
            return
        if st.st_size > max_bytes:
            yield _skip(path, f"larger than {max_bytes} bytes")
            return
        try:
            data = f.read(max_bytes + 1)
        except OSError as e:
            yield _skip(path, f"cannot read: {e.strerror or e}")
            return
    if not data.strip():
        yield _skip(path, "empty file")
        return
    if looks_binary(data):
        yield _skip(path, "binary file")
        return
    try:
        items = reader(path, data, source)
    except ReadError as e:
        yield _skip(path, str(e).removeprefix(f"{path}: "))
        return
    except (ValueError, UnicodeError, RecursionError) as e:
        yield _skip(path, f"cannot parse: {e}")
        return
    if not items:
        yield _skip(path, "no items")
    yield from items


def _skip(path: Path, reason: str) -> Skipped:
    log.warning("skipped %s: %s", path, reason)
    return Skipped(path, reason)
