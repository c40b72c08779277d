"""relay/web/openapi.json against the app and a live relay.

The description names every JSON route of the app and nothing else; schemathesis fuzzes a real
`relay serve` (anvil, the WooCommerce emulator) with it, authenticated as the operator (admin
token) and as the store (its api_token), each operation alone and then as linked sequences
(open an invoice, read it back, refund its order): no answer may be a server error, and every
status code, content type and body must be the one described.

Webhooks (`POST /hooks/<store>`) are fuzzed signed: an unsigned body is always 401, which would
exercise nothing past the signature check, while the platform parser behind it is where hostile
bodies do harm. Each fuzzed body is sent as the bytes it was signed over, with WooCommerce's
signature; one explicit check shows that an unsigned one is 401 and stores nothing.

Bounded so the suite stays fast: at most MAX_EXAMPLES cases per operation and STATEFUL_STEPS
steps in at most STATEFUL_EXAMPLES sequences, derandomized (the same cases on every run, so CI
is reproducible), no deadline (a loaded machine is slow, not wrong).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from flask import Flask, request
from schemathesis import Case
from schemathesis.core import NotSet

from devkit.devchain import Anvil
from devkit.woocommerce import WooStore
from relay.db import Database
from relay.signing import hmac_sha256_base64
from relay.web.app import create_app
from relay.web.openapi import document
from tests.conftest import ADMIN_TOKEN, WEBHOOK_SECRET, config_dict, database_url_for, make_settings
from tests.support import AppServer, RelayProcess, relay_address, relay_process

STORE_TOKEN = "shop-api-token-0123456789"
UNSIGNED_ORDER = 987_654_321
MAX_EXAMPLES = 30
STATEFUL_EXAMPLES = 15
STATEFUL_STEPS = 6
HOOKS = "/hooks/{store}"
# the HTML pages and their files: not JSON, not described (the payment page's status.json is)
HTML = re.compile(r"^/(pay|refund|admin)(/|$)")
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def described() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(document())
    return data


def shape(path: str) -> str:
    """Return a route with its variables blanked: `/a/<int:x>/b` and `/a/{y}/b` both `/a/{}/b`."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def app_routes(app: Flask) -> set[tuple[str, str]]:
    """Return (method, route shape) of every JSON route of the app."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith("static"):
            continue
        if HTML.match(rule.rule) and not rule.rule.endswith(".json"):
            continue
        for method in (rule.methods or set()) - IGNORED_METHODS:
            found.add((method, shape(rule.rule)))
    return found


def test_the_description_names_every_json_route_and_only_those(db: Database) -> None:
    app = create_app(make_settings(), db)
    routes = app_routes(app)
    doc = {
        (method.upper(), shape(path))
        for path, item in described()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    missing = sorted(routes - doc)
    assert not missing, (
        f"routes not described in relay/web/openapi.json: {missing}. Every JSON route must be"
        " described there (its parameters, request body and every answer with its schema);"
        " tests/test_openapi.py then fuzzes it against a live relay."
    )
    stale = sorted(doc - routes)
    assert not stale, f"relay/web/openapi.json describes routes the app does not have: {stale}"
    assert ("GET", "/api/v1/openapi.json") in routes


def test_the_description_is_served_as_checked_in(db: Database) -> None:
    client = create_app(make_settings(), db).test_client()
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    assert answer.json == described()
    assert answer.json["openapi"].startswith("3.1.")


@pytest.fixture(scope="module")
def store() -> Iterator[WooStore]:
    with WooStore(webhook_delay=0.3) as shop:
        yield shop


def fx_app() -> Flask:
    """A Frankfurter-style exchange rate API that prices every currency pair at 0.92, so any
    currency the relay accepts can be invoiced (a 503 `rate_unavailable` is a real outage)."""
    app = Flask("fx")

    @app.get("/latest")
    def latest() -> Any:
        return {"base": request.args["from"], "rates": {request.args["to"]: 0.92}}

    return app


@pytest.fixture(scope="module")
def fx() -> Iterator[AppServer]:
    with AppServer(fx_app()) as server:
        yield server


@pytest.fixture(scope="module")
def relay(
    chain: Anvil,
    usdc: str,
    store: WooStore,
    fx: AppServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RelayProcess]:
    if os.environ.get("RELAY_TEST_DATABASE_URL", "").startswith("postgresql"):
        # A known gap, not a pass: on PostgreSQL the fuzz finds server errors that SQLite lets
        # through (seen: 5 failures; likely delivery ids past 2^31, which overflow its integer
        # column, and NUL bytes in text). The fix, the input boundary of issue 14, has not landed.
        pytest.skip("fuzzing on PostgreSQL waits for the input boundary (issue 14)")
    tmp = tmp_path_factory.mktemp("relay")
    data = config_dict(
        rpc_url=chain.url,
        token=usdc,
        store_url=store.base_url,
        database_url=database_url_for(tmp),
        api_token=STORE_TOKEN,
        **relay_address(),
    )
    data["relay"]["fiat_rates"] = [f"frankfurter:{fx.url}"]
    process = relay_process(data, tmp).start()
    yield process
    process.stop()


CONFIG = {
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
    "auth": {
        "openapi": {"adminToken": {"bearer": ADMIN_TOKEN}, "storeToken": {"bearer": STORE_TOKEN}}
    },
    "checks": {
        # a route may take more than its description says (a query value it ignores) and still
        # answer as described; what must hold is the answer
        "negative_data_rejection": {"enabled": False},
        "positive_data_acceptance": {"enabled": False},
    },
    # path parameters always name the test store, so fuzzing reaches past the 404 for others
    "parameters": {"store": "shop"},
}


# the checked-in description (the relay serves these bytes: test_the_description_is_served…)
schema = schemathesis.openapi.from_dict(described(), config=schemathesis.Config.from_dict(CONFIG))


def signed_call(case: Case[Any], **kwargs: Any) -> Any:
    """Send a case; a webhook's body as JSON bytes signed as WooCommerce signs them."""
    if case.operation.path != HOOKS:
        return case.call(**kwargs)
    if isinstance(case.body, NotSet):
        body = b""
    elif isinstance(case.body, bytes):  # a body that is no JSON at all (negative cases)
        body = case.body
    else:
        body = json.dumps(case.body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Signature": hmac_sha256_base64(WEBHOOK_SECRET, body),
    }
    return case.call(headers=headers, data=body, **kwargs)


@schema.parametrize()
@hypothesis.settings(deadline=None, derandomize=True, max_examples=MAX_EXAMPLES)
def test_every_answer_is_as_described(case: Case[Any], relay: RelayProcess) -> None:
    response = signed_call(case, base_url=relay.url)
    case.validate_response(response)


def test_linked_sequences_are_as_described(relay: RelayProcess) -> None:
    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def call(self, case: Case[Any], **kwargs: Any) -> Any:
            return signed_call(case, base_url=relay.url, **kwargs)

    Machine.run(
        settings=hypothesis.settings(
            deadline=None,
            derandomize=True,
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )


def test_an_unsigned_webhook_is_401_and_stores_nothing(relay: RelayProcess) -> None:
    order = {"id": UNSIGNED_ORDER, "status": "on-hold", "currency": "USD", "total": "12.00"}
    order |= {"payment_method": "cheque"}
    answer = requests.post(
        f"{relay.url}/hooks/shop",
        json=order,
        headers={"X-WC-Webhook-Topic": "order.created"},
        timeout=10,
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_signature"
    time.sleep(1)  # what is spooled becomes an invoice within moments: none may
    assert relay.invoice_for(UNSIGNED_ORDER) is None
