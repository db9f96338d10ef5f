"""HTML to visible text, with the page's title."""

from __future__ import annotations

from html.parser import HTMLParser

_HIDDEN = frozenset({"script", "style", "head", "noscript", "template", "svg", "iframe", "object", "title"})
_BLOCK = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "td",
        "th",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "blockquote",
        "pre",
        "hr",
        "dd",
        "dt",
        "figcaption",
        "main",
    }
)
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden: list[str] = []
        self.title_parts: list[str] = []
        self.h1_parts: list[str] = []
        self.in_title = False
        self.h1_depth = 0
        self.h1_done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag in _BLOCK and not self.hidden:
                self.parts.append("\n")
            return
        if tag == "title":
            self.in_title = True
        if tag in _HIDDEN:
            self.hidden.append(tag)
            return
        if tag == "h1" and not self.h1_done:
            self.h1_depth += 1
        if tag in _BLOCK and not self.hidden:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in _HIDDEN:
            # Close up to the matching hidden tag: tolerate unclosed children.
            if tag in self.hidden:
                while self.hidden and self.hidden.pop() != tag:
                    pass
            return
        if tag == "h1" and self.h1_depth:
            self.h1_depth -= 1
            if not self.h1_depth:
                self.h1_done = True
        if tag in _BLOCK and not self.hidden:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
        if self.hidden:
            return
        self.parts.append(data)
        if self.h1_depth:
            self.h1_parts.append(data)


def html_to_text(markup: str) -> tuple[str, str]:
    """Return (title, visible text): no script, style or head; entities decoded; one line per block."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    lines = (" ".join(line.split()) for line in text.splitlines())
    body = "\n".join(line for line in lines if line)
    title = " ".join("".join(parser.title_parts).split()) or " ".join("".join(parser.h1_parts).split())
    return title, body
