"""The matching engine: one scan per item for every term of every rule, then only the candidate rules.

Compile: every term and alias of every rule, case-folded, becomes a key of one multi-pattern scanner (with
each regex's required literal; see `scan`), and each rule states which keys must have occurred for it to
hold (see `prefilter`). Match: normalize the item's fields once, scan them in one pass, and evaluate the
conditions of the rules whose keys occurred.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from watcher.items.model import TEXT_FIELDS, Item
from watcher.items.normalize import NormText, confusable_table, normalize_term
from watcher.rules.conditions import compile_regex
from watcher.rules.doc import Doc, Evidence
from watcher.rules.literal import required_literal
from watcher.rules.load import collection_paused
from watcher.rules.model import (
    All,
    AnyOf,
    AtLeast,
    Condition,
    Entity,
    EntityRef,
    Near,
    NoneOf,
    Regex,
    Rule,
    RuleSet,
    Sentence,
    Term,
)
from watcher.rules.nodes import (
    AllNode,
    AnyNode,
    AtLeastNode,
    EntityNode,
    NearNode,
    Node,
    NoneNode,
    Occ,
    RegexNode,
    SentenceNode,
    TermNode,
)
from watcher.rules.prefilter import Prefilter
from watcher.rules.scan import Keys, Scanner

_FIELD_INDEX = {name: i for i, name in enumerate(TEXT_FIELDS)}


class Match:
    """A rule an item matched, and why: its evidence, worked out the first time it is asked for (a backtest
    or a count needs none; an alert needs it once)."""

    __slots__ = ("rule", "_evidence", "_work")

    def __init__(self, rule: Rule, evidence: tuple[Evidence, ...] | None = None, *, work: Any = None):
        self.rule = rule
        self._evidence = evidence
        self._work: Callable[[], tuple[Evidence, ...]] | None = work

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        if self._evidence is None:
            self._evidence = self._work() if self._work is not None else ()
            self._work = None  # the document it points to can go
        return self._evidence

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Match):
            return NotImplemented
        return self.rule == other.rule and self.evidence == other.evidence

    def __hash__(self) -> int:
        return hash((self.rule.id, self.evidence))

    def __repr__(self) -> str:
        return f"Match({self.rule.id!r})"


@dataclass
class _CompiledRule:
    rule: Rule
    node: Node
    mask: frozenset[int] | None
    sources: re.Pattern[str] | None


class Engine:
    """Rules compiled for matching. Build once per rule set; `match` is safe to call from one thread."""

    def __init__(self, ruleset: RuleSet, *, fast: bool | None = None):
        """`fast`: scan with Hyperscan where it installs (None), always (True) or never (False)."""
        with collection_paused():
            self.ruleset = ruleset
            self.confusables = confusable_table() if ruleset.match_confusables else None
            self._keys = Keys()
            self._terms: dict[Term, TermNode] = {}
            self._entities: dict[str, EntityNode] = {}
            self.rules: list[_CompiledRule] = []
            for entity in ruleset.entities.values():
                self._entities[entity.name] = self._entity(entity)
            for rule in ruleset.rules:
                self.rules.append(self._compile_rule(rule))
            self._prefilter = Prefilter([c.node.needs(self._cost) for c in self.rules], self._cost)
            self.scanner = Scanner(self._keys, fast=fast)
            self._by_id = {c.rule.id: c for c in self.rules}
            del self._terms

    def native_bytes(self) -> int:
        """Memory held by the scanners outside Python's allocator."""
        return self.scanner.native_bytes()

    # compile --------------------------------------------------------------------------------------------

    def _term(self, term: Term) -> TermNode:
        # A term node holds no state: one for each term, however many rules use it.
        node = self._terms.get(term)
        if node is None:
            stem = normalize_term(term.stem, confusables=self.confusables)
            kid = self._keys.add(stem, word=True, prefix=term.prefix)
            cased = normalize_term(term.stem, fold=False) if term.case_sensitive else None
            node = self._terms[term] = TermNode(kid, cased, f'"{term.text}"', prefix=term.prefix)
        else:
            self._keys.uses[node.key] += 1
        return node

    def _entity(self, entity: Entity) -> EntityNode:
        blockers = [self._term(t) for t in entity.not_within]
        return EntityNode(entity.name, [self._term(a) for a in entity.aliases], blockers)

    def _cost(self, keys: frozenset[int]) -> float:
        # Fewer rules sharing a key and a longer key both suggest a rarer word.
        uses, size = self._keys.uses, self._keys.size
        total = 0.0
        for k in keys:
            total += (1 + uses[k >> 1]) * (4.0 if size[k >> 1] <= 3 else 1.0)
        return total

    def _compile_rule(self, rule: Rule) -> _CompiledRule:
        node = self._node(rule.match)
        mask = frozenset(_FIELD_INDEX[f] for f in rule.fields) if rule.fields else None
        sources = re.compile("|".join(fnmatch.translate(g) for g in rule.sources)) if rule.sources else None
        return _CompiledRule(rule, node, mask, sources)

    def _node(self, cond: Condition) -> Node:
        if isinstance(cond, Term):
            return self._term(cond)
        if isinstance(cond, EntityRef):
            entity = self._entities[cond.name]
            for alias in entity.aliases:
                self._keys.uses[alias.key] += 1
            return entity
        if isinstance(cond, Regex):
            literal = required_literal(cond.pattern)
            lit = self._keys.add(literal, word=False) if literal else None
            return RegexNode(compile_regex(cond.pattern, cond.case_sensitive), lit, cond.pattern)
        children = [self._node(c) for c in cond.children]
        if isinstance(cond, All):
            # Cheap conditions first: positional checks only run when the plain ones held.
            children.sort(key=lambda n: isinstance(n, NearNode | SentenceNode | RegexNode))
            return AllNode("all of", children)
        if isinstance(cond, AnyOf):
            return AnyNode("any of", children)
        if isinstance(cond, NoneOf):
            return NoneNode("none of", children)
        if isinstance(cond, AtLeast):
            return AtLeastNode(cond.count, children)
        if isinstance(cond, Near):
            return NearNode(cond.within, children)
        if isinstance(cond, Sentence):
            return SentenceNode(children)
        raise TypeError(f"unknown condition {cond!r}")

    # match ----------------------------------------------------------------------------------------------

    def scan(self, item: Item) -> Doc:
        """Normalize an item's text fields and find the keys in them."""
        confusables = self.confusables
        return Doc(self.scanner.scan([NormText(item.text(name), confusables) for name in TEXT_FIELDS]))

    def candidates(self, doc: Doc) -> list[int]:
        """Indexes of the rules whose needs the keys found in the document meet."""
        present = [kid * 2 for kid in doc.words]
        present.extend(kid * 2 + 1 for kid in doc.literals)
        return self._prefilter.candidates(present)

    def match(self, item: Item) -> list[Match]:
        """Every rule the item matches, with evidence, in rule order."""
        doc = self.scan(item)
        out: list[Match] = []
        for i in self.candidates(doc):
            compiled = self.rules[i]
            if compiled.sources is not None and not compiled.sources.match(item.source):
                continue
            doc.mask = compiled.mask
            if compiled.node.holds(doc):
                out.append(Match(compiled.rule, work=partial(self._evidence, compiled, doc)))
        return out

    @staticmethod
    def _evidence(compiled: _CompiledRule, doc: Doc) -> tuple[Evidence, ...]:
        doc.mask = compiled.mask
        seen: set[tuple[str, Occ]] = set()
        out: list[Evidence] = []
        for label, occ in compiled.node.evidence(doc):
            if (label, occ) not in seen:
                seen.add((label, occ))
                out.append(doc.evidence(label, occ))
        return tuple(out)

    def check(self, rule_id: str, item: Item) -> bool:
        """Whether one rule matches an item, whatever its `sources` (for examples)."""
        compiled = self._by_id[rule_id]
        doc = self.scan(item)
        doc.mask = compiled.mask
        return compiled.node.holds(doc)

    def explain(self, item: Item, *, everything: bool = False) -> Iterator[tuple[Rule, bool, list[str]]]:
        """Each candidate rule (or every rule): whether it matched, and the state of each condition."""
        doc = self.scan(item)
        chosen = range(len(self.rules)) if everything else self.candidates(doc)
        for i in chosen:
            compiled = self.rules[i]
            doc.mask = compiled.mask
            if compiled.sources is not None and not compiled.sources.match(item.source):
                yield (
                    compiled.rule,
                    False,
                    [f"  source '{item.source}' not in {', '.join(compiled.rule.sources)}"],
                )
                continue
            yield compiled.rule, compiled.node.holds(doc), list(compiled.node.explain(doc, 1))
