"""Which items tell the same story: MinHash over word shingles, LSH bands, and a check on the texts.

An item's story text is its body (content, else summary; the headline may change between copies),
normalized like the text rules see. Its words (characters, in scripts written without spaces) make shingles
of three; a MinHash signature of them gives LSH band keys, looked up in the database to find candidates;
each candidate is then judged on the two texts themselves:

- a near copy: the shingles' Jaccard similarity is at least COPY_JACCARD (another headline, a dateline or
  byline, a sentence or paragraph trimmed, added or reworded, paragraphs reordered);
- an excerpt: one text, of at least three sentences, is nearly all contained in the other and begins as it
  does (summary-only feeds). Band keys of their own come from the first thirty words, the "lead";
- but never two texts whose shared sentences form a block at their start or end (a footer, a disclaimer, a
  byline block) while the rest of each differs: a newsletter's issues with the same long footer.

MinHash is datasketch's approach (min over universal hash permutations of the shingle hashes), written here
in a few lines of numpy: datasketch's update_batch calls a hash function per value in Python, which cost
more than the rest of the fingerprint together. Band keys and thresholds (measured in
benchmarks/stories.py): 16 bands of 4 rows over the whole text find a pair at Jaccard 0.6 with probability
0.89, at 0.7 with 0.985, at 0.8 with 0.9989; 6 bands of 4 over the lead.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import numpy as np

from watcher.items.model import Item
from watcher.items.normalize import NormText
from watcher.items.scripts import UNSPACED_RANGES
from watcher.items.sentences import sentence_starts

SHINGLE = 3
BANDS, ROWS = 16, 4  # over the whole text
PERMUTATIONS = BANDS * ROWS
LEAD_BANDS = 6  # over the lead, from its signature's first LEAD_BANDS * ROWS values
LEAD_SENTENCES = 3  # an excerpt has at least these many sentences
LEAD_WORDS = 30  # the lead: where an excerpt and its article agree (an excerpt has three sentences or more)
# What of a text is compared: the first MAX_WORDS words (an article rarely has more; a signature over more
# would take a temporary array of MAX_WORDS x 64 values per item).
MAX_WORDS = 5000
MAX_CHARACTERS = 100_000
MIN_WORDS = 20  # fewer words than this: too little to tell a copy from a coincidence; no story search
MIN_SENTENCE_WORDS = 5  # shorter "sentences" (datelines, bylines) do not count toward an excerpt's three
COPY_JACCARD = 0.45
# Below these signature estimates a candidate is not worth comparing texts with (64 and 24 values: the
# estimate's spread at 0.5 is about 0.06 and 0.1).
ESTIMATE_FLOOR, LEAD_ESTIMATE_FLOOR = 0.25, 0.4
EXCERPT_CONTAINMENT = 0.8
LEAD_JACCARD = 0.5
# A shared block is boilerplate when the rest of each text is at least this share of it (more when the block
# is at both ends) and unlike the other's rest.
TEMPLATE_REST = 0.15
TEMPLATE_REST_BOTH_ENDS = 0.5
TEMPLATE_REST_EXCERPT = 0.5
TEMPLATE_REST_JACCARD = 0.4
TEMPLATE_MIDDLE_SHARED = 0.3

_TOKEN = re.compile(f"[{UNSPACED_RANGES}]|[^\\W{UNSPACED_RANGES}]+")


@dataclass
class Fingerprint:
    """What story matching needs of one text: the hashes of its shingles and of its lead's, their MinHash
    signatures (when asked for), and, computed when a candidate is judged, its sentences."""

    cased: str  # the normalized text
    hashes: Any  # numpy uint64 array: the hash of each shingle, in text order (repeats and all)
    lead_hashes: Any
    words: int
    signature: Any = None
    lead_signature: Any = None

    @property
    def usable(self) -> bool:
        return self.words >= MIN_WORDS

    @cached_property
    def shingles(self) -> set[int]:
        return set(self.hashes.tolist())

    @cached_property
    def lead(self) -> set[int]:
        return set(self.lead_hashes.tolist())

    @cached_property
    def sentences(self) -> list[str]:
        """The text's sentences, case-folded."""
        starts = sentence_starts(self.cased)
        out = (self.cased[a:b].strip().casefold() for a, b in zip(starts, [*starts[1:], len(self.cased)], strict=True))
        return [s for s in out if s]

    @cached_property
    def counts(self) -> list[int]:
        return [len(_words(s)) for s in self.sentences]

    def packed(self) -> bytes:
        """Both signatures, as stored beside the band keys."""
        return np.concatenate([self.signature, self.lead_signature]).astype(np.uint32).tobytes()

    def sketch(self) -> Sketch:
        """What the story index needs of the text (no keys when it is too short to have a story search)."""
        if not self.usable:
            return Sketch(self.words, (), b"")
        return Sketch(self.words, tuple(self.band_keys()), self.packed())

    def band_keys(self) -> list[int]:
        """The LSH keys: band number in the high bits, a hash of the band's values in the low 32."""
        hasher = _hasher()
        keys = hasher.bands(self.signature, 0)
        if len(self.lead_hashes):
            keys.extend(hasher.bands(self.lead_signature, BANDS))
        return keys


