"""Local stand-ins for the outside world, used by `relay demo` and the tests.

`woostore` emulates a WooCommerce REST v3 store over real HTTP; `devchain` runs an anvil node and
deploys real ERC-20 contracts; `harness` starts a relay process and polls, frees ports and writes
configs for the demo, the tests and the benchmarks. Nothing here is used by `relay serve` in
production.
"""
