"""A relay wired to its own WooCommerce emulator over real HTTP, on anvil (refunds, renewals).

The scenario harness (tests/test_scenarios.py `World`: watcher, expiry sweep and outbox run with
the chain's clock) plus the relay's web app served over HTTP: the store's `order.updated` webhooks
reach `/hooks/shop` signed, customers use `/refund/<token>` and operators the admin API, and
status webhooks reach a recording endpoint.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from flask import Flask, request

from devkit.devchain import Anvil, deploy_router, deploy_token, mint
from devkit.woocommerce import WooStore
from relay.addresses import xpub_id
from relay.chain.rpc import Web3Chain
from relay.config import parse_settings
from relay.db import Database
from relay.delivery import deliver_due
from relay.models import AddressCounter, Base, Refund, utcnow
from relay.runtime import Runtime
from tests.conftest import ADMIN_TOKEN, MERCHANT_XPUB, WEBHOOK_SECRET, config_dict, database_url_for
from tests.support import AppServer, relay_app, write_config
from tests.test_scenarios import Chain, World

USDC = 10**6
_INDEXES = itertools.count(20_000, 100)  # fresh deposit addresses for every relay on one chain
_LINK = re.compile(r"https?://\S+?/refund/[A-Za-z0-9_.\-]+")
_URI = re.compile(r"ethereum:[^\s]+")


@contextmanager
def dev_chain() -> Iterator[Chain]:
    """Yield an anvil node with USDC held by the customer (account 1) and the merchant (4)."""
    with Anvil() as node:
        usdc = deploy_token(node.w3, name="USD Coin", symbol="USDC", decimals=6)
        for account in (node.accounts[1], node.accounts[4]):
            mint(node.w3, usdc, account, 10**6 * USDC)
        yield Chain(node, usdc, usdc, deploy_router(node.w3))


@dataclass
class LiveShop:
    """One relay (its own database), its web app over HTTP, its store and a webhook recorder."""

    world: World
    store: WooStore
    url: str  # the relay's web app
    config_path: Path
    events: list[dict[str, Any]]  # status webhook bodies received

    @property
    def merchant(self) -> str:
        """The merchant's own wallet: a funded anvil account (the relay never has its key)."""
        return self.world.chain.node.accounts[4]

    def tick(self, blocks: int = 0) -> None:
        """Run the relay's jobs on the chain's clock, then deliver what the web app queued.

        The web app stamps its work with the wall clock, which may run ahead of the last
        block's timestamp.
        """
        w = self.world
        w.tick(blocks)
        now = max(w.now(), utcnow())
        while deliver_due(w.db, w.settings, w.sender, now=now):
            pass

    def hook_order_updated(self) -> None:
        """Send the store's queued webhooks now (WP-Cron ran)."""
        self.store.flush_webhooks()

    def notes(self, customer: bool | None = None) -> list[str]:
        found = self.store.notes(self.world.order["id"])
        return [n["note"] for n in found if customer is None or n["customer_note"] == customer]

    def refund_link(self, index: int = -1) -> str:
        """Return the path of the refund address form from the customer notes (newest last)."""
        links = [m.group(0) for n in self.notes(customer=True) for m in _LINK.finditer(n)]
        return urlsplit(links[index]).path

    def payment_link(self, index: int = -1) -> str:
        """Return an EIP-681 refund link from the merchant's private notes (newest last)."""
        uris = [
            m.group(0)
            for n in self.notes(customer=False)
            if "Refund " in n
            for m in _URI.finditer(n)
        ]
        return uris[index]

    def give_address(self, path: str, address: str, confirm: bool = False) -> requests.Response:
        body = {"address": address} | ({"confirm_contract": True} if confirm else {})
        return requests.post(f"{self.url}{path}", json=body, timeout=10)

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=10, **kwargs)

    def refunds(self) -> list[Refund]:
        with self.world.db.transaction() as session:
            return list(session.query(Refund).order_by(Refund.created_at, Refund.id))

    def refund(self, refund_id: str) -> Refund:
        with self.world.db.transaction() as session:
            found = session.get(Refund, refund_id)
            assert found is not None
            return found

    def event_types(self) -> list[str]:
        return [e["type"] for e in self.events]


def parse_uri(uri: str) -> tuple[str | None, str, int]:
    """Read an EIP-681 link: (token contract or None for native, recipient, base units)."""
    target, _, query = uri.removeprefix("ethereum:").partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    address = target.split("@")[0].split("/")[0]
    if "/transfer" in target:
        return address, params["address"], _number(params["uint256"])
    return None, address, _number(params["value"])


def _number(text: str) -> int:
    mantissa, _, exponent = text.partition("e")
    return int(mantissa) * int(10 ** int(exponent or 0))


@contextmanager
def live_shop(chain: Chain, tmp: Path, **store_extra: Any) -> Iterator[LiveShop]:
    """Build a relay with its own store, web app and status webhook endpoint; tear it down."""
    events: list[dict[str, Any]] = []
    erp = Flask("erp")

    @erp.post("/hook")
    def hook() -> Any:
        events.append(json.loads(request.get_data()))
        return "", 204

    with ExitStack() as stack:
        store = stack.enter_context(WooStore(webhook_delay=0.05))
        receiver = stack.enter_context(AppServer(erp))
        tmp.mkdir(parents=True, exist_ok=True)
        data = config_dict(
            rpc_url=chain.node.url,
            token=chain.usdc,
            store_url=store.base_url,
            database_url=database_url_for(tmp),
            confirmations=3,
            webhooks=[
                {"url": f"{receiver.url}/hook", "secret": "whsec_" + "QUJDREVGR0hJSktMTU5PUA=="}
            ],
            **store_extra,
        )
        settings = parse_settings(data, env={})
        db = Database(settings.relay.database_url)
        if not db.is_sqlite:
            Base.metadata.drop_all(db.engine)
        db.create_schema()
        stack.callback(db.dispose)
        with db.transaction() as session:
            session.add(AddressCounter(xpub_id=xpub_id(MERCHANT_XPUB), next_index=next(_INDEXES)))
        client = Web3Chain([chain.node.url])
        stack.callback(client.close)
        runtime = Runtime(settings, db, chains={"dev": client})
        stack.callback(runtime.close)
        world = World(chain, store, settings, db, client, runtime.sender, runtime.rates)
        server = stack.enter_context(AppServer(relay_app(settings, db)))
        store.add_webhook("order.updated", f"{server.url}/hooks/shop", WEBHOOK_SECRET)
        config_path = write_config(data, tmp / "relay.toml")  # the CLI's config: the same relay
        yield LiveShop(world, store, server.url, config_path, events)
