"""Emulate a WooCommerce 7.4.1 store (REST API v3 + webhooks) over real HTTP.

`WooStore` is the "demo WooCommerce-compatible store" of `relay demo` and the tests. The relay talks
to it exactly as it talks to a real shop, so it reproduces what a real store accepts and, just as
important, what it refuses. Comments cite the WooCommerce and WordPress sources by these tags
(files of github.com/woocommerce/woocommerce under `plugins/woocommerce/includes/`, and the REST
API docs of github.com/woocommerce/woocommerce-rest-api-docs under `source/includes/wp-api-v3/`):
WH `class-wc-webhook.php`, WHF `wc-webhook-functions.php`, WDS
`data-stores/class-wc-webhook-data-store.php`, OC
`rest-api/Controllers/Version3/class-wc-rest-orders-controller.php`, ORD `class-wc-order.php`,
AUTH `class-wc-rest-authentication.php`; docs WDOC `_webhooks.md`, ODOC `_orders.md`, NDOC
`_order-notes.md`, IDOC `_introduction.md`, ADOC `_authentication.md`.

* REST routes under `/wp-json/wc/v3/`: `orders` (`orders_api`), `orders/<id>/notes` (`notes_api`),
  `webhooks` (`webhooks_api`); WordPress error bodies `{"code", "message", "data": {"status"}}` and
  WordPress argument validation (`rest`).
* Authentication (`auth`): OAuth 1.0a one-legged over plain HTTP; Basic and query-string keys only
  when WordPress sees HTTPS.
* Orders (`orders`, `order_json`): the JSON shape of the real 7.4.1 delivery sample; status
  transitions, notes, `meta_data`, `payment_complete()`; every save fires `order.updated`.
* Webhooks (`webhooks`): creation ping, deliveries queued and coalesced, sent by one background
  thread, signed; disabled after repeated failures.
* Refunds (`WooStore.refund_order`, the merchant's manual refund in wp-admin, `wc_create_refund()`):
  an amount up to what is left to refund, listed in the order's `refunds` as `{id, reason, total}`
  (total a negative decimal string, newest first), the order `refunded` once fully refunded, and
  `order.updated` fired (`woocommerce_order_refunded`, WH).

* The relay-payments plugin's status callback (`WooStore.install_relay_plugin`, `plugin`):
  `POST /?wc-api=relay` re-reads the event's invoice from the relay with the store's token and
  logs it; without the plugin WooCommerce answers that URL with 400 `-1`.

Not emulated: products/stock/taxes/coupons, refund line items and restocking, the
`orders/<id>/refunds` REST routes (line totals are taken as given),
`wp_safe_remote_request()`'s refusal of loopback/private hosts and ports other than 80/443/8080
(WH; the relay would never get a delivery on a real shop), API-key read/write permissions,
e-mails (a customer note is only recorded), HTTP/1.0 for deliveries, site time zones other than UTC.
"""

from devkit.woocommerce.orders import ORDER_STATUSES
from devkit.woocommerce.store import WooStore
from devkit.woocommerce.webhooks import webhook_signature
from devkit.woocommerce.wordpress import HOOKSHOT_USER_AGENT, WC_VERSION, WP_VERSION, wp_json_encode

__all__ = [
    "HOOKSHOT_USER_AGENT",
    "ORDER_STATUSES",
    "WC_VERSION",
    "WP_VERSION",
    "WooStore",
    "webhook_signature",
    "wp_json_encode",
]
