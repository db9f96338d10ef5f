"""What the network settings accept: feed URLs, listen addresses, `full_text` modes and article CSS selectors."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from watcher.config.yamlfile import KeyPath, Located

_MODES: dict[Any, str] = {
    True: "on",
    False: "off",
    "true": "on",
    "false": "off",
    "on": "on",
    "off": "off",
    "auto": "auto",
}


def feed_url_error(url: str) -> str | None:
    """Why `url` cannot be polled (not http(s), no host, not a URL httpx can request), or None."""
    import httpx

    if not re.match(r"^https?://[^/\s]+", url, re.IGNORECASE):
        return f"only http and https URLs can be polled: {url!r}"
    try:
        parsed = httpx.URL(url)
        _ = urlsplit(url).port
    except (httpx.InvalidURL, ValueError) as e:
        return f"not a valid URL: {url!r} ({e})"
    if not parsed.host:
        return f"no host in {url!r}"
    return None


def is_loopback(host: str) -> bool:
    """Whether a listen address only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def full_text_mode(value: Any) -> str | None:
    """ "on", "off" or "auto" from what a user wrote (true, false, auto, on, off); None when it is none of them."""
    if isinstance(value, str):
        value = value.strip().lower()
    try:
        return _MODES.get(value)
    except TypeError:  # a list or a mapping
        return None


def selector_error(selector: str) -> str | None:
    """Why a CSS selector cannot be used, or None."""
    from cssselect import GenericTranslator, SelectorError

    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError as e:
        return f"not a CSS selector: {selector!r} ({e})"
    return None


def full_text_setting(doc: Located, value: Any, path: KeyPath) -> str | None:
    """A `full_text:` value as "on", "off" or "auto" (None when not given); a located problem when invalid."""
    if value is None:
        return None
    mode = full_text_mode(value)
    if mode is None:
        doc.problem(path, f"must be true, false or auto, not {value!r}")
    return mode


def default_full_text(doc: Located, value: dict[str, Any]) -> str:
    """The feeds' default: top-level `full_text:` or `http.full_text`, not both."""
    http = value.get("http")
    nested = http.get("full_text") if isinstance(http, dict) else None
    if "full_text" in value and nested is not None:
        doc.problem(("full_text",), "say it once: here or as http.full_text, not both")
    if nested is not None:
        return full_text_setting(doc, nested, ("http", "full_text")) or "off"
    return full_text_setting(doc, value.get("full_text"), ("full_text",)) or "off"


def selector_setting(doc: Located, value: Any, path: KeyPath) -> str | None:
    """A feed's `full_text_selector`, checked as CSS; a located problem when it is not one."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        doc.problem(path, "must be a CSS selector, like 'article .body'")
        return None
    problem = selector_error(value)
    if problem:
        doc.problem(path, problem)
    return value.strip()
