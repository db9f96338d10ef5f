"""The rule language as data: conditions, entities, rules and the loaded set."""

from __future__ import annotations

from dataclasses import dataclass, field

from watcher.config.template import Template
from watcher.errors import Problem

SEVERITIES = ("info", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class Term:
    """A word or phrase, matched as whole words; ending in `*`, any word that begins with it."""

    text: str
    case_sensitive: bool = False

    @property
    def prefix(self) -> bool:
        return self.text.endswith("*")

    @property
    def stem(self) -> str:
        """The text without its wildcard."""
        return self.text[:-1] if self.prefix else self.text


@dataclass(frozen=True)
class EntityRef:
    """Any alias of a named entity."""

    name: str


@dataclass(frozen=True)
class Regex:
    """A regular expression (RE2 syntax), found anywhere in the normalized text."""

    pattern: str
    case_sensitive: bool = False


@dataclass(frozen=True)
class All:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class NoneOf:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class AtLeast:
    count: int
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class Near:
    """The children occur within `within` words of each other (distance between their first words)."""

    children: tuple[Condition, ...]
    within: int


@dataclass(frozen=True)
class Sentence:
    """The children occur in one sentence."""

    children: tuple[Condition, ...]


Condition = Term | EntityRef | Regex | All | AnyOf | NoneOf | AtLeast | Near | Sentence
POSITIONAL = (Term, EntityRef, Regex, AnyOf)


@dataclass(frozen=True)
class Entity:
    """A named list of aliases. An alias occurrence inside an occurrence of a `not_within` phrase does not
    count ("Korea" in "South Korea"; 朝鲜 in 朝鲜半岛)."""

    name: str
    aliases: tuple[Term, ...]
    file: str = ""
    line: int | None = None
    not_within: tuple[Term, ...] = ()
    extends: str | None = None  # the built-in entity whose aliases it includes


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    match: Condition
    severity: str = "medium"
    fields: tuple[str, ...] | None = None
    sources: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()
    description: str = ""
    updates: bool = False
    template: Template | None = None
    cooldown: float | None = None
    digest: float | None = None
    # "story": alert once per story, later copies recorded with the alert; "item": alert every copy.
    per: str = "story"
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()
    file: str = ""
    line: int | None = None


@dataclass
class RuleSet:
    """What the loader accepted, and every problem in what it rejected."""

    rules: list[Rule] = field(default_factory=list)
    entities: dict[str, Entity] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    rejected_files: list[str] = field(default_factory=list)
    # Fold look-alike characters (Cyrillic "о" for "o") before matching: set by any rule file.
    match_confusables: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems
