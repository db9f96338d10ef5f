"""watcher.yaml: found, loaded, validated (every problem at once, located), with built-in defaults.

Found by --config, then $WATCHER_CONFIG, then ./watcher.yaml; with none, the defaults serve: database
./watcher.db, rules ./rules, seed directory ./seeds. Relative paths are relative to the config file.
`${VAR}` (or `${VAR:-default}`) in a text value is replaced from the environment, and `${credential:NAME}`
from systemd's credentials ($CREDENTIALS_DIRECTORY/NAME), so secrets stay out of the file.

Configuration is the base every stage stands on: the model, its validation, the YAML loader with located
errors (yamlfile), durations and the message Template value. It may import only `watcher.errors`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from watcher.config.model import Config, Daemon, Delivery, Feed, Http, SeedDir, Stories, Target
from watcher.config.validate import Validator
from watcher.config.yamlfile import load_yaml
from watcher.errors import ConfigError, Problem

__all__ = [
    "Config",
    "Daemon",
    "Delivery",
    "Feed",
    "Http",
    "SeedDir",
    "Stories",
    "Target",
    "defaults",
    "find_config",
    "load_config",
]

ENV_VAR = "WATCHER_CONFIG"
DEFAULT_NAME = "watcher.yaml"


def defaults(base: Path | None = None) -> Config:
    """The built-in configuration, relative to `base` (the working directory by default)."""
    base = base or Path.cwd()
    return Config(
        path=None,
        database=base / "watcher.db",
        rules=base / "rules",
        seeds=(SeedDir(base / "seeds", "seeds"),),
    )


def find_config(explicit: str | Path | None, env: Mapping[str, str] | None = None) -> Path | None:
    """--config, then $WATCHER_CONFIG, then ./watcher.yaml; None when there is none (defaults serve)."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR])
    local = Path.cwd() / DEFAULT_NAME
    return local if local.is_file() else None


def load_config(explicit: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Find and load the configuration; raise ConfigError listing every problem."""
    env = os.environ if env is None else env
    path = find_config(explicit, env)
    if path is None:
        return defaults()
    if not path.is_file():
        raise ConfigError([Problem(str(path), None, "", "no such config file")])
    doc = load_yaml(path)
    config = Validator(doc, path.resolve().parent, env).config()
    if doc.problems or config is None:
        raise ConfigError(doc.problems)
    return config
