"""The merchant dashboard under /admin: sign in with the admin token; invoices, deliveries,
refunds, health and the paid-value chart, rendered on the server (no JavaScript).

Modules: blueprint (the blueprint, headers, paging), session (sign-in, cookie, CSRF), throttle
(failed sign-ins), queries (database reads), chart (the SVG's layout), timeline, filters (template
filters), and a module of views per page: invoices, deliveries, refunds, health. Every string
the merchant reads goes through gettext (relay/web/languages.py, domain `admin`: babel-admin.cfg),
in the templates and in Python.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request, url_for

from relay.errors import NotFound
from relay.web import languages
from relay.web.admin import deliveries, filters, health, invoices, refunds, session
from relay.web.admin.blueprint import bp, page
from relay.web.languages import gettext as _

LANGUAGES = ("en", "de")  # the dashboard's catalogs: relay/web/translations/de/LC_MESSAGES/admin.po

__all__ = ["deliveries", "filters", "health", "init_app", "invoices", "refunds"]


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound) -> Any:
    return page("error.html", 404, message=_("There is no such invoice, delivery or refund."))


@bp.context_processor
def _language_links() -> dict[str, Any]:
    """Give every page the language switcher: this page in each language (GET pages only)."""
    if request.method != "GET" or request.endpoint is None:
        return {"languages": []}
    endpoint, view_args = request.endpoint, request.view_args or {}

    def here(tag: str) -> str:
        values: dict[str, Any] = {**view_args, **request.args.to_dict(), "lang": tag}
        return url_for(endpoint, **values)

    return {"languages": languages.language_links(here)}


def init_app(app: Flask) -> None:
    """Register the dashboard on the app (after relay/web/languages.py's `init_app`): session and
    CSRF set-up, the blueprint, and its languages (English and German, domain `admin`)."""
    languages.offer(app, bp.name, LANGUAGES)
    session.init_app(app)
    app.register_blueprint(bp)
