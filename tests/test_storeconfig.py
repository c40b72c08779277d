"""Store tables (relay/storeconfig.py): the two kinds of WooCommerce store, and what
check-config says of each."""

from __future__ import annotations

from typing import Any

import pytest

from relay.config import parse_settings, summarize
from relay.errors import ConfigError
from relay.specs import load_spec
from tests.conftest import config_dict

TOKEN = "plugin-token-0123456789"


def plugin_config(**store: Any) -> dict[str, Any]:
    data = config_dict()
    shop = data["stores"]["shop"]
    for key in ("api_key", "api_secret", "webhook_secret", "payment_methods"):
        del shop[key]
    shop.update({"api_token": TOKEN, **store})
    return data


def problems_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(data, env={})
    return dict(info.value.problems)


def test_a_woocommerce_store_with_api_token_and_no_rest_keys_is_a_plugin_store() -> None:
    settings = parse_settings(plugin_config(reconcile_seconds=300), env={})
    store = settings.stores["shop"]
    assert store.platform == "woocommerce" and store.is_plugin_store
    assert store.payment_methods == ("relay",) and store.webhook_secrets == ()
    assert store.reconcile_seconds == 0 and store.api_token == TOKEN
    assert any("reconcile_seconds" in w for w in settings.warnings)
    spec = load_spec(store)
    assert spec.name == "woocommerce-plugin" and spec.callback is not None
    assert spec.actions == {} and not spec.can_read_orders and not spec.can_list_orders
    assert "woocommerce, relay-payments plugin" in summarize(settings)
    # a REST store stays what it was, api_token or not
    rest = parse_settings(config_dict(api_token=TOKEN), env={}).stores["shop"]
    assert not rest.is_plugin_store and load_spec(rest).name == "woocommerce"
    assert rest.reconcile_seconds == 300


def test_a_woocommerce_store_with_neither_kind_of_credential_is_told_what_each_needs() -> None:
    data = plugin_config()
    del data["stores"]["shop"]["api_token"]
    message = problems_of(data)["stores.shop"]
    assert "api_token" in message and "relay-payments plugin" in message
    assert "api_key and api_secret" in message and "webhooks" in message
    half = config_dict()
    del half["stores"]["shop"]["api_secret"]
    assert problems_of(half) == {"stores.shop.api_secret": "is required"}


def test_a_plugin_store_needs_a_token_and_is_not_named_by_its_spec() -> None:
    assert "stores.shop.api_token" in problems_of(plugin_config(api_token=""))
    assert "stores.shop.platform" in problems_of(plugin_config(platform="woocommerce-plugin"))
    own = plugin_config(payment_methods=["crypto"], webhook_secret="whsec_c2VjcmV0")
    store = parse_settings(own, env={}).stores["shop"]
    assert store.payment_methods == ("crypto",) and store.webhook_secrets == ("whsec_c2VjcmV0",)
