"""The package keeps the shape of its data flow: import-linter's contracts in pyproject.toml hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_layout_stages_import_downwards_without_cycles() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_layout_every_package_says_what_it_holds() -> None:
    for init in sorted((ROOT / "watcher").glob("*/__init__.py")):
        text = init.read_text()
        assert text.startswith('"""') and "import" in text.split('"""')[1], f"{init}: no docstring on imports"
