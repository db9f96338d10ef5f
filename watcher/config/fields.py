"""The scalars of watcher.yaml: text with ${VAR} and ${credential:NAME} expanded (the values kept as secrets),
durations, booleans, names, whole numbers and lists, each problem recorded at its file, line and key path."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from watcher.config.durations import parse_duration
from watcher.config.yamlfile import KeyPath, Located, format_path

_VAR = re.compile(r"\$\{(credential:[A-Za-z0-9_.-]+|[A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MIN_INTERVAL = 60.0


class Fields:
    """Reads the scalars of one loaded document, recording problems, warnings and secrets as it goes."""

    def __init__(self, doc: Located, base: Path, env: Mapping[str, str]):
        self.doc = doc
        self.base = base
        self.env = env
        self.warnings: list[str] = []
        self.secrets: list[str] = []

    def _text(self, value: Any, path: KeyPath, what: str = "text") -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.doc.problem(path, f"must be non-empty {what}")
            return None
        return self._expand(value, path)

    def _expand(self, value: str, path: KeyPath) -> str | None:
        missing: list[str] = []

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name.startswith("credential:"):
                # systemd's LoadCredential= puts each secret in a file under $CREDENTIALS_DIRECTORY.
                directory = self.env.get("CREDENTIALS_DIRECTORY")
                if directory:
                    try:
                        secret = (Path(directory) / name.split(":", 1)[1]).read_text().strip()
                    except OSError:
                        pass
                    else:
                        self.secrets.append(secret)
                        return secret
                if default is not None:
                    return default
                missing.append(f"credential {name.split(':', 1)[1]} ($CREDENTIALS_DIRECTORY)")
                return ""
            if name in self.env:
                self.secrets.append(self.env[name])
                return self.env[name]
            if default is not None:
                return default
            missing.append(name)
            return ""

        out = _VAR.sub(sub, value)
        for name in missing:
            what = name if name.startswith("credential ") else f"environment variable {name}"
            self.doc.problem(path, f"{what} is not set")
        return None if missing else out

    def _duration(self, value: Any, path: KeyPath, default: float, *, warn_below: float = MIN_INTERVAL) -> float:
        if value is None:
            return default
        seconds = parse_duration(value)
        if seconds is None or seconds <= 0:
            self.doc.problem(path, f"invalid duration {value!r} (like 30s, 15m, 1h, or a number of seconds)")
            return default
        if seconds < warn_below:
            self.warnings.append(f"{self.doc.file}: {format_path(path)}: interval {value!r} is under 60s")
        return seconds

    def _bool(self, value: Any, path: KeyPath, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.doc.problem(path, "must be true or false")
            return default
        return value

    def _keys(self, value: dict[str, Any], path: KeyPath, allowed: set[str]) -> None:
        for key in value:
            if key not in allowed:
                self.doc.problem((*path, key), f"unknown key '{key}' (one of {', '.join(sorted(allowed))})")

    def _list(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            self.doc.problem((key,), "must be a list")
            return []
        return value

    def _whole(self, section: dict[str, Any], path: tuple[str, str], default: int, least: int, unit: str = "") -> int:
        raw = section.get(path[1], default)
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < least:
            self.doc.problem(path, f"must be a whole number{unit}, at least {least}")
            return default
        return raw

    def _name(self, value: Any, path: KeyPath) -> str | None:
        if not isinstance(value, str) or not _NAME.match(value):
            self.doc.problem(path, f"invalid name {value!r} (letters, digits, '.', '_' and '-')")
            return None
        return value

    def _unique(self, names: list[tuple[int, str]], key: str) -> None:
        seen: set[str] = set()
        for i, name in names:
            if name in seen:
                self.doc.problem((key, i, "name"), f"duplicate name '{name}'")
            seen.add(name)
