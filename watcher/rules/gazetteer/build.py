"""Building the country gazetteer from CLDR (Babel), ISO 3166 (pycountry) and the curated countries.yaml."""

from __future__ import annotations

import gettext
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from watcher.items.normalize import normalize_term
from watcher.items.scripts import word_mask
from watcher.rules.gazetteer.inflect import Inflector
from watcher.rules.model import Entity, Term
from watcher.rules.scan import stands_alone

# Our language tags: (CLDR locale for Babel, gettext language of pycountry's ISO 3166 translations).
LANGUAGES: dict[str, tuple[str, str | None]] = {
    "en": ("en", None),
    "ko": ("ko", "ko"),
    "ru": ("ru", "ru"),
    "uk": ("uk", "uk"),
    "zh-Hans": ("zh", "zh_CN"),
    "zh-Hant": ("zh_Hant", "zh_TW"),
    "ja": ("ja", "ja"),
    "de": ("de", "de"),
    "fr": ("fr", "fr"),
    "es": ("es", "es"),
    "ar": ("ar", "ar"),
}
INFLECTED = ("ru", "uk")
PREFIX = "country:"
_ARABIC_MARKS = re.compile("[\u064b-\u0652\u0670]")  # vowel signs, left out in most running text
_SPACED_PARENS = re.compile(r"^(.*?)\s*\((.*)\)$")


@dataclass(frozen=True)
class Country:
    """One country's built-in entity: its names by language, their generated forms, and where it came from."""

    code: str
    name: str
    names: dict[str, tuple[str, ...]]
    forms: tuple[str, ...]  # Russian and Ukrainian case forms, beyond the names themselves
    case_sensitive: frozenset[str]
    not_within: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def entity_name(self) -> str:
        return PREFIX + self.code

    def aliases(self) -> list[str]:
        seen: dict[str, None] = {}
        for names in self.names.values():
            seen.update(dict.fromkeys(names))
        seen.update(dict.fromkeys(self.forms))
        return list(seen)

    def entity(self) -> Entity:
        aliases = tuple(Term(a, a in self.case_sensitive) for a in self.aliases())
        blockers = tuple(Term(t) for t in self.not_within)
        return Entity(self.entity_name, aliases, "(built in)", None, blockers)


@dataclass
class Gazetteer:
    """Every country's built-in entity, by ISO 3166-1 alpha-2 code."""

    countries: dict[str, Country] = field(default_factory=dict)
    # Aliases that two countries shared, left out of both: (folded alias, codes).
    ambiguous: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def get(self, name: str) -> Country | None:
        """The country of an entity name "country:KP" (any case), or None."""
        if not name.lower().startswith(PREFIX):
            return None
        return self.countries.get(name[len(PREFIX) :].upper())


def is_builtin_name(name: str) -> bool:
    return name.lower().startswith(PREFIX)


@cache
def load_gazetteer() -> Gazetteer:
    """The gazetteer, built once per process on first use (about a second; nothing when unused)."""
    return build_gazetteer()


def build_gazetteer() -> Gazetteer:
    import pycountry
    from babel import Locale
    from babel.core import get_global

    curated = yaml.safe_load(files("watcher.rules.gazetteer").joinpath("countries.yaml").read_text("utf-8"))
    entries: dict[str, dict[str, Any]] = curated["countries"]
    locales = {lang: Locale.parse(cldr) for lang, (cldr, _) in LANGUAGES.items()}
    translations = {
        lang: gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[po], fallback=True)
        for lang, (_, po) in LANGUAGES.items()
        if po
    }
    zones: Mapping[str, list[str]] = get_global("territory_zones")
    inflector = Inflector()

    drafts: dict[str, Country] = {}
    for record in pycountry.countries:
        code = record.alpha_2
        entry = entries.get(code, {})
        drop = set(entry.get("drop", ()))
        names: dict[str, list[str]] = {}
        capital = entry.get("capital")
        cities = _capital_names(capital, zones.get(code, []), locales) if capital else {}
        for lang in LANGUAGES:
            found: list[str] = []
            cldr = locales[lang].territories.get(code)
            if cldr:
                found.extend(_clean(cldr, lang))
            for attr in ("name", "official_name", "common_name"):
                value = getattr(record, attr, None)
                if not value:
                    continue
                text = translations[lang].gettext(value) if lang in translations else value
                if lang == "en" or text != value:  # not an English name where a translation is missing
                    found.extend(_clean(text, lang, iso=True))
            if lang == "en" and capital:
                found.append(capital)
            if lang in cities:
                found.append(cities[lang])
            found.extend(entry.get(lang, ()))
            unique = [n for n in dict.fromkeys(found) if n and n not in drop]
            if lang == "ar":
                unique = list(dict.fromkeys([*unique, *(_ARABIC_MARKS.sub("", n) for n in unique)]))
            names[lang] = unique
        case_sensitive = set(entry.get("case_sensitive", ()))
        case_sensitive.update(n for ns in names.values() for n in ns if _is_abbreviation(n) or _is_short(n))
        forms: set[str] = set()
        for lang in INFLECTED:
            for name in names[lang]:
                # A name that is also an everyday word ("Того", "Чад") counts only capitalized, in every form.
                # Only the Russian dictionary tags places; a Ukrainian name follows the Russian one it equals.
                if (
                    name[:1].isupper()
                    and " " not in name
                    and name in names["ru"]
                    and inflector.is_common_word(name, "ru")
                ):
                    case_sensitive.add(name)
                if name in case_sensitive:
                    capitalized = {f[:1].upper() + f[1:] for f in inflector.forms(name, lang)}
                    forms.update(capitalized)
                    case_sensitive.update(capitalized)
                else:
                    forms.update(inflector.forms(name, lang))
        listed = {n for ns in names.values() for n in ns}
        blockers: set[str] = set()
        for phrase in entry.get("not_within", ()):
            blockers.update(inflector.forms(phrase) if _is_cyrillic(phrase) else {phrase})
        drafts[code] = Country(
            code=code,
            name=locales["en"].territories.get(code) or getattr(record, "common_name", None) or record.name,
            names={lang: tuple(ns) for lang, ns in names.items()},
            forms=tuple(sorted(forms - listed - {n.lower() for n in listed if n not in case_sensitive})),
            case_sensitive=frozenset(case_sensitive),
            not_within=tuple(sorted(blockers)),
            sources=_sources(entry),
        )
    return _disambiguate(drafts)


