"""One item as the rule conditions see it: its normalized fields, the keys found in them, and evidence."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, NamedTuple

from watcher.items.model import TEXT_FIELDS
from watcher.items.sentences import sentence_starts
from watcher.rules.scan import Found

SNIPPET_CONTEXT = 60
# An occurrence: (field index, start, end) in the field's normalized cased text.
Occ = tuple[int, int, int]


class Evidence(NamedTuple):
    """Why a rule matched: which condition, the text it matched, where, and the text around it."""

    condition: str
    matched: str
    field: str
    start: int
    end: int
    snippet: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "condition": self.condition,
            "matched": self.matched,
            "field": self.field,
            "start": self.start,
            "end": self.end,
            "snippet": self.snippet,
        }


class Doc:
    """One item, normalized and scanned: what the nodes evaluate against."""

    def __init__(self, found: Found):
        self.fields = found.fields
        # The word keys that occur as words (for the prefilter), and where (for the conditions).
        self.words = found.words
        self.occurrences = found.occurrences
        self.literals = found.literals
        self.mask: frozenset[int] | None = None
        self._regex_cache: dict[tuple[int, int], list[Occ]] = {}
        self._sentences: dict[int, list[int]] = {}
        # Evidence of one occurrence, shared by every rule that matched there (many, in a busy document).
        self._evidence: dict[tuple[str, Occ], Evidence] = {}

    def cased_text(self, occ: Occ) -> str:
        return self.fields[occ[0]].cased[occ[1] : occ[2]]

    def word_index(self, occ: Occ) -> int:
        return self.fields[occ[0]].word_index(occ[1])

    def sentence_index(self, occ: Occ) -> int:
        starts = self._sentences.get(occ[0])
        if starts is None:
            starts = self._sentences[occ[0]] = sentence_starts(self.fields[occ[0]].cased)
        return bisect_right(starts, occ[1]) - 1

    def regex_occurrences(self, key: int, regex: Any) -> list[Occ]:
        """Where `regex` (an RE2 pattern) matches, in the fields in the mask; cached per document under `key`."""
        out: list[Occ] = []
        for f, text in enumerate(self.fields):
            if self.mask is not None and f not in self.mask:
                continue
            occs = self._regex_cache.get((key, f))
            if occs is None:
                body = text.cased[1:-1]
                occs = [(f, m.start() + 1, m.end() + 1) for m in regex.finditer(body) if m.end() > m.start()]
                self._regex_cache[(key, f)] = occs
            out.extend(occs)
        return out

    def locate(self, occ: Occ) -> tuple[str, int, int]:
        """(field name, start, end) of an occurrence in the original text of its field."""
        start, end = self.fields[occ[0]].original_span(occ[1], occ[2])
        return TEXT_FIELDS[occ[0]], start, end

    def describe(self, occ: Occ) -> str:
        field, start, end = self.locate(occ)
        return f'"{self.fields[occ[0]].original[start:end]}" in {field}'

    def evidence(self, label: str, occ: Occ) -> Evidence:
        found = self._evidence.get((label, occ))
        if found is None:
            field, start, end = self.locate(occ)
            original = self.fields[occ[0]].original
            found = Evidence(label, original[start:end], field, start, end, snippet(original, start, end))
            self._evidence[(label, occ)] = found
        return found


def snippet(original: str, start: int, end: int) -> str:
    """The text around original[start:end], cut at spaces, white space folded."""
    lo = max(0, start - SNIPPET_CONTEXT)
    hi = min(len(original), end + SNIPPET_CONTEXT)
    if lo > 0:
        space = original.find(" ", lo, start)
        lo = space + 1 if space >= 0 else lo
    if hi < len(original):
        space = original.rfind(" ", end, hi)
        hi = space if space >= 0 else hi
    text = " ".join(original[lo:hi].split())
    return ("\u2026" if lo > 0 else "") + text + ("\u2026" if hi < len(original) else "")
