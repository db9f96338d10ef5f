"""The conditions of `match:`: terms, entities, regexes and the operators over them, validated."""

from __future__ import annotations

from typing import Any

import re2

from watcher.config.yamlfile import KeyPath, Located
from watcher.items.normalize import normalize_term
from watcher.rules.model import (
    POSITIONAL,
    All,
    AnyOf,
    AtLeast,
    Condition,
    EntityRef,
    Near,
    NoneOf,
    Regex,
    Sentence,
    Term,
)

_OPERATORS = ("term", "entity", "regex", "all", "any", "none", "at_least", "near", "sentence")
_CONDITION_KEYS = {*_OPERATORS, "case_sensitive", "of", "within"}
MAX_REGEX_LENGTH = 4096
REGEX_MAX_MEM = 8 << 20


class ConditionParser:
    """Parses `match:` conditions of one file, recording problems and the entities they name."""

    def __init__(self, doc: Located):
        self.doc = doc
        self.entity_refs: list[tuple[str, KeyPath]] = []

    def parse(self, raw: Any, path: KeyPath) -> Condition | None:
        """A rule's `match:`: a condition, or a list of them (their conjunction)."""
        if isinstance(raw, list):
            children = self._list(raw, path)
            return All(children) if children else None
        return self._condition(raw, path)

    def _condition(self, value: Any, path: KeyPath) -> Condition | None:
        if isinstance(value, dict):
            return self._mapping(value, path)
        if isinstance(value, list):
            self.doc.problem(path, "a list is not a condition here: use {all: [...]} or {any: [...]}")
            return None
        return self.term(value, path, False)

    def _mapping(self, value: dict[str, Any], path: KeyPath) -> Condition | None:
        if not value:
            self.doc.problem(path, "empty condition")
            return None
        for key in value:
            if key not in _CONDITION_KEYS:
                self.doc.problem((*path, key), f"unknown operator '{key}' (one of {', '.join(_OPERATORS)})")
        if "term" in value:
            others = [k for k in value if k not in ("term", "case_sensitive")]
            if others:
                self.doc.problem(path, f"'term' cannot be combined with {', '.join(others)}")
                return None
            cs = self.bool_(value.get("case_sensitive", False), (*path, "case_sensitive"))
            return self.term(value["term"], (*path, "term"), cs)
        if "case_sensitive" in value and "regex" not in value:
            self.doc.problem((*path, "case_sensitive"), "'case_sensitive' goes with 'term' or 'regex'")
        if "of" in value and "at_least" not in value:
            self.doc.problem((*path, "of"), "'of' goes with 'at_least'")
        if "within" in value and "near" not in value:
            self.doc.problem((*path, "within"), "'within' goes with 'near'")
        parts: list[Condition] = []
        for key in _OPERATORS:
            if key not in value:
                continue
            part = self._operator(key, value, (*path, key))
            if part is not None:
                parts.append(part)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def _operator(self, key: str, value: dict[str, Any], path: KeyPath) -> Condition | None:
        arg = value[key]
        if key == "entity":
            name = self.doc.text(path, arg)
            if not name:
                self.doc.problem(path, "entity needs a name")
                return None
            if name.lower().startswith("country:"):  # built-in: the code in any case
                name = "country:" + name[len("country:") :].strip().upper()
            self.entity_refs.append((name, path))
            return EntityRef(name)
        if key == "regex":
            cs = self.bool_(value.get("case_sensitive", False), (*path[:-1], "case_sensitive"))
            return self._regex(arg, path, cs)
        if key in ("all", "any", "none", "sentence"):
            children = self._list(arg, path)
            if not children:
                return None
            if key == "sentence" and not self._positional(children, path):
                return None
            if key == "all":
                return All(children)
            if key == "any":
                return AnyOf(children)
            return NoneOf(children) if key == "none" else Sentence(children)
        if key == "at_least":
            if "of" not in value:
                self.doc.problem(path, "'at_least' needs 'of: [...]'")
                return None
            children = self._list(value["of"], (*path[:-1], "of"))
            if not isinstance(arg, int) or isinstance(arg, bool) or arg < 1:
                self.doc.problem(path, "must be a whole number of at least 1")
                return None
            if children and arg > len(children):
                self.doc.problem(path, f"at_least {arg} of {len(children)} conditions can never hold")
                return None
            return AtLeast(arg, children) if children else None
        # near
        within = value.get("within")
        if within is None:
            self.doc.problem(path, "'near' needs 'within: N' (words)")
            return None
        if not isinstance(within, int) or isinstance(within, bool) or within < 0:
            self.doc.problem((*path[:-1], "within"), "must be a whole number of words, 0 or more")
            return None
        children = self._list(arg, path)
        if not children:
            return None
        if len(children) < 2:
            self.doc.problem(path, "'near' needs at least two conditions")
            return None
        if not self._positional(children, path):
            return None
        return Near(children, within)

    def _positional(self, children: tuple[Condition, ...], path: KeyPath) -> bool:
        ok = True
        for i, child in enumerate(children):
            if not _is_positional(child):
                self.doc.problem((*path, i), "only terms, entities, regexes and 'any' of them have a position")
                ok = False
        return ok

    def _list(self, value: Any, path: KeyPath) -> tuple[Condition, ...]:
        if not isinstance(value, list):
            value = [value]
            if isinstance(value[0], dict | list) or value[0] is None:
                self.doc.problem(path, "must be a list of conditions")
                return ()
        if not value:
            self.doc.problem(path, "empty list")
            return ()
        out = [self._condition(v, (*path, i)) for i, v in enumerate(value)]
        return tuple(c for c in out if c is not None) if all(c is not None for c in out) else ()

    def term(self, value: Any, path: KeyPath, case_sensitive: bool) -> Term | None:
        if isinstance(value, dict) and "term" in value:
            for key in value:
                if key not in ("term", "case_sensitive"):
                    self.doc.problem((*path, key), f"unknown key '{key}'")
            cs = self.bool_(value.get("case_sensitive", case_sensitive), (*path, "case_sensitive"))
            return self.term(value["term"], (*path, "term"), cs)
        text = self.doc.text(path, value)
        if text is None:
            self.doc.problem(path, "a term must be text")
            return None
        if not normalize_term(text):
            self.doc.problem(path, "empty term")
            return None
        error = wildcard_error(text)
        if error:
            self.doc.problem(path, error)
            return None
        return Term(text, case_sensitive)

    def _regex(self, value: Any, path: KeyPath, case_sensitive: bool) -> Regex | None:
        if not isinstance(value, str) or not value:
            self.doc.problem(path, "a regex must be non-empty text")
            return None
        if len(value) > MAX_REGEX_LENGTH:
            self.doc.problem(path, f"regex longer than {MAX_REGEX_LENGTH} characters")
            return None
        error = regex_error(value, case_sensitive)
        if error:
            self.doc.problem(path, error)
            return None
        return Regex(value, case_sensitive)

    def bool_(self, value: Any, path: KeyPath) -> bool:
        if isinstance(value, bool):
            return value
        self.doc.problem(path, "must be true or false")
        return False


