"""Entries as real feeds write them: none lost, none invented, dates and links read as meant."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import write
from watcher.items.model import Item
from watcher.sources.dates import parse_date
from watcher.sources.parse import parse_body
from watcher.sources.read import Skipped, read_paths


def read(path: Path) -> tuple[list[Item], dict[str, str]]:
    results = list(read_paths([path]))
    items = [r for r in results if isinstance(r, Item)]
    return items, {r.path.name: r.reason for r in results if isinstance(r, Skipped)}


@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize("version", ["1", "1.1"])
def test_json_feed_versions_under_both_schemes_are_feeds(scheme: str, version: str) -> None:
    doc = {
        "version": f"{scheme}://jsonfeed.org/version/{version}",
        "items": [{"id": "1", "title": "Add Task &amp; Sub Tasks", "content_text": "I&#039;m here"}],
    }
    [item] = parse_body(json.dumps(doc).encode(), source="s", url="https://example.org/feed.json", headers={})
    assert item.guid == "1"
    # Entities in titles are decoded; the text is left as written.
    assert item.title == "Add Task & Sub Tasks" and item.content == "I&#039;m here"


def test_unpaired_surrogates_in_json_become_replacement_characters_and_lose_no_entry(tmp_path: Path) -> None:
    """JSON may escape half a character (`\\ud800` with no partner): that entry and the others are kept."""
    body = (
        '{"version": "https://jsonfeed.org/version/1.1", "items": ['
        '{"id": "1", "title": "Half \\ud800 a pair", "content_text": "shells \\udfff", '
        '"authors": [{"name": "Ann \\udc00"}]}, '
        '{"id": "2", "title": "Whole \\ud83d\\ude00 pair", "content_text": "fine"}]}'
    )
    first, second = parse_body(body.encode(), source="s", url="https://example.org/feed.json", headers={})
    assert (first.title, first.content, first.author) == ("Half \ufffd a pair", "shells \ufffd", "Ann \ufffd")
    assert second.title == "Whole \U0001f600 pair"
    write(tmp_path / "feed.json", body)
    items, skipped = read(tmp_path)
    assert [i.guid for i in items] == ["1", "2"] and skipped == {}


def test_json_that_is_no_feed_and_has_no_item_fields_is_no_item(tmp_path: Path) -> None:
    write(tmp_path / "rss.json", json.dumps({"rss": {"channel": {"item": [{"title": "x"}]}}}))
    write(tmp_path / "plain.json", json.dumps([{"title": "A title", "content": "words"}, {"other": 1}]))
    items, skipped = read(tmp_path)
    assert [i.title for i in items] == ["A title"]
    assert skipped["rss.json"].startswith("no JSON objects with item fields")


def test_empty_entries_are_skipped_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    feed = (
        b'<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        b'xmlns:georss="http://www.georss.org/georss"><channel><title>T</title>'
        b"<item><itunes:duration>12:00</itunes:duration></item>"
        b"<item><georss:point>45 -71</georss:point></item>"
        b"<item><title>Real</title></item></channel></rss>"
    )
    items = parse_body(feed, source="s", url="https://example.org/f", headers={})
    assert [i.title for i in items] == ["Real"]
    assert "2 empty entries skipped" in caplog.text
    doc = {"version": "https://jsonfeed.org/version/1.1", "items": [{}, {"id": "7"}, {"title": "t"}]}
    items = parse_body(json.dumps(doc).encode(), source="s", url="u", headers={"Content-Type": "application/json"})
    assert [(i.guid, i.title) for i in items][0] == ("7", "")
    assert len(items) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wed, 16 Nov 2022 10:00:00 +0100", datetime(2022, 11, 16, 9, tzinfo=UTC)),
        ("mer, 16 nov 2022 10:00:00 +0100", datetime(2022, 11, 16, 9, tzinfo=UTC)),
        ("Seg, 24 Set 2018 08:00:00 GMT", datetime(2018, 9, 24, 8, tzinfo=UTC)),
        ("Di, 3. Okt 2023 12:00:00 +0200", datetime(2023, 10, 3, 10, tzinfo=UTC)),
        ("lun, 5 dic 2022 07:30:00 +0000", datetime(2022, 12, 5, 7, 30, tzinfo=UTC)),
        ("2024-01-02T03:04:05.678Z", datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)),
        ("2024-01-02", datetime(2024, 1, 2, tzinfo=UTC)),
        ("soon", None),
        ("32 nov 2022", None),
    ],
)
def test_dates_in_the_forms_feeds_write_them(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


def test_feed_dates_keep_fractions_and_read_other_languages() -> None:
    feed = (
        b'<rss version="2.0"><channel><title>T</title>'
        b"<item><guid>fr</guid><title>a</title><pubDate>mer, 16 nov 2022 10:00:00 +0100</pubDate></item>"
        b"</channel></rss>"
    )
    [item] = parse_body(feed, source="s", url="https://example.org/f", headers={})
    assert item.published == datetime(2022, 11, 16, 9, tzinfo=UTC)
    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><entry><id>x</id><title>a</title>'
        b"<updated>2024-01-02T03:04:05.678Z</updated></entry></feed>"
    )
    [item] = parse_body(atom, source="s", url="https://example.org/f", headers={})
    assert item.published == datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    doc = {
        "version": "https://jsonfeed.org/version/1",
        "items": [{"id": "1", "date_published": "Wed, 16 Nov 2022 10:00:00 GMT"}],
    }
    [item] = parse_body(json.dumps(doc).encode(), source="s", url="u", headers={})
    assert item.published == datetime(2022, 11, 16, 10, tzinfo=UTC)


def test_relative_links_in_a_saved_feed_resolve_against_its_own_link(tmp_path: Path) -> None:
    write(
        tmp_path / "saved.rss",
        '<rss version="2.0"><channel><title>T</title><link>https://news.example.org/world/</link>'
        "<item><title>a</title><link>/2024/story</link></item>"
        '<item xml:base="https://other.example.org/x/"><title>b</title><link>rel</link></item>'
        "</channel></rss>",
    )
    items, _ = read(tmp_path / "saved.rss")
    assert [i.link for i in items] == ["https://news.example.org/2024/story", "https://other.example.org/x/rel"]


def test_an_unreadable_date_is_kept_as_written_and_the_item_dated_when_first_seen(tmp_path: Path) -> None:
    from watcher.rules.engine import Engine
    from watcher.rules.model import RuleSet
    from watcher.store.sqlite import PENDING, Store

    feed = (
        b'<rss version="2.0"><channel><title>T</title>'
        b"<item><guid>odd</guid><title>a</title><pubDate>the day after tomorrow</pubDate></item>"
        b"<item><guid>none</guid><title>b</title></item></channel></rss>"
    )
    odd, none = parse_body(feed, source="s", url="https://example.org/f", headers={})
    assert (odd.published, odd.date_text) == (None, "the day after tomorrow")
    assert (none.published, none.date_text) == (None, None)
    with Store.open(tmp_path / "w.db") as store:
        list(store.ingest([odd, none], Engine(RuleSet()).match, alert_state=PENDING))
        rows = store.query("SELECT guid, published, date_text, first_seen FROM items ORDER BY guid")
    assert rows[0]["guid"] == "none" and rows[0]["published"] is None
    assert rows[1]["date_text"] == "the day after tomorrow" and rows[1]["published"] == rows[1]["first_seen"]


@pytest.mark.parametrize(
    "written", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "Fri, 31 Dec 9999 23:59:59 -1400"]
)
def test_a_date_with_no_utc_equivalent_is_kept_as_written_and_loses_no_entry(written: str) -> None:
    assert parse_date(written) is None
    body = (
        '<rss version="2.0"><channel><title>T</title>'
        f"<item><guid>1</guid><title>t</title><pubDate>{written}</pubDate></item>"
        "<item><guid>2</guid><title>ok</title></item></channel></rss>"
    ).encode()
    first, second = parse_body(body, source="s", url="https://example.org/f", headers={})
    assert (first.published, first.date_text, second.guid) == (None, written, "2")
