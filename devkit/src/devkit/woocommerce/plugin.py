"""The relay-payments plugin's status callback as the emulated store serves it: `/?wc-api=relay`.

A stand-in for integrations/woocommerce/relay-payments/includes/class-relay-payments-callback.php,
kept to what the relay can observe: the body is only a hint (its `data.id`, which must match
`[A-Za-z0-9_-]{1,64}`), the invoice is re-read from the relay's store route with the store's
token (`GET {relay_url}/api/v1/stores/<store>/invoices/<id>`), and it is taken only when it is
this store's and names an order of the store. Answers as the plugin does: 405 for another method,
400 for an unreadable body, 200 `{"result": "ignored"}` when the relay does not know the invoice
for this store (404 `not_found`), 503 when the re-read fails otherwise (unreachable relay, wrong
token, unknown store), else 200 `{"result": "unchanged"}`. The stand-in never moves the order:
the status mapping is the PHP plugin's (integrations/woocommerce/tests, PHPUnit).

Without the plugin, WooCommerce's `WC_API::handle_api_requests()` answers `/?wc-api=relay` with
400 and the body `-1` (no action hooked on `woocommerce_api_relay`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

import requests

INVOICE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class RelayPlugin:
    """The plugin's settings (`relay_url`, `store`, `api_token`) and its callback log.

    `callbacks`: one dict per callback request, in order: `method`, `headers`, `body` (bytes),
    `type` (the event's, or None), `invoice_id` (or None), `status` (the answer's HTTP status),
    `result` ("ignored", "unchanged" or None on an error) and `invoice` (the re-read invoice JSON,
    or None) with `reread_status` (the relay's answer to the re-read, None without one).
    """

    def __init__(
        self, relay_url: str, store: str, api_token: str, has_order: Callable[[str], bool]
    ) -> None:
        self.relay_url = relay_url.rstrip("/")
        self.store = store
        self.api_token = api_token
        self.callbacks: list[dict[str, Any]] = []
        self._has_order = has_order
        self._lock = threading.Lock()

    def handle(self, method: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        """Serve one callback request; return (HTTP status, JSON answer)."""
        record: dict[str, Any] = {
            "method": method,
            "headers": headers,
            "body": body,
            "type": None,
            "invoice_id": None,
            "result": None,
            "invoice": None,
            "reread_status": None,
        }
        status, answer = self._answer(method, body, record)
        record["status"] = status
        with self._lock:
            self.callbacks.append(record)
        return status, answer

    def _answer(self, method: str, body: bytes, record: dict[str, Any]) -> tuple[int, Any]:
        if method != "POST":
            return _error(405, "method_not_allowed", "POST the invoice event")
        try:
            event = json.loads(body)
        except ValueError:
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
            return _error(400, "invalid_payload", 'expected {"type", "timestamp", "data"}')
        record["type"] = event.get("type")
        invoice_id = event["data"].get("id")
        if not isinstance(invoice_id, str) or not INVOICE_ID.match(invoice_id):
            return _error(400, "invalid_payload", "data.id must be the relay's invoice id")
        record["invoice_id"] = invoice_id
        url = f"{self.relay_url}/api/v1/stores/{self.store}/invoices/{invoice_id}"
        try:
            answer = requests.get(
                url, headers={"Authorization": f"Bearer {self.api_token}"}, timeout=10
            )
        except requests.RequestException:
            return _error(503, "relay_unavailable", "the invoice could not be re-read")
        record["reread_status"] = answer.status_code
        code = _error_code(answer)
        if answer.status_code == 404 and code == "not_found":
            record["result"] = "ignored"
            return 200, {"result": "ignored", "reason": "the relay does not know this invoice"}
        if answer.status_code != 200:
            return _error(503, "relay_unavailable", "the invoice could not be re-read")
        invoice = answer.json()
        record["invoice"] = invoice
        mine = invoice.get("id") == invoice_id and invoice.get("store") == self.store
        if not mine or not self._has_order(str(invoice.get("order_id", ""))):
            record["result"] = "ignored"
            return 200, {"result": "ignored", "reason": "not this store's order"}
        record["result"] = "unchanged"
        return 200, {"result": "unchanged", "invoice_status": invoice.get("status")}


def _error_code(answer: requests.Response) -> str:
    try:
        data = answer.json()
    except ValueError:
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def _error(status: int, code: str, message: str) -> tuple[int, Any]:
    return status, {"error": {"code": code, "message": message}}
