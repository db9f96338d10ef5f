from __future__ import annotations

import pytest

from watcher.errors import ReadError
from watcher.sources.parse import defuse, feed_items

RSS_BODY = b"""<rss version="2.0"><channel><title>T</title>
<item><title>Entry &lol9;</title><guid>g1</guid><description>Text &big; end</description></item>
</channel></rss>"""


def _all_text(items) -> str:
    return " ".join(f"{i.title} {i.summary} {i.content} {i.link} {i.guid}" for i in items)


def test_billion_laughs_on_the_xml_declaration_line_is_defused() -> None:
    lol = b'<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)
    )
    data = b'<?xml version="1.0"?><!DOCTYPE rss [' + lol + b"]>" + RSS_BODY
    items = feed_items(data, source="t")
    assert [i.guid for i in items] == ["g1"]
    assert len(_all_text(items)) < 1000


def test_internal_entity_referenced_ten_thousand_times_is_not_expanded() -> None:
    big = b"A" * 4000
    refs = b"&big;" * 10_000
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY big "' + big + b'">\n]>\n'
        b'<rss version="2.0"><channel><title>T</title><item><guid>g</guid><description>'
        + refs
        + b"</description></item></channel></rss>"
    )
    items = feed_items(data, source="t")
    assert len(items) == 1
    assert "AAAA" not in _all_text(items)
    assert len(_all_text(items)) < 100_000


def test_external_entity_is_never_read() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>&xxe;</title><item><title>x &xxe;</title><guid>g</guid>'
        b"<description>&xxe;</description></item></channel></rss>"
    )
    items = feed_items(data, source="t")
    assert "root:" not in _all_text(items)


def test_defuse_keeps_quoted_angle_brackets_inside_declarations_out() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "]>"><!ENTITY b "<b>">]><rss/>'
    assert defuse(data) == b'<?xml version="1.0"?><rss/>'


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-16"])
def test_utf16_feed_is_parsed(encoding: str) -> None:
    text = (
        '<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel><item><title>Caf\u00e9</title>'
        "<guid>g</guid></item></channel></rss>"
    )
    items = feed_items(text.encode(encoding), source="t")
    assert [i.title for i in items] == ["Caf\u00e9"]


@pytest.mark.parametrize("data", [b"", b"<html><body><p>hello</p></body></html>", b"just text", b"{}"])
def test_not_a_feed_is_an_error(data: bytes) -> None:
    with pytest.raises(ReadError, match="not a feed"):
        feed_items(data, source="t", name="http://example.org/feed")


def test_entry_without_guid_or_link_gets_a_content_hash() -> None:
    data = b'<rss version="2.0"><channel><item><title>A</title></item><item><title>B</title></item></channel></rss>'
    a, b = feed_items(data, source="t")
    assert a.guid and a.guid.startswith("sha256:") and a.guid != b.guid


def test_published_dates_are_utc() -> None:
    data = (
        b'<rss version="2.0"><channel><item><guid>g</guid><pubDate>Tue, 05 Nov 2024 10:15:00 +0200</pubDate>'
        b"</item></channel></rss>"
    )
    [item] = feed_items(data, source="t")
    assert item.published is not None and item.published.isoformat() == "2024-11-05T08:15:00+00:00"


def test_relative_links_resolve_but_guids_stay_as_written() -> None:
    data = (
        b'<rss version="2.0"><channel><item><guid isPermaLink="false">42</guid><link>/story/42</link></item>'
        b"</channel></rss>"
    )
    [item] = feed_items(data, source="t", url="https://example.org/feed.xml")
    assert (item.guid, item.link) == ("42", "https://example.org/story/42")


@pytest.mark.parametrize(
    "ref",
    ["&#xD800;", "&#57343;", "&#x110000;", "&#99999999999;", "&#" + "9" * 6000 + ";"],
)
def test_a_character_reference_to_no_character_is_a_replacement_character_not_a_lost_feed(ref: str) -> None:
    body = (
        f'<rss version="2.0"><channel><title>T</title><item><guid>1</guid><title>A {ref} b</title></item>'
        "<item><guid>2</guid><title>&#x1F600; &#x0000000041;</title></item></channel></rss>"
    ).encode()
    first, second = feed_items(body, source="s", url="https://example.org/f")
    assert (first.title, second.title) == ("A \ufffd b", "\U0001f600 A")
