"""Matching in the languages the sources speak: the built-in gazetteer, script-aware boundaries, wildcards."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import hits
from watcher.items.model import Item
from watcher.rules.engine import Engine

COUNTRY_RULES = """
rules:
  - id: kp
    match: {entity: country:KP}
  - id: ru
    match: {entity: country:ru}
  - id: ua
    match: {entity: "country:UA"}
  - id: kr
    match: {entity: country:KR}
"""


@pytest.fixture
def countries(make_engine) -> Engine:
    return make_engine(COUNTRY_RULES)


# the gazetteer, language by language --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Korean: particles and compounds follow the noun
        ("북한이 러시아에 포탄 수백만 발을 보냈다고 국가정보원이 밝혔다.", ["kp", "ru"]),
        ("북한군 병력이 쿠르스크 전선에 배치됐다.", ["kp"]),
        ("평양은 모스크바와의 군사 협력을 강화하고 있다.", ["kp", "ru"]),
        ("우크라이나 정보당국은 키이우에서 이를 확인했다.", ["ua"]),
        # Chinese, simplified and traditional: no spaces between words
        ("朝鲜向俄罗斯提供炮弹，乌克兰方面表示强烈抗议。", ["kp", "ru", "ua"]),
        ("北韓向俄羅斯運送砲彈，烏克蘭官員證實。", ["kp", "ru", "ua"]),
        ("平壤与莫斯科签署了全面战略伙伴关系条约。", ["kp", "ru"]),
        # Japanese
        ("北朝鮮はロシアに砲弾を供与したとウクライナ政府が発表した。", ["kp", "ru", "ua"]),
        ("平壌とモスクワの軍事協力が進んでいる。", ["kp", "ru"]),
        # Russian: inflected names, abbreviations, adjectives
        ("Поставки оружия из Северной Кореи в Россию продолжаются, сообщает разведка Украины.", ["kp", "ru", "ua"]),
        ("Делегация КНДР прибыла в Москву для переговоров.", ["kp", "ru"]),
        ("Северокорейские военные замечены в Курской области.", ["kp"]),
        ("Переговоры прошли в Пхеньяне.", ["kp"]),
        ("Министр обороны РФ провёл встречу.", ["ru"]),
        # Ukrainian
        ("Північна Корея передала росії снаряди для війни проти України.", ["kp", "ru", "ua"]),
        ("Розвідка повідомила про постачання зброї з Північної Кореї.", ["kp"]),
        ("Делегація прибула до Києва.", ["ua"]),
        # German, French, Spanish, Arabic
        ("Nordkoreanische Soldaten kämpfen an der Seite Russlands.", ["kp"]),
        ("Pjöngjang liefert Munition nach Moskau.", ["kp", "ru"]),
        ("Des soldats nord-coréens ont été déployés en Russie.", ["kp", "ru"]),
        ("Corea del Norte envía proyectiles a Rusia, denuncia Ucrania.", ["kp", "ru", "ua"]),
        ("أرسلت كوريا الشمالية قذائف مدفعية إلى روسيا", ["kp", "ru"]),
        # English demonyms and metonyms
        ("North Korean troops were seen near Kursk, Kyiv said.", ["kp", "ua"]),
        ("Pyongyang denied the report; the Kremlin declined to comment.", ["kp", "ru"]),
    ],
)
def test_country_entity_matches_in_each_language(countries: Engine, text: str, expected: list[str]) -> None:
    assert sorted(hits(countries, text)) == sorted(expected)


@pytest.mark.parametrize(
    "text",
    [
        "South Korea weighs sending weapons to Ukraine.",
        "Seoul and Washington held talks on the Korean peninsula.",
        "한국 정부는 우크라이나 지원을 검토하고 있다.",
        "조선업계와 조선소의 수주가 늘었다.",  # 조선: shipbuilding
        "남북한 관계가 경색됐다.",  # 북한 inside a word
        "북한강 수위가 올라갔다.",  # the Bukhan river, in the South
        "韩国政府表示关切。",
        "韓国の大統領が記者会見した。",
        "南韓總統發表談話。",
        "朝鲜半岛局势紧张。",  # the Korean peninsula
        "Южная Корея рассматривает поставки оружия.",
        "Республика Корея и Япония провели переговоры.",
        "Korea's economy grew, Korean exporters said.",
    ],
)
def test_country_kp_never_matches_the_south_or_other_meanings(countries: Engine, text: str) -> None:
    assert "kp" not in hits(countries, text)


def test_south_korea_matches_its_own_entity(countries: Engine) -> None:
    assert hits(countries, "한국 정부는 발표했다.") == ["kr"]
    assert hits(countries, "韩国政府表示关切。") == ["kr"]
    assert hits(countries, "Южная Корея рассматривает поставки.") == ["kr"]


def test_alias_inside_another_countrys_name_does_not_count(make_engine) -> None:
    engine = make_engine("rules:\n  - id: in\n    match: {entity: country:IN}\n")
    assert hits(engine, "印度尼西亚总统访问北京。") == []  # Indonesia holds 印度 (India)
    assert hits(engine, "印度总理访问北京。") == ["in"]
    assert hits(engine, "インドネシアの大統領") == []
    assert hits(engine, "인도네시아 대통령이 방문했다.") == []


def test_country_code_is_case_insensitive_and_extends_keeps_the_builtin(make_engine) -> None:
    engine = make_engine(
        """
        entities:
          north_korea: {extends: "country:kp", aliases: ["Kim Jong Un", 김정은]}
        rules:
          - id: nk
            match: {entity: north_korea}
        """
    )
    assert hits(engine, "김정은 위원장이 연설했다.") == ["nk"]
    assert hits(engine, "Kim Jong Un inspected a factory.") == ["nk"]
    assert hits(engine, "Делегация КНДР прибыла.") == ["nk"]
    assert hits(engine, "한국 정부는 발표했다.") == []  # the built-in's exclusions come along too


# script rules for the user's own terms -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("북한이 발표했다", True),
        ("북한군이 이동했다", True),
        ("(북한)은", True),
        ("남북한 정상", False),
        ("DPRK는 북한", True),
    ],
)
def test_hangul_term_begins_a_word_and_may_be_followed_by_any_hangul(make_engine, text: str, expected: bool) -> None:
    engine = make_engine("rules:\n  - id: r\n    match: 북한\n")
    assert (hits(engine, text) == ["r"]) is expected


def test_latin_term_is_a_whole_word_but_a_korean_particle_may_follow(make_engine) -> None:
    engine = make_engine("rules:\n  - id: r\n    match: DPRK\n")
    assert hits(engine, "DPRK는 부인했다") == ["r"]
    assert hits(engine, "DPRKs") == []


@pytest.mark.parametrize(
    ("term", "text"), [("炮弹", "朝鲜向俄罗斯提供炮弹"), ("砲弾", "北朝鮮はロシアに砲弾を"), ("ทหาร", "ส่งทหารไปรัสเซีย")]
)
def test_unspaced_scripts_match_anywhere(make_engine, term: str, text: str) -> None:
    engine = make_engine(f"rules:\n  - id: r\n    match: {term}\n")
    assert hits(engine, text) == ["r"]


def test_mixed_script_text_matches_each_script_by_its_rules(countries: Engine) -> None:
    text = "An English report quoting state media: 북한은 성명을 냈다, and a wire service said КНДР denied it."
    assert hits(countries, text) == ["kp"]
    item = Item(source="t", title="Seoul says", content="조선소 workers in 평양은?")
    assert [m.rule.id for m in countries.match(item)] == ["kp", "kr"]


# wildcards --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        ("weapon*", "new weapons arrived", "weapons"),
        ("weapon*", "Weaponry was found", "Weaponry"),
        ("weapon*", "a weapon", "weapon"),
        ("weapon*", "no weapo here", None),
        ("weapon*", "superweapons", None),  # begins a word, never inside one
        ("снаряд*", "Поставки снарядов выросли", "снарядов"),
        ("снаряд*", "снаряды", "снаряды"),
        ("North Korean*", "North Koreans said", "North Koreans"),
    ],
)
def test_prefix_wildcard_matches_words_that_begin_with_it(
    make_engine, term: str, text: str, expected: str | None
) -> None:
    engine = make_engine(f'rules:\n  - id: r\n    match: "{term}"\n')
    matches = engine.match(Item(source="t", content=text))
    if expected is None:
        assert matches == []
    else:
        assert [e.matched for e in matches[0].evidence] == [expected]


def test_wildcard_and_whole_word_term_of_the_same_text_keep_their_own_meaning(make_engine) -> None:
    engine = make_engine(
        "rules:\n  - id: exact\n    match: weapon\n  - id: prefix\n    match: 'weapon*'\n"
        "  - id: both\n    match: {all: [weapon, 'weapon*']}\n"
    )
    assert hits(engine, "weapons and weaponry") == ["prefix"]
    assert hits(engine, "a weapon") == ["exact", "prefix", "both"]


def test_wildcard_that_is_case_sensitive_compares_the_prefix(make_engine) -> None:
    engine = make_engine("rules:\n  - id: r\n    match: {term: 'Hwasong*', case_sensitive: true}\n")
    assert hits(engine, "the Hwasong-18 and Hwasongs") == ["r"]
    assert hits(engine, "hwasong launches") == []


@pytest.mark.parametrize(
    ("term", "message"),
    [
        ("we*", "at least 3 characters before '*'"),
        ("*weapon", "'*' only ends a term"),
        ("wea*pon", "'*' only ends a term"),
        ("weapon**", "'*' only ends a term"),
    ],
)
def test_misplaced_wildcard_is_a_located_error(tmp_path, term: str, message: str) -> None:
    from watcher.rules.load import load_rules

    (tmp_path / "r.yaml").write_text(f"rules:\n  - id: r\n    match:\n      any: [arms, '{term}']\n")
    problems = [str(p) for p in load_rules(tmp_path).problems]
    assert len(problems) == 1
    assert "r.yaml:4" in problems[0] and message in problems[0]


# evidence, near and sentence ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "북한이 러시아에 포탄을 보냈다",
        "ＡＢＣ報道：北朝鮮はロシアに砲弾を",  # full-width letters: NFKC changes the text's length
        "Поставки из  Северной\nКореи в Россию",
        "朝鲜\u200b向俄罗斯提供炮弹",  # a zero-width space inside
    ],
)
def test_evidence_points_at_the_original_text_in_every_script(countries: Engine, text: str) -> None:
    matches = countries.match(Item(source="t", content=text))
    assert matches
    for match in matches:
        for ev in match.evidence:
            assert text[ev.start : ev.end] == ev.matched
            assert ev.matched in ev.snippet or "\n" in ev.matched


def test_sentence_ends_at_chinese_and_japanese_full_stops(make_engine) -> None:
    engine = make_engine("rules:\n  - id: r\n    match: {sentence: [{entity: country:KP}, {entity: country:RU}]}\n")
    assert hits(engine, "朝鲜向俄罗斯提供炮弹。") == ["r"]
    assert hits(engine, "朝鲜发表声明。俄罗斯否认。") == []
    assert hits(engine, "北朝鮮が声明を出した！ロシアは否定した") == []
    assert hits(engine, "북한이 성명을 냈다. 러시아는 부인했다.") == []


def test_near_counts_two_unspaced_characters_as_a_word(make_engine) -> None:
    engine = make_engine("rules:\n  - id: r\n    match: {near: [朝鲜, 炮弹], within: 3}\n")
    assert hits(engine, "朝鲜向俄罗斯提供炮弹") == []  # 8 characters apart: 4 words
    assert hits(engine, "朝鲜提供炮弹") == ["r"]  # 4 characters apart: 2 words


# end to end: documents in each language, in their legacy encodings -------------------------------------


def test_match_json_on_documents_in_each_language_and_encoding(tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from tests.conftest import write
    from watcher.cli import main

    write(
        tmp_path / "rules" / "r.yaml",
        """
        rules:
          - id: kp-ru-arms
            match:
              all:
                - entity: country:KP
                - entity: country:ru
                - any: ["weapon*", "снаряд*", "боєприпас*", 포탄, 炮弹, 砲弾, 砲彈]
        """,
    )
    docs = tmp_path / "docs"
    docs.mkdir()
    samples = {
        "ko.txt": ("euc-kr", "북한, 러시아에 포탄 제공\n\n북한이 러시아에 포탄 수백만 발을 보냈다.", "북한"),
        "ru.txt": ("cp1251", "Снаряды\n\nПоставки снарядов из Северной Кореи в Россию выросли.", "Северной Кореи"),
        "uk.txt": ("utf-8", "Боєприпаси\n\nПівнічна Корея передала росії боєприпаси.", "Північна Корея"),
        "ja.txt": ("shift_jis", "砲弾の供与\n\n北朝鮮はロシアに砲弾を供与した。", "北朝鮮"),
        "zh.txt": ("gb18030", "炮弹\n\n朝鲜向俄罗斯提供炮弹。", "朝鲜"),
        "zh-hant.txt": ("big5", "砲彈\n\n北韓向俄羅斯運送砲彈。", "北韓"),
        "en.md": ("utf-8", "# Shells by rail\n\nNorth Korean weaponry reached Russia\u2019s depots.", "North Korean"),
        "ko.html": (
            "euc-kr",
            '<html><head><meta charset="euc-kr"><title>포탄</title></head>'
            "<body><p>평양은 모스크바에 포탄을 보냈다.</p></body></html>",
            "평양",
        ),
        "south.txt": ("euc-kr", "한국 조선업계\n\n한국 조선소가 러시아 선사의 포탄 운반선 발주를 거절했다.", None),
    }
    for name, (encoding, text, _) in samples.items():
        (docs / name).write_bytes(text.encode(encoding))
    result = CliRunner().invoke(main, ["match", "--json", "--rules", str(tmp_path / "rules"), str(docs)])
    assert result.exit_code == 0, result.output
    records = {Path(r["path"]).name: r for r in map(json.loads, result.output.splitlines())}
    assert set(records) == {name for name, (_, _, first) in samples.items() if first}
    for name, (_, text, first) in samples.items():
        if first is None:
            continue
        evidence = records[name]["evidence"]
        assert evidence[0]["matched"] == first, name
        assert all(ev["matched"] in text for ev in evidence), name


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("cp1251", "Поставки снарядов из Северной Кореи в Россию выросли."),
        ("koi8-r", "Поставки снарядов из Северной Кореи в Россию выросли."),
        ("euc-kr", '北, 러시아에 포탄 수백만 발 제공…정보 당국 "철도로 운송"'),
        ("shift_jis", "北朝鮮はロシアに砲弾を供与した。"),
        ("euc-jp", "北朝鮮はロシアに砲弾を供与した。"),
        ("gb18030", "炮弹\n\n朝鲜向俄罗斯提供炮弹。"),
        ("big5", "北韓向俄羅斯運送砲彈，烏克蘭官員證實。"),
        ("cp1252", "Café crème à la française, naïve résumé \u2013 \u201cquoted\u201d."),
    ],
)
def test_legacy_encodings_of_each_script_are_read(encoding: str, text: str) -> None:
    from watcher.sources.decode import decode_text

    assert decode_text(text.encode(encoding)) == text
