"""What `watcher entities list|show` report: the built-in entities and those of a rule set."""

from __future__ import annotations

from typing import Any

from watcher.errors import WatcherError
from watcher.rules.gazetteer import Country, is_builtin_name, load_gazetteer
from watcher.rules.model import Entity, RuleSet


def list_entities(ruleset: RuleSet | None) -> list[dict[str, Any]]:
    """Every built-in entity, then every entity the rule set defines."""
    out: list[dict[str, Any]] = []
    for country in load_gazetteer().countries.values():
        out.append(
            {
                "name": country.entity_name,
                "kind": "built-in",
                "title": country.name,
                "aliases": len(country.aliases()),
            }
        )
    for entity in ruleset.entities.values() if ruleset else ():
        if is_builtin_name(entity.name):
            continue
        out.append(
            {
                "name": entity.name,
                "kind": "user",
                "title": f"extends {entity.extends}" if entity.extends else "",
                "aliases": len(entity.aliases),
                "file": entity.file,
                "line": entity.line,
            }
        )
    return out


def describe_entity(name: str, ruleset: RuleSet | None) -> dict[str, Any]:
    """One entity's aliases (a built-in one's by language, with its generated forms) and exclusions."""
    if is_builtin_name(name):
        country = load_gazetteer().get(name)
        if country is None:
            raise WatcherError(f"unknown built-in entity '{name}': country:XX takes an ISO 3166-1 alpha-2 code")
        return _describe_country(country)
    entity = ruleset.entities.get(name) if ruleset else None
    if entity is None:
        raise WatcherError(f"unknown entity '{name}' (watcher entities list shows them all)")
    return _describe_user(entity)


def _describe_country(country: Country) -> dict[str, Any]:
    return {
        "name": country.entity_name,
        "kind": "built-in",
        "title": country.name,
        "aliases": {lang: list(names) for lang, names in country.names.items() if names},
        "forms": list(country.forms),
        "case_sensitive": sorted(country.case_sensitive),
        "not_within": list(country.not_within),
        "sources": list(country.sources),
    }


def _describe_user(entity: Entity) -> dict[str, Any]:
    return {
        "name": entity.name,
        "kind": "user",
        "extends": entity.extends,
        "aliases": [a.text for a in entity.aliases],
        "case_sensitive": sorted(a.text for a in entity.aliases if a.case_sensitive),
        "not_within": [t.text for t in entity.not_within],
        "file": entity.file,
        "line": entity.line,
    }
