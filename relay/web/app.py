"""Build the Flask app: wiring only. Each blueprint lives in its own module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask

from relay.db import Database
from relay.inbox import Inbox
from relay.runtime import Runtime
from relay.settings import Settings
from relay.web import (
    admin,
    api,
    context,
    errors,
    hooks,
    inbox_api,
    languages,
    openapi,
    ops,
    pay,
    refund,
    refunds_api,
    storeapi,
)


def create_app(
    settings: Settings,
    db: Database | None = None,
    on_queued: Callable[[], None] | None = None,
    spool_dir: Path | None = None,
    runtime: Runtime | None = None,
) -> Flask:
    """Build the web app for validated settings; creates the schema if needed.

    `runtime` holds the adapters the routes use (chain clients, rates, storefront clients;
    relay/runtime.py); without one the app builds its own over `db`. `on_queued` is called after
    the webhook route queued an order in the inbox (the scheduler's `Worker.wake_inbox` when it
    runs in the same process; otherwise its job polls). With `spool_dir` (`relay serve`),
    accepted orders are spooled there before the answer and moved into the inbox by a thread
    (relay/spool.py); raises SpoolError when it is unusable.
    """
    app = Flask("relay.web")
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    database = db or Database(settings.relay.database_url)
    if db is None:
        database.create_schema()
    inbox = Inbox(database, on_queued, spool_dir)
    context.install(app, settings, database, inbox, runtime or Runtime(settings, database))
    for blueprint in (hooks, api, pay, storeapi, refund, refunds_api, inbox_api, ops, openapi):
        app.register_blueprint(blueprint.bp)
    errors.init_app(app)
    languages.init_app(app)
    admin.init_app(app)  # after languages: the dashboard's gettext uses their catalogs
    return app
