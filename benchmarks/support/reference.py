"""A compact single-pass matching engine, the reference the real one is measured against on many-hit text.

Each field normalized as the engine normalizes it (watcher.items.normalize), then one Aho-Corasick automaton
(pyahocorasick) over every term and alias, case-folded, each occurrence checked for word boundaries; a rule
looked at only when a key of its rarest required group occurred; word and sentence numbers worked out only
for near and sentence; regular expressions run only for the rules looked at. It finds the
same (document, rule) hits as the engine on the benchmark's rules, and produces no evidence.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from typing import Any

import ahocorasick

from watcher.items.model import TEXT_FIELDS, Item
from watcher.items.normalize import NormText
from watcher.items.sentences import sentence_starts
from watcher.rules.model import All, AnyOf, AtLeast, Condition, EntityRef, Near, NoneOf, Regex, RuleSet, Sentence, Term


class Reference:
    def __init__(self, ruleset: RuleSet):
        self.ruleset = ruleset
        self.keys: dict[str, int] = {}
        self.automaton = ahocorasick.Automaton()
        self.rules = [(rule, self._compile(rule.match)) for rule in ruleset.rules]
        for key, kid in self.keys.items():
            self.automaton.add_word(key, (kid, len(key)))
        self.automaton.make_automaton()
        # The rarest required group of each rule (groups: sets of keys, one of which must occur).
        use: Counter[int] = Counter()
        groups = []
        for _rule, node in self.rules:
            options = _required(node)
            groups.append(options)
            for group in options:
                use.update(group)
        self.index: dict[int, list[int]] = {}
        self.always: list[int] = []
        for i, options in enumerate(groups):
            if not options:
                self.always.append(i)
                continue
            rarest = min(options, key=lambda g: sum(use[k] for k in g))
            for kid in rarest:
                self.index.setdefault(kid, []).append(i)

    def _key(self, term: Term) -> int:
        key = " ".join(term.text.split()).casefold()
        return self.keys.setdefault(key, len(self.keys))

    def _compile(self, cond: Condition) -> Any:
        if isinstance(cond, Term):
            return ("k", (self._key(cond),))
        if isinstance(cond, EntityRef):
            return ("k", tuple(self._key(a) for a in self.ruleset.entities[cond.name].aliases))
        if isinstance(cond, Regex):
            return ("re", re.compile(cond.pattern, 0 if cond.case_sensitive else re.IGNORECASE))
        kids = tuple(self._compile(c) for c in cond.children)
        if isinstance(cond, Near):
            return ("near", kids, cond.within)
        if isinstance(cond, AtLeast):
            return ("at_least", kids, cond.count)
        return ({All: "all", AnyOf: "any", NoneOf: "none", Sentence: "sentence"}[type(cond)], kids)

    def match(self, item: Item) -> list[str]:
        found: dict[int, list[tuple[int, int]]] = {}  # key: [(field, offset in the normalized text)]
        fields = [NormText(item.text(name)) for name in TEXT_FIELDS]
        for f, norm in enumerate(fields):
            folded = norm.folded
            if len(folded) <= 2:
                continue
            for end, (kid, size) in self.automaton.iter(folded):
                start = end - size + 1
                if folded[start - 1].isalnum() or folded[end + 1].isalnum():
                    continue
                found.setdefault(kid, []).append((f, norm.cased_offset(start)))
        candidates = set(self.always)
        for kid in found:
            candidates.update(self.index.get(kid, ()))
        doc = _Doc(fields, found)
        return [self.rules[i][0].id for i in sorted(candidates) if self._holds(self.rules[i][1], doc)]

    def _occ(self, node: Any, doc: _Doc) -> list[tuple[int, int]]:
        kind = node[0]
        if kind == "k":
            return [o for kid in node[1] for o in doc.found.get(kid, ())]
        if kind == "re":
            return [(f, m.start() + 1) for f, norm in enumerate(doc.fields) for m in node[1].finditer(norm.cased[1:-1])]
        return [o for k in node[1] for o in self._occ(k, doc)]

    def _holds(self, node: Any, doc: _Doc) -> bool:
        kind = node[0]
        if kind == "k":
            return any(kid in doc.found for kid in node[1])
        if kind == "re":
            return bool(self._occ(node, doc))
        if kind == "all":
            return all(self._holds(k, doc) for k in node[1])
        if kind == "any":
            return any(self._holds(k, doc) for k in node[1])
        if kind == "none":
            return not any(self._holds(k, doc) for k in node[1])
        if kind == "at_least":
            return sum(self._holds(k, doc) for k in node[1]) >= node[2]
        occs = [self._occ(k, doc) for k in node[1]]
        if not all(occs):
            return False
        if kind == "sentence":
            return bool(set.intersection(*({(o[0], doc.sentence(o)) for o in lst} for lst in occs)))
        within = node[2]
        words = [[(o[0], doc.word(o)) for o in lst] for lst in occs]
        first, rest = words[0], words[1:]
        return any(all(any(o[0] == a[0] and abs(o[1] - a[1]) <= within for o in lst) for lst in rest) for a in first)


class _Doc:
    """A document's normalized fields and key occurrences, with word and sentence numbers worked out lazily."""

    def __init__(self, fields: list[NormText], found: dict[int, list[tuple[int, int]]]):
        self.fields = fields
        self.found = found
        self._sentences: dict[int, list[int]] = {}

    def word(self, occ: tuple[int, int]) -> int:
        return self.fields[occ[0]].word_index(occ[1])

    def sentence(self, occ: tuple[int, int]) -> int:
        starts = self._sentences.get(occ[0])
        if starts is None:
            starts = self._sentences[occ[0]] = sentence_starts(self.fields[occ[0]].cased)
        return bisect_right(starts, occ[1])


def _required(node: Any) -> list[tuple[int, ...]]:
    """Groups of keys of which one must occur for the node to hold ([] when none can be named)."""
    kind = node[0]
    if kind == "k":
        return [node[1]]
    if kind in ("all", "near", "sentence"):
        return [g for k in node[1] for g in _required(k)]
    if kind == "any" or (kind == "at_least" and node[2] >= 1):
        # One of the children must hold, and each child that holds has its first group.
        options = [_required(k) for k in node[1]]
        if all(options):
            return [tuple(kid for o in options for kid in o[0])]
    return []
