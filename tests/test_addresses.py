"""Deposit addresses are the ones the merchant's wallet derives at m/44'/60'/0'/0/i."""

from __future__ import annotations

import pytest
from bip_utils import Bip44Changes
from eth_account import Account

from relay.addresses import derive_address, validate_xpub
from tests.conftest import MERCHANT_MNEMONIC, MERCHANT_XPUB, merchant_account_key


def test_first_address_matches_the_published_bip44_vector() -> None:
    # m/44'/60'/0'/0/0 of the BIP-39 test mnemonic, as every Ethereum wallet shows it
    assert derive_address(MERCHANT_XPUB, 0) == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"


@pytest.mark.parametrize("index", [0, 1, 2, 17, 1000, 2**31 - 1])
def test_addresses_match_an_independent_wallet_implementation(index: int) -> None:
    Account.enable_unaudited_hdwallet_features()
    wallet = Account.from_mnemonic(MERCHANT_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    assert derive_address(MERCHANT_XPUB, index) == wallet.address


def test_account_xpub_is_accepted_and_other_keys_are_refused() -> None:
    assert validate_xpub(MERCHANT_XPUB) is None
    account = merchant_account_key()
    private = account.PrivateKey().ToExtended()
    assert "PRIVATE" in (validate_xpub(private) or "")
    change_level = account.Change(Bip44Changes.CHAIN_EXT).PublicKey().ToExtended()
    assert "depth 4" in (validate_xpub(change_level) or "")
    assert "not a valid" in (validate_xpub("xpub-nonsense") or "")


def test_index_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError):
        derive_address(MERCHANT_XPUB, 2**31)
