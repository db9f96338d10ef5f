from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write
from watcher.config import find_config, load_config
from watcher.config.database import PostgresUrl, parse_postgres_url
from watcher.config.durations import parse_duration
from watcher.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("2d", 172800), (90, 90), (1.5, 1.5), ("45", 45)],
)
def test_parse_duration(value, seconds) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "fast", "15x", -5, True, None, "m"])
def test_parse_duration_rejects(value) -> None:
    assert parse_duration(value) is None


def test_defaults_when_no_config(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None, env={})
    assert config.path is None
    assert config.database == tmp_path / "watcher.db"
    assert config.rules == tmp_path / "rules"
    assert [s.path for s in config.seeds] == [tmp_path / "seeds"]


def test_discovery_order(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    local = write(tmp_path / "watcher.yaml", "database: local.db\n")
    envfile = write(tmp_path / "env.yaml", "database: env.db\n")
    explicit = write(tmp_path / "explicit.yaml", "database: explicit.db\n")
    assert find_config(explicit, env={"WATCHER_CONFIG": str(envfile)}) == explicit
    assert find_config(None, env={"WATCHER_CONFIG": str(envfile)}) == envfile
    assert find_config(None, env={}) == local


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = write(
        tmp_path / "etc" / "watcher.yaml", "database: data/w.db\nrules: r\nseeds: [docs, {path: /abs, interval: 10m}]\n"
    )
    config = load_config(cfg, env={})
    assert config.database == tmp_path / "etc" / "data" / "w.db"
    assert config.rules == tmp_path / "etc" / "r"
    assert [(s.path, s.interval) for s in config.seeds] == [(tmp_path / "etc" / "docs", 300.0), (Path("/abs"), 600.0)]


def test_environment_variables_are_substituted(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "w.yaml",
        """
        notify:
          - url: "mailto://${SMTP_USER}:${SMTP_PASS}@example.org"
            tags: [analysts]
          - url: "json://${HOOK_HOST:-localhost}/hook"
        """,
    )
    config = load_config(cfg, env={"SMTP_USER": "ann", "SMTP_PASS": "s3cret"})
    assert [t.url for t in config.notify] == ["mailto://ann:s3cret@example.org", "json://localhost/hook"]
    assert config.notify[0].tags == ("analysts",)


def test_feeds_and_http(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "w.yaml",
        """
        feeds:
          - {url: "https://example.org/feed.xml", name: example, interval: 30m, alert_existing: true}
          - url: "http://other.example/rss"
        http: {timeout: 10s, max_bytes: 2048, allow_private_addresses: true}
        """,
    )
    config = load_config(cfg, env={})
    assert [(f.name, f.interval, f.alert_existing) for f in config.feeds] == [
        ("example", 1800.0, True),
        ("other.example-rss", 900.0, False),
    ]
    assert (config.http.timeout, config.http.max_bytes, config.http.allow_private_addresses) == (10.0, 2048, True)


def test_short_interval_is_allowed_with_a_warning(tmp_path: Path) -> None:
    cfg = write(tmp_path / "w.yaml", "feeds:\n  - {url: 'http://x.example/f', interval: 2s}\n")
    config = load_config(cfg, env={})
    assert config.feeds[0].interval == 2.0
    assert any("under 60s" in w for w in config.warnings)


def test_every_problem_is_listed_with_file_line_and_key(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "w.yaml",
        """
        databse: x.db
        feeds:
          - url: "ftp://example.org/feed"
          - url: "https://example.org/a"
            interval: soon
          - {url: "https://example.org/b", name: dup}
          - {url: "https://example.org/c", name: dup}
        notify:
          - url: "json://${MISSING_SECRET}@host"
        http:
          max_bytes: lots
          allow_private_addresses: "yes"
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})
    messages = [str(p) for p in info.value.problems]
    expected = [
        "w.yaml:1 databse: unknown key 'databse'",
        "w.yaml:3 feeds[0].url: only http and https URLs can be polled",
        "w.yaml:5 feeds[1].interval: invalid duration 'soon'",
        "feeds[3].name: duplicate name 'dup'",
        "w.yaml:9 notify[0].url: environment variable MISSING_SECRET is not set",
        "w.yaml:11 http.max_bytes: must be a whole number of bytes",
        "w.yaml:12 http.allow_private_addresses: must be true or false",
    ]
    for text in expected:
        assert any(text in m for m in messages), (text, messages)
    assert len(messages) == len(expected)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml", env={})


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    cfg = write(tmp_path / "w.yaml", "feeds: [\n")
    with pytest.raises(ConfigError, match=r"w.yaml:2: YAML syntax error"):
        load_config(cfg, env={})


def test_systemd_credentials_are_substituted(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "notify-url").write_text("json://hooks.example/abc\n")
    cfg = write(
        tmp_path / "w.yaml", "notify:\n  - url: '${credential:notify-url}'\n  - url: '${credential:nope:-json://x/y}'\n"
    )
    config = load_config(cfg, env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert [t.url for t in config.notify] == ["json://hooks.example/abc", "json://x/y"]
    with pytest.raises(ConfigError, match=r"notify\[0\].url: credential notify-url"):
        load_config(cfg, env={})


def test_sample_deploy_config_is_valid() -> None:
    from tests.conftest import ROOT

    config = load_config(ROOT / "deploy" / "watcher.yaml", env={})
    assert config.daemon.listen == ("127.0.0.1", 9090)
    assert config.database.name == "watcher.db"


def test_targets_from_an_apprise_config_file(tmp_path: Path) -> None:
    write(
        tmp_path / "apprise.yml",
        """
        urls:
          - json://127.0.0.1:8080/hook:
              tag: analysts, ops
          - json://127.0.0.1:8081/other
        """,
    )
    cfg = write(tmp_path / "w.yaml", "notify:\n  - config: apprise.yml\n  - url: json://127.0.0.1:9/x\n")
    targets = load_config(cfg, env={}).notify
    assert [(t.url.split("?")[0], t.tags) for t in targets] == [
        ("json://127.0.0.1:8080/hook", ("analysts", "ops")),
        ("json://127.0.0.1:8081/other", ()),
        ("json://127.0.0.1:9/x", ()),
    ]
    bad = write(tmp_path / "bad.yaml", "notify:\n  - config: missing.yml\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:2 notify\[0\].config: no such Apprise config file"):
        load_config(bad, env={})


@pytest.mark.parametrize(
    ("url", "shown", "where"),
    [
        (
            "postgresql://w:s3cret@db.example.org/watcher",
            "postgresql://w@db.example.org:5432/watcher",
            "database watcher on db.example.org:5432",
        ),
        ("postgres://w@[::1]:6432/watcher", "postgresql://w@[::1]:6432/watcher", "database watcher on [::1]:6432"),
        (
            "postgresql:///watcher?host=/run/postgresql&user=w&password=s3cret",
            "postgresql://w@/watcher?host=/run/postgresql",
            "database watcher on the socket in /run/postgresql",
        ),
    ],
)
def test_a_postgresql_url_is_shown_without_its_password(url: str, shown: str, where: str) -> None:
    found = parse_postgres_url(url)
    assert isinstance(found, PostgresUrl)
    assert (str(found), found.where) == (shown, where)
    assert "s3cret" not in repr(found) and found.url == url
    assert found.password == ("s3cret" if "s3cret" in url else None)


@pytest.mark.parametrize("url", ["postgresql:///watcher", "postgresql://h:99999/w", "postgresql://h:5432/"])
def test_a_postgresql_url_missing_its_host_or_database_says_which(url: str) -> None:
    found = parse_postgres_url(url)
    assert isinstance(found, str) and "postgresql://user@host:5432/dbname" in found
