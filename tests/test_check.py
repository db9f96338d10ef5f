"""`watcher check`: every problem a daemon would meet, found offline and at once."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import write
from watcher.cli import main

RULES = """
rules:
  - id: shells
    notify: [analysts]
    match: [artillery shells]
    examples:
      match: ["No shells here at all."]
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_check_reports_every_problem_at_once(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "r.yaml", RULES)
    cfg = write(
        tmp_path / "watcher.yaml",
        "database: state/w.db\nrules: rules\nseeds: [inbox]\n"
        "feeds:\n  - {url: 'http://127.0.0.1:8080/feed.xml', name: local}\n"
        "notify:\n  - {url: 'json://127.0.0.1:9/hook', tags: [ops]}\n"
        "server: {listen: '0.0.0.0:9090', dashboard: false}\n",
    )
    code, out = run("check", "--config", str(cfg))
    assert code == 1
    lines = out.splitlines()
    expected = [
        f"database {tmp_path / 'state' / 'w.db'}: its directory {tmp_path / 'state'} does not exist",
        f"seed directory inbox: {tmp_path / 'inbox'} is not a directory",
        "r.yaml:2 shells: example expected to match, but it did not: 'No shells here at all.'",
        "r.yaml:2 rule shells: notify analysts: no target carries this tag; its alerts reach nobody",
        "feed local: http://127.0.0.1:8080/feed.xml: a private or reserved address (http.allow_private_addresses)",
        "warning: server.listen 0.0.0.0:9090: /healthz and /metrics are open to the network, with no token",
    ]
    for fragment in expected:
        assert any(fragment in line for line in lines), (fragment, out)
    assert lines[-1] == "5 problems"
    code, out = run("check", "--config", str(cfg), "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False and len(data["problems"]) == 5 and len(data["warnings"]) == 1


def test_check_passes_a_sound_setup_and_reports_an_invalid_config(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "r.yaml", RULES.replace("No shells here at all.", "Artillery shells by rail."))
    (tmp_path / "inbox").mkdir()
    cfg = write(
        tmp_path / "watcher.yaml",
        "database: w.db\nrules: rules\nseeds: [inbox]\n"
        "notify:\n  - {url: 'json://127.0.0.1:9/hook', tags: [analysts]}\n",
    )
    code, out = run("check", "--config", str(cfg))
    assert (code, out) == (0, f"{cfg}: ok; 1 rule, 0 feeds, 1 notify target\n")
    write(cfg, "database: w.db\nfeeds: nope\n")
    code, out = run("check", "--config", str(cfg))
    assert code == 1 and "watcher.yaml:2 feeds: must be a list" in out
