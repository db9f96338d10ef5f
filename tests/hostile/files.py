"""Hostile inputs as files: each case of the hardening issue, written where a test wants it."""

from __future__ import annotations

from pathlib import Path

BILLION_LAUGHS = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def hostile_documents(root: Path) -> dict[str, Path]:
    """Files that froze or ballooned the reader in-process, and one good document beside them."""
    root.mkdir(parents=True, exist_ok=True)
    cases = {
        "doctype.xml": b"<!DOCTYPE " * 30_000,
        "entities.xml": b"<rss><!ENTITY '" * 20_000,
        "brackets.md": b"[" * 100_000,
        "heading.md": b"# " + b" " * 100_000 + b"x\n",
        "laughs.md": b"---\n" + BILLION_LAUGHS.encode() + b"---\n# Laughs\n\nbody\n",
        "nested.json": b"[" * 100_000 + b"]" * 100_000,
        "good.txt": b"Shells by rail\n\nNorth Korean artillery shells reached the front.\n",
    }
    return {name: _write(root / name, data) for name, data in cases.items()}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
