"""The main text of an article page, for feeds that carry only a summary (`full_text:`).

Extraction runs in a parse worker (the page is untrusted HTML): trafilatura finds the article's body and
leaves navigation, related-article lists, comments, banners and scripts out; a feed's `full_text_selector`
names the block instead where the extractor picks the wrong one.
"""

from __future__ import annotations

import re

from watcher.errors import ReadError
from watcher.items.model import Item
from watcher.sources.decode import decode_text, html_charset

OFF, ON, AUTO = "off", "on", "auto"
# `auto` reads the article of an entry whose text is shorter than this, or looks cut short.
SHORT_ENTRY_CHARS = 500
# Less text than this on an article page is a paywall, a login page or a stub: the summary is kept instead.
MIN_ARTICLE_CHARS = 200
_CUT_SHORT = re.compile(
    r"(\.\.\.|…|\[\s*(?:…|\.\.\.)\s*\]|\bread more|\bcontinue reading|\bread the (?:full|whole|rest)\b.*|"
    r"\bmore\s*(?:»|›|>>)|\(more\))\W*$",
    re.IGNORECASE,
)
_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")


def wants_full_text(item: Item, mode: str) -> bool:
    """Whether to read the article an entry links to: always (`on`), or when its text is short or cut (`auto`)."""
    if mode == OFF or not item.link or not item.link.lower().startswith(("http://", "https://")):
        return False
    if mode == ON:
        return True
    text = (item.content or item.summary).strip()
    return len(text) < SHORT_ENTRY_CHARS or bool(_CUT_SHORT.search(text[-80:]))


def is_html(content_type: str) -> bool:
    """Whether a response's Content-Type may hold a page (a missing one may: many servers forget it)."""
    return content_type.split(";")[0].strip().lower() in _HTML_TYPES


def extract_article(data: bytes, *, url: str, content_type: str = "", selector: str | None = None) -> str:
    """The article's text (paragraphs on lines of their own); "" when the page has none.

    Runs in a parse worker. Comments are left out; with `selector`, only the blocks it matches are read.
    """
    import trafilatura

    charset = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", content_type, re.IGNORECASE)
    html = decode_text(data, charset.group(1) if charset else html_charset(data))
    if selector:
        html = _selected(html, selector, url)
    text = trafilatura.extract(
        html, url=url, include_comments=False, include_tables=True, include_images=False, deduplicate=False
    )
    if not text and selector:
        text = trafilatura.html2txt(html)
    return (text or "").strip()


def _selected(html: str, selector: str, url: str) -> str:
    """A page made of the blocks `selector` matches, without their scripts and styles."""
    from lxml import etree
    from lxml import html as lxml_html
    from lxml.cssselect import CSSSelector

    try:
        tree = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return ""
    nodes = CSSSelector(selector)(tree)
    if not nodes:
        raise ReadError(f"{url}: full_text_selector {selector!r} matches nothing on the page")
    for node in nodes:
        for junk in node.xpath(".//script|.//style|.//noscript|.//template"):
            junk.drop_tree()
    body = "".join(lxml_html.tostring(node, encoding="unicode") for node in nodes)
    return f"<html><body><article>{body}</article></body></html>"
