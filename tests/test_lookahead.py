"""A batch's story candidates looked up ahead, by the worker that sketches it: used while story_bands is as
that worker read it, and looked up again in the main process once runs were merged since."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.conftest import write
from tests.storycorpus import article, light_edit, text
from watcher.config.model import Stories
from watcher.items.model import Item
from watcher.items.stories import sketches
from watcher.rules.engine import Engine
from watcher.rules.load import load_rules
from watcher.sources.sandbox import ParsePool
from watcher.store.lookahead import Found, find, sketch_and_find
from watcher.store.sqlite import PENDING, Store


def pairs(seed: int, n: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(text(base := article(rng)), light_edit(rng, base)) for _ in range(n)]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return Engine(load_rules(write(tmp_path / "r.yaml", "rules: []\n")))


@pytest.fixture
def merge_every_4(monkeypatch: pytest.MonkeyPatch) -> None:
    import watcher.store.bandruns as bandruns

    monkeypatch.setattr(bandruns, "MERGE_EVERY", 4)


def ingest(store: Store, engine: Engine, name: str, bodies: list[str], found: Found | None = None) -> list[int]:
    """Store one batch with its sketches (and what was found for them): the story of each item."""
    items = [Item(source=name, guid=f"{name}{n}", content=body) for n, body in enumerate(bodies)]
    outcomes = store.ingest(
        items, engine.match, alert_state=PENDING, stories=Stories(), sketches=sketches(bodies), found=found
    )
    return [int(o.story_id or 0) for o in outcomes]


def keys_of(bodies: list[str]) -> list[int]:
    return [key for sketch in sketches(bodies) for key in sketch.keys]


def test_the_worker_reads_story_bands_as_the_main_process_would(
    tmp_path: Path, engine: Engine, merge_every_4: None
) -> None:
    """Sketched and looked up in a real worker process, on the database file: the same items, for the same
    keys, as the main process finds in story_bands; the runs then waiting are named."""
    store = Store.open(tmp_path / "w.db")
    stories = ingest(store, engine, "a", [o for o, _ in pairs(31, 4)])  # merged: 4 items
    ingest(store, engine, "b", [o for o, _ in pairs(32, 2)])  # a run, waiting
    copies = [c for _, c in pairs(31, 4)]
    with ParsePool(1) as pool:
        ahead = pool.run("story sketches", sketch_and_find, copies, str(store.file))
    assert ahead.sketches == sketches(copies)
    assert ahead.found is not None
    assert ahead.found.runs == (2,)
    assert ahead.found.last_run == 2
    assert {item for items in ahead.found.items.values() for item in items} == set(stories)
    assert ingest(store, engine, "c", copies, ahead.found) == stories
    store.close()


def test_what_the_worker_found_is_what_the_batch_uses(tmp_path: Path, engine: Engine, merge_every_4: None) -> None:
    """While story_bands is as the worker read it, the main process does not look there itself: told that
    nothing is there, the copies of merged items start stories of their own."""
    store = Store.open(tmp_path / "w.db")
    originals, copies = zip(*pairs(33, 4), strict=True)
    stories = ingest(store, engine, "a", list(originals))
    found = find(tmp_path / "w.db", keys_of(list(copies)))
    assert ingest(store, engine, "b", list(copies[:2]), Found({}, found.runs, found.last_run)) == [
        stories[0] + 4,
        stories[0] + 5,
    ]
    assert ingest(store, engine, "c", list(copies[2:]), found) == stories[2:]
    store.close()


@pytest.mark.parametrize("merged", ["with-a-run-written-after", "alone", "a-run-written-after"])
def test_once_runs_are_merged_after_the_worker_read_the_main_process_looks_up(
    tmp_path: Path, engine: Engine, merge_every_4: None, merged: str
) -> None:
    """The worker read story_bands, then runs were merged into it: a run that was waiting when it read (with
    one written after, or alone), or only one written after (the runs waiting before and after look alike,
    none). The keys are looked up again, and the copies of what was merged are found."""
    from watcher.store.bandruns import merge_runs

    store = Store.open(tmp_path / "w.db")
    (o1, c1), (o2, c2), (o3, _), (o4, _) = pairs(34, 4)
    if merged != "a-run-written-after":
        first = ingest(store, engine, "a", [o1, o2])  # a run, waiting when the worker reads
        found = find(tmp_path / "w.db", keys_of([c1, c2]))
        assert found.runs and not found.items
        if merged == "alone":
            with store.write() as conn:
                merge_runs(conn)
        else:
            ingest(store, engine, "b", [o3, o4])  # four items: both runs merged
    else:
        found = find(tmp_path / "w.db", keys_of([c1, c2]))
        assert found == Found({}, (), 0)
        first = ingest(store, engine, "a", [o1, o2, o3, o4])[:2]  # written and merged at once
    assert store.conn.execute("SELECT count(*) FROM story_band_runs").fetchone() == (0,)
    assert ingest(store, engine, "c", [c1, c2], found) == first
    store.close()


def test_no_database_to_read_is_no_look(tmp_path: Path) -> None:
    """A worker that cannot read the database (gone, not SQLite) sketches all the same, and leaves the lookup
    to the main process."""
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    bodies = [o for o, _ in pairs(35, 2)]
    for database in (tmp_path / "missing.db", tmp_path / "junk.db"):
        ahead, cut = sketch_and_find(bodies, str(database))
        assert (ahead.sketches, ahead.found, cut) == (sketches(bodies), None, 0)


def test_a_backfill_s_worker_looks_in_the_database_file_and_not_in_a_dry_run_s_copy(tmp_path: Path) -> None:
    from watcher.backfill import story_sketcher

    bodies = [o for o, _ in pairs(36, 2)]
    store = Store.open(tmp_path / "w.db")
    copy = Store.open_copy(tmp_path / "w.db")
    with ParsePool(1) as pool:
        on_file, on_copy = story_sketcher(pool, store)(bodies), story_sketcher(pool, copy)(bodies)
    assert on_file.sketches == on_copy.sketches == sketches(bodies)
    assert on_file.found == Found({}, (), 0)
    assert on_copy.found is None
    store.close()
    copy.close()
