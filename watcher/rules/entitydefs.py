"""The `entities:` section of a rule file: named alias lists, with `not_within` and `extends`."""

from __future__ import annotations

import re
from typing import Any

from watcher.config.yamlfile import KeyPath, Located
from watcher.rules.conditions import ConditionParser
from watcher.rules.gazetteer import PREFIX, Gazetteer, is_builtin_name
from watcher.rules.model import Entity, Term

_ENTITY_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_ENTITY_KEYS = ("aliases", "case_sensitive", "description", "extends", "not_within")


class EntityParser:
    """Parses one file's entities, recording problems; `extends` is resolved once the gazetteer is known."""

    def __init__(self, doc: Located, conditions: ConditionParser):
        self.doc = doc
        self.conditions = conditions
        self.entities: dict[str, tuple[Entity, KeyPath]] = {}
        # User entities that extend a built-in one: (built-in name, path of `extends`).
        self.extends: list[tuple[str, KeyPath]] = []

    def parse(self, value: Any) -> None:
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
            not_within: tuple[Term, ...] = ()
            extends = None
            if isinstance(spec, dict):
                for key in spec:
                    if key not in _ENTITY_KEYS:
                        self.doc.problem((*path, key), f"unknown key '{key}'")
                case_sensitive = self.conditions.bool_(spec.get("case_sensitive", False), (*path, "case_sensitive"))
                aliases_path = (*path, "aliases")
                if "extends" in spec:
                    extends = self._extends(spec["extends"], (*path, "extends"))
                if "not_within" in spec:
                    not_within = self._phrases(spec["not_within"], (*path, "not_within"))
                if "aliases" not in spec and extends is None:
                    self.doc.problem(path, "entity needs 'aliases' (or 'extends: \"country:XX\"')")
                    continue
                spec = spec.get("aliases", [])
            if not isinstance(spec, list):
                self.doc.problem(aliases_path, "aliases must be a list")
                continue
            if not spec and extends is None:
                self.doc.problem(aliases_path, "empty list of aliases")
                continue
            aliases = [self.conditions.term(a, (*aliases_path, i), case_sensitive) for i, a in enumerate(spec)]
            terms = tuple(a for a in aliases if a is not None)
            entity = Entity(str(name), terms, self.doc.file, self.doc.line(path), not_within)
            self.entities[str(name)] = (entity, path)

    def _extends(self, value: Any, path: KeyPath) -> str | None:
        name = self.doc.text(path, value)
        if not name or not is_builtin_name(name):
            self.doc.problem(path, f"an entity extends a built-in entity ('{PREFIX}KP'), not {value!r}")
            return None
        self.extends.append((name, path))
        return name

    def _phrases(self, value: Any, path: KeyPath) -> tuple[Term, ...]:
        if not isinstance(value, list) or not value:
            self.doc.problem(path, "must be a non-empty list of phrases")
            return ()
        terms = [self.conditions.term(v, (*path, i), False) for i, v in enumerate(value)]
        return tuple(t for t in terms if t is not None)

    def resolve_extends(self, gazetteer: Gazetteer) -> None:
        """Add the built-in entity's aliases and exclusions to the entities that extend it."""
        for name, path in self.extends:
            entity_name = path[1]
            country = gazetteer.get(name)
            if country is None or entity_name not in self.entities:
                continue
            entity, entity_path = self.entities[entity_name]
            builtin = country.entity()
            self.entities[entity_name] = (
                Entity(
                    entity.name,
                    builtin.aliases + entity.aliases,
                    entity.file,
                    entity.line,
                    builtin.not_within + entity.not_within,
                    country.entity_name,
                ),
                entity_path,
            )
