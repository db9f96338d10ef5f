"""Finding the keys of a rule set in an item's text: one pass of a multi-pattern scanner over each field.

A key is a case-folded term or alias (a word key: it counts only on word boundaries) or the literal that a
regex needs (a literal key: anywhere). Two scanners find them:

- pyahocorasick, the portable default, reports every occurrence of every key; each is checked for word
  boundaries at once, so the scan gives every key's positions.
- Hyperscan, where the optional `fast` extra installs, is asked only which keys occur at all (each reported
  once, in C, however often it occurs). A word key's positions, and whether it occurs as a word at all,
  are found the first time a rule asks, with `str.find` over the text, which leaves out most of the work:
  a document holds a few dozen keys and its candidate rules ask about a handful. It scans UTF-8, so it
  works on any text: a key occurs in the bytes exactly when it occurs in the characters. Word boundaries
  are never Hyperscan's (its `\\b` is ASCII-only) but ours, the same for both scanners.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import ahocorasick

from watcher.errors import WatcherError
from watcher.items.normalize import NormText, is_word_char

log = logging.getLogger(__name__)

Occ = tuple[int, int, int]  # (field index, start, end) in the field's cased text
_ASCII_WORD_MASK = str.maketrans({chr(i): "w" if is_word_char(chr(i)) else " " for i in range(128)})
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SEPARATOR = "\x1f"  # never inside normalized text or a key, so no key is found across two fields


def word_mask(text: str) -> str:
    """`text` with "w" for each word character and a space for every other: boundary checks without calls."""
    if text.isascii():
        return text.translate(_ASCII_WORD_MASK)
    # str.translate is fast on ASCII only: translate the text with "?" for each other character, then mark
    # those of them that are word characters.
    chars = list(text.encode("ascii", "replace").decode("ascii").translate(_ASCII_WORD_MASK))
    for m in _NON_ASCII.finditer(text):
        if is_word_char(m.group()):
            chars[m.start()] = "w"
    return "".join(chars)


class Keys:
    """Every key of a rule set, numbered, with what the boundary checks need to know of each."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.text: list[str] = []
        self.size: list[int] = []
        self.left: list[bool] = []  # starts with a word character: the one before must not be one
        self.right: list[bool] = []
        self.word: list[bool] = []
        self.literal: list[bool] = []
        self.uses: list[int] = []

    def add(self, folded: str, *, word: bool) -> int:
        kid = self.ids.get(folded)
        if kid is None:
            kid = self.ids[folded] = len(self.text)
            self.text.append(folded)
            self.size.append(len(folded))
            self.left.append(is_word_char(folded[0]))
            self.right.append(is_word_char(folded[-1]))
            self.word.append(False)
            self.literal.append(False)
            self.uses.append(0)
        if word:
            self.word[kid] = True
        else:
            self.literal[kid] = True
        self.uses[kid] += 1
        return kid


class Found:
    """What a scan found in one item's fields; word-key positions computed on demand when not yet known."""

    __slots__ = ("fields", "words", "literals", "_occs", "_keys", "_masks")

    def __init__(self, fields: list[NormText], keys: Keys):
        self.fields = fields
        # The word keys that occur as words; their positions are in `_occs` or found when first asked for.
        self.words: set[int] = set()
        self.literals: set[int] = set()
        self._occs: dict[int, list[Occ]] = {}
        self._keys = keys
        self._masks: list[str | None] = [None] * len(fields)

    def occurrences(self, kid: int) -> list[Occ]:
        """Every whole-word occurrence of a word key, in field and offset order."""
        occs = self._occs.get(kid)
        if occs is None:
            occs = self._occs[kid] = self._locate(kid) if kid in self.words else []
        return occs

    def _mask(self, f: int) -> str:
        mask = self._masks[f]
        if mask is None:
            mask = self._masks[f] = word_mask(self.fields[f].folded)
        return mask

    def _locate(self, kid: int) -> list[Occ]:
        out: list[Occ] = []
        for f, text in enumerate(self.fields):
            folded = text.folded
            if self._keys.text[kid] not in folded:
                continue
            for start, end in self._words(kid, folded, self._mask(f)):
                out.append((f, start, end) if text.folded_is_cased else (f, *text.cased_span(start, end)))
        return out

    def _words(self, kid: int, text: str, mask: str) -> Iterator[tuple[int, int]]:
        """(start, end) of each occurrence of a word key in `text` that stands on word boundaries."""
        keys = self._keys
        key, size, left, right = keys.text[kid], keys.size[kid], keys.left[kid], keys.right[kid]
        start = text.find(key)
        while start >= 0:
            end = start + size
            if not ((left and mask[start - 1] == "w") or (right and mask[end] == "w")):
                yield start, end
            start = text.find(key, start + 1)

    def fill(self, find: Any) -> None:
        """Every occurrence of every key, from a scanner that reports them all: (end, key id) per field."""
        keys = self._keys
        size, left, right = keys.size, keys.left, keys.right
        is_word, is_literal = keys.word, keys.literal
        occs, literals = self._occs, self.literals
        for f, text in enumerate(self.fields):
            folded = text.folded
            if len(folded) <= 2:  # the padding alone
                continue
            # The text is padded with a space at each end, so neither check falls off it.
            mask = self._mask(f)
            exact = text.folded_is_cased
            for end, kid in find(folded):
                if is_literal[kid]:
                    literals.add(kid)
                    if not is_word[kid]:
                        continue
                start = end - size[kid] + 1
                if (left[kid] and mask[start - 1] == "w") or (right[kid] and mask[end + 1] == "w"):
                    continue
                occ = (f, start, end + 1) if exact else (f, *text.cased_span(start, end + 1))
                found = occs.get(kid)
                if found is None:
                    occs[kid] = [occ]
                else:
                    found.append(occ)
        self.words = set(occs)

    def confirm(self, candidates: list[int], joined: str) -> None:
        """Keep, of these word keys, those that occur as words in the joined fields."""
        mask = word_mask(joined)
        self.words.update(kid for kid in candidates if next(self._words(kid, joined, mask), None) is not None)


