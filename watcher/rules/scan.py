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
from itertools import chain
from typing import Any

import ahocorasick

from watcher.errors import WatcherError
from watcher.items.normalize import NormText
from watcher.items.scripts import HANGUL, NOT_WORD, SPACED, UNSPACED, ascii_words, char_class, word_mask

log = logging.getLogger(__name__)

Occ = tuple[int, int, int]  # (field index, start, end) in the field's cased text
# A letter of a script other than Latin: Greek and on, less punctuation and symbols (dashes, arrows).
_OTHER_SCRIPT = re.compile("[\u0370-\u1fff\u2c00-\ud7ff\uf900-\ufdff\ufe70-\ufeff\uff00-\uffef\U00010000-\U0010ffff]")
_SEPARATOR = "\x1f"  # never inside normalized text or a key, so no key is found across two fields
# The classes of the character next to a key that end a match, by the class of the key's end character.
# A key ending in a spaced script's letter must not touch another such letter; one beginning in Hangul must
# begin a word (no Hangul before it) and may end anywhere (particles follow); unspaced scripts have no
# boundaries; an end that is no word character ("U.S.") needs none.
_LEFT = {SPACED: SPACED, HANGUL: HANGUL, UNSPACED: "", NOT_WORD: ""}
_RIGHT = {SPACED: SPACED, HANGUL: "", UNSPACED: "", NOT_WORD: ""}


def stands_alone(mask: str, start: int, end: int, key: str, *, prefix: bool = False) -> bool:
    """Whether `key` at [start, end) of a text with this word mask stands on word boundaries."""
    left = _LEFT[char_class(key[0])]
    right = "" if prefix else _RIGHT[char_class(key[-1])]
    before = mask[start - 1] if start > 0 else NOT_WORD
    after = mask[end] if end < len(mask) else NOT_WORD
    return before not in left and after not in right


class Keys:
    """Every key of a rule set, numbered, with what the boundary checks need to know of each.

    A key is a folded text, as a word key (on word boundaries), a prefix key (a term ending in `*`: any word
    that begins with it) and/or a literal key (anywhere). A word key and a prefix key of the same text are
    two keys; the first of them added is the text's `slot`, the one the multi-pattern scanner reports.
    """

    def __init__(self) -> None:
        self.ids: dict[tuple[str, bool], int] = {}
        self.slots: dict[str, int] = {}
        self.text: list[str] = []
        self.size: list[int] = []
        self.left: list[str] = []  # the mask classes that must not come just before the key
        self.right: list[str] = []  # ... just after it
        self.prefix: list[bool] = []
        self.word: list[bool] = []
        self.literal: list[bool] = []
        self.uses: list[int] = []
        # Slots that need more than the plain boundary check: a prefix key, or a text with two keys.
        self.special: list[bool] = []
        self.twins: dict[int, list[int]] = {}

    def add(self, folded: str, *, word: bool, prefix: bool = False) -> int:
        kid = self.ids.get((folded, prefix and word))
        if kid is None:
            kid = self.ids[(folded, prefix and word)] = len(self.text)
            self.text.append(folded)
            self.size.append(len(folded))
            self.left.append(_LEFT[char_class(folded[0])])
            self.right.append("" if prefix else _RIGHT[char_class(folded[-1])])
            self.prefix.append(prefix and word)
            self.word.append(False)
            self.literal.append(False)
            self.uses.append(0)
            self.special.append(prefix and word)
            slot = self.slots.setdefault(folded, kid)
            if slot != kid:
                self.twins.setdefault(slot, [slot]).append(kid)
                self.special[slot] = True
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
        prefix = keys.prefix[kid]
        start = text.find(key)
        while start >= 0:
            end = start + size
            if mask[start - 1] not in left and mask[end] not in right:
                yield start, _word_end(mask, end) if prefix else end
            start = text.find(key, start + 1)

    def fill(self, find: Any) -> None:
        """Every occurrence of every key, from a scanner that reports them all: (end, key id) per field."""
        keys = self._keys
        size, left, right, special = keys.size, keys.left, keys.right, keys.special
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
                if special[kid]:
                    self._special(f, text, mask, kid, end + 1)
                    continue
                if is_literal[kid]:
                    literals.add(kid)
                    if not is_word[kid]:
                        continue
                start = end - size[kid] + 1
                if mask[start - 1] in left[kid] or mask[end + 1] in right[kid]:
                    continue
                occ = (f, start, end + 1) if exact else (f, *text.cased_span(start, end + 1))
                found = occs.get(kid)
                if found is None:
                    occs[kid] = [occ]
                else:
                    found.append(occ)
        self.words.update(occs)

    def _special(self, f: int, text: NormText, mask: str, slot: int, end: int) -> None:
        """One occurrence of a slot with a prefix key or two keys: each of its keys judged on its own."""
        keys = self._keys
        start = end - keys.size[slot]
        for kid in self._keys.twins.get(slot, (slot,)):
            if keys.literal[kid]:
                self.literals.add(kid)
            if not keys.word[kid] or mask[start - 1] in keys.left[kid] or mask[end] in keys.right[kid]:
                continue
            stop = _word_end(mask, end) if keys.prefix[kid] else end
            occ = (f, start, stop) if text.folded_is_cased else (f, *text.cased_span(start, stop))
            self._occs.setdefault(kid, []).append(occ)

    def confirm(self, candidates: list[int], joined: str) -> None:
        """Keep, of these word keys, those that occur as words in the joined fields."""
        mask = word_mask(joined)
        self.words.update(kid for kid in candidates if next(self._words(kid, joined, mask), None) is not None)


