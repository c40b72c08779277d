"""Reach the relay's parts from a request: its settings, database, inbox, and a store by name.

`create_app` (relay/web/app.py) puts them on `app.extensions` with `install`; blueprints read them
here, so no blueprint imports the factory.
"""

from __future__ import annotations

from flask import Flask

from relay.config import Settings, StoreSettings
from relay.db import Database
from relay.errors import NotFound
from relay.inbox import Inbox

SETTINGS = "relay.settings"
DB = "relay.db"
INBOX = "relay.inbox"


def install(app: Flask, settings: Settings, db: Database, inbox: Inbox) -> None:
    """Put the parts every request may need on the app."""
    app.extensions[SETTINGS] = settings
    app.extensions[DB] = db
    app.extensions[INBOX] = inbox


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


def store_of(app: Flask, name: str) -> StoreSettings:
    """Return the named store's settings; raise NotFound (404) when there is none."""
    store = settings_of(app).stores.get(name)
    if store is None:
        raise NotFound(f"no store named {name!r}")
    return store