HYPERSCAN_MAX_KEYS = 20_000


class Scanner:
    """The keys compiled once; `scan` finds them in an item's fields."""

    def __init__(self, keys: Keys, *, fast: bool | None = None):
        """`fast`: True to require Hyperscan, False never to use it, None to use it where it installs."""
        self._keys = keys
        self._automaton: Any = None
        # Past HYPERSCAN_MAX_KEYS, Hyperscan's compile (14.8 s for 50,000 aliases) costs more than its scan saves.
        wanted = fast is True or (fast is None and len(keys.ids) <= HYPERSCAN_MAX_KEYS)
        self._hyperscan = _Hyperscan.build(keys) if wanted and keys.ids else None
        if fast and self._hyperscan is None and keys.ids:
            raise WatcherError("the fast scanner needs Hyperscan: pip install 'watcher[fast]' (x86-64 only)")
        if self._hyperscan is None and keys.ids:
            automaton = ahocorasick.Automaton()
            for text, kid in keys.ids.items():
                automaton.add_word(text, kid)
            automaton.make_automaton()
            self._automaton = automaton

    @property
    def name(self) -> str:
        return "hyperscan" if self._hyperscan is not None else "pyahocorasick"

    def native_bytes(self) -> int:
        """Memory held by the compiled scanner outside Python's allocator."""
        if self._hyperscan is not None:
            return self._hyperscan.size
        return int(self._automaton.get_stats()["total_size"]) if self._automaton is not None else 0

    def scan(self, fields: list[NormText]) -> Found:
        found = Found(fields, self._keys)
        if self._hyperscan is not None:
            joined = _SEPARATOR.join(f.folded for f in fields)
            present = self._hyperscan.present(joined)
            found.literals.update(pid >> 1 for pid in present if pid & 1)
            words = [pid >> 1 for pid in present if not pid & 1]
            if joined.isascii():
                found.words.update(words)
            else:
                found.confirm(words, joined)
        elif self._automaton is not None:
            found.fill(self._automaton.iter)
        return found


def fast_available() -> bool:
    """Whether Hyperscan is installed and compiles on this machine."""
    keys = Keys()
    keys.add("watcher", word=True)
    return _Hyperscan.build(keys) is not None


class _Hyperscan:
    """One database: each word key bounded by non-word bytes (id 2k), each literal key as it is (2k + 1)."""

    def __init__(self, hyperscan: Any, database: Any):
        self._hyperscan = hyperscan
        self._database = database
        # Scratch space serves one scan at a time: one for each thread that scans.
        self._local = threading.local()
        self.size = int(database.size())

    @classmethod
    def build(cls, keys: Keys) -> _Hyperscan | None:
        try:
            import hyperscan
        except ImportError:
            return None
        patterns: list[bytes] = []
        ids: list[int] = []
        for kid, text in enumerate(keys.text):
            body = "".join(f"\\x{b:02x}" for b in text.encode("utf-8", "surrogatepass"))
            if keys.word[kid]:
                # In folded ASCII text the word characters are [a-z0-9_], so a key with a non-word byte on
                # each side (the fields are padded) occurs as a word: exactly, in ASCII. Any other byte
                # counts as a boundary here, so non-ASCII text is checked again (`Found.confirm`).
                edge = "[^a-z0-9_]"
                patterns.append(f"{edge if keys.left[kid] else ''}{body}{edge if keys.right[kid] else ''}".encode())
                ids.append(kid * 2)
            if keys.literal[kid]:
                patterns.append(body.encode())
                ids.append(kid * 2 + 1)
        if not patterns:
            return None
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        try:
            database.compile(
                expressions=patterns,
                ids=ids,
                elements=len(patterns),
                flags=hyperscan.HS_FLAG_SINGLEMATCH,
            )
        except hyperscan.error as exc:  # an older library, a CPU without SSSE3
            log.warning("Hyperscan is installed but cannot compile here (%s): using pyahocorasick", exc)
            return None
        return cls(hyperscan, database)

    def present(self, text: str) -> set[int]:
        """The pattern ids found in `text`, each once."""
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._hyperscan.Scratch(self._database)
        present: set[int] = set()
        self._database.scan(
            text.encode("utf-8", "surrogatepass"), match_event_handler=_collect, context=present, scratch=scratch
        )
        return present


def _collect(pid: int, start: int, end: int, flags: int, present: set[int]) -> None:
    present.add(pid)
