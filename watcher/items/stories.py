"""Which items tell the same story: MinHash over word shingles, LSH bands, and a check on the texts.

An item's story text is its body (content, else summary; the headline may change between copies),
normalized like the text rules see. Its words (characters, in scripts written without spaces) make shingles
of three; a MinHash signature of them (datasketch's) gives LSH band keys, looked up in the database to find
candidates; each candidate is then judged on the two texts themselves:

- a near copy: the shingles' Jaccard similarity is at least COPY_JACCARD (another headline, a dateline or
  byline, a sentence or paragraph trimmed, added or reworded, paragraphs reordered);
- an excerpt: one text, of at least three sentences, is nearly all contained in the other and begins as it
  does (summary-only feeds). Its own band keys come from the first three sentences, the "lead";
- but never two texts whose shared sentences form a block at their start or end (a footer, a disclaimer, a
  byline block) while the rest of each differs: a newsletter's issues with the same long footer.

Band keys and thresholds (measured in benchmarks/stories.py): 24 bands of 4 rows over the whole text find a
pair at Jaccard 0.5 with probability 0.79, at 0.6 with 0.96, at 0.7 with 0.998; 8 bands of 4 over the lead.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from watcher.items.model import Item
from watcher.items.normalize import NormText
from watcher.items.scripts import UNSPACED_RANGES
from watcher.items.sentences import sentence_starts

SHINGLE = 3
PERMUTATIONS = 96
BANDS, ROWS = 24, 4  # over the whole text
LEAD_BANDS = 8  # over the lead, from the signature's first LEAD_BANDS * ROWS values
LEAD_SENTENCES = 3
MIN_WORDS = 20  # fewer words than this: too little to tell a copy from a coincidence; no story search
MIN_SENTENCE_WORDS = 5  # shorter "sentences" (datelines, bylines) do not count toward the lead
COPY_JACCARD = 0.45
EXCERPT_CONTAINMENT = 0.8
LEAD_JACCARD = 0.5
# A shared block is boilerplate when the rest of each text is at least this share of it (more when the block
# is at both ends) and unlike the other's rest.
TEMPLATE_REST = 0.15
TEMPLATE_REST_BOTH_ENDS = 0.5
TEMPLATE_REST_JACCARD = 0.4
TEMPLATE_MIDDLE_SHARED = 0.3

_TOKEN = re.compile(f"[{UNSPACED_RANGES}]|[^\\W{UNSPACED_RANGES}]+")


@dataclass
class Fingerprint:
    """What story matching needs of one text."""

    sentences: list[str]
    shingles: set[int]
    lead: set[int]
    words: int
    signature: Any = None  # numpy array of PERMUTATIONS values
    lead_signature: Any = None
    _sentence_shingles: dict[int, set[int]] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.words >= MIN_WORDS

    def band_keys(self) -> list[int]:
        """The LSH keys: band number in the high bits, a hash of the band's values in the low 32."""
        keys = [(b << 32) | zlib.crc32(self.signature[b * ROWS : (b + 1) * ROWS].tobytes()) for b in range(BANDS)]
        if self.lead:
            keys.extend(
                ((BANDS + b) << 32) | zlib.crc32(self.lead_signature[b * ROWS : (b + 1) * ROWS].tobytes())
                for b in range(LEAD_BANDS)
            )
        return keys


def story_text(item: Item) -> str:
    """The text stories compare: the body, without the headline."""
    return item.content if len(item.content) >= len(item.summary) else item.summary


def fingerprint(text: str, *, signatures: bool = True) -> Fingerprint:
    """Sentences, shingles and (with `signatures`) MinHash signatures of a text."""
    norm = NormText(text)
    cased = norm.cased
    starts = sentence_starts(cased)
    sentences = [cased[a:b].strip().casefold() for a, b in zip(starts, [*starts[1:], len(cased)], strict=True)]
    sentences = [s for s in sentences if s]
    tokens = _TOKEN.findall(norm.folded)
    shingles = _shingles(tokens)
    lead_tokens: list[str] = []
    counted = 0
    for sentence in sentences:
        words = _TOKEN.findall(sentence)
        if len(words) < MIN_SENTENCE_WORDS:
            continue
        lead_tokens.extend(words)
        counted += 1
        if counted == LEAD_SENTENCES:
            break
    fp = Fingerprint(sentences, shingles, _shingles(lead_tokens), len(tokens))
    if signatures and fp.usable:
        fp.signature = _signature(fp.shingles)
        fp.lead_signature = _signature(fp.lead)
    return fp


def related(new: Fingerprint, old: Fingerprint) -> str | None:
    """How two texts are one story: "copy", "excerpt" (either way), or None."""
    if not (new.usable and old.usable) or _templated(new, old):
        return None
    shared = len(new.shingles & old.shingles)
    if not shared:
        return None
    if shared / len(new.shingles | old.shingles) >= COPY_JACCARD:
        return "copy"
    short, long = (new, old) if len(new.shingles) <= len(old.shingles) else (old, new)
    if (
        _lead_sentences(short) >= LEAD_SENTENCES
        and shared / len(short.shingles) >= EXCERPT_CONTAINMENT
        and _jaccard(short.lead, long.lead) >= LEAD_JACCARD
    ):
        return "excerpt"
    return None


def _templated(a: Fingerprint, b: Fingerprint) -> bool:
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
    share = TEMPLATE_REST_BOTH_ENDS if both_ends_a and both_ends_b else TEMPLATE_REST
    rest_a = [s for s in rest_a if s not in common]
    rest_b = [s for s in rest_b if s not in common]
    words_a = sum(len(_TOKEN.findall(s)) for s in rest_a)
    words_b = sum(len(_TOKEN.findall(s)) for s in rest_b)
    if words_a < share * a.words or words_b < share * b.words:
        return False
    return _jaccard(_shingles(_tokens(rest_a)), _shingles(_tokens(rest_b))) < TEMPLATE_REST_JACCARD


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
    return sum(1 for s in fp.sentences if len(_TOKEN.findall(s)) >= MIN_SENTENCE_WORDS)


def _tokens(sentences: list[str]) -> list[str]:
    return [t for s in sentences for t in _TOKEN.findall(s)]


def _shingles(tokens: list[str]) -> set[int]:
    if len(tokens) < SHINGLE:
        return {zlib.crc32(" ".join(tokens).encode())} if tokens else set()
    return {zlib.crc32(" ".join(tokens[i : i + SHINGLE]).encode()) for i in range(len(tokens) - SHINGLE + 1)}


def _jaccard(a: set[int], b: set[int]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _identity(value: int) -> int:
    return value


@cache
def _prototype() -> Any:
    """One MinHash whose permutations every signature shares (datasketch; seed fixed: stable across runs)."""
    from datasketch import MinHash

    return MinHash(num_perm=PERMUTATIONS, seed=1, hashfunc=_identity)


def _signature(shingles: set[int]) -> Any:
    minhash = _prototype().copy()
    minhash.update_batch(list(shingles))
    return minhash.hashvalues
