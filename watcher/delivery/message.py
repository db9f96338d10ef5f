"""Notifications as text: what an alert (or a group of them) says, rendered from sandboxed templates.

Feed text is untrusted. Before it reaches a template it is stripped of markup and control characters, its
mass mentions are neutralized (@channel, @here, <!everyone>...), titles lose line breaks, and markdown
characters are escaped so a feed cannot forge links or formatting in a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Undefined
from jinja2.sandbox import SandboxedEnvironment

from watcher.config.template import Template

TITLE_MAX = 200
BODY_MAX = 6000
MAX_EVIDENCE = 5
MAX_GROUP_LINES = 20

_TAGS = re.compile(r"<[^<>]{0,500}>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MENTIONS = re.compile(r"(?i)(@)(channel|here|everyone|all)\b|<(!)(channel|here|everyone)|<(@)")
_SCHEMES = re.compile(r"(?i)\b(javascript|vbscript|data)(\s*):")
_MARKDOWN = re.compile(r"([\\`*_\[\]<>~|#])")

DEFAULT_TITLE = "[{{ severity | upper }}] {{ rule.title }}: {{ item.title }}"
DEFAULT_BODY = """{% if markdown %}**{{ item.title }}**{% else %}{{ item.title }}{% endif %}
{% if item.link %}{{ item.link }}
{% endif %}Source: {{ item.source }}{% if item.published %} · published {{ item.published }}{% endif %}
Rule: {{ rule.title }} ({{ rule.id }}, {{ severity }})
{% if evidence %}
Evidence:
{% for e in evidence %}- {{ e.condition }}: {{ e.snippet }}
{% endfor %}{% endif %}{% if others %}
And {{ others | length }} more {{ "alert" if others | length == 1 else "alerts" }} for this rule:
{% for o in others %}- {{ o.title }}{% if o.link %} {{ o.link }}{% endif %}
{% endfor %}{% if more %}- ... and {{ more }} more
{% endif %}{% endif %}
Alert id: {{ key }}"""


def clean_text(text: str, limit: int | None = None) -> str:
    """Untrusted text made safe: no markup, no control characters, no mass mentions, white space folded."""
    text = _TAGS.sub(" ", text or "")
    text = _CONTROL.sub(" ", text)
    text = " ".join(text.split())
    text = _MENTIONS.sub(_defuse_mention, text)
    text = _SCHEMES.sub("\\1\u2060\\2:", text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "\u2026"
    return text


def _defuse_mention(m: re.Match[str]) -> str:
    # A zero-width joiner keeps the text readable but breaks the mention syntax.
    if m.group(1):
        return f"@\u2060{m.group(2)}"
    if m.group(3):
        return f"<\u2060!{m.group(4)}"
    return "<\u2060@"


def escape_markdown(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", text)


def safe_url(url: str | None) -> str:
    """A link shown in a message: http(s) only, no white space or angle brackets."""
    if not url or not re.match(r"(?i)^https?://", url):
        return ""
    return re.sub(r"[\s<>\"]", "", url)


def alert_context(alert: Mapping[str, Any], *, markdown: bool) -> dict[str, Any]:
    """The template variables for one alert row (joined with its item), every text already made safe."""

    def text(value: Any, limit: int | None = None) -> str:
        cleaned = clean_text(str(value or ""), limit)
        return escape_markdown(cleaned) if markdown else cleaned

    evidence = []
    for e in alert.get("evidence", [])[:MAX_EVIDENCE]:
        snippet = text(e.get("snippet", ""), 300)
        matched = text(e.get("matched", ""), 100)
        if markdown and matched and matched in snippet:
            snippet = snippet.replace(matched, f"**{matched}**", 1)
        evidence.append(
            {
                "condition": text(e.get("condition", "")),
                "matched": matched,
                "snippet": snippet,
                "field": e.get("field", ""),
            }
        )
    return {
        "rule": {"id": alert["rule_id"], "title": text(alert["rule_title"], TITLE_MAX)},
        "severity": alert["severity"],
        "item": {
            "title": text(alert.get("title") or "(untitled)", TITLE_MAX),
            "link": safe_url(alert.get("link")),
            "source": text(alert.get("source", "")),
            "published": alert.get("published") or "",
            "path": text(alert.get("path") or ""),
        },
        "evidence": evidence,
        "key": alert["idempotency_key"],
    }


class Renderer:
    """Renders title and body for an alert or a group of alerts, from the rule's, the target's or the default
    templates (in that order)."""

    def __init__(self) -> None:
        self.env = SandboxedEnvironment(autoescape=False, undefined=Undefined, keep_trailing_newline=False)
        self._cache: dict[str, Any] = {}

    def _template(self, text: str) -> Any:
        compiled = self._cache.get(text)
        if compiled is None:
            compiled = self._cache[text] = self.env.from_string(text)
        return compiled

    def render(
        self,
        alerts: Sequence[Mapping[str, Any]],
        *,
        templates: Sequence[Template] = (),
        markdown: bool = True,
        note: str = "",
    ) -> tuple[str, str]:
        """(title, body) for the first alert, with the others of a group listed after it."""
        context = alert_context(alerts[0], markdown=markdown)
        context["markdown"] = markdown
        others = [alert_context(a, markdown=markdown)["item"] for a in alerts[1:]]
        context["others"] = others[:MAX_GROUP_LINES]
        context["more"] = max(0, len(others) - MAX_GROUP_LINES)
        context["count"] = len(alerts)
        title_src = next((t.title for t in templates if t.title), DEFAULT_TITLE)
        body_src = next((t.body for t in templates if t.body), DEFAULT_BODY)
        plain = alert_context(alerts[0], markdown=False) if markdown else context
        plain.update(others=context["others"], more=context["more"], count=context["count"])
        title = clean_text(self._template(title_src).render(plain), TITLE_MAX)
        if len(alerts) > 1:
            title = clean_text(f"{title} (+{len(alerts) - 1} more)", TITLE_MAX)
        body = self._template(body_src).render(context).strip()
        if note:
            body = f"{note}\n\n{body}"
        if len(body) > BODY_MAX:
            body = body[: BODY_MAX - 1] + "\u2026"
        return title, body
