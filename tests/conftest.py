from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from watcher.items.model import Item
from watcher.rules.engine import Engine
from watcher.rules.load import load_rules
from watcher.rules.scan import fast_available

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or a clean skip where it is absent (a user's clone)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared is only beside CI and developer checkouts)")
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture(params=[False, True], ids=["pyahocorasick", "hyperscan"])
def fast(request: pytest.FixtureRequest) -> bool:
    """Each scanner in turn: the portable one, and Hyperscan where it installs."""
    if request.param and not fast_available():
        pytest.skip("Hyperscan is not installed here (pip install '.[fast]')")
    return bool(request.param)


@pytest.fixture
def make_engine(tmp_path: Path, fast: bool):
    """Build an engine from YAML text (one rules file), failing loudly on rule problems, with each scanner."""

    def build(yaml_text: str) -> Engine:
        rules_dir = tmp_path / "rules"
        write(rules_dir / "rules.yaml", yaml_text)
        ruleset = load_rules(rules_dir)
        assert not ruleset.problems, [str(p) for p in ruleset.problems]
        return Engine(ruleset, fast=fast)

    return build


def hits(engine: Engine, text: str, **fields: str) -> list[str]:
    """Ids of the rules that match an item whose content is `text`."""
    item = Item(source=fields.pop("source", "test"), content=text, **fields)
    return [m.rule.id for m in engine.match(item)]


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float


# Linux keeps a process's peak RSS across exec, and a forked child starts with its parent's: a command forked
# straight from pytest (hundreds of MB by then) would report pytest's peak. A small wrapper process, fresh
# from exec, starts the command and reports the peak of the command alone (os.wait4 on it).
_WRAPPER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


def run_measured(args: list[str], *, timeout: float, env: dict[str, str] | None = None) -> Finished:
    """Run a command to its end and measure its own peak memory (its parse workers included), not pytest's."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "peak"
        wrapper = subprocess.Popen(
            [sys.executable, "-c", _WRAPPER, str(report), *args],
            stdout=out,
            stderr=err,
            env=env,
            start_new_session=True,  # a timeout kills the command with its wrapper
        )
        try:
            wrapper.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(wrapper.pid, signal.SIGKILL)
            wrapper.wait()
            raise AssertionError(f"{args} still running after {timeout}s") from None
        code, peak_kb = report.read_text().split()
        out.seek(0)
        err.seek(0)
        return Finished(int(code), out.read().decode(), err.read().decode(), int(peak_kb) / 1024)


# PostgreSQL -----------------------------------------------------------------------------------------------
# Where WATCHER_TEST_POSTGRES names a server (postgresql://postgres@127.0.0.1:5432/test), the store's tests
# run on it too, each in a schema of its own (dropped afterwards); where it is unset or silent they skip.
POSTGRES_ENV = "WATCHER_TEST_POSTGRES"


def postgres_server() -> str:
    """The test server's URL, or a skip saying why there is none."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set: the PostgreSQL runs are skipped")
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as e:
        pytest.skip(f"{POSTGRES_ENV}: the server does not answer ({str(e).strip().splitlines()[0]})")
    return url


@contextlib.contextmanager
def postgres_schema(name: str | None = None):
    """A fresh schema on the test server: (the URL that selects it, the server URL); dropped afterwards."""
    import psycopg

    server = postgres_server()
    schema = name or f"w_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in server else "?"
    try:
        yield f"{server}{sep}options=-csearch_path%3D{schema}", server
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_url():
    """A postgresql:// URL of an empty schema of its own."""
    with postgres_schema() as (url, _):
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path):
    """Where watcher.yaml's `database:` points, on each store in turn: a SQLite file, a PostgreSQL schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "w.db")
    else:
        with postgres_schema() as (url, _):
            yield url


@pytest.fixture
def each_store(database: str):
    """A store on each database in turn (PostgreSQL where WATCHER_TEST_POSTGRES is set)."""
    from watcher.store.open import open_store

    s = open_store(location(database))
    yield s
    s.close()


def location(database: str):
    """The store location of a `database` fixture value, as watcher.yaml's `database:` gives it."""
    from watcher.config.database import parse_postgres_url

    return parse_postgres_url(database) if "://" in database else Path(database)


@pytest.fixture
def on_each_database(database: str, tmp_path: Path) -> str:
    """Run a test that builds its watcher.yaml with `database_line(tmp_path)` on each database in turn."""
    (tmp_path / ".database").write_text(database)
    return database


def database_line(folder: Path) -> str:
    """watcher.yaml's `database:` line for the test owning `folder`: its `on_each_database`, else w.db."""
    chosen = folder / ".database"
    return f"database: '{chosen.read_text()}'\n" if chosen.exists() else "database: w.db\n"


def store_of(folder: Path):
    """The store of the test owning `folder` (see `database_line`)."""
    from watcher.store.open import open_store

    chosen = folder / ".database"
    return open_store(location(chosen.read_text()) if chosen.exists() else folder / "w.db")
