"""The WordPress REST API's request side: handler context, `WP_Error` answers, argument checks.

A handler takes a `Ctx` and returns a `Result` (status, JSON payload, extra headers) or raises
`RestError`; `Args` validates request arguments as `WP_REST_Request::has_valid_params()` does
(IDOC "Errors"), collecting every problem before answering 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from devkit.woocommerce.wordpress import NUMERIC_RE, parse_wp_date, wp_list_sentence, wp_parse_list


@dataclass
class Ctx:
    """One REST request: method, route groups, merged parameters (query < form < JSON), whether
    its credentials were accepted, and the raw query pairs (for pagination links)."""

    method: str
    route: dict[str, str]
    params: dict[str, Any]
    authed: bool
    query: list[tuple[str, str]]


Result: TypeAlias = "tuple[int, Any, list[tuple[str, str]]]"


Handler: TypeAlias = "Callable[[Ctx], Result]"
Route: TypeAlias = "tuple[re.Pattern[str], dict[str, Handler]]"
"""A route pattern (matched against the path after /wp-json) and its handler per HTTP method."""


class RestError(Exception):
    """A WP_Error returned by a REST handler."""

    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "data": {"status": self.status, **self.data},
        }


def denied(code: str, message: str) -> RestError:
    """The 401 a REST permission check answers when the request carries no accepted key."""
    return RestError(401, code, message)


class Args:
    """Validate request arguments the way `WP_REST_Request::has_valid_params()` does (IDOC)."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.errors: dict[str, tuple[str, str]] = {}
        self.missing: list[str] = []

    def present(self, name: str) -> bool:
        return self.params.get(name) is not None

    def fail(self, name: str, code: str, message: str) -> None:
        self.errors.setdefault(name, (code, message))

    def require(self, *names: str) -> None:
        self.missing.extend(n for n in names if not self.present(n))

    def _type_error(self, name: str, type_name: str) -> None:
        self.fail(name, "rest_invalid_type", f"{name} is not of type {type_name}.")

    def integer(
        self,
        name: str,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        if not self.present(name):
            return default
        value = self.params[name]
        number: float
        if isinstance(value, bool | dict | list):
            self._type_error(name, "integer")
            return default
        if isinstance(value, int | float) or (isinstance(value, str) and NUMERIC_RE.match(value)):
            number = float(value)
        else:
            self._type_error(name, "integer")
            return default
        if round(number) != number:
            self._type_error(name, "integer")
            return default
        result = int(number)
        if minimum is not None and maximum is not None and not minimum <= result <= maximum:
            self.fail(
                name,
                "rest_out_of_bounds",
                f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)",
            )
        elif minimum is not None and maximum is None and result < minimum:
            self.fail(
                name, "rest_out_of_bounds", f"{name} must be greater than or equal to {minimum}"
            )
        return result

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        if not self.present(name):
            return default
        value = self.params[name]
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in ("", "0", "false", "1", "true"):
            return value.lower() in ("1", "true")
        self._type_error(name, "boolean")
        return default

    def string(self, name: str, default: str | None = None) -> str | None:
        if not self.present(name):
            return default
        value = self.params[name]
        if not isinstance(value, str):
            self._type_error(name, "string")
            return default
        return value

    def enum(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.string(name)
        if value is None:
            return default
        if value not in choices:
            self.fail(
                name, "rest_not_in_enum", f"{name} is not one of {wp_list_sentence(choices)}."
            )
            return default
        return value

    def enum_list(self, name: str, choices: tuple[str, ...], default: list[str]) -> list[str]:
        if not self.present(name):
            return list(default)
        result: list[str] = []
        for index, item in enumerate(wp_parse_list(self.params[name])):
            label = f"{name}[{index}]"
            if not isinstance(item, str):
                self.fail(name, "rest_invalid_type", f"{label} is not of type string.")
            elif item not in choices:
                message = f"{label} is not one of {wp_list_sentence(choices)}."
                self.fail(name, "rest_not_in_enum", message)
            else:
                result.append(item)
        return result

    def int_list(self, name: str) -> list[int]:
        if not self.present(name):
            return []
        result: list[int] = []
        for index, item in enumerate(wp_parse_list(self.params[name])):
            text = str(item) if isinstance(item, int | str) and not isinstance(item, bool) else ""
            if not re.fullmatch(r"\s*\d+\s*", text):
                self.fail(name, "rest_invalid_type", f"{name}[{index}] is not of type integer.")
            else:
                result.append(int(text))
        return result

    def date(self, name: str) -> int | None:
        value = self.string(name)
        if value is None:
            return None
        parsed = parse_wp_date(value)
        if parsed is None:
            self.fail(name, "rest_invalid_date", "Invalid date.")
        return parsed

    def check(self) -> None:
        """Raise the WordPress 400 error for missing or invalid arguments, if any."""
        if self.missing:
            raise RestError(
                400,
                "rest_missing_callback_param",
                f"Missing parameter(s): {', '.join(self.missing)}",
                params=list(self.missing),
            )
        if self.errors:
            raise RestError(
                400,
                "rest_invalid_param",
                f"Invalid parameter(s): {', '.join(self.errors)}",
                params={name: message for name, (_, message) in self.errors.items()},
                details={
                    name: {"code": code, "message": message, "data": None}
                    for name, (code, message) in self.errors.items()
                },
            )
