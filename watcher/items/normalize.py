"""Text normalization for matching, with offsets mapped back to the original text.

A field is normalized once: Unicode NFKC, curly quotes and odd hyphens made straight, invisible characters
(soft hyphen, zero-width space) dropped, every run of white space folded to one space, and the whole padded
with a space at each end so that a word boundary check never falls off the text. `cased` keeps case (for
case-sensitive terms and regexes); `folded` is `cased` case-folded (for everything else).

ASCII text, the common case, takes a fast path of C-level string methods; the map back to original
offsets is only built when evidence is asked for.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from functools import cache

from watcher.items.scripts import unspaced_positions

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): characters with no visible trace
# (soft hyphen, zero-width joiners, bidi controls, variation selectors, U+180E, the tag block) that would
# otherwise split "North Korea" into pieces no rule sees. Dropped before matching.
_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
_STRAIGHT = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u02bc": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u2010": "-",
    "\u2011": "-",
}
_CHARMAP = str.maketrans({**_STRAIGHT, **{chr(c): None for low, high in _IGNORABLE for c in range(low, high + 1)}})
# The characters _CHARMAP changes, each with what it becomes: replaced where they occur (found among a text's
# few non-ASCII characters), rather than the whole text translated (slow once the text is not ASCII).
_SPECIALS = {chr(code): to or "" for code, to in _CHARMAP.items()}
_WORD = re.compile(r"\S+")
# Where a text and its normalized form can differ in length: white space that is not one plain space between
# words, and words that are not ASCII.
_ANOMALY = re.compile(r"^\s+|\s+\Z|\s{2,}|[^\S ]|[^\x00-\x7f\s]+")
_SPACE = re.compile(" ")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@cache
def _one_for_one(ch: str) -> bool:
    """Whether a character normalizes to exactly one character on its own: not one that NFKC expands (a
    ligature, an ellipsis) or that is dropped (an invisible). In context, NFKC can only compose (a letter
    with its accent, Hangul jamo), which shortens the text: a text of such characters that keeps its length
    has every character where it was."""
    return len(unicodedata.normalize("NFKC", ch).translate(_CHARMAP)) == 1


def _straighten(text: str, others: set[str]) -> str:
    """`text` with the quotes, hyphens and invisibles among its non-ASCII characters `others` replaced."""
    for ch in others & _SPECIALS.keys():
        text = text.replace(ch, _SPECIALS[ch])
    return text


def normalize_word(word: str) -> str:
    """Normalize a piece of text without folding case (NFKC, quotes, invisibles, white space)."""
    return " ".join(unicodedata.normalize("NFKC", word).translate(_CHARMAP).split())


def normalize_term(term: str, *, fold: bool = True, confusables: Confusables | None = None) -> str:
    """Normalize a rule's term the same way as the text it is looked for in (no padding)."""
    cased = normalize_word(term)
    if not fold:
        return cased
    folded = cased.casefold()
    return folded.translate(confusables) if confusables and not folded.isascii() else folded


# A translation table from look-alike characters to the ASCII letter or digit they imitate.
Confusables = dict[int, str]


