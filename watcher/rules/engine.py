"""The matching engine: one scan per item for every term of every rule, then only the candidate rules.

Compile: every term and alias of every rule, case-folded, goes into one Aho-Corasick automaton (with each
regex's required literal); each rule is indexed under its rarest required key set, so that a rule is
evaluated only when one of those keys occurred. Match: normalize the item's fields once, scan them in one
pass, keep the term hits that stand on word boundaries, and evaluate the candidate rules' conditions.
"""

from __future__ import annotations

import fnmatch
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ahocorasick

from watcher.item import TEXT_FIELDS, Item
from watcher.normalize import NormText, is_word_char, normalize_term
from watcher.rules.conditions import compile_regex
from watcher.rules.literal import required_literal
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
from watcher.rules.sentences import sentence_starts

_FIELD_INDEX = {name: i for i, name in enumerate(TEXT_FIELDS)}
_SEPARATOR = "\x1f"  # white space to str.split(), so never inside normalized text or a term
SNIPPET_CONTEXT = 60
_ASCII_WORD_MASK = str.maketrans({chr(i): "w" if is_word_char(chr(i)) else " " for i in range(128)})
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _mask_char(m: re.Match[str]) -> str:
    return "w" if is_word_char(m.group()) else " "


@dataclass(frozen=True)
class Evidence:
    """Why a rule matched: which condition, the text it matched, where, and the text around it."""

    condition: str
    matched: str
    field: str
    start: int
    end: int
    snippet: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "condition": self.condition,
            "matched": self.matched,
            "field": self.field,
            "start": self.start,
            "end": self.end,
            "snippet": self.snippet,
        }


@dataclass(frozen=True)
class Match:
    rule: Rule
    evidence: tuple[Evidence, ...]


@dataclass
class _CompiledRule:
    rule: Rule
    node: Node
    mask: frozenset[int] | None
    sources: re.Pattern[str] | None
    # Key sets that must each have occurred: a cheap rejection before the condition tree is evaluated.
    required: tuple[frozenset[int], ...] = ()


class Doc:
    """One item, normalized and scanned: what the nodes evaluate against."""

    def __init__(self, fields: list[NormText]):
        self.fields = fields
        self.hits: dict[int, list[Occ]] = {}
        self.literals: set[int] = set()
        self.mask: frozenset[int] | None = None
        self._regex_cache: dict[tuple[int, int], list[Occ]] = {}
        self._sentences: dict[int, list[int]] = {}

    def cased_text(self, occ: Occ) -> str:
        return self.fields[occ[0]].cased[occ[1] : occ[2]]

    def word_index(self, occ: Occ) -> int:
        return self.fields[occ[0]].word_index(occ[1])

    def sentence_index(self, occ: Occ) -> int:
        starts = self._sentences.get(occ[0])
        if starts is None:
            starts = self._sentences[occ[0]] = sentence_starts(self.fields[occ[0]].cased)
        return bisect_right(starts, occ[1]) - 1

    def regex_occurrences(self, node: RegexNode) -> list[Occ]:
        out: list[Occ] = []
        for f, text in enumerate(self.fields):
            if self.mask is not None and f not in self.mask:
                continue
            key = (id(node), f)
            occs = self._regex_cache.get(key)
            if occs is None:
                body = text.cased[1:-1]
                occs = [(f, m.start() + 1, m.end() + 1) for m in node.regex.finditer(body) if m.end() > m.start()]
                self._regex_cache[key] = occs
            out.extend(occs)
        return out

    def locate(self, occ: Occ) -> tuple[str, int, int]:
        """(field name, start, end) of an occurrence in the original text of its field."""
        start, end = self.fields[occ[0]].original_span(occ[1], occ[2])
        return TEXT_FIELDS[occ[0]], start, end

    def describe(self, occ: Occ) -> str:
        field, start, end = self.locate(occ)
        return f'"{self.fields[occ[0]].original[start:end]}" in {field}'

    def evidence(self, label: str, occ: Occ) -> Evidence:
        field, start, end = self.locate(occ)
        return Evidence(label, self.fields[occ[0]].original[start:end], field, start, end, self.snippet(occ))

    def snippet(self, occ: Occ) -> str:
        original = self.fields[occ[0]].original
        _, start, end = self.locate(occ)
        lo = max(0, start - SNIPPET_CONTEXT)
        hi = min(len(original), end + SNIPPET_CONTEXT)
        if lo > 0:
            space = original.find(" ", lo, start)
            lo = space + 1 if space >= 0 else lo
        if hi < len(original):
            space = original.rfind(" ", end, hi)
            hi = space if space >= 0 else hi
        text = " ".join(original[lo:hi].split())
        return ("\u2026" if lo > 0 else "") + text + ("\u2026" if hi < len(original) else "")


