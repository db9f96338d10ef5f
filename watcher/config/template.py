"""A message template as configuration: its text, and whether it compiles. Rendering is delivery's job
(`watcher.delivery.message`); the value lives here so that config and rules need nothing from delivery.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment


@dataclass(frozen=True)
class Template:
    """Jinja2 templates (sandboxed) for a notification's title and body; None keeps the default."""

    title: str | None = None
    body: str | None = None


def template_error(text: str) -> str | None:
    """Why a template cannot be compiled, or None."""
    try:
        SandboxedEnvironment().parse(text)
    except TemplateSyntaxError as e:
        return f"template syntax error: {e.message}"
    return None
