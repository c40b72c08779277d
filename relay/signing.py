"""Verify and make HMAC webhook signatures: pure functions over raw bytes, constant-time compares.

WooCommerce and Shopify: base64(HMAC-SHA256(key = secret as UTF-8, msg = raw body)), per
WooCommerce class-wc-webhook.php `generate_signature()` and Shopify's hmac-validator.ts.
Standard Webhooks signing is done by the `standardwebhooks` package in the delivery layer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from relay.errors import SignatureError


def hmac_sha256_base64(secret: str, body: bytes) -> str:
    """Return base64(HMAC-SHA256(secret UTF-8, body)) as WooCommerce and Shopify send it."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_hmac_sha256_base64(secrets: Iterable[str], body: bytes, signature: str | None) -> None:
    """Accept `signature` if it matches `body` under any of `secrets` (rotation); else raise.

    raises SignatureError when the signature is missing or matches none of the secrets.
    """
    if not signature:
        raise SignatureError("missing webhook signature")
    given = signature.strip().encode("ascii", "replace")
    matched = False
    for secret in secrets:
        expected = hmac_sha256_base64(secret, body).encode("ascii")
        # compare against every secret so the time taken does not tell which one matched
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise SignatureError("webhook signature does not match")