def _disambiguate(drafts: dict[str, Country]) -> Gazetteer:
    """Leave out every alias two countries share; add to each country, as phrases inside which its aliases do
    not count, the other countries' aliases that contain one of them (印度 in 印度尼西亚, Guinea in Papua New
    Guinea, Гвинеи in Экваториальной Гвинеи)."""
    import ahocorasick

    owners: dict[str, set[str]] = defaultdict(set)
    for code, country in drafts.items():
        for alias in country.aliases():
            owners[_fold(alias)].add(code)
    ambiguous = {key: tuple(sorted(codes)) for key, codes in owners.items() if len(codes) > 1}
    automaton = ahocorasick.Automaton()
    for key, codes in owners.items():
        if key not in ambiguous:
            automaton.add_word(key, (key, next(iter(codes))))
    automaton.make_automaton()
    inside: dict[str, set[str]] = defaultdict(set)
    for key, codes in owners.items():
        if key in ambiguous:
            continue
        (owner,) = codes
        mask = word_mask(key)
        for end, (contained, other) in automaton.iter(key):
            start = end + 1 - len(contained)
            if other != owner and contained != key and stands_alone(mask, start, end + 1, contained):
                inside[other].add(key)
    gazetteer = Gazetteer(ambiguous=sorted(ambiguous.items()))
    for code, country in drafts.items():
        names = {lang: tuple(n for n in ns if _fold(n) not in ambiguous) for lang, ns in country.names.items()}
        forms = tuple(f for f in country.forms if _fold(f) not in ambiguous)
        blockers = tuple(sorted({*country.not_within, *inside.get(code, ())}))
        gazetteer.countries[code] = Country(
            code, country.name, names, forms, country.case_sensitive, blockers, country.sources
        )
    return gazetteer


def _capital_names(capital: str, zones: list[str], locales: dict[str, Any]) -> dict[str, str]:
    """The capital's name in each language, from CLDR's exemplar city of the time zone named after it."""
    for zone in zones:
        english = locales["en"].time_zones.get(zone, {}).get("city") or zone.rsplit("/", 1)[-1].replace("_", " ")
        if english != capital:
            continue
        out = {}
        for lang, locale in locales.items():
            city = locale.time_zones.get(zone, {}).get("city")
            if city:
                out[lang] = city
        return out
    return {}


def _clean(name: str, lang: str, *, iso: bool = False) -> list[str]:
    """A CLDR or ISO name as aliases: ISO's inverted "Korea, Republic of" forms never occur in text; "Myanmar
    (Burma)" is two names in English, and elsewhere a name with what it belongs to ("Гонконг (САР)",
    "Сен-Мартен (Франция)"), which is left out; "Hong Kong SAR China" is "Hong Kong"."""
    if iso and ("," in name or "\u060c" in name):
        return []
    m = _SPACED_PARENS.match(name)
    if m:
        return [m.group(1), m.group(2)] if lang == "en" else [m.group(1)]
    if " SAR " in name:
        return [name.split(" SAR ")[0]]
    return [name]


def _sources(entry: dict[str, Any]) -> tuple[str, ...]:
    out = ["cldr (Babel): common names and capitals' names", "iso-3166 (pycountry): official names"]
    if entry:
        out.append(f"countries.yaml: {entry.get('source', 'review')}")
    return tuple(out)


def _fold(alias: str) -> str:
    return normalize_term(alias.removesuffix("*"))


def _is_abbreviation(name: str) -> bool:
    letters = [c for c in name if c.isalpha()]
    return 1 < len(letters) <= 5 and all(c.isupper() for c in letters)


def _is_short(name: str) -> bool:
    """A name of three letters or fewer in a cased script ("Rom", "Рим"): matched as written, as "ROM" is not it."""
    return len(name) <= 3 and name.isalpha() and name[:1].isupper() and name[1:].islower()


def _is_cyrillic(text: str) -> bool:
    return any("\u0400" <= c <= "\u04ff" for c in text)
