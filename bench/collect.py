"""Collect gas: gas per collector in batches of 1, 10 and 100, beside the EOA path, on anvil.

`.venv/bin/python -m bench.collect` starts an anvil (the dev chain, with the collector factory
installed at relay.collectors.COLLECTOR_FACTORY), deploys a TestToken "USDC" (6 decimals), and
for each batch size and each of two payment kinds, "USDC" (one token) and "USDC+ETH" (one token
and ETH at every address):

- collectors: pays that many fresh collectors of one payout address (a mint of 10 USDC each, and
  0.01 ETH each for USDC+ETH), then sends ONE `collect(payout, salts, [USDC])` from a third
  party and reads its receipt's gasUsed (refunds applied: what the sender pays for);
- EOA path: as many fresh addresses (anvil_impersonateAccount stands in for their keys: the gas is
  the same as for signed transactions) are paid the same way; each is then emptied as an HD
  wallet's address must be: for USDC a gas top-up transaction (a plain ETH transfer from a
  funded account) and a token transfer of the whole balance to the payout address; for
  USDC+ETH the token transfer (gas paid from the ETH already there) and a transfer of the
  remaining ETH (balance minus that transaction's fee) to the payout address.

Every run checks that what was paid arrived exactly at the payout address and that no collector
keeps anything or holds code afterwards; the payout address already holds USDC and ETH before
the first row (a merchant paid before), so no row pays for creating its balance. Gas is
deterministic for a given anvil, token and contract: no timing is involved.
"""

from __future__ import annotations

import argparse
import secrets
from typing import Any

from web3 import Web3
from web3.types import TxParams, TxReceipt, Wei

from bench.common import report
from devkit.devchain import Anvil, deploy_token, load_artifact, mint, token_balance
from relay import collectors
from relay.collectors import COLLECTOR_FACTORY

SIZES = (1, 10, 100)
KINDS = ("USDC", "USDC+ETH")
TARGET_GAS_PER_COLLECTOR = 50_000  # one token, batch of 100 (issue 17)
PAYMENT = 10 * 10**6  # 10 USDC in base units
ETH_PAYMENT = 10**16  # 0.01 ETH in wei
TOP_UP = 10**15  # 0.001 ETH: gas for one token transfer at anvil's ~1 gwei


def _send(w3: Web3, tx: TxParams) -> TxReceipt:
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx), timeout=30)
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction failed: {tx}")
    return receipt


def _fresh() -> str:
    return Web3.to_checksum_address("0x" + secrets.token_hex(20))


def _eth(w3: Web3, address: str) -> int:
    return int(w3.eth.get_balance(Web3.to_checksum_address(address)))


def _pay(node: Anvil, token: str, addresses: list[str], eth: bool) -> None:
    for address in addresses:
        mint(node.w3, token, address, PAYMENT)
        if eth:
            _send(node.w3, {"from": node.accounts[0], "to": address, "value": Wei(ETH_PAYMENT)})


def measure_collectors(
    node: Anvil, token: str, payout: str, size: int, eth: bool, sender: str
) -> dict[str, Any]:
    """Pay `size` fresh collectors and collect them in one transaction; return its gas."""
    w3 = node.w3
    salts = [secrets.token_bytes(32) for _ in range(size)]
    addresses = [collectors.collector_address(COLLECTOR_FACTORY, payout, s) for s in salts]
    _pay(node, token, addresses, eth)
    before = token_balance(w3, token, payout), _eth(w3, payout)
    call = collectors.collect_transaction(COLLECTOR_FACTORY, payout, salts, [token])
    receipt = _send(w3, {"from": sender, "to": call.to, "data": call.data})
    after = token_balance(w3, token, payout), _eth(w3, payout)
    moved = after[0] - before[0], after[1] - before[1]
    expected = size * PAYMENT, size * ETH_PAYMENT if eth else 0
    emptied = all(
        token_balance(w3, token, a) == 0
        and _eth(w3, a) == 0
        and not w3.eth.get_code(Web3.to_checksum_address(a))
        for a in addresses
    )
    if moved != expected or not emptied:
        raise RuntimeError(f"collect of {size} moved {moved}, expected {expected}")
    gas = int(receipt["gasUsed"])
    return {
        "gas": gas,
        "gas_per_address": round(gas / size),
        "transactions": 1,
        "calldata_bytes": len(call.data),
        "moved_exactly": True,
    }


