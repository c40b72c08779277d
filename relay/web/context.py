"""Reach the relay's parts from a request: settings, database, inbox, runtime, a store by name.

`create_app` (relay/web/app.py) puts them on `app.extensions` with `install`; blueprints read them
here, so no blueprint imports the factory.
"""

from __future__ import annotations

from flask import Flask

from relay.db import Database
from relay.errors import UnknownStore
from relay.inbox import Inbox
from relay.runtime import Runtime
from relay.settings import Settings, StoreSettings

SETTINGS = "relay.settings"
DB = "relay.db"
INBOX = "relay.inbox"
RUNTIME = "relay.runtime"


def install(app: Flask, settings: Settings, db: Database, inbox: Inbox, runtime: Runtime) -> None:
    """Put the parts every request may need on the app."""
    app.extensions[SETTINGS] = settings
    app.extensions[DB] = db
    app.extensions[INBOX] = inbox
    app.extensions[RUNTIME] = runtime


def settings_of(app: Flask) -> Settings:
    """Return the app's settings."""
    settings: Settings = app.extensions[SETTINGS]
    return settings


def db_of(app: Flask) -> Database:
    """Return the app's database."""
    database: Database = app.extensions[DB]
    return database


def inbox_of(app: Flask) -> Inbox:
    """Return the app's inbox (where the webhook route queues orders)."""
    inbox: Inbox = app.extensions[INBOX]
    return inbox


def runtime_of(app: Flask) -> Runtime:
    """Return the app's runtime (relay/runtime.py): chain clients, rates, storefront clients."""
    runtime: Runtime = app.extensions[RUNTIME]
    return runtime


def store_of(app: Flask, name: str) -> StoreSettings:
    """Return the named store's settings; raise UnknownStore (404, code `unknown_store`) when
    there is none."""
    store = settings_of(app).stores.get(name)
    if store is None:
        raise UnknownStore(f"no store named {name!r}")
    return store
