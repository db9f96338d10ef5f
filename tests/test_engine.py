from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import hits
from watcher.items.model import Item
from watcher.rules.engine import Engine
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


def one_rule(make_engine, match_yaml: str, extra: str = "") -> Engine:
    return make_engine(
        "entities:\n  nk: [North Korea, DPRK, Pyongyang, Kim Jong-un]\n  ua: [Ukraine, Kyiv]\n"
        f"rules:\n  - id: r\n{extra}    match:\n" + "".join(f"      {line}\n" for line in match_yaml.splitlines())
    )


# terms and normalization -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("New arms for the front", True),
        ("ARMS race", True),
        ("It harms nobody", False),
        ("Alarms rang", False),
        ("arms-length deal", True),
        ("(arms)", True),
        ("firearms", False),
        ("arms2", False),
    ],
)
def test_term_matches_whole_words_only(make_engine, text: str, expected: bool) -> None:
    engine = one_rule(make_engine, "- arms")
    assert bool(hits(engine, text)) is expected


@pytest.mark.parametrize(
    "text",
    [
        "artillery shells",
        "artillery  shells",
        "artillery\nshells",
        "artillery \r\n\t shells",
        "Artillery Shells",
    ],
)
def test_phrase_allows_any_white_space(make_engine, text: str) -> None:
    assert hits(one_rule(make_engine, "- artillery shells"), text) == ["r"]


@pytest.mark.parametrize("text", ["Korea's army", "Korea\u2019s army", "KOREA\u2018S army", "Korea army"])
def test_possessive_and_curly_apostrophes(make_engine, text: str) -> None:
    assert hits(one_rule(make_engine, "- Korea"), text) == ["r"]


@pytest.mark.parametrize("term", ["Kyiv's troops", "Kyiv\u2019s troops"])
def test_apostrophes_in_terms_match_either_form(make_engine, term: str) -> None:
    engine = one_rule(make_engine, f'- "{term}"')
    assert hits(engine, "Kyiv's troops") == ["r"]
    assert hits(engine, "Kyiv\u2019s troops") == ["r"]


def test_unicode_normalization_in_text(make_engine) -> None:
    engine = one_rule(make_engine, "- fire\n- strasse")
    assert hits(engine, "\ufb01re on the Stra\u00dfe") == ["r"]


def test_overlapping_terms_are_all_found(make_engine) -> None:
    engine = make_engine(
        "rules:\n  - id: a\n    match: [weapons]\n  - id: b\n    match: [nuclear weapons]\n"
        "  - id: c\n    match: [nuclear]\n"
    )
    assert hits(engine, "talks on nuclear weapons") == ["a", "b", "c"]


def test_case_sensitive_term(make_engine) -> None:
    engine = one_rule(make_engine, "- {term: WHO, case_sensitive: true}")
    assert hits(engine, "The WHO warned") == ["r"]
    assert hits(engine, "people who warned") == []
    assert hits(engine, "The Who played") == []


def test_case_sensitive_alias(make_engine) -> None:
    engine = make_engine(
        "entities:\n  us: [United States, {term: US, case_sensitive: true}]\n"
        "rules:\n  - id: r\n    match:\n      entity: us\n"
    )
    assert hits(engine, "US troops") == ["r"]
    assert hits(engine, "join us") == []
    assert hits(engine, "the united states") == ["r"]


def test_entity_matches_any_alias(make_engine) -> None:
    engine = one_rule(make_engine, "- entity: nk")
    for text in ["DPRK said", "in Pyongyang", "Kim Jong-un spoke", "North Korea's army"]:
        assert hits(engine, text) == ["r"], text
    assert hits(engine, "South Korea said") == []


# operators ---------------------------------------------------------------------------------------------


def test_all_any_none(make_engine) -> None:
    engine = one_rule(make_engine, "all:\n  - entity: nk\n  - any: [weapons, shells]\nnone: [video game]")
    assert hits(engine, "DPRK sends shells") == ["r"]
    assert hits(engine, "DPRK sends food") == []
    assert hits(engine, "DPRK shells in a video game") == []


def test_list_under_match_is_all(make_engine) -> None:
    engine = one_rule(make_engine, "- entity: nk\n- entity: ua")
    assert hits(engine, "Pyongyang and Kyiv") == ["r"]
    assert hits(engine, "Pyongyang alone") == []


def test_none_alone_matches_items_without_the_terms(make_engine) -> None:
    engine = one_rule(make_engine, "none: [spam]")
    assert hits(engine, "good news") == ["r"]
    assert hits(engine, "spam news") == []


