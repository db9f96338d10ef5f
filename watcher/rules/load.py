"""Rule files to a RuleSet: every problem found at once, each with file, line and key path.

A file with any problem is rejected whole and said so; the other files still load. Entities are global,
so a rule naming an entity of a rejected file is a problem of its own file too.
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from watcher.config.durations import parse_duration
from watcher.config.template import Template, template_error
from watcher.config.yamlfile import KeyPath, Located, load_yaml
from watcher.errors import Problem
from watcher.items.model import TEXT_FIELDS
from watcher.rules.conditions import ConditionParser
from watcher.rules.entitydefs import EntityParser
from watcher.rules.gazetteer import PREFIX, Gazetteer, is_builtin_name, load_gazetteer
from watcher.rules.model import (
    SEVERITIES,
    Condition,
    Rule,
    RuleSet,
)

_ID = re.compile(r"^[a-z0-9_-]+$")
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
    "per",
}


def rule_files(root: Path) -> list[Path]:
    """Every *.yaml/*.yml file under `root` (or `root` itself), hidden ones left out, in a stable order."""
    if root.is_file():
        return [root]
    found = [p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
    return sorted(p for p in found if not any(part.startswith(".") for part in p.relative_to(root).parts))


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many long-lived objects.

    Loading 10,000 rules allocates a few million objects, few of them ever garbage; the collector's passes
    over them took two thirds of the load and compile time (measured: 2.2 s against 0.7 s).

    Only on the main thread: the collector is the whole process's, and a daemon reloading rules on a worker
    thread must not stop collecting for the threads that poll and deliver meanwhile.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_rules(root: str | Path) -> RuleSet:
    """Load every rule file under `root`."""
    root = Path(root)
    if not root.exists():
        return RuleSet(problems=[Problem(str(root), None, "", "no such rules file or directory")])
    with collection_paused():
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
    # Built-in entities (country:XX), named by a condition or extended by an entity: the gazetteer is only
    # built when some rule file uses it.
    builtins = _builtins(parsed)
    # Entity references, repeated until no more files are rejected: a rejection removes its entities.
    while True:
        good = [fp for fp in parsed if not fp.doc.problems]
        known = {name: fp for fp in good for name in fp.entities}
        changed = False
        for fp in good:
            for name, path in fp.entity_refs:
                if is_builtin_name(name):
                    continue
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
        for name, _ in fp.entity_refs:
            if is_builtin_name(name) and builtins is not None:
                country = builtins.get(name)
                if country is not None:
                    result.entities.setdefault(country.entity_name, country.entity())
        result.rules.extend(rule for rule, _ in fp.rules)
        result.match_confusables = result.match_confusables or fp.match_confusables
    return result


def _builtins(parsed: list[_FileParser]) -> Gazetteer | None:
    """The gazetteer, when any file names a built-in entity; each unknown one is a problem of its file."""
    used = [(fp, name, path) for fp in parsed for name, path in (*fp.entity_refs, *fp.extends) if is_builtin_name(name)]
    if not used:
        return None
    gazetteer = load_gazetteer()
    for fp, name, path in used:
        if gazetteer.get(name) is None:
            fp.doc.problem(
                path, f"unknown built-in entity '{name}': {PREFIX}XX takes an ISO 3166-1 alpha-2 country code"
            )
    for fp in {id(fp): fp for fp, _, _ in used}.values():
        fp.entity_defs.resolve_extends(gazetteer)
    return gazetteer


class _FileParser:
    def __init__(self, doc: Located):
        self.doc = doc
        self.rules: list[tuple[Rule, KeyPath]] = []
        self.conditions = ConditionParser(doc)
        self.entity_refs = self.conditions.entity_refs
        self.entity_defs = EntityParser(doc, self.conditions)
        self.entities = self.entity_defs.entities
        self.extends = self.entity_defs.extends
        self.match_confusables = False

    def parse(self) -> None:
        value = self.doc.value
        if value is None:
            return
        if not isinstance(value, dict):
            self.doc.problem((), "a rule file is a mapping with 'entities:' and/or 'rules:'")
            return
        for key in value:
            if key not in ("entities", "rules", "match_confusables"):
                self.doc.problem((key,), f"unknown key '{key}' (expected 'entities', 'rules' or 'match_confusables')")
        if "match_confusables" in value:
            if isinstance(value["match_confusables"], bool):
                self.match_confusables = value["match_confusables"]
            else:
                self.doc.problem(("match_confusables",), "must be true or false")
        if "entities" in value:
            self.entity_defs.parse(value["entities"])
        if "rules" in value:
            self._rules(value["rules"])

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
        updates = self.conditions.bool_(spec.get("updates", False), (*path, "updates"))
        per = spec.get("per", "story")
        if per not in ("story", "item"):
            self.doc.problem((*path, "per"), "per must be 'story' (alert once per story) or 'item'")
        template = self._template(spec.get("template"), (*path, "template"))
        cooldown = self._duration(spec, "cooldown", path)
        digest = self._duration(spec, "digest", path)
        if cooldown and digest:
            self.doc.problem((*path, "digest"), "a rule has either a cooldown or a digest, not both")
        match: Condition | None = None
        if "match" not in spec:
            self.doc.problem(path, "rule needs 'match'")
        else:
            match = self.conditions.parse(spec["match"], (*path, "match"))
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
            per=str(per),
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
