"""`POST /api/v1/stores/<store>/invoices`: the custom-shop API (the `relay` platform spec).

Bearer api_token or Standard Webhooks signature in; the invoice JSON out at once (201 / 200,
idempotent per order); status changes reach the shop as Standard Webhooks events.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from devkit.devchain import Anvil, transfer_token
from relay.config import parse_settings
from relay.db import Database
from relay.signing import sign_standard_webhook, verify_standard_webhook
from tests.conftest import ADMIN_TOKEN, config_dict, database_url_for
from tests.support import invoice_of, relay_address, relay_app, relay_process, wait_for

API_TOKEN = "shop-api-token-0123456789"
SHOP_SECRET = "whsec_" + base64.b64encode(b"custom shop signing key 0123456").decode()
HOOK_SECRET = "whsec_" + base64.b64encode(b"status webhook key 0123456789ab").decode()


def relay_store(**extra: Any) -> dict[str, Any]:
    return config_dict(
        platform="relay",
        webhook_secret=SHOP_SECRET,
        api_token=API_TOKEN,
        payment_methods=["crypto"],
        **extra,
    )


@pytest.fixture
def client(db: Database) -> FlaskClient:
    data = relay_store()
    data["stores"]["plain"] = dict(data["stores"]["shop"], api_token="")
    return relay_app(parse_settings(data, env={}), db).test_client()


def order(**fields: Any) -> dict[str, Any]:
    return {
        "order_id": "A-1",
        "currency": "usd",
        "amount": "25.00",
        "order_number": "1001",
    } | fields


def bearer(token: str = API_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed(body: bytes, secret: str = SHOP_SECRET, at: int | None = None) -> dict[str, str]:
    moment = int(time.time()) if at is None else at
    return {
        "Content-Type": "application/json",
        "webhook-id": "msg_test_1",
        "webhook-timestamp": str(moment),
        "webhook-signature": sign_standard_webhook(secret, "msg_test_1", moment, body),
    }


def test_bearer_token_opens_an_invoice_once(client: FlaskClient) -> None:
    first = client.post("/api/v1/stores/shop/invoices", json=order(), headers=bearer())
    assert first.status_code == 201, first.json
    data = first.json
    assert data is not None
    assert (data["order_id"], data["amount"], data["currency"]) == ("A-1", "25.00", "USD")
    assert data["status"] == "new" and data["payment_url"] and data["options"]
    assert first.headers["Location"] == f"/api/v1/invoices/{data['id']}"
    again = client.post(
        "/api/v1/stores/shop/invoices", json=order(amount="99.00"), headers=bearer()
    )
    assert again.status_code == 200 and again.json is not None
    assert (again.json["id"], again.json["amount"]) == (data["id"], "25.00")
    page = client.get(data["payment_url"].removeprefix("http://127.0.0.1:8080"))
    assert page.status_code == 200


def test_standard_webhooks_signature_opens_an_invoice(client: FlaskClient) -> None:
    body = json.dumps(order(order_id="A-2")).encode()
    answer = client.post("/api/v1/stores/shop/invoices", data=body, headers=signed(body))
    assert answer.status_code == 201 and answer.json is not None
    assert answer.json["order_id"] == "A-2"
    wrong = client.post(
        "/api/v1/stores/shop/invoices", data=body, headers=signed(body, secret=HOOK_SECRET)
    )
    assert wrong.status_code == 401 and wrong.json is not None
    assert wrong.json["error"]["code"] == "invalid_signature"
    stale = signed(body, at=int(time.time()) - 600)
    assert client.post("/api/v1/stores/shop/invoices", data=body, headers=stale).status_code == 401


@pytest.mark.parametrize(
    ("store", "headers"),
    [
        ("shop", {}),
        ("shop", bearer("nope")),
        ("shop", {"Authorization": f"Basic {API_TOKEN}"}),
        ("plain", bearer("")),  # a store without api_token takes no bearer token at all
    ],
)
def test_missing_or_wrong_credentials_are_401(
    client: FlaskClient, store: str, headers: dict[str, str]
) -> None:
    answer = client.post(f"/api/v1/stores/{store}/invoices", json=order(), headers=headers)
    assert answer.status_code == 401 and answer.json is not None
    assert answer.json["error"]["code"] in ("unauthorized", "invalid_signature")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"not json", 400, "invalid_payload"),
        (b"[1, 2]", 400, "invalid_payload"),
        (json.dumps({"currency": "USD", "amount": "1.00"}).encode(), 400, "invalid_payload"),
        (json.dumps(order(amount="lots")).encode(), 400, "invalid_payload"),
        (json.dumps(order(amount="0.00")).encode(), 422, "invoice_error"),
        (json.dumps(order(currency="dollars")).encode(), 422, "invoice_error"),
    ],
)
def test_bad_orders_get_the_error_shape(
    client: FlaskClient, body: bytes, status: int, code: str
) -> None:
    answer = client.post("/api/v1/stores/shop/invoices", data=body, headers=bearer())
    assert answer.status_code == status and answer.json is not None
    assert answer.json["error"]["code"] == code


def test_unknown_store_is_404(client: FlaskClient) -> None:
    answer = client.post("/api/v1/stores/nope/invoices", json=order(), headers=bearer())
    assert answer.status_code == 404
    assert answer.json is not None and answer.json["error"]["code"] == "unknown_store"


def test_the_store_route_reads_its_invoices_with_their_order_key(client: FlaskClient) -> None:
    made = client.post(
        "/api/v1/stores/shop/invoices", json=order(order_key="wc_order_k3y"), headers=bearer()
    )
    assert made.status_code == 201 and made.json is not None
    invoice_id = made.json["id"]
    assert "order_key" not in made.json
    public = client.get(f"/api/v1/invoices/{invoice_id}")
    assert public.json is not None and "order_key" not in public.json
    assert b"wc_order_k3y" not in public.data
    mine = client.get(f"/api/v1/stores/shop/invoices/{invoice_id}", headers=bearer())
    assert mine.status_code == 200 and mine.json is not None
    assert mine.json["order_key"] == "wc_order_k3y" and mine.json["id"] == invoice_id
    # store first, then token, then invoice
    codes = [
        (client.get(f"/api/v1/stores/nope/invoices/{invoice_id}", headers=bearer("x")), 404),
        (client.get(f"/api/v1/stores/shop/invoices/{invoice_id}", headers=bearer("x")), 401),
        (client.get(f"/api/v1/stores/shop/invoices/{invoice_id}"), 401),
        (client.get("/api/v1/stores/shop/invoices/inv_nope", headers=bearer()), 404),
        (client.get(f"/api/v1/stores/plain/invoices/{invoice_id}", headers=bearer("")), 401),
    ]
    assert [(a.status_code, a.json["error"]["code"]) for a, _ in codes if a.json] == [
        (404, "unknown_store"),
        (401, "unauthorized"),
        (401, "unauthorized"),
        (404, "not_found"),
        (401, "unauthorized"),
    ]


def test_return_url_must_be_on_the_stores_host(client: FlaskClient) -> None:
    back = "http://127.0.0.1:9/checkout/order-received/7/?key=wc_k"
    made = client.post(
        "/api/v1/stores/shop/invoices",
        json=order(order_id="R-1", return_url=back),
        headers=bearer(),
    )
    assert made.status_code == 201 and made.json is not None
    token = made.json["payment_url"].rsplit("/", 1)[1]
    status = client.get(f"/pay/{token}/status.json")
    assert status.json is not None and status.json["order_url"] == back
    for bad in ("https://evil.example/", "ftp://127.0.0.1/x", "http://a@127.0.0.1/"):
        refused = client.post(
            "/api/v1/stores/shop/invoices",
            json=order(order_id="R-2", return_url=bad),
            headers=bearer(),
        )
        assert refused.status_code == 422 and refused.json is not None
        assert refused.json["error"]["code"] == "invoice_error"
    assert client.get(
        "/api/v1/admin/invoices",
        query_string={"order_id": "R-2"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ).json == {"invoices": []}


def test_relay_platform_webhook_takes_a_standard_webhooks_event(client: FlaskClient) -> None:
    event = {"type": "order.created", "timestamp": "2030-01-01T00:00:00Z", "data": order()}
    body = json.dumps(event).encode()
    answer = client.post("/hooks/shop", data=body, headers=signed(body))
    assert answer.status_code == 200 and answer.json is not None and answer.json["queued"]
    assert invoice_of(client, "shop", order()["order_id"])["amount"] == order()["amount"]
    other = json.dumps(dict(event, type="customer.created")).encode()
    ignored = client.post("/hooks/shop", data=other, headers=signed(other))
    assert ignored.json is not None and "topic" in ignored.json["ignored"]
    assert client.post("/hooks/shop", data=body, headers=signed(other)).status_code == 401


class Receiver:
    """The custom shop's callback endpoint: records Standard Webhooks deliveries."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_Quiet
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}/relay-events"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _wsgi(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        self.received.append((dict(request.headers), request.get_data()))
        return Response("", 204)(environ, start_response)

    def events(self) -> list[dict[str, Any]]:
        """Return the verified events received so far."""
        found = []
        for headers, body in list(self.received):
            verify_standard_webhook(
                [HOOK_SECRET],
                headers.get("Webhook-Id"),
                headers.get("Webhook-Timestamp"),
                headers.get("Webhook-Signature"),
                body,
                time.time(),
            )
            found.append(json.loads(body))
        return found

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    yield endpoint
    endpoint.close()


