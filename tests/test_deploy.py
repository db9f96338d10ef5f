"""The deployment files' contracts (no container engine runs here; systemd-analyze runs in test_daemon)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.conftest import ROOT
from watcher.config import load_config

DEPLOY = ROOT / "deploy"


def test_container_config_is_valid_and_lives_in_data(tmp_path: Path) -> None:
    containerfile = (DEPLOY / "Containerfile").read_text()
    # Apply the image's own edit of the sample config, as its RUN line does.
    sed = re.search(r"sed -i -e '([^']+)' -e '([^']+)'", containerfile)
    assert sed is not None
    text = (DEPLOY / "watcher.yaml").read_text()
    for expr in sed.groups():
        sep = expr[1]
        _, old, new, _ = expr.split(sep)
        text = text.replace(old, new)
    (tmp_path / "watcher.yaml").write_text(text)
    config = load_config(tmp_path / "watcher.yaml", env={})
    assert config.database == Path("/data/watcher.db")
    assert config.daemon.listen == ("0.0.0.0", 9090)  # noqa: S104 - inside the container, for its HEALTHCHECK


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
