"""Emulate a Shopify store over real HTTP: Admin API (REST orders, a GraphQL subset) and webhooks.

The relay talks to it as to a real shop. Sources: shopify.dev/docs/apps/build/webhooks
(delivery-structure, verify-deliveries, ignore-duplicates), shopify.dev/docs/api/admin-rest
(Order, Refund, "paginating REST") and shopify.dev/docs/api/admin-graphql (orderMarkAsPaid,
orderUpdate, order).

* Webhooks (`store`): POST of the REST order resource (no `{"order": …}` envelope) with
  `X-Shopify-Topic`, `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(app client secret, raw body)),
  `X-Shopify-Shop-Domain`, `X-Shopify-API-Version`, `X-Shopify-Webhook-Id`, `X-Shopify-Event-Id`
  (the same on every retry), `X-Shopify-Triggered-At`; success = 2xx within 5 s; failures are
  retried with the original payload (here after `retry_delays`, instead of 8 times over 4 h).
  Topics: `orders/create`, `orders/updated` (every change), `orders/paid`, `refunds/create`
  (the REST Refund resource: `{id, order_id, note, transactions: [{kind: "refund", status,
  amount, currency, gateway}], refund_line_items: []}`; `refund_order`).
* Admin API auth: header `X-Shopify-Access-Token`; missing or wrong → 401 `{"errors": "[API]
  Invalid API key or access token (unrecognized login or wrong password)"}`.
* REST (`store`) `GET /admin/api/<version>/orders/<id>.json` → `{"order"}` (404
  `{"errors": "Not Found"}`) and `GET …/orders.json` with `status`
  (open|closed|cancelled|any, default open), `financial_status` (any|unpaid|one status),
  `updated_at_min`, `limit` (default 50, at most 250) and cursor pages: `Link:
  <…?limit=…&page_info=…>; rel="next"`; a `page_info` request takes no filter but `limit` (400
  otherwise) [inferred from shopify.dev "paginating REST" docs].
* GraphQL (`graphql`) `POST /admin/api/<version>/graphql.json` `{"query", "variables"}`: the
  mutations `orderMarkAsPaid(input: $input)` and `orderUpdate(input: $input)` (note, tags,
  customAttributes) and the query `order(id: $id)`. Arguments must be variables; the answer has a
  fixed selection (id, name, displayFinancialStatus, note, tags, totalOutstandingSet), not the
  one asked for. `orderMarkAsPaid` works only with an outstanding balance and not already paid;
  it records a sale for the full outstanding amount and fires `orders/paid` + `orders/updated`.
  Refused input comes back as `userErrors` with HTTP 200; a throttled request as HTTP 200 with
  `errors[].extensions.code == "THROTTLED"` (`throttle_next`).

Not emulated: checkout, products, inventory, fulfilment, refund line items and the refund
routes of the Admin API, the leaky-bucket cost model,
HTTPS, `fields=`/`since_id` parameters, GraphQL beyond the operations named above.
"""

from __future__ import annotations

from devkit.shopify.store import API_VERSION, SHOP_DOMAIN, ShopifyStore, webhook_hmac

__all__ = ["API_VERSION", "SHOP_DOMAIN", "ShopifyStore", "webhook_hmac"]