def test_custom_shop_end_to_end(
    chain: Anvil, usdc: str, receiver: Receiver, tmp_path: Path
) -> None:
    data = relay_store(
        rpc_url=chain.url, token=usdc, database_url=database_url_for(tmp_path), **relay_address()
    )
    # the shop's callback: a status webhook endpoint
    data["stores"]["shop"]["webhooks"] = [{"url": receiver.url, "secret": HOOK_SECRET}]
    relay = relay_process(data, tmp_path).start()
    url = relay.url
    try:
        checkout = requests.post(
            f"{url}/api/v1/stores/shop/invoices", json=order(), headers=bearer(), timeout=10
        )
        assert checkout.status_code == 201
        invoice = checkout.json()
        assert requests.get(invoice["payment_url"], timeout=5).status_code == 200
        option = next(o for o in invoice["options"] if o["asset"] == "USDC")
        tx = transfer_token(chain.w3, usdc, chain.accounts[1], option["address"], 25_000_000)
        settled = wait_for(
            "the invoice.settled callback",
            lambda: next((e for e in receiver.events() if e["type"] == "invoice.settled"), None),
        )
        assert settled["data"]["id"] == invoice["id"]
        assert settled["data"]["payments"][0]["tx_hash"] == tx
        kinds = [e["type"] for e in receiver.events()]
        assert kinds[0] == "invoice.created" and "invoice.payment_received" in kinds
        again = requests.post(
            f"{url}/api/v1/stores/shop/invoices", json=order(), headers=bearer(), timeout=10
        )
        assert again.status_code == 200 and again.json()["status"] == "settled"
    finally:
        relay.stop()