def _word_end(mask: str, end: int) -> int:
    """Where the word that a prefix key's match ends inside ends: over letters of the key's own class."""
    kind = mask[end - 1]
    if kind in (UNSPACED, NOT_WORD):
        return end
    while mask[end] == kind:
        end += 1
    return end


HYPERSCAN_MAX_KEYS = 20_000


class Scanner:
    """The keys compiled once; `scan` finds them in an item's fields."""

    def __init__(self, keys: Keys, *, fast: bool | None = None):
        """`fast`: True to require Hyperscan, False never to use it, None to use it where it installs."""
        self._keys = keys
        # Two automata: keys in Latin script, and keys with letters of any other script. The second is large
        # (the gazetteer's Han, Hangul, Cyrillic, Arabic names) and slow to run even over text it cannot
        # match, so it runs only over fields that hold a letter of another script (measured: 2,700
        # characters of English took 26 us with 2,300 Latin keys, 400 us with 8,500 others).
        # Hyperscan, where used, takes the Latin keys' place.
        latin_slots = {text: slot for text, slot in keys.slots.items() if not _OTHER_SCRIPT.search(text)}
        other_slots = {text: slot for text, slot in keys.slots.items() if text not in latin_slots}
        self._latin: Any = None
        self._other = _automaton(other_slots)
        self._hyperscan = None
        latin_kids = {kid for kid, text in enumerate(keys.text) if text in latin_slots}
        # Past HYPERSCAN_MAX_KEYS, Hyperscan's compile (14.8 s for 50,000 aliases) costs more than its scan saves.
        wanted = fast is True or (fast is None and len(latin_kids) <= HYPERSCAN_MAX_KEYS)
        if wanted and latin_kids:
            self._hyperscan = _Hyperscan.build(keys, latin_kids)
            if fast and self._hyperscan is None:
                raise WatcherError("the fast scanner needs Hyperscan: pip install 'watcher[fast]' (x86-64 only)")
        if self._hyperscan is None:
            self._latin = _automaton(latin_slots)
        self._automata = [a for a in (self._latin, self._other) if a is not None]

    @property
    def name(self) -> str:
        return "hyperscan" if self._hyperscan is not None else "pyahocorasick"

    def native_bytes(self) -> int:
        """Memory held by the compiled scanner outside Python's allocator."""
        size = self._hyperscan.size if self._hyperscan is not None else 0
        return size + sum(int(a.get_stats()["total_size"]) for a in self._automata)

    def scan(self, fields: list[NormText]) -> Found:
        found = Found(fields, self._keys)
        if self._automata:
            found.fill(self._find)
        if self._hyperscan is not None:
            joined = _SEPARATOR.join(f.folded for f in fields)
            present = self._hyperscan.present(joined)
            found.literals.update(pid >> 1 for pid in present if pid & 1)
            words = [pid >> 1 for pid in present if not pid & 1]
            # Hyperscan's boundaries are ASCII's, exact while every letter beside a key is ASCII.
            if ascii_words(joined):
                found.words.update(words)
            else:
                found.confirm(words, joined)
        return found

    def _find(self, text: str) -> Iterator[tuple[int, int]]:
        """(end, slot) of every key in a field's folded text."""
        if self._other is not None and not text.isascii() and _OTHER_SCRIPT.search(text):
            if self._latin is None:
                return iter(self._other.iter(text))
            return chain(self._latin.iter(text), self._other.iter(text))
        return iter(self._latin.iter(text)) if self._latin is not None else iter(())


def _automaton(slots: dict[str, int]) -> Any:
    """A pyahocorasick automaton of these keys, or None when there are none."""
    if not slots:
        return None
    automaton = ahocorasick.Automaton()
    for text, slot in slots.items():
        automaton.add_word(text, slot)
    automaton.make_automaton()
    return automaton


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
    def build(cls, keys: Keys, kids: set[int] | None = None) -> _Hyperscan | None:
        """A database of the keys (of these key ids only, when given)."""
        try:
            import hyperscan
        except ImportError:
            return None
        patterns: list[bytes] = []
        ids: list[int] = []
        for kid, text in enumerate(keys.text):
            if kids is not None and kid not in kids:
                continue
            body = "".join(f"\\x{b:02x}" for b in text.encode("utf-8", "surrogatepass"))
            if keys.word[kid]:
                # In folded ASCII text the word characters are [a-z0-9_], so a key with a non-word byte on
                # each side (the fields are padded) occurs as a word: exactly, in ASCII. Any other byte
                # counts as a boundary here, so non-ASCII text is checked again (`Found.confirm`), by the
                # rules of each script.
                edge = "[^a-z0-9_]"
                before = edge if SPACED in keys.left[kid] else ""
                after = edge if SPACED in keys.right[kid] else ""
                patterns.append(f"{before}{body}{after}".encode())
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
