"""Stories: near copies across sources are one story, and a rule alerts once per story."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import database_line, shared_path, store_of, write
from tests.servers import receiver
from tests.storycorpus import COPY_KINDS, article, cases, excerpt, light_edit, medium_edit, newsletter, text
from watcher.cli import main
from watcher.config import load_config
from watcher.config.model import Stories
from watcher.items.model import Item
from watcher.items.stories import Sketch, fingerprint, related, sketches
from watcher.rules.engine import Engine
from watcher.rules.load import load_rules
from watcher.store.lookahead import Ahead, sketch_and_find
from watcher.store.sqlite import PENDING, Store

TARGETS = {"light": 0.95, "medium": 0.80, "excerpt": 0.90}


def rates(found: Counter[str], total: Counter[str]) -> dict[str, float]:
    return {kind: found[kind] / total[kind] for kind in total}


def test_judgement_meets_the_targets_on_the_generated_corpus() -> None:
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for case in cases(seed=11, per_kind=150):
        total[case.kind] += 1
        if related(fingerprint(case.other), fingerprint(case.original)):
            found[case.kind] += 1
    measured = rates(found, total)
    for kind, target in TARGETS.items():
        assert measured[kind] >= target, (kind, measured)
    assert found["different"] == 0 and found["newsletter"] == 0, measured


def test_store_places_copies_in_one_story_and_keeps_look_alikes_apart(tmp_path: Path) -> None:
    """The whole path: band keys in the database, candidates, the judgement on the stored text."""
    store = Store.open(tmp_path / "w.db")
    engine = Engine(load_rules(write(tmp_path / "r.yaml", "rules: []\n")))
    joined: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for n, case in enumerate(cases(seed=12, per_kind=25)):
        items = [
            Item(source="wire", guid=f"{n}-a", title="A", content=case.original),
            Item(source="outlet", guid=f"{n}-b", title="B", content=case.other),
        ]
        first, second = store.ingest(items, engine.match, alert_state=PENDING, stories=Stories())
        total[case.kind] += 1
        joined[case.kind] += first.story_id == second.story_id
    measured = rates(joined, total)
    for kind in COPY_KINDS:
        assert measured[kind] >= TARGETS[kind], (kind, measured)
    assert joined["different"] == 0 and joined["newsletter"] == 0, measured
    store.close()


def test_the_two_reference_articles_are_two_stories() -> None:
    seeds = sorted(shared_path("seeds").glob("*.txt"))
    first, second = (fingerprint(p.read_text(encoding="utf-8")) for p in seeds[:2])
    assert first.usable and second.usable
    assert related(first, second) is None and related(second, first) is None


def test_a_short_text_starts_its_own_story() -> None:
    assert related(fingerprint("North Korea fired a missile."), fingerprint("North Korea fired a missile.")) is None


# through the CLI, to a real webhook ------------------------------------------------------------------


RULES = """
rules:
  - id: shipments
    title: Shipments
    match: {any: [containers, convoy, shipment, trucks, "rail convoys", troops, drones, report]}
  - id: every-copy
    per: item
    match: {any: [containers, convoy, shipment, trucks, "rail convoys", troops, drones, report]}
  - id: correction
    match: [correction]
