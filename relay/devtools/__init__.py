"""Local stand-ins for the outside world, used by `relay demo` and the tests.

`woostore` emulates a WooCommerce REST v3 store over real HTTP; `devchain` runs an anvil node and
deploys real ERC-20 contracts. Nothing here is used by `relay serve` in production.
"""
