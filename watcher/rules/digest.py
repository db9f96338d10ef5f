"""A digest of each rule as it runs: what it matches and how it alerts, not where it is written."""

from __future__ import annotations

import dataclasses
import hashlib

from watcher.rules.model import Condition, EntityRef, RuleSet


def rule_digests(ruleset: RuleSet) -> dict[str, str]:
    """Per rule id, a digest that changes when the rule or an entity it names changes."""
    out = {}
    for rule in ruleset.rules:
        plain = dataclasses.replace(rule, file="", line=None)
        entities = sorted(
            repr(dataclasses.replace(e, file="", line=None))
            for name in _entity_names(rule.match)
            if (e := ruleset.entities.get(name)) is not None
        )
        out[rule.id] = hashlib.sha256("\n".join([repr(plain), *entities]).encode()).hexdigest()[:16]
    return out


def _entity_names(condition: Condition) -> set[str]:
    if isinstance(condition, EntityRef):
        return {condition.name}
    names: set[str] = set()
    for child in getattr(condition, "children", ()):
        names |= _entity_names(child)
    return names
