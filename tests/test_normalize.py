from __future__ import annotations

import random
import unicodedata

import pytest

from watcher.items.normalize import NormText, normalize_term
from watcher.items.scripts import word_mask


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("North   Korea\n\tnow", " north korea now "),
        ("Kyiv\u2019s and Korea\u2018s", " kyiv's and korea's "),
        ("\u201cquoted\u201d", ' "quoted" '),
        ("Stra\u00dfe", " strasse "),
        ("\ufb01re", " fire "),  # NFKC ligature
        ("\uff37\uff28\uff2f", " who "),  # fullwidth letters
        ("Pyong\u00adyang", " pyongyang "),  # soft hyphen
        ("Kim Jong\u2011un", " kim jong-un "),  # non-breaking hyphen
        ("a\u00a0b\u2003c", " a b c "),  # no-break and em spaces
        ("", "  "),
    ],
)
def test_normtext_folds_case_quotes_and_space(text: str, folded: str) -> None:
    assert NormText(text).folded == folded


def test_normtext_cased_keeps_case() -> None:
    assert NormText("The  WHO said").cased == " The WHO said "


@pytest.mark.parametrize(
    ("text", "needle", "original"),
    [
        ("The  quick\n brown fox", "brown", "brown"),
        ("North Korea\u2019s  troops", "korea's", "Korea\u2019s"),
        ("in der Stra\u00dfe heute", "strasse", "Stra\u00dfe"),
        ("a \ufb01re b", "fire", "\ufb01re"),
        ("Pyong\u00adyang now", "pyongyang", "Pyong\u00adyang"),
        ("  leading and trailing  ", "trailing", "trailing"),
    ],
)
def test_original_span_maps_back_to_original_text(text: str, needle: str, original: str) -> None:
    t = NormText(text)
    i = t.folded.index(needle)
    cs, ce = t.cased_span(i, i + len(needle))
    start, end = t.original_span(cs, ce)
    assert text[start:end] == original


def test_word_index_counts_words() -> None:
    t = NormText("one two\n\nthree four")
    assert t.word_index(t.cased.index("three")) == 2


def test_normalize_term_matches_text_normalization() -> None:
    assert normalize_term("  Kim\u00a0Jong\u2011Un ") == "kim jong-un"
    assert normalize_term("WHO", fold=False) == "WHO"


MIXED = [
    "Pyongyang \u2014 the \u201cDPRK\u201d said\u2026 Kyiv\u2019s \u00abfront\u00bb",
    "Krak\u00f3w  and\n\nM\u00fcnchen: \ufb01re \uff37\uff28\uff2f Pyong\u00adyang a\u00a0b",
    "\u041a\u0438\u0435\u0432 \u0438 \u0425\u0430\u0440\u044c\u043a\u043e\u0432, e\u0301t\u00e9 \u4e2d\u6587 x\u200by",
    "\u2474 \u00bd Stra\u00dfe \u2018quoted\u2019 \u2011\u2010 \ufeffBOM",
]


def assert_words_map_back(text: str) -> None:
    """The whole text is normalized at once, its map back word by word: both give the same words, and each
    normalized word maps back onto the original text it came from (less invisible characters)."""
    norm = NormText(text)
    words = [w for w in (normalize_term(w, fold=False) for w in text.split()) if w]
    assert norm.cased == " " + " ".join(words) + " "
    pos = 1
    for word in words:
        start, end = norm.original_span(pos, pos + len(word))
        assert normalize_term(text[start:end], fold=False) == word, (text, word, text[start:end])
        pos += len(word) + 1


@pytest.mark.parametrize("text", MIXED)
def test_non_ascii_text_is_normalized_word_by_word(text: str) -> None:
    assert_words_map_back(text)


@pytest.mark.parametrize(
    "text",
    [
        "\ufb01ne cafe\u0301 now",  # a ligature (one more character) and an accent composed (one fewer)
        "Pyong\u00adyang \u2026 \ub4a4\u11a8 e\u0301\u0301 x",  # an invisible, an ellipsis, jamo, marks
    ],
)
def test_changes_of_length_that_cancel_out_still_map_back(text: str) -> None:
    assert_words_map_back(text)


# Characters random texts are made of: ASCII, news typography, other scripts (all one for one under NFKC),
# and some that are not (a combining accent, a ligature, an invisible, a fullwidth letter, runs of space).
ONE_FOR_ONE = list("abcXYZ019_.,") + ["\u2019", "\u201c", "\u201d", "\u2014", "\u00e9", "\u00df"]
ONE_FOR_ONE += ["\u041a", "\u0438", "\u4e2d", "\ubd81", "\u00ab", "\u00bb"]
OTHERS = ["\u2026", "\u0301", "\ufb01", "\u00ad", "\u200b", "\uff37", "\u1161"]
SPACES = ["\u00a0", "  ", "\n\n", " \t"]
POOLS = [ONE_FOR_ONE, ONE_FOR_ONE + OTHERS, ONE_FOR_ONE + OTHERS + SPACES]


@pytest.mark.parametrize("seed", range(60))
def test_random_text_maps_every_word_back_to_where_it_came_from(seed: int) -> None:
    """Texts normalizing one character for one (offsets move only with white space) and texts that do not
    (a map is built)."""
    rng = random.Random(seed)
    pool = POOLS[seed % len(POOLS)]
    words = ["".join(rng.choice(pool) for _ in range(rng.randint(1, 6))) for _ in range(30)]
    assert_words_map_back(rng.choice(["", " ", "\n"]) + " ".join(words) + rng.choice(["", " ", "\n"]))


def _expected_class(ch: str) -> str:
    if not (ch.isalnum() or ch == "_"):
        return " "
    name = unicodedata.name(ch, "")
    if name.startswith("HANGUL"):
        return "#"
    if name.startswith(("CJK", "HIRAGANA", "KATAKANA", "THAI")):
        return "!"
    return "w"


@pytest.mark.parametrize(
    "text",
    [
        *MIXED,
        "plain ASCII_text, 42 words.",
        "북한이 러시아에 포탄을 보냈다 (DPRK는)",
        "朝鲜向俄罗斯提供炮弹。北朝鮮はロシアに砲弾を",
        "ทหารเกาหลีเหนือ and \u201cKyiv\u201d",  # Thai, a few curly quotes: the mostly-ASCII path
        "Mostly English with one \u2014 dash and 北韓 in it, long enough to count as mostly ASCII text.",
        "English with a \u2014 dash and \u201ccurly\u201d quotes only: no letter of another script in it.",
    ],
)
def test_word_mask_marks_each_character_with_its_class(text: str) -> None:
    """Word characters of spaced scripts "w", Hangul "#", Han, Kana and Thai "!", all others a space."""
    assert word_mask(text) == "".join(_expected_class(ch) for ch in text)
