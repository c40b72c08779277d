"""relay: a self-hosted, non-custodial bridge between storefronts and EVM payments."""
