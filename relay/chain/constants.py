"""Name the chain facts the relay relies on: contract addresses, event topics, selectors, ABIs.

Plain data (no web3): the settings use `MULTICALL3_ADDRESS` as the default of the chain key
`multicall3`. Sources: github.com/mds1/multicall3 (Multicall3's address and ABI), EIP-20 (the
`Transfer` event), Chainlink's AggregatorV3Interface.
"""

from __future__ import annotations

from typing import Any

# Multicall3's address on most EVM chains (github.com/mds1/multicall3): the default of the chain
# key `multicall3`, through which the watcher reads native balances (relay/chain/rpc.py).
MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"
# keccak256("Transfer(address,address,uint256)"): the ERC-20 transfer log's first topic
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
AGGREGATE3 = bytes.fromhex("82ad56cb")  # Multicall3.aggregate3((address,bool,bytes)[])
GET_ETH_BALANCE = bytes.fromhex("4d2301cc")  # Multicall3.getEthBalance(address)
RPC_TIMEOUT_SECONDS = 20  # one JSON-RPC request to one URL, before failing over to the next

FEED_ABI: list[dict[str, Any]] = [
    {
        "name": "decimals",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint8"}],
    },
    {
        "name": "latestRoundData",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [
            {"name": "roundId", "type": "uint80"},
            {"name": "answer", "type": "int256"},
            {"name": "startedAt", "type": "uint256"},
            {"name": "updatedAt", "type": "uint256"},
            {"name": "answeredInRound", "type": "uint80"},
        ],
    },
]  # Chainlink AggregatorV3Interface, the two views the relay reads
