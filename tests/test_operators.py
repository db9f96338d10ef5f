"""Every operator and the prefilter against fixed expected results: not only agreement with `explain`,
which shares the nodes' own `holds`."""

from __future__ import annotations

import pytest

from tests.conftest import hits
from watcher.items.model import Item

CASES = [
    # (condition, text, matches)
    ("[alpha]", "alpha here", True),
    ("[alpha]", "gamma", False),
    ("{all: [alpha, beta]}", "alpha and beta", True),
    ("{all: [alpha, beta]}", "alpha alone", False),
    ("{any: [alpha, beta]}", "beta alone", True),
    ("{any: [alpha, beta]}", "gamma", False),
    ("{none: [alpha, beta]}", "gamma", True),
    ("{none: [alpha, beta]}", "alpha here", False),
    ("{none: [alpha, beta]}", "beta here", False),
    ("{none: [alpha, beta]}", "alpha and beta", False),
    # A satisfiable child with no key of its own: the prefilter must not drop the rule.
    ("{at_least: 1, of: [alpha, {none: [beta]}]}", "gamma", True),
    ("{at_least: 1, of: [alpha, {none: [beta]}]}", "beta", False),
    ("{at_least: 1, of: [alpha, {none: [beta]}]}", "alpha beta", True),
    ("{any: [alpha, {none: [beta]}]}", "gamma", True),
    ("{any: [alpha, {none: [beta]}]}", "beta", False),
    ("{at_least: 2, of: [alpha, beta, gamma]}", "alpha gamma", True),
    ("{at_least: 2, of: [alpha, beta, gamma]}", "alpha alpha", False),
    ("{at_least: 3, of: [alpha, beta, gamma]}", "alpha beta", False),
    ("{all: [alpha, {none: [beta]}]}", "alpha", True),
    ("{all: [alpha, {none: [beta]}]}", "alpha beta", False),
    ("{all: [{any: [alpha, beta]}, {any: [gamma, delta]}]}", "beta delta", True),
    ("{all: [{any: [alpha, beta]}, {any: [gamma, delta]}]}", "beta alpha", False),
    ("{none: [{all: [alpha, beta]}]}", "alpha", True),
    ("{none: [{all: [alpha, beta]}]}", "beta alpha", False),
    ("{near: [alpha, beta], within: 1}", "alpha beta", True),
    ("{near: [alpha, beta], within: 1}", "alpha x beta", False),
    ("{near: [alpha, beta], within: 0}", "alpha beta", False),
    ("{sentence: [alpha, beta]}", "Alpha and beta. Gamma.", True),
    ("{sentence: [alpha, beta]}", "Alpha here. Beta there.", False),
    ("{regex: 'al+pha'}", "allllpha", True),
    ("{regex: 'al+pha'}", "apha", False),
]


@pytest.mark.parametrize(("condition", "text", "expected"), CASES)
def test_operator_fixed_result(make_engine, condition: str, text: str, expected: bool) -> None:
    engine = make_engine(f"rules:\n  - id: r\n    match: {condition}\n")
    assert hits(engine, text) == (["r"] if expected else [])
    # And the prefilter lets through every rule that matches: candidates ⊇ matches.
    doc = engine.scan(Item(source="t", content=text))
    assert (0 in engine.candidates(doc)) or not expected
