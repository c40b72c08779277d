"""Verify and make HMAC webhook signatures: pure functions over raw bytes, constant-time compares.

WooCommerce and Shopify: base64(HMAC-SHA256(key = secret as UTF-8, msg = raw body)), per
WooCommerce class-wc-webhook.php `generate_signature()` and Shopify's hmac-validator.ts.
Standard Webhooks v1 (standard-webhooks/standard-webhooks@b2fa7b87 spec/standard-webhooks.md):
`webhook-signature: v1,<base64(HMAC-SHA256(base64-decoded whsec_ secret, f"{id}.{ts}.{body}"))>`,
space-separated for rotation, timestamps within 5 minutes of now. The delivery layer signs outgoing
status webhooks with the `standardwebhooks` package; these functions verify incoming ones.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable

from relay.errors import SignatureError

STANDARD_TOLERANCE_SECONDS = 300  # the spec's libraries accept ±5 minutes


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


def _standard_key(secret: str) -> bytes | None:
    """Return the key bytes of a `whsec_…` secret (base64 after the prefix), None if unreadable."""
    text = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def sign_standard_webhook(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """Return the `webhook-signature` value `v1,<base64>` of a message (Standard Webhooks).

    `timestamp` is unix seconds as sent in `webhook-timestamp`; the body is signed byte for byte.
    """
    key = _standard_key(secret)
    if key is None:
        raise SignatureError("a Standard Webhooks secret is whsec_ followed by base64")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify_standard_webhook(
    secrets: Iterable[str],
    msg_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
) -> None:
    """Accept a Standard Webhooks message signed (v1) with any of `secrets`; else raise.

    `now` is the current unix time in seconds. raises SignatureError when a header is missing,
    the timestamp is more than 5 minutes away from `now`, or no v1 signature matches.
    """
    if not msg_id or not timestamp or not signature:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        moment = int(timestamp)
    except ValueError:
        raise SignatureError("webhook-timestamp is not unix seconds") from None
    if abs(now - moment) > STANDARD_TOLERANCE_SECONDS:
        raise SignatureError("webhook-timestamp is more than 5 minutes from now")
    given = [
        part.partition(",")[2].encode("ascii", "replace")
        for part in signature.split()
        if part.startswith("v1,")
    ]
    matched = False
    for secret in secrets:
        if _standard_key(secret) is None:
            continue
        expected = sign_standard_webhook(secret, msg_id, timestamp, body)[3:].encode("ascii")
        for candidate in given:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("webhook signature does not match")
