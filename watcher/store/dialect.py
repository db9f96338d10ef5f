"""The store's SQL, written once, as PostgreSQL reads it.

The store's statements are written in the SQL both databases share (upserts with ON CONFLICT, RETURNING,
CASE, coalesce), with sqlite3's `?` placeholders. What still differs is small and mechanical, and done here,
once per statement (cached):

- `?` becomes psycopg's `%s` (`%s::text` where it is only tested for NULL: PostgreSQL must know its type),
  and a literal `%` becomes `%%`;
- `IN (SELECT value FROM json_each(?))`, SQLite's way of binding a list, becomes `= ANY(%s)` (and NOT IN
  becomes `<> ALL(%s)`), its parameter (a JSON array) passed as a list;
- `group_concat(x, sep)` becomes `string_agg(x, sep)`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from typing import Any

_JSON_LIST = re.compile(r"(\s+NOT)?\s+IN\s*\(\s*SELECT\s+value\s+FROM\s+json_each\(\?\)\s*\)", re.IGNORECASE)
_NULL_TEST = re.compile(r"\s+IS\s+(NOT\s+)?NULL\b", re.IGNORECASE)
_GROUP_CONCAT = re.compile(r"\bgroup_concat\(", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def to_postgres(sql: str) -> tuple[str, frozenset[int]]:
    """The statement for psycopg, and which of its parameters are JSON arrays to pass as lists."""
    out: list[str] = []
    lists: set[int] = set()
    index = 0
    i = 0
    quote = ""
    while i < len(sql):
        char = sql[i]
        if quote:
            out.append("%%" if char == "%" else char)
            if char == quote:
                quote = ""
            i += 1
            continue
        if char in "'\"":
            quote = char
            out.append(char)
        elif char == "%":
            out.append("%%")
        elif char == "?":
            # A parameter only tested for NULL has no type PostgreSQL could infer: it is given one.
            out.append("%s::text" if _NULL_TEST.match(sql, i + 1) else "%s")
            index += 1
        elif char in " \t\n" and (found := _JSON_LIST.match(sql, i)):
            out.append(" <> ALL(%s)" if found.group(1) else " = ANY(%s)")
            lists.add(index)
            index += 1
            i = found.end()
            continue
        else:
            out.append(char)
        i += 1
    return _GROUP_CONCAT.sub("string_agg(", "".join(out)), frozenset(lists)


def postgres_params(params: Sequence[Any], lists: frozenset[int]) -> tuple[Any, ...]:
    """sqlite3's parameters as psycopg takes them: JSON arrays as lists, booleans as the integers stored, and
    text without NUL characters, which PostgreSQL's text cannot hold (a hostile feed's `\u0000`): each is
    stored as U+FFFD, so that offsets into the text stay where they were, and looked up the same way."""
    return tuple(
        json.loads(p) if i in lists else int(p) if isinstance(p, bool) else _text(p) if isinstance(p, str) else p
        for i, p in enumerate(params)
    )


def _text(value: str) -> str:
    return value.replace("\x00", "\ufffd") if "\x00" in value else value
