"""WordPress and PHP behaviour the emulated store copies: JSON, dates, amounts, `$_GET` parsing.

Each function names the WordPress/WooCommerce function it reproduces; amounts are Decimal, dates
unix seconds (the site's time zone is UTC).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeAlias
from urllib.parse import unquote_plus

WC_VERSION = "7.4.1"
WP_VERSION = "6.1.9"
HOOKSHOT_USER_AGENT = f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})"  # WH deliver()

NUMERIC_RE = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$")
"""PHP `is_numeric()` for strings."""

_WP_DATE_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?"
    r"(?:([Zz])|([+-])(\d{2})(?::(\d{2}))?)?$"
)

# A value of PHP's $_GET/$_POST: a string or a nested array (kept as an ordered dict).
PhpValue: TypeAlias = "str | dict[str, PhpValue]"


def wp_json_encode(value: Any) -> bytes:
    """Encode `value` like WordPress' `wp_json_encode()`: compact, `\\uXXXX`, `/` as `\\/` (WH).

    Returns the exact bytes a WooCommerce webhook body or REST response would carry.
    """
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    # "/" can only occur inside JSON strings, so a global replace is exact.
    return text.replace("/", "\\/").encode("ascii")


def fmt_date(ts: int | None) -> str | None:
    """Format a unix time like `wc_rest_prepare_date_response()`: ISO 8601, no zone (site = UTC)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    if isinstance(value, float):
        value = repr(value)
    try:
        result = Decimal(str(value).strip() or "0")
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return result


def money(amount: Decimal) -> str:
    """Format like `wc_format_decimal($x, 2)`: a 2-dp string, half away from zero."""
    text = str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return "0.00" if text == "-0.00" else text


def parse_wp_date(value: str) -> int | None:
    """Parse a date like `rest_parse_date()`; return unix seconds (site time zone = UTC) or None."""
    m = _WP_DATE_RE.match(value)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    tz = UTC
    if m.group(8):
        offset = timedelta(hours=int(m.group(9)), minutes=int(m.group(10) or 0))
        tz = timezone(offset if m.group(8) == "+" else -offset)
    try:
        parsed = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:
        return None
    return int(parsed.timestamp())


def coerce_time(value: Any) -> int:
    """Turn a datetime, unix number or ISO string (UTC when naive) into unix seconds."""
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        parsed = parse_wp_date(value)
        if parsed is not None:
            return parsed
    raise ValueError(f"not a date: {value!r}")


def php_empty(value: object) -> bool:
    """PHP `empty()` for request values: None, "", "0" and empty arrays are empty."""
    return value is None or value in ("", "0") or (isinstance(value, dict) and not value)


def _php_next_index(node: dict[str, PhpValue]) -> int:
    ints = [int(k) for k in node if re.fullmatch(r"-?(?:0|[1-9]\d*)", k)]
    return max(ints) + 1 if ints else 0


def _php_assign(target: dict[str, PhpValue], name: str, value: str) -> None:
    """Store one `name=value` pair the way PHP builds `$_GET` (`php_register_variable_ex`)."""
    name = name.lstrip(" ")
    segments: list[str] = []
    bracket = name.find("[")
    base = name
    if bracket != -1 and "]" in name[bracket:]:
        base, rest = name[:bracket], name[bracket:]
        while rest.startswith("["):
            end = rest.find("]")
            if end == -1:
                break
            segments.append(rest[1:end])
            rest = rest[end + 1 :]
    base = base.replace(" ", "_").replace(".", "_").replace("[", "_")
    if not base:
        return
    node = target
    path = [base, *segments]
    for depth, segment in enumerate(path):
        key = str(_php_next_index(node)) if depth > 0 and segment == "" else segment
        if depth == len(path) - 1:
            node[key] = value
        else:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child


def php_parse_str(query: str) -> dict[str, PhpValue]:
    """Parse a query string like PHP's `$_GET`: last duplicate wins, `k[]`/`k[x]` become arrays."""
    result: dict[str, PhpValue] = {}
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        _php_assign(result, unquote_plus(name), unquote_plus(value))
    return result


def wp_parse_list(value: Any) -> list[Any]:
    """`wp_parse_list()`: split a string on commas/whitespace; arrays keep their values."""
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part for part in re.split(r"[\s,]+", value) if part]
    return [value]


def wp_list_sentence(items: Iterable[str]) -> str:
    """Format a list like WordPress' `%l` (`wp_sprintf_l`): "a, b, and c"."""
    values = list(items)
    if len(values) <= 1:
        return "".join(values)
    if len(values) == 2:
        return f"{values[0]} and {values[1]}"
    return ", ".join(values[:-1]) + ", and " + values[-1]
