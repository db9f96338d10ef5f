"""Matches as text lines and JSON records, and the examples check behind `watcher rules check`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from watcher.items.model import Item
from watcher.rules.engine import Engine, Match
from watcher.rules.model import RuleSet


def item_label(item: Item) -> str:
    """How an item is named in output: its path, with the entry's guid for a feed file."""
    where = item.path or item.link or item.source
    return f"{where}#{item.guid}" if item.path and item.guid else where


def match_record(item: Item, match: Match) -> dict[str, Any]:
    """One (item, rule) hit as a JSON-ready record."""
    rule = match.rule
    return {
        "rule": rule.id,
        "rule_title": rule.title,
        "severity": rule.severity,
        "path": item.path,
        "guid": item.guid,
        "source": item.source,
        "title": item.title,
        "link": item.link,
        "published": item.published.isoformat() if item.published else None,
        "evidence": [e.as_dict() for e in match.evidence],
    }


def match_line(item: Item, match: Match) -> str:
    """One (item, rule) hit as a line of text."""
    found: list[str] = []
    for e in match.evidence:
        if e.matched not in found:
            found.append(e.matched)
    title = " ".join(item.title.split())
    rule = match.rule
    return f'{item_label(item)}: {rule.id} [{rule.severity}] "{title}" ({", ".join(found)})'


@dataclass
class CheckReport:
    rules: int = 0
    entities: int = 0
    files: int = 0
    passed: int = 0
    failures: list[str] = field(default_factory=list)
    # Per rule id: [examples passed, examples failed].
    per_rule: dict[str, list[int]] = field(default_factory=dict)


def check_examples(ruleset: RuleSet, engine: Engine) -> CheckReport:
    """Run every rule's examples; each example is the text of the fields the rule reads."""
    report = CheckReport(len(ruleset.rules), len(ruleset.entities), len(ruleset.files))
    for rule in ruleset.rules:
        counts = report.per_rule.setdefault(rule.id, [0, 0])
        fields = rule.fields or ("content",)
        for expected, texts in ((True, rule.examples_match), (False, rule.examples_no_match)):
            for text in texts:
                item = Item(source="example")
                for name in fields:
                    setattr(item, name, text)
                if engine.check(rule.id, item) == expected:
                    report.passed += 1
                    counts[0] += 1
                    continue
                counts[1] += 1
                want = "to match" if expected else "not to match"
                where = f"{rule.file}:{rule.line}" if rule.line else rule.file
                did = "did not" if expected else "did"
                report.failures.append(f"{where} {rule.id}: example expected {want}, but it {did}: {text!r}")
    return report
