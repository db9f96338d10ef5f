"""A compact single-pass matching engine, the reference the real one is measured against on many-hit text.

One Aho-Corasick automaton (pyahocorasick) over every term and alias, case-folded; each occurrence checked
for word boundaries; a rule looked at only when a key of its rarest required group occurred; near and
sentence from word and sentence numbers; regular expressions run only for the rules looked at. It finds the
same (document, rule) hits as the engine on the benchmark's rules, and produces no evidence.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from typing import Any

import ahocorasick

from watcher.items.model import TEXT_FIELDS, Item
from watcher.items.sentences import sentence_starts
from watcher.rules.model import All, AnyOf, AtLeast, Condition, EntityRef, Near, NoneOf, Regex, RuleSet, Sentence, Term

_WORD = re.compile(r"\w+")


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
        found: dict[int, list[tuple[int, int, int]]] = {}  # key: [(field, word, sentence)]
        texts = []
        for f, name in enumerate(TEXT_FIELDS):
            text = " ".join(item.text(name).split())
            texts.append(text)
            if not text:
                continue
            folded = text.casefold()
            if len(folded) != len(text):
                folded = text.lower()
            starts, sentences = _numbering(text)
            for end, (kid, size) in self.automaton.iter(folded):
                start = end - size + 1
                if (start and folded[start - 1].isalnum()) or (end + 1 < len(folded) and folded[end + 1].isalnum()):
                    continue
                found.setdefault(kid, []).append(
                    (f, bisect_right(starts, start) - 1, bisect_right(sentences, start + 1))
                )
        candidates = set(self.always)
        for kid in found:
            candidates.update(self.index.get(kid, ()))
        return [self.rules[i][0].id for i in sorted(candidates) if self._holds(self.rules[i][1], found, texts)]

    def _occ(
        self, node: Any, found: dict[int, list[tuple[int, int, int]]], texts: list[str]
    ) -> list[tuple[int, int, int]]:
        kind = node[0]
        if kind == "k":
            return [o for kid in node[1] for o in found.get(kid, ())]
        if kind == "re":
            out = []
            for f, text in enumerate(texts):
                starts, sentences = _numbering(text)
                out += [
                    (f, bisect_right(starts, m.start()) - 1, bisect_right(sentences, m.start() + 1))
                    for m in node[1].finditer(text)
                ]
            return out
        return [o for k in node[1] for o in self._occ(k, found, texts)]

    def _holds(self, node: Any, found: dict[int, list[tuple[int, int, int]]], texts: list[str]) -> bool:
        kind = node[0]
        if kind in ("k", "re"):
            return bool(self._occ(node, found, texts))
        if kind == "all":
            return all(self._holds(k, found, texts) for k in node[1])
        if kind == "any":
            return any(self._holds(k, found, texts) for k in node[1])
        if kind == "none":
            return not any(self._holds(k, found, texts) for k in node[1])
        if kind == "at_least":
            return sum(self._holds(k, found, texts) for k in node[1]) >= node[2]
        occs = [self._occ(k, found, texts) for k in node[1]]
        if not all(occs):
            return False
        if kind == "sentence":
            return bool(set.intersection(*({(o[0], o[2]) for o in lst} for lst in occs)))
        within = node[2]
        first, rest = occs[0], occs[1:]
        return any(all(any(o[0] == a[0] and abs(o[1] - a[1]) <= within for o in lst) for lst in rest) for a in first)


def _required(node: Any) -> list[tuple[int, ...]]:
    """Groups of keys of which one must occur for the node to hold ([] when none can be named)."""
    kind = node[0]
    if kind == "k":
        return [node[1]]
    if kind in ("all", "near", "sentence"):
        return [g for k in node[1] for g in _required(k)]
    if kind == "any":
        options = [_required(k) for k in node[1]]
        if all(options):
            return [tuple(kid for o in options for kid in o[0])]
    return []


def _numbering(text: str) -> tuple[list[int], list[int]]:
    """Where the words of a single-spaced text start, and where its sentences start (in the padded text)."""
    return [m.start() for m in _WORD.finditer(text)], sentence_starts(f" {text} ")
