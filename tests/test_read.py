from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest

from tests.conftest import shared_path, write
from watcher.items.model import Item
from watcher.sources.read import Skipped, read_paths


def items(*paths: Path, **kw) -> list[Item]:
    return [r for r in read_paths(paths, **kw) if isinstance(r, Item)]


def skipped(*paths: Path, **kw) -> dict[str, str]:
    return {r.path.name: r.reason for r in read_paths(paths, **kw) if isinstance(r, Skipped)}


# text --------------------------------------------------------------------------------------------------


def test_read_txt_short_first_line_before_blank_is_title(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Title here\n\nBody text.\n")
    [item] = items(tmp_path / "a.txt")
    assert (item.title, item.content) == ("Title here", "Body text.")


def test_read_txt_without_blank_line_uses_file_name(tmp_path: Path) -> None:
    write(tmp_path / "b.txt", "First line\nSecond line\n")
    [item] = items(tmp_path / "b.txt")
    assert item.title == "b.txt"
    assert "First line" in item.content


def test_read_txt_long_first_line_is_not_a_title(tmp_path: Path) -> None:
    write(tmp_path / "c.txt", "word " * 100 + "\n\nbody\n")
    assert items(tmp_path / "c.txt")[0].title == "c.txt"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Kyiv\u2019s arms".encode(), "Kyiv\u2019s arms"),
        (b"\xef\xbb\xbf" + "Kyiv\u2019s arms".encode(), "Kyiv\u2019s arms"),
        ("\ufeffKyiv\u2019s arms".encode("utf-16-le"), "Kyiv\u2019s arms"),
        ("\ufeffKyiv\u2019s arms".encode("utf-16-be"), "Kyiv\u2019s arms"),
        ("Kyiv\u2019s caf\u00e9".encode("cp1252"), "Kyiv\u2019s caf\u00e9"),
    ],
)
def test_read_txt_encodings(tmp_path: Path, data: bytes, expected: str) -> None:
    (tmp_path / "e.txt").write_bytes(data)
    assert items(tmp_path / "e.txt")[0].content == expected


def test_read_md_first_heading_and_front_matter(tmp_path: Path) -> None:
    write(
        tmp_path / "m.md",
        """
        ---
        link: https://example.org/x
        published: 2024-11-02
        ---
        Intro line
        ## The heading
        See [the report](https://example.org/r) now.
        """,
    )
    [item] = items(tmp_path / "m.md")
    assert item.title == "The heading"
    assert item.link == "https://example.org/x"
    assert item.published is not None and item.published.isoformat() == "2024-11-02T00:00:00+00:00"
    assert "See the report now." in item.content
    assert "example.org/r" not in item.content


def test_read_html_visible_text_only(tmp_path: Path) -> None:
    write(
        tmp_path / "p.html",
        """
        <html><head><title>Page &amp; title</title><style>p {color: red}</style>
        <script>var secret = "hidden words";</script></head>
        <body><h1>Heading</h1><p>Caf&eacute; &#8220;quoted&#8221;</p><script>more()</script>
        <noscript>no</noscript><p>Second</p></body></html>
        """,
    )
    [item] = items(tmp_path / "p.html")
    assert item.title == "Page & title"
    assert item.content == "Heading\nCaf\u00e9 \u201cquoted\u201d\nSecond"
    assert "hidden" not in item.content and "color" not in item.content


def test_read_html_h1_is_title_without_title_tag(tmp_path: Path) -> None:
    write(tmp_path / "h.htm", "<body><h1>Big <b>news</b></h1><p>text</p></body>")
    assert items(tmp_path / "h.htm")[0].title == "Big news"


def test_read_json_feed(tmp_path: Path) -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [
            {
                "id": "1",
                "url": "https://e.org/1",
                "title": "One",
                "content_html": "<p>Hello <b>there</b></p>",
                "date_published": "2024-01-02T03:04:05Z",
                "authors": [{"name": "Ann"}],
            },
            {"id": "2", "title": "Two", "content_text": "Plain"},
        ],
    }
    (tmp_path / "f.json").write_text(json.dumps(feed))
    one, two = items(tmp_path / "f.json")
    assert (one.guid, one.link, one.title, one.content, one.author) == (
        "1",
        "https://e.org/1",
        "One",
        "Hello there",
        "Ann",
    )
    assert one.published is not None and one.published.isoformat() == "2024-01-02T03:04:05+00:00"
    assert (two.guid, two.content) == ("2", "Plain")


