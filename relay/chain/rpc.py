"""Talk to an EVM chain over JSON-RPC with web3.py: the `Chain` protocol's implementation.

Only the chain layer imports web3. `Web3Chain` fails over between the configured RPC URLs
(inside `pinned`, as a watcher tick reads, it reads from the most advanced node only; a fault
there fails the read instead: relay/watcher/tick.py states the rule),
batches block and receipt reads (JSON-RPC batches), reads native balances with one Multicall3
`aggregate3` eth_call of `getEthBalance` sub-calls per address chunk (relay/chain/multicall.py; or,
on a chain without Multicall3, one JSON-RPC batch of `eth_getBalance` per chunk, as nodes cap batch
sizes), and asks `eth_getLogs` for ERC-20 `Transfer` logs to many deposit addresses at once (topic
OR-lists), so JSON-RPC calls per scan do not grow with the number of open invoices beyond one call
per address chunk. Sources: ethereum/execution-apis (eth_getLogs, eth_call, block tags), web3.py
docs (batch_requests), geth's `--rpc.batch-request-limit` (default 1,000).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from web3 import HTTPProvider, Web3
from web3.exceptions import Web3Exception

from relay.chain.constants import FEED_ABI, MULTICALL3_ADDRESS, RPC_TIMEOUT_SECONDS, TRANSFER_TOPIC
from relay.chain.jsonrpc import (
    batch,
    hex_of,
    is_request_error,
    rpc_error,
    topic_address,
    unsupported,
)
from relay.chain.multicall import aggregate3_balances, decode_balances
from relay.chain.protocol import BlockRef, NativeTx, Receipt, TokenTransfer
from relay.errors import ChainUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


class Web3Chain:
    """The Chain protocol over JSON-RPC with web3.py; fails over between `rpc_urls` in order."""

    def __init__(
        self,
        rpc_urls: Sequence[str],
        *,
        address_chunk_size: int = 1000,
        timeout: float = RPC_TIMEOUT_SECONDS,
        multicall3: str = MULTICALL3_ADDRESS,
    ) -> None:
        self._clients = [
            Web3(HTTPProvider(url, request_kwargs={"timeout": timeout})) for url in rpc_urls
        ]
        self._current = 0
        self._local = threading.local()  # .pin: the node index a thread's tick reads from
        self.address_chunk_size = address_chunk_size
        self.calls = 0  # JSON-RPC requests sent (a batch counts once), for benchmarks
        # balances() reads through this Multicall3 ("" = never); None until its code is checked
        self.multicall3 = multicall3.lower()
        self._multicall3_deployed: bool | None = None if multicall3 else False

    def _call(self, fn: Callable[[Web3], T], *, answers_raise: bool = False) -> T:
        """Return `fn` run on the pinned node, or on the first node that answers (failover).

        A transport error, a timeout, a malformed answer or a JSON-RPC error answer moves on to
        the next node; with `answers_raise` a JSON-RPC error answer is raised as it is (the
        caller reacts to it, as `_logs` bisects a range a provider refused). raises
        ChainUnavailable when no node (or the pinned one) answered.
        """
        pin = getattr(self._local, "pin", None)
        order = (
            [pin]
            if pin is not None
            else [
                (self._current + offset) % len(self._clients)
                for offset in range(len(self._clients))
            ]
        )
        errors = []
        for index in order:
            try:
                self.calls += 1
                result = fn(self._clients[index])
            except (OSError, Web3Exception, ValueError, KeyError, TypeError) as exc:
                if answers_raise and isinstance(exc, Web3Exception) and is_request_error(exc):
                    raise
                errors.append(f"{index}: {type(exc).__name__}: {exc}")
                continue
            if pin is None:
                self._current = index
            return result
        raise ChainUnavailable("no RPC URL answered: " + "; ".join(errors))

    @contextmanager
    def pinned(self) -> Iterator[int]:
        """Read from one node only while the block runs (this thread's calls); yield its head.

        The node is the one with the highest head among those that answer eth_blockNumber (the
        first in `rpc_urls` order on a tie), so a lagging failover node is used only when no
        node ahead of it answers. Inside the block a failed call raises ChainUnavailable (no
        failover: a tick must not mix two nodes' views); the next `pinned` picks again.
        """
        heads: dict[int, int] = {}
        errors = []
        for index, client in enumerate(self._clients):
            try:
                self.calls += 1
                heads[index] = int(client.eth.block_number)
            except (OSError, Web3Exception, ValueError, KeyError, TypeError) as exc:
                errors.append(f"{index}: {type(exc).__name__}: {exc}")
        if not heads:
            raise ChainUnavailable("no RPC URL answered: " + "; ".join(errors))
        best = max(heads, key=lambda index: (heads[index], -index))
        self._local.pin = best
        try:
            yield heads[best]
        finally:
            self._local.pin = None

    def close(self) -> None:
        """Close the HTTP sessions of every provider."""
        for client in self._clients:
            provider = client.provider
            if isinstance(provider, HTTPProvider) and provider.endpoint_uri:
                session = provider._request_session_manager.cache_and_return_session(
                    provider.endpoint_uri
                )
                session.close()

    def chain_id(self) -> int:
        """Return the node's chain id."""
        return self._call(lambda w3: int(w3.eth.chain_id))

    def head(self) -> int:
        return self._call(lambda w3: int(w3.eth.block_number))

    def finalized(self) -> int | None:
        def read(w3: Web3) -> int | None:
            try:
                block = w3.eth.get_block("finalized")
            except Web3Exception:
                return None
            return int(block["number"])

        return self._call(read)

    def blocks(self, numbers: Sequence[int]) -> dict[int, BlockRef]:
        return {ref.number: ref for ref, _ in self._get_blocks(numbers, full=False)}

    def _get_blocks(self, numbers: Sequence[int], *, full: bool) -> list[tuple[BlockRef, Any]]:
        """Return (ref, raw JSON block) of the numbers that exist, in order; a missing block is
        left out, an error answer for any of them fails the read (never read as missing)."""
        if not numbers:
            return []
        wanted = list(numbers)
        requests_ = [("eth_getBlockByNumber", [hex(n), full]) for n in wanted]
        raw = self._call(lambda w3: batch(w3, requests_))
        return [
            (BlockRef(int(b["number"], 16), hex_of(b["hash"]), int(b["timestamp"], 16)), b)
            for b in raw
            if b is not None
        ]

    def native_transfers(self, recipients: set[str], start: int, end: int) -> list[NativeTx]:
        if not recipients or end < start:
            return []
        found = []
        for ref, block in self._get_blocks(list(range(start, end + 1)), full=True):
            for tx in block["transactions"]:
                to, value = tx.get("to"), int(tx["value"], 16)
                if to and to.lower() in recipients and value > 0:
                    sender = Web3.to_checksum_address(tx["from"])
                    recipient = Web3.to_checksum_address(to)
                    found.append(NativeTx(hex_of(tx["hash"]), sender, recipient, value, ref))
        return found

    def token_transfers(
        self, tokens: Sequence[str], recipients: Sequence[str], start: int, end: int
    ) -> list[TokenTransfer]:
        if not tokens or not recipients or end < start:
            return []
        found: list[TokenTransfer] = []
        ordered = sorted({r.lower() for r in recipients})
        for i in range(0, len(ordered), self.address_chunk_size):
            chunk = ordered[i : i + self.address_chunk_size]
            found.extend(self._logs(list(tokens), chunk, start, end))
        return found

    def _logs(
        self, tokens: list[str], recipients: list[str], start: int, end: int
    ) -> list[TokenTransfer]:
        params: Any = {
            "fromBlock": start,
            "toBlock": end,
            "address": [Web3.to_checksum_address(t) for t in tokens],
            "topics": [TRANSFER_TOPIC, None, [topic_address(r) for r in recipients]],
        }
        try:
            logs = self._call(lambda w3: w3.eth.get_logs(params), answers_raise=True)
        except Web3Exception:
            if start == end:
                raise ChainUnavailable(f"eth_getLogs of block {start} failed") from None
            # providers cap ranges and result sizes: bisect the block range and try again
            middle = (start + end) // 2
            return self._logs(tokens, recipients, start, middle) + self._logs(
                tokens, recipients, middle + 1, end
            )
        result = []
        for entry in logs:
            topics = entry["topics"]
            if len(topics) != 3 or hex_of(topics[0]) != TRANSFER_TOPIC:
                continue  # an ERC-721 Transfer has 4 topics; not a fungible payment
            data = hex_of(entry["data"])
            result.append(
                TokenTransfer(
                    token=str(entry["address"]),
                    sender=Web3.to_checksum_address("0x" + hex_of(topics[1])[-40:]),
                    to=Web3.to_checksum_address("0x" + hex_of(topics[2])[-40:]),
                    amount=int(data, 16) if data != "0x" else 0,
                    tx_hash=hex_of(entry["transactionHash"]),
                    log_index=int(entry["logIndex"]),
                    block_number=int(entry["blockNumber"]),
                    block_hash=hex_of(entry["blockHash"]),
                )
            )
        return result

    def receipts(self, tx_hashes: Sequence[str]) -> dict[str, Receipt]:
        if not tx_hashes:
            return {}
        hashes = list(dict.fromkeys(tx_hashes))

        # raw JSON-RPC batch: web3's formatters raise for the whole batch on one null receipt;
        # an error answer for one receipt fails the read (a missing receipt means "not mined")
        requests_ = [("eth_getTransactionReceipt", [h]) for h in hashes]
        found: dict[str, Receipt] = {}
        for r in self._call(lambda w3: batch(w3, requests_)):
            if isinstance(r, dict) and r.get("blockHash"):
                found[hex_of(r["transactionHash"])] = Receipt(
                    int(r["status"], 16), int(r["blockNumber"], 16), hex_of(r["blockHash"])
                )
        return found

    def balances(self, addresses: Sequence[str], block: int) -> dict[str, int]:
        """Return each address's native balance in wei at `block` (lowercase address keys).

        One request per chunk of `address_chunk_size` addresses: a Multicall3 `aggregate3`
        eth_call of `getEthBalance` sub-calls at `block` (one JSON-RPC item), or, when Multicall3
        is off ("") or has no code on this chain, a JSON-RPC batch of `eth_getBalance` (one item
        per address). The first read also asks for Multicall3's code (eth_getCode at "latest", in
        the same HTTP request) and remembers the answer for this client's life. Raises
        ChainUnavailable when no RPC URL gives a complete, well-formed answer: a failed or
        malformed read fails, it never reads as zero.
        """
        if not addresses:
            return {}
        unique = list(dict.fromkeys(a.lower() for a in addresses))
        tag = hex(block)
        found: dict[str, int] = {}
        # one request per address chunk: nodes cap batches (geth's default is 1,000 calls) and
        # the gas of one eth_call
        for i in range(0, len(unique), self.address_chunk_size):
            chunk = unique[i : i + self.address_chunk_size]
            values = None
            if self._multicall3_deployed is not False:
                values = self._call(self._multicall_balances(chunk, tag))
            if values is None:
                values = self._call(self._batch_balances(chunk, tag))
            found.update(zip(chunk, values, strict=True))
        return found

    def _multicall_balances(self, chunk: list[str], tag: str) -> Callable[[Web3], list[int] | None]:
        """Return a read of `chunk`'s balances through Multicall3; it gives None without code."""
        call = {"to": self.multicall3, "data": "0x" + aggregate3_balances(self.multicall3, chunk)}

        def read(w3: Web3) -> list[int] | None:
            provider: Any = w3.provider
            if self._multicall3_deployed is None:
                answers = provider.make_batch_request(
                    [("eth_getCode", [self.multicall3, "latest"]), ("eth_call", [call, tag])]
                )
                if isinstance(answers, dict) or len(answers) != 2:
                    raise ValueError(f"balance multicall failed: {rpc_error(answers)}")
                code, answer = answers
                if code.get("error") or not isinstance(code.get("result"), str):
                    raise ValueError(f"Multicall3 code check failed: {code.get('error')}")
                self._multicall3_deployed = code["result"] not in ("0x", "0x0")
                if not self._multicall3_deployed:
                    log.info(
                        "no Multicall3 code at %s: native balances are read one eth_getBalance "
                        "each (batched per address chunk)",
                        self.multicall3,
                    )
                    return None
            else:
                answer = provider.make_request("eth_call", [call, tag])
            if not isinstance(answer, dict) or answer.get("error") or "result" not in answer:
                raise ValueError(f"balance multicall failed: {rpc_error(answer)}")
            return decode_balances(answer["result"], len(chunk))

        return read

    def _batch_balances(self, chunk: list[str], tag: str) -> Callable[[Web3], list[int]]:
        """Return a read of `chunk`'s balances as one JSON-RPC batch of eth_getBalance."""

        def read(w3: Web3) -> list[int]:
            # raw JSON-RPC batch: web3's per-call formatting costs more than the node's answer
            answers = batch(w3, [("eth_getBalance", [address, tag]) for address in chunk])
            return [int(answer, 16) for answer in answers]

        return read

    def internal_transfers(self, block: int, recipients: set[str]) -> list[NativeTx] | None:
        def read(w3: Web3) -> Any:
            response = w3.provider.make_request(
                "debug_traceBlockByNumber",  # type: ignore[arg-type]
                [hex(block), {"tracer": "callTracer"}],
            )
            return response

        response = self._call(read)
        if "error" in response and unsupported(response["error"]):
            return None  # the node offers no call traces
        if not isinstance(response.get("result"), list):
            raise ChainUnavailable(f"trace of block {block} failed: {rpc_error(response)}")
        ref = self.blocks([block]).get(block)
        if ref is None:
            raise ChainUnavailable(f"block {block} is not there any more")
        found: list[NativeTx] = []
        for entry in response["result"]:
            tx_hash = entry.get("txHash")
            top = entry.get("result") or {}
            for ordinal, call in enumerate(_nested_calls(top)):
                to = str(call.get("to") or "").lower()
                value = int(call.get("value") or "0x0", 16)
                if to in recipients and value > 0 and not call.get("error"):
                    sender = str(call.get("from"))
                    found.append(NativeTx(str(tx_hash), sender, to, value, ref, ordinal))
        return found

    def call_batch(self, requests_: list[tuple[str, list[Any]]]) -> list[Any]:
        """Return the results of one raw JSON-RPC batch (None for a null result); raises
        ChainUnavailable when no node gives every call an answer (an error answer included)."""
        return self._call(lambda w3: batch(w3, requests_))

    def code_at(self, address: str) -> bytes:
        """Return the code an address holds at the latest block (eth_getCode; b"" for an EOA)."""
        checksummed = Web3.to_checksum_address(address)
        return bytes(self._call(lambda w3: w3.eth.get_code(checksummed)))

    def latest_round(self, feed: str) -> tuple[int, int, int]:
        """Return a Chainlink feed's (answer, decimals, updated_at unix seconds)."""

        def read(w3: Web3) -> tuple[int, int, int]:
            contract = w3.eth.contract(address=Web3.to_checksum_address(feed), abi=FEED_ABI)
            decimals = int(contract.functions.decimals().call())
            _, answer, _, updated_at, _ = contract.functions.latestRoundData().call()
            return int(answer), decimals, int(updated_at)

        return self._call(read)


def _nested_calls(call: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the calls below a callTracer frame (not the top-level transaction itself)."""
    found = []
    for child in call.get("calls") or []:
        if child.get("type") in ("CALL", "CALLCODE", "SELFDESTRUCT", "CREATE", "CREATE2"):
            found.append(child)
        found.extend(_nested_calls(child))
    return found
