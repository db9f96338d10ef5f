from __future__ import annotations

import pytest

from watcher.normalize import NormText, normalize_term


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
