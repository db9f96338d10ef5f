"""Sentence boundaries in normalized text, for `sentence:` conditions."""

from __future__ import annotations

import re

_END = re.compile(r"[.!?\u2026]+[\"')\]]*(?= )")
# Chinese and Japanese full stops end a sentence wherever they are: no space follows them.
_CLOSERS = "[\u300d\u300f\u201d\"')\\]\uff09]*"
_WIDE_END = re.compile(f"[\u3002\uff01\uff1f]+{_CLOSERS}|[!?]+{_CLOSERS}(?=[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff])")
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
    """Offsets where sentences begin in a normalized (single-spaced, padded) text; the first is 0.

    A sentence ends at ".", "!", "?" or "…" followed by a space and a capital, a digit, an opening quote or a
    letter of a script without case (Korean, Arabic, ...), unless the word before is an abbreviation or an
    initial; and at "。", "！" and "？" (NFKC makes the full-width "！？" plain "!?" followed by nothing)."""
    starts = [0]
    if not cased.isascii():
        for m in _WIDE_END.finditer(cased):
            nxt = m.end() + 1 if cased[m.end() : m.end() + 1] == " " else m.end()
            if nxt < len(cased) - 1:
                starts.append(nxt)
    for m in _END.finditer(cased):
        nxt = m.end() + 1
        if nxt >= len(cased) - 1:
            break
        ch = cased[nxt]
        if not (ch.isupper() or ch.isdigit() or ch in "\"'([" or (ch.isalpha() and not ch.islower())):
            continue
        if m.group()[0] == ".":
            word = cased[cased.rfind(" ", 0, m.start()) + 1 : m.start()].lstrip("\"'([")
            if word.lower() in _ABBREVIATIONS or _INITIALS.match(word):
                continue
        starts.append(nxt)
    return sorted(set(starts))
