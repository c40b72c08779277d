"""WooCommerce signatures verify on the exact raw bytes, in constant time, with rotation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relay.errors import SignatureError
from relay.signing import hmac_sha256_base64, verify_hmac_sha256_base64


def test_protocols_check_value() -> None:
    # reference/protocols.md §1.2: secret s3cr3t over {"id":727,"status":"processing"}
    body = b'{"id":727,"status":"processing"}'
    assert hmac_sha256_base64("s3cr3t", body) == "/ZQ1DdNBQQeY1ffzSoZud+SQvSc9DJ3ep/umJ9T5f4I="


def test_real_woocommerce_delivery_verifies_byte_exact(wc_deliveries: dict[str, Any]) -> None:
    delivery = wc_deliveries["requests"][1]
    body = delivery["body"].encode("utf-8")
    signature = delivery["headers"]["X-WC-Webhook-Signature"]
    verify_hmac_sha256_base64([wc_deliveries["webhook_secret"]], body, signature)
    # the same order re-serialised (no `\/` escapes) no longer verifies: raw bytes only
    reserialised = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert reserialised != body
    with pytest.raises(SignatureError):
        verify_hmac_sha256_base64([wc_deliveries["webhook_secret"]], reserialised, signature)


def test_rotation_accepts_old_and_new_secret() -> None:
    body = b"{}"
    verify_hmac_sha256_base64(["new", "old"], body, hmac_sha256_base64("old", body))
    verify_hmac_sha256_base64(["new", "old"], body, hmac_sha256_base64("new", body))


@pytest.mark.parametrize("signature", [None, "", "bm90IGl0", "é"])
def test_missing_or_wrong_signature_raises(signature: str | None) -> None:
    with pytest.raises(SignatureError):
        verify_hmac_sha256_base64(["secret"], b"{}", signature)
