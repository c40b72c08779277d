"""Send raw JSON-RPC batches and read their answers strictly: helpers of relay/chain/rpc.py.

A fault must never read as an absence: an error answer for one call of a batch fails the whole
read (the caller fails over or fails the tick), while a null result ("no such block", "not
mined") is an answer. Source: the JSON-RPC 2.0 specification (batch, error objects).
"""

from __future__ import annotations

from typing import Any

from web3 import Web3
from web3.exceptions import Web3Exception

# words of an error answer that mean the node does not offer the method at all
UNSUPPORTED = ("not supported", "method not found", "does not exist", "not available")


def hex_of(value: Any) -> str:
    """Return 0x-prefixed lowercase hex for HexBytes, bytes or str."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text.lower() if text.startswith("0x") else "0x" + text.lower()


def topic_address(address: str) -> str:
    """Return an address as a 32-byte log topic (left-padded with zeros)."""
    return "0x" + "0" * 24 + address.lower().removeprefix("0x")


def batch(w3: Web3, requests_: list[tuple[str, list[Any]]]) -> list[Any]:
    """Send one JSON-RPC batch; return each call's result in order (None for a null result).

    raises ValueError for a batch-level error, a missing answer or any call's error answer, so
    a fault never reads as "no such block" or "not mined".
    """
    answers = w3.provider.make_batch_request(requests_)  # type: ignore[attr-defined]
    if not isinstance(answers, list) or len(answers) != len(requests_):
        raise ValueError(f"batch of {len(requests_)} failed: {rpc_error(answers)}")
    failed = next((a for a in answers if not isinstance(a, dict) or "result" not in a), None)
    if failed is not None:
        raise ValueError(f"batch call failed: {rpc_error(failed)}")
    return [a["result"] for a in answers]


def unsupported(error: Any) -> bool:
    """Tell a JSON-RPC error that says the method is not offered (-32601, "not supported")."""
    if not isinstance(error, dict):
        return False
    message = str(error.get("message", "")).lower()
    return error.get("code") == -32601 or any(words in message for words in UNSUPPORTED)


def rpc_error(answer: Any) -> Any:
    """Return the error of a raw JSON-RPC answer (or the answer itself when it has none)."""
    return answer.get("error", answer) if isinstance(answer, dict) else answer


def is_request_error(exc: Web3Exception) -> bool:
    """Tell a JSON-RPC error answer (the node answered) from a transport error."""
    return type(exc).__name__ in ("Web3RPCError", "BlockNotFound", "TransactionNotFound")
