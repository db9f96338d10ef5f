"""`watcher rules backtest`: a changed rule set against the stored items and what alerted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import write
from tests.webtools import RULES, corpus
from watcher.cli import main

DRAFT = """\
rules:
  - id: shells
    title: Artillery shells, at the port only
    severity: high
    match: [artillery shells, port]
  - id: troops
    title: Troops deployed
    severity: critical
    match: [troops]
  - id: border
    title: Anything at the border
    match: [border]
"""

# Each test on SQLite, and on PostgreSQL where WATCHER_TEST_POSTGRES is set.
pytestmark = pytest.mark.usefixtures("on_each_database")


def backtest(cfg: Path, *args: str) -> list[dict]:
    out = CliRunner().invoke(main, ["rules", "backtest", "--config", str(cfg), "--json", *args])
    assert out.exit_code == 0, out.output
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_a_changed_rule_set_reports_hits_new_and_lost_with_samples(tmp_path: Path) -> None:
    cfg = corpus(tmp_path)
    draft = write(tmp_path / "draft" / "r.yaml", DRAFT)
    records = {r["rule"]: r for r in backtest(cfg, "--rules", str(draft.parent), "--since", "all")}
    # shells now needs "port" too: of its two alerts, the one without "port" is lost.
    assert (records["shells"]["hits"], records["shells"]["new"], records["shells"]["lost"]) == (1, 0, 1)
    assert records["shells"]["samples"]["lost"][0]["title"] == "North Korea sent artillery shells"
    assert (records["troops"]["hits"], records["troops"]["new"], records["troops"]["lost"]) == (1, 0, 0)
    # border is new: both items that mention the border would alert now.
    assert (records["border"]["hits"], records["border"]["new"], records["border"]["lost"]) == (2, 2, 0)
    evidence = records["border"]["samples"]["new"][0]["evidence"][0]
    assert evidence["matched"] == "border" and "border" in evidence["snippet"]
    # never was dropped from the draft: it had no alerts, so it is not reported; the run is as it was.
    assert "never" not in records
    same = {r["rule"]: r for r in backtest(cfg, "--since", "all")}
    assert all(r["new"] == 0 and r["lost"] == 0 for r in same.values())
    assert same["shells"]["hits"] == 2 and same["never"]["hits"] == 0


def test_a_story_counts_once_for_a_new_rule(tmp_path: Path) -> None:
    cfg = corpus(tmp_path)
    story = (
        "The ministry said on Tuesday that a convoy of trucks carrying grain had crossed the river at dawn, and "
        "that more convoys would follow in the coming weeks as the harvest was brought in from the northern farms."
    )
    write(tmp_path / "docs" / "e.txt", f"Grain convoy crosses the river\n\n{story}")
    write(tmp_path / "docs" / "f.txt", f"Convoy of grain on the river\n\nRIVERTOWN (Wire) - {story}")
    assert CliRunner().invoke(main, ["backfill", "--config", str(cfg)]).exit_code == 0
    draft = write(tmp_path / "draft" / "r.yaml", RULES + "  - id: grain\n    title: Grain\n    match: [grain]\n")
    records = {r["rule"]: r for r in backtest(cfg, "--rules", str(draft.parent), "--since", "all")}
    assert (records["grain"]["hits"], records["grain"]["new"]) == (2, 1)  # one alert for the story


def test_since_text_output_html_and_rules_check_pointing_to_it(tmp_path: Path) -> None:
    cfg = corpus(tmp_path)
    runner = CliRunner()
    out = runner.invoke(
        main, ["rules", "backtest", "--config", str(cfg), "--since", "30d", "--html", str(tmp_path / "r.html")]
    )
    assert out.exit_code == 0, out.output
    assert re.search(r"^shells\s+2\s+0\s+0$", out.output, re.M)
    assert re.search(r"backtested 4 items first seen since \S+ in [\d.]+s \([\d,]+ items/s\); report: ", out.output)
    html = (tmp_path / "r.html").read_text()
    assert "<svg" in html and "<style>" in html and "shells" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # self-contained: nothing to fetch
    assert "&lt;script&gt;" in html or "<script>" not in html
    future = runner.invoke(main, ["rules", "backtest", "--config", str(cfg), "--since", "2999-01-01"])
    assert "backtested 0 items" in future.output
    bad = runner.invoke(main, ["rules", "backtest", "--config", str(cfg), "--since", "lately"])
    assert bad.exit_code == 2 and "not a duration or a date" in bad.output
    # rules check: nothing changed since the backfill ran these rules; then one rule is edited.
    assert "changed since" not in runner.invoke(main, ["rules", "check", "--config", str(cfg)]).output
    rules = tmp_path / "rules" / "r.yaml"
    rules.write_text(rules.read_text().replace("match: [troops]", "match: [troops, soldiers]"))
    checked = runner.invoke(main, ["rules", "check", "--config", str(cfg)])
    assert "1 rule changed since the daemon last ran them (troops); run `watcher rules backtest`" in checked.output
    record = json.loads(runner.invoke(main, ["rules", "check", "--config", str(cfg), "--json"]).output)
    assert record["changed"] == ["troops"]
