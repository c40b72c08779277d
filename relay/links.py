"""Sign customer links: `/pay/<token>` carries a signed invoice id, `/refund/<token>` a refund id.

Different salts keep a payment token from opening a refund form and the other way round.
`return_url_problem` decides whether a link back to the store may be shown (no open redirect).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer

PAY_SALT = "relay.pay"
REFUND_SALT = "relay.refund"


def _sign(secret_key: str, salt: str, value: str) -> str:
    return URLSafeSerializer(secret_key, salt=salt).dumps(value)


def _unsign(secret_key: str, salt: str, token: str) -> str | None:
    try:
        value = URLSafeSerializer(secret_key, salt=salt).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def payment_token(secret_key: str, invoice_id: str) -> str:
    """Return the URL-safe signed token for an invoice id."""
    return _sign(secret_key, PAY_SALT, invoice_id)


def invoice_id_from_token(secret_key: str, token: str) -> str | None:
    """Return the invoice id inside a token, or None when it is tampered, foreign or malformed."""
    return _unsign(secret_key, PAY_SALT, token)


def payment_url(public_url: str, secret_key: str, invoice_id: str) -> str:
    """Return the hosted payment page's URL for an invoice."""
    return f"{public_url.rstrip('/')}/pay/{payment_token(secret_key, invoice_id)}"


def refund_token(secret_key: str, refund_id: str) -> str:
    """Return the URL-safe signed token for a refund id (the customer's address form)."""
    return _sign(secret_key, REFUND_SALT, refund_id)


def refund_id_from_token(secret_key: str, token: str) -> str | None:
    """Return the refund id inside a token, or None when it is tampered, foreign or malformed."""
    return _unsign(secret_key, REFUND_SALT, token)


def refund_url(public_url: str, secret_key: str, refund_id: str) -> str:
    """Return the URL of the form where the customer gives the refund address."""
    return f"{public_url.rstrip('/')}/refund/{refund_token(secret_key, refund_id)}"


RETURN_URL_MAX = 2000  # characters (the column's size)
_UNSAFE = re.compile(r"[\\\s\x00-\x1f\x7f]")  # browsers read "\\" as "/"; no blanks or controls


def return_url_problem(base_url: str, url: str) -> str | None:
    """Say why `url` may not be the payment page's link back to the store, or None when it may.

    It must be an absolute http(s) URL on the host of the store's `base_url` (any path or port),
    without user info, backslashes, blanks or control characters, which browsers and URL
    parsers read differently (so the relay is never an open redirect to another host).
    """
    if len(url) > RETURN_URL_MAX:
        return f"return_url is longer than {RETURN_URL_MAX} characters"
    store_host = (urlsplit(base_url).hostname or "").lower()
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "return_url is not a valid URL"
    unsafe = _UNSAFE.search(url) or "@" in parts.netloc
    if parts.scheme not in ("http", "https") or not host or unsafe:
        return "return_url must be an absolute http(s) URL"
    if host != store_host:
        return f"return_url must be on the store's own host ({store_host})"
    return None
