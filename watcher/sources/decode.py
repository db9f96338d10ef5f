"""Bytes to text for documents: BOMs first, then a declared charset, UTF-8, a detected legacy encoding of a
non-Latin script (cp1251, EUC-KR, Shift_JIS, GB18030, Big5, ...), else cp1252."""

from __future__ import annotations

import codecs

import re2

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# UTF-16/32 without a byte order mark, detected by where the NULs of "<?" fall.
_WIDE_NO_BOM = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)
# RE2: linear time on whatever a file holds.
_META_CHARSET = re2.compile(rb"""(?i)<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""")


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    """The encoding a byte order mark announces, and the mark's length."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, len(bom)
    return None


def wide_encoding(data: bytes) -> str | None:
    """UTF-16 or UTF-32, from a byte order mark or from an XML declaration's NULs; else None."""
    found = bom_encoding(data)
    if found and found[0] != "utf-8":
        return found[0]
    for prefix, name in _WIDE_NO_BOM:
        if data.startswith(prefix):
            return name
    return None


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode a document: a BOM wins, then a declared charset, then UTF-8, else cp1252."""
    found = bom_encoding(data)
    if found:
        name, skip = found
        return data[skip:].decode(name, errors="replace")
    if declared:
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    legacy = legacy_encoding(data)
    if legacy:
        return data.decode(legacy, errors="replace")
    return data.decode("cp1252", errors="replace")


# Unicode blocks that Western text is made of: a guess among these is no better than cp1252.
_LATIN_BLOCKS = ("Basic Latin", "Latin", "General Punctuation", "Spacing", "Currency", "Letterlike", "Control")
_DETECT_BYTES = 64 * 1024


def legacy_encoding(data: bytes) -> str | None:
    """The legacy encoding of a text in a non-Latin script (Russian in cp1251, Korean in EUC-KR, Japanese in
    Shift_JIS, Chinese in GB18030 or Big5), detected by charset-normalizer; None for anything else, which
    cp1252 reads as well as any guess (a guess among Latin code pages is often wrong: French as cp1250)."""
    from charset_normalizer import from_bytes

    for guess in from_bytes(data[:_DETECT_BYTES]):
        encoding = str(guess.encoding)
        if encoding.startswith(_UNLIKELY):
            continue
        if all(alphabet.startswith(_LATIN_BLOCKS) for alphabet in guess.alphabets):
            return None
        # A short Chinese text can decode, by chance, as Japanese or Korean: what such a decoding gives away
        # (half-width katakana, compatibility ideographs, Hanja among few Hangul) rules it out.
        if not _MOJIBAKE.search(str(guess)) and not _hanja_heavy(str(guess)):
            return encoding
    return None


# Encodings no document here comes in (EBCDIC), that a byte order mark would have announced, or that read
# the bytes of any East Asian encoding as plausible-looking letters (Thai code pages: EUC-JP read as cp874).
_UNLIKELY = (
    "cp037",
    "cp273",
    "cp424",
    "cp500",
    "cp875",
    "cp1026",
    "cp1140",
    "utf_16",
    "utf_32",
    "cp874",
    "tis_620",
    "iso8859_11",
)


# Half-width katakana, private use, compatibility ideographs, small form variants: rare in real text, common
# when bytes of one East Asian encoding are read as another.
_MOJIBAKE = re2.compile("[\uff61-\uff9f\ue000-\uf8ff\uf900-\ufaff\ufe50-\ufe6f]")
_HANGUL = re2.compile("[\uac00-\ud7a3]")
_HAN = re2.compile("[\u4e00-\u9fff]")


def _hanja_heavy(text: str) -> bool:
    """Hangul with more than one Han character for four Hangul: Chinese bytes read as Korean. (Korean news
    writes a few Han characters, mostly in headlines: 北 for North Korea, 美 for the United States.)"""
    hangul = len(_HANGUL.findall(text))
    return bool(hangul) and len(_HAN.findall(text)) * 4 > hangul


def html_charset(data: bytes) -> str | None:
    """The charset an HTML document declares in a <meta> tag near its start."""
    m = _META_CHARSET.search(data[:4096])
    return m.group(1).decode("ascii") if m else None


def looks_binary(data: bytes) -> bool:
    """True for bytes that are not text: a NUL byte in what is not UTF-16/32."""
    return b"\x00" in data[:8192] and wide_encoding(data) is None
