"""Hold every string of the payment page, in English and German, and pick one by Accept-Language.

Strings are `str.format` templates with named fields; the page escapes them when it renders, so
none may carry markup. To add a language, add a table with every key of `STRINGS["en"]` (a test
checks that each table has the same keys and fields).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from decimal import Decimal

from werkzeug.datastructures import LanguageAccept

DEFAULT_LANGUAGE = "en"

STRINGS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "language_name": "English",
        "page_title": "Pay order {order}",
        "order": "Order {order}",
        "total": "Total",
        "pay_with": "Pay with",
        "option": "{asset} on {chain}",
        "amount": "Amount",
        "address": "Address",
        "network": "Network",
        "token_contract": "Token contract",
        "send_exactly": "Send exactly this amount to this address.",
        "network_warning": (
            "Send only {asset} on {chain}. Other coins or networks sent to this address may be "
            "lost."
        ),
        "copy": "Copy",
        "copy_amount": "Copy amount",
        "copy_address": "Copy address",
        "copied": "Copied",
        "open_wallet": "Open in wallet",
        "qr_title": "QR code: pay {amount} {asset} on {chain}",
        "scan": "Scan with your wallet app",
        "time_left": "Time left",
        "pay_by": "Pay by {time} UTC",
        "step_waiting": "Waiting",
        "step_seen": "Payment seen",
        "step_confirming": "Confirming",
        "step_paid": "Paid",
        "step_done": "done",
        "confirmations": "{n} of {total} confirmations",
        "confirmations_finality": "{n} confirmations; waiting for the network to finalize",
        "headline_waiting": "Waiting for your payment",
        "headline_partial": "Partly paid",
        "headline_confirming": "Payment received: confirming",
        "headline_paid": "Paid. Thank you!",
        "headline_expired": "This invoice has expired",
        "headline_invalid": "The payment could not be confirmed",
        "waiting_text": "Choose how to pay, then send the exact amount before the time runs out.",
        "partial_text": (
            "We received {paid} of {due}. Send the remaining {remaining} to the same address."
        ),
        "confirming_text": (
            "Your payment is on the chain and is being confirmed. This page updates by itself; "
            "you may also close it."
        ),
        "paid_text": "Your payment of {paid} is confirmed. The store has been notified.",
        "paid_over_text": (
            "You sent {paid}, more than the {due} due. Contact the store about the difference."
        ),
        "paid_late_text": (
            "Your payment arrived after the invoice had expired; it has been accepted all the same."
        ),
        "expired_text": (
            "The time to pay has run out. Please do not send a payment to this invoice now."
        ),
        "expired_watch": (
            "If you have already sent your payment, keep this page open: it is still being "
            "watched until {time} UTC and the page will update."
        ),
        "expired_partial_text": (
            "We received {paid} of {due} before the invoice expired. Contact the store to "
            "complete the order or to get your money back."
        ),
        "invalid_text": (
            "A payment was seen but not confirmed in time. Contact the store and mention "
            "order {order}."
        ),
        "other_asset_text": (
            "We also received {amount} {asset}, which this invoice no longer accepts. Contact the "
            "store to get it back."
        ),
        "payments": "Payments",
        "payment_row": "{amount} {asset}, confirmations: {confirmations}",
        "transaction": "Transaction",
        "view_order": "View your order",
        "back_to_store": "Back to the store",
        "noscript": "This page does not update by itself without JavaScript: reload it to see "
        "the current status.",
        "language": "Language",
        "non_custodial": "Your payment goes straight to the store's own wallet.",
        "not_found_title": "Payment link not valid",
        "not_found_text": (
            "This payment link is not valid. Check the link in your order email, or contact the "
            "store."
        ),
    },
    "de": {
        "language_name": "Deutsch",
        "page_title": "Bestellung {order} bezahlen",
        "order": "Bestellung {order}",
        "total": "Gesamtbetrag",
        "pay_with": "Bezahlen mit",
        "option": "{asset} auf {chain}",
        "amount": "Betrag",
        "address": "Adresse",
        "network": "Netzwerk",
        "token_contract": "Token-Vertrag",
        "send_exactly": "Senden Sie genau diesen Betrag an diese Adresse.",
        "network_warning": (
            "Senden Sie nur {asset} im Netzwerk {chain}. Andere Coins oder Netzwerke können an "
            "dieser Adresse verloren gehen."
        ),
        "copy": "Kopieren",
        "copy_amount": "Betrag kopieren",
        "copy_address": "Adresse kopieren",
        "copied": "Kopiert",
        "open_wallet": "In Wallet öffnen",
        "qr_title": "QR-Code: {amount} {asset} auf {chain} bezahlen",
        "scan": "Mit Ihrer Wallet-App scannen",
        "time_left": "Verbleibende Zeit",
        "pay_by": "Zahlbar bis {time} UTC",
        "step_waiting": "Warten",
        "step_seen": "Zahlung erkannt",
        "step_confirming": "Bestätigung",
        "step_paid": "Bezahlt",
        "step_done": "erledigt",
        "confirmations": "{n} von {total} Bestätigungen",
        "confirmations_finality": "{n} Bestätigungen; warten auf Finalität des Netzwerks",
        "headline_waiting": "Wir warten auf Ihre Zahlung",
        "headline_partial": "Teilweise bezahlt",
        "headline_confirming": "Zahlung erhalten: wird bestätigt",
        "headline_paid": "Bezahlt. Vielen Dank!",
        "headline_expired": "Diese Rechnung ist abgelaufen",
        "headline_invalid": "Die Zahlung konnte nicht bestätigt werden",
        "waiting_text": (
            "Wählen Sie, wie Sie bezahlen möchten, und senden Sie den genauen Betrag, bevor die "
            "Zeit abläuft."
        ),
        "partial_text": (
            "Wir haben {paid} von {due} erhalten. Senden Sie die restlichen {remaining} an "
            "dieselbe Adresse."
        ),
        "confirming_text": (
            "Ihre Zahlung ist in der Blockchain und wird bestätigt. Diese Seite aktualisiert sich "
            "selbst; Sie können sie auch schließen."
        ),
        "paid_text": "Ihre Zahlung von {paid} ist bestätigt. Der Shop wurde benachrichtigt.",
        "paid_over_text": (
            "Sie haben {paid} gesendet, mehr als die fälligen {due}. Wenden Sie sich wegen der "
            "Differenz an den Shop."
        ),
        "paid_late_text": (
            "Ihre Zahlung kam nach Ablauf der Rechnung an; sie wurde trotzdem angenommen."
        ),
        "expired_text": (
            "Die Zahlungsfrist ist abgelaufen. Bitte senden Sie jetzt keine Zahlung mehr an diese "
            "Rechnung."
        ),
        "expired_watch": (
            "Falls Sie bereits bezahlt haben, lassen Sie diese Seite geöffnet: Wir beobachten die "
            "Adresse noch bis {time} UTC, und die Seite aktualisiert sich."
        ),
        "expired_partial_text": (
            "Wir haben vor Ablauf der Rechnung {paid} von {due} erhalten. Wenden Sie sich an den "
            "Shop, um die Bestellung abzuschließen oder Ihr Geld zurückzuerhalten."
        ),
        "invalid_text": (
            "Eine Zahlung wurde erkannt, aber nicht rechtzeitig bestätigt. Wenden Sie sich unter "
            "Angabe der Bestellung {order} an den Shop."
        ),
        "other_asset_text": (
            "Wir haben außerdem {amount} {asset} erhalten, die diese Rechnung nicht mehr annimmt. "
            "Wenden Sie sich an den Shop, um sie zurückzuerhalten."
        ),
        "payments": "Zahlungen",
        "payment_row": "{amount} {asset}, Bestätigungen: {confirmations}",
        "transaction": "Transaktion",
        "view_order": "Zu Ihrer Bestellung",
        "back_to_store": "Zurück zum Shop",
        "noscript": "Ohne JavaScript aktualisiert sich diese Seite nicht selbst: Laden Sie sie "
        "neu, um den aktuellen Stand zu sehen.",
        "language": "Sprache",
        "non_custodial": "Ihre Zahlung geht direkt an die eigene Wallet des Shops.",
        "not_found_title": "Zahlungslink ungültig",
        "not_found_text": (
            "Dieser Zahlungslink ist ungültig. Prüfen Sie den Link in Ihrer Bestell-E-Mail oder "
            "wenden Sie sich an den Shop."
        ),
    },
}

LANGUAGES = tuple(STRINGS)
# (group separator, decimal point) for fiat amounts
_SEPARATORS = {"en": (",", "."), "de": (".", ",")}


def choose_language(accept: LanguageAccept, override: str | None = None) -> str:
    """Return the best supported language for a request's Accept-Language (RFC 9110 §12.5.4).

    `override` (the page's `?lang=`) wins when supported; `de-AT` matches `de`; else English.
    """
    if override is not None and override in STRINGS:
        return override
    best: str = accept.best_match(LANGUAGES, default=DEFAULT_LANGUAGE) or DEFAULT_LANGUAGE
    return best


class Translator:
    """Look up and fill the strings of one language: `t("order", order="42")`."""

    def __init__(self, language: str) -> None:
        self.language = language if language in STRINGS else DEFAULT_LANGUAGE
        self.strings = STRINGS[self.language]

    def __call__(self, key: str, **fields: object) -> str:
        """Return the string `key` with its `{fields}` filled in; raise KeyError if unknown."""
        return self.strings[key].format(**fields)

    def fiat(self, amount: Decimal, currency: str) -> str:
        """Write a fiat amount with this language's separators: `1,234.50 USD` / `1.234,50 USD`."""
        group, point = _SEPARATORS.get(self.language, _SEPARATORS[DEFAULT_LANGUAGE])
        digits = f"{amount:,f}".replace(",", "\0").replace(".", point).replace("\0", group)
        return f"{digits} {currency}"


def fields_of(template: str) -> set[str]:
    """Return the names of the `{fields}` a string template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def countdown(seconds: float) -> str:
    """Write seconds left as `m:ss`, or `h:mm:ss` from an hour on; never negative."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
