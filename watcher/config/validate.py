"""Validating watcher.yaml: every problem found at once, each located by file, line and key path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from watcher.config.database import Location, parse_postgres_url
from watcher.config.durations import parse_duration
from watcher.config.fields import Fields
from watcher.config.http import default_full_text, feed_url_error, full_text_setting, is_loopback, selector_setting
from watcher.config.model import Config, Daemon, Delivery, Feed, Http, SeedDir, Stories, Target
from watcher.config.secrets import all_secrets, apprise_url_error
from watcher.config.template import Template, template_error
from watcher.config.yamlfile import KeyPath

_TOP_KEYS = set("database rules seeds feeds notify http delivery server daemon stories full_text".split())


class Validator(Fields):
    """Turns one loaded watcher.yaml into a Config, recording every problem in the document."""

    def config(self) -> Config | None:
        value = self.doc.value
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.doc.problem((), "the config file is a mapping of keys (database, rules, seeds, feeds, ...)")
            return None
        for key in value:
            if key not in _TOP_KEYS:
                self.doc.problem((key,), f"unknown key '{key}' (one of {', '.join(sorted(_TOP_KEYS))})")
        database = self._database(value)
        rules = self._path(value, "rules", "rules")
        seeds = self._seeds(value.get("seeds", ["seeds"]))
        feeds = self._feeds(value.get("feeds", []))
        notify = self._notify(value.get("notify", []))
        http = self._http(value.get("http", {}))
        delivery = self._delivery(value.get("delivery", {}))
        daemon = self._daemon(value.get("server", {}), value.get("daemon", {}))
        stories = self._stories(value.get("stories", {}))
        full_text = default_full_text(self.doc, value)
        return Config(
            path=Path(self.doc.file),
            database=database,
            rules=rules,
            seeds=tuple(seeds),
            feeds=tuple(feeds),
            notify=tuple(notify),
            http=http,
            delivery=delivery,
            daemon=daemon,
            stories=stories,
            full_text=full_text,
            warnings=tuple(self.warnings),
            secrets=all_secrets(self.secrets),
        )

    def _database(self, value: dict[str, Any]) -> Location:
        """A path or sqlite:/// URL (SQLite), or a postgresql:// URL; only its password is a secret (the host
        and the database's name are what error lines must show)."""
        default = self.base / "watcher.db"
        if "database" not in value:
            return default
        known = len(self.secrets)
        text = self._text(value["database"], ("database",), "path or postgresql:// URL")
        del self.secrets[known:]
        if text is None:
            return default
        if text.startswith("sqlite:///"):
            return self.base / Path(text[len("sqlite:///") :]).expanduser()
        if "://" not in text:
            return self.base / Path(text).expanduser()
        found = parse_postgres_url(text)
        if isinstance(found, str):
            self.doc.problem(("database",), found)
            return default
        if found.password:
            self.secrets.append(found.password)
        return found

    def _path(self, value: dict[str, Any], key: str, default: str) -> Path:
        raw = value.get(key, default)
        text = self._text(raw, (key,), "path") if key in value else default
        return self.base / Path(text or default).expanduser()

    # sections -------------------------------------------------------------------------------------------

    def _seeds(self, value: Any) -> list[SeedDir]:
        out: list[SeedDir] = []
        names: list[tuple[int, str]] = []
        for i, entry in enumerate(self._list(value, "seeds")):
            path: KeyPath = ("seeds", i)
            spec = {"path": entry} if isinstance(entry, str) else entry
            if not isinstance(spec, dict):
                self.doc.problem(path, "a seed directory is a path or {path, interval, name}")
                continue
            self._keys(spec, path, {"path", "interval", "name"})
            text = self._text(spec.get("path"), (*path, "path"), "path")
            if text is None:
                continue
            directory = self.base / Path(text).expanduser()
            name = self._name(spec.get("name", directory.name), (*path, "name"))
            interval = self._duration(spec.get("interval"), (*path, "interval"), 300.0)
            out.append(SeedDir(directory, name or directory.name, interval))
            names.append((i, out[-1].name))
        self._unique(names, "seeds")
        return out

    def _feeds(self, value: Any) -> list[Feed]:
        out: list[Feed] = []
        names: list[tuple[int, str]] = []
        for i, spec in enumerate(self._list(value, "feeds")):
            path: KeyPath = ("feeds", i)
            if isinstance(spec, str):
                spec = {"url": spec}
            if not isinstance(spec, dict):
                self.doc.problem(path, "a feed is {url, name, interval}")
                continue
            self._keys(spec, path, {"url", "name", "interval", "alert_existing", "full_text", "full_text_selector"})
            url = self._text(spec.get("url"), (*path, "url"), "URL")
            if url is None:
                continue
            problem = feed_url_error(url)
            if problem:
                self.doc.problem((*path, "url"), problem)
                continue
            default_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", url.split("://", 1)[1]).strip("-.")[:60]
            name = self._name(spec.get("name", default_name), (*path, "name"))
            interval = self._duration(spec.get("interval"), (*path, "interval"), 900.0)
            alert_existing = self._bool(spec.get("alert_existing"), (*path, "alert_existing"), False)
            full_text = full_text_setting(self.doc, spec.get("full_text"), (*path, "full_text"))
            selector = selector_setting(self.doc, spec.get("full_text_selector"), (*path, "full_text_selector"))
            out.append(Feed(url, name or default_name, interval, alert_existing, full_text, selector))
            names.append((i, out[-1].name))
        self._unique(names, "feeds")
        return out

    def _notify(self, value: Any) -> list[Target]:
        out: list[Target] = []
        for i, spec in enumerate(self._list(value, "notify")):
            path: KeyPath = ("notify", i)
            if isinstance(spec, str):
                spec = {"url": spec}
            if not isinstance(spec, dict):
                self.doc.problem(path, "a notify target is {url, tags} or {config: apprise.yml}")
                continue
            if "config" in spec:
                self._keys(spec, path, {"config"})
                out.extend(self._apprise_file(spec["config"], (*path, "config")))
                continue
            self._keys(spec, path, {"url", "tags", "name", "template"})
            url = self._text(spec.get("url"), (*path, "url"), "Apprise URL")
            name = self._name(spec["name"], (*path, "name")) if "name" in spec else None
            template = self._template(spec.get("template"), (*path, "template"))
            tags_raw = spec.get("tags", [])
            if isinstance(tags_raw, str):
                tags_raw = [tags_raw]
            if not isinstance(tags_raw, list) or not all(isinstance(t, str) and t.strip() for t in tags_raw):
                self.doc.problem((*path, "tags"), "tags must be a list of names")
                tags_raw = []
            if url is not None:
                self.secrets.append(url)
                problem = apprise_url_error(url)
                if problem:
                    self.doc.problem((*path, "url"), problem)
                    continue
                out.append(Target(url, tuple(t.strip() for t in tags_raw), name, template))
        return out

    def _apprise_file(self, value: Any, path: KeyPath) -> list[Target]:
        """The targets of an Apprise configuration file (YAML or text), with the tags it gives them."""
        import apprise

        text = self._text(value, path, "path")
        if text is None:
            return []
        file = self.base / Path(text).expanduser()
        if not file.is_file():
            self.doc.problem(path, f"no such Apprise config file: {file}")
            return []
        loaded = apprise.AppriseConfig()
        loaded.add(str(file))
        servers = loaded.services()
        if not servers:
            self.doc.problem(path, f"no notification URLs in the Apprise config file {file}")
        targets = [Target(str(server.url()), tuple(sorted(server.tags))) for server in servers]
        self.secrets.extend(t.url for t in targets)
        return targets

    def _template(self, value: Any, path: KeyPath) -> Template:
        """A {title, body} template mapping, each compiled once to catch syntax errors here."""
        if value is None:
            return Template()
        if not isinstance(value, dict):
            self.doc.problem(path, "a template is {title: ..., body: ...}")
            return Template()
        self._keys(value, path, {"title", "body"})
        parts: dict[str, str | None] = {}
        for key in ("title", "body"):
            text = value.get(key)
            if text is not None and not isinstance(text, str):
                self.doc.problem((*path, key), "must be text")
                text = None
            if text is not None:
                error = template_error(text)
                if error:
                    self.doc.problem((*path, key), error)
                    text = None
            parts[key] = text
        return Template(parts["title"], parts["body"])

    def _delivery(self, value: Any) -> Delivery:
        if not isinstance(value, dict):
            self.doc.problem(("delivery",), "must be a mapping")
            return Delivery()
        self._keys(value, ("delivery",), {"max_attempts", "retry_base", "retry_max", "timeout", "flood_threshold"})
        ints = {
            key: self._whole(value, ("delivery", key), default, 1)
            for key, default in (("max_attempts", Delivery.max_attempts), ("flood_threshold", Delivery.flood_threshold))
        }
        return Delivery(
            max_attempts=ints["max_attempts"],
            retry_base=self._duration(value.get("retry_base"), ("delivery", "retry_base"), 30.0, warn_below=0),
            retry_max=self._duration(value.get("retry_max"), ("delivery", "retry_max"), 3600.0, warn_below=0),
            timeout=self._duration(value.get("timeout"), ("delivery", "timeout"), 30.0, warn_below=0),
            flood_threshold=ints["flood_threshold"],
        )

    def _http(self, value: Any) -> Http:
        if not isinstance(value, dict):
            self.doc.problem(("http",), "must be a mapping")
            return Http()
        allowed = {"timeout", "max_bytes", "allow_private_addresses", "per_host", "per_host_gap", "max_page_bytes"}
        self._keys(value, ("http",), allowed | {"full_text"})
        timeout = self._duration(value.get("timeout"), ("http", "timeout"), 30.0, warn_below=0)
        max_bytes = self._whole(value, ("http", "max_bytes"), Http.max_bytes, 1024, " of bytes")
        max_page_bytes = self._whole(value, ("http", "max_page_bytes"), Http.max_page_bytes, 1024, " of bytes")
        per_host = self._whole(value, ("http", "per_host"), Http.per_host, 1)
        gap = value.get("per_host_gap")
        per_host_gap = Http.per_host_gap
        if gap is not None:
            parsed = parse_duration(gap)
            if parsed is None:
                self.doc.problem(("http", "per_host_gap"), f"invalid duration {gap!r} (like 0.5s, 2s, or 0 for none)")
            else:
                per_host_gap = parsed
        private = self._bool(value.get("allow_private_addresses"), ("http", "allow_private_addresses"), False)
        return Http(timeout, max_bytes, private, per_host, per_host_gap, max_page_bytes)

    def _stories(self, value: Any) -> Stories:
        if not isinstance(value, dict):
            self.doc.problem(("stories",), "must be a mapping, like {window: 3d} or {enabled: false}")
            return Stories()
        self._keys(value, ("stories",), {"enabled", "window"})
        enabled = self._bool(value.get("enabled"), ("stories", "enabled"), Stories.enabled)
        window = self._duration(value.get("window"), ("stories", "window"), Stories.window, warn_below=0)
        return Stories(enabled, window)

    def _listen(self, raw: Any) -> tuple[str, int] | None:
        if raw is None:
            return None
        m = re.match(r"^\[?([^\]]*?)\]?:(\d{1,5})$", str(raw))
        # Port 0: any free port, which the daemon logs (tests, and several daemons on one host).
        if not m or not 0 <= int(m.group(2)) < 65536:
            self.doc.problem(("server", "listen"), f"expected HOST:PORT like 127.0.0.1:9090, not {raw!r}")
            return None
        return (m.group(1) or "127.0.0.1", int(m.group(2)))

    def _daemon(self, server: Any, daemon: Any) -> Daemon:
        listen, token, dashboard = None, None, True
        if not isinstance(server, dict):
            self.doc.problem(("server",), "must be a mapping")
        else:
            self._keys(server, ("server",), {"listen", "token", "dashboard"})
            listen = self._listen(server.get("listen"))
            token = self._text(server["token"], ("server", "token"), "token") if "token" in server else None
            if token is not None:
                self.secrets.append(token)
            dashboard = self._bool(server.get("dashboard"), ("server", "dashboard"), True)
            if listen and dashboard and not token and not is_loopback(listen[0]):
                self.doc.problem(
                    ("server", "listen"),
                    f"{listen[0]}:{listen[1]} is not a loopback address: the dashboard there wants server.token "
                    "(or server.dashboard: false, for /healthz and /metrics alone)",
                )
        if not isinstance(daemon, dict):
            self.doc.problem(("daemon",), "must be a mapping")
            daemon = {}
        timings = ("grace_period", "deliver_interval", "reload_debounce", "stall_timeout", "parse_timeout", "lease")
        self._keys(daemon, ("daemon",), set(timings))
        defaults = Daemon()
        return Daemon(
            listen=listen,
            dashboard=dashboard,
            token=token,
            **{
                key: self._duration(daemon.get(key), ("daemon", key), getattr(defaults, key), warn_below=0)
                for key in timings
            },
        )