@dataclass(frozen=True)
class Sketch:
    """What the story index needs of a text: its length in words, its LSH band keys and its packed
    signatures. Small, so that it is worth computing in another process and sending back."""

    words: int
    keys: tuple[int, ...]
    packed: bytes

    @property
    def usable(self) -> bool:
        return self.words >= MIN_WORDS

    def estimate(self, packed: bytes) -> tuple[float, float]:
        """The Jaccard similarity of the texts and of the leads, estimated from another text's `packed`."""
        mine, other = np.frombuffer(self.packed, dtype=np.uint32), np.frombuffer(packed, dtype=np.uint32)
        full = BANDS * ROWS
        return float(np.mean(mine[:full] == other[:full])), float(np.mean(mine[full:] == other[full:]))


def sketches(texts: list[str]) -> list[Sketch]:
    """The Sketch of each text."""
    return [fingerprint(text).sketch() for text in texts]


def story_text(item: Item) -> str:
    """The text stories compare: the body, without the headline."""
    return item.content if len(item.content) >= len(item.summary) else item.summary


def fingerprint(text: str, *, signatures: bool = True) -> Fingerprint:
    """Shingles and (with `signatures`) MinHash signatures of a text and of its lead."""
    cased = NormText(text[:MAX_CHARACTERS]).cased
    words = _words(cased)[:MAX_WORDS]
    hasher = _hasher()
    hashes = hasher.shingles(hasher.tokens(words))
    fp = Fingerprint(cased, hashes, hashes[: LEAD_WORDS - SHINGLE + 1], len(words))
    if signatures and fp.usable:
        fp.signature = hasher.signature(fp.hashes, BANDS * ROWS)
        fp.lead_signature = hasher.signature(fp.lead_hashes, LEAD_BANDS * ROWS)
    return fp


# ASCII bytes to themselves in lower case, or a space for what is no word character.
_ASCII_WORDS = bytes(ord(chr(c).lower()) if chr(c).isalnum() or c == ord("_") else ord(" ") for c in range(256))


def _words(text: str) -> list[bytes]:
    """The words of a text, case-folded, as UTF-8; in scripts written without spaces, each character."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_WORDS).split()
    return [w.encode("utf-8", "surrogatepass") for w in _TOKEN.findall(text.casefold())]


def related(new: Fingerprint, old: Fingerprint) -> str | None:
    """How two texts are one story: "copy", "excerpt" (either way), or None."""
    if not (new.usable and old.usable):
        return None
    shared = len(new.shingles & old.shingles)
    if not shared:
        return None
    kind = None
    if shared / len(new.shingles | old.shingles) >= COPY_JACCARD:
        kind = "copy"
    else:
        short, long = (new, old) if len(new.shingles) <= len(old.shingles) else (old, new)
        if (
            shared / len(short.shingles) >= EXCERPT_CONTAINMENT
            and _jaccard(short.lead, long.lead) >= LEAD_JACCARD
            and _lead_sentences(short) >= LEAD_SENTENCES
        ):
            kind = "excerpt"
    # The sentence-level look, only for a pair that would otherwise be one story. An excerpt shares its
    # beginning with its article by nature: only a text whose own part is most of it is a template's.
    if kind is None or _templated(new, old, TEMPLATE_REST if kind == "copy" else TEMPLATE_REST_EXCERPT):
        return None
    return kind


def _templated(a: Fingerprint, b: Fingerprint, least: float) -> bool:
    """Whether two texts share a block of sentences at their start and/or end while what each has besides
    is a real part of it and unlike the other's: a template (footer, header), not a copy."""
    common = set(a.sentences) & set(b.sentences)
    if not common:
        return False
    split_a, split_b = _rest(a.sentences, common), _rest(b.sentences, common)
    if split_a is None or split_b is None:
        return False
    (rest_a, both_ends_a), (rest_b, both_ends_b) = split_a, split_b
    # Shared sentences between the blocks are what an edited copy looks like (paragraphs moved around a
    # changed one); one sentence that two issues happen to share is not.
    for rest in (rest_a, rest_b):
        if rest and sum(s in common for s in rest) >= TEMPLATE_MIDDLE_SHARED * len(rest):
            return False
    # A block shared at both ends, around a changed middle, is what an edited copy looks like too; only a
    # template that leaves most of each text its own is taken for one there.
    share = TEMPLATE_REST_BOTH_ENDS if both_ends_a and both_ends_b else least
    rest_a = [s for s in rest_a if s not in common]
    rest_b = [s for s in rest_b if s not in common]
    tokens_a, tokens_b = _tokens(rest_a), _tokens(rest_b)
    if len(tokens_a) < share * a.words or len(tokens_b) < share * b.words:
        return False
    hasher = _hasher()
    shingles_a = set(hasher.shingles(hasher.tokens(tokens_a)).tolist())
    shingles_b = set(hasher.shingles(hasher.tokens(tokens_b)).tolist())
    return _jaccard(shingles_a, shingles_b) < TEMPLATE_REST_JACCARD


