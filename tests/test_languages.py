"""The customer pages' languages: complete catalogs, compiled as committed, every page in each.

The catalogs are checked against a fresh `pybabel extract` of the sources (babel.cfg), so a text
added to a template without `make translations` fails here, as does an empty, fuzzy or mistyped
translation (its `%(fields)s` and its HTML tags must be the English ones) or a stale `.mo`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from sqlalchemy import select

from relay.db import Database
from relay.links import payment_token, refund_token
from relay.models import Invoice, Refund, utcnow
from relay.records import RefundRequest
from relay.refunds import request_refunds
from relay.settings import Settings
from relay.web import languages
from relay.web.app import create_app
from tests.conftest import SECRET_KEY
from tests.test_pay import USDC, confirm, open_order, pay, settings  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = Path(languages.TRANSLATIONS)
TRANSLATED = [lang for lang in languages.LANGUAGES if lang != languages.DEFAULT_LANGUAGE]
FIELD = re.compile(r"%\((\w+)\)s")
TAG = re.compile(r"</?\w+>")


def po_files() -> list[Path]:
    return sorted(TRANSLATIONS.glob("*/LC_MESSAGES/*.po"))


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def forms(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if isinstance(value, tuple | list):
        return list(value)
    return [value or ""]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """Return the `messages` template as `make translations` would extract it now."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    CommandLineInterface().run(  # type: ignore[no-untyped-call]
        ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-o", str(pot), str(ROOT)]
    )
    return read_catalog(pot)


def test_every_language_has_a_complete_catalog_of_every_text(extracted: Catalog) -> None:
    wanted = {m.id for m in extracted if m.id}
    assert len(wanted) > 50
    for language in TRANSLATED:
        path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
        assert path.exists(), f"{language}: run `make translations` and translate its catalog"
        catalog = read_catalog(path)
        assert not catalog.fuzzy, path
        messages = [m for m in catalog if m.id]
        assert {m.id for m in messages} == wanted, f"{language}: run `make translations`"
        for message in messages:
            english = forms(message.id)
            translated = forms(message.string)
            where = (language, english[0])
            assert "fuzzy" not in message.flags, where
            assert len(translated) == catalog.num_plurals if message.pluralizable else 1, where
            assert all(t.strip() for t in translated), where
            for text in translated:  # the same fields (a plural may leave out %(num)s) and tags
                assert set(FIELD.findall(text)) - {"num"} == set(FIELD.findall(english[-1])) - {
                    "num"
                }, where
                assert sorted(TAG.findall(text)) == sorted(TAG.findall(english[0])), where


@pytest.mark.parametrize("path", po_files(), ids=lambda p: str(p.relative_to(TRANSLATIONS)))
def test_every_catalog_is_complete_and_its_committed_mo_matches(path: Path) -> None:
    catalog = read_catalog(path)
    assert not catalog.fuzzy and not any("fuzzy" in m.flags for m in catalog if m.id), path
    assert all(all(forms(m.string)) for m in catalog if m.id), f"{path}: untranslated entries"
    with path.with_suffix(".mo").open("rb") as f:
        compiled = read_mo(f)
    expected = {tuple(forms(m.id)): forms(m.string) for m in catalog if m.id}
    found = {tuple(forms(m.id)): forms(m.string) for m in compiled if m.id}
    assert found == expected, f"{path}: compile it again with `make translations`"


@pytest.fixture
def client(settings: Settings, db: Database) -> FlaskClient:  # noqa: F811
    return create_app(settings, db).test_client()


