"""The Shopify Admin GraphQL subset the relay uses: `orderMarkAsPaid`, `orderUpdate`, `order`.

Arguments must be variables; the answer has a fixed selection (id, name, displayFinancialStatus,
note, tags, totalOutstandingSet), not the one asked for. `orderMarkAsPaid` works only with an
outstanding balance and not already paid; it records a sale for the full outstanding amount and
fires `orders/paid` + `orders/updated`. Refused input comes back as `userErrors` (HTTP 200).
Sources: shopify.dev/docs/api/admin-graphql/latest/mutations/orderMarkAsPaid, …/orderUpdate.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def now_iso() -> str:
    """Now as Shopify writes timestamps: ISO 8601 with seconds and offset."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class GraphQL:
    """Answer GraphQL documents over the store's orders; `fire(topic, resource)` sends webhooks."""

    def __init__(
        self,
        lock: threading.Condition,
        orders: dict[int, dict[str, Any]],
        fire: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self._lock = lock
        self._orders = orders
        self._fire = fire

    def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Run one document; return the response body (`data`, or top-level `errors`)."""
        root = re.search(r"\{\s*(\w+)\s*(\(([^)]*)\))?", query)
        if root is None:
            return _graphql_error("Parse error: no selection")
        field, arguments = root.group(1), root.group(3) or ""
        args: dict[str, Any] = {}
        for name, value in re.findall(r"(\w+)\s*:\s*(\S+?)\s*(?:,|$)", arguments):
            if not value.startswith("$"):
                return _graphql_error("this emulator reads arguments from variables only")
            args[name] = variables.get(value[1:])
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "orderMarkAsPaid": self._mark_as_paid,
            "orderUpdate": self._order_update,
            "order": self._order_query,
        }
        handler = handlers.get(field)
        if handler is None:
            return _graphql_error(f"Field '{field}' doesn't exist on type 'Mutation'")
        with self._lock:
            try:
                return {"data": {field: handler(args)}}
            except _GraphQLError as exc:
                return _graphql_error(str(exc))

    def _find(self, gid: Any) -> dict[str, Any] | None:
        match = re.fullmatch(r"gid://shopify/Order/(\d+)", gid if isinstance(gid, str) else "")
        if match is None:
            raise _GraphQLError(f"Invalid global id '{gid}'")
        return self._orders.get(int(match.group(1)))

    def _mark_as_paid(self, args: dict[str, Any]) -> dict[str, Any]:
        given = args.get("input")
        if not isinstance(given, dict) or set(given) != {"id"}:
            raise _GraphQLError(
                "Variable $input of type OrderMarkAsPaidInput! was provided invalid value"
            )
        order = self._find(given["id"])
        if order is None:
            return {"order": None, "userErrors": [_user_error("Order does not exist")]}
        outstanding = Decimal(str(order.get("total_outstanding") or "0"))
        if order["financial_status"] == "paid" or outstanding <= 0:
            return {
                "order": _gql_order(order),
                "userErrors": [_user_error("Order cannot be marked as paid.")],
            }
        order["transactions"].append(
            {"kind": "sale", "status": "success", "amount": str(outstanding), "gateway": "manual"}
        )
        order.update(financial_status="paid", total_outstanding="0.00", updated_at=now_iso())
        self._fire("orders/paid", order)
        self._fire("orders/updated", order)
        return {"order": _gql_order(order), "userErrors": []}

    def _order_update(self, args: dict[str, Any]) -> dict[str, Any]:
        given = args.get("input")
        known = {"id", "note", "tags", "customAttributes", "email"}
        if not isinstance(given, dict) or "id" not in given or set(given) - known:
            raise _GraphQLError("Variable $input of type OrderInput! was provided invalid value")
        order = self._find(given["id"])
        if order is None:
            return {"order": None, "userErrors": [_user_error("Order does not exist")]}
        if "note" in given:
            order["note"] = given["note"]
        if "email" in given:
            order["email"] = given["email"]
        if "tags" in given:
            order["tags"] = ", ".join(_strings(given["tags"]))
        if "customAttributes" in given:
            order["note_attributes"] = [
                {"name": a.get("key"), "value": a.get("value")} for a in given["customAttributes"]
            ]
        order["updated_at"] = now_iso()
        self._fire("orders/updated", order)
        return {"order": _gql_order(order), "userErrors": []}

    def _order_query(self, args: dict[str, Any]) -> dict[str, Any] | None:
        order = self._find(args.get("id"))
        return _gql_order(order) if order is not None else None


class _GraphQLError(Exception):
    """A request-level GraphQL error (top-level `errors`)."""


def _graphql_error(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "locations": [{"line": 1, "column": 1}]}]}


def _user_error(message: str) -> dict[str, Any]:
    return {"field": ["id"], "message": message}


def _strings(value: Any) -> Iterable[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _gql_order(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": order["admin_graphql_api_id"],
        "name": order["name"],
        "displayFinancialStatus": str(order["financial_status"]).upper(),
        "note": order.get("note"),
        "tags": [t.strip() for t in str(order.get("tags") or "").split(",") if t.strip()],
        "totalOutstandingSet": {
            "shopMoney": {
                "amount": order.get("total_outstanding"),
                "currencyCode": order.get("currency"),
            }
        },
    }
