"""The dashboard's blueprint and what every one of its pages shares: headers, paging, redirects.

Every page is rendered on the server and works without JavaScript; the headers allow no script at
all. The view modules (relay/web/admin/{session,invoices,deliveries,refunds,health}.py) register
their routes on `bp`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, render_template, request

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

PAGE_SIZE = 25
# Referrer-Policy same-origin, not no-referrer: Flask-WTF checks the Referer of a form POST over
# HTTPS (WTF_CSRF_SSL_STRICT), so our own pages must send it to us; nobody else sees it.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
}


def page(template: str, code: int = 200, /, **context: Any) -> tuple[str, int, dict[str, str]]:
    """Render the dashboard template admin/`template` with HTTP status `code` and the
    dashboard's headers."""
    return render_template(f"admin/{template}", **context), code, PAGE_HEADERS


def back_to(default: str) -> str:
    """Return the form's `next` field when it is a path inside /admin, else `default`.

    Only a local path is followed, so a forged form cannot send the merchant elsewhere.
    """
    target = request.form.get("next") or request.args.get("next") or ""
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not parsed.path.startswith("/admin") or "\\" in target:
        return default
    return target


@dataclass(frozen=True)
class Paging:
    """One page of a listing: 1-based `number`, `size` rows per page, `total` rows in all."""

    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        """Return how many pages the listing has (at least 1)."""
        return max((self.total + self.size - 1) // self.size, 1)

    @property
    def offset(self) -> int:
        """Return how many rows come before this page."""
        return (self.number - 1) * self.size


def page_number() -> int:
    """Return the `?page=` argument as a page number ≥ 1 (1 when missing or not a number)."""
    raw = request.args.get("page", "1")
    return max(int(raw), 1) if raw.isdigit() else 1


def paging(total: int) -> Paging:
    """Return the requested page of a listing of `total` rows, clamped to its last page."""
    first = Paging(page_number(), PAGE_SIZE, total)
    return Paging(min(first.number, first.pages), PAGE_SIZE, total)
