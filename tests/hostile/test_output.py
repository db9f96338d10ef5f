"""What reaches a person or a log: no secret in clear, no control character raw, no look-alike evasion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write

RULES = "rules:\n  - id: nk\n    title: North Korea\n    match: [North Korea]\n"


def watcher(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watcher", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("slak://TOKENAAAA1/TOKENBBBB2/TOKENCCCC3", "unknown notification service 'slak://'"),
        ("TOKENAAAA1-hunter2-password", "not an Apprise URL"),
        ("slack://TOKENAAAA1", "Apprise cannot use this 'slack://' URL"),
    ],
)
def test_an_unusable_notify_url_is_a_config_error_that_shows_only_its_scheme(
    tmp_path: Path, url: str, says: str
) -> None:
    write(tmp_path / "rules" / "r.yaml", RULES)
    cfg = write(tmp_path / "watcher.yaml", "seeds: []\nnotify:\n  - url: ${NOTIFY_URL}\n")
    for args in (("config", "check"), ("notify", "test"), ("run",)):
        proc = watcher(*args, "--config", str(cfg), env={"NOTIFY_URL": url})
        assert proc.returncode in (1, 2), proc
        out = proc.stdout + proc.stderr
        assert f"{cfg}:3 notify[0].url: {says}" in out
        assert "TOKENAAAA1" not in out and "hunter2" not in out


def test_third_party_log_lines_are_scrubbed_of_configured_secrets(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "r.yaml", RULES)
    cfg = write(
        tmp_path / "watcher.yaml",
        "seeds: []\nnotify:\n  - url: 'json://watcher:${HOOK_PASSWORD}@127.0.0.1:9/hook'\n    name: hook\n",
    )
    script = (
        "import logging, sys\n"
        "from watcher.cli import _config\n"
        "from watcher.daemon.logs import setup_logging\n"
        "setup_logging(verbose=True)\n"
        f"_config({str(cfg)!r})\n"
        "logging.getLogger('apprise').error('Unparseable URL json://watcher:S3cretPassw0rd@127.0.0.1:9/hook')\n"
        "logging.getLogger('httpx').warning('failed: %s', 'S3cretPassw0rd')\n"
        "try:\n"
        "    raise ValueError('boom S3cretPassw0rd')\n"
        "except ValueError:\n"
        "    logging.getLogger('urllib3').exception('retrying')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "HOOK_PASSWORD": "S3cretPassw0rd"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "Unparseable URL ****" in proc.stderr
    assert "failed: ****" in proc.stderr and "boom ****" in proc.stderr
    assert "S3cretPassw0rd" not in proc.stderr
    # The notify test itself, failing against a closed port, says why without the password.
    sent = watcher("-v", "notify", "test", "--config", str(cfg), env={"HOOK_PASSWORD": "S3cretPassw0rd"})
    assert "FAILED" in sent.stdout and "S3cretPassw0rd" not in sent.stdout + sent.stderr


def test_control_characters_are_escaped_in_match_output_and_logs(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [
            {
                "id": "x\x1b[2J\x1b]0;owned\x07",
                "title": "North Korea\nwatcher: CRITICAL forged line",
                "content_text": "North Korea",
            }
        ],
    }
    write(docs / "feed.json", json.dumps(feed))
    (docs / "evil\nwatcher: CRITICAL forged.txt").write_bytes(b"\x00\x01\x02binary")
    write(tmp_path / "rules" / "r.yaml", RULES)
    proc = watcher("match", "--rules", str(tmp_path / "rules"), str(docs))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr and "\x07" not in proc.stdout
    lines = (proc.stdout + proc.stderr).splitlines()
    assert not [line for line in lines if line.startswith("watcher: CRITICAL")]
    assert "nk [medium]" in proc.stdout and "\\x1b[2J" in proc.stdout
    assert "evil\\nwatcher: CRITICAL forged.txt: binary file" in proc.stderr
    # JSON output stays exact: JSON escapes control characters itself.
    as_json = watcher("match", "--json", "--rules", str(tmp_path / "rules"), str(docs))
    [record] = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert record["guid"] == "x\x1b[2J\x1b]0;owned\x07"


EVASIONS = {
    "cyrillic o": "N\u043erth Korea fired",
    "greek omicron": "North K\u03bfrea fired",
    "variation selector": "Nor\ufe0fth Korea fired",
    "tag characters": "North Ko\U000e0072\U000e0065rea fired",
    "mongolian vowel separator": "North\u180e Korea fired",
    "zero width joiner": "No\u200drth Korea fired",
}


def test_invisible_characters_never_hide_a_match_and_look_alikes_need_the_option(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    for i, text in enumerate(EVASIONS.values()):
        write(docs / f"{i}.txt", f"Report {i}\n\n{text}\n")
    write(tmp_path / "rules" / "r.yaml", RULES)
    default = watcher("match", "--json", "--rules", str(tmp_path / "rules"), str(docs))
    matched = {Path(json.loads(line)["path"]).stem for line in default.stdout.splitlines()}
    # Invisible characters are dropped by default; look-alike letters match only when asked.
    assert matched == {"2", "3", "4", "5"}
    write(tmp_path / "rules" / "r.yaml", "match_confusables: true\n" + RULES)
    folded = watcher("match", "--json", "--rules", str(tmp_path / "rules"), str(docs))
    records = [json.loads(line) for line in folded.stdout.splitlines()]
    assert {Path(r["path"]).stem for r in records} == {str(i) for i in range(len(EVASIONS))}
    # The evidence is the text as written, look-alikes and all.
    cyrillic = next(r for r in records if Path(r["path"]).stem == "0")
    assert cyrillic["evidence"][0]["matched"] == "N\u043erth Korea"