"""


def corpus(root: Path, seed: int = 3) -> dict[str, str]:
    """Four outlets' copies of one wire story, an excerpt, a different story on the same topic, and three
    issues of a newsletter with one long footer."""
    rng = random.Random(seed)
    base = article(rng)
    files = {
        "wire.txt": "Shells move by rail\n\n" + text(base),
        "outlet-1.txt": "North Korean shells reach the front\n\n" + light_edit(rng, base),
        "outlet-2.txt": "Rail convoys carry shells\n\n" + light_edit(rng, base),
        "outlet-3.txt": "Shipments grow, officials say\n\n" + medium_edit(rng, base),
        "summary.txt": "Shells by rail\n\n" + excerpt(rng, base),
        "other.txt": "A different report\n\n" + text(article(rng)),
        "brief-1.txt": "Brief, Monday\n\n" + newsletter(rng),
        "brief-2.txt": "Brief, Tuesday\n\n" + newsletter(rng),
        "brief-3.txt": "Brief, Wednesday\n\n" + newsletter(rng),
    }
    for name, body in files.items():
        write(root / "docs" / name, body)
    return files


def project(root: Path, url: str, stories: str = "") -> Path:
    write(root / "rules" / "r.yaml", RULES)
    config = f"{database_line(root)}rules: rules\nseeds: [docs]\nnotify:\n  - url: {url}\n{stories}"
    return write(root / "watcher.yaml", config)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.usefixtures("on_each_database")
def test_backfill_notify_sends_one_message_per_story_and_rule(tmp_path: Path) -> None:
    corpus(tmp_path)
    with receiver() as hook:
        config = project(tmp_path, hook.url)
        code, out = run("backfill", "--notify", "--config", str(config))
        assert code == 0, out
        titles = Counter(m["title"].split(": ", 1)[0] for m in hook.messages())
    # One story of five copies, one other story, three newsletter issues: five messages for `shipments`;
    # `every-copy` (per: item) sends all nine.
    assert titles["[MEDIUM] Shipments"] == 5
    assert titles["[MEDIUM] every-copy"] == 9
    assert "later copies of an alerted story: 4" in out
    code, listed = run("alerts", "list", "--config", str(config), "--json")
    rows = [json.loads(line) for line in listed.splitlines()]
    # Files are read in name order: outlet-1.txt is the story's first item, the one that alerted.
    [first] = [r for r in rows if r["rule"] == "shipments" and r["copies"]]
    assert Path(first["path"]).name == "outlet-1.txt"
    assert sorted(Path(c["path"]).name for c in first["copies"]) == [
        "outlet-2.txt",
        "outlet-3.txt",
        "summary.txt",
        "wire.txt",
    ]
    assert len(first["story_members"]) == 5 and first["story"] is not None
    code, human = run("alerts", "list", "--config", str(config))
    assert "also reported by 1 source: docs (4 copies, story" in human


@pytest.mark.usefixtures("on_each_database")
def test_copy_matching_a_rule_the_story_never_matched_alerts(tmp_path: Path) -> None:
    files = corpus(tmp_path)
    write(
        tmp_path / "docs" / "outlet-1.txt",
        files["outlet-1.txt"] + "\n\nCorrection: an earlier version misstated a date.",
    )
    with receiver() as hook:
        config = project(tmp_path, hook.url)
        assert run("backfill", "--notify", "--config", str(config))[0] == 0
        titles = [m["title"] for m in hook.messages()]
    assert sum(t.startswith("[MEDIUM] correction") for t in titles) == 1


@pytest.mark.usefixtures("on_each_database")
def test_stories_off_alerts_every_copy(tmp_path: Path) -> None:
    corpus(tmp_path)
    with receiver() as hook:
        config = project(tmp_path, hook.url, "stories: {enabled: false}\n")
        assert run("backfill", "--notify", "--config", str(config))[0] == 0
        titles = Counter(m["title"].split(": ", 1)[0] for m in hook.messages())
    assert titles["[MEDIUM] Shipments"] == 9
    with store_of(tmp_path) as store:
        assert store.count("stories") == 0


@pytest.mark.usefixtures("on_each_database")
def test_stories_list_and_items_show(tmp_path: Path) -> None:
    corpus(tmp_path)
    config = project(tmp_path, "json://127.0.0.1:9/unused")
    assert run("backfill", "--config", str(config))[0] == 0
    code, out = run("stories", "list", "--config", str(config), "--json", "--min-size", "2")
    assert code == 0
    [story] = [json.loads(line) for line in out.splitlines()]
    assert story["size"] == 5 and story["sources"] == "docs"
    assert {Path(m["path"]).name for m in story["members"]} == {
        "wire.txt",
        "outlet-1.txt",
        "outlet-2.txt",
        "outlet-3.txt",
        "summary.txt",
    }
    code, out = run("items", "show", "--config", str(config), str(story["members"][1]["id"]))
    assert code == 0
    assert f"story:       {story['id']}, with 4 other item(s)" in out
    assert "copy of:     alert" in out
    assert run("stories", "list", "--config", str(config), "--since", "not a date")[0] != 0
    missing = CliRunner().invoke(main, ["items", "show", "--config", str(config), "9999"])
    assert "no item 9999 in the database" in str(missing.exception)


# the window, pruning, and one transaction ------------------------------------------------------------


def feed(entries: list[tuple[str, str, str]]) -> str:
    items = "".join(
        f"<item><guid>{guid}</guid><title>{guid}</title><pubDate>{date}</pubDate><description>{body}</description></item>"
        for guid, date, body in entries
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'


def test_copies_further_apart_than_the_window_are_two_stories(tmp_path: Path) -> None:
    rng = random.Random(4)
    base = article(rng)
    entries = [
        ("a", "Mon, 02 Nov 2026 08:00:00 GMT", text(base)),
        ("b", "Tue, 03 Nov 2026 08:00:00 GMT", light_edit(rng, base)),  # a day later: joins
        ("c", "Sun, 15 Nov 2026 08:00:00 GMT", light_edit(rng, base)),  # two weeks later: a story of its own
    ]
    write(tmp_path / "docs" / "feed.rss", feed(entries))
    config = project(tmp_path, "json://127.0.0.1:9/unused", "stories: {window: 3d}\n")
    assert run("backfill", "--config", str(config))[0] == 0
    rows = sqlite3.connect(tmp_path / "w.db").execute("SELECT guid, story_id FROM items ORDER BY guid").fetchall()
    stories = dict(rows)
    assert stories["a"] == stories["b"] != stories["c"]


def indexed_items(conn: Any) -> set[int]:
    """The items with band keys in the index: in story_bands and in the runs not merged yet."""
    slots = [row[0] for row in conn.execute("SELECT slot FROM story_bands")]
    for (run,) in conn.execute("SELECT slots FROM story_band_runs"):
        slots += np.frombuffer(run, dtype="<i8").tolist()
    return {slot // 64 for slot in slots}


def test_index_entries_past_the_window_are_pruned(tmp_path: Path) -> None:
    rng = random.Random(5)
    base = article(rng)
    store = Store.open(tmp_path / "w.db")
    engine = Engine(load_rules(write(tmp_path / "r.yaml", "rules: []\n")))
    settings = Stories(window=0.5)
    [first] = store.ingest(
        [Item(source="a", guid="1", content=text(base))], engine.match, alert_state=PENDING, stories=settings
    )
    assert indexed_items(store.conn) == {first.item_id}
    time.sleep(0.5 * 1.1 + 0.2)  # past the window and its pruning slack
    copy = Item(source="b", guid="2", content=light_edit(rng, base))
    [second] = store.ingest([copy], engine.match, alert_state=PENDING, stories=settings)
    assert second.story_id != first.story_id
    indexed = [row[0] for row in store.conn.execute("SELECT item_id FROM story_index")]
    assert indexed == [second.item_id]
    assert indexed_items(store.conn) == {second.item_id}
    store.close()


def test_a_failed_batch_leaves_no_story_behind(tmp_path: Path) -> None:
    rng = random.Random(6)
    store = Store.open(tmp_path / "w.db")
    calls = []

    def evaluate(item: Item) -> list:
        calls.append(item)
        if len(calls) == 2:
            raise RuntimeError("crash while evaluating")
        return []

    items = [Item(source="s", guid=str(i), content=text(article(rng))) for i in range(2)]
    with pytest.raises(RuntimeError):
        store.ingest(items, evaluate, alert_state=PENDING, stories=Stories())
    for table in ("items", "stories", "story_index", "story_bands"):
        assert store.conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table  # noqa: S608
    store.close()


def test_stories_config_and_per_are_validated(tmp_path: Path) -> None:
    write(tmp_path / "w.yaml", "stories: {window: soon, colour: blue}\n")
    with pytest.raises(Exception) as raised:
        load_config(tmp_path / "w.yaml", env={})
    messages = [str(p) for p in raised.value.problems]  # type: ignore[attr-defined]
    assert any("w.yaml:1 stories.window: invalid duration" in m for m in messages)
    assert any("stories.colour: unknown key" in m for m in messages)
    write(tmp_path / "r" / "r.yaml", "rules:\n  - id: r\n    per: feed\n    match: [x]\n")
    problems = [str(p) for p in load_rules(tmp_path / "r").problems]
    assert problems and "r.yaml:3 rules[0].per" in problems[0]


@pytest.mark.usefixtures("on_each_database")
def test_newsletter_issues_from_one_source_stay_apart(tmp_path: Path) -> None:
    rng = random.Random(7)
    store = Store.open(tmp_path / "w.db")
    engine = Engine(load_rules(write(tmp_path / "r.yaml", "rules: []\n")))
    issues = [Item(source="brief", guid=str(i), content=newsletter(rng)) for i in range(6)]
    outcomes = store.ingest(issues, engine.match, alert_state=PENDING, stories=Stories())
    assert len({o.story_id for o in outcomes}) == 6
    store.close()


@pytest.mark.usefixtures("on_each_database")
def test_poll_once_two_feeds_carrying_one_story_alert_once(tmp_path: Path) -> None:
    """The same story from a wire feed and an outlet's summary-only feed, through `poll --once`."""
    from xml.sax.saxutils import escape

    from tests.feedserver import feed_server
    from tests.test_poll import poll, setup

    rng = random.Random(8)
    base = article(rng)
    wire, outlet = text(base), excerpt(rng, base) + " artillery shells"

    def rss(guid: str, body: str) -> bytes:
        item = f"<item><guid>{guid}</guid><title>{guid}</title><description>{escape(body)}</description></item>"
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{item}</channel></rss>'.encode()

    with feed_server() as srv, receiver() as hook:
        urls = [
            ("wire", srv.static("/wire", rss("w1", wire + " artillery shells"))),
            ("outlet", srv.static("/o", rss("o1", outlet))),
        ]
        cfg = setup(tmp_path, urls, notify=f"notify:\n  - url: {hook.url}\n")
        write(cfg, cfg.read_text().replace("interval: 60}", "interval: 60, alert_existing: true}"))
        results = poll(cfg)
        assert all(r.ok for r in results.values())
        assert len(hook.messages()) == 1
    with store_of(tmp_path) as store:
        assert tuple(store.conn.execute("SELECT count(DISTINCT story_id), count(*) FROM items").fetchone()) == (1, 2)
        assert store.count("alert_copies") == 1


