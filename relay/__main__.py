"""Run the `relay` command as `python -m relay`."""

from relay.cli import main

main()