def test_read_json_plain_objects(tmp_path: Path) -> None:
    objs = [{"title": "A", "content": "x", "link": "https://e.org/a", "guid": "g-a", "published": "2024-05-06"}]
    (tmp_path / "p.json").write_text(json.dumps(objs))
    [item] = items(tmp_path / "p.json")
    assert (item.title, item.content, item.link, item.guid) == ("A", "x", "https://e.org/a", "g-a")


def test_read_saved_feed_gives_one_item_per_entry(tmp_path: Path) -> None:
    write(
        tmp_path / "f.rss",
        """
        <rss version="2.0"><channel><title>T</title>
        <item><title>One</title><guid>g1</guid>
        <description>&lt;p&gt;First &amp;amp; best&lt;/p&gt;</description></item>
        <item><title>Two</title><link>https://e.org/2</link></item>
        <item><title>One again</title><guid>g1</guid></item>
        </channel></rss>
        """,
    )
    got = items(tmp_path / "f.rss")
    # Two different entries claim g1: both are kept, told apart by a digest of their content.
    assert [(i.guid, i.title) for i in got] == [("g1", "One"), ("https://e.org/2", "Two"), ("g1", "One again")]
    assert got[0].variant and got[2].variant and got[0].variant != got[2].variant and got[1].variant is None
    assert got[0].summary == "First & best"


# skips -------------------------------------------------------------------------------------------------


