"""The built-in gazetteer: complete, unambiguous, sourced, and free when unused."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pycountry
import pytest
import yaml
from click.testing import CliRunner

from tests.conftest import write
from watcher.cli import main
from watcher.items.normalize import normalize_term
from watcher.rules.engine import Engine
from watcher.rules.gazetteer import load_gazetteer
from watcher.rules.gazetteer.build import LANGUAGES
from watcher.rules.model import EntityRef, Rule, RuleSet

REQUIRED_LANGUAGES = ("en", "ko", "ru", "uk", "zh-Hans", "zh-Hant", "ja", "de", "fr", "es", "ar")


def test_every_iso_country_is_a_builtin_entity_that_compiles() -> None:
    gazetteer = load_gazetteer()
    codes = {c.alpha_2 for c in pycountry.countries}
    assert set(gazetteer.countries) == codes
    entities = {c.entity_name: c.entity() for c in gazetteer.countries.values()}
    rules = [Rule(id=name.lower().replace(":", "-"), title=name, match=EntityRef(name)) for name in entities]
    engine = Engine(RuleSet(rules=rules, entities=entities), fast=False)
    assert len(engine.rules) == len(codes)


def test_every_country_has_names_in_every_required_language() -> None:
    assert set(REQUIRED_LANGUAGES) <= set(LANGUAGES)
    for country in load_gazetteer().countries.values():
        missing = [lang for lang in REQUIRED_LANGUAGES if not country.names.get(lang)]
        # A handful of tiny territories lack a name in some CLDR locale; no country our users follow does.
        assert len(missing) <= 2, (country.code, missing)
    for code in ("KP", "KR", "RU", "UA", "CN", "JP", "US", "BY", "IR"):
        country = load_gazetteer().countries[code]
        assert all(country.names[lang] for lang in REQUIRED_LANGUAGES), code


def test_no_alias_belongs_to_two_countries() -> None:
    owner: dict[str, str] = {}
    for country in load_gazetteer().countries.values():
        for alias in country.aliases():
            key = normalize_term(alias.removesuffix("*"))
            assert owner.setdefault(key, country.code) == country.code, (alias, owner[key], country.code)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            "KP",
            [
                "North Korea",
                "North Korean",
                "DPRK",
                "Pyongyang",
                "북한",
                "평양",
                "КНДР",
                "Северная Корея",
                "Пхеньян",
                "Північна Корея",
                "朝鲜",
                "北韓",
                "北朝鮮",
                "平壌",
                "Nordkorea",
                "Corée du Nord",
                "Corea del Norte",
                "كوريا الشمالية",
            ],
        ),
        ("RU", ["Russia", "Moscow", "Kremlin", "러시아", "Россия", "РФ", "Москва", "Росія", "俄罗斯", "ロシア"]),
        ("UA", ["Ukraine", "Kyiv", "Kiev", "우크라이나", "Украина", "Киев", "Україна", "Київ", "乌克兰", "ウクライナ"]),
    ],
)
def test_followed_countries_have_their_names_abbreviations_demonyms_and_capitals(
    code: str, expected: list[str]
) -> None:
    aliases = set(load_gazetteer().countries[code].aliases())
    assert not [name for name in expected if name not in aliases]


def test_russian_and_ukrainian_case_forms_are_generated() -> None:
    forms = set(load_gazetteer().countries["KP"].forms)
    assert {"северной кореи", "северную корею", "пхеньяне", "північної кореї", "північній кореї"} <= forms
    assert {"россию", "россией", "российских"} <= set(load_gazetteer().countries["RU"].forms)
    assert {"україни", "україні", "києва"} <= set(load_gazetteer().countries["UA"].forms)


def test_ambiguous_aliases_and_leaders_are_left_out() -> None:
    gazetteer = load_gazetteer()
    everything = {normalize_term(a) for c in gazetteer.countries.values() for a in c.aliases()}
    for ambiguous in ("korea", "korean", "조선", "georgia", "congolese", "dominican"):
        assert ambiguous not in everything, ambiguous
    for leader in ("kim jong un", "kim jong-un", "김정은", "putin", "путин", "zelensky", "xi jinping"):
        assert not any(leader in alias for alias in everything), leader


def test_every_curated_entry_names_a_known_source_and_country() -> None:
    data = yaml.safe_load(files("watcher.rules.gazetteer").joinpath("countries.yaml").read_text("utf-8"))
    codes = {c.alpha_2 for c in pycountry.countries}
    for code, entry in data["countries"].items():
        assert code in codes, code
        assert entry.get("source") in data["sources"], code
        assert set(entry) <= {"source", "capital", "case_sensitive", "drop", "not_within", *LANGUAGES}, code


def test_unknown_country_is_a_located_problem(tmp_path: Path) -> None:
    write(
        tmp_path / "rules" / "r.yaml",
        """
        entities:
          mine: {extends: "country:QQ"}
        rules:
          - id: r
            match: {entity: country:ZZ}
        """,
    )
    result = CliRunner().invoke(main, ["rules", "check", str(tmp_path / "rules")])
    assert result.exit_code == 1
    problems = sorted(line for line in result.output.splitlines() if "unknown built-in entity" in line)
    assert len(problems) == 2
    assert "r.yaml:2 " in problems[0] and "country:QQ" in problems[0]
    assert "r.yaml:5 " in problems[1] and "country:ZZ" in problems[1]


def test_entities_show_prints_aliases_by_language() -> None:
    result = CliRunner().invoke(main, ["entities", "show", "country:kp", "--rules", "/nonexistent"])
    assert result.exit_code == 0
    assert result.output.startswith("country:KP: North Korea\n")
    assert "  Korean (ko): 북한" in result.output
    assert "  Russian (ru): КНДР" in result.output
    assert "not within:" in result.output and "朝鲜半岛" in result.output
    shown = json.loads(CliRunner().invoke(main, ["entities", "show", "--json", "country:UA"]).output)
    assert "Київ" in shown["aliases"]["uk"] and "києва" in shown["forms"]


def test_entities_list_shows_builtin_and_user_entities(tmp_path: Path) -> None:
    write(tmp_path / "r.yaml", 'entities:\n  nk: {extends: "country:KP", aliases: [Kim Jong Un]}\n')
    result = CliRunner().invoke(main, ["entities", "list", "--json", "--rules", str(tmp_path)])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.output.splitlines()]
    names = {row["name"]: row for row in rows}
    assert len([r for r in rows if r["kind"] == "built-in"]) == len(list(pycountry.countries))
    assert names["nk"]["title"] == "extends country:KP"
    assert names["nk"]["aliases"] == len(load_gazetteer().countries["KP"].aliases()) + 1
    shown = CliRunner().invoke(main, ["entities", "show", "nk", "--rules", str(tmp_path)]).output
    assert "extends: country:KP" in shown and "Kim Jong Un" in shown


def test_gazetteer_costs_nothing_when_unused(tmp_path: Path) -> None:
    write(tmp_path / "r.yaml", "rules:\n  - id: r\n    match: [North Korea, arms]\n")
    code = (
        "import sys; from watcher.rules.load import load_rules; from watcher.rules.engine import Engine; "
        f"Engine(load_rules({str(tmp_path)!r})); "
        "print(sorted(m for m in ('babel', 'pycountry', 'pymorphy3') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
