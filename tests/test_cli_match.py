from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import ROOT, write
from watcher.cli import main

RULES = """
entities:
  nk: [North Korea, Pyongyang]
rules:
  - id: nk-arms
    title: NK arms
    severity: high
    match: [{entity: nk}, arms]
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_match_prints_one_line_per_hit(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "r.yaml", RULES)
    write(tmp_path / "docs" / "a.txt", "Pyongyang arms\n\nPyongyang sells arms.\n")
    write(tmp_path / "docs" / "b.txt", "Nothing\n\nat all\n")
    code, out = run("match", "--rules", str(tmp_path / "rules"), str(tmp_path / "docs"))
    assert code == 0
    assert out.splitlines() == [
        f'{tmp_path / "docs" / "a.txt"}: nk-arms [high] "Pyongyang arms" (Pyongyang, arms)',
        "1 of 2 documents matched",
    ]


def test_match_json_lines_for_feed_entries(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "r.yaml", RULES)
    write(
        tmp_path / "f.rss",
        """
        <rss version="2.0"><channel>
        <item><title>North Korea arms</title><guid>g-1</guid><link>https://e.org/1</link></item>
        <item><title>Other</title><guid>g-2</guid></item>
        </channel></rss>
        """,
    )
    code, out = run("match", "--json", "--rules", str(tmp_path / "rules"), str(tmp_path / "f.rss"))
    assert code == 0
    [record] = [json.loads(line) for line in out.splitlines()]
    assert record["rule"] == "nk-arms" and record["guid"] == "g-1" and record["title"] == "North Korea arms"
    assert record["path"] == str(tmp_path / "f.rss")
    assert {e["matched"] for e in record["evidence"]} == {"North Korea", "arms"}
    assert all(e["field"] == "title" for e in record["evidence"])


def test_match_text_file_has_null_guid(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "r.yaml", RULES)
    write(tmp_path / "a.txt", "North Korea arms\n")
    _, out = run("match", "--json", "--rules", str(tmp_path / "rules"), str(tmp_path / "a.txt"))
    assert json.loads(out)["guid"] is None


def test_match_exits_2_on_invalid_rules(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "r.yaml", "rules:\n  - id: x\n    match: [{entity: nope}]\n")
    write(tmp_path / "a.txt", "text\n")
    code, out = run("match", "--rules", str(tmp_path / "rules"), str(tmp_path / "a.txt"))
    assert code == 2
    assert "r.yaml:3 rules[0].match[0].entity: unknown entity 'nope'" in out


def test_match_explain_shows_conditions(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "r.yaml", RULES)
    write(tmp_path / "a.txt", "Pyongyang spoke\n")
    code, out = run("match", "--explain", "--rules", str(tmp_path / "rules"), str(tmp_path / "a.txt"))
    assert code == 0
    assert "nk-arms: no match" in out
    assert '\u2713 entity nk: "Pyongyang" in content' in out
    assert '\u2717 "arms"' in out


def test_shipped_rules_and_seeds_show_matches_and_near_misses() -> None:
    code, out = run("match", "--json", "--rules", str(ROOT / "rules"), str(ROOT / "seeds"))
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    matched = {(Path(r["path"]).name, r["rule"]) for r in records}
    assert ("01-shells-by-rail.txt", "dprk-ukraine-arms") in matched
    assert ("04-troops-far-east.html", "dprk-troops-russia") in matched
    assert ("10-wire.json", "dprk-ukraine-arms") in matched
    # The gazetteer across languages: Korean, Russian and Chinese reports of the same shipments.
    for seed in ("15-ko-shells.txt", "16-ru-shells.txt", "17-zh-shells.txt"):
        assert (seed, "dprk-russia-munitions") in matched
    names = {name for name, _ in matched}
    for near_miss in [
        "03-video-game.md",
        "05-harms-alarms.txt",
        "07-who-lowercase.txt",
        "09-refuelling-drill.txt",
        "18-ko-shipyards.txt",  # 한국, 조선소, 남북한: none of them North Korea
    ]:
        assert near_miss not in names
    assert len(list(Path(ROOT / "seeds").iterdir())) >= 12


def test_rules_check_passes_on_shipped_rules() -> None:
    code, out = run("rules", "check", str(ROOT / "rules"))
    assert code == 0, out
    assert "0 failed" in out and "0 problems" in out


def test_rules_check_fails_on_problems_and_wrong_examples(tmp_path: Path) -> None:
    write(
        tmp_path / "rules" / "r.yaml",
        """
        rules:
          - id: a
            match: [arms]
            examples:
              match: ["no weapons here"]
              no_match: ["arms here"]
        """,
    )
    write(tmp_path / "rules" / "z.yaml", "rules: [\n")
    code, out = run("rules", "check", str(tmp_path / "rules"))
    assert code == 1
    assert "example expected to match, but it did not: 'no weapons here'" in out
    assert "example expected not to match, but it did: 'arms here'" in out
    assert "z.yaml" in out and "YAML syntax error" in out


def test_rules_check_and_match_read_the_rules_path_from_the_configuration(tmp_path: Path, monkeypatch) -> None:
    """On a systemd host the rules live where watcher.yaml says, not in ./rules."""
    project = tmp_path / "etc"
    write(project / "watcher.yaml", "rules: /nowhere-else\n")
    write(project / "conf-rules" / "r.yaml", RULES)
    write(project / "watcher.yaml", "rules: conf-rules\n")
    write(tmp_path / "doc.txt", "Pyongyang arms\n\nPyongyang sells arms.\n")
    monkeypatch.chdir(tmp_path)  # no ./rules here
    monkeypatch.setenv("WATCHER_CONFIG", str(project / "watcher.yaml"))
    code, out = run("rules", "check")
    assert code == 0, out
    assert out.startswith("1 rule, 1 entity in 1 file")
    code, out = run("match", str(tmp_path / "doc.txt"))
    assert code == 0 and "nk-arms" in out
    monkeypatch.delenv("WATCHER_CONFIG")
    code, out = run("rules", "check", "--config", str(project / "watcher.yaml"))
    assert code == 0, out
    code, out = run("entities", "list", "--config", str(project / "watcher.yaml"), "--json")
    assert '"name": "nk"' in out


def test_typos_exit_2_with_one_line(tmp_path: Path, monkeypatch) -> None:
    """A missing path or an unknown id is a mistake in the command, never an empty success."""
    import subprocess
    import sys

    write(tmp_path / "rules" / "r.yaml", RULES)
    write(tmp_path / "watcher.yaml", "database: w.db\nrules: rules\nseeds: []\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WATCHER_CONFIG", raising=False)

    def watcher(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "watcher", *args], capture_output=True, text=True, timeout=60, check=False
        )

    done = watcher("match", str(tmp_path / "nope.txt"))
    assert (done.returncode, done.stderr.strip()) == (2, f"error: no such file or directory: {tmp_path / 'nope.txt'}")
    done = watcher("backfill", "/nonexistent")
    assert (done.returncode, done.stderr.strip()) == (2, "error: no such file or directory: /nonexistent")
    assert watcher("backfill", str(tmp_path / "rules")).returncode == 0  # creates the database
    done = watcher("alerts", "resend", "999")
    assert done.returncode == 2 and "no alert 999" in done.stderr
    done = watcher("alerts", "list", "--state", "bogus")
    assert done.returncode == 2 and "'bogus' is not one of" in done.stderr


def test_rules_check_json(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "r.yaml", RULES + "    examples:\n      match: [nothing relevant]\n")
    code, out = run("rules", "check", "--json", str(tmp_path / "rules"))
    record = json.loads(out)
    assert code == 1 and record["ok"] is False and record["rules"] == 1
    assert record["example_failures"] and "nothing relevant" in record["example_failures"][0]
    code, out = run("rules", "check", "--json", str(ROOT / "rules"))
    assert code == 0 and json.loads(out)["ok"] is True


def test_match_explain_json_and_the_closing_count(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "r.yaml", RULES)
    write(tmp_path / "docs" / "b.txt", "Nothing\n\nat all\n")
    code, out = run("match", "--rules", str(tmp_path / "rules"), str(tmp_path / "docs"))
    assert code == 0 and out.splitlines() == ["no rule matched 1 document"]
    code, out = run("match", "--json", "--explain", "--rules", str(tmp_path / "rules"), str(tmp_path / "docs"))
    [record] = [json.loads(line) for line in out.splitlines()]
    assert record["rule"] == "nk-arms" and record["matched"] is False
    assert record["conditions"][0].startswith("\u2717 all of")
