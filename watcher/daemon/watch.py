"""Watching the rule files and watcher.yaml for edits: a snapshot of their sizes and times, and a debounce,
so that an editor's several writes make one reload once the files are calm."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from watcher.rules.load import rule_files


@dataclass
class Snapshot:
    """(mtime, size) of each watched file."""

    files: dict[str, tuple[int, int]]

    @classmethod
    def take(cls, config_path: Path | None, rules: Path) -> Snapshot:
        """The rule files under `rules`, and the config file (file I/O: keep it off the store's thread)."""
        paths = list(rule_files(rules)) if rules.exists() else []
        if config_path is not None:
            paths.append(config_path)
        files = {}
        for path in paths:
            try:
                st = path.stat()
            except OSError:
                continue
            files[str(path)] = (st.st_mtime_ns, st.st_size)
        return cls(files)


@dataclass
class FileWatch:
    """The last snapshot applied, and a changed one waiting for the files to be calm."""

    applied: Snapshot = field(default_factory=lambda: Snapshot({}))
    _pending: Snapshot | None = None
    _since: float | None = None

    def settled(self, snapshot: Snapshot, debounce: float) -> bool:
        """Whether `snapshot` differs from the applied one and has stayed the same for `debounce` seconds."""
        if snapshot.files == self.applied.files:
            self._pending, self._since = None, None
            return False
        if self._pending is None or snapshot.files != self._pending.files:
            self._pending, self._since = snapshot, time.monotonic()
            return False
        return self._since is not None and time.monotonic() - self._since >= debounce

    def apply(self, snapshot: Snapshot) -> None:
        """`snapshot` is what now runs (reloaded, or refused: either way not to be tried again)."""
        self.applied, self._pending, self._since = snapshot, None, None
