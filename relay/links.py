"""Sign payment links: the token in `/pay/<token>` is an itsdangerous-signed invoice id."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

PAY_SALT = "relay.pay"


def payment_token(secret_key: str, invoice_id: str) -> str:
    """Return the URL-safe signed token for an invoice id."""
    return URLSafeSerializer(secret_key, salt=PAY_SALT).dumps(invoice_id)


def invoice_id_from_token(secret_key: str, token: str) -> str | None:
    """Return the invoice id inside a token, or None when it is tampered, foreign or malformed."""
    try:
        value = URLSafeSerializer(secret_key, salt=PAY_SALT).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def payment_url(public_url: str, secret_key: str, invoice_id: str) -> str:
    """Return the hosted payment page's URL for an invoice."""
    return f"{public_url.rstrip('/')}/pay/{payment_token(secret_key, invoice_id)}"
