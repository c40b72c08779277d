"""Talk to an EVM chain over JSON-RPC with web3.py: the `Chain` protocol's implementation.

Only the chain layer imports web3. `Web3Chain` fails over between the configured RPC URLs,
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
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from web3 import HTTPProvider, Web3
from web3.exceptions import Web3Exception

from relay.chain.constants import FEED_ABI, MULTICALL3_ADDRESS, RPC_TIMEOUT_SECONDS, TRANSFER_TOPIC
from relay.chain.multicall import aggregate3_balances, decode_balances
from relay.chain.protocol import BlockRef, NativeTx, Receipt, TokenTransfer
from relay.errors import ChainUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


def _hex(value: Any) -> str:
    """Return 0x-prefixed lowercase hex for HexBytes, bytes or str."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text.lower() if text.startswith("0x") else "0x" + text.lower()


def _topic_address(address: str) -> str:
    return "0x" + "0" * 24 + address.lower().removeprefix("0x")


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
        self.address_chunk_size = address_chunk_size
        self.calls = 0  # JSON-RPC requests sent (a batch counts once), for benchmarks
        # balances() reads through this Multicall3 ("" = never); None until its code is checked
        self.multicall3 = multicall3.lower()
        self._multicall3_deployed: bool | None = None if multicall3 else False

    def _call(self, fn: Callable[[Web3], T]) -> T:
        errors = []
        for offset in range(len(self._clients)):
            index = (self._current + offset) % len(self._clients)
            try:
                self.calls += 1
                result = fn(self._clients[index])
            except (OSError, Web3Exception, ValueError) as exc:
                if isinstance(exc, Web3Exception) and _is_request_error(exc):
                    raise
                errors.append(f"{index}: {exc}")
                continue
            self._current = index
            return result
        raise ChainUnavailable("no RPC URL answered: " + "; ".join(errors))

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
        return {ref.number: ref for ref in self._get_blocks(numbers, full=False)[0]}

    def _get_blocks(
        self, numbers: Sequence[int], *, full: bool
    ) -> tuple[list[BlockRef], list[Any]]:
        if not numbers:
            return [], []

        def read(w3: Web3) -> list[Any]:
            with w3.batch_requests() as batch:
                for number in numbers:
                    batch.add(w3.eth.get_block(number, full))
                return list(batch.execute())

        raw = self._call(read)
        refs = [
            BlockRef(int(b["number"]), _hex(b["hash"]), int(b["timestamp"]))
            for b in raw
            if b is not None and not isinstance(b, Exception)
        ]
        return refs, raw

    def native_transfers(self, recipients: set[str], start: int, end: int) -> list[NativeTx]:
        if not recipients or end < start:
            return []
        refs, raw = self._get_blocks(list(range(start, end + 1)), full=True)
        found = []
        for ref, block in zip(refs, raw, strict=False):
            for tx in block["transactions"]:
                to = tx.get("to")
                if to and to.lower() in recipients and int(tx["value"]) > 0:
                    found.append(
                        NativeTx(_hex(tx["hash"]), str(tx["from"]), str(to), int(tx["value"]), ref)
                    )
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
            "topics": [TRANSFER_TOPIC, None, [_topic_address(r) for r in recipients]],
        }
        try:
            logs = self._call(lambda w3: w3.eth.get_logs(params))
        except Web3Exception:
            if start == end:
                raise
            # providers cap ranges and result sizes: bisect the block range and try again
            middle = (start + end) // 2
            return self._logs(tokens, recipients, start, middle) + self._logs(
                tokens, recipients, middle + 1, end
            )
        result = []
        for entry in logs:
            topics = entry["topics"]
            if len(topics) != 3 or _hex(topics[0]) != TRANSFER_TOPIC:
                continue  # an ERC-721 Transfer has 4 topics; not a fungible payment
            data = _hex(entry["data"])
            result.append(
                TokenTransfer(
                    token=str(entry["address"]),
                    sender=Web3.to_checksum_address("0x" + _hex(topics[1])[-40:]),
                    to=Web3.to_checksum_address("0x" + _hex(topics[2])[-40:]),
                    amount=int(data, 16) if data != "0x" else 0,
                    tx_hash=_hex(entry["transactionHash"]),
                    log_index=int(entry["logIndex"]),
                    block_number=int(entry["blockNumber"]),
                    block_hash=_hex(entry["blockHash"]),
                )
            )
        return result

    def receipts(self, tx_hashes: Sequence[str]) -> dict[str, Receipt]:
        if not tx_hashes:
            return {}
        hashes = list(dict.fromkeys(tx_hashes))

        def read(w3: Web3) -> list[Any]:
            # raw JSON-RPC batch: web3's formatters raise for the whole batch on one null receipt
            requests_ = [("eth_getTransactionReceipt", [h]) for h in hashes]
            answers = w3.provider.make_batch_request(requests_)  # type: ignore[attr-defined]
            if isinstance(answers, dict):  # a batch-level error
                raise ValueError(f"receipt batch failed: {answers.get('error')}")
            return [a.get("result") for a in answers]

        found: dict[str, Receipt] = {}
        for r in self._call(read):
            if isinstance(r, dict) and r.get("blockHash"):
                found[_hex(r["transactionHash"])] = Receipt(
                    int(r["status"], 16), int(r["blockNumber"], 16), _hex(r["blockHash"])
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
                    raise ValueError(f"balance multicall failed: {_rpc_error(answers)}")
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
                raise ValueError(f"balance multicall failed: {_rpc_error(answer)}")
            return decode_balances(answer["result"], len(chunk))

        return read

    def _batch_balances(self, chunk: list[str], tag: str) -> Callable[[Web3], list[int]]:
        """Return a read of `chunk`'s balances as one JSON-RPC batch of eth_getBalance."""

        def read(w3: Web3) -> list[int]:
            # raw JSON-RPC batch: web3's per-call formatting costs more than the node's answer
            requests_ = [("eth_getBalance", [address, tag]) for address in chunk]
            answers = w3.provider.make_batch_request(requests_)  # type: ignore[attr-defined]
            if isinstance(answers, dict):  # a batch-level error (too large, rate limited)
                raise ValueError(f"balance batch failed: {answers.get('error')}")
            failed = next((a["error"] for a in answers if a.get("error")), None)
            if failed is not None or len(answers) != len(chunk):
                raise ValueError(f"balance batch failed: {failed}")
            return [int(a["result"], 16) for a in answers]

        return read

    def internal_transfers(self, block: int, recipients: set[str]) -> list[NativeTx] | None:
        def read(w3: Web3) -> Any:
            response = w3.provider.make_request(
                "debug_traceBlockByNumber",  # type: ignore[arg-type]
                [hex(block), {"tracer": "callTracer"}],
            )
            return response

        response = self._call(read)
        if "error" in response or not isinstance(response.get("result"), list):
            return None
        ref = self.blocks([block]).get(block)
        if ref is None:
            return []
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


def _rpc_error(answer: Any) -> Any:
    """Return the error of a raw JSON-RPC answer (or the answer itself when it has none)."""
    return answer.get("error", answer) if isinstance(answer, dict) else answer


def _nested_calls(call: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the calls below a callTracer frame (not the top-level transaction itself)."""
    found = []
    for child in call.get("calls") or []:
        if child.get("type") in ("CALL", "CALLCODE", "SELFDESTRUCT", "CREATE", "CREATE2"):
            found.append(child)
        found.extend(_nested_calls(child))
    return found


def _is_request_error(exc: Web3Exception) -> bool:
    """Tell a JSON-RPC error answer (the node answered; don't fail over) from a transport error."""
    return type(exc).__name__ in ("Web3RPCError", "BlockNotFound", "TransactionNotFound")
