"""Benchmarks of the relay: what it costs as its work grows (see bench/README.md).

Each module is one benchmark, runnable as `.venv/bin/python -m bench.<name> --help`; each has a
`run(...)` function returning a plain dict, which the smoke test (tests/test_bench.py) calls at
tiny sizes so the scripts cannot rot. Nothing here is imported by the relay itself.
"""
