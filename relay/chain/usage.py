"""Tell whether an address was ever used on a chain: nonce, native balance, token balances, and
token Transfer logs to it over a bounded lookback (relay/address_checks.py asks before an xpub
address is handed out).

One JSON-RPC batch (eth_blockNumber, eth_getBalance, eth_getTransactionCount, and an ERC-20
`balanceOf` eth_call per token, all at "latest"), then, when those show nothing, eth_getLogs for
`Transfer` to the address from the tokens over the last `lookback` blocks (bisected by
relay/chain/rpc.py if a provider refuses the range). All from one node (`Web3Chain.pinned`).
Sources: ethereum/execution-apis; EIP-20 (`balanceOf`, `Transfer`).
"""

from __future__ import annotations

from collections.abc import Sequence

from relay.chain.jsonrpc import topic_address
from relay.chain.rpc import Web3Chain

BALANCE_OF = "0x70a08231"  # balanceOf(address)


def address_usage(
    chain: Web3Chain, address: str, tokens: Sequence[str], lookback: int
) -> str | None:
    """Return what shows `address` was used ("nonce 3", "balance 5 wei", "token 0x… balance 7",
    "token transfer in block 12"), or None when nothing does. raises ChainUnavailable."""
    calls: list[tuple[str, list[object]]] = [
        ("eth_blockNumber", []),
        ("eth_getBalance", [address, "latest"]),
        ("eth_getTransactionCount", [address, "latest"]),
    ]
    data = BALANCE_OF + topic_address(address)[2:]
    calls += [("eth_call", [{"to": token, "data": data}, "latest"]) for token in tokens]
    with chain.pinned():
        answers = chain.call_batch(calls)
        head, balance, nonce = (_int(answer) for answer in answers[:3])
        found = [f"nonce {nonce}"] if nonce else []
        if balance:
            found.append(f"balance {balance} wei")
        for token, answer in zip(tokens, answers[3:], strict=True):
            if _int(answer):
                found.append(f"token {token} balance {_int(answer)}")
        if not found and tokens and lookback > 0:
            logs = chain.token_transfers(tokens, [address], max(head - lookback + 1, 0), head)
            if logs:
                found.append(f"token transfer in block {logs[0].block_number}")
    return ", ".join(found) or None


def _int(answer: object) -> int:
    """Return a hex quantity or 32-byte word as an int ("0x" and None read as 0)."""
    text = str(answer or "0x")
    return int(text, 16) if text not in ("0x", "") else 0
