"""Russian and Ukrainian case forms of names, from pymorphy3's dictionaries (OpenCorpora, VESUM).

Names are inflected when the gazetteer is built, never while matching: "Северная Корея" gives "Северной
Кореи", "Северную Корею", ...; "Пхеньян" gives "Пхеньяне"; an adjective gives every gender, number and case.
"""

from __future__ import annotations

import logging
from typing import Any

CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct", "voct", "gen2", "loc2")
_DECLINED = {"NOUN", "ADJF", "PRTF"}
_ADJECTIVAL = {"ADJF", "PRTF"}
_UKRAINIAN_LETTERS = frozenset("іїєґІЇЄҐ")
_PROPER = frozenset({"Geox", "Name", "Surn", "Patr", "Orgn", "Trad", "Abbr"})


class Inflector:
    """Case forms of Russian and Ukrainian names; the dictionaries load on first use."""

    def __init__(self) -> None:
        self._analyzers: dict[str, Any] = {}

    def _morph(self, language: str) -> Any:
        morph = self._analyzers.get(language)
        if morph is None:
            import pymorphy3

            # Its "Loading dictionaries from ..." lines say nothing an operator needs.
            logging.getLogger("pymorphy3").setLevel(logging.WARNING)
            morph = self._analyzers[language] = pymorphy3.MorphAnalyzer(lang=language)
        return morph

    def forms(self, phrase: str, language: str | None = None) -> set[str]:
        """Every case form of a name (lower case, "ё" also written "е"), the name itself included.

        `language` is "ru" or "uk"; None guesses from the letters (і, ї, є, ґ are Ukrainian)."""
        if language is None:
            language = "uk" if _UKRAINIAN_LETTERS & set(phrase) else "ru"
        words = phrase.split()
        if not words or any(_is_abbreviation(w) for w in words):
            return {phrase}
        morph = self._morph(language)
        out = {phrase.lower()}
        if len(words) == 1:
            # A name is given in the nominative: a parse in another case is another word ("Баку" is not
            # "бак" in the dative). A place keeps its number: the plural of "Куба" is "кубы", cubes.
            nominative = [p for p in morph.parse(words[0].lower()) if "nomn" in p.tag.grammemes]
            parse = _best(nominative, _DECLINED)
            if parse is not None:
                place = parse.tag.POS == "NOUN" and "Geox" in parse.tag.grammemes
                out.update(
                    f.word
                    for f in parse.lexeme
                    if f.tag.POS in _DECLINED and not (place and f.tag.number != parse.tag.number)
                )
        else:
            out.update(_phrase_forms(morph, words))
        out.update([f.replace("ё", "е") for f in out if "ё" in f])
        return out

    def is_common_word(self, word: str, language: str) -> bool:
        """Whether a name, in lower case, is also an everyday word ("Того" and "того", "Чад" and "чад")."""
        return any(p.tag.POS and not (_PROPER & p.tag.grammemes) for p in self._morph(language).parse(word.lower()))


def _phrase_forms(morph: Any, words: list[str]) -> set[str]:
    """An adjectives + head noun phrase in each case; what follows the head noun ("Штаты Америки") stays."""
    lowered = [w.lower() for w in words]
    parses: list[Any] = []
    head = None
    for i, word in enumerate(lowered):
        candidates = morph.parse(word)
        noun = _best([p for p in candidates if "nomn" in p.tag.grammemes and "Surn" not in p.tag.grammemes], {"NOUN"})
        if noun is not None and head is None and _best(candidates, _ADJECTIVAL) is None:
            parses.append(noun)
            head = i
            break
        parses.append(_best(candidates, _ADJECTIVAL))
    if head is None:
        return set()
    out: set[str] = set()
    for case in CASES:
        if case not in morph.TagClass.KNOWN_GRAMMEMES:  # Ukrainian has no second genitive or locative
            continue
        inflected = []
        for parse, word in zip(parses, lowered, strict=False):
            form = parse.inflect({case}) if parse is not None else None
            inflected.append(form.word if form is not None else word)
        out.add(" ".join(inflected + lowered[head + 1 :]))
    return out


def _best(parses: list[Any], parts: set[str]) -> Any:
    """The likeliest parse of the given parts of speech, a place name first."""
    fitting = [p for p in parses if p.tag.POS in parts]
    if not fitting:
        return None
    places = [p for p in fitting if "Geox" in p.tag.grammemes]
    return (places or fitting)[0]


def _is_abbreviation(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) > 1 and all(c.isupper() for c in letters)
