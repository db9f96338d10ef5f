"""Every command explains itself: help text with examples, and a place in README or docs/operations.md."""

from __future__ import annotations

import re

import click
import pytest

from tests.conftest import ROOT
from watcher.cli import main


def commands(group: click.Group = main, prefix: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    out = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            out.extend(commands(command, (*prefix, name)))
        else:
            out.append((" ".join((*prefix, name)), command))
    return out


@pytest.mark.parametrize(("name", "command"), commands(), ids=[name for name, _ in commands()])
def test_every_command_has_help_with_runnable_examples_and_documentation(name: str, command: click.Command) -> None:
    text = command.help or ""
    assert text.strip(), name
    examples = re.findall(r"^\s+(watcher .+)$", text.split("Examples:", 1)[-1], re.M) if "Examples:" in text else []
    assert examples, f"watcher {name}: no examples in its --help"
    for example in examples:
        assert example.startswith(f"watcher {name}"), (name, example)
    documented = (ROOT / "README.md").read_text() + (ROOT / "docs" / "operations.md").read_text()
    assert f"watcher {name}" in documented, f"watcher {name} is in neither README.md nor docs/operations.md"
