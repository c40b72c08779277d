"""Scan cost: RPC calls, bytes and wall time of one watcher scan of 10 new blocks, by open invoices.

`.venv/bin/python -m bench.scan` runs, for 10, 1,000, 10,000 and 100,000 open invoices (bulk
inserted with SQLAlchemy core) and for a USDC-only and a USDC+ETH store, one
`relay.watcher.scan_once` over 10 new anvil blocks (ten of them carry a USDC payment to an open
invoice), then the naive design over the same blocks: one `balanceOf` eth_call per open invoice
(and one eth_getBalance per invoice for the ETH store), each its own HTTP request, as a watcher
without log filters would do.

Calls and bytes are counted by a requests adapter mounted on the HTTP session of the chain
client: `http` is HTTP requests (a JSON-RPC batch is one), `items` JSON-RPC calls (a batch of n
counts n; a Multicall3 `eth_call` reading a chunk of balances counts one, as providers bill it);
bytes are HTTP bodies (request, response), headers left out. The anvil node has Multicall3 at
its canonical address (`devkit.devchain.Anvil` installs it), as most real chains do, and
each scan uses a new chain client, so each pays its one Multicall3 code check (`eth_getCode`).
`rpc_s` is the time spent waiting for those HTTP answers, `wall_s` the whole scan (database
included).
"""

from __future__ import annotations

import re
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from web3 import HTTPProvider
from web3.types import RPCEndpoint

from bench.common import (
    config_dict,
    database_url,
    main_with,
    parser_for,
)
from bench.fixtures import insert_invoices
from devkit.devchain import Anvil, deploy_token, mint, transfer_token
from relay.chain.rpc import Web3Chain
from relay.config import parse_settings
from relay.db import Database
from relay.models import Base, ChainCursor, Payment, utcnow
from relay.settings import Settings
from relay.watcher import scan_once

SIZES = (10, 1_000, 10_000, 100_000)
BLOCKS = 10
BALANCE_OF = "0x70a08231"  # balanceOf(address)
_METHOD = re.compile(rb'"method"\s*:\s*"([A-Za-z0-9_]+)"')


class CountingAdapter(HTTPAdapter):
    """Count HTTP requests, JSON-RPC items, body bytes and waiting time of JSON-RPC traffic."""

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        self.http = 0
        self.items = 0
        self.sent_bytes = 0
        self.received_bytes = 0
        self.seconds = 0.0
        self.methods: Counter[str] = Counter()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        names = _METHOD.findall(body)
        started = time.perf_counter()
        response = super().send(request, *args, **kwargs)
        content = response.content
        self.seconds += time.perf_counter() - started
        self.http += 1
        self.items += len(names)
        self.sent_bytes += len(body)
        self.received_bytes += len(content)
        self.methods.update(name.decode() for name in names)
        return response

    def snapshot(self) -> dict[str, Any]:
        """Return the counters as a dict."""
        return {
            "http": self.http,
            "items": self.items,
            "sent_kib": round(self.sent_bytes / 1024, 1),
            "received_kib": round(self.received_bytes / 1024, 1),
            "rpc_s": round(self.seconds, 3),
            "methods": dict(self.methods.most_common()),
        }


def count_chain(chain: Web3Chain) -> CountingAdapter:
    """Mount a CountingAdapter on the HTTP session every RPC client of `chain` uses here."""
    adapter = CountingAdapter()
    for client in chain._clients:
        provider = client.provider
        assert isinstance(provider, HTTPProvider) and provider.endpoint_uri
        session = provider._request_session_manager.cache_and_return_session(provider.endpoint_uri)
        session.mount("http://", adapter)
    return adapter


def naive_scan(url: str, token: str, addresses: list[str], native: bool, block: int) -> Any:
    """Read each address's token (and native) balance with one call each; return the counter.

    Raw JSON-RPC requests (no web3 contract layer, which would add an eth_chainId per call).
    """
    adapter = CountingAdapter()
    session = requests.Session()
    session.mount("http://", adapter)
    provider = HTTPProvider(url, session=session)
    tag = hex(block)
    started = time.perf_counter()
    provider.make_request(RPCEndpoint("eth_blockNumber"), [])  # the head, as any watcher reads
    for address in addresses:
        data = BALANCE_OF + address.lower().removeprefix("0x").rjust(64, "0")
        provider.make_request(RPCEndpoint("eth_call"), [{"to": token, "data": data}, tag])
        if native:
            provider.make_request(RPCEndpoint("eth_getBalance"), [address, tag])
    wall = time.perf_counter() - started
    session.close()
    return adapter, wall


def _pairs(accept: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(chain, symbol) for chain, _, symbol in (a.partition(":") for a in accept)]


