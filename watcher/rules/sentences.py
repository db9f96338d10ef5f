"""Sentence boundaries in normalized text, for `sentence:` conditions."""

from __future__ import annotations

import re

_END = re.compile(r"[.!?\u2026]+[\"')\]]*(?= )")
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)*[A-Za-z]$")
_ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "gen",
        "lt",
        "col",
        "maj",
        "capt",
        "cpt",
        "sgt",
        "adm",
        "cmdr",
        "gov",
        "sen",
        "rep",
        "pres",
        "st",
        "jr",
        "sr",
        "rev",
        "hon",
        "no",
        "vs",
        "etc",
        "approx",
        "inc",
        "corp",
        "co",
        "ltd",
        "dept",
        "est",
        "fig",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
    }
)


def sentence_starts(cased: str) -> list[int]:
    """Offsets where sentences begin in a normalized (single-spaced, padded) text; the first is 0."""
    starts = [0]
    for m in _END.finditer(cased):
        nxt = m.end() + 1
        if nxt >= len(cased) - 1:
            break
        ch = cased[nxt]
        if not (ch.isupper() or ch.isdigit() or ch in "\"'(["):
            continue
        if m.group()[0] == ".":
            word = cased[cased.rfind(" ", 0, m.start()) + 1 : m.start()].lstrip("\"'([")
            if word.lower() in _ABBREVIATIONS or _INITIALS.match(word):
                continue
        starts.append(nxt)
    return starts
