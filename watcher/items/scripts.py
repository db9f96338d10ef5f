"""Where words begin and end, by script: the classes of word characters that matching tells apart.

Scripts written with spaces between words (Latin, Cyrillic, Greek, Arabic, ...) have whole words: a term
must not touch a word character of those scripts on either side. Hangul is written with spaces too, but
Korean attaches particles and compound parts to the noun (북한이, 북한군): a term must begin a word and may
be followed by any Hangul. Han, Hiragana, Katakana, Thai, Lao, Khmer and Myanmar put no spaces between
words at all: a term matches wherever it occurs.

`word_mask(text)` gives one class character per character of the text, so that boundary checks are
comparisons of single characters (see `watcher.rules.scan`).
"""

from __future__ import annotations

import re

# The classes of a word mask.
SPACED = "w"  # a word character of a script that separates words by spaces (and digits, "_")
HANGUL = "#"
UNSPACED = "!"  # Han, Kana, Thai and the other scripts with no spaces between words
NOT_WORD = " "

_HANGUL_RANGES = "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff"
UNSPACED_RANGES = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u2e80-\u2fdf"  # CJK radicals
    "\u3005-\u3007\u3021-\u3029\u3038-\u303c"  # 々 〆 〇, Hangzhou numerals
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3100-\u312f\u31a0-\u31bf"  # Bopomofo
    "\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Katakana extension, Han
    "\U00020000-\U0003134f"  # Han extensions
)
_HANGUL = re.compile(f"[{_HANGUL_RANGES}]")
_UNSPACED = re.compile(f"[{UNSPACED_RANGES}]")
_NON_WORD = re.compile(r"\W")  # str patterns: \w is exactly str.isalnum() or "_"
_OTHER_WORD = re.compile(f"[^{NOT_WORD}{HANGUL}{UNSPACED}]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ASCII_MASK = str.maketrans({chr(i): SPACED if chr(i).isalnum() or chr(i) == "_" else NOT_WORD for i in range(128)})


def char_class(ch: str) -> str:
    """The mask class of one character."""
    if not (ch.isalnum() or ch == "_"):
        return NOT_WORD
    if _HANGUL.match(ch):
        return HANGUL
    if _UNSPACED.match(ch):
        return UNSPACED
    return SPACED


def word_mask(text: str) -> str:
    """One class character for each character of `text`: SPACED, HANGUL, UNSPACED or NOT_WORD."""
    if text.isascii():
        return text.translate(_ASCII_MASK)
    if len(text.encode("utf-8", "surrogatepass")) - len(text) < len(text) // 16:
        # Mostly ASCII (curly quotes and dashes in English text): every other character is first a "?", a
        # non-word character; then the few that are word characters are marked one by one.
        mask = text.encode("ascii", "replace").decode("ascii").translate(_ASCII_MASK)
        letters = [(m.start(), kind) for m in _NON_ASCII.finditer(text) if (kind := char_class(m.group())) != NOT_WORD]
        if not letters:
            return mask
        chars = list(mask)
        for i, kind in letters:
            chars[i] = kind
        return "".join(chars)
    # Text in other scripts: a few passes in C. Once non-word characters are spaces, the class marks
    # (themselves non-word characters) cannot be mistaken for text.
    mask = _NON_WORD.sub(NOT_WORD, text)
    mask = _HANGUL.sub(HANGUL, mask)
    mask = _UNSPACED.sub(UNSPACED, mask)
    return _OTHER_WORD.sub(SPACED, mask)


def ascii_words(text: str) -> bool:
    """Whether every word character of `text` is ASCII: its others are punctuation, symbols or spaces (the
    dashes and quotes of English news), so a word boundary there is where it is in ASCII text."""
    return text.isascii() or not any(char_class(ch) != NOT_WORD for ch in set(_NON_ASCII.findall(text)))


def unspaced_positions(text: str) -> list[int]:
    """Offsets of the characters of unspaced scripts in `text` (for counting words there)."""
    if text.isascii():
        return []
    return [m.start() for m in _UNSPACED.finditer(text)]
