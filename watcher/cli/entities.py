"""`watcher entities`: the built-in gazetteer and the rule set's own entities."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from watcher.cli import config_option, main, rules_option, rules_path, say
from watcher.rules.entities import describe_entity, list_entities
from watcher.rules.load import load_rules
from watcher.rules.model import RuleSet

_LANGUAGE_NAMES = {
    "en": "English",
    "ko": "Korean",
    "ru": "Russian",
    "uk": "Ukrainian",
    "zh-Hans": "Chinese (simplified)",
    "zh-Hant": "Chinese (traditional)",
    "ja": "Japanese",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "ar": "Arabic",
}


@main.group()
def entities() -> None:
    """List and show entities: built-in countries (country:XX) and the rule files' own."""


@entities.command("list")
@rules_option
@config_option
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one object per entity.")
def entities_list(rules_dir: Path | None, config_path: Path | None, as_json: bool) -> None:
    """Every built-in entity, then the entities the rule files define.

    \b
    Examples:
      watcher entities list
      watcher entities list --json
    """
    for entry in list_entities(_ruleset(rules_path(rules_dir, config_path))):
        if as_json:
            say(json.dumps(entry, ensure_ascii=False))
            continue
        where = f"  {entry['file']}:{entry['line']}" if entry.get("file") else ""
        title = f"  {entry['title']}" if entry["title"] else ""
        say(f"{entry['name']:<24} {entry['kind']:<8} {entry['aliases']:>4} aliases{title}{where}")


@entities.command("show")
@rules_option
@config_option
@click.option("--forms", is_flag=True, help="Also list the generated Russian and Ukrainian case forms.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.argument("name")
def entities_show(rules_dir: Path | None, config_path: Path | None, forms: bool, as_json: bool, name: str) -> None:
    """One entity's aliases, by language for a built-in one (country:KP).

    \b
    Examples:
      watcher entities show country:KP
      watcher entities show north_korea --forms
    """
    info = describe_entity(name, _ruleset(rules_path(rules_dir, config_path)))
    if as_json:
        say(json.dumps(info, ensure_ascii=False))
        return
    for line in _describe(info, forms):
        say(line)


def _describe(info: dict[str, Any], forms: bool) -> list[str]:
    lines = [f"{info['name']}: {info.get('title') or ''}".rstrip(": ")]
    if info["kind"] == "built-in":
        for lang, names in info["aliases"].items():
            lines.append(f"  {_LANGUAGE_NAMES.get(lang, lang)} ({lang}): {', '.join(names)}")
        if forms:
            lines.append(f"  case forms (ru, uk): {', '.join(info['forms'])}")
        else:
            lines.append(f"  case forms (ru, uk): {len(info['forms'])} generated (--forms lists them)")
        for source in info["sources"]:
            lines.append(f"  source: {source}")
    else:
        if info["extends"]:
            lines.append(f"  extends: {info['extends']} (watcher entities show {info['extends']})")
        lines.append(f"  aliases: {', '.join(info['aliases'])}")
        lines.append(f"  defined in: {info['file']}:{info['line']}")
    if info["case_sensitive"]:
        lines.append(f"  case-sensitive: {', '.join(info['case_sensitive'])}")
    if info["not_within"]:
        lines.append(f"  not within: {', '.join(info['not_within'])}")
    return lines


def _ruleset(rules_dir: Path) -> RuleSet | None:
    return load_rules(rules_dir) if rules_dir.exists() else None
