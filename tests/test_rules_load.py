from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write
from watcher.rules.load import load_rules
from watcher.rules.model import All, AnyOf, AtLeast, EntityRef, Near, NoneOf, Regex, Sentence, Term

GOOD = """
entities:
  ukraine: [Ukraine, Kyiv]
rules:
  - id: good
    match: [Ukraine]
"""


def problems(tmp_path: Path, text: str, name: str = "bad.yaml") -> list[str]:
    write(tmp_path / "rules" / name, text)
    return [str(p) for p in load_rules(tmp_path / "rules").problems]


def test_example_rules_load_cleanly() -> None:
    ruleset = load_rules(Path(__file__).parent.parent / "rules")
    assert ruleset.problems == []
    assert "dprk-ukraine-arms" in {r.id for r in ruleset.rules}


def test_full_rule_parses_to_conditions(tmp_path: Path) -> None:
    write(
        tmp_path / "r" / "a.yaml",
        """
        entities:
          nk: {aliases: ["DPRK", {term: "NK", case_sensitive: true}]}
        rules:
          - id: r1
            title: T
            severity: high
            fields: [title, content]
            sources: ["reuters-*"]
            notify: [analysts]
            match:
              all:
                - entity: nk
                - {regex: '\\bshells?\\b', case_sensitive: true}
                - at_least: 2
                  of: [a, b, c]
              none: ["video game"]
              near: [x, y]
              within: 3
              sentence: [p, {any: [q, r]}]
        """,
    )
    ruleset = load_rules(tmp_path / "r")
    assert ruleset.problems == []
    [rule] = ruleset.rules
    assert rule.fields == ("title", "content") and rule.sources == ("reuters-*",) and rule.notify == ("analysts",)
    assert ruleset.entities["nk"].aliases == (Term("DPRK"), Term("NK", True))
    assert rule.match == All(
        (
            All((EntityRef("nk"), Regex(r"\bshells?\b", True), AtLeast(2, (Term("a"), Term("b"), Term("c"))))),
            NoneOf((Term("video game"),)),
            Near((Term("x"), Term("y")), 3),
            Sentence((Term("p"), AnyOf((Term("q"), Term("r"))))),
        )
    )


