"""Rule files to a RuleSet: every problem found at once, each with file, line and key path.

A file with any problem is rejected whole and said so; the other files still load. Entities are global,
so a rule naming an entity of a rejected file is a problem of its own file too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import re2

from watcher.durations import parse_duration
from watcher.errors import Problem
from watcher.item import TEXT_FIELDS
from watcher.message import Template, template_error
from watcher.normalize import normalize_term
from watcher.rules.model import (
    POSITIONAL,
    SEVERITIES,
    All,
    AnyOf,
    AtLeast,
    Condition,
    Entity,
    EntityRef,
    Near,
    NoneOf,
    Regex,
    Rule,
    RuleSet,
    Sentence,
    Term,
)
from watcher.yamlfile import KeyPath, Located, load_yaml

_ID = re.compile(r"^[a-z0-9_-]+$")
_ENTITY_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_RULE_KEYS = {
    "id",
    "title",
    "description",
    "severity",
    "fields",
    "sources",
    "notify",
    "match",
    "examples",
    "updates",
    "template",
    "cooldown",
    "digest",
}
_OPERATORS = ("term", "entity", "regex", "all", "any", "none", "at_least", "near", "sentence")
_CONDITION_KEYS = {*_OPERATORS, "case_sensitive", "of", "within"}
MAX_REGEX_LENGTH = 4096
REGEX_MAX_MEM = 8 << 20


def rule_files(root: Path) -> list[Path]:
    """Every *.yaml/*.yml file under `root` (or `root` itself), hidden ones left out, in a stable order."""
    if root.is_file():
        return [root]
    found = [p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
    return sorted(p for p in found if not any(part.startswith(".") for part in p.relative_to(root).parts))


def load_rules(root: str | Path) -> RuleSet:
    """Load every rule file under `root`."""
    root = Path(root)
    if not root.exists():
        return RuleSet(problems=[Problem(str(root), None, "", "no such rules file or directory")])
    return load_rule_docs(load_yaml(p) for p in rule_files(root))


def load_rule_docs(docs: Iterable[Located]) -> RuleSet:
    """Validate loaded YAML documents as rule files and keep what is valid."""
    parsed = [_FileParser(doc) for doc in docs]
    for fp in parsed:
        fp.parse()
    # Duplicates across files: the later file (in path order) is the one in error.
    entity_owner: dict[str, _FileParser] = {}
    rule_owner: dict[str, _FileParser] = {}
    for fp in parsed:
        for name, (_, path) in fp.entities.items():
            if name in entity_owner:
                fp.doc.problem(path, f"entity '{name}' is already defined in {entity_owner[name].doc.file}")
            else:
                entity_owner[name] = fp
        for rule, path in fp.rules:
            if rule.id in rule_owner and rule_owner[rule.id] is not fp:
                fp.doc.problem(path, f"duplicate rule id '{rule.id}' (also in {rule_owner[rule.id].doc.file})")
            else:
                rule_owner.setdefault(rule.id, fp)
    # Entity references, repeated until no more files are rejected: a rejection removes its entities.
    while True:
        good = [fp for fp in parsed if not fp.doc.problems]
        known = {name: fp for fp in good for name in fp.entities}
        changed = False
        for fp in good:
            for name, path in fp.entity_refs:
                if name not in known:
                    where = entity_owner.get(name)
                    hint = f" (its file {where.doc.file} was rejected)" if where and where is not fp else ""
                    fp.doc.problem(path, f"unknown entity '{name}'{hint}")
                    changed = True
        if not changed:
            break
    result = RuleSet()
    for fp in parsed:
        result.files.append(fp.doc.file)
        if fp.doc.problems:
            result.problems.extend(fp.doc.problems)
            result.rejected_files.append(fp.doc.file)
            continue
        for name, (entity, _) in fp.entities.items():
            result.entities[name] = entity
        result.rules.extend(rule for rule, _ in fp.rules)
    return result


class _FileParser:
    def __init__(self, doc: Located):
        self.doc = doc
        self.entities: dict[str, tuple[Entity, KeyPath]] = {}
        self.rules: list[tuple[Rule, KeyPath]] = []
        self.entity_refs: list[tuple[str, KeyPath]] = []

    def parse(self) -> None:
        value = self.doc.value
        if value is None:
            return
        if not isinstance(value, dict):
            self.doc.problem((), "a rule file is a mapping with 'entities:' and/or 'rules:'")
            return
        for key in value:
            if key not in ("entities", "rules"):
                self.doc.problem((key,), f"unknown key '{key}' (expected 'entities' or 'rules')")
        if "entities" in value:
            self._entities(value["entities"])
        if "rules" in value:
            self._rules(value["rules"])

    # entities -------------------------------------------------------------------------------------------

    def _entities(self, value: Any) -> None:
        if not isinstance(value, dict):
            self.doc.problem(("entities",), "must be a mapping of entity name to aliases")
            return
        for name, spec in value.items():
            path: KeyPath = ("entities", name)
            if not _ENTITY_NAME.match(str(name)):
                self.doc.problem(path, f"invalid entity name '{name}' (letters, digits, '_' and '-')")
                continue
            case_sensitive = False
            aliases_path = path
            if isinstance(spec, dict):
                for key in spec:
                    if key not in ("aliases", "case_sensitive", "description"):
                        self.doc.problem((*path, key), f"unknown key '{key}'")
                case_sensitive = self._bool(spec.get("case_sensitive", False), (*path, "case_sensitive"))
                aliases_path = (*path, "aliases")
                if "aliases" not in spec:
                    self.doc.problem(path, "entity needs 'aliases'")
                    continue
                spec = spec["aliases"]
            if not isinstance(spec, list):
                self.doc.problem(aliases_path, "aliases must be a list")
                continue
            if not spec:
                self.doc.problem(aliases_path, "empty list of aliases")
                continue
            aliases = [self._term(a, (*aliases_path, i), case_sensitive) for i, a in enumerate(spec)]
            terms = tuple(a for a in aliases if a is not None)
            self.entities[str(name)] = (Entity(str(name), terms, self.doc.file, self.doc.line(path)), path)

    # rules ----------------------------------------------------------------------------------------------

    def _rules(self, value: Any) -> None:
        if not isinstance(value, list):
            self.doc.problem(("rules",), "must be a list of rules")
            return
        seen: dict[str, int] = {}
        for i, spec in enumerate(value):
            path: KeyPath = ("rules", i)
            if not isinstance(spec, dict):
                self.doc.problem(path, "a rule is a mapping with at least 'id' and 'match'")
                continue
            rule = self._rule(spec, path)
            if rule is None:
                continue
            if rule.id in seen:
                self.doc.problem((*path, "id"), f"duplicate rule id '{rule.id}' (also rules[{seen[rule.id]}])")
                continue
            seen[rule.id] = i
            self.rules.append((rule, path))

    def _rule(self, spec: dict[str, Any], path: KeyPath) -> Rule | None:
        before = len(self.doc.problems)
        for key in spec:
            if key not in _RULE_KEYS:
                self.doc.problem((*path, key), f"unknown key '{key}'")
        rule_id = spec.get("id")
        if rule_id is None:
            self.doc.problem(path, "rule needs an 'id'")
        elif not isinstance(rule_id, str) or not _ID.match(rule_id):
            self.doc.problem((*path, "id"), f"invalid id {rule_id!r}: lower-case letters, digits, '_' and '-'")
        title = spec.get("title", rule_id)
        if not isinstance(title, str) or not title.strip():
            self.doc.problem((*path, "title"), "title must be non-empty text")
        severity = spec.get("severity", "medium")
        if severity not in SEVERITIES:
            self.doc.problem((*path, "severity"), f"severity must be one of {', '.join(SEVERITIES)}")
        fields = self._names(spec, "fields", path)
        for j, f in enumerate(fields or ()):
            if f not in TEXT_FIELDS:
                self.doc.problem((*path, "fields", j), f"unknown field '{f}' (one of {', '.join(TEXT_FIELDS)})")
        sources = self._names(spec, "sources", path)
        notify = self._names(spec, "notify", path)
        updates = self._bool(spec.get("updates", False), (*path, "updates"))
        template = self._template(spec.get("template"), (*path, "template"))
        cooldown = self._duration(spec, "cooldown", path)
        digest = self._duration(spec, "digest", path)
        if cooldown and digest:
            self.doc.problem((*path, "digest"), "a rule has either a cooldown or a digest, not both")
        match: Condition | None = None
        if "match" not in spec:
            self.doc.problem(path, "rule needs 'match'")
        else:
            raw = spec["match"]
            mpath = (*path, "match")
            if isinstance(raw, list):
                children = self._list(raw, mpath)
                match = All(children) if children else None
            else:
                match = self._condition(raw, mpath)
        examples = self._examples(spec.get("examples"), (*path, "examples"))
        description = spec.get("description", "")
        if len(self.doc.problems) > before or match is None:
            return None
        return Rule(
            id=str(rule_id),
            title=str(title).strip(),
            match=match,
            severity=str(severity),
            fields=tuple(fields) if fields else None,
            sources=tuple(sources or ()),
            notify=tuple(notify or ()),
            description=str(description or ""),
            updates=updates,
            template=template,
            cooldown=cooldown,
            digest=digest,
            examples_match=examples[0],
            examples_no_match=examples[1],
            file=self.doc.file,
            line=self.doc.line(path),
        )

    def _duration(self, spec: dict[str, Any], key: str, path: KeyPath) -> float | None:
        if key not in spec:
            return None
        seconds = parse_duration(spec[key])
        if seconds is None or seconds <= 0:
            self.doc.problem((*path, key), f"invalid duration {spec[key]!r} (like 30s, 15m, 1h)")
            return None
        return seconds

    def _template(self, value: Any, path: KeyPath) -> Template | None:
        if value is None:
            return None
        if not isinstance(value, dict) or not value:
            self.doc.problem(path, "a template is {title: ..., body: ...}")
            return None
        parts: dict[str, str | None] = {"title": None, "body": None}
        for key, text in value.items():
            if key not in parts:
                self.doc.problem((*path, key), f"unknown key '{key}' (expected 'title' or 'body')")
            elif not isinstance(text, str):
                self.doc.problem((*path, key), "must be text")
            else:
                error = template_error(text)
                if error:
                    self.doc.problem((*path, key), error)
                parts[key] = text
        return Template(parts["title"], parts["body"])

    def _names(self, spec: dict[str, Any], key: str, path: KeyPath) -> list[str] | None:
        if key not in spec:
            return None
        value = spec[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            self.doc.problem((*path, key), f"'{key}' must be a non-empty list of names")
            return None
        out = []
        for j, v in enumerate(value):
            text = self.doc.text((*path, key, j), v)
            if not text or not text.strip():
                self.doc.problem((*path, key, j), "must be non-empty text")
            else:
                out.append(text.strip())
        return out

    def _examples(self, value: Any, path: KeyPath) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if value is None:
            return (), ()
        if not isinstance(value, dict):
            self.doc.problem(path, "examples must be a mapping with 'match' and/or 'no_match'")
            return (), ()
        out: dict[str, tuple[str, ...]] = {"match": (), "no_match": ()}
        for key, texts in value.items():
            if key not in out:
                self.doc.problem((*path, key), f"unknown key '{key}' (expected 'match' or 'no_match')")
                continue
            if isinstance(texts, str):
                texts = [texts]
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                self.doc.problem((*path, key), "must be a list of texts")
                continue
            out[key] = tuple(texts)
        return out["match"], out["no_match"]

    # conditions -----------------------------------------------------------------------------------------

    def _condition(self, value: Any, path: KeyPath) -> Condition | None:
        if isinstance(value, dict):
            return self._mapping(value, path)
        if isinstance(value, list):
            self.doc.problem(path, "a list is not a condition here: use {all: [...]} or {any: [...]}")
            return None
        return self._term(value, path, False)

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
            cs = self._bool(value.get("case_sensitive", False), (*path, "case_sensitive"))
            return self._term(value["term"], (*path, "term"), cs)
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
            self.entity_refs.append((name, path))
            return EntityRef(name)
        if key == "regex":
            cs = self._bool(value.get("case_sensitive", False), (*path[:-1], "case_sensitive"))
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

    def _term(self, value: Any, path: KeyPath, case_sensitive: bool) -> Term | None:
        if isinstance(value, dict) and "term" in value:
            for key in value:
                if key not in ("term", "case_sensitive"):
                    self.doc.problem((*path, key), f"unknown key '{key}'")
            cs = self._bool(value.get("case_sensitive", case_sensitive), (*path, "case_sensitive"))
            return self._term(value["term"], (*path, "term"), cs)
        text = self.doc.text(path, value)
        if text is None:
            self.doc.problem(path, "a term must be text")
            return None
        if not normalize_term(text):
            self.doc.problem(path, "empty term")
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

    def _bool(self, value: Any, path: KeyPath) -> bool:
        if isinstance(value, bool):
            return value
        self.doc.problem(path, "must be true or false")
        return False


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
