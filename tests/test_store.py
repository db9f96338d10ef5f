from __future__ import annotations

import random
import sqlite3
import string
import threading
from pathlib import Path

import pytest

from tests.conftest import write
from watcher.errors import StoreError, WatcherError
from watcher.items.dedup import item_key, normalize_link
from watcher.items.model import Item
from watcher.rules.engine import Engine
from watcher.rules.load import load_rules
from watcher.store.search import search_items
from watcher.store.sqlite import COPY, DUPLICATE, NEW, SUPPRESSED, UPDATED, Store

LONG = "Pyongyang sent artillery shells to Russia for use against Ukraine, officials said on Monday."


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("HTTPS://Example.ORG:443/a?utm_source=rss&id=7#top", "https://example.org/a?id=7"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("http://example.org:8080/a", "http://example.org:8080/a"),
        ("https://example.org/a?fbclid=x&gclid=y", "https://example.org/a"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org/A/Path?b=2&a=1", "https://example.org/A/Path?b=2&a=1"),
    ],
)
def test_normalize_link(url: str, normalized: str) -> None:
    assert normalize_link(url) == normalized


def test_item_key_prefers_guid_then_link_then_path_then_hash() -> None:
    assert item_key(Item(source="s", guid="g", link="http://e.org/x")) == "guid:g"
    assert item_key(Item(source="s", link="HTTP://E.org/x?utm_medium=a")) == "link:http://e.org/x"
    assert item_key(Item(source="s", path="/d/a.txt")) == "path:/d/a.txt"
    a = item_key(Item(source="s", title="t", content="c"))
    assert a.startswith("hash:") and a != item_key(Item(source="s", title="t", content="d"))


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    write(
        tmp_path / "rules" / "r.yaml",
        """
        rules:
          - id: shells
            match: [artillery shells]
          - id: shells-updates
            updates: true
            match: [artillery shells]
          - id: drones
            match: [drones]
        """,
    )
    return Engine(load_rules(tmp_path / "rules"))


@pytest.fixture
def store(each_store: Store) -> Store:
    return each_store


def ingest(store: Store, engine: Engine, *items: Item):
    return store.ingest(list(items), engine.match, alert_state=SUPPRESSED)


def alerts(store: Store) -> list[tuple[str, int, int]]:
    rows = store.query("SELECT rule_id, item_id, item_version FROM alerts ORDER BY id")
    return [(r["rule_id"], r["item_id"], r["item_version"]) for r in rows]


def test_new_then_duplicate_by_guid(store: Store, engine: Engine) -> None:
    [first] = ingest(store, engine, Item(source="a", guid="1", content=LONG))
    assert first.status == NEW and sorted(first.alerts) == ["shells", "shells-updates"]
    [again] = ingest(store, engine, Item(source="a", guid="1", content=LONG))
    assert again.status == DUPLICATE and again.alerts == []
    assert store.count("items") == 1 and len(alerts(store)) == 2


def test_an_entry_claiming_a_huge_guid_or_link_is_stored_and_kept_once(store: Store, engine: Engine) -> None:
    """Random text (an index cannot compress it) far past what PostgreSQL indexes in a row."""
    rng = random.Random(3)
    huge = "".join(rng.choice(string.ascii_letters) for _ in range(20_000))
    items = [Item(source="a", guid=huge, title="G"), Item(source="a", link=f"https://example.org/{huge}", title="L")]
    assert [o.status for o in ingest(store, engine, *items)] == [NEW, NEW]
    assert [o.status for o in ingest(store, engine, *items)] == [DUPLICATE, DUPLICATE]
    assert item_key(Item(source="a", guid="g" * 100)) == "guid:" + "g" * 100
    assert item_key(items[0]).startswith("guid~sha256:") and len(item_key(items[0])) < 100


def test_a_million_characters_of_distinct_words_are_stored_and_searched(store: Store, engine: Engine) -> None:
    """As much text as a field keeps (1,000,000 characters), in words no index can share: PostgreSQL's
    tsvector holds at most 1 MB."""
    rng = random.Random(5)
    words = " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(7)) for _ in range(125_000))
    item = Item(source="a", guid="big", title="Big", content="zeppelin " + words[:999_990])
    assert [o.status for o in ingest(store, engine, item)] == [NEW]
    assert [r["title"] for r in search_items(store, "zeppelin")] == ["Big"]


def test_same_link_with_tracking_parameters_is_one_item(store: Store, engine: Engine) -> None:
    ingest(store, engine, Item(source="a", link="https://e.org/x?utm_source=rss", content="one"))
    [out] = ingest(store, engine, Item(source="a", link="HTTPS://E.ORG/x#frag", content="one"))
    assert out.status == DUPLICATE