def _settings(url: str, token: str, db_url: str, accept: tuple[str, ...], chunk: int) -> Settings:
    data = config_dict(database_url=db_url, port=8080, rpc_url=url, token=token, accept=accept)
    data["chains"]["dev"]["address_chunk_size"] = chunk
    return parse_settings(data, env={})


def measure(
    node: Anvil,
    token: str,
    payer: str,
    db_url: str,
    size: int,
    accept: tuple[str, ...],
    chunk: int,
    naive_max: int,
) -> dict[str, Any]:
    """Insert `size` open invoices, mine 10 blocks with payments, scan once; naive beside it."""
    settings = _settings(node.url, token, db_url, accept, chunk)
    db = Database(db_url)
    Base.metadata.drop_all(db.engine)
    db.create_schema()
    now = utcnow()
    w3 = node.w3
    head = w3.eth.block_number
    block = w3.eth.get_block(head)
    inserted = insert_invoices(
        db,
        settings,
        open_count=size,
        accept=_pairs(accept),
        now=now,
        native_block=head,
    )
    with db.transaction() as session:
        session.add(
            ChainCursor(
                chain="dev",
                block_number=head,
                block_hash=block["hash"].to_0x_hex(),
                block_time=now,
                updated_at=now,
            )
        )
    paid = inserted.open_addresses[:: max(1, size // BLOCKS)][:BLOCKS]
    for address in paid:  # automine: one block per payment
        transfer_token(w3, token, payer, address, 25_000_000)
    if len(paid) < BLOCKS:
        node.mine(BLOCKS - len(paid))
    dev = settings.chains["dev"]
    chain = Web3Chain(dev.rpc_urls, address_chunk_size=chunk, multicall3=dev.multicall3)
    adapter = count_chain(chain)
    started = time.perf_counter()
    found = scan_once(db, settings, settings.chains["dev"], chain, utcnow())
    wall = time.perf_counter() - started
    chain.close()
    with db.transaction() as session:
        recorded = session.query(Payment).count()
    db.dispose()
    row: dict[str, Any] = {
        "open_invoices": size,
        "store": "+".join(a.split(":")[1] for a in accept),
        "relay": {**adapter.snapshot(), "wall_s": round(wall, 3), "payments": found},
        "payments_recorded": recorded,
    }
    if size <= naive_max:
        naive, naive_wall = naive_scan(
            node.url, token, inserted.open_addresses, "dev:ETH" in accept, head + BLOCKS
        )
        row["naive"] = {**naive.snapshot(), "wall_s": round(naive_wall, 3)}
        del row["naive"]["methods"]
    else:
        row["naive"] = None  # too slow to run: one call per invoice, linear (see README)
    return row


def run(
    *,
    sizes: tuple[int, ...] = SIZES,
    stores: tuple[str, ...] = ("usdc", "usdc+eth"),
    db: str = "sqlite",
    chunk: int = 1000,
    naive_max: int = 10_000,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Run the scan benchmark for every size and store; return the rows."""
    tmp = Path(workdir or tempfile.mkdtemp(prefix="relay-bench-scan-"))
    rows = []
    with Anvil() as node:
        w3 = node.w3
        payer = node.accounts[1]
        token = deploy_token(w3, name="USD Coin", symbol="USDC", decimals=6)
        mint(w3, token, payer, 10**15)
        for store in stores:
            accept = ("dev:USDC",) if store == "usdc" else ("dev:USDC", "dev:ETH")
            for size in sizes:
                (tmp / f"{store}-{size}").mkdir(parents=True, exist_ok=True)
                db_url = database_url(db, tmp / f"{store}-{size}")
                rows.append(measure(node, token, payer, db_url, size, accept, chunk, naive_max))
    for row in rows:
        naive = row["naive"]
        if naive:
            row["fewer_http_than_naive"] = round(naive["http"] / row["relay"]["http"], 1)
            row["fewer_items_than_naive"] = round(naive["items"] / row["relay"]["items"], 1)
    return {
        "benchmark": "scan",
        "database": db,
        "blocks_per_scan": BLOCKS,
        "address_chunk_size": chunk,
        "rows": rows,
    }


def main() -> None:
    """Parse arguments, run, print the result as JSON."""
    parser = parser_for(__doc__)
    parser.add_argument(
        "--sizes", type=lambda text: tuple(int(s) for s in text.split(",")), default=SIZES
    )
    parser.add_argument(
        "--stores", type=lambda text: tuple(text.split(",")), default=("usdc", "usdc+eth")
    )
    parser.add_argument("--chunk", type=int, default=1000, help="address_chunk_size")
    parser.add_argument(
        "--naive-max", type=int, default=10_000, help="largest size to run the naive design at"
    )
    main_with("scan", parser, run)


if __name__ == "__main__":
    main()
