"""The dashboard in a real browser: Debian's chromium driven by Playwright (which never downloads a browser
here), against a daemon on 127.0.0.1 polling a real feed. Skips where chromium or Playwright is absent.

WATCHER_SCREENSHOTS=DIR keeps a screenshot of each page there (docs/screenshots is made this way).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import write
from tests.daemonproc import daemon, wait_for
from tests.feedserver import feed_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install '.[test]')"
)
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)"
)

HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> North Korea ships artillery shells'


def rss(entries: list[tuple[str, str, str]]) -> bytes:
    from html import escape

    items = "".join(
        f"<item><guid>{g}</guid><title>{escape(t)}</title><link>https://example.org/{g}</link>"
        f"<description>{escape(d)}</description></item>"
        for g, t, d in entries
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{items}</channel></rss>'.encode()


def test_each_page_in_a_browser_a_filter_and_no_script_runs(tmp_path: Path) -> None:
    entries = [
        ("1", HOSTILE, "Officials said artillery shells crossed the border by rail, bound for the front."),
        ("2", "Troops seen near the border", "Thousands of troops were seen near the border on Tuesday."),
        ("3", "Artillery shells at the port", "More artillery shells arrived at the port on Friday, officials said."),
    ]
    write(
        tmp_path / "rules" / "r.yaml",
        """
        rules:
          - id: shells
            title: Artillery shells
            severity: high
            match: [artillery shells]
          - id: troops
            title: Troops
            severity: critical
            match: [troops]
        """,
    )
    shots = Path(os.environ.get("WATCHER_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    with feed_server() as srv:
        srv.static("/rss", rss(entries), headers={"Content-Type": "application/rss+xml"})
        cfg = write(
            tmp_path / "watcher.yaml",
            "database: w.db\nrules: rules\nseeds: []\nserver: {listen: '127.0.0.1:0'}\n"
            f"feeds:\n  - {{url: '{srv.url('/rss')}', name: wire, interval: 60s, alert_existing: true}}\n"
            "http: {allow_private_addresses: true, timeout: 5s}\n",
        )
        with daemon(cfg) as d:
            port = d.health_port()
            wait_for(lambda: "poll" in d.log() or srv.hits.get("/rss"), what="a poll")
            base = f"http://127.0.0.1:{port}"
            with playwright_api.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                dialogs: list[str] = []
                page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

                def alerts_shown() -> int:
                    page.goto(base + "/")
                    return page.locator("article.alert").count()

                wait_for(lambda: alerts_shown() == 3, what="three alerts on the page")
                # The hostile title is text on the page, and nothing in it ran.
                titles = page.locator("article.alert h2").all_inner_texts()
                assert any(t.startswith("<script>window.pwned = 1</script>") for t in titles), titles
                assert page.evaluate("typeof window.pwned") == "undefined"
                assert page.locator("mark", has_text="artillery shells").count() >= 2
                page.screenshot(path=str(shots / "alerts.png"), full_page=True)

                # A filter, clicked: only the critical alert stays.
                page.select_option("select[name=severity]", "critical")
                page.click("button[type=submit]")
                page.wait_for_url("**/?*severity=critical*")
                assert page.locator("article.alert").count() == 1
                assert "Troops seen near the border" in page.locator("article.alert h2").inner_text()

                page.goto(base + "/rules")
                assert page.locator("table tbody tr").count() == 2
                assert page.locator("svg.bars").count() == 2
                page.screenshot(path=str(shots / "rules.png"), full_page=True)

                page.goto(base + "/feeds")
                assert "wire" in page.locator("table").inner_text() and page.locator("span.health").inner_text() == "OK"
                page.screenshot(path=str(shots / "feeds.png"), full_page=True)

                page.goto(base + "/")
                page.locator("article.alert h2 a").filter(has_text="window.pwned").click()
                page.wait_for_url("**/items/*")
                assert "Rules it matched" in page.content() and page.evaluate("typeof window.pwned") == "undefined"
                page.screenshot(path=str(shots / "item.png"), full_page=True)
                assert dialogs == []
                browser.close()
    for name in ("alerts", "rules", "feeds", "item"):
        assert (shots / f"{name}.png").stat().st_size > 10_000
