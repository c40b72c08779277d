"""Platform specs: every shipped spec loads; problems are reported with file and key path."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relay.config import parse_settings
from relay.errors import ConfigError, SpecError
from relay.specs import (
    LIST_PLACEHOLDERS,
    PLACEHOLDERS,
    SpecInvalid,
    available_platforms,
    check_platform,
    clear_spec_cache,
    load_spec,
    parse_spec,
    read_path,
    render,
    render_tree,
)
from tests.conftest import config_dict
from tests.support import write_config

ROOT = Path(__file__).resolve().parents[1]
EVERY_VALUE = {name: f"<{name}>" for name in PLACEHOLDERS | LIST_PLACEHOLDERS}
LEFT_OVER = re.compile(r"\{[a-z_]+\}")  # a placeholder nobody filled


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    clear_spec_cache()
    yield
    clear_spec_cache()


def test_the_three_platforms_ship() -> None:
    assert {"woocommerce", "shopify", "relay"} <= set(available_platforms())


@pytest.mark.parametrize("platform", available_platforms())
def test_every_shipped_spec_loads_and_renders(platform: str) -> None:
    spec = load_spec(platform)
    assert spec.name == platform and spec.source == f"plugin_specs/{platform}.toml"
    assert load_spec(platform) is spec  # cached
    order_values = EVERY_VALUE | {"order_id": "1", "new_status": "x", "note": "n"}
    order_values |= {"notes_with_note": "m", "key": "k", "value": "v"}
    for name, action in spec.actions.items():
        texts = [action.note, action.customer_note, action.move and action.move.body]
        for kind, entries in action.set.items():
            texts += [spec.setters[kind].body, *entries.values()]
        for text in texts:
            assert not LEFT_OVER.search(json.dumps(render_tree(text, order_values))), (name, text)
    for call in (spec.notes.add, spec.notes.add_customer, spec.read_order, spec.list_orders):
        if call is not None:
            rendered = render_tree([call.path, call.body, call.query], order_values)
            assert not LEFT_OVER.search(json.dumps(rendered)), call


def test_woocommerce_keeps_its_rules() -> None:
    spec = load_spec("woocommerce")
    assert spec.protected_statuses == ("processing", "completed", "refunded")
    settled = spec.action_for("invoice.settled", "")
    assert settled is not None and settled.status == "processing"
    assert settled.move is not None and settled.move.body == {
        "status": "{new_status}",
        "transaction_id": "{tx_hash}",
    }
    partial = spec.action_for("invoice.expired", "paid_partial")
    assert partial is not None and partial.status == "on-hold"
    assert spec.action_for("invoice.expired", "")
    # issue 3: any payment seen holds a pending order, partial payments too
    seen = spec.action_for("invoice.payment_received", "paid_partial")
    assert seen is not None and (seen.from_statuses, seen.status) == (("pending",), "on-hold")
    assert seen.note and "{paid_amount}" in seen.note
    created = spec.action_for("invoice.created", "")
    assert created is not None and set(created.set["meta"]) == {
        "_relay_invoice_id",
        "_relay_payment_url",
    }
    assert spec.action_for("invoice.paid_late", "") is None


def test_shopify_settles_with_order_mark_as_paid() -> None:
    spec = load_spec("shopify")
    settled = spec.action_for("invoice.settled", "")
    assert settled is not None and settled.move is not None
    assert settled.move.path == "/graphql.json" and "orderMarkAsPaid" in settled.move.body["query"]
    assert (spec.auth, spec.auth_header) == ("header-token", "X-Shopify-Access-Token")
    assert spec.action_for("invoice.expired", "") is not None
    expired = spec.action_for("invoice.expired", "")
    assert expired is not None and expired.status is None  # Shopify orders are never cancelled


def test_render_and_paths() -> None:
    assert render("{a} {{literal}} {missing}", {"a": "1"}) == "1 {literal} {missing}"
    doc = {"meta_data": [{"key": "x", "value": 5}], "names": ["Pay", "Card"], "id": 7}
    assert read_path(doc, "meta_data[?key=='x'].value | [0]") == 5
    assert read_path(doc, "contains(names, 'Card')") is True
    assert read_path(doc, "length(id)") is None  # a type error in this document is "absent"
    assert render_tree({"{k}": ["{v}", True]}, {"k": "a", "v": "b"}) == {"a": ["b", True]}


def broken_spec() -> dict[str, Any]:
    data = tomllib.loads((ROOT / "plugin_specs" / "woocommerce.toml").read_text())
    data["inbound"]["colour"] = "blue"
    data["inbound"]["fields"]["total"] = "totals.["
    del data["inbound"]["fields"]["currency"]
    data["outbound"]["auth"] = "magic"
    data["outbound"]["read_order"]["method"] = "FETCH"
    data["outbound"]["events"]["invoice.settled"]["note"] = "paid {tx_hash} {shoe_size}"
    data["outbound"]["events"]["invoice.shipped"] = {"status": "completed"}
    data["outbound"]["events"]["invoice.created"]["set"]["colour"] = {"x": "y"}
    del data["outbound"]["notes"]["list"]
    return data


def test_every_problem_is_reported_with_its_key_path() -> None:
    with pytest.raises(SpecInvalid) as info:
        parse_spec(broken_spec(), "my.toml")
    problems = dict(info.value.problems)
    assert set(problems) == {
        "inbound.colour",
        "inbound.fields.total",
        "inbound.fields.currency",
        "outbound.auth",
        "outbound.read_order.method",
        "outbound.events.'invoice.settled'.note",
        "outbound.events.'invoice.shipped'",
        "outbound.events.'invoice.created'.set.colour",
        "outbound.notes",
    }
    assert problems["outbound.events.'invoice.settled'.note"] == "unknown placeholder {shoe_size}"
    assert "invalid JMESPath 'totals.['" in problems["inbound.fields.total"]
    assert info.value.message.startswith("my.toml: ")


def write_spec(path: Path, data: dict[str, Any]) -> Path:
    lines = []  # a minimal TOML writer for the documents these tests build

    def emit(table: dict[str, Any], prefix: str) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        if prefix:
            lines.append(f"[{prefix}]")
        for key, value in scalars.items():
            lines.append(f"{key} = {toml_value(value)}")
        for key, value in table.items():
            if isinstance(value, dict):
                emit(value, f"{prefix}.{quote_key(key)}" if prefix else quote_key(key))

    emit(data, "")
    path.write_text("\n".join(lines) + "\n")
    return path


def quote_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else f'"{key}"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{quote_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
        )
    return str(value)


def own_spec(name: str) -> dict[str, Any]:
    data = tomllib.loads((ROOT / "plugin_specs" / "woocommerce.toml").read_text())
    data["platform"]["name"] = name
    return data


def test_a_store_can_bring_its_own_spec_file(tmp_path: Path) -> None:
    path = write_spec(tmp_path / "my-shop.toml", own_spec("my-shop"))
    assert check_platform("my-shop", str(path)) == []
    spec = load_spec("my-shop")  # registered under its platform name (relay/outbox.py uses it)
    assert spec.source == str(path) and load_spec("my-shop", str(path)) is spec
    other = write_spec(tmp_path / "other.toml", own_spec("my-shop"))
    assert check_platform("my-shop", str(other))[0][0] == "platform"  # one name, one file
    settings = parse_settings(config_dict(platform="my-shop", spec=str(path)), env={})
    assert load_spec(settings.stores["shop"]) is spec


def test_own_spec_problems_name_file_and_key(tmp_path: Path) -> None:
    broken = write_spec(tmp_path / "broken.toml", broken_spec() | {"platform": {"name": "b"}})
    problems = check_platform("b", str(broken))
    assert all(key == "spec" and message.startswith(f"{broken}: ") for key, message in problems)
    assert f"{broken}: outbound.auth: must be one of" in "\n".join(m for _, m in problems)
    missing = check_platform("gone", str(tmp_path / "gone.toml"))
    assert missing == [
        ("spec", f"{tmp_path / 'gone.toml'}: cannot read the spec file: No such file or directory")
    ]
    shipped_name = write_spec(tmp_path / "w.toml", own_spec("woocommerce"))
    assert check_platform("woocommerce", str(shipped_name))[0][0] == "platform"
    renamed = write_spec(tmp_path / "renamed.toml", own_spec("something-else"))
    assert "platform.name: is 'something-else'" in check_platform("mine", str(renamed))[0][1]
    (tmp_path / "bad.toml").write_text("[platform\n")
    assert "not valid TOML" in check_platform("bad", str(tmp_path / "bad.toml"))[0][1]
    with pytest.raises(SpecError):
        load_spec("nonexistent")
    with pytest.raises(ConfigError) as info:
        parse_settings(config_dict(platform="b", spec=str(broken)), env={})
    assert "stores.shop.spec" in dict(info.value.problems)


def test_check_config_reports_spec_errors_with_file_and_key(tmp_path: Path) -> None:
    broken = write_spec(tmp_path / "broken.toml", broken_spec() | {"platform": {"name": "b"}})
    config = write_config(config_dict(platform="b", spec=str(broken)), tmp_path / "relay.toml")
    result = subprocess.run(
        [sys.executable, "-m", "relay", "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"error: stores.shop.spec: {broken}: inbound.fields.total: invalid JMESPath" in (
        result.stderr
    )
    assert f"stores.shop.spec: {broken}: outbound.events.'invoice.shipped'" in result.stderr
    assert "Traceback" not in result.stderr