def test_yaml_scalars_that_look_like_booleans_or_numbers_stay_terms(tmp_path: Path) -> None:
    write(
        tmp_path / "r" / "a.yaml",
        "rules:\n  - id: r\n    match:\n      any: [no, on, 1984, 3.5, null-island]\n",
    )
    [rule] = load_rules(tmp_path / "r").rules
    assert rule.match == AnyOf((Term("no"), Term("on"), Term("1984"), Term("3.5"), Term("null-island")))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules:\n  - id: a\n    match: [x\n", "bad.yaml:4: YAML syntax error"),
        (
            "rules:\n  - id: a\n    matsh: [x]\n    match: [x]\n",
            "bad.yaml:3 rules[0].matsh: unknown key 'matsh'",
        ),
        (
            "rules:\n  - id: a\n    match: [x]\n  - id: a\n    match: [y]\n",
            "bad.yaml:4 rules[1].id: duplicate rule id 'a'",
        ),
        ("rules:\n  - id: a\n    id: b\n    match: [x]\n", "bad.yaml:3 rules[0].id: duplicate key 'id'"),
        ("rules:\n  - id: a\n    match: ['  ']\n", "bad.yaml:3 rules[0].match[0]: empty term"),
        ("rules:\n  - id: a\n    match:\n      any: []\n", "bad.yaml:4 rules[0].match.any: empty list"),
        (
            "rules:\n  - id: a\n    match:\n      regex: '(a'\n",
            "bad.yaml:4 rules[0].match.regex: invalid regex",
        ),
        ("rules:\n  - id: a\n    match:\n      regex: '(\\w)\\1'\n", "backreferences are not supported"),
        ("rules:\n  - id: a\n    match:\n      regex: 'x*'\n", "regex matches empty text"),
        (
            "rules:\n  - id: a\n    match:\n      all:\n        - x\n        - entity: ukrain\n",
            "bad.yaml:6 rules[0].match.all[1].entity: unknown entity 'ukrain'",
        ),
        ("rules:\n  - id: Bad Id\n    match: [x]\n", "rules[0].id: invalid id 'Bad Id'"),
        (
            "rules:\n  - id: a\n    severity: urgent\n    match: [x]\n",
            "rules[0].severity: severity must be one of",
        ),
        (
            "rules:\n  - id: a\n    fields: [body]\n    match: [x]\n",
            "rules[0].fields[0]: unknown field 'body'",
        ),
        ("rules:\n  - id: a\n", "bad.yaml:2 rules[0]: rule needs 'match'"),
        ("rules:\n  - id: a\n    match:\n      near: [x, y]\n", "'near' needs 'within: N'"),
        (
            "rules:\n  - id: a\n    match:\n      near: [x, {none: [y]}]\n      within: 2\n",
            "only terms, entities",
        ),
        ("rules:\n  - id: a\n    match:\n      at_least: 3\n      of: [x, y]\n", "can never hold"),
        ("rules:\n  - id: a\n    match:\n      anyy: [x]\n", "rules[0].match.anyy: unknown operator 'anyy'"),
        (
            "rules:\n  - id: a\n    match:\n      all: [x, [y]]\n",
            "rules[0].match.all[1]: a list is not a condition",
        ),
        ("entities:\n  e: []\n", "bad.yaml:2 entities.e: empty list of aliases"),
        ("topics: []\n", "bad.yaml:1 topics: unknown key 'topics'"),
        ("- just a list\n", "a rule file is a mapping"),
        (
            "rules:\n  - id: a\n    match: [x]\n    updates: maybe\n",
            "rules[0].updates: must be true or false",
        ),
    ],
)
def test_each_problem_is_located(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(tmp_path, "rules:\n  - id: a\n    colour: red\n    match:\n      any: []\n  - title: t\n")
    assert len(found) == 4, found  # unknown key, empty list, no id, no match


def test_bad_file_is_rejected_and_good_files_still_load(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "good.yaml", GOOD)
    write(tmp_path / "rules" / "bad.yaml", "rules:\n  - id: bad\n    match: [x\n")
    ruleset = load_rules(tmp_path / "rules")
    assert [r.id for r in ruleset.rules] == ["good"]
    assert ruleset.rejected_files == [str(tmp_path / "rules" / "bad.yaml")]
    assert len(ruleset.problems) == 1


def test_entities_are_global_and_rejection_cascades(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "a-entities.yaml", "entities:\n  nk: [DPRK]\n  bad: ['']\n")
    write(tmp_path / "rules" / "b.yaml", "rules:\n  - id: uses-nk\n    match:\n      entity: nk\n")
    ruleset = load_rules(tmp_path / "rules")
    assert ruleset.rules == []
    messages = [str(p) for p in ruleset.problems]
    assert any("b.yaml:4 rules[0].match.entity: unknown entity 'nk' (its file" in m for m in messages), messages


def test_duplicates_across_files(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "a.yaml", GOOD)
    write(tmp_path / "rules" / "b.yaml", "entities:\n  ukraine: [x]\nrules:\n  - id: good\n    match: [y]\n")
    messages = [str(p) for p in load_rules(tmp_path / "rules").problems]
    assert any("entity 'ukraine' is already defined in" in m for m in messages)
    assert any("duplicate rule id 'good'" in m for m in messages)


def test_missing_rules_directory_is_a_problem(tmp_path: Path) -> None:
    assert "no such rules file or directory" in str(load_rules(tmp_path / "nope").problems[0])


def test_hidden_files_and_other_suffixes_are_ignored(tmp_path: Path) -> None:
    write(tmp_path / "rules" / ".swap.yaml", "rules: [broken")
    write(tmp_path / "rules" / "notes.txt", "rules: [broken")
    write(tmp_path / "rules" / "sub" / "c.yml", GOOD)
    ruleset = load_rules(tmp_path / "rules")
    assert ruleset.problems == [] and [r.id for r in ruleset.rules] == ["good"]
