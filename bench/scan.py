"""Scan cost: what one watcher scan of 10 busy blocks costs, by open invoices, beside other designs.

`.venv/bin/python -m bench.scan` runs, for 10, 1,000, 10,000 and 100,000 open invoices (bulk
inserted with SQLAlchemy core, bench/fixtures.py: the rows the watcher reads, as the API would
write them) and for a USDC-only and a USDC+ETH store, over the same 10 new anvil blocks:

* `relay`: one `relay.watcher.scan_once`, as `relay serve` runs it;
* `naive`: per-invoice polling, one `balanceOf` eth_call per open invoice (and one
  `eth_getBalance` for the ETH store), each its own HTTP request. Above `--naive-max` it is not
  run but extrapolated from the largest size run (it is linear: one call per invoice).

The blocks are busy, as a real token's are: each carries `--background` transfers of the same
token to addresses the relay does not watch and `--contract-eth` ETH transfers made by a contract
(PaymentRouter.forwardEth, an internal call) to unwatched addresses, and one USDC payment to an
open invoice (10 payments in all). Each design scans a copy of the same database.

Counted per scan by a requests adapter mounted on the chain client's HTTP session: `http` HTTP
requests (a JSON-RPC batch is one), `items` JSON-RPC calls (a batch of n counts n; a Multicall3
`eth_call` counts one, as providers bill it), `sent_kib`/`received_kib` HTTP bodies (headers left
out), `logs` log objects returned by eth_getLogs, `rpc_s` time waiting for answers, `wall_s` the
whole scan (database included), and `cu` the provider cost in Alchemy compute units from its
published per-method table (ALCHEMY_CU below; a batch costs the sum of its calls).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import requests
from requests.adapters import HTTPAdapter
from web3 import HTTPProvider, Web3
from web3.types import RPCEndpoint

from bench.common import (
    PG_ADMIN_URL,
    PG_DATABASE,
    config_dict,
    database_url,
    main_with,
    parser_for,
)
from bench.fixtures import insert_invoices, random_address
from devkit.devchain import Anvil, deploy_router, deploy_token, mint
from relay.chain.rpc import Web3Chain
from relay.config import parse_settings
from relay.db import Database
from relay.models import Base, ChainCursor, Payment, utcnow
from relay.settings import Settings
from relay.watcher import scan_once

SIZES = (10, 1_000, 10_000, 100_000)
BLOCKS = 10
BACKGROUND = 50  # token transfers per block to unwatched addresses
CONTRACT_ETH = 2  # ETH transfers per block made by a contract, to unwatched addresses
BALANCE_OF = "0x70a08231"  # balanceOf(address)
TRANSFER = "0xa9059cbb"  # transfer(address,uint256)
FORWARD_ETH = "0x" + Web3.keccak(text="forwardEth(address)")[:4].hex()
# Alchemy compute units per call, EVM standard JSON-RPC methods and the debug API, from
# https://www.alchemy.com/docs/reference/compute-unit-costs (read 2026-12-04); a batch costs the
# sum of its calls. Methods missing here count DEFAULT_CU.
ALCHEMY_CU = {
    "eth_chainId": 0,
    "eth_blockNumber": 10,
    "eth_getTransactionReceipt": 20,
    "eth_getBlockByNumber": 20,
    "eth_getBlockByHash": 20,
    "eth_getBalance": 20,
    "eth_getCode": 20,
    "eth_call": 26,
    "eth_getLogs": 60,
    "eth_getBlockReceipts": 20,
    "debug_traceBlockByNumber": 40,
    "trace_filter": 40,
}
DEFAULT_CU = 20
_METHOD = re.compile(rb'"method"\s*:\s*"([A-Za-z0-9_]+)"')
_LOG = re.compile(rb'"logIndex"')


class CountingAdapter(HTTPAdapter):
    """Count HTTP requests, JSON-RPC items, body bytes, returned logs, compute units and waiting
    time of JSON-RPC traffic."""

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        self.http = 0
        self.items = 0
        self.sent_bytes = 0
        self.received_bytes = 0
        self.logs = 0
        self.seconds = 0.0
        self.methods: Counter[str] = Counter()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        names = [name.decode() for name in _METHOD.findall(body)]
        started = time.perf_counter()
        response = super().send(request, *args, **kwargs)
        content = response.content
        self.seconds += time.perf_counter() - started
        self.http += 1
        self.items += len(names)
        self.sent_bytes += len(body)
        self.received_bytes += len(content)
        if names == ["eth_getLogs"]:  # receipts carry logs too: count what eth_getLogs returns
            self.logs += len(_LOG.findall(content))
        self.methods.update(names)
        return response

    @property
    def cu(self) -> int:
        """Return the Alchemy compute units of the traffic counted so far."""
        return sum(ALCHEMY_CU.get(name, DEFAULT_CU) * n for name, n in self.methods.items())

    def snapshot(self) -> dict[str, Any]:
        """Return the counters as a dict."""
        return {
            "http": self.http,
            "items": self.items,
            "sent_kib": round(self.sent_bytes / 1024, 1),
            "received_kib": round(self.received_bytes / 1024, 1),
            "logs": self.logs,
            "cu": self.cu,
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


def _word(value: int | str) -> str:
    if isinstance(value, str):
        return value.lower().removeprefix("0x").rjust(64, "0")
    return hex(value)[2:].rjust(64, "0")


def mine_busy_blocks(
    node: Anvil,
    token: str,
    router: str,
    payer: str,
    paid: list[str],
    background: int,
    contract_eth: int,
) -> None:
    """Mine BLOCKS blocks, each with `background` token transfers and `contract_eth` contract ETH
    transfers to fresh unwatched addresses, and one token payment of 25 USDC to the next of
    `paid` (while any is left)."""
    node.set_automine(False)
    try:
        for number in range(BLOCKS):
            sends = [
                (token, TRANSFER + _word(random_address()) + _word(1_000 + i), 0)
                for i in range(background)
            ]
            sends += [
                (router, FORWARD_ETH + _word(random_address()), 10**15) for _ in range(contract_eth)
            ]
            if number < len(paid):
                sends.append((token, TRANSFER + _word(paid[number]) + _word(25_000_000), 0))
            for to, data, value in sends:
                tx = {
                    "from": payer,
                    "to": to,
                    "data": data,
                    "gas": hex(100_000),
                    "value": hex(value),
                }
                node.rpc("eth_sendTransaction", [tx])
            node.mine(1)
    finally:
        node.set_automine(True)


def clone(kind: str, url: str, tmp: Path, name: str) -> str:
    """Return the URL of a copy of database `url` (a file copy, or a PostgreSQL template)."""
    if kind == "sqlite":
        source = Path(url.removeprefix("sqlite:///"))
        target = tmp / f"design-{name}.db"
        shutil.copy(source, target)
        return f"sqlite:///{target}"
    copy = f"{PG_DATABASE}_{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {copy} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {copy} TEMPLATE {PG_DATABASE}")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{copy}"


def _pairs(accept: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(chain, symbol) for chain, _, symbol in (a.partition(":") for a in accept)]


def _settings(url: str, token: str, db_url: str, accept: tuple[str, ...], chunk: int) -> Settings:
    data = config_dict(database_url=db_url, port=8080, rpc_url=url, token=token, accept=accept)
    data["chains"]["dev"]["address_chunk_size"] = chunk
    return parse_settings(data, env={})


def relay_scan(settings: Settings, db_url: str, chunk: int) -> dict[str, Any]:
    """Run one `scan_once` on the database at `db_url`; return its counters and payments."""
    dev = settings.chains["dev"]
    db = Database(db_url)
    chain = Web3Chain(dev.rpc_urls, address_chunk_size=chunk, multicall3=dev.multicall3)
    adapter = count_chain(chain)
    started = time.perf_counter()
    found = scan_once(db, settings, dev, chain, utcnow())
    wall = time.perf_counter() - started
    chain.close()
    with db.transaction() as session:
        recorded = session.query(Payment).count()
    db.dispose()
    return {**adapter.snapshot(), "wall_s": round(wall, 3), "payments": found, "recorded": recorded}


def measure(
    node: Anvil,
    token: str,
    router: str,
    payer: str,
    kind: str,
    db_url: str,
    tmp: Path,
    size: int,
    accept: tuple[str, ...],
    chunk: int,
    naive_max: int,
    background: int,
    contract_eth: int,
) -> dict[str, Any]:
    """Insert `size` open invoices, mine 10 busy blocks with payments, scan them by each design."""
    settings = _settings(node.url, token, db_url, accept, chunk)
    db = Database(db_url)
    Base.metadata.drop_all(db.engine)
    db.create_schema()
    now = utcnow()
    w3 = node.w3
    head = w3.eth.block_number
    block = w3.eth.get_block(head)
    inserted = insert_invoices(
        db, settings, open_count=size, accept=_pairs(accept), now=now, native_block=head
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
    db.dispose()
    paid = inserted.open_addresses[:: max(1, size // BLOCKS)][:BLOCKS]
    mine_busy_blocks(node, token, router, payer, paid, background, contract_eth)
    row: dict[str, Any] = {
        "open_invoices": size,
        "store": "+".join(a.split(":")[1] for a in accept),
        "relay": relay_scan(settings, clone(kind, db_url, tmp, "relay"), chunk),
    }
    if size <= naive_max:
        naive, naive_wall = naive_scan(
            node.url, token, inserted.open_addresses, "dev:ETH" in accept, head + BLOCKS
        )
        row["naive"] = {**naive.snapshot(), "wall_s": round(naive_wall, 3)}
        del row["naive"]["methods"]
    return row


def _extrapolate(rows: list[dict[str, Any]]) -> None:
    """Fill `naive` where it was not run from the largest run of the same store (it is linear:
    one call per invoice and asset, and a head read)."""
    for row in rows:
        if "naive" in row:
            continue
        runs = [r for r in rows if r["store"] == row["store"] and "naive" in r]
        if not runs:
            continue
        base = max(runs, key=lambda r: r["open_invoices"])
        scale = row["open_invoices"] / base["open_invoices"]
        row["naive"] = {
            key: (round(value * scale, 3) if isinstance(value, float) else round(value * scale))
            for key, value in base["naive"].items()
        }
        row["naive"]["extrapolated_from"] = base["open_invoices"]


def run(
    *,
    sizes: tuple[int, ...] = SIZES,
    stores: tuple[str, ...] = ("usdc", "usdc+eth"),
    db: str = "sqlite",
    chunk: int = 1000,
    naive_max: int = 10_000,
    background: int = BACKGROUND,
    contract_eth: int = CONTRACT_ETH,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Run the scan benchmark for every size and store; return the rows."""
    tmp = Path(workdir or tempfile.mkdtemp(prefix="relay-bench-scan-"))
    rows = []
    with Anvil() as node:
        w3 = node.w3
        payer = node.accounts[1]
        token = deploy_token(w3, name="USD Coin", symbol="USDC", decimals=6)
        router = deploy_router(w3)
        mint(w3, token, payer, 10**15)
        for store in stores:
            accept = ("dev:USDC",) if store == "usdc" else ("dev:USDC", "dev:ETH")
            for size in sizes:
                folder = tmp / f"{store}-{size}"
                folder.mkdir(parents=True, exist_ok=True)
                db_url = database_url(db, folder)
                rows.append(
                    measure(
                        node,
                        token,
                        router,
                        payer,
                        db,
                        db_url,
                        folder,
                        size,
                        accept,
                        chunk,
                        naive_max,
                        background,
                        contract_eth,
                    )
                )
    _extrapolate(rows)
    for row in rows:
        naive, relay = row.get("naive"), row["relay"]
        if naive:
            row["relay_vs_naive"] = {
                key: round(relay[key] / naive[key], 4) if naive[key] else None
                for key in ("http", "items", "sent_kib", "received_kib", "cu")
            }
    return {
        "benchmark": "scan",
        "database": db,
        "blocks_per_scan": BLOCKS,
        "background_token_transfers_per_block": background,
        "contract_eth_transfers_per_block": contract_eth,
        "address_chunk_size": chunk,
        "price_list": "https://www.alchemy.com/docs/reference/compute-unit-costs",
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
    parser.add_argument(
        "--background", type=int, default=BACKGROUND, help="unwatched token transfers per block"
    )
    parser.add_argument(
        "--contract-eth", type=int, default=CONTRACT_ETH, help="contract ETH transfers per block"
    )
    main_with("scan", parser, run)


if __name__ == "__main__":
    main()