class Engine:
    """Rules compiled for matching. Build once per rule set; `match` is safe to call from one thread."""

    def __init__(self, ruleset: RuleSet):
        self.ruleset = ruleset
        self._keys: dict[str, int] = {}
        self._key_len: list[int] = []
        self._key_left: list[bool] = []
        self._key_right: list[bool] = []
        self._key_word: list[bool] = []
        self._key_literal: list[bool] = []
        self._uses: list[int] = []
        self._entities: dict[str, EntityNode] = {}
        self.rules: list[_CompiledRule] = []
        for entity in ruleset.entities.values():
            self._entities[entity.name] = self._entity(entity)
        for rule in ruleset.rules:
            self.rules.append(self._compile_rule(rule))
        self._index: dict[int, list[int]] = {}
        self._always: list[int] = []
        for i, compiled in enumerate(self.rules):
            compiled.required = tuple(sorted(compiled.node.required(self._cost), key=self._cost))
            keys = compiled.node.keyset(self._cost)
            if keys is None:
                self._always.append(i)
            else:
                for key in keys:
                    self._index.setdefault(key, []).append(i)
        self._automaton: Any = None
        if self._keys:
            automaton = ahocorasick.Automaton()
            for text, kid in self._keys.items():
                automaton.add_word(text, kid)
            automaton.make_automaton()
            self._automaton = automaton
        self._by_id = {c.rule.id: c for c in self.rules}

    def native_bytes(self) -> int:
        """Memory held by the automaton outside Python's allocator."""
        return int(self._automaton.get_stats()["total_size"]) if self._automaton is not None else 0

    # compile --------------------------------------------------------------------------------------------

    def _key(self, folded: str, *, word: bool) -> int:
        kid = self._keys.get(folded)
        if kid is None:
            kid = self._keys[folded] = len(self._key_len)
            self._key_len.append(len(folded))
            self._key_left.append(is_word_char(folded[0]))
            self._key_right.append(is_word_char(folded[-1]))
            self._key_word.append(False)
            self._key_literal.append(False)
            self._uses.append(0)
        if word:
            self._key_word[kid] = True
        else:
            self._key_literal[kid] = True
        self._uses[kid] += 1
        return kid

    def _term(self, term: Term, label: str | None = None) -> TermNode:
        kid = self._key(normalize_term(term.text), word=True)
        cased = normalize_term(term.text, fold=False) if term.case_sensitive else None
        return TermNode(kid, cased, label or f'"{term.text}"')

    def _entity(self, entity: Entity) -> EntityNode:
        return EntityNode(entity.name, [self._term(a) for a in entity.aliases])

    def _cost(self, keys: frozenset[int]) -> float:
        # Fewer rules sharing a key and a longer key both suggest a rarer word.
        return sum((1 + self._uses[k // 2]) * (4.0 if self._key_len[k // 2] <= 3 else 1.0) for k in keys)

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
                self._uses[alias.key] += 1
            return entity
        if isinstance(cond, Regex):
            literal = required_literal(cond.pattern)
            lit = self._key(literal, word=False) if literal else None
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
        """Normalize an item's text fields and find every key in one pass."""
        fields = [NormText(item.text(name)) for name in TEXT_FIELDS]
        doc = Doc(fields)
        if self._automaton is None:
            return doc
        texts = [f.folded for f in fields]
        starts: list[int] = []
        pos = 0
        for t in texts:
            starts.append(pos)
            pos += len(t) + 1
        joined = _SEPARATOR.join(texts)
        key_len, left, right = self._key_len, self._key_left, self._key_right
        is_word, is_literal = self._key_word, self._key_literal
        raw: dict[int, list[int]] = {}
        literals = doc.literals
        # One character per position, "w" where a word character stands: boundary checks without calls.
        mask = joined.translate(_ASCII_WORD_MASK)
        if not joined.isascii():
            mask = _NON_ASCII.sub(_mask_char, mask)
        for end, kid in self._automaton.iter(joined):
            if is_literal[kid]:
                literals.add(kid)
                if not is_word[kid]:
                    continue
            start = end - key_len[kid] + 1
            if (left[kid] and mask[start - 1] == "w") or (right[kid] and mask[end + 1] == "w"):
                continue
            raw.setdefault(kid, []).append(start)
        for kid, positions in raw.items():
            occs = []
            for start in positions:
                f = bisect_right(starts, start) - 1
                local = start - starts[f]
                cs, ce = fields[f].cased_span(local, local + key_len[kid])
                occs.append((f, cs, ce))
            doc.hits[kid] = occs
        return doc

    def candidates(self, doc: Doc) -> list[int]:
        """Indexes of the rules all of whose required key sets occurred (and those that need none)."""
        present = {kid * 2 for kid in doc.hits}
        present.update(kid * 2 + 1 for kid in doc.literals)
        found: set[int] = set(self._always)
        index = self._index
        for key in present:
            found.update(index.get(key, ()))
        rules = self.rules
        return sorted(i for i in found if not any(present.isdisjoint(keys) for keys in rules[i].required))

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
                out.append(Match(compiled.rule, self._evidence(compiled, doc)))
        return out

    def _evidence(self, compiled: _CompiledRule, doc: Doc) -> tuple[Evidence, ...]:
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
