"""The naive baseline of benchmarks/rules.py: one compiled regex per term, per rule, every rule evaluated."""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Any

from watcher.items.model import TEXT_FIELDS, Item
from watcher.items.sentences import sentence_starts
from watcher.rules.model import All, AnyOf, AtLeast, Condition, EntityRef, Near, NoneOf, Regex, RuleSet, Sentence, Term


class Naive:
    """One compiled regex per term, per rule; every rule evaluated against every document."""

    def __init__(self, ruleset: RuleSet):
        self.ruleset = ruleset
        self.compiled = [(rule, self._compile(rule.match)) for rule in ruleset.rules]

    def _term(self, term: Term) -> re.Pattern[str]:
        words = term.text.split()
        body = r"\s+".join(re.escape(w) for w in words)
        left = r"(?<!\w)" if re.match(r"\w", term.text[0]) else ""
        right = r"(?!\w)" if re.match(r"\w", term.text[-1]) else ""
        return re.compile(left + body + right, 0 if term.case_sensitive else re.IGNORECASE)

    def _compile(self, cond: Condition) -> Any:
        if isinstance(cond, Term):
            return ("t", [self._term(cond)])
        if isinstance(cond, EntityRef):
            return ("t", [self._term(a) for a in self.ruleset.entities[cond.name].aliases])
        if isinstance(cond, Regex):
            return ("t", [re.compile(cond.pattern, 0 if cond.case_sensitive else re.IGNORECASE)])
        kids = [self._compile(c) for c in cond.children]
        if isinstance(cond, Near):
            return ("near", kids, cond.within)
        if isinstance(cond, AtLeast):
            return ("at_least", kids, cond.count)
        kind = {All: "all", AnyOf: "any", NoneOf: "none", Sentence: "sentence"}[type(cond)]
        return (kind, kids)

    def match(self, item: Item) -> list[str]:
        texts = [item.text(f) for f in TEXT_FIELDS]
        return [rule.id for rule, node in self.compiled if self._holds(node, texts)]

    def _occ(self, node: Any, texts: list[str]) -> list[tuple[int, int, int]]:
        if node[0] == "any":
            return [o for k in node[1] for o in self._occ(k, texts)]
        out = []
        for f, text in enumerate(texts):
            for pattern in node[1]:
                for m in pattern.finditer(text):
                    before = text[: m.start()]
                    word = len(before.split()) - (1 if before and not before[-1].isspace() else 0)
                    out.append((f, word, m.start()))
        return out

    def _holds(self, node: Any, texts: list[str]) -> bool:
        kind = node[0]
        if kind == "t":
            return bool(self._occ(node, texts))
        if kind == "all":
            return all(self._holds(k, texts) for k in node[1])
        if kind == "any":
            return any(self._holds(k, texts) for k in node[1])
        if kind == "none":
            return not any(self._holds(k, texts) for k in node[1])
        if kind == "at_least":
            return sum(self._holds(k, texts) for k in node[1]) >= node[2]
        occs = [self._occ(k, texts) for k in node[1]]
        if kind == "near":
            return _near(occs, node[2])
        return _same_sentence(occs, texts)


def _near(occs: list[list[tuple[int, int, int]]], within: int) -> bool:
    def rec(i: int, chosen: list[tuple[int, int, int]]) -> bool:
        if i == len(occs):
            return max(c[1] for c in chosen) - min(c[1] for c in chosen) <= within
        return any(rec(i + 1, [*chosen, o]) for o in occs[i] if not chosen or (o[0] == chosen[0][0]))

    return rec(0, [])


def _same_sentence(occs: list[list[tuple[int, int, int]]], texts: list[str]) -> bool:
    def sentence(o: tuple[int, int, int]) -> tuple[int, int]:
        norm = " " + " ".join(texts[o[0]].split()) + " "
        starts_words = [norm.count(" ", 0, s) for s in sentence_starts(norm)]
        return o[0], bisect_right(starts_words, o[1] + 1) - 1

    sets = [{sentence(o) for o in lst} for lst in occs]
    return bool(set.intersection(*sets)) if all(sets) else False
