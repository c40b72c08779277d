"""Hand out the configured stores' API clients, all over the relay's one HTTP client.

Built once by relay/runtime.py and passed to what calls a store's API (the delivery's sender,
reconciliation, the webhook route's read-back of a `none-refetch` order). A StorefrontClient keeps
the call log of one push or read (the delivery attempt's calls), so each use takes a client of
its own from `client`; they share the HTTP client's connection pool and the loaded spec.
"""

from __future__ import annotations

from relay.errors import UnknownStore
from relay.http import HttpClient
from relay.settings import Settings
from relay.specs import load_spec
from relay.storefront import StorefrontClient


class Storefronts:
    """The stores of `settings`, reached over `http`."""

    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http

    def client(self, store_name: str) -> StorefrontClient:
        """Return a client (with an empty call log) of the named store's order API.

        raises UnknownStore when no store has that name, SpecError when its platform spec is bad.
        """
        store = self.settings.stores.get(store_name)
        if store is None:
            raise UnknownStore(f"no store named {store_name!r}")
        return StorefrontClient(store, load_spec(store), self.http)