def test_skips_empty_binary_large_unknown(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_bytes(b"  \n ")
    (tmp_path / "bin.txt").write_bytes(b"abc\x00def")
    (tmp_path / "big.txt").write_bytes(b"x" * 2000)
    (tmp_path / "pic.png").write_bytes(b"\x89PNG")
    (tmp_path / "bad.json").write_text("{nope")
    reasons = skipped(tmp_path, max_bytes=1000)
    assert reasons == {
        "bad.json": "invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        "big.txt": "larger than 1000 bytes",
        "bin.txt": "binary file",
        "blank.txt": "empty file",
        "empty.txt": "empty file",
        "pic.png": "unknown file type .png",
    }
    assert reasons["bad.json"].startswith("invalid JSON")


def test_skips_fifo_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    assert skipped(tmp_path) == {"pipe.txt": "not a regular file"}


def test_skips_symlink_leaving_directory_but_follows_inner_one(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside" / "secret.txt", "secret\n")
    root = tmp_path / "root"
    write(root / "real.txt", "inside\n")
    (root / "leak.txt").symlink_to(outside)
    (root / "alias.txt").symlink_to(root / "real.txt")
    (root / "dirlink").symlink_to(tmp_path / "outside")
    (root / "loop").symlink_to(root)
    results = list(read_paths([root]))
    reasons = {r.path.name: r.reason for r in results if isinstance(r, Skipped)}
    assert reasons == {"leak.txt": "symlink leaves the directory", "dirlink": "symlink leaves the directory"}
    contents = sorted(r.content for r in results if isinstance(r, Item))
    assert contents == ["inside", "inside"]


def test_dangling_symlink_and_missing_path_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    assert skipped(tmp_path)["gone.txt"].startswith("cannot read")
    assert skipped(tmp_path / "missing")["missing"].startswith("cannot read")


def test_directories_are_walked_in_stable_order(tmp_path: Path) -> None:
    for name in ["b/2.txt", "a/9.txt", "a/10.txt", "c.txt", ".hidden.txt", ".git/x.txt"]:
        write(tmp_path / name, f"{name}\n")
    got = [i.path for i in items(tmp_path)]
    assert [Path(p).relative_to(tmp_path).as_posix() for p in got] == [
        "c.txt",
        "a/10.txt",
        "a/9.txt",
        "b/2.txt",
    ]


# the shared corpora ------------------------------------------------------------------------------------


def test_reference_articles_read() -> None:
    got = items(shared_path("seeds"))
    assert len(got) == 2
    assert all("North Korea" in i.content for i in got)


def test_feedparser_corpus_reads_without_exception() -> None:
    root = shared_path("external", "feedparser-tests")
    results = list(read_paths([root]))
    assert len(results) > 1500
    assert not [r for r in results if isinstance(r, Skipped) and r.reason.startswith("cannot parse")]


def test_feedparser_wellformed_feeds_yield_their_entries() -> None:
    root = shared_path("external", "feedparser-tests", "wellformed")
    missing = []
    for path in sorted(root.rglob("*.xml")):
        head = path.read_bytes()[:2000].decode("utf-8", "replace")
        expect = re.search(r"Expect:(.*)", head)
        if not expect or "entries[0]" not in expect.group(1) or "len(entries) == 0" in expect.group(1):
            continue
        if not items(path):
            missing.append(path.name)
    # Entries that carry nothing but one extension element (wfw:comment, dc:publisher, expirationDate) are
    # skipped as empty by design: nothing in them can be read or matched.
    extension_only = {"wfw_comment", "wfw_commentRSS", "dc_publisher", "expirationDate"}
    assert [name for name in missing if not any(f"item_{e}" in name for e in extension_only)] == []
    assert len(missing) == 10


def test_a_file_left_out_is_said_once_per_reason_across_reads(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from watcher.backfill import load_engine
    from watcher.config import load_config
    from watcher.poll import Poller
    from watcher.sources.sandbox import ParsePool
    from watcher.store.feeds import all_feeds, sync
    from watcher.store.sqlite import Store

    write(tmp_path / "rules" / "r.yaml", "rules:\n  - id: x\n    title: X\n    match: [shells]\n")
    inbox = tmp_path / "inbox"
    (inbox / "empty.txt").parent.mkdir(parents=True)
    (inbox / "empty.txt").write_text("")
    (inbox / "report.docx").write_bytes(b"PK\x03\x04")
    write(inbox / "ok.txt", "Shells\n\nArtillery shells by rail.")
    cfg = write(tmp_path / "watcher.yaml", "database: w.db\nrules: rules\nseeds: [inbox]\n")
    config = load_config(cfg, env={})
    with Store.open(config.database) as store, ParsePool() as pool:
        sync(store, config)
        poller = Poller(config, store, load_engine(config), parse_pool=pool)
        state = next(s for s in all_feeds(store) if s.name == "inbox")

        def skipped_lines() -> list[str]:
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="watcher"):
                poller.poll_dir(state)
            return sorted(r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped"))

        first = skipped_lines()
        assert len(first) == 2 and "empty.txt: empty file" in first[0] and "unknown file type .docx" in first[1]
        assert skipped_lines() == []  # the next polls say nothing new
        (inbox / "empty.txt").write_text("Now with text about shells.")
        assert skipped_lines() == []
        (inbox / "empty.txt").write_text("")
        again = skipped_lines()  # it was read in between: left out again is news
        assert len(again) == 1 and "empty.txt: empty file" in again[0]
        poller.close()
    # Without a memory of earlier reads (backfill, match), every read says it.
    with caplog.at_level(logging.WARNING, logger="watcher"):
        caplog.clear()
        list(read_paths([inbox]))
        list(read_paths([inbox]))
    assert sum("unknown file type" in r.getMessage() for r in caplog.records) == 2


@pytest.mark.parametrize(("size", "kept"), [(300, True), (2000, False)])
def test_a_file_that_grows_after_its_size_is_read_is_read_whole_up_to_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, kept: bool
) -> None:
    """A file is read as long as it is (not as long as the cap: that allocated the cap per file); one that
    grew since its size was taken is read on, and left out past the cap."""
    import watcher.sources.read as read

    body = "Growing\n\n" + "x" * size
    write(tmp_path / "grows.txt", body)
    real_fstat = os.fstat

    def older_size(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid, 10, 0, 0, 0))

    monkeypatch.setattr(read.os, "fstat", older_size)
    [result] = list(read_paths([tmp_path], max_bytes=1000))
    if kept:
        assert isinstance(result, Item) and result.content == "x" * size
    else:
        assert isinstance(result, Skipped) and result.reason == "larger than 1000 bytes"