class Texts(HTMLParser):
    """Every text node and every human-read attribute of a page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            human = name in ("aria-label", "title", "data-copied", "data-label")
            if value and (human or name.startswith("data-text-")):
                self.texts.append(value)

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.texts.append(" ".join(data.split()))


def english_texts(language: str) -> set[str]:
    """Return the English texts (without fields) whose translation differs in `language`."""
    catalog = read_catalog(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po")
    return {
        m.id
        for m in catalog
        if isinstance(m.id, str) and m.id and m.id != m.string and not FIELD.search(m.id)
    }


def customer_pages(client: FlaskClient, db: Database, settings: Settings) -> Iterator[str]:  # noqa: F811
    """Yield the path of every customer page in every state."""
    waiting = open_order(db, settings)
    partial = open_order(db, settings)
    pay(db, settings, partial, 20 * USDC)
    confirming = open_order(db, settings)
    pay(db, settings, confirming, 44_980_000, confirmations=1)
    paid = open_order(db, settings)
    pay(db, settings, paid, 50 * USDC, confirmations=2)  # paid over
    expired = open_order(db, settings, minutes_ago=40)
    invalid = open_order(db, settings, minutes_ago=120)
    pay(db, settings, invalid, 44_980_000, confirmations=1, minutes_ago=110)
    confirm_later = open_order(db, settings, minutes_ago=120)
    pay(db, settings, confirm_later, 20 * USDC, confirmations=5, minutes_ago=110)
    confirm(db, settings, confirm_later, utcnow())
    for invoice in (waiting, partial, confirming, paid, expired, invalid, confirm_later):
        yield f"/pay/{payment_token(SECRET_KEY, invoice.id)}"
    yield "/pay/not-a-token"
    for status in ("awaiting_address", "awaiting_payment", "confirming", "refunded", "cancelled"):
        yield f"/refund/{refund_token(SECRET_KEY, refund_in(db, settings, paid, status))}"
    yield "/refund/not-a-token"


def refund_in(db: Database, settings: Settings, invoice: Invoice, status: str) -> str:  # noqa: F811
    """Open a refund of `invoice` and put it in `status` as the refund watcher would."""
    ((refund, _),) = request_refunds(
        db, settings, "shop", invoice.order_id, [RefundRequest(status, Decimal("5"))], utcnow()
    )
    with db.transaction() as session:
        stored = session.scalars(select(Refund).where(Refund.id == refund.id)).one()
        stored.status = status
        if status != "awaiting_address":
            stored.to_address = "0x" + "ab" * 20
        if status in ("confirming", "refunded"):
            stored.tx_hash = "0x" + "cd" * 32
    return refund.id


@pytest.mark.parametrize("language", languages.LANGUAGES)
def test_every_customer_page_renders_in_every_language(
    client: FlaskClient,
    db: Database,
    settings: Settings,  # noqa: F811
    language: str,
) -> None:
    tag = languages.tag(language)
    leftovers = english_texts(language) if language in TRANSLATED else set()
    for path in customer_pages(client, db, settings):
        answer = client.get(path, headers={"Accept-Language": f"{tag};q=0.9, en;q=0.1"})
        assert answer.status_code in (200, 404), path
        html = answer.get_data(as_text=True)
        assert f'<html lang="{tag}">' in html, (path, language)
        untranslated = set(Texts(html).texts) & leftovers
        assert not untranslated, (path, language, untranslated)
        if answer.status_code == 200:  # the switcher offers every language, this one current
            links = re.findall(r'<a href="([^"]+)" lang="([^"]+)" hreflang="[^"]+"([^>]*)>', html)
            assert [lang for _, lang, _ in links] == [languages.tag(x) for x in languages.LANGUAGES]
            assert [lang for _, lang, rest in links if "aria-current" in rest] == [tag]
            assert all(href.endswith(f"lang={lang}") for href, lang, _ in links)
    # a refusal on the refund form is said in the page's language too
    refund_id = refund_in(db, settings, open_paid(db, settings), "awaiting_address")
    token = refund_token(SECRET_KEY, refund_id)
    refused = client.post(
        f"/refund/{token}?lang={tag}", data={"address": "0x1234"}, headers={"Accept-Language": "en"}
    )
    assert refused.status_code == 422 and f'<html lang="{tag}">' in refused.get_data(as_text=True)
    english = "This is not an Ethereum address"
    assert (english in refused.get_data(as_text=True)) == (language == "en")


def open_paid(db: Database, settings: Settings) -> Invoice:  # noqa: F811
    invoice = open_order(db, settings)
    pay(db, settings, invoice, 44_980_000, confirmations=2)
    return invoice


def test_the_locale_is_negotiated_from_accept_language(
    client: FlaskClient,
    db: Database,
    settings: Settings,  # noqa: F811
) -> None:
    path = f"/pay/{payment_token(SECRET_KEY, open_order(db, settings).id)}"
    cases = {
        "de-CH, en;q=0.5": "de",
        "es-MX": "es",
        "pt-PT, en;q=0.1": "pt-BR",  # the nearest Portuguese we have
        "zh-CN": "zh-Hans",
        "zh-Hans-SG": "zh-Hans",
        "zh-TW, fr;q=0.5": "fr",  # Traditional Chinese: not our Simplified catalog
        "nl, fr-CA;q=0.8, de;q=0.9": "de",  # by quality, not by order
        "ja": "en",
        "*": "en",
    }
    for header, tag in cases.items():
        html = client.get(path, headers={"Accept-Language": header}).get_data(as_text=True)
        assert f'<html lang="{tag}">' in html, header
    # ?lang= wins, when it names a language of ours; else Accept-Language decides
    assert '<html lang="zh-Hans">' in client.get(f"{path}?lang=zh-Hans").get_data(as_text=True)
    unknown = client.get(f"{path}?lang=xx", headers={"Accept-Language": "es"})
    assert '<html lang="es">' in unknown.get_data(as_text=True)


def test_amounts_and_times_are_written_for_the_locale_exactly(
    client: FlaskClient,
    db: Database,
    settings: Settings,  # noqa: F811
) -> None:
    invoice = open_order(db, settings, total="1234.567")  # more digits than USD has: all kept
    path = f"/pay/{payment_token(SECRET_KEY, invoice.id)}"
    totals = {"en": "$1,234.567", "de": "1.234,567 $", "zh-Hans": "US$1,234.567"}
    for tag, total in totals.items():
        html = client.get(f"{path}?lang={tag}").get_data(as_text=True)
        shown = re.search(r'<p class="total">.*?<strong>(.*?)</strong>', html, re.S)
        assert shown and " ".join(shown.group(1).split()) == total, tag
        # the amount to send stays as wallets take it, in every language
        assert re.search(r"<span data-amount>1234.567</span>", html), tag
    german = client.get(f"{path}?lang=de").get_data(as_text=True)
    expires = invoice.expires_at
    assert f"Zahlbar bis {expires.day:02d}.{expires.month:02d}.{expires.year}, " in german
