"""Hostile rule files: located errors, never a traceback, a hang or gigabytes; huge entities stay usable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_measured, write
from tests.hostile.files import BILLION_LAUGHS
from watcher.rules.scan import HYPERSCAN_MAX_KEYS, Keys, Scanner, fast_available

CASES = {
    "bomb": (BILLION_LAUGHS, "YAML aliases repeat more than 10000 nodes (an alias bomb?)"),
    "self": ("entities: &a {x: [*a]}\n", "a YAML alias refers to a node that contains it"),
    "deep": (
        "rules:\n  - id: deep\n    match: " + "{all: [" * 300 + "x" + "]}" * 300 + "\n",
        "nested deeper than 64 levels",
    ),
    "deep-block": (
        "rules:\n  - id: deep\n    match:\n"
        + "".join("  " * (i + 3) + "all:\n" + "  " * (i + 3) + "- " + ("\n" if i < 199 else "x\n") for i in range(200)),
        "nested deeper than 64 levels",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_rule_file_is_a_located_error(tmp_path: Path, case: str) -> None:
    text, message = CASES[case]
    write(tmp_path / "rules" / "bad.yaml", text)
    done = run_measured([sys.executable, "-m", "watcher", "rules", "check", str(tmp_path / "rules")], timeout=30)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{tmp_path / 'rules' / 'bad.yaml'}:" in done.stdout and message in done.stdout
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr
    assert done.peak_mb < 200, done.peak_mb


def test_a_rule_set_past_the_hyperscan_limit_compiles_with_the_portable_scanner() -> None:
    if not fast_available():
        pytest.skip("Hyperscan is not installed here: the portable scanner is the only one")
    keys = Keys()
    for i in range(HYPERSCAN_MAX_KEYS + 1):
        keys.add(f"alias number {i}", word=True)
    assert Scanner(keys).name == "pyahocorasick"
    small = Keys()
    small.add("north korea", word=True)
    assert Scanner(small).name == "hyperscan"


def test_an_entity_of_200000_aliases_loads_and_matches(tmp_path: Path) -> None:
    aliases = "".join(f"    - alias {i} name\n" for i in range(200_000))
    write(
        tmp_path / "rules" / "big.yaml",
        f"entities:\n  big:\n{aliases}rules:\n  - id: big\n    title: Big\n    match: {{entity: big}}\n",
    )
    write(tmp_path / "docs" / "a.txt", "A\n\nwe saw alias 199999 name here\n")
    done = run_measured(
        [sys.executable, "-m", "watcher", "match", "--rules", str(tmp_path / "rules"), str(tmp_path / "docs")],
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "big [medium]" in done.stdout
    assert done.peak_mb < 1024, done.peak_mb


def test_rules_check_on_a_hostile_file_is_quick(tmp_path: Path) -> None:
    write(tmp_path / "rules" / "bad.yaml", BILLION_LAUGHS)
    proc = subprocess.run(
        [sys.executable, "-m", "watcher", "rules", "check", str(tmp_path / "rules")],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert proc.returncode == 1
