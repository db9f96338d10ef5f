"""The dashboard: read-only pages over the database, server-rendered from Jinja2 templates.

Every page is autoescaped (feeds' text is untrusted) and served with a strict Content-Security-Policy: no
script at all, styles from /static only. With `server.token`, every page wants the token, as a bearer token
or through the login form's cookie; without one, the server must listen on loopback only (checked where it
starts). Pages run on a thread of their own with a read-only connection, never on the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape

from watcher import __version__
from watcher.config.database import Location
from watcher.errors import WatcherError
from watcher.rules.engine import Engine
from watcher.rules.model import RuleSet
from watcher.rules.report import check_examples
from watcher.store.feeds import all_feeds
from watcher.store.open import open_readonly
from watcher.store.search import ALERT_STATES
from watcher.store.sqlite import Store
from watcher.web.charts import bars
from watcher.web.queries import (
    PER_PAGE,
    AlertFilter,
    alerts_page,
    days,
    feed_items_per_day,
    filter_choices,
    item_page,
    rule_hits,
)
from watcher.web.server import Request, Response

log = logging.getLogger(__name__)
COOKIE = "watcher_session"
HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
]
SINCE = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
QUIET_DAYS = 30
MAX_PAGE = 1_000_000
_ITEM = re.compile(r"^/items/(\d{1,18})$")


def highlight(snippet: str, words: list[str]) -> Markup:
    """The snippet, escaped, with each occurrence of the matched words in <mark>."""
    terms = sorted({w for w in words if w.strip()}, key=len, reverse=True)
    if not terms:
        return escape(snippet)
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(snippet):
        out.append(escape(snippet[last : m.start()]))
        out.append(Markup("<mark>%s</mark>") % m.group(0))
        last = m.end()
    out.append(escape(snippet[last:]))
    return Markup("").join(out)


def page_environment() -> Environment:
    """The templates, every value autoescaped, with the `highlight` filter."""
    env = Environment(loader=PackageLoader("watcher.web"), autoescape=True, trim_blocks=True)
    env.filters["highlight"] = highlight
    env.filters["basename"] = lambda path: Path(path).name if path else ""
    env.globals["version"] = __version__
    env.globals["stylesheet"] = stylesheet
    return env


def stylesheet() -> str:
    return resources.files("watcher.web").joinpath("static/style.css").read_text(encoding="utf-8")


@dataclass
class RulesView:
    """The rule set the pages describe, with its examples checked once per set."""

    ruleset: RuleSet
    examples: dict[str, tuple[int, int]]  # rule id: (passed, failed)


class Dashboard:
    """The pages; call it (an async handler) with a Request."""

    def __init__(
        self,
        database: Location,
        rules: Callable[[], RuleSet],
        *,
        token: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.database = database
        self.rules = rules
        self.token = token or None
        self._session = (
            hmac.new(self.token.encode(), b"watcher dashboard session", hashlib.sha256).hexdigest()
            if self.token
            else ""
        )
        self.clock = clock
        self.executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dashboard")
        self._store: Store | None = None
        self._inode: int | None = None
        self._rules_view: tuple[int, RulesView] | None = None
        self.env = page_environment()
        self._css = stylesheet().encode()

    async def __call__(self, request: Request) -> Response:
        return await asyncio.get_running_loop().run_in_executor(self.executor, self.handle, request)

    def close(self) -> None:
        def close_store() -> None:
            if self._store is not None:
                self._store.close()
                self._store = None

        self.executor.submit(close_store).result()
        self.executor.shutdown()

    # routing --------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request (on the dashboard's thread)."""
        try:
            response = self._route(request)
        except WatcherError as e:
            # The database gone, locked past the busy timeout, or not one of ours: one line, and a page saying so.
            log.error("dashboard: %s %s: %s", request.method, request.path, e)
            if self._store is not None:
                self._store.close()
                self._store = None
            response = self._page("notfound.html", status=503, what=f"answer now: {e}")
        response.headers = [*HEADERS, *response.headers]
        return response

    def _route(self, request: Request) -> Response:
        if request.path == "/static/style.css":
            return Response(200, self._css, "text/css; charset=utf-8")
        if request.path == "/login":
            return self._login(request)
        if request.method != "GET":
            return Response(405, "only GET\n")
        if not self._authorized(request):
            return self._page("login.html", status=401, error="")
        store = self._open()
        if request.path == "/":
            return self._alerts(store, request)
        if request.path == "/rules":
            return self._rules(store)
        if request.path == "/feeds":
            return self._feeds(store)
        found = _ITEM.match(request.path)
        if found:
            item = item_page(store, int(found.group(1)))
            if item is None:
                return self._page("notfound.html", status=404, what=f"item {found.group(1)}")
            return self._page("item.html", item=item, title=item["title"] or f"item {item['id']}")
        return self._page("notfound.html", status=404, what=request.path)

    def _open(self) -> Store:
        """The read-only connection, opened again when the file was replaced (a restore from backup)."""
        try:
            inode = self.database.stat().st_ino if isinstance(self.database, Path) else None
        except OSError:
            inode = None
        if self._store is not None and inode != self._inode:
            self._store.close()
            self._store = None
        if self._store is None:
            self._store = open_readonly(self.database)
            self._inode = inode
        return self._store

    # access ---------------------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        if self.token is None:
            return True
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and hmac.compare_digest(auth[7:].strip().encode(), self.token.encode()):
            return True
        cookie = request.cookie(COOKIE)
        return cookie is not None and hmac.compare_digest(cookie.encode(), self._session.encode())

    def _login(self, request: Request) -> Response:
        if self.token is None:
            return Response(303, "", headers=[("Location", "/")])
        if request.method == "GET":
            return self._page("login.html", status=200, error="")
        if request.method != "POST":
            return Response(405, "GET or POST\n")
        given = request.form().get("token", "")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return self._page("login.html", status=401, error="That is not the token.")
        cookie = f"{COOKIE}={self._session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=2592000"
        return Response(303, "", headers=[("Location", "/"), ("Set-Cookie", cookie)])

    # pages ----------------------------------------------------------------------------------------------

    def _page(self, template: str, *, status: int = 200, **context: Any) -> Response:
        html = self.env.get_template(template).render(token=self.token is not None, **context)
        return Response(status, html, "text/html; charset=utf-8")

    def _alerts(self, store: Store, request: Request) -> Response:
        q = request.query
        since = q.get("since", "")
        # A page past any there is is the last one's neighbour, not a number too large for the database.
        raw = q.get("page", "")
        page = max(1, min(int(raw), MAX_PAGE)) if raw.isdecimal() and len(raw) <= 9 else 1
        f = AlertFilter(
            rule=q.get("rule", ""),
            severity=q.get("severity", ""),
            source=q.get("source", ""),
            state=q.get("state", ""),
            since=self._since(since),
            page=page,
        )
        rows, total = alerts_page(store, f)
        shown = {k: v for k, v in q.items() if k != "page" and v}
        pages = max(1, -(-total // PER_PAGE))
        return self._page(
            "alerts.html",
            title="Alerts",
            alerts=rows,
            total=total,
            page=f.page,
            pages=pages,
            filters=shown,
            choices={
                **filter_choices(store),
                "severity": ["info", "low", "medium", "high", "critical"],
                "state": list(ALERT_STATES),
                "since": list(SINCE),
            },
            page_url=lambda n: "/?" + urlencode({**shown, "page": n}),
        )

    def _since(self, value: str) -> str:
        if value in SINCE:
            return (self.clock() - SINCE[value]).isoformat(timespec="seconds")
        return value if re.fullmatch(r"\d{4}-\d{2}-\d{2}[T0-9:+.Z-]*", value) else ""

    def _rules(self, store: Store) -> Response:
        view = self._view()
        now = self.clock()
        hits = rule_hits(store, now)
        quiet_since = (now - timedelta(days=QUIET_DAYS)).isoformat(timespec="seconds")
        rows = []
        for rule in view.ruleset.rules:
            found = hits.get(rule.id, {"total": 0, "last": None, "per_day": dict.fromkeys(days(now), 0)})
            rows.append(
                {
                    "rule": rule,
                    "total": found["total"],
                    "last": found["last"],
                    "chart": bars(list(found["per_day"].items()), label=f"{rule.id}: hits per day"),
                    "quiet": not found["last"] or found["last"] < quiet_since,
                    "examples": view.examples.get(rule.id, (0, 0)),
                }
            )
        return self._page("rules.html", title="Rules", rules=rows, problems=view.ruleset.problems)

    def _view(self) -> RulesView:
        ruleset = self.rules()
        if self._rules_view is None or self._rules_view[0] != id(ruleset):
            report = check_examples(ruleset, Engine(ruleset))
            examples = {rule_id: (passed, failed) for rule_id, (passed, failed) in report.per_rule.items()}
            self._rules_view = (id(ruleset), RulesView(ruleset, examples))
        return self._rules_view[1]

    def _feeds(self, store: Store) -> Response:
        states = all_feeds(store)
        per_day = feed_items_per_day(store, self.clock())
        rows = [
            {
                "state": s,
                "chart": bars(list(per_day.get(s.name, {}).items()), width=120, label=f"{s.name}: new items per day"),
            }
            for s in states
        ]
        return self._page("feeds.html", title="Feeds", feeds=rows)
