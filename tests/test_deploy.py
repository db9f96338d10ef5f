"""The deployment files' contracts. The container itself is built and run by deploy/test-container.sh (CI runs
it where podman installs); the unit is checked here with systemd-analyze."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from watcher.config import load_config
from watcher.errors import ConfigError

DEPLOY = ROOT / "deploy"


def test_container_config_is_valid_and_lives_in_data(tmp_path: Path) -> None:
    containerfile = (DEPLOY / "Containerfile").read_text()
    # Apply the image's own edit of the sample config, as its RUN line does.
    sed = re.search(r"sed -i((?:\s+(?:\\\n\s*)?-e '[^']+')+)", containerfile)
    assert sed is not None
    text = (DEPLOY / "watcher.yaml").read_text()
    for expr in re.findall(r"-e '([^']+)'", sed.group(1)):
        sep = expr[1]
        _, old, new, _ = expr.split(sep)
        text = text.replace(old, new)
    (tmp_path / "watcher.yaml").write_text(text)
    config = load_config(tmp_path / "watcher.yaml", env={"WATCHER_TOKEN": "t0ken"})
    assert config.database == Path("/data/watcher.db")
    assert config.daemon.listen == ("0.0.0.0", 9090)  # noqa: S104 - inside the container, for its HEALTHCHECK
    assert config.daemon.token == "t0ken"  # noqa: S105 - the dashboard off loopback wants it
    with pytest.raises(ConfigError, match="WATCHER_TOKEN is not set"):
        load_config(tmp_path / "watcher.yaml", env={})


def test_containerfile_is_non_root_with_one_volume_healthcheck_and_sigterm() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    assert re.search(r"^USER 10001$", text, re.M)
    assert re.findall(r"^VOLUME (.+)$", text, re.M) == ["/data"]
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", text, re.M)
    assert re.search(r"^STOPSIGNAL SIGTERM$", text, re.M)


def test_compose_runs_read_only_with_tmp_and_the_data_volume() -> None:
    service = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["watcher"]
    assert service["read_only"] is True
    assert "/tmp" in service["tmpfs"]
    assert "watcher-data:/data" in service["volumes"]


UNIT = DEPLOY / "watcher.service"
INSTALLED_UNIT = Path("/etc/systemd/system/watcher.service")
needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


@needs_systemd_analyze
@pytest.mark.skipif(
    not INSTALLED_UNIT.exists() or not Path("/usr/local/bin/watcher").exists(),
    reason="watcher is not installed as a service here (deploy/install.sh, which CI runs as root, installs it)",
)
def test_the_unit_verifies_as_installed_by_the_documented_steps() -> None:
    # Installed as shipped, by the steps docs/operations.md gives (deploy/install.sh).
    assert INSTALLED_UNIT.read_text() == UNIT.read_text()
    result = subprocess.run(
        ["systemd-analyze", "verify", str(INSTALLED_UNIT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    credential = Path("/etc/watcher/credentials/notify-url")
    assert credential.exists() and credential.stat().st_mode & 0o077 == 0
    documentation = re.search(r"^Documentation=file://(\S+)$", UNIT.read_text(), re.M)
    assert documentation is not None and Path(documentation.group(1)).exists()


def test_the_documented_install_is_the_install_script() -> None:
    docs = (ROOT / "docs" / "operations.md").read_text()
    script = (DEPLOY / "install.sh").read_text()
    assert "sudo deploy/install.sh" in docs
    for step in ("/opt/watcher", "/usr/local/bin/watcher", "/etc/watcher/credentials/notify-url", "0600"):
        assert step in script and step in docs, step


@needs_systemd_analyze
def test_the_unit_exposure_is_at_most_1_5(tmp_path: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(UNIT)], capture_output=True, text=True, check=False
    )
    found = re.search(r"Overall exposure level for watcher.service: (\d+\.\d+)", result.stdout + result.stderr)
    assert found is not None, result.stdout + result.stderr
    assert float(found.group(1)) <= 1.5, result.stdout


def test_the_unit_checks_first_bounds_files_and_loads_its_credential() -> None:
    unit = UNIT.read_text()
    assert re.search(r"^ExecStartPre=/usr/local/bin/watcher check ", unit, re.M)
    assert re.search(r"^LimitNOFILE=\d+$", unit, re.M)
    assert re.search(r"^LoadCredential=notify-url:/etc/watcher/credentials/notify-url$", unit, re.M)
    for option in ("ProtectProc=invisible", "ProcSubset=pid", "PrivateUsers=yes", "MemoryDenyWriteExecute=yes"):
        assert re.search(rf"^{re.escape(option)}$", unit, re.M), option
    assert re.search(r"^IPAddressDeny=any$", unit, re.M)


def test_the_build_context_leaves_out_what_is_not_the_project() -> None:
    for name in (".containerignore", ".dockerignore"):
        lines = (ROOT / name).read_text().splitlines()
        assert "*" in lines and "!watcher/" in lines and "**/*.db" in lines, name


def test_the_containerfile_takes_a_base_and_a_ca_bundle_for_pip() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    assert re.search(r"^ARG BASE=docker.io/library/python:3.11-slim$", text, re.M)
    assert re.search(r"^FROM \$\{BASE\}$", text, re.M)
    assert re.search(r"^ARG PIP_CERT=$", text, re.M)