def test_a_huge_text_is_fingerprinted_from_its_start() -> None:
    """A feed item of a million characters is compared on its first 5,000 words: its article at the start
    is still found (as an excerpt of it)."""
    rng = random.Random(9)
    base = article(rng)
    huge = text(base) + " " + " ".join(f"filler{i}" for i in range(150_000))
    fp = fingerprint(huge)
    assert fp.words == 5000
    assert len(fp.hashes) == 5000 - 2
    assert related(fingerprint(light_edit(rng, base)), fp) == "excerpt"


# sketches made ahead, in a worker ----------------------------------------------------------------------


def story_pairs(seed: int, n: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(text(base := article(rng)), light_edit(rng, base)) for _ in range(n)]


def test_sketches_from_a_worker_are_the_ones_made_here() -> None:
    from watcher.sources.sandbox import ParsePool

    texts = [t for pair in story_pairs(20, 5) for t in pair] + ["too short", "", "北朝鮮の砲弾 " * 40]
    with ParsePool() as pool:
        ahead = pool.run("story sketches", sketch_and_find, texts, None)
    assert ahead.sketches == sketches(texts)
    assert ahead.found is None  # (no database to look in)
    assert [s.usable for s in ahead.sketches] == [True] * 10 + [False, False, True]


def place_in_two_batches(store: Any, engine: Engine, pairs: list[tuple[str, str]], *, given: bool) -> list[int]:
    """Batch 1: three originals, one with its copy; batch 2: the other two copies, an original and its copy,
    another original. The story of each item, in that order."""
    first = [pairs[0][0], pairs[1][0], pairs[2][0], pairs[2][1]]
    second = [pairs[0][1], pairs[1][1], pairs[3][0], pairs[3][1], pairs[4][0]]
    placed = []
    for n, batch in enumerate((first, second)):
        items = [Item(source="s", guid=f"{n}-{i}", content=body) for i, body in enumerate(batch)]
        made = sketches(batch) if given else []
        outcomes = store.ingest(items, engine.match, alert_state=PENDING, stories=Stories(), sketches=made)
        placed += [o.story_id for o in outcomes]
    return placed


