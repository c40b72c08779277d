"""The relay's development kit: local stand-ins for the outside world, for `relay demo` and tests.

Not part of the relay's wheel: a distribution of its own (`pip install -e ./devkit`, done by
`make setup`), which imports the relay but is never imported by it, except lazily by `relay demo`.

- `serving`: the HTTP plumbing the shop emulators share (a WSGI app on loopback, webhook POSTs);
- `woocommerce`: a WooCommerce REST v3 store with webhooks (`WooStore`), one module per part;
- `shopify`: a Shopify store, Admin API (REST orders, a GraphQL subset) and webhooks;
- `devchain`: an anvil node and the dev contracts deployed on it (`contracts/`);
- `compile_contracts`: rebuilds the committed contract artifacts with solcjs;
- `harness`: a free port, polling, writing a config, the relay as a server process;
- `demo`: `relay demo`, the whole flow on one machine.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
"""The repository checkout this editable install lives in (node_modules/ is there)."""