def measure_eoa(node: Anvil, token: str, payout: str, size: int, eth: bool) -> dict[str, Any]:
    """Pay `size` fresh addresses and empty each by its own transactions; return their gas."""
    w3 = node.w3
    addresses = [_fresh() for _ in range(size)]
    _pay(node, token, addresses, eth)
    before = token_balance(w3, token, payout), _eth(w3, payout)
    contract = w3.eth.contract(
        address=Web3.to_checksum_address(token), abi=load_artifact("TestToken")["abi"]
    )
    gas = transactions = 0
    for address in addresses:
        if not eth:  # an HD wallet address holding only a token needs gas first
            top_up = _send(w3, {"from": node.accounts[0], "to": address, "value": Wei(TOP_UP)})
            gas += top_up["gasUsed"]
            transactions += 1
        node.rpc("anvil_impersonateAccount", [address])
        try:
            transfer = contract.functions.transfer(payout, PAYMENT).transact({"from": address})
            receipt = w3.eth.wait_for_transaction_receipt(transfer, timeout=30)
            gas += receipt["gasUsed"]
            transactions += 1
            if eth:
                price = w3.eth.gas_price
                rest = _eth(w3, address) - 21_000 * price
                sweep = _send(
                    w3,
                    {
                        "from": address,
                        "to": payout,
                        "value": Wei(rest),
                        "gas": 21_000,
                        "maxFeePerGas": Wei(price),
                        "maxPriorityFeePerGas": Wei(0),
                    },
                )
                gas += sweep["gasUsed"]
                transactions += 1
        finally:
            node.rpc("anvil_stopImpersonatingAccount", [address])
    moved_token = token_balance(w3, token, payout) - before[0]
    if moved_token != size * PAYMENT:
        raise RuntimeError(f"EOA path moved {moved_token} of {size * PAYMENT}")
    return {
        "gas": gas,
        "gas_per_address": round(gas / size),
        "transactions": transactions,
    }


def run(sizes: tuple[int, ...] = SIZES, kinds: tuple[str, ...] = KINDS) -> dict[str, Any]:
    """Measure every (kind, size): the collector batch and the EOA path; return the rows."""
    rows = []
    with Anvil() as node:
        w3 = node.w3
        token = deploy_token(w3, name="USD Coin", symbol="USDC", decimals=6)
        payout, sender = _fresh(), node.accounts[7]
        mint(w3, token, payout, 1)  # paid before: its balance slot and account exist
        _send(w3, {"from": node.accounts[0], "to": payout, "value": Wei(1)})
        for kind in kinds:
            eth = kind == "USDC+ETH"
            for size in sizes:
                collector = measure_collectors(node, token, payout, size, eth, sender)
                eoa = measure_eoa(node, token, payout, size, eth)
                rows.append(
                    {
                        "assets": kind,
                        "addresses": size,
                        "collector": collector,
                        "eoa": eoa,
                        "collector_vs_eoa": round(
                            collector["gas_per_address"] / eoa["gas_per_address"], 3
                        ),
                    }
                )
        hardfork = node.rpc("anvil_nodeInfo").get("hardFork")
    target_row = next((r for r in rows if r["assets"] == "USDC" and r["addresses"] == 100), None)
    return {
        "benchmark": "collect",
        "factory": COLLECTOR_FACTORY,
        "compiler": collectors.factory_artifact().compiler,
        "anvil_hardfork": hardfork,
        "token": "TestToken (devkit/src/devkit/contracts/TestToken.sol)",
        "target_gas_per_collector": TARGET_GAS_PER_COLLECTOR,
        "target_met": None
        if target_row is None
        else target_row["collector"]["gas_per_address"] <= TARGET_GAS_PER_COLLECTOR,
        "rows": rows,
    }


def main() -> None:
    """Parse arguments, run, print the result as JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes", type=lambda text: tuple(int(s) for s in text.split(",")), default=SIZES
    )
    parser.add_argument("--kinds", type=lambda text: tuple(text.split(",")), default=KINDS)
    arguments = parser.parse_args()
    report(run(sizes=arguments.sizes, kinds=arguments.kinds))


if __name__ == "__main__":
    main()
