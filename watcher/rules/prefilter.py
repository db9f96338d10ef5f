"""Which rules are worth evaluating for a document, from the keys its scan found.

Each rule states what must have occurred for it to hold, as needs: "at least n of these key sets met",
where a key set is met when one of its keys occurred (an entity's aliases, an `any:` list, one term).
`all:` gives one need per child, `at_least: 2` one need of 2, `none:` nothing. Key sets shared by many
rules (an entity used by a hundred of them) are numbered once, as groups, so that the check is a few set
operations in C: the groups a document met, then, per rule, whether its needs are among them.

A rule is indexed under the rarest groups that any match must meet (one group of an `all:`, or for
"at least n of k" the k-n+1 rarest, one of which must be met), so that it is looked at only when one of
them was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from watcher.rules.nodes import KeySet, Need

Cost = Callable[[KeySet], float]


class Prefilter:
    def __init__(self, needs: list[list[Need]], cost: Cost):
        self._groups: dict[KeySet, int] = {}
        self._group_cost: list[float] = []
        self._key_groups: dict[int, list[int]] = {}
        # Per rule, the groups that must all be met; for some, (n, groups) pairs of which n must be met.
        self._every: list[frozenset[int]] = []
        self._counted: dict[int, tuple[tuple[int, frozenset[int]], ...]] = {}
        index: dict[int, list[int]] = {}
        self._always: list[int] = []
        for i, rule_needs in enumerate(needs):
            every: set[int] = set()
            some: list[tuple[int, frozenset[int]]] = []
            for count, keysets in rule_needs:
                gids = [self._group(keys, cost) for keys in keysets]
                distinct = frozenset(gids)
                groups_needed = _groups_needed(count, gids)
                if groups_needed == len(distinct):
                    every.update(distinct)
                else:
                    some.append((groups_needed, distinct))
            self._every.append(frozenset(every))
            if some:
                self._counted[i] = tuple(some)
            entry = self._entry(every, some)
            if entry is None:
                self._always.append(i)
            else:
                for gid in entry:
                    index.setdefault(gid, []).append(i)
        # Looked up by key, the index costs one step per key found rather than one per group met.
        key_rules: dict[int, frozenset[int]] = {}
        for keys, gid in self._groups.items():
            if gid in index:
                for key in keys:
                    key_rules[key] = key_rules.get(key, frozenset()).union(index[gid])
        self._by_key = {key: (tuple(gids), key_rules.get(key, frozenset())) for key, gids in self._key_groups.items()}

    def _group(self, keys: KeySet, cost: Cost) -> int:
        gid = self._groups.get(keys)
        if gid is None:
            gid = self._groups[keys] = len(self._group_cost)
            self._group_cost.append(cost(keys))
            for key in keys:
                self._key_groups.setdefault(key, []).append(gid)
        return gid

    def _entry(self, every: set[int], some: list[tuple[int, frozenset[int]]]) -> list[int] | None:
        """The cheapest set of groups one of which every match meets, or None when there is none."""
        weight = self._group_cost.__getitem__
        options = [[gid] for gid in every]
        for count, gids in some:
            options.append(sorted(gids, key=weight)[: len(gids) - count + 1])
        if not options:
            return None
        return min(options, key=lambda option: sum(map(weight, option)))

    def candidates(self, present: Iterable[int]) -> list[int]:
        """Indexes, in order, of the rules whose needs the present keys meet."""
        met: set[int] = set()
        found: set[int] = set(self._always)
        by_key = self._by_key
        for key in present:
            entry = by_key.get(key)
            if entry is not None:
                met.update(entry[0])
                found.update(entry[1])
        every, counted = self._every, self._counted
        out = [i for i in found if every[i] <= met and (i not in counted or _met(counted[i], met))]
        out.sort()
        return out


def _met(counted: tuple[tuple[int, frozenset[int]], ...], met: set[int]) -> bool:
    return all(len(gids & met) >= count for count, gids in counted)


def _groups_needed(count: int, gids: list[int]) -> int:
    """How many distinct groups must be met for `count` of the children with these groups to hold.

    Two children may share a key set (a term and the same term case-sensitive): both hold on one group.
    """
    per_group = sorted((gids.count(g) for g in set(gids)), reverse=True)
    covered = 0
    for needed, children in enumerate(per_group, start=1):
        covered += children
        if covered >= count:
            return needed
    return len(per_group)
