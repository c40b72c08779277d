"""Fill a spec's text and body templates: `{name}` placeholders, `{{` and `}}` for braces."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z_]+)\}")  # group 1: a placeholder's name
_ESCAPES = {"{{": "{", "}}": "}"}


def placeholders(template: str) -> list[str]:
    """Return the placeholder names a text template uses, in order."""
    return [m.group(1) for m in PLACEHOLDER.finditer(template) if m.group(1) is not None]


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill `{name}` placeholders from `values`; `{{` and `}}` stand for literal braces."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return _ESCAPES[match.group(0)]
        return values.get(name, match.group(0))

    return PLACEHOLDER.sub(fill, template)


def render_tree(template: Any, values: Mapping[str, str]) -> Any:
    """Render every string (table keys included) of a JSON-like template; keep other values."""
    if isinstance(template, str):
        return render(template, values)
    if isinstance(template, Mapping):
        return {render(str(k), values): render_tree(v, values) for k, v in template.items()}
    if isinstance(template, list | tuple):
        return [render_tree(v, values) for v in template]
    return template


def merge_bodies(left: Any, right: Any) -> Any:
    """Merge two JSON bodies: tables key by key, arrays end to end, otherwise `right` wins."""
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        merged = dict(left)
        for key, value in right.items():
            merged[key] = merge_bodies(merged[key], value) if key in merged else value
        return merged
    if isinstance(left, list) and isinstance(right, list):
        return [*left, *right]
    return right if right is not None else left
