"""A platform that exists only as a TOML file: a made-up shop runs the whole flow with no code.

"Bazaar" has its own field names and status words, sends thin unsigned webhooks (so the relay
re-reads each order from its API: `none-refetch`), authenticates with a bearer token, moves orders
through a transitions endpoint and keeps comments. Its REST API is the small emulator below; the
relay runs as a real process; the customer pays on anvil.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from devkit.devchain import Anvil, send_eth
from relay.config import parse_settings
from relay.http import HttpClient
from relay.inbound import read_order
from relay.settings import StoreSettings
from relay.specs import clear_spec_cache, load_spec
from relay.storefront import StorefrontClient
from tests.conftest import config_dict, database_url_for
from tests.support import relay_address, relay_process, wait_for

TOKEN = "bz_live_token_123"
SPEC = """
[platform]
name = "bazaar"
title = "Bazaar (made up for the tests)"

[inbound]
verification = "none-refetch"           # {"event": "order.placed", "ref": "B-1001"}, unsigned
topic_path = "event"
topics = ["order.placed", "order.changed"]
refetch_id = "ref"
open_statuses = ["awaiting_payment"]
conditions = ["!sandbox"]

[inbound.fields]
order_id = "ref"
order_number = "label"
status = "state"
currency = "money.currency"
total = "money.amount"
payment_method = "checkout.method"
customer_email = "buyer.mail"

[outbound]
auth = "bearer"
api_base = "/api/v2"
protected_statuses = ["paid", "shipped", "refunded"]

[outbound.read_order]
method = "GET"
path = "/orders/{order_id}"
result = "order"

[outbound.list_orders]
method = "GET"
path = "/orders"
query = { state = "{open_statuses}", changed_since = "{modified_after}", page = "{page}" }
result = "orders"
pagination = "page"

[outbound.update]
method = "PATCH"
path = "/orders/{order_id}"

[outbound.move]
method = "POST"
path = "/orders/{order_id}/transitions"
body = { to = "{new_status}" }

[outbound.setters.attribute]
current = "attributes.{key}"
body = { attributes = { "{key}" = "{value}" } }

[outbound.notes]
list = { method = "GET", path = "/orders/{order_id}/comments", result = "comments[].text" }
add = { method = "POST", path = "/orders/{order_id}/comments", body = { text = "{note}" } }

[outbound.notes.add_customer]
method = "POST"
path = "/orders/{order_id}/comments"
body = { text = "{note}", to_buyer = true }

[outbound.events."invoice.created"]
customer_note = "Pay {amount} {currency} here: {payment_url}"

[outbound.events."invoice.created".set.attribute]
crypto_invoice = "{invoice_id}"

[outbound.events."invoice.processing"]
from = ["awaiting_payment"]
status = "payment_pending"

[outbound.events."invoice.settled"]
from = ["awaiting_payment", "payment_pending"]
status = "paid"
move = { body = { reference = "{tx_hash}" } }
note = "Paid {paid_amount} {asset}: tx {tx_hash}"

[outbound.events."invoice.expired"]
from = ["awaiting_payment"]
status = "void"
"""
TRANSITIONS = {
    "awaiting_payment": {"payment_pending", "paid", "void"},
    "payment_pending": {"paid", "void"},
    "paid": {"shipped", "refunded"},
}


class Bazaar:
    """The made-up shop: REST API under /api/v2 (bearer token), thin webhooks to `hook_url`."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[str, str, Any]] = []
        self.hook_url = ""
        self.hook_answers: list[int] = []
        self._lock = threading.Lock()
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_Quiet
        )
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def place(self, amount: str, method: str = "crypto", sandbox: bool = False) -> dict[str, Any]:
        """Place an order and send the thin `order.placed` webhook; return the order."""
        with self._lock:
            ref = f"B-{1001 + len(self.orders)}"
            self.orders[ref] = {
                "ref": ref,
                "label": f"Order {ref}",
                "state": "awaiting_payment",
                "money": {"amount": amount, "currency": "EUR"},
                "checkout": {"method": method},
                "buyer": {"mail": "ada@example.com"},
                "sandbox": sandbox,
                "attributes": {},
                "comments": [],
                "reference": None,
                "changed": datetime.now(UTC).isoformat(),
            }
            order: dict[str, Any] = json.loads(json.dumps(self.orders[ref]))
        if self.hook_url:
            answer = requests.post(self.hook_url, json={"event": "order.placed", "ref": ref})
            self.hook_answers.append(answer.status_code)
        return order

    def _wsgi(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        status, body = self._handle(request)
        self.log.append((request.method, request.full_path.rstrip("?"), status))
        return Response(json.dumps(body), status, mimetype="application/json")(
            environ, start_response
        )

    def _handle(self, request: Request) -> tuple[int, Any]:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"error": "unauthorized"}
        parts = request.path.removeprefix("/api/v2/orders").strip("/").split("/")
        data = request.get_json(silent=True) or {}
        with self._lock:
            if parts == [""] and request.method == "GET":
                return 200, self._list(request)
            order = self.orders.get(parts[0])
            if order is None:
                return 404, {"error": "no such order"}
            rest = parts[1:]
            if not rest and request.method == "GET":
                return 200, {"order": order}
            if not rest and request.method == "PATCH":
                order["attributes"].update(data.get("attributes", {}))
            elif rest == ["transitions"] and request.method == "POST":
                if data.get("to") not in TRANSITIONS.get(order["state"], set()):
                    return 409, {"error": f"cannot go from {order['state']} to {data.get('to')}"}
                order["state"] = data["to"]
                order["reference"] = data.get("reference", order["reference"])
            elif rest == ["comments"] and request.method == "GET":
                return 200, {"comments": order["comments"]}
            elif rest == ["comments"] and request.method == "POST":
                order["comments"].append({"text": data["text"], "to_buyer": data.get("to_buyer")})
                return 201, {"ok": True}
            else:
                return 405, {"error": "method not allowed"}
            order["changed"] = datetime.now(UTC).isoformat()
            return 200, {"order": order}

    def _list(self, request: Request) -> dict[str, Any]:
        states = request.args.get("state", "").split(",")
        since = datetime.fromisoformat(request.args["changed_since"])
        page = int(request.args.get("page", "1"))
        matching = [
            o
            for o in self.orders.values()
            if o["state"] in states and datetime.fromisoformat(o["changed"]) > since
        ]
        return {"orders": matching[(page - 1) * 2 : page * 2]}  # two per page


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