def _rest(sentences: list[str], common: set[str]) -> tuple[list[str], bool] | None:
    """The sentences left once the shared ones are taken off the start and the end, and whether some were
    taken off both ends; None when no shared sentence is at either end."""
    lo, hi = 0, len(sentences)
    while lo < hi and sentences[lo] in common:
        lo += 1
    while hi > lo and sentences[hi - 1] in common:
        hi -= 1
    if lo == 0 and hi == len(sentences):
        return None
    return sentences[lo:hi], lo > 0 and hi < len(sentences)


def _lead_sentences(fp: Fingerprint) -> int:
    return sum(1 for n in fp.counts if n >= MIN_SENTENCE_WORDS)


def _tokens(sentences: list[str]) -> list[bytes]:
    return [t for s in sentences for t in _words(s)]


def _jaccard(a: set[int], b: set[int]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


class _Hasher:
    """Stable hashes (the same in every process: band keys are stored) of words, shingles and signatures."""

    MAX_CACHED = 200_000
    _MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9))
    _SHIFT = np.uint64(32)

    def __init__(self, seed: int = 1):
        generator = np.random.default_rng(seed)
        # Multiply-shift hashing, one (a, b) per permutation: ((a * x + b) mod 2**64) >> 32.
        self._a = generator.integers(1, 2**63, size=PERMUTATIONS, dtype=np.uint64) | np.uint64(1)
        self._b = generator.integers(0, 2**63, size=PERMUTATIONS, dtype=np.uint64)
        self._words: dict[bytes, int] = {}
        self._rows = generator.integers(1, 2**63, size=ROWS, dtype=np.uint64) | np.uint64(1)

    def tokens(self, tokens: list[bytes]) -> Any:
        cache = self._words
        if len(cache) > self.MAX_CACHED:
            cache.clear()
        out = list(map(cache.get, tokens))
        if None in out:
            for i, h in enumerate(out):
                if h is None:
                    out[i] = cache[tokens[i]] = zlib.crc32(tokens[i])
        return np.array(out, dtype=np.uint64)

    def shingles(self, hashes: Any) -> Any:
        """The hash of every run of SHINGLE words (of all the words, when fewer), in text order."""
        if len(hashes) < SHINGLE:
            if not len(hashes):
                return hashes
            combined = np.uint64(0)
            with np.errstate(over="ignore"):
                for h in hashes:
                    combined = (combined ^ h) * self._MIX[2]
            return np.array([combined >> self._SHIFT], dtype=np.uint64)
        # Each word multiplied in turn: every word reaches the high 32 bits that are kept.
        with np.errstate(over="ignore"):
            mixed = ((((hashes[:-2] * self._MIX[0]) ^ hashes[1:-1]) * self._MIX[1]) ^ hashes[2:]) * self._MIX[2]
        return mixed >> self._SHIFT

    def signature(self, shingles: Any, size: int) -> Any:
        """The MinHash signature of `size` values: for each permutation, the least hash of any shingle."""
        if not len(shingles):
            return np.full(size, np.iinfo(np.uint32).max, dtype=np.uint64)
        with np.errstate(over="ignore"):
            permuted = (shingles[:, None] * self._a[None, :size] + self._b[None, :size]) >> self._SHIFT
        return permuted.min(axis=0)

    def bands(self, signature: Any, first: int) -> list[int]:
        """One key per band of ROWS values: the band's number (from `first`) above a 32-bit mix of them."""
        with np.errstate(over="ignore"):
            mixed = ((signature.reshape(-1, ROWS) @ self._rows) * self._MIX[1]) >> self._SHIFT
        numbers = np.arange(first, first + len(mixed), dtype=np.uint64) << self._SHIFT
        return (numbers | mixed).tolist()


@cache
def _hasher() -> _Hasher:
    return _Hasher()
