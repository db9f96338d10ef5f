"""What a service manager needs of the daemon: sd_notify, one instance per database, and a stall guard.

sd_notify is a datagram to $NOTIFY_SOCKET, no dependency needed. The lock is an flock on a file beside the
database holding the PID of its owner. The stall guard is a thread that ends the process when the event loop
has not ticked for too long, so that systemd (or any supervisor) restarts it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
from pathlib import Path

from watcher.errors import WatcherError

log = logging.getLogger(__name__)


def sd_notify(message: str) -> bool:
    """Send a message to systemd's notify socket; False when there is none."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as e:
        log.warning("cannot notify systemd at %s: %s", os.environ.get("NOTIFY_SOCKET"), e)
        return False
    return True


def watchdog_interval() -> float | None:
    """Half the watchdog period systemd asked for, in seconds; None when it asked for none."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or (pid and pid.isdigit() and int(pid) != os.getpid()):
        return None
    return int(usec) / 1e6 / 2


class InstanceLock:
    """One daemon per database: an exclusive flock on `<database>.lock`, which holds the owner's PID."""

    def __init__(self, database: Path):
        # The resolved path: a symlink to the database must not give a second daemon a lock of its own.
        database = database.resolve()
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise WatcherError(
                f"another watcher (PID {owner}) is running on this database ({self.path}); one daemon per database"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class StallGuard:
    """Ends the process when `beat` has not been called for `limit` seconds (a stalled event loop)."""

    def __init__(self, limit: float):
        self.limit = limit
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stall-guard", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def beat(self) -> None:
        self._last = time.monotonic()

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(min(5.0, self.limit / 4)):
            stalled = time.monotonic() - self._last
            if stalled > self.limit:
                log.critical(
                    "the event loop has not run for %.0fs: exiting so the service manager restarts us", stalled
                )
                logging.shutdown()
                os._exit(70)