def confusable_table() -> Confusables:
    """Unicode's confusables (via confusable-homoglyphs) reduced to one-character folds onto ASCII: Cyrillic
    "о" and Greek "ο" become "o". One character for one, so offsets in the text do not move."""
    import json
    from importlib.resources import files

    data = json.loads(files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8"))
    table: Confusables = {}
    for char, homoglyphs in data.items():
        if len(char) != 1 or char.isascii():
            continue
        targets = sorted(
            {h["c"].casefold() for h in homoglyphs if len(h["c"]) == 1 and h["c"].isascii() and h["c"].isalnum()}
        )
        if targets:
            # Letters before digits: a look-alike of "l" and "1" counts as "l".
            table[ord(char)] = min(targets, key=lambda c: (c.isdigit(), c))
    return table


def is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class NormText:
    """One field's text, normalized for matching."""

    __slots__ = ("original", "cased", "folded", "_segments", "_starts", "_f2c", "_spaces", "_unspaced", "_shift")

    def __init__(self, original: str, confusables: Confusables | None = None):
        self.original = original
        # (cased start, original start, original end, normalized word or None when unchanged)
        self._segments: list[tuple[int, int, int, int, str | None]] | None = None
        self._starts: list[int] = []  # each segment's cased start: bisected without a key function
        self._spaces: list[int] | None = None
        self._unspaced: list[int] | None = None
        # When every white space run of ASCII text is one character, cased offsets are original offsets
        # shifted by the padding and the leading white space: no map is needed at all.
        self._shift: int | None = None
        if original.isascii():
            self.cased = " " + " ".join(original.split()) + " "
            stripped = original.lstrip()
            if len(self.cased) - 2 == len(stripped.rstrip()):
                self._shift = len(original) - len(stripped) - 1
        else:
            # The whole text at once, in C; the map back to the original, word by word, only when asked for.
            nfkc = unicodedata.normalize("NFKC", original)
            others = set(_NON_ASCII.findall(nfkc))
            text = _straighten(nfkc, others)
            self.cased = " " + " ".join(text.split()) + " "
            # News typography (curly quotes, dashes) and most letters of other scripts normalize one for one:
            # then offsets move only with the white space, as in ASCII text, and no map is needed either.
            if nfkc != original:
                others = set(_NON_ASCII.findall(original))
            if len(text) == len(original) and all(map(_one_for_one, others)):
                stripped = text.lstrip()
                if len(self.cased) - 2 == len(stripped.rstrip()):
                    self._shift = len(text) - len(stripped) - 1
        folded = self.cased.casefold()
        if len(folded) == len(self.cased):
            self.folded = folded
            self._f2c: list[int] | None = None
        else:
            # Rare: a character folds to several (German sharp s). Keep a map from folded to cased offsets.
            f2c: list[int] = []
            pieces: list[str] = []
            for i, ch in enumerate(self.cased):
                f = ch.casefold()
                pieces.append(f)
                f2c.extend([i] * len(f))
            f2c.append(len(self.cased))
            self.folded = "".join(pieces)
            self._f2c = f2c
        if confusables and not self.folded.isascii():
            self.folded = self.folded.translate(confusables)

    @property
    def folded_is_cased(self) -> bool:
        """Whether offsets in `folded` are offsets in `cased` (no character folded to several)."""
        return self._f2c is None

    def cased_offset(self, folded_offset: int) -> int:
        """The offset in `cased` of an offset in `folded`."""
        return folded_offset if self._f2c is None else self._f2c[folded_offset]

    def cased_span(self, start: int, end: int) -> tuple[int, int]:
        """A folded [start, end) span as a cased span."""
        if self._f2c is None:
            return start, end
        return self._f2c[start], self._f2c[end - 1] + 1

    def _build_segments(self) -> list[tuple[int, int, int, int, str | None]]:
        """Where `cased` and the original differ in length, in order: (cased start, original start, cased
        length, original length, normalized word or None for white space). Between two such regions the
        offsets differ by a constant. Most text has few: a paragraph break, a word with a ligature."""
        if self._segments is None:
            original = self.original
            regions: list[tuple[int, int, int, int, str | None]] = []
            delta = 1  # cased offset - original offset where nothing changed: the padding space comes first
            word_end = 0
            for m in _ANOMALY.finditer(original):
                start, end = m.span()
                if start < word_end:
                    continue  # more of a word already taken whole
                text = m.group()
                if not text[0].isspace():
                    # Non-ASCII characters: the whole word they are in.
                    start = _word_start(original, start)
                    end = _word_end(original, end)
                    text = original[start:end]
                    word_end = end
                if text[0].isspace():
                    # A run of white space is one space in `cased` (at the very start: the padding space).
                    cased = 0 if start == 0 else start + delta
                    regions.append((cased, start, 1, end - start, None))
                    delta = cased + 1 - end
                    continue
                word = normalize_word(text)
                if not word:
                    self._segments = self._word_segments()
                    break
                if len(word) != end - start:
                    cased = start + delta
                    regions.append((cased, start, len(word), end - start, word))
                    delta = cased + len(word) - end
            else:
                self._segments = regions
            self._starts = [segment[0] for segment in self._segments]
        return self._segments

    def _word_segments(self) -> list[tuple[int, int, int, int, str | None]]:
        """Every word as a region: for the rare text where a word normalizes to nothing (and takes its space)."""
        segments: list[tuple[int, int, int, int, str | None]] = []
        pos = 1
        previous_end = 0
        for m in _WORD.finditer(self.original):
            word = normalize_word(m.group())
            if not word:
                continue
            # The white space before the word, then the word itself.
            segments.append((pos - 1, previous_end, 1, m.start() - previous_end, None))
            segments.append((pos, m.start(), len(word), m.end() - m.start(), word))
            pos += len(word) + 1
            previous_end = m.end()
        return segments

    def original_offset(self, cased_offset: int) -> int:
        """The offset in the original text of a character at `cased_offset`."""
        if self._shift is not None:
            return max(0, min(cased_offset + self._shift, len(self.original)))
        segments = self._build_segments()
        i = bisect_right(self._starts, cased_offset) - 1
        if i < 0:
            return max(0, min(cased_offset - 1, len(self.original)))
        cstart, ostart, clen, olen, word = segments[i]
        off = cased_offset - cstart
        if off >= clen:
            return max(0, min(ostart + olen + off - clen, len(self.original)))
        if word is None or len(word) == olen:
            return ostart + min(off, olen)
        charmap = _char_map(self.original[ostart : ostart + olen], word)
        if charmap is not None and off < len(charmap):
            return ostart + charmap[off]
        return ostart + min(off, olen)

    def original_span(self, cased_start: int, cased_end: int) -> tuple[int, int]:
        """A cased [start, end) span as a span of the original text."""
        shift = self._shift
        if shift is not None:
            size = len(self.original)
            start = max(0, min(cased_start + shift, size))
            return start, max(start, min(cased_end + shift, size))
        start = self.original_offset(cased_start)
        end = self._original_end(cased_end) if cased_end > cased_start else start
        return start, max(start, min(end, len(self.original)))

    def _original_end(self, cased_end: int) -> int:
        segments = self._build_segments()
        i = bisect_right(self._starts, cased_end - 1) - 1
        if i >= 0:
            cstart, ostart, clen, olen, word = segments[i]
            # A span to the end of a word that normalization shortened ("e" + combining accent) ends where
            # the original word ends.
            if word is not None and cased_end == cstart + clen:
                return ostart + olen
        return self.original_offset(cased_end - 1) + 1

    def word_index(self, cased_offset: int) -> int:
        """The index of the word holding `cased_offset`, for `near`.

        Words are runs between single spaces; in scripts written without spaces (Chinese, Japanese, Thai)
        every two characters count as one more word, about the average length of a Chinese or Japanese word.
        """
        if self._spaces is None:
            self._spaces = [m.start() for m in _SPACE.finditer(self.cased)]
            self._unspaced = unspaced_positions(self.cased)
        index = bisect_right(self._spaces, cased_offset) - 1
        if self._unspaced:
            index += bisect_left(self._unspaced, cased_offset) // 2
        return index


def _word_start(text: str, i: int) -> int:
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    return i


def _word_end(text: str, i: int) -> int:
    size = len(text)
    while i < size and not text[i].isspace():
        i += 1
    return i


def _char_map(original_word: str, normalized: str) -> list[int] | None:
    """Map each character of a normalized word to its original character, where that is possible."""
    out: list[int] = []
    for j, ch in enumerate(original_word):
        out.extend([j] * len(normalize_word(ch)))
    return out if len(out) == len(normalized) else None