def test_given_sketches_a_batch_finds_copies_of_earlier_batches_and_its_own(each_store: Any, tmp_path: Path) -> None:
    """A batch's band keys are looked up at once: copies of earlier batches' items and of the batch's own
    items are found all the same."""
    engine = Engine(load_rules(write(tmp_path / "r.yaml", "rules: []\n")))
    a0, a1, a2, a2c, b0, b1, b3, b3c, b4 = place_in_two_batches(each_store, engine, story_pairs(21, 6), given=True)
    assert (b0, b1, a2c, b3c) == (a0, a1, a2, b3)
    assert len({a0, a1, a2, b3, b4}) == 5


def test_given_sketches_the_store_places_items_as_without(tmp_path: Path) -> None:
    engine = Engine(load_rules(write(tmp_path / "r.yaml", "rules: []\n")))
    placed = {}
    for given in (True, False):
        store = Store.open(tmp_path / f"w-{given}.db")
        placed[given] = place_in_two_batches(store, engine, story_pairs(22, 6), given=given)
        store.close()
    assert placed[True] == placed[False]


def pipeline_run(
    tmp_path: Path, sketcher: Any, caplog: pytest.LogCaptureFixture, awaited: int = 2
) -> tuple[list[int], list[str]]:
    """Three batches of four through a pipeline whose sketches come from `sketcher` on its thread: four
    originals; two more and their copies; copies of the first four. The sketches of the first `awaited`
    batches are awaited before the batch after is read, so that they are ready when their batch is stored."""
    from watcher.pipeline import Pipeline

    (o0, c0), (o1, c1), (o2, c2), (o3, c3), (o4, c4), (o5, c5) = story_pairs(23, 6)
    bodies = [o0, o1, o2, o3, o4, o5, c4, c5, c3, c0, c1, c2]
    made: list[threading.Event] = [threading.Event() for _ in range(4)]
    calls: list[int] = []

    def wrapped(texts: list[str]) -> Ahead:
        try:
            return sketcher(texts)
        finally:
            if texts:
                made[len(calls)].set()
                calls.append(len(texts))

    def items() -> Any:
        for i, body in enumerate(bodies):
            if i % 4 == 3 and 0 < i // 4 <= awaited:
                assert made[i // 4 - 1].wait(10)
            yield Item(source="s", guid=str(i), content=body)

    store = Store.open(tmp_path / "w.db")
    engine = Engine(load_rules(write(tmp_path / "r.yaml", "rules: []\n")))
    pipeline = Pipeline(store, engine, stories=Stories(), sketcher=wrapped)
    with caplog.at_level("WARNING", logger="watcher"):
        pipeline.ingest(items(), alert_state=PENDING, batch_size=4)
    stories = [row[0] for row in store.conn.execute("SELECT story_id FROM items ORDER BY id")]
    store.close()
    return stories, [r.getMessage() for r in caplog.records]


def test_a_backfill_places_items_with_the_sketches_its_worker_made(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Sketches that say every text is too short to compare (so none joins a story) are what decide: they
    were used, not remade in the main process."""
    stories, _ = pipeline_run(tmp_path, lambda texts: Ahead([Sketch(0, (), b"") for _ in texts]), caplog)
    assert len(set(stories)) == 12
    (tmp_path / "real").mkdir()
    real, _ = pipeline_run(tmp_path / "real", lambda texts: Ahead(sketches(texts)), caplog)
    assert real[6:] == [real[4], real[5], real[3], real[0], real[1], real[2]]
    assert len(set(real)) == 6


def test_when_the_sketch_worker_fails_the_main_process_sketches(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from watcher.errors import ReadError

    asked: list[int] = []

    def failing(texts: list[str]) -> Ahead:
        asked.append(len(texts))
        if texts:
            raise ReadError("story sketches: the parser process died")
        return Ahead()

    stories, logged = pipeline_run(tmp_path, failing, caplog, awaited=1)
    assert stories[6:] == [stories[4], stories[5], stories[3], stories[0], stories[1], stories[2]]
    # The first batch, the second (asked for before the first failed): never asked again.
    assert asked == [4, 4]
    assert [m for m in logged if "story sketches: the parser process died" in m] == [
        "story sketches: the parser process died; stories are sketched in this process from here on"
    ]


def test_runs_merged_into_the_band_table_still_find_copies(
    each_store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Band keys are written a batch at a time as runs, merged into story_bands every MERGE_EVERY items: a
    copy is found whether its original's keys are in a run or merged, and nothing is lost in the merge."""
    import watcher.store.bandruns as bandruns

    monkeypatch.setattr(bandruns, "MERGE_EVERY", 12)  # 12 x 22 keys: more than one merge statement
    engine = Engine(load_rules(write(tmp_path / "r.yaml", "rules: []\n")))
    pairs = story_pairs(24, 14)
    ids, stories = [], []
    for n, (original, _) in enumerate(pairs):
        [out] = each_store.ingest(
            [Item(source="s", guid=f"o{n}", content=original)], engine.match, alert_state=PENDING, stories=Stories()
        )
        ids.append(out.item_id)
        stories.append(out.story_id)
    conn = each_store.conn
    # Twelve batches merged, the last two in runs of their own.
    assert conn.execute("SELECT count(*) FROM story_band_runs").fetchone()[0] == 2
    assert {row[0] // 64 for row in conn.execute("SELECT slot FROM story_bands")} == set(ids[:12])
    assert conn.execute("SELECT count(*) FROM story_bands").fetchone()[0] == 12 * 22
    assert indexed_items(conn) == set(ids)
    copies = [Item(source="t", guid=f"c{n}", content=copy) for n, (_, copy) in enumerate(pairs)]
    outcomes = each_store.ingest(copies, engine.match, alert_state=PENDING, stories=Stories())
    assert [o.story_id for o in outcomes] == stories


def test_an_older_index_is_merged_into_the_band_table(tmp_path: Path) -> None:
    """A database from before runs: the rows waiting in story_bands_new move to story_bands, and a copy of
    an item indexed there is still found."""
    from watcher.store.migrations import migrations

    rng = random.Random(25)
    base = article(rng)
    store = Store.open(tmp_path / "w.db")
    engine = Engine(load_rules(write(tmp_path / "r.yaml", "rules: []\n")))
    [first] = store.ingest(
        [Item(source="a", guid="1", content=text(base))], engine.match, alert_state=PENDING, stories=Stories()
    )
    with store.write() as conn:
        conn.execute("CREATE TABLE story_bands_new (key INTEGER, slot INTEGER, PRIMARY KEY (key, slot)) WITHOUT ROWID")
        conn.execute("CREATE TABLE story_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        for run_keys, run_slots in conn.execute("SELECT keys, slots FROM story_band_runs").fetchall():
            rows = zip(np.frombuffer(run_keys, "<i8").tolist(), np.frombuffer(run_slots, "<i8").tolist(), strict=True)
            conn.executemany("INSERT INTO story_bands_new VALUES (?, ?)", rows)
        conn.execute("DROP TABLE story_band_runs")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm011_story_band_runs'")
    migrations.apply(store.db)
    assert {row[0] // 64 for row in store.conn.execute("SELECT slot FROM story_bands")} == {first.item_id}
    assert store.conn.execute("SELECT count(*) FROM story_band_runs").fetchone() == (0,)
    later = Item(source="b", guid="2", content=light_edit(rng, base))
    [copy] = store.ingest([later], engine.match, alert_state=PENDING, stories=Stories())
    assert copy.story_id == first.story_id
    store.close()


def test_a_store_sees_the_runs_another_wrote_and_merged(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two daemons on one database: each keeps the runs it has read, and notices the runs the other wrote,
    merged (and replaced by new ones, whose ids are new: never those of runs it read before)."""
    import watcher.store.bandruns as bandruns
    from tests.conftest import location
    from watcher.store.open import open_store

    monkeypatch.setattr(bandruns, "MERGE_EVERY", 2)
    engine = Engine(load_rules(write(tmp_path / "r.yaml", "rules: []\n")))
    (o1, c1), (o2, _), (o3, c3) = story_pairs(26, 3)

    def ingest(store: Any, guid: str, body: str) -> int:
        item = Item(source=guid, guid=guid, content=body)
        [out] = store.ingest([item], engine.match, alert_state=PENDING, stories=Stories())
        return int(out.story_id)

    with open_store(location(database)) as a, open_store(location(database)) as b:
        first = ingest(a, "o1", o1)  # a run of its own
        ingest(a, "o2", o2)  # a reads that run; its own makes two items: both are merged into story_bands
        third = ingest(b, "o3", o3)  # a new run
        assert ingest(a, "c3", c3) == third  # in b's run, which a had never read
        assert ingest(a, "c1", c1) == first  # in story_bands


@pytest.mark.parametrize("batches", [1, 2])
def test_an_exact_copy_joins_its_original_s_story_in_its_batch_or_a_later_one(tmp_path: Path, batches: int) -> None:
    """A byte-for-byte copy from another source is the copy of its original, and in its story: whether the
    original came earlier in the same batch (its story not written yet) or in a batch before."""
    rng = random.Random(27)
    body = text(article(rng))
    store = Store.open(tmp_path / "w.db")
    rules = write(tmp_path / "r.yaml", "rules:\n  - id: any\n    match: {any: [the, a, of]}\n")
    engine = Engine(load_rules(rules))
    items = [Item(source="wire", guid="1", content=body), Item(source="outlet", guid="2", content=body)]
    parts = [items] if batches == 1 else [[items[0]], [items[1]]]
    outcomes = [o for part in parts for o in store.ingest(part, engine.match, alert_state=PENDING, stories=Stories())]
    assert [o.status for o in outcomes] == ["new", "copy"]
    assert outcomes[1].story_id == outcomes[0].story_id == outcomes[0].item_id
    assert outcomes[1].copies == ["any"]  # recorded with the original's alert
    row = store.conn.execute("SELECT size, first_item_id FROM stories WHERE id = ?", (outcomes[0].story_id,)).fetchone()
    assert tuple(row) == (2, outcomes[0].item_id)
    store.close()
