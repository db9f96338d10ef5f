"""A database with real alerts for the dashboard and backtest tests, and `watcher serve` as a real process."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import database_line, write
from tests.daemonproc import wait_for, watcher_process
from watcher.cli import main

RULES = """\
rules:
  - id: shells
    title: Artillery shells
    severity: high
    match: [artillery shells]
  - id: troops
    title: Troops deployed
    severity: critical
    match: [troops]
  - id: never
    title: A rule that never matches
    match: [zeppelin]
    examples:
      match: ["a zeppelin over the city"]
"""
HOSTILE_TITLE = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\"> shells"

DOCS = {
    "a.txt": "North Korea sent artillery shells\n\nOfficials said artillery shells crossed the border by rail.",
    "b.txt": "Troops on the move\n\nThousands of troops were seen near the border on Tuesday.",
    "c.txt": f"{HOSTILE_TITLE}\n\nMore artillery shells arrived at the port, officials said on Friday.",
    "d.txt": "Weather report\n\nSunny with a light breeze along the coast.",
}


def corpus(tmp_path: Path, *, extra: str = "", env: dict[str, str] | None = None) -> Path:
    """A config, rules and a database filled by `watcher backfill` from a few documents; the config's path."""
    write(tmp_path / "rules" / "r.yaml", RULES)
    for name, text in DOCS.items():
        write(tmp_path / "docs" / name, text)
    cfg = write(tmp_path / "watcher.yaml", f"{database_line(tmp_path)}rules: rules\nseeds: [docs]\n{extra}")
    out = CliRunner(env=env).invoke(main, ["backfill", "--config", str(cfg)])
    assert out.exit_code == 0, out.output
    # The feeds table knows the configured sources once a daemon, a poll or `feeds list` has synced it.
    assert CliRunner(env=env).invoke(main, ["poll", "--once", "--config", str(cfg)]).exit_code == 0
    return cfg


@contextmanager
def served(cfg: Path, listen: str = "127.0.0.1:0", env: dict[str, str] | None = None) -> Iterator[str]:
    """`watcher serve` as a process; yields its base URL."""
    with watcher_process("serve", "--config", str(cfg), "--listen", listen, env=env) as d:
        wait_for(lambda: "dashboard on http://" in d.log() or d.proc.poll() is not None, what="the dashboard")
        m = re.search(r"dashboard on (http://\S+?)/ ", d.log())
        assert m is not None, d.log()
        yield m.group(1)


def get(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) of a request; redirects are not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310 - loopback only
    try:
        with opener.open(request, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()