MIN_PREFIX = 3


def wildcard_error(text: str) -> str | None:
    """Why a term's `*` cannot be used, or None: only a trailing `*` after at least three characters."""
    if "*" not in text:
        return None
    stem = text[:-1] if text.endswith("*") else text
    if "*" in stem:
        return f"'*' only ends a term, as a prefix wildcard (\"weapon*\"): {text!r}"
    if len(normalize_term(stem).replace(" ", "")) < MIN_PREFIX:
        return f"a prefix wildcard needs at least {MIN_PREFIX} characters before '*': {text!r}"
    return None


def _is_positional(cond: Condition) -> bool:
    if isinstance(cond, AnyOf):
        return all(_is_positional(c) for c in cond.children)
    return isinstance(cond, POSITIONAL)


def compile_regex(pattern: str, case_sensitive: bool) -> Any:
    """Compile a rule's regex with RE2 (linear time, bounded memory)."""
    options = re2.Options()
    options.max_mem = REGEX_MAX_MEM
    options.case_sensitive = case_sensitive
    options.log_errors = False
    return re2.compile(pattern, options)


def regex_error(pattern: str, case_sensitive: bool) -> str | None:
    """Why a regex cannot be used, or None."""
    try:
        compiled = compile_regex(pattern, case_sensitive)
    except re2.error as e:
        arg = e.args[0] if e.args else e
        msg = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
        if any(s in msg for s in ("(?=", "(?!", "(?<", "\\1", "backreference", "perl", "look")):
            msg += " (lookaround and backreferences are not supported: the engine runs in linear time)"
        return f"invalid regex: {msg}"
    if compiled.search("") is not None:
        return "regex matches empty text, so it would match every item"
    return None
