"""Speak the customer's language: gettext catalogs through Flask-Babel, one locale per request.

Catalogs live in relay/web/translations/<locale>/LC_MESSAGES/: `messages` for the customer pages
(the payment and refund pages, in every language of `LANGUAGES`) and `admin` for the merchant
dashboard (in the languages a blueprint offers through `offer`). English is the source language:
its text is the msgids themselves, so it has no catalog. The compiled `.mo` files are committed
beside their `.po` files and shipped as package data, so a clone and a wheel need no build step;
tests/test_languages.py checks that they match. To change a text: edit the template, then
`make translations` (extract, update every catalog, compile), translate what it left empty.

The locale of a request (`select_locale`): `?lang=<tag>` when the page offers that language (the
language switcher's links), else the best match of Accept-Language (RFC 9110 §12.5.4; `de-AT` →
`de`, `pt-PT` → `pt_BR`, `zh-CN` → `zh_Hans`, Traditional Chinese tags match nothing), else English.
Amounts are formatted by Babel for that locale from Decimals, exactly: never rounded to the
currency's digits, never through a float.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from importlib.resources import files

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal
from flask import Flask, current_app, request
from flask_babel import Babel, get_locale
from flask_babel import gettext as babel_gettext

# Locale identifiers (Babel's form: pt_BR, zh_Hans); English first, the default.
LANGUAGES = ("en", "de", "fr", "es", "pt_BR", "zh_Hans")
DEFAULT_LANGUAGE = "en"
DOMAINS = ("messages", "admin")
TRANSLATIONS = str(files("relay.web") / "translations")
_OFFERS = "relay.languages"  # app.extensions: blueprint name → the languages it offers
# Tags whose script is Traditional Chinese: our Simplified catalog is not for them.
_TRADITIONAL = frozenset({"hant", "tw", "hk", "mo"})


def init_app(app: Flask) -> None:
    """Set up Flask-Babel on `app` with both domains; templates get `_`, `gettext`, `ngettext`."""
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(TRANSLATIONS for _ in DOMAINS)
    app.config["BABEL_DOMAIN"] = ";".join(DOMAINS)
    app.extensions.setdefault(_OFFERS, {})
    Babel(app, locale_selector=select_locale, default_timezone="UTC")
    app.jinja_env.globals["html_lang"] = html_lang


def offer(app: Flask, blueprint: str, languages: Iterable[str]) -> None:
    """Make the pages of `blueprint` speak only `languages` (default: every one of LANGUAGES)."""
    app.extensions.setdefault(_OFFERS, {})[blueprint] = tuple(languages)


def offered() -> tuple[str, ...]:
    """Return the languages the current request's page offers."""
    offers: dict[str, tuple[str, ...]] = current_app.extensions[_OFFERS]
    return offers.get(request.blueprint or "", LANGUAGES)


def tag(language: str) -> str:
    """Return the BCP 47 tag of a locale identifier: `pt_BR` → `pt-BR`, `zh_Hans` → `zh-Hans`."""
    return language.replace("_", "-")


def match(range_: str, languages: Iterable[str]) -> str | None:
    """Return the language of `languages` a language range (`de-AT`, `zh-CN`, `pt`) asks for."""
    parts = range_.strip().lower().replace("_", "-").split("-")
    exact = {lang.lower().replace("_", "-"): lang for lang in languages}
    if "-".join(parts) in exact:
        return exact["-".join(parts)]
    if parts[0] == "zh":  # Chinese matches by script, never by the language alone
        return exact.get("zh-hans") if _TRADITIONAL.isdisjoint(parts[1:]) else None
    return next((lang for key, lang in exact.items() if key.split("-")[0] == parts[0]), None)


def select_locale() -> str:
    """Return the request's locale: `?lang=` if offered, else Accept-Language, else English."""
    chosen = chosen_language()
    if chosen:
        return chosen
    for range_, _quality in request.accept_languages:  # already sorted best first
        if range_ != "*" and (found := match(range_, offered())):
            return found
    return DEFAULT_LANGUAGE


def chosen_language() -> str | None:
    """Return the language the request's `?lang=<BCP 47 tag>` names, when the page offers it."""
    chosen = request.args.get("lang", "")
    found = match(chosen, offered()) if chosen else None
    return found if found and tag(found).lower() == chosen.lower() else None


def gettext(message: str, **fields: object) -> str:
    """Return `message` in the request's language, its `%(name)s` fields filled from `fields`."""
    return str(babel_gettext(message, **fields))


def current() -> str:
    """Return the request's locale identifier (`de`, `pt_BR`)."""
    return str(get_locale() or DEFAULT_LANGUAGE)


def html_lang() -> str:
    """Return the BCP 47 tag for `<html lang>` of the current request."""
    return tag(current())


def language_links(url_for_language: Callable[[str], str]) -> list[dict[str, str | bool]]:
    """Return the switcher's links: `{"tag", "name" (in its own language), "href", "current"}`."""
    now = current()
    return [
        {
            "tag": tag(language),
            "name": _autonym(language),
            "href": url_for_language(tag(language)),
            "current": language == now,
        }
        for language in offered()
    ]


def _autonym(language: str) -> str:
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


def fiat(amount: Decimal, currency: str) -> str:
    """Write a fiat amount for the locale: `$1,234.50`, `1.234,50 $`; exact, never rounded."""
    return format_currency(amount, currency, locale=current(), decimal_quantization=False)


def number(amount: Decimal | int) -> str:
    """Write a number for the locale with all its digits: `1,234.5`, `1.234,5`, `0,000001`."""
    return format_decimal(amount, locale=current(), decimal_quantization=False)


def moment(when: datetime) -> str:
    """Write a time to the minute in UTC for the locale: `Jan 31, 2025, 2:05 PM`."""
    utc = when if when.tzinfo else when.replace(tzinfo=UTC)
    locale = Locale.parse(current())
    pattern = str(locale.datetime_formats["medium"])
    time = format_time(utc, "short", tzinfo=UTC, locale=locale)
    return pattern.replace("{1}", format_date(utc, "medium", locale=locale)).replace("{0}", time)
