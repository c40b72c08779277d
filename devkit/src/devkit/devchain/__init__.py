"""The dev chain: an anvil node in a child process (`anvil`) and its contracts (`contracts`).

Nothing here is used by `relay serve` in production.
"""

from devkit.devchain.anvil import DEV_MNEMONIC, Anvil, anvil_path, install_multicall3
from devkit.devchain.contracts import (
    batch_transfer,
    deploy_price_feed,
    deploy_router,
    deploy_token,
    forward_eth,
    load_artifact,
    mint,
    send_eth,
    set_feed_answer,
    token_balance,
    transfer_then_revert,
    transfer_token,
)

__all__ = [
    "DEV_MNEMONIC",
    "Anvil",
    "anvil_path",
    "batch_transfer",
    "deploy_price_feed",
    "deploy_router",
    "deploy_token",
    "forward_eth",
    "install_multicall3",
    "load_artifact",
    "mint",
    "send_eth",
    "set_feed_answer",
    "token_balance",
    "transfer_then_revert",
    "transfer_token",
]
