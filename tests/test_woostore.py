"""Tests for devkit.woocommerce, the WooCommerce REST v3 + webhooks emulator (real HTTP)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
import requests
from requests_oauthlib import OAuth1
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from devkit.woocommerce import (
    HOOKSHOT_USER_AGENT,
    WooStore,
    webhook_signature,
    wp_json_encode,
)

SAMPLES = Path("/work/shared/samples")
REAL_DELIVERIES = SAMPLES / "woocommerce_7.4.1_real_deliveries.json"
NOTE_SAMPLE = SAMPLES / "woocommerce_v3_order_note_create_response.json"


# ------------------------------------------------------------------------------------ helpers


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class Receiver:
    """A tiny webhook endpoint: records every request, answers `respond(request)`."""

    def __init__(self, respond: Callable[[Request], int] | None = None) -> None:
        self.respond = respond or (lambda request: 200)
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        entry = {
            "path": request.path,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": request.get_data(),
        }
        with self._lock:
            self.received.append(entry)
        status = self.respond(request)
        response = Response(b"ok", status=status)
        if 300 <= status < 400:
            response.headers["Location"] = self.url.replace("/hook", "/elsewhere")
        return response(environ, start_response)

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.received if "x-wc-webhook-topic" in r["headers"]]

    def pings(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.received if "x-wc-webhook-topic" not in r["headers"]]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def is_ping(request: Request) -> bool:
    return "X-WC-Webhook-Topic" not in request.headers


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def url(store: WooStore, path: str) -> str:
    return f"{store.base_url}/wp-json/wc/v3/{path}"


def oauth_session(store: WooStore, method: str = "HMAC-SHA256", **kwargs: Any) -> requests.Session:
    session = requests.Session()
    session.auth = OAuth1(
        store.consumer_key, store.consumer_secret, signature_method=method, **kwargs
    )
    return session


@pytest.fixture
def store() -> Iterator[WooStore]:
    with WooStore(webhook_delay=0.05) as shop:
        yield shop


@pytest.fixture
def ssl_store() -> Iterator[WooStore]:
    with WooStore(webhook_delay=0.05, is_ssl=True) as shop:
        yield shop


@pytest.fixture
def api(store: WooStore) -> Iterator[requests.Session]:
    with oauth_session(store) as session:
        yield session


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


def load_sample(path: Path) -> Any:
    if not path.exists():
        pytest.skip(f"sample {path} not available")
    return json.loads(path.read_text())


# ------------------------------------------------------------------------------------ formats


def test_wp_json_and_signature_reproduce_the_real_7_4_1_delivery() -> None:
    sample = load_sample(REAL_DELIVERIES)
    delivery = sample["requests"][1]
    raw = delivery["body"].encode()
    assert wp_json_encode(json.loads(raw)) == raw  # compact, "\/" escapes
    assert (
        webhook_signature(sample["webhook_secret"], raw)
        == delivery["headers"]["X-WC-Webhook-Signature"]
    )
    # protocols.md §1.2 check value
    assert (
        webhook_signature("s3cr3t", b'{"id":727,"status":"processing"}')
        == "/ZQ1DdNBQQeY1ffzSoZud+SQvSc9DJ3ep/umJ9T5f4I="
    )
    assert wp_json_encode({"s": "a/b \u20ac"}) == b'{"s":"a\\/b \\u20ac"}'


def test_order_json_has_the_keys_of_the_real_delivery(store: WooStore) -> None:
    sample = load_sample(REAL_DELIVERIES)
    real = json.loads(sample["requests"][1]["body"])
    order = store.create_order()
    assert list(order) == list(real)
    assert list(order["billing"]) == list(real["billing"])
    assert list(order["shipping"]) == list(real["shipping"])
    assert order["id"] == 100 and order["number"] == "100"
    assert order["total"] == "44.98" and order["status"] == "pending"
    assert order["needs_payment"] is True and order["date_paid"] is None
    assert order["billing"]["email"] == "ada@example.com"
    assert re.fullmatch(r"wc_order_[A-Za-z0-9]{13}", order["order_key"])
    assert order["date_created_gmt"] == order["date_created"]
    assert store.create_order(total="5")["id"] == 101
    assert store.create_order(total="1.005")["total"] == "1.01"


# ------------------------------------------------------------------------------------ auth


def test_oauth1_hmac_sha256_header_get_put_and_note(store: WooStore, api: requests.Session) -> None:
    order = store.create_order()
    r = api.get(url(store, f"orders/{order['id']}"))
    assert r.status_code == 200 and r.json()["id"] == order["id"]
    r = api.put(url(store, f"orders/{order['id']}"), json={"customer_note": "ring twice"})
    assert r.status_code == 200 and r.json()["customer_note"] == "ring twice"
    r = api.post(
        url(store, f"orders/{order['id']}/notes"), json={"note": "Paid", "customer_note": True}
    )
    assert r.status_code == 201
    assert store.requests[-1]["auth"] == "oauth1"
    assert r.json()["customer_note"] is True


def test_oauth1_hmac_sha1_header_and_query_signatures(store: WooStore) -> None:
    order = store.create_order()
    with oauth_session(store, "HMAC-SHA1") as sha1:
        r = sha1.put(url(store, f"orders/{order['id']}"), json={"transaction_id": "tx-1"})
        assert r.status_code == 200 and r.json()["transaction_id"] == "tx-1"
    with oauth_session(store, "HMAC-SHA1", signature_type="query") as query:
        r = query.get(url(store, "orders"), params={"per_page": 5})
        assert r.status_code == 200 and len(r.json()) == 1
        assert "oauth_signature" in store.requests[-1]["query"]
    with oauth_session(store, "HMAC-SHA256", signature_type="query") as query:
        r = query.post(url(store, f"orders/{order['id']}/notes"), json={"note": "hello"})
        assert r.status_code == 201


def test_basic_and_query_keys_are_refused_over_plain_http(store: WooStore) -> None:
    store.create_order()
    r = requests.get(url(store, "orders"), auth=(store.consumer_key, store.consumer_secret))
    assert r.status_code == 401
    assert r.json() == {
        "code": "woocommerce_rest_cannot_view",
        "message": "Sorry, you cannot list resources.",
        "data": {"status": 401},
    }
    r = requests.get(
        url(store, "orders"),
        params={"consumer_key": store.consumer_key, "consumer_secret": store.consumer_secret},
    )
    assert r.status_code == 401
    r = requests.get(url(store, "orders"))
    assert r.status_code == 401 and r.json()["code"] == "woocommerce_rest_cannot_view"
    assert [rec["auth"] for rec in store.requests] == ["basic", "query", None]


def test_basic_and_query_keys_work_when_wordpress_sees_https(ssl_store: WooStore) -> None:
    order = ssl_store.create_order()
    keys = (ssl_store.consumer_key, ssl_store.consumer_secret)
    r = requests.get(url(ssl_store, f"orders/{order['id']}"), auth=keys)
    assert r.status_code == 200
    r = requests.put(url(ssl_store, f"orders/{order['id']}"), auth=keys, json={"status": "on-hold"})
    assert r.status_code == 200 and r.json()["status"] == "on-hold"
    qs = {"consumer_key": keys[0], "consumer_secret": keys[1]}
    assert requests.get(url(ssl_store, "orders"), params=qs).status_code == 200
    r = requests.get(url(ssl_store, "orders"), auth=(keys[0], "cs_wrong"))
    assert r.status_code == 401
    assert r.json()["code"] == "woocommerce_rest_authentication_error"
    assert r.json()["message"] == "Consumer secret is invalid."


def test_bad_signature_unknown_key_and_wrong_host_are_401(store: WooStore) -> None:
    with requests.Session() as session:
        session.auth = OAuth1(store.consumer_key, "cs_wrong", signature_method="HMAC-SHA256")
        r = session.get(url(store, "orders"))
    assert r.status_code == 401
    assert r.json() == {
        "code": "woocommerce_rest_authentication_error",
        "message": "Invalid signature - provided signature does not match.",
        "data": {"status": 401},
    }
    assert "WWW-Authenticate" not in r.headers
    with requests.Session() as session:
        session.auth = OAuth1("ck_nope", store.consumer_secret, signature_method="HMAC-SHA256")
        r = session.get(url(store, "orders"))
    assert r.status_code == 401 and r.json()["message"] == "Consumer key is invalid."
    # The signed base URL is the site's home URL: signing "localhost" fails on a 127.0.0.1 shop.
    with oauth_session(store) as api:
        r = api.get(url(store, "orders").replace("127.0.0.1", "localhost"))
    assert r.status_code == 401
    with oauth_session(store, "PLAINTEXT") as api:
        r = api.get(url(store, "orders"))
    assert r.json()["message"] == "Invalid signature - signature method is invalid."


def test_reused_nonce_and_stale_timestamp_are_401(store: WooStore) -> None:
    now = str(int(time.time()))
    with oauth_session(store, nonce="fixednonce123", timestamp=now) as api:
        assert api.get(url(store, "orders")).status_code == 200
        r = api.get(url(store, "orders"))
    assert r.status_code == 401
    assert r.json()["message"] == "Invalid nonce - nonce has already been used."
    stale = str(int(time.time()) - 16 * 60)
    with oauth_session(store, timestamp=stale) as api:
        r = api.get(url(store, "orders"))
    assert r.status_code == 401 and r.json()["message"] == "Invalid timestamp."


def test_status_array_query_param_breaks_oauth_like_php_does(
    store: WooStore, ssl_store: WooStore
) -> None:
    """PHP reads status[]=x as status[0]=x and WooCommerce signs that, so OAuth clients fail."""
    store.create_order(status="on-hold")
    with oauth_session(store) as api:
        r = api.get(url(store, "orders"), params={"status[]": ["pending", "on-hold"]})
        assert r.status_code == 401
        assert r.json()["message"] == "Invalid signature - provided signature does not match."
        assert (
            api.get(url(store, "orders"), params={"status": "pending,on-hold"}).status_code == 200
        )
    ssl_store.create_order(status="pending")
    ssl_store.create_order(status="on-hold")
    ssl_store.create_order(status="completed")
    keys = (ssl_store.consumer_key, ssl_store.consumer_secret)
    r = requests.get(
        url(ssl_store, "orders"), auth=keys, params={"status[]": ["pending", "on-hold"]}
    )
    assert r.status_code == 200 and {o["status"] for o in r.json()} == {"pending", "on-hold"}
    # A plain repeated key: PHP keeps the last one only.
    r = requests.get(url(ssl_store, "orders"), auth=keys, params={"status": ["pending", "on-hold"]})
    assert [o["status"] for o in r.json()] == ["on-hold"]


# ------------------------------------------------------------------------------------ errors


def test_error_shapes(store: WooStore, api: requests.Session) -> None:
    order = store.create_order()
    r = api.get(url(store, "orders/99999"))
    assert r.status_code == 404
    assert r.json() == {
        "code": "woocommerce_rest_shop_order_invalid_id",
        "message": "Invalid ID.",
        "data": {"status": 404},
    }
    r = api.put(url(store, "orders/99999"), json={"status": "processing"})
    assert r.status_code == 400 and r.json()["code"] == "woocommerce_rest_shop_order_invalid_id"
    r = api.get(url(store, "products"))
    assert r.status_code == 404 and r.json()["code"] == "rest_no_route"
    assert r.json()["data"] == {"status": 404}
    r = api.put(url(store, f"orders/{order['id']}"), json={"status": "paid"})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "rest_invalid_param"
    assert body["message"] == "Invalid parameter(s): status"
    assert body["data"]["status"] == 400
    assert body["data"]["params"]["status"].startswith("status is not one of pending, processing")
    r = api.put(url(store, f"orders/{order['id']}"), json={"status": "trash"})
    assert r.status_code == 400  # not in the REST enum
    r = api.get(url(store, "orders"), params={"status": "bogus"})
    assert r.status_code == 400 and "status[0] is not one of any, trash" in r.text
    r = api.get(url(store, "orders"), params={"per_page": 101})
    assert r.status_code == 400
    assert r.json()["data"]["params"] == {
        "per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"
    }
    r = api.get(url(store, "orders/99999/notes"))
    assert r.status_code == 404 and r.json()["code"] == "woocommerce_rest_order_invalid_id"
    r = api.post(url(store, f"orders/{order['id']}/notes"), json={"customer_note": True})
    assert r.status_code == 400 and r.json()["code"] == "rest_missing_callback_param"
    r = api.put(
        url(store, f"orders/{order['id']}"),
        data="{not json",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["code"] == "rest_invalid_json"
    r = requests.get(store.base_url + "/shop/")
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html")
    assert store.get_order(order["id"])["status"] == "pending"


# ------------------------------------------------------------------------------------ orders


def test_set_paid_is_a_silent_noop_on_on_hold(store: WooStore, api: requests.Session) -> None:
    order = store.create_order(status="on-hold")
    r = api.put(url(store, f"orders/{order['id']}"), json={"set_paid": True})
    assert r.status_code == 200
    assert r.json()["status"] == "on-hold" and r.json()["date_paid"] is None
    assert store.get_order(order["id"])["date_paid_gmt"] is None


def test_set_paid_on_pending_runs_payment_complete(store: WooStore, api: requests.Session) -> None:
    order = store.create_order()
    r = api.put(
        url(store, f"orders/{order['id']}"),
        json={"set_paid": True, "transaction_id": "eip155:1:0xabc"},
    )
    paid = r.json()
    assert r.status_code == 200 and paid["status"] == "processing"
    assert paid["date_paid"] is not None and paid["transaction_id"] == "eip155:1:0xabc"
    assert paid["needs_payment"] is False
    notes = [n["note"] for n in store.notes(order["id"])]
    assert "Order status changed from Pending payment to Processing." in notes
    virtual = store.create_order(needs_processing=False)
    r = api.put(url(store, f"orders/{virtual['id']}"), json={"set_paid": "true"})
    assert r.json()["status"] == "completed" and r.json()["date_completed"] is not None
    free = store.create_order(total="0")
    r = api.put(url(store, f"orders/{free['id']}"), json={"set_paid": True})
    assert r.json()["status"] == "pending"  # needs_payment() is false for a zero total


def test_status_processing_sets_date_paid_once(store: WooStore, api: requests.Session) -> None:
    order = store.create_order(status="on-hold")
    body = {"status": "processing", "transaction_id": "0xfeed"}
    first = api.put(url(store, f"orders/{order['id']}"), json=body).json()
    assert first["status"] == "processing" and first["date_paid"] is not None
    again = api.put(url(store, f"orders/{order['id']}"), json=body)
    assert again.status_code == 200
    assert again.json()["date_paid"] == first["date_paid"]
    transitions = [n for n in store.notes(order["id"]) if "status changed" in n["note"]]
    assert [n["note"] for n in transitions] == [
        "Order status changed from Pending payment to On hold.",
        "Order status changed from On hold to Processing.",
    ]


def test_meta_data_update_by_key_and_by_id(store: WooStore, api: requests.Session) -> None:
    order = store.create_order()
    path = url(store, f"orders/{order['id']}")
    meta = api.put(path, json={"meta_data": [{"key": "_crypto_tx", "value": "0x1"}]}).json()
    (entry,) = meta["meta_data"]
    assert isinstance(entry["id"], int) and entry["value"] == "0x1"
    meta = api.put(path, json={"meta_data": [{"key": "_crypto_tx", "value": "0x2"}]}).json()
    assert meta["meta_data"] == [{"id": entry["id"], "key": "_crypto_tx", "value": "0x2"}]
    meta = api.put(
        path, json={"meta_data": [{"id": entry["id"], "key": "_crypto_tx", "value": {"n": 3}}]}
    ).json()
    assert meta["meta_data"] == [{"id": entry["id"], "key": "_crypto_tx", "value": {"n": 3}}]


def test_create_order_via_rest(store: WooStore, api: requests.Session) -> None:
    body = {
        "payment_method": "bacs",
        "billing": {"email": "bob@example.com"},
        "line_items": [{"product_id": 12, "quantity": 2, "total": "39.98"}],
        "fee_lines": [{"name": "Handling", "total": "5.00"}],
    }
    r = api.post(url(store, "orders"), json=body)
    assert r.status_code == 201
    created = r.json()
    assert r.headers["Location"] == url(store, f"orders/{created['id']}")
    assert created["total"] == "44.98" and created["created_via"] == "rest-api"
    assert created["line_items"][0]["price"] == 19.99
    r = api.post(url(store, "orders"), json={"line_items": [{"quantity": 1}]})
    assert r.status_code == 400


def test_list_filters_and_pagination_headers(store: WooStore, api: requests.Session) -> None:
    ids = [store.create_order(status=s)["id"] for s in ("pending", "on-hold", "pending", "failed")]
    trashed = store.create_order()["id"]
    store.update_order(trashed, status="trash")
    r = api.get(url(store, "orders"))
    assert r.headers["X-WP-Total"] == "4" and r.headers["X-WP-TotalPages"] == "1"
    assert [o["id"] for o in r.json()] == ids[::-1]  # date desc, then id desc
    r = api.get(
        url(store, "orders"), params={"status": "pending,on-hold", "orderby": "id", "order": "asc"}
    )
    assert [o["id"] for o in r.json()] == ids[:3]
    r = api.get(url(store, "orders"), params={"per_page": "2", "page": "2", "orderby": "id"})
    assert r.headers["X-WP-Total"] == "4" and r.headers["X-WP-TotalPages"] == "2"
    assert [o["id"] for o in r.json()] == [ids[1], ids[0]]
    assert 'rel="prev"' in r.headers["Link"]
    r = api.get(url(store, "orders"), params={"per_page": 2, "page": 9})
    assert r.status_code == 200 and r.json() == [] and r.headers["X-WP-Total"] == "4"
    r = api.get(url(store, "orders"), params={"status": "trash"})
    assert [o["id"] for o in r.json()] == [trashed]
    r = api.get(url(store, "orders"), params={"status": "any"})
    assert trashed not in [o["id"] for o in r.json()]


def test_modified_after_and_after_filters(store: WooStore, api: requests.Session) -> None:
    old = [store.create_order(date_created="2020-01-01T00:00:00")["id"] for _ in range(3)]
    store.update_order(old[1], status="on-hold")  # modified now
    r = api.get(
        url(store, "orders"),
        params={"modified_after": "2021-01-01T00:00:00", "dates_are_gmt": "true"},
    )
    assert [o["id"] for o in r.json()] == [old[1]]
    new = store.create_order()["id"]
    r = api.get(url(store, "orders"), params={"after": "2020-06-01T00:00:00Z"})
    assert [o["id"] for o in r.json()] == [new]
    r = api.get(url(store, "orders"), params={"modified_after": "yesterday"})
    assert r.status_code == 400 and r.json()["data"]["params"]["modified_after"] == "Invalid date."


def test_customer_note_does_not_save_the_order(store: WooStore, receiver: Receiver) -> None:
    note_keys = list(load_sample(NOTE_SAMPLE))
    order = store.create_order()
    store.add_webhook("order.updated", receiver.url, "s")
    store.set_webhooks_paused(True)
    with oauth_session(store) as api:
        r = api.post(
            url(store, f"orders/{order['id']}/notes"),
            json={"note": "Payment received", "customer_note": True},
        )
        assert r.status_code == 201 and list(r.json()) == note_keys
        assert r.json()["author"] == "system"
        listed = api.get(url(store, f"orders/{order['id']}/notes")).json()
    assert listed[0]["note"] == "Payment received"  # newest first
    store.flush_webhooks()
    assert store.deliveries == []
    assert store.notes(order["id"])[-1]["customer_note"] is True


# ------------------------------------------------------------------------------------ webhooks


def test_ping_needs_exactly_200_and_pending_webhooks_are_pinged_again(store: WooStore) -> None:
    answers = iter([201])
    hook = Receiver(lambda request: next(answers, 200))
    try:
        created = store.add_webhook("order.created", hook.url, "whsec")
        assert created["topic"] == "order.created" and created["hooks"] == ["woocommerce_new_order"]
        (ping,) = hook.pings()
        assert ping["body"] == f"webhook_id={created['id']}".encode()
        assert ping["headers"]["content-type"] == "application/x-www-form-urlencoded"
        assert ping["headers"]["user-agent"] == HOOKSHOT_USER_AGENT
        assert not any(h.startswith("x-wc-") for h in ping["headers"])
        assert store.webhook(created["id"])["pending_delivery"] is True
        store.create_order()
        store.flush_webhooks()  # the delivery's save pings the still-pending webhook again
        assert [r["status_code"] for r in store.pings] == [201, 200]
        assert store.webhook(created["id"])["pending_delivery"] is False
        ok = store.add_webhook("order.updated", hook.url, "whsec")
        assert store.webhook(ok["id"])["pending_delivery"] is False
    finally:
        hook.close()


def test_signed_delivery_matches_current_order(store: WooStore, receiver: Receiver) -> None:
    secret = "whsec-loopback"
    webhook = store.add_webhook("order.created", receiver.url, secret)
    order = store.create_order(billing={"first_name": "Zo\u00eb"})
    wait_for(lambda: len(store.deliveries) == 1)  # recorded once the receiver has answered
    (delivery,) = receiver.deliveries()
    raw, headers = delivery["body"], delivery["headers"]
    expected = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(headers["x-wc-webhook-signature"], expected)
    assert headers["x-wc-webhook-source"] == store.base_url + "/"
    assert headers["x-wc-webhook-topic"] == "order.created"
    assert headers["x-wc-webhook-resource"] == "order"
    assert headers["x-wc-webhook-event"] == "created"
    assert headers["x-wc-webhook-id"] == str(webhook["id"])
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-wc-webhook-delivery-id"])
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == HOOKSHOT_USER_AGENT
    assert b"http:\\/\\/127.0.0.1" in raw and b"Zo\\u00eb" in raw
    assert json.loads(raw) == store.get_order(order["id"])
    (record,) = store.deliveries
    assert record["status_code"] == 200 and record["order_id"] == order["id"]
    assert record["body"] == raw and record["error"] is None


def test_delivery_waits_for_the_cron_delay(receiver: Receiver) -> None:
    with WooStore(webhook_delay=0.4) as shop:
        shop.add_webhook("order.created", receiver.url, "s")
        started = time.monotonic()
        shop.create_order()
        time.sleep(0.15)
        assert receiver.deliveries() == []
        wait_for(lambda: len(receiver.deliveries()) == 1)
        assert time.monotonic() - started >= 0.4


def test_body_is_built_at_send_time_and_updates_coalesce(
    store: WooStore, receiver: Receiver
) -> None:
    store.add_webhook("order.created", receiver.url, "s")
    store.add_webhook("order.updated", receiver.url, "s")
    store.set_webhooks_paused(True)
    order = store.create_order()
    store.update_order(order["id"], status="on-hold")
    store.update_order(order["id"], customer_note="leave at the door")
    with oauth_session(store) as api:
        api.put(url(store, f"orders/{order['id']}"), json={"transaction_id": "t1"})
        api.put(url(store, f"orders/{order['id']}"), json={"transaction_id": "t1"})
    time.sleep(0.2)
    assert receiver.deliveries() == []  # an idle store: nothing goes out
    store.flush_webhooks()
    deliveries = receiver.deliveries()
    assert [d["headers"]["x-wc-webhook-topic"] for d in deliveries] == [
        "order.created",
        "order.updated",
    ]
    created, updated = (json.loads(d["body"]) for d in deliveries)
    assert created["status"] == "on-hold"  # order.created already shows the later status
    assert updated["customer_note"] == "leave at the door" and updated["transaction_id"] == "t1"


def test_rest_updates_come_back_as_order_updated(store: WooStore, receiver: Receiver) -> None:
    store.add_webhook("order.updated", receiver.url, "s")
    order = store.create_order()
    with oauth_session(store) as api:
        api.put(url(store, f"orders/{order['id']}"), json={})  # a no-op PUT still saves
    wait_for(lambda: len(receiver.deliveries()) == 1)
    assert json.loads(receiver.deliveries()[0]["body"])["id"] == order["id"]


def test_failures_are_counted_and_disable_the_webhook(store: WooStore) -> None:
    hook = Receiver(lambda request: 200 if is_ping(request) else 500)
    try:
        webhook = store.add_webhook("order.created", hook.url, "s")
        store.set_webhooks_paused(True)
        for _ in range(8):
            store.create_order()
        store.flush_webhooks()
        assert [d["status_code"] for d in store.deliveries] == [500] * 8
        state = store.webhook(webhook["id"])
        assert state["status"] == "disabled" and state["failure_count"] == 6
        store.create_order()  # disabled: nothing is queued any more
        store.flush_webhooks()
        assert len(store.deliveries) == 8
    finally:
        hook.close()


def test_failure_count_sequence_and_reset(store: WooStore) -> None:
    answers = iter([500, 500, 302, 500])
    hook = Receiver(lambda request: 200 if is_ping(request) else next(answers, 200))
    try:
        webhook = store.add_webhook("order.created", hook.url, "s")
        seen = []
        for _ in range(4):
            store.create_order()
            store.flush_webhooks()
            seen.append(store.webhook(webhook["id"])["failure_count"])
        assert seen == [1, 2, 0, 1]  # 302 is a success, and is not followed
        assert all(r["path"] == "/hook" for r in hook.received)
    finally:
        hook.close()


def test_paused_webhook_and_transport_errors(store: WooStore, receiver: Receiver) -> None:
    store.add_webhook("order.created", receiver.url, "s", status="paused")
    dead = store.add_webhook("order.created", "http://127.0.0.1:9/hook", "s")
    assert store.pings[-1]["status_code"] is None and store.pings[-1]["error"]
    store.create_order()
    store.flush_webhooks()
    assert receiver.deliveries() == []
    (record,) = store.deliveries
    assert record["webhook_id"] == dead["id"] and record["status_code"] is None
    assert record["error"] and store.webhook(dead["id"])["failure_count"] == 1


def test_webhook_created_over_rest_is_pinged(
    store: WooStore, api: requests.Session, receiver: Receiver
) -> None:
    body = {"topic": "order.updated", "delivery_url": receiver.url, "secret": "abc"}
    r = api.post(url(store, "webhooks"), json=body)
    assert r.status_code == 201 and r.json()["status"] == "active"
    assert len(receiver.pings()) == 1
    assert store.webhook(r.json()["id"])["pending_delivery"] is False
    r = api.post(url(store, "webhooks"), json={**body, "topic": "order.exploded"})
    assert r.status_code == 400 and r.json()["code"] == "woocommerce_rest_webhook_invalid_topic"


# ------------------------------------------------------------------------------------ test hooks


def test_fail_next_with_retry_after(store: WooStore, api: requests.Session) -> None:
    store.fail_next(1, 429, headers={"Retry-After": "2"})
    assert requests.get(url(store, "orders")).status_code == 401  # unauthenticated: not consumed
    r = api.get(url(store, "orders"))
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert r.json()["data"]["status"] == 429
    assert api.get(url(store, "orders")).status_code == 200
    store.fail_next(2)
    assert [api.get(url(store, "orders")).status_code for _ in range(3)] == [500, 500, 200]
    assert [rec["status"] for rec in store.requests] == [401, 429, 200, 500, 500, 200]


def test_start_stop_are_idempotent() -> None:
    shop = WooStore()
    base = shop.start()
    assert shop.start() == base and base.startswith("http://127.0.0.1:")
    shop.stop()
    shop.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(base + "/wp-json/", timeout=1)


def test_refunds_are_listed_newest_first_and_a_full_refund_refunds_the_order(
    store: WooStore, receiver: Receiver, api: requests.Session
) -> None:
    store.add_webhook("order.updated", receiver.url, "refund-secret")
    order = store.create_order(total="30.00", status="processing")
    first = store.refund_order(order["id"], "10", reason="damaged")
    assert first == {"id": first["id"], "reason": "damaged", "total": "-10.00"}
    assert first["id"] > order["id"]  # refunds are posts: the same id sequence
    wait_for(lambda: len(receiver.deliveries()) == 1)  # woocommerce_order_refunded fires
    body = json.loads(receiver.deliveries()[0]["body"])
    assert body["refunds"] == [first] and body["status"] == "processing"
    with pytest.raises(ValueError, match="Invalid refund amount"):
        store.refund_order(order["id"], "20.01")  # more than is left to refund
    with pytest.raises(ValueError, match="Invalid refund amount"):
        store.refund_order(order["id"], "0")
    second = store.refund_order(order["id"], "20.00")
    got = api.get(url(store, f"orders/{order['id']}")).json()
    assert got["refunds"] == [second, first]
    assert got["status"] == "refunded"
    notes = [n["note"] for n in store.notes(order["id"])]
    assert notes[-1] == "Order status changed from Processing to Refunded."