def test_at_least(make_engine) -> None:
    engine = one_rule(make_engine, "at_least: 2\nof: [missile, launch, test]")
    assert hits(engine, "a missile test") == ["r"]
    assert hits(engine, "a missile") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pyongyang shells Kyiv", True),  # 2 words apart
        ("Pyongyang one two three Kyiv", True),  # 4 apart
        ("Pyongyang one two three four Kyiv", False),  # 5 apart
        ("Kyiv one two Pyongyang", True),  # either order
    ],
)
def test_near_within_words(make_engine, text: str, expected: bool) -> None:
    engine = one_rule(make_engine, "near: [{entity: nk}, {entity: ua}]\nwithin: 4")
    assert bool(hits(engine, text)) is expected


def test_near_with_three_conditions_needs_one_window(make_engine) -> None:
    engine = one_rule(make_engine, "near: [a, b, c]\nwithin: 2")
    assert hits(engine, "a b c") == ["r"]
    assert hits(engine, "a b x x x c a") == []
    assert hits(engine, "a b x x x c b a") == ["r"]


def test_near_does_not_cross_fields(make_engine) -> None:
    engine = one_rule(make_engine, "near: [alpha, omega]\nwithin: 3")
    assert hits(engine, "omega here", title="alpha") == []


def test_sentence(make_engine) -> None:
    engine = one_rule(make_engine, "sentence: [{entity: nk}, {any: [weapons, arms]}]")
    assert hits(engine, "Officials said Pyongyang sold arms. Nothing else.") == ["r"]
    assert hits(engine, "Pyongyang spoke. Kyiv wants arms.") == []
    assert hits(engine, "Mr. Kim of the DPRK met Dr. Lee, who sells arms.") == ["r"]
    assert hits(engine, "The U.S. said the DPRK has arms.") == ["r"]


def test_regex_is_case_insensitive_by_default(make_engine) -> None:
    engine = one_rule(make_engine, r"regex: '\bKN-\d+\b'")
    assert hits(engine, "a new kn-23 missile") == ["r"]
    assert hits(engine, "nothing here") == []


def test_regex_case_sensitive_and_unanchored(make_engine) -> None:
    engine = one_rule(make_engine, "regex: 'Hwasong'\ncase_sensitive: true")
    assert hits(engine, "the Hwasong-18") == ["r"]
    assert hits(engine, "the HWASONG-18") == []
    assert hits(engine, "preHwasongpost") == ["r"]


def test_regex_without_literal_runs_on_every_item(make_engine) -> None:
    engine = one_rule(make_engine, r"regex: '\d{3}mm'")
    assert hits(engine, "152mm rounds") == ["r"]


def test_regex_sees_folded_white_space(make_engine) -> None:
    engine = one_rule(make_engine, r"regex: 'ship-to-ship transfers?'")
    assert hits(engine, "ship-to-ship\n   transfers were seen") == ["r"]


def test_fields_restrict_where_a_rule_looks(make_engine) -> None:
    engine = one_rule(make_engine, "- arms", extra="    fields: [title]\n")
    assert hits(engine, "arms in content only", title="Nothing") == []
    assert hits(engine, "nothing", title="Arms deal") == ["r"]


def test_sources_globs(make_engine) -> None:
    engine = one_rule(make_engine, "- arms", extra="    sources: ['reuters-*']\n")
    assert hits(engine, "arms", source="reuters-world") == ["r"]
    assert hits(engine, "arms", source="ap-world") == []


# evidence ----------------------------------------------------------------------------------------------


def test_evidence_offsets_point_into_the_original_field(make_engine) -> None:
    engine = one_rule(make_engine, "- entity: nk\n- any: [artillery shells]")
    text = "Satellite  images show\nNorth Korea\u2019s artillery\n  shells moving."
    [match] = engine.match(Item(source="s", content=text, title="About Pyongyang"))
    spans = {(e.condition, e.field, e.matched) for e in match.evidence}
    assert ("entity nk", "title", "Pyongyang") in spans
    assert ("entity nk", "content", "North Korea") in spans
    assert ('"artillery shells"', "content", "artillery\n  shells") in spans
    for e in match.evidence:
        field_text = text if e.field == "content" else "About Pyongyang"
        assert field_text[e.start : e.end] == e.matched
        assert " ".join(e.matched.split()) in e.snippet


def test_evidence_leaves_out_none_conditions(make_engine) -> None:
    engine = one_rule(make_engine, "all: [arms]\nnone: [spam]")
    [match] = engine.match(Item(source="s", content="arms"))
    assert [e.condition for e in match.evidence] == ['"arms"']


def test_explain_reports_each_condition(make_engine) -> None:
    engine = one_rule(make_engine, "all:\n  - entity: nk\n  - entity: ua")
    [(rule, matched, lines)] = list(engine.explain(Item(source="s", content="DPRK only"), everything=True))
    assert rule.id == "r" and matched is False
    assert any("\u2713 entity nk" in line and '"DPRK"' in line for line in lines)
    assert any("\u2717 entity ua" in line for line in lines)


# the index is an optimization only: it must never change the result ----------------------------------


