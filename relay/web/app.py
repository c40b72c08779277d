"""Build the Flask app: wiring only. Each blueprint lives in its own module."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from relay.config import Settings, StoreSettings
from relay.db import Database
from relay.errors import NotFound, RelayError
from relay.inbox import Inbox
from relay.runtime import Runtime

log = logging.getLogger(__name__)


def error_body(code: str, message: str) -> dict[str, Any]:
    """Return the relay's error shape `{"error": {"code", "message"}}`."""
    return {"error": {"code": code, "message": message}}


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
    runs in the same process; otherwise its job polls). With
    `spool_dir` (`relay serve`), accepted orders are spooled there before the answer and moved
    into the inbox by a thread (relay/spool.py); raises SpoolError when it is unusable.
    """
    from relay.web import api, hooks, ops, pay, refund, refunds_api, storeapi

    app = Flask("relay.web")
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    database = db or Database(settings.relay.database_url)
    if db is None:
        database.create_schema()
    app.extensions["relay.settings"] = settings
    app.extensions["relay.db"] = database
    app.extensions["relay.runtime"] = runtime or Runtime(settings, database)
    app.extensions["relay.inbox"] = Inbox(database, on_queued, spool_dir)
    app.register_blueprint(hooks.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pay.bp)
    app.register_blueprint(storeapi.bp)
    app.register_blueprint(refund.bp)
    app.register_blueprint(refunds_api.bp)
    app.register_blueprint(ops.bp)

    @app.errorhandler(RelayError)
    def _relay_error(exc: RelayError) -> Any:
        return jsonify(error_body(exc.code, exc.message)), exc.http_status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        code = (exc.name or "error").lower().replace(" ", "_")
        return jsonify(error_body(code, exc.description or "")), exc.code or 500

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled error")
        return jsonify(error_body("internal_error", "internal error; see the relay's log")), 500

    return app


def store_of(app: Flask, name: str) -> StoreSettings:
    """Return the named store's settings; raise NotFound (404) when there is none."""
    store = settings_of(app).stores.get(name)
    if store is None:
        raise NotFound(f"no store named {name!r}")
    return store


def settings_of(app: Flask) -> Settings:
    """Return the app's settings."""
    settings: Settings = app.extensions["relay.settings"]
    return settings


def db_of(app: Flask) -> Database:
    """Return the app's database."""
    database: Database = app.extensions["relay.db"]
    return database


def inbox_of(app: Flask) -> Inbox:
    """Return the app's inbox (where the webhook route queues orders)."""
    inbox: Inbox = app.extensions["relay.inbox"]
    return inbox


def runtime_of(app: Flask) -> Runtime:
    """Return the app's runtime: its chain clients, rates and storefront clients."""
    runtime: Runtime = app.extensions["relay.runtime"]
    return runtime
