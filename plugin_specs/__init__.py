"""Platform specs shipped with the relay (package data, read with importlib.resources)."""
