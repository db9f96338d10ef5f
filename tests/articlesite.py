"""A news site on loopback for the full-text tests: a summary-only RSS feed whose links lead to article pages
wrapped in what real pages carry around their text (navigation, a cookie banner, scripts, related articles,
comments), and the pages that go wrong (404, a login wall, a huge page, a redirect to a private address)."""

from __future__ import annotations

import html

from tests.feedserver import FeedServer

# Words that appear on the page only outside the article's body: a rule needing one must never alert.
NOISE = {
    "navigation": "zeppelin",
    "cookies": "marmalade",
    "script": "bagpipe",
    "related": "harpsichord",
    "comments": "xylophone",
}

BODY = [
    "Officials said on Tuesday that artillery shells shipped by rail had reached the front line in eastern "
    "Ukraine, according to three people familiar with the matter.",
    "The shipments, which began in the autumn, included millions of rounds and several dozen launchers, the "
    "officials said, describing the weapons as old but serviceable.",
    "Analysts at a research institute said satellite images of the port of Rajin showed containers being loaded "
    "onto ships bound for a Russian port near Vladivostok.",
    "The foreign ministry in Pyongyang denied supplying any munitions and called the reports a fabrication.",
]


def article_page(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<script>var tags = "{NOISE["script"]} tracking";</script><style>body {{ font: 12px serif }}</style></head>
<body><header><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/air">The {NOISE["navigation"]} desk</a></li></ul></nav></header>
<div class="cookie-banner">We use cookies and {NOISE["cookies"]} to improve your experience. Accept all.</div>
<main><article><h1>{html.escape(title)}</h1><p class="byline">By A. Reporter</p>
<div class="story-body">{body}</div></article>
<aside class="related"><h2>Related articles</h2><ul><li><a href="/r1">A {NOISE["related"]} recital in Vienna</a></li>
<li><a href="/r2">Markets close higher on Friday</a></li></ul></aside>
<section id="comments"><h3>Comments</h3><div class="comment"><p>What about the {NOISE["comments"]} orchestra? I
loved the concert last year and want more stories like that one, please.</p></div></section></main>
<footer>Copyright 2026 The Daily Example. All rights reserved.</footer>
<script>document.write("{NOISE["script"]}");</script></body></html>""".encode()


LOGIN_PAGE = b"""<!DOCTYPE html><html><head><title>Sign in</title></head><body><main><h1>Subscribers only</h1>
<p>Please sign in to continue reading.</p><form action="/login" method="post"><input name="user">
<input name="password" type="password"><button>Sign in</button></form></main></body></html>"""


def rss(entries: list[tuple[str, str, str, str]]) -> bytes:
    """A feed of (guid, title, link, summary) entries."""
    items = "".join(
        f"<item><guid>{g}</guid><title>{html.escape(t)}</title><link>{html.escape(link)}</link>"
        f"<description>{html.escape(s)}</description></item>"
        for g, t, link, s in entries
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Teasers</title>{items}</channel></rss>'.encode()


def serve_site(srv: FeedServer, *, private_redirect: str | None = None) -> str:
    """Routes a summary-only feed and its pages on `srv`; returns the feed's URL. Entries: `good` (an
    article), `missing` (404), `login` (a login wall), `huge` (an 11 MB page), `moved` (a redirect to
    `private_redirect`, where given)."""
    html_type = {"Content-Type": "text/html; charset=utf-8"}
    srv.static("/news/good", article_page("Shells from the North", BODY), headers=html_type)
    srv.static("/news/login", LOGIN_PAGE, headers=html_type)
    srv.static("/news/huge", b"<html><body><p>" + b"filler text " * 950_000 + b"</p></body></html>", headers=html_type)
    entries = [
        ("good", "Shells from the North", srv.url("/news/good"), "North Korea sent artillery shells, officials said."),
        ("missing", "A page that is gone", srv.url("/news/missing"), "North Korea shipped more, officials said."),
        ("login", "Behind the wall", srv.url("/news/login"), "North Korea and a paywall."),
        ("huge", "A very long page", srv.url("/news/huge"), "North Korea at great length."),
    ]
    if private_redirect:
        srv.static("/news/moved", b"", status=302, headers={"Location": private_redirect})
        entries.append(("moved", "Moved away", srv.url("/news/moved"), "North Korea elsewhere."))
    return srv.static("/teasers.rss", rss(entries), headers={"Content-Type": "application/rss+xml"})
