"""Compiled conditions: each node answers whether it holds for a scanned document, and where.

An occurrence is (field index, start, end) in the field's normalized cased text. Nodes never scan: the
engine's single pass has already found every term; only regexes run here, and only after their literal
was seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from watcher.rules.doc import Doc, Occ

KeySet = frozenset[int]
# "At least n of these key sets are met" (one of the keys of each occurred): what a node needs to hold.
Need = tuple[int, tuple[KeySet, ...]]
Cost = Callable[[KeySet], float]
_MAX_EVIDENCE_PER_LEAF = 3


class Node:
    label = ""

    def holds(self, doc: Doc) -> bool:
        raise NotImplementedError

    def occurrences(self, doc: Doc) -> list[Occ]:
        raise NotImplementedError(f"{type(self).__name__} has no position")

    def evidence(self, doc: Doc) -> Iterator[tuple[str, Occ]]:
        """(label, occurrence) of each positive leaf that holds."""
        return iter(())

    def explain(self, doc: Doc, depth: int) -> Iterator[str]:
        yield f"{'  ' * depth}{_mark(self.holds(doc))} {self.label}"

    def keyset(self, cost: Cost) -> KeySet | None:
        """Keys of which at least one must occur for the node to hold (None: no such set)."""
        return None

    def needs(self, cost: Cost) -> list[Need]:
        """What must have occurred for the node to hold, each need to be met (see the prefilter)."""
        keys = self.keyset(cost)
        return [] if keys is None else [(1, (keys,))]


class LeafNode(Node):
    """A condition with positions of its own: it holds where it occurs, and is its own evidence."""

    def holds(self, doc: Doc) -> bool:
        return bool(self.occurrences(doc))

    def evidence(self, doc: Doc) -> Iterator[tuple[str, Occ]]:
        for occ in self.occurrences(doc)[:_MAX_EVIDENCE_PER_LEAF]:
            yield self.label, occ

    def explain(self, doc: Doc, depth: int) -> Iterator[str]:
        occs = self.occurrences(doc)
        found = f": {doc.describe(occs[0])}" if occs else ""
        yield f"{'  ' * depth}{_mark(bool(occs))} {self.label}{found}"


class TermNode(LeafNode):
    __slots__ = ("key", "cased", "prefix", "label", "_keys")

    def __init__(self, key: int, cased: str | None, label: str, *, prefix: bool = False):
        self.key = key
        self.cased = cased
        self.prefix = prefix
        self.label = label
        self._keys = frozenset((key * 2,))

    def occurrences(self, doc: Doc) -> list[Occ]:
        occs = doc.occurrences(self.key)
        if not occs:
            return []
        if self.cased is not None:
            cased = self.cased
            if self.prefix:
                occs = [o for o in occs if doc.cased_text(o).startswith(cased)]
            else:
                occs = [o for o in occs if doc.cased_text(o) == cased]
        if doc.mask is not None:
            occs = [o for o in occs if o[0] in doc.mask]
        return occs

    def holds(self, doc: Doc) -> bool:
        if self.cased is None and doc.mask is None:
            return self.key in doc.words
        return bool(self.occurrences(doc))

    def keyset(self, cost: Cost) -> KeySet | None:
        return self._keys


class EntityNode(LeafNode):
    __slots__ = ("aliases", "blockers", "label", "_keys", "_by_key", "_key_set")

    def __init__(self, name: str, aliases: list[TermNode], blockers: list[TermNode] | None = None):
        self.aliases = aliases
        # Phrases inside which an alias does not count (the entity's `not_within`).
        self.blockers = blockers or []
        self.label = f"entity {name}"
        self._keys = frozenset(alias.key * 2 for alias in aliases)
        # A built-in country has a few hundred aliases, of which a document holds a handful: look only at those.
        self._by_key: dict[int, list[TermNode]] = {}
        for alias in aliases:
            self._by_key.setdefault(alias.key, []).append(alias)
        self._key_set = frozenset(self._by_key)

    def _present(self, doc: Doc) -> list[TermNode]:
        present = self._key_set.intersection(doc.words)
        if not present:
            return []
        return [alias for key in sorted(present) for alias in self._by_key[key]]

    def occurrences(self, doc: Doc) -> list[Occ]:
        out: list[Occ] = []
        for alias in self._present(doc):
            out.extend(alias.occurrences(doc))
        if out and self.blockers:
            spans = [o for b in self.blockers if b.key in doc.words for o in doc.occurrences(b.key)]
            if spans:
                out = [o for o in out if not any(s[0] == o[0] and s[1] <= o[1] and o[2] <= s[2] for s in spans)]
        return out

    def holds(self, doc: Doc) -> bool:
        if self.blockers:
            return bool(self.occurrences(doc))
        return any(alias.holds(doc) for alias in self._present(doc))


class RegexNode(LeafNode):
    __slots__ = ("regex", "literal", "label")

    def __init__(self, regex: Any, literal: int | None, pattern: str):
        self.regex = regex
        self.literal = literal
        self.label = f"regex /{pattern}/"

    def occurrences(self, doc: Doc) -> list[Occ]:
        if self.literal is not None and self.literal not in doc.literals:
            return []
        return doc.regex_occurrences(id(self), self.regex)

    def keyset(self, cost: Cost) -> KeySet | None:
        return None if self.literal is None else frozenset((self.literal * 2 + 1,))


class GroupNode(Node):
    __slots__ = ("children", "label")

    def __init__(self, label: str, children: list[Node]):
        self.children = children
        self.label = label

    def evidence(self, doc: Doc) -> Iterator[tuple[str, Occ]]:
        for child in self.children:
            if child.holds(doc):
                yield from child.evidence(doc)

    def explain(self, doc: Doc, depth: int) -> Iterator[str]:
        yield f"{'  ' * depth}{_mark(self.holds(doc))} {self.label}"
        for child in self.children:
            yield from child.explain(doc, depth + 1)


class AllNode(GroupNode):
    def holds(self, doc: Doc) -> bool:
        return all(child.holds(doc) for child in self.children)

    def needs(self, cost: Cost) -> list[Need]:
        return [need for child in self.children for need in child.needs(cost)]

    def keyset(self, cost: Cost) -> KeySet | None:
        sets = [s for s in (c.keyset(cost) for c in self.children) if s is not None]
        return min(sets, key=cost) if sets else None


class AnyNode(GroupNode):
    def holds(self, doc: Doc) -> bool:
        return any(child.holds(doc) for child in self.children)

    def occurrences(self, doc: Doc) -> list[Occ]:
        out: list[Occ] = []
        for child in self.children:
            out.extend(child.occurrences(doc))
        return out

    def keyset(self, cost: Cost) -> KeySet | None:
        return _union([c.keyset(cost) for c in self.children])


class NoneNode(GroupNode):
    def holds(self, doc: Doc) -> bool:
        return not any(child.holds(doc) for child in self.children)

    def evidence(self, doc: Doc) -> Iterator[tuple[str, Occ]]:
        return iter(())


class AtLeastNode(GroupNode):
    __slots__ = ("count",)

    def __init__(self, count: int, children: list[Node]):
        super().__init__(f"at least {count} of", children)
        self.count = count

    def holds(self, doc: Doc) -> bool:
        need = self.count
        for child in self.children:
            if child.holds(doc):
                need -= 1
                if need == 0:
                    return True
        return False

    def keyset(self, cost: Cost) -> KeySet | None:
        return _union([c.keyset(cost) for c in self.children])

    def needs(self, cost: Cost) -> list[Need]:
        sets = [c.keyset(cost) for c in self.children]
        known = tuple(s for s in sets if s is not None)
        # A child that needs no key may hold anyway: it lowers what the others must make up.
        count = self.count - (len(sets) - len(known))
        return [(count, known)] if count > 0 else []


class NearNode(AllNode):
    __slots__ = ("within",)

    def __init__(self, within: int, children: list[Node]):
        super().__init__(f"near, within {within} words", children)
        self.within = within

    def holds(self, doc: Doc) -> bool:
        lists = [child.occurrences(doc) for child in self.children]
        if not all(lists):
            return False
        events = sorted((occ[0], doc.word_index(occ), i) for i, occs in enumerate(lists) for occ in occs)
        counts = [0] * len(lists)
        have = left = 0
        for field, word, i in events:
            if counts[i] == 0:
                have += 1
            counts[i] += 1
            while events[left][0] != field or word - events[left][1] > self.within:
                j = events[left][2]
                counts[j] -= 1
                if counts[j] == 0:
                    have -= 1
                left += 1
            if have == len(lists):
                return True
        return False


class SentenceNode(AllNode):
    def __init__(self, children: list[Node]):
        super().__init__("in one sentence", children)

    def holds(self, doc: Doc) -> bool:
        lists = [child.occurrences(doc) for child in self.children]
        if not all(lists):
            return False
        found: dict[tuple[int, int], set[int]] = {}
        for i, occs in enumerate(lists):
            for occ in occs:
                found.setdefault((occ[0], doc.sentence_index(occ)), set()).add(i)
        return any(len(members) == len(lists) for members in found.values())


def _union(sets: list[KeySet | None]) -> KeySet | None:
    if not sets or any(s is None for s in sets):
        return None
    return frozenset().union(*(s for s in sets if s is not None))


def _mark(ok: bool) -> str:
    return "\u2713" if ok else "\u2717"
