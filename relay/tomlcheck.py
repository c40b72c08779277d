"""Read typed values out of a parsed TOML document while collecting every problem by key path.

The config reader (relay/config.py) and the spec loader (relay/specs/check.py) both read with
a `Checker`: each read returns a usable value (the default, or an empty one) and records what is
wrong as (key path, message), so one pass reports every problem, not only the first. A key path
joins table keys with dots and list indices in brackets: `stores.main.accept[0]`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlparse


def join(where: str, key: str) -> str:
    """Return the key path of `key` inside the table at `where` ("" is the document)."""
    return f"{where}.{key}" if where else key


class Checker:
    """Collect (key path, message) problems while reading values out of nested tables.

    lone_strings: a list of strings may be written as one string (the config's `accept = "…"`).
    Subclasses may override `text` to transform every string read (the config's `${VAR}`).
    """

    def __init__(self, lone_strings: bool = False) -> None:
        self.problems: list[tuple[str, str]] = []
        self.lone_strings = lone_strings

    def problem(self, key: str, message: str) -> None:
        """Record one problem at a key path."""
        self.problems.append((key, message))

    def text(self, key: str, value: str) -> str:
        """Return a string value as read at `key` (here unchanged)."""
        return value

    def table(self, data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        """Return the table at `key` ({} when absent, or a problem when it is no table)."""
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.problem(join(where, key), "must be a table")
            return {}
        return value

    def unknown(self, data: Mapping[str, Any], known: Collection[str], where: str) -> None:
        """Report every key of `data` not in `known`."""
        for key in data:
            if key not in known:
                self.problem(join(where, key), "unknown key")

    def string(
        self, data: Mapping[str, Any], key: str, where: str, default: str | None = None
    ) -> str:
        """Return the string at `key`; `default` None makes it required. Bad values give the
        default ("" when required)."""
        value = data.get(key, default)
        if value is None:
            self.problem(join(where, key), "is required")
            return ""
        if not isinstance(value, str):
            self.problem(join(where, key), "must be a string")
            return default or ""
        return self.text(join(where, key), value)

    def strings(
        self,
        data: Mapping[str, Any],
        key: str,
        where: str,
        default: tuple[str, ...] | None = (),
    ) -> tuple[str, ...]:
        """Return the list of strings at `key`; `default` None makes it required."""
        value = data.get(key, default)
        if value is None:
            self.problem(join(where, key), "is required")
            return ()
        if self.lone_strings and isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            self.problem(join(where, key), "must be a list of strings")
            return ()
        return tuple(self.text(f"{join(where, key)}[{i}]", v) for i, v in enumerate(value))

    def url(self, data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
        """Return the http(s) URL at `key` without a trailing slash (see `check_url`)."""
        url = self.string(data, key, where, default).rstrip("/")
        self.check_url(join(where, key), url)
        return url

    def check_url(self, key: str, url: str) -> None:
        """Report a URL that is not an absolute http or https one ("" is left to the caller)."""
        parsed = urlparse(url)
        if url and (parsed.scheme not in ("http", "https") or not parsed.netloc):
            self.problem(key, f"must be an absolute http or https URL, got {url!r}")

    def choice(
        self,
        data: Mapping[str, Any],
        key: str,
        where: str,
        choices: tuple[str, ...],
        default: str | None = None,
    ) -> str:
        """Return the value at `key` when it is one of `choices` (else the default or the first)."""
        value = data.get(key, default)
        if value not in choices:
            shown = ", ".join(repr(c) for c in choices)
            self.problem(join(where, key), f"must be one of {shown}")
            return default or choices[0]
        return str(value)

    def integer(
        self, data: Mapping[str, Any], key: str, where: str, default: int | None, minimum: int = 0
    ) -> int:
        """Return the integer ≥ `minimum` at `key`; `default` None makes it required."""
        value = data.get(key, default)
        if value is None:
            self.problem(join(where, key), "is required")
            return minimum
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(join(where, key), "must be an integer")
            return minimum
        if value < minimum:
            self.problem(join(where, key), f"must be at least {minimum}")
            return minimum
        return value

    def number(
        self,
        data: Mapping[str, Any],
        key: str,
        where: str,
        default: float,
        allow_zero: bool = False,
    ) -> float:
        """Return the positive number (or ≥ 0 with `allow_zero`) at `key`, as a float."""
        value = data.get(key, default)
        valid = isinstance(value, int | float) and not isinstance(value, bool)
        if not valid or value < 0 or (value == 0 and not allow_zero):
            self.problem(join(where, key), f"must be a {'' if allow_zero else 'positive '}number")
            return default
        return float(value)

    def decimal(self, data: Mapping[str, Any], key: str, where: str, default: str) -> Decimal:
        """Return the finite number ≥ 0 at `key` as a Decimal (a TOML float keeps its digits)."""
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.problem(join(where, key), "must be a number")
            return Decimal(default)
        try:
            # str() of a TOML float keeps the digits the merchant wrote (0.5 → "0.5").
            result = Decimal(str(value))
        except InvalidOperation:
            self.problem(join(where, key), "must be a number")
            return Decimal(default)
        if not result.is_finite() or result < 0:
            self.problem(join(where, key), "must be a finite number ≥ 0")
            return Decimal(default)
        return result