def test_same_guid_in_two_sources_are_two_items(store: Store, engine: Engine) -> None:
    outs = ingest(store, engine, Item(source="a", guid="1", content="x"), Item(source="b", guid="1", content="y"))
    assert [o.status for o in outs] == [NEW, NEW]


def test_identical_text_from_another_source_is_a_copy_and_alerts_once(store: Store, engine: Engine) -> None:
    outs = ingest(
        store,
        engine,
        Item(source="wire", guid="w1", title="Shells", content=LONG),
        Item(source="paper", link="https://paper.example/story", title="shells", content=LONG.replace(" ", "  ")),
    )
    assert [o.status for o in outs] == [NEW, COPY]
    assert outs[1].alerts == []
    assert {a[1] for a in alerts(store)} == {outs[0].item_id}


def test_short_identical_texts_are_not_copies(store: Store, engine: Engine) -> None:
    outs = ingest(
        store, engine, Item(source="a", guid="1", title="Untitled"), Item(source="b", guid="2", title="Untitled")
    )
    assert [o.status for o in outs] == [NEW, NEW]


def test_changed_item_is_an_update_and_alerts_only_where_asked(store: Store, engine: Engine) -> None:
    [first] = ingest(store, engine, Item(source="a", guid="1", content=LONG))
    [upd] = ingest(store, engine, Item(source="a", guid="1", content=LONG + " Drones too."))
    assert upd.status == UPDATED and upd.item_id == first.item_id
    # 'shells' alerted before and does not ask for updates; 'shells-updates' does; 'drones' is a new match.
    assert sorted(upd.alerts) == ["drones", "shells-updates"]
    assert sorted(alerts(store)) == sorted(
        [("shells", 1, 1), ("shells-updates", 1, 1), ("shells-updates", 1, 2), ("drones", 1, 2)]
    )


def test_fts_follows_inserts_and_updates(store: Store, engine: Engine) -> None:
    ingest(store, engine, Item(source="a", guid="1", title="Old title", content="zebra crossing"))
    assert [r["title"] for r in search_items(store, "zebra")] == ["Old title"]
    ingest(store, engine, Item(source="a", guid="1", title="New title", content="giraffe crossing"))
    assert search_items(store, "zebra") == []
    assert [r["title"] for r in search_items(store, "giraffe")] == ["New title"]
    if store.dialect == "sqlite":  # FTS5's external-content index, kept by hand (PostgreSQL's is generated)
        store.conn.execute("INSERT INTO items_fts(items_fts) VALUES ('integrity-check')")


def test_an_entry_changed_twice_within_one_batch_is_indexed_once_as_it_ends(store: Store, engine: Engine) -> None:
    """Two files of one backfill with the same guid, then a third: updates of an item not yet in the index."""
    versions = [Item(source="a", guid="1", title=f"Title {word}", content=f"{word} crossing") for word in "xyz"]
    outcomes = store.ingest(versions, engine.match, alert_state=SUPPRESSED)
    assert [o.status for o in outcomes] == [NEW, UPDATED, UPDATED]
    assert search_items(store, "x") == [] and search_items(store, "y") == []
    assert [r["title"] for r in search_items(store, "z")] == ["Title z"]
    ingest(store, engine, Item(source="a", guid="1", title="Title w", content="w crossing"))
    assert [r["title"] for r in search_items(store, "crossing")] == ["Title w"]
    if store.dialect == "sqlite":
        store.conn.execute("INSERT INTO items_fts(items_fts) VALUES ('integrity-check')")


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ('"unbalanced', True),
        ("a OR", True),
        ("NEAR(", True),
        ("col:on", True),
        ("*", False),
        ("'; DROP TABLE items; --", False),
        ("zebra OR unbalanced", False),  # OR is a word to look for, not an operator
    ],
)
def test_search_reads_user_syntax_as_words(store: Store, engine: Engine, query: str, found: bool) -> None:
    ingest(store, engine, Item(source="a", guid="1", content="col:on NEAR( unbalanced a OR b"))
    assert [r["id"] for r in search_items(store, query)] == ([1] if found else [])
    assert store.count("items") == 1


def test_a_search_of_too_many_words_is_refused_in_one_line(store: Store, engine: Engine) -> None:
    ingest(store, engine, Item(source="a", guid="1", title="T", content="zebra crossing"))
    assert [r["title"] for r in search_items(store, " ".join(["zebra"] * 64))] == ["T"]
    with pytest.raises(WatcherError, match="a search of 20000 words and phrases: at most 64"):
        search_items(store, "x " * 20_000)


