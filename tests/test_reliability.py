"""Defects that ship quietly: shared mutable state, the collector paused for the whole process."""

from __future__ import annotations

import gc
import threading

from tests.conftest import hits
from watcher.items.model import Item
from watcher.rules.load import collection_paused


def test_collector_is_paused_only_on_the_main_thread() -> None:
    seen: dict[str, bool] = {}

    def on_worker() -> None:
        with collection_paused():
            seen["worker"] = gc.isenabled()

    assert gc.isenabled()
    with collection_paused():
        seen["main"] = gc.isenabled()
    thread = threading.Thread(target=on_worker)
    thread.start()
    thread.join()
    assert seen == {"main": False, "worker": True}
    assert gc.isenabled()


def test_no_occurrences_is_a_fresh_list_each_time(make_engine) -> None:
    engine = make_engine(
        "rules:\n  - id: r\n    match: {all: [alpha, {regex: 'beta[0-9]+'}]}\n"
        "  - id: s\n    match: {any: [{regex: 'gamma[0-9]+'}, delta]}\n"
    )
    doc = engine.scan(Item(source="s", content="alpha delta"))
    regex_nodes = [n for c in engine.rules for n in _leaves(c.node) if type(n).__name__ == "RegexNode"]
    first = regex_nodes[0].occurrences(doc)
    first.append((0, 0, 1))
    assert regex_nodes[1].occurrences(doc) == []
    assert hits(engine, "alpha delta") == ["s"]


def _leaves(node):  # type: ignore[no-untyped-def]
    children = getattr(node, "children", None)
    if not children:
        yield node
        return
    for child in children:
        yield from _leaves(child)


def test_metrics_keep_every_digit() -> None:
    from watcher.daemon.health import Metrics

    metrics = Metrics()
    metrics.counters["polls"], metrics.counters["items"] = 1234567, 1234568
    metrics.parse_seconds.observe(0.3)
    text = metrics.render({"outbox_queue_depth": 12345678901})
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert float(values["watcher_polls_total"]) == 1234567
    assert float(values["watcher_items_total"]) == 1234568
    assert float(values["watcher_outbox_queue_depth"]) == 12345678901
    assert float(values["watcher_parse_seconds_count"]) == 1
    assert float(values["watcher_alert_latency_seconds_count"]) == 0
