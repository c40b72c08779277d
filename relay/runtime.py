"""Build the relay's adapters once, at start-up, from the settings: the composition root.

`Runtime` holds what talks to the outside: one chain client per chain (relay/chain/rpc.py), the
rate sources (relay/pricing.py, reading price feeds through those chain clients), the one outgoing
HTTP client (relay/http.py), the storefront clients over it (relay/storefronts.py) and the
delivery's sender. `relay serve` hands one Runtime to the web app (`create_app(runtime=…)`) and to
the scheduler's jobs (relay/scheduler.py); `relay worker` to the jobs alone. Domain modules never
build an adapter: they receive the one they use as an argument, so tests pass their own.
"""

from __future__ import annotations

from collections.abc import Mapping

from relay.chain.rpc import Web3Chain
from relay.chain.usage import address_usage
from relay.db import Database
from relay.delivery import Sender
from relay.http import HttpClient
from relay.pricing import ChainFeeds, Rates
from relay.settings import ChainSettings, Settings
from relay.storefronts import Storefronts

# /readyz and /metrics ask each chain's head with this timeout, so a hanging node makes the
# probe answer "not ready" within seconds instead of after the watcher's longer RPC timeout
READY_RPC_TIMEOUT_SECONDS = 3


class Runtime:
    """The long-lived adapters the web app and the jobs share, built from `settings`.

    Attributes: `settings`, `db`, `http` (HttpClient, `delivery_timeout_seconds`), `chains`
    ({chain name: Web3Chain}), `probes` (the same RPC URLs with READY_RPC_TIMEOUT_SECONDS, for
    readiness), `rates` (Rates over the chains' price feeds and `http`), `storefronts`
    (Storefronts over `http`), `sender` (the delivery's Sender). Tests may pass their own
    `chains`, `http` or `rates`; what is passed in is still closed by `close`.
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        chains: Mapping[str, Web3Chain] | None = None,
        http: HttpClient | None = None,
        rates: Rates | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.http = http or HttpClient(settings.relay.delivery_timeout_seconds)
        self.chains: dict[str, Web3Chain] = dict(
            chains if chains is not None else {n: _chain(c) for n, c in settings.chains.items()}
        )
        self.probes = {
            name: Web3Chain(chain.rpc_urls, timeout=READY_RPC_TIMEOUT_SECONDS)
            for name, chain in settings.chains.items()
        }
        self.rates = rates or Rates(settings, ChainFeeds(self.chains), self.http)
        self.storefronts = Storefronts(settings, self.http)
        self.sender = Sender(settings, self.http, self.storefronts)

    def read_code(self, chain: str, address: str) -> bytes:
        """Return the code at `address` on `chain` (b"" for an account without code); raises
        ChainUnavailable when no RPC URL answers (relay/refunds.py's CodeReader)."""
        return self.chains[chain].code_at(address)

    def address_usage(self, chain: str, address: str) -> str | None:
        """Return what shows `address` was used on `chain` (nonce, balances, token transfers in
        the last `address_check_blocks` blocks), or None; raises ChainUnavailable when no RPC
        URL answers (relay/address_checks.py's UsageReader)."""
        settings = self.settings.chains[chain]
        tokens = [a.contract for a in settings.assets.values() if a.contract is not None]
        return address_usage(self.chains[chain], address, tokens, settings.address_check_blocks)

    def close(self) -> None:
        """Release the HTTP client's and the chain clients' connections."""
        self.http.close()
        for chain in (*self.chains.values(), *self.probes.values()):
            chain.close()


def _chain(chain: ChainSettings) -> Web3Chain:
    return Web3Chain(
        chain.rpc_urls, address_chunk_size=chain.address_chunk_size, multicall3=chain.multicall3
    )
