from __future__ import annotations

import pytest

from watcher.errors import ReadError
from watcher.sources.sandbox import ParsePool

RSS = b'<rss version="2.0"><channel><item><guid>1</guid><title>One</title></item></channel></rss>'


def test_parse_in_a_worker_process() -> None:
    with ParsePool(1, deadline=30) as pool:
        [item] = pool.parse(RSS, source="s", url="http://example.org/f", headers={})
        assert (item.guid, item.title, item.source) == ("1", "One", "s")


def test_a_parse_past_its_deadline_is_killed_and_the_pool_recovers() -> None:
    # A worker cannot even start within a millisecond: the deadline passes, the worker is killed.
    with ParsePool(1, deadline=0.001) as pool:
        with pytest.raises(ReadError, match="parsing took longer than"):
            pool.parse(RSS, source="s", url="http://example.org/f", headers={})
        pool.deadline = 30
        assert len(pool.parse(RSS, source="s", url="http://example.org/f", headers={})) == 1


def test_a_parse_over_the_memory_limit_fails_alone() -> None:
    huge = (
        b'<rss version="2.0"><channel><item><guid>1</guid><description>'
        + b"x" * 60_000_000
        + b"</description></item></channel></rss>"
    )
    with ParsePool(1, memory_limit=200 * 2**20, deadline=60) as pool:
        with pytest.raises(ReadError, match="parsing needed more than 200 MB"):
            pool.parse(huge, source="s", url="http://example.org/f", headers={})
        assert len(pool.parse(RSS, source="s", url="http://example.org/f", headers={})) == 1