def _random_rules(rng: random.Random, vocab: list[str], count: int) -> RuleSet:
    entities = {f"e{i}": Entity(f"e{i}", tuple(Term(t) for t in rng.sample(vocab, 2))) for i in range(8)}

    def leaf() -> Condition:
        roll = rng.random()
        if roll < 0.2:
            return EntityRef(rng.choice(sorted(entities)))
        if roll < 0.25:
            # Literal keys: some also word keys ("arms"), some inside words only ("nuclear w").
            return Regex(rf"{rng.choice(['arms', 'harms', 'w12', 'nuclear w', 'w1-'])}\w*")
        return Term(rng.choice(vocab), case_sensitive=rng.random() < 0.1)

    def positional() -> Condition:
        return AnyOf((leaf(), leaf())) if rng.random() < 0.3 else leaf()

    def condition(depth: int) -> Condition:
        if depth == 0 or rng.random() < 0.3:
            return leaf()
        kids = tuple(condition(depth - 1) for _ in range(rng.randint(1, 4)))
        kind = rng.randrange(6)
        if kind == 0:
            return All(kids)
        if kind == 1:
            return AnyOf(kids)
        if kind == 2:
            return All((condition(depth - 1), NoneOf(kids)))
        if kind == 3:
            # Repeated children share a key set: "at least 2" may then be met by one key.
            kids = kids + kids[:1]
            return AtLeast(rng.randint(1, len(kids)), kids)
        pair = (positional(), positional())
        return Near(pair, rng.randint(0, 4)) if kind == 4 else Sentence(pair)

    rules = [Rule(id=f"r{i}", title="t", match=condition(3)) for i in range(count)]
    return RuleSet(rules=rules, entities=entities)


def test_prefilter_and_scanners_agree_with_evaluating_every_rule(fast: bool) -> None:
    """The index and a lazy scanner are optimizations only: they never change a result or its evidence."""
    rng = random.Random(7)
    # Keys inside other words ("arms" in "harms", "w1" in "w12"), phrases, and case to trip the scanners.
    vocab = [f"w{i}" for i in range(30)] + ["nuclear weapons", "weapons", "arms", "harms", "W1", "w12", "Ab", "w2 w2"]
    ruleset = _random_rules(rng, vocab, 400)
    engine = Engine(ruleset, fast=fast)
    portable = Engine(ruleset, fast=False)
    fillers = ["the", "a", ".", "Said.", "harmsw1", "w1-w2", "w1's", "AB", "w2 w2 w2"]
    matched = 0
    for _ in range(150):
        words = [rng.choice(vocab + fillers) for _ in range(rng.randint(0, 30))]
        item = Item(source="s", title=" ".join(words[:4]), content=" ".join(words[4:]))
        found = engine.match(item)
        everything = [rule.id for rule, ok, _ in engine.explain(item, everything=True) if ok]
        assert [m.rule.id for m in found] == everything
        assert found == portable.match(item)
        matched += len(found)
    assert matched > 500  # the rules are not trivially false


def test_whole_words_in_non_ascii_text(make_engine) -> None:
    engine = one_rule(make_engine, "- Kraków")
    assert hits(engine, "W Krakówku i w Krakowie") == []
    assert hits(engine, "Kraków\u2019s mayor \u2014 \u00abKraków\u00bb") == ["r"]
    assert hits(one_rule(make_engine, "- ab"), "\u00e9ab ab\u00e9 ab_ _ab") == []
    # Text whose only non-ASCII characters are punctuation (news typography): boundaries as in ASCII.
    assert hits(one_rule(make_engine, "- ab"), "x\u2014ab\u2014y") == ["r"]
    assert hits(one_rule(make_engine, "- ab"), "\u2014xab\u2014 \u00ababy\u00bb") == []
    assert hits(one_rule(make_engine, "- ab"), "ab\u00e9 \u2014 \u00e9ab") == []


def test_one_engine_matches_from_several_threads_at_once(fast: bool) -> None:
    ruleset = RuleSet(rules=[Rule(id="r", title="t", match=All((Term("weapons"), Term("Kyiv"))))])
    engine = Engine(ruleset, fast=fast)
    items = [Item(source="s", content=f"{i} weapons for Kyiv" if i % 2 else f"{i} harms") for i in range(400)]

    def run() -> list[int]:
        return [len(engine.match(item)) for item in items]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: run(), range(4)))
    assert results == [[i % 2 for i in range(400)]] * 4


def test_evidence_is_deduplicated_and_capped_per_condition(make_engine) -> None:
    engine = one_rule(make_engine, "any: [drones, drones, {entity: nk}]")
    text = "drones " * 10 + "and Pyongyang"
    [match] = engine.match(Item(source="t", content=text))
    drones = [e for e in match.evidence if e.matched == "drones"]
    # The same occurrence named twice is one piece of evidence, and each condition gives at most three.
    assert len(drones) == 3 and len({(e.start, e.end) for e in drones}) == 3
    assert [e.matched for e in match.evidence if e.matched != "drones"] == ["Pyongyang"]
