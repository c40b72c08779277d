"""The dashboard in English and German: its `admin` catalog is complete against the sources
(babel-admin.cfg) and its pages speak the language the browser asks for."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from flask import Flask

from relay.db import Database
from relay.web import languages
from relay.web.admin import LANGUAGES
from relay.web.app import create_app
from tests.conftest import make_settings
from tests.support import admin_client

ROOT = Path(__file__).resolve().parents[1]
CATALOG = Path(languages.TRANSLATIONS) / "de" / "LC_MESSAGES" / "admin.po"


def test_the_german_catalog_has_every_dashboard_text(tmp_path: Path) -> None:
    pot = tmp_path / "admin.pot"
    CommandLineInterface().run(  # type: ignore[no-untyped-call]
        ["pybabel", "-q", "extract", "-F", str(ROOT / "babel-admin.cfg"), "-o", str(pot), str(ROOT)]
    )
    with pot.open("rb") as f:
        wanted: Catalog = read_po(f)
    with CATALOG.open("rb") as f:
        german: Catalog = read_po(f)
    ids = {m.id for m in wanted if m.id}
    assert len(ids) > 150
    assert {m.id for m in german if m.id} == ids, "run `make translations` and translate"
    assert all(m.string for m in german if m.id)
    assert LANGUAGES == ("en", "de")


@pytest.fixture
def app(db: Database) -> Flask:
    return create_app(make_settings(rpc_url="http://127.0.0.1:9"), db)


def test_the_dashboard_speaks_german_when_asked(app: Flask) -> None:
    german = {"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"}
    form = app.test_client().get("/admin/sign-in", headers=german).text
    assert '<html lang="de">' in form
    assert '<label for="token">Admin-Token</label>' in form and ">Anmelden</button>" in form
    client = admin_client(app)
    page = client.get("/admin/invoices", headers=german).text
    for text in ("<h1>Rechnungen</h1>", ">Zustellungen</a>", ">Erstattungen</a>", ">Zustand</a>"):
        assert text in page, text
    assert ">Einsammeln</a>" in page and ">Abmelden</button>" in page
    # the switcher's link, and a language the dashboard does not offer falls back to English
    assert 'href="/admin/invoices?lang=de" lang="de"' in page
    assert "<h1>Rechnungen</h1>" in client.get("/admin/invoices?lang=de").text
    french = client.get("/admin/invoices", headers={"Accept-Language": "fr"}).text
    assert '<html lang="en">' in french and "<h1>Invoices</h1>" in french
