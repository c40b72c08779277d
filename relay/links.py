"""Sign customer links: `/pay/<token>` carries a signed invoice id, `/refund/<token>` a refund id.

Different salts keep a payment token from opening a refund form and the other way round.
"""

from __future__ import annotations

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
