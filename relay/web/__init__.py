"""HTTP blueprints: storefront hooks, the JSON API, the payment page, health."""