def test_search_phrase(store: Store, engine: Engine) -> None:
    ingest(store, engine, Item(source="a", guid="1", content="artillery shells arrived"))
    ingest(store, engine, Item(source="a", guid="2", content="shells of artillery"))
    assert [r["id"] for r in search_items(store, '"artillery shells"')] == [1]
    assert len(search_items(store, "artillery shells")) == 2


def test_a_failed_batch_leaves_nothing_behind(store: Store, engine: Engine) -> None:
    def explode(item: Item):
        if item.guid == "2":
            raise RuntimeError("boom")
        return engine.match(item)

    with pytest.raises(RuntimeError):
        store.ingest(
            [Item(source="new-src", guid="1", content=LONG), Item(source="new-src", guid="2")],
            explode,
            alert_state=SUPPRESSED,
        )
    assert store.count("items") == 0 and store.count("alerts") == 0 and store.count("sources") == 0
    [out] = ingest(store, engine, Item(source="new-src", guid="1", content=LONG))
    assert out.status == NEW


def test_concurrent_writers_wait_instead_of_failing(tmp_path: Path, engine: Engine) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        s = Store.open(tmp_path / "w.db")
        try:
            for b in range(20):
                ingest(s, engine, *[Item(source=f"s{n}", guid=f"{b}-{i}", content="text") for i in range(20)])
        except BaseException as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)
        finally:
            s.close()

    Store.open(tmp_path / "w.db").close()
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    s = Store.open(tmp_path / "w.db")
    assert s.count("items") == 3 * 20 * 20
    s.close()


def test_database_is_wal_with_full_sync(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.db") as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_reopening_keeps_data_and_applies_no_migration_twice(tmp_path: Path, engine: Engine) -> None:
    s = Store.open(tmp_path / "w.db")
    ingest(s, engine, Item(source="a", guid="1", content=LONG))
    s.close()
    s = Store.open(tmp_path / "w.db")
    applied = s.count("_sqlite_migrations")
    s.close()
    s = Store.open(tmp_path / "w.db")
    assert s.count("items") == 1
    assert s.count("_sqlite_migrations") == applied >= 2
    s.close()


def test_garbage_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="corrupt or not a SQLite database; refusing|corrupt or not a SQLite"):
        Store.open(path)
    assert path.read_bytes() == b"this is not a database" * 100


def test_damaged_database_is_refused(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "w.db"
    s = Store.open(path)
    ingest(s, engine, *[Item(source="a", guid=str(i), content=LONG + str(i) * 500) for i in range(200)])
    s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    s.close()
    data = bytearray(path.read_bytes())
    for offset in range(8192, len(data) - 4096, 4096):  # scribble over every page but the first two
        data[offset + 100 : offset + 600] = b"\xff" * 500
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="corrupt"):
        Store.open(path)


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=r"belongs to another program \(users\)"):
        Store.open(path)


def test_open_copy_writes_nothing(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "w.db"
    s = Store.open(path)
    ingest(s, engine, Item(source="a", guid="1", content=LONG))
    s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    s.close()
    before = path.read_bytes()
    copy = Store.open_copy(path)
    [dup, new] = ingest(copy, engine, Item(source="a", guid="1", content=LONG), Item(source="a", guid="2", content="x"))
    assert (dup.status, new.status) == (DUPLICATE, NEW)
    copy.close()
    assert path.read_bytes() == before
    assert not Store.open_copy(tmp_path / "absent.db").count("items")
    assert not (tmp_path / "absent.db").exists()


def test_a_guid_with_surrounding_white_space_is_the_same_guid(store: Store, engine: Engine) -> None:
    [first] = ingest(store, engine, Item(source="a", guid="  urn:x:1\n", content=LONG))
    [again] = ingest(store, engine, Item(source="a", guid="urn:x:1", content=LONG))
    assert (first.status, again.status, again.item_id) == (NEW, DUPLICATE, first.item_id)


def test_a_copy_of_a_copy_points_at_the_original(store: Store, engine: Engine) -> None:
    outs = ingest(
        store,
        engine,
        Item(source="wire", guid="w1", title="Shells", content=LONG),
        Item(source="paper", guid="p1", title="Shells", content=LONG),
        Item(source="blog", guid="b1", title="Shells", content=LONG),
    )
    assert [o.status for o in outs] == [NEW, COPY, COPY]
    rows = store.query("SELECT id, duplicate_of FROM items ORDER BY id")
    assert [r["duplicate_of"] for r in rows] == [None, outs[0].item_id, outs[0].item_id]
    assert {a[1] for a in alerts(store)} == {outs[0].item_id}
