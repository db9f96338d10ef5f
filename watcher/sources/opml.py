"""OPML, the subscription list format of feed readers: read (defused first) and written."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - writes OPML; reading parses only defused bytes
from collections.abc import Iterable
from pathlib import Path

from watcher.errors import ConfigError, Problem, WatcherError
from watcher.sources.parse import defuse


def read_opml(path: Path) -> list[tuple[str, str | None]]:
    """(url, title) of every outline with an xmlUrl; DOCTYPE and entities are stripped before parsing."""
    try:
        data = defuse(path.read_bytes())
        root = ET.fromstring(data)  # noqa: S314 - defused above: no DOCTYPE, no entity declarations
    except OSError as e:
        raise WatcherError(f"{path}: cannot read: {e.strerror}") from None
    except ET.ParseError as e:
        raise ConfigError([Problem(str(path), e.position[0], "", f"invalid OPML: {e}")]) from None
    out = []
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl")
        if url:
            out.append((url.strip(), outline.get("title") or outline.get("text")))
    return out


def write_opml(feeds: Iterable[tuple[str, str]]) -> str:
    """An OPML 2.0 document subscribing to each (name, url)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = "watcher feeds"
    body = ET.SubElement(root, "body")
    for name, url in feeds:
        ET.SubElement(body, "outline", type="rss", text=name, title=name, xmlUrl=url)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