@pytest.fixture
def bazaar() -> Iterator[Bazaar]:
    shop = Bazaar()
    yield shop
    shop.close()


@pytest.fixture
def spec_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "bazaar.toml"
    path.write_text(SPEC)
    clear_spec_cache()  # each test writes its own file under the same platform name
    yield path
    clear_spec_cache()


def bazaar_config(bazaar: Bazaar, spec_file: Path, **extra: Any) -> dict[str, Any]:
    return config_dict(
        store_url=bazaar.base_url,
        platform="bazaar",
        spec=str(spec_file),
        api_token=TOKEN,
        payment_methods=["crypto"],
        eth_rate="fixed:EUR:2000.00",
        **extra,
    )


def test_the_spec_file_is_validated_and_reads_the_shops_orders(
    bazaar: Bazaar, spec_file: Path
) -> None:
    store: StoreSettings = parse_settings(bazaar_config(bazaar, spec_file), env={}).stores["shop"]
    spec = load_spec(store)
    assert (spec.name, spec.verification, spec.auth) == ("bazaar", "none-refetch", "bearer")
    start = datetime.now(UTC) - timedelta(seconds=1)
    refs = [bazaar.place("12.50")["ref"] for _ in range(3)]
    sandbox = bazaar.place("1.00", sandbox=True)["ref"]
    with requests.Session() as http:
        client = StorefrontClient(store, spec, HttpClient(5, http))
        listed = client.list_open_orders(start)
        raw = client.read_order(refs[0])
    assert sorted(o["ref"] for o in listed) == sorted([*refs, sandbox])  # three pages of two
    found = read_order(store, spec, raw)
    assert found.order is not None
    assert (found.order.order_id, found.order.currency, str(found.order.total)) == (
        refs[0],
        "EUR",
        "12.50",
    )
    assert found.order.customer_email == "ada@example.com"
    skipped = read_order(store, spec, bazaar.orders[sandbox])
    assert skipped.kind == "ignored" and "!sandbox" in skipped.reason


def test_made_up_shop_runs_the_whole_flow(
    chain: Anvil, bazaar: Bazaar, spec_file: Path, tmp_path: Path
) -> None:
    data = bazaar_config(
        bazaar,
        spec_file,
        rpc_url=chain.url,
        database_url=database_url_for(tmp_path),
        accept=["dev:ETH"],
        **relay_address(),
    )
    relay = relay_process(data, tmp_path).start()
    bazaar.hook_url = f"{relay.url}/hooks/shop"
    try:
        order = bazaar.place("20.00")  # 0.01 ETH at 2000 EUR/ETH
        invoice = wait_for("the invoice", lambda: relay.invoice_for(order["ref"]))
        assert (invoice["amount"], invoice["currency"]) == ("20.00", "EUR")
        (option,) = invoice["options"]
        assert option["amount_base_units"] == str(10**16)
        wait_for(
            "the payment link comment",
            lambda: any(
                invoice["payment_url"] in c["text"] for c in bazaar.orders[order["ref"]]["comments"]
            ),
        )
        assert bazaar.orders[order["ref"]]["attributes"] == {"crypto_invoice": invoice["id"]}

        tx = send_eth(chain.w3, chain.accounts[2], option["address"], 10**16)
        wait_for("the order to be paid", lambda: bazaar.orders[order["ref"]]["state"] == "paid")
        final = bazaar.orders[order["ref"]]
        assert final["reference"] == tx
        wait_for("the paid comment", lambda: any(tx in c["text"] for c in final["comments"]))
        assert relay.invoice(invoice["id"])["status"] == "settled"
        transitions = [e for e in bazaar.log if e[1].endswith("/transitions")]
        assert [e[2] for e in transitions] == [200] * len(transitions)

        # a forged webhook cannot make up an order: the relay only trusts the shop's API
        forged = requests.post(bazaar.hook_url, json={"event": "order.placed", "ref": "B-9999"})
        assert forged.status_code == 502
        assert forged.json()["error"]["code"] == "storefront_error"
        assert relay.invoice_for("B-9999") is None
        assert bazaar.hook_answers == [200]
    finally:
        relay.stop()
