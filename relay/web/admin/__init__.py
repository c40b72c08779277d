"""The merchant dashboard under /admin: sign in with the admin token; invoices, deliveries,
refunds, health and the paid-value chart, rendered on the server (no JavaScript).

Modules: blueprint (the blueprint, headers, paging), session (sign-in, cookie, CSRF), throttle
(failed sign-ins), queries (database reads), chart (the SVG's layout), timeline, filters (template
filters), and a module of views per page: invoices, deliveries, refunds, health. Every string
the merchant reads goes through gettext (Flask-Babel), in the templates and in Python.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import Babel

from relay.errors import NotFound
from relay.web.admin import deliveries, filters, health, invoices, refunds, session
from relay.web.admin.blueprint import bp, page
from relay.web.admin.text import _

__all__ = ["deliveries", "filters", "health", "init_app", "invoices", "refunds"]


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound) -> Any:
    return page("error.html", 404, message=_("Not found: %(what)s", what=exc.message))


def init_app(app: Flask) -> None:
    """Register the dashboard on the app: session and CSRF set-up, gettext, the blueprint.

    Flask-Babel is set up here with its defaults (English) only when the app has not set it up
    itself, so the dashboard's gettext calls always have a catalog to ask.
    """
    if "babel" not in app.extensions:
        Babel(app)
    session.init_app(app)
    app.register_blueprint(bp)
