"""`watcher run` as a real process for tests: start it, read its log as it runs, wait for what it does."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class Daemon:
    def __init__(self, proc: subprocess.Popen[str]):
        self.proc = proc
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        # The daemon's parse workers may hold the pipe a moment after it ends: reading stops when it closes.
        with contextlib.suppress(ValueError, OSError):
            for line in self.proc.stderr:
                self.lines.append(line)

    def log(self) -> str:
        return "".join(self.lines)

    def health_port(self) -> int:
        """The port the daemon's health server got (`server.listen` with port 0), once it has logged it."""
        wait_for(lambda: "health and metrics on http://" in self.log(), what="the health server")
        m = re.search(r"health and metrics on http://[^:]+:(\d+)/healthz", self.log())
        assert m is not None
        return int(m.group(1))


def wait_for(check: Callable[[], object], timeout: float = 15, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def watcher_process(*args: str, env: dict[str, str] | None = None, measured: bool = True) -> Iterator[Daemon]:
    """`python -m watcher ARGS` as a process whose log is read as it runs; stopped at the end if still running.
    `measured=False`: without coverage measurement, for load tests whose processes it would slow severalfold."""
    environ = {k: v for k, v in os.environ.items() if measured or not k.startswith("COVERAGE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**environ, **(env or {})},
    )
    d = Daemon(proc)
    try:
        yield d
    except BaseException:
        # The daemon's own account of what went wrong, in the failed test's captured output.
        print(f"--- log of watcher {' '.join(args)} ---\n{d.log()}")
        raise
    finally:
        if proc.poll() is None:
            # SIGTERM first: a process stopped so writes its coverage data; one that will not stop is killed.
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.wait()
        d.reader.join(timeout=5)
        if proc.stderr is not None:
            proc.stderr.close()


@contextmanager
def daemon(
    cfg: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = (), *, measured: bool = True
) -> Iterator[Daemon]:
    with watcher_process("run", "--config", str(cfg), *args, env=env, measured=measured) as d:
        yield d
