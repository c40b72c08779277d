"""Talk to EVM chains: the only package that imports web3.

`relay.chain.protocol` is the `Chain` protocol and its plain records (what the watcher and its
recorders use), `relay.chain.rpc` the JSON-RPC implementation (`Web3Chain`: failover, batching,
price feeds), `relay.chain.multicall` Multicall3 balance calldata, `relay.chain.constants` the
addresses, topics and ABIs. This package's own namespace holds the web3-free names only, so the
settings and the watcher import it without loading web3.
"""

from relay.chain.constants import MULTICALL3_ADDRESS, TRANSFER_TOPIC
from relay.chain.protocol import BlockRef, Chain, NativeTx, Receipt, TokenTransfer
from relay.errors import ChainUnavailable

__all__ = [
    "MULTICALL3_ADDRESS",
    "TRANSFER_TOPIC",
    "BlockRef",
    "Chain",
    "ChainUnavailable",
    "NativeTx",
    "Receipt",
    "TokenTransfer",
]
