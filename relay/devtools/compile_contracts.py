"""Compile the Solidity sources into the JSON artifacts committed in the repository.

The dev chain (`relay.devtools.devchain`) deploys real contracts, but neither the tests nor
`relay demo` should need a Solidity compiler: they load the committed artifacts
`relay/devtools/contracts/<Name>.json`. This module regenerates those artifacts with the npm
package `solc` (solcjs, pinned in package.json, installed by `npm ci`), driven through its JS API
by a tiny inline Node script, so no compiler binary is ever downloaded.

The product contract `contracts/CollectorFactory.sol` (the collector factory, see
`relay.collectors`) is built the same way into `relay/contracts/CollectorFactory.json`, package
data of the relay, with the metadata hash left out of its bytecode so that editing a comment
never moves the factory's address (PRODUCT_CONTRACTS).

Run it after editing a `.sol` file and commit the result::

    npm ci
    python -m relay.devtools.compile_contracts            # rewrite the committed artifacts
    python -m relay.devtools.compile_contracts --check    # exit 1 if they are stale

Each artifact is ``{"abi": [...], "bytecode": "0x...", "compiler": "solc <version>",
"source_sha256": "<sha256 hex of the .sol file>"}``; a contract the dev chain installs with
`anvil_setCode` instead of deploying it (RUNTIME_CONTRACTS: Multicall3, the collector factory)
also carries ``"deployed_bytecode": "0x..."``, its runtime code. The output is deterministic: the
same sources and compiler give byte-identical files, which the tests verify.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
"""Directory holding the `.sol` sources and the committed `.json` artifacts."""

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
"""Repository root: the parent of the `relay` package directory (where node_modules/ lives)."""

CONTRACT_NAMES: tuple[str, ...] = (
    "TestToken",
    "PaymentRouter",
    "TestPriceFeed",
    "Multicall3",
    "TestTokenNoBool",
    "TestTokenPausable",
)
"""Contracts to build; each comes from `<Name>.sol` and is written to `<Name>.json`."""

RUNTIME_CONTRACTS: tuple[str, ...] = ("Multicall3", "CollectorFactory")
"""Contracts whose artifact also holds `deployed_bytecode` (runtime code, for anvil_setCode)."""

PRODUCT_SOURCE_DIR = REPO_ROOT / "contracts"
"""Directory of the product contracts' `.sol` sources (not shipped in the wheel)."""

PRODUCT_ARTIFACT_DIR = REPO_ROOT / "relay" / "contracts"
"""Directory of the product contracts' `.json` artifacts: package data of `relay`."""

PRODUCT_CONTRACTS: dict[str, dict[str, str]] = {
    "CollectorFactory": {"collector_init_code": "Collector"},
}
"""Product contracts to build, each from `<Name>.sol`; the value maps an extra artifact key to a
contract of the same file whose init code (creation bytecode) the artifact also carries."""

EVM_VERSION = "cancun"
"""Target EVM. Anvil 1.7.1 defaults to a later fork, and cancun also runs on older nodes."""

OPTIMIZER_RUNS = 200

_COMPILE_TIMEOUT_S = 120

# Reads a standard-JSON input on stdin and writes {"version", "output"} on stdout. The solc module
# path is argv[1], so the script does not depend on the working directory.
_NODE_SCRIPT = """
const solc = require(process.argv[1]);
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const output = JSON.parse(solc.compile(input));
  process.stdout.write(JSON.stringify({ version: solc.version(), output }));
});
"""


def solc_module_dir() -> Path:
    """Return the directory of the npm `solc` package (under <repo root>/node_modules).

    Raises FileNotFoundError with a hint to run `npm ci` when it is missing.
    """
    path = REPO_ROOT / "node_modules" / "solc"
    if not (path / "package.json").is_file():
        raise FileNotFoundError(f"solc not found at {path}: run `npm ci` in {REPO_ROOT}")
    return path


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise FileNotFoundError("node not found on PATH: install Node.js >= 20")
    return node


def _standard_json_input(sources: dict[str, str], *, metadata_hash: bool) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
        "evmVersion": EVM_VERSION,
        "outputSelection": {
            "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
        },
    }
    if not metadata_hash:
        # No CBOR metadata (source hash) appended: the bytecode, and so a CREATE2 address
        # derived from it, changes only when the code does.
        settings["metadata"] = {"appendCBOR": False}
    return {
        "language": "Solidity",
        "sources": {f"{name}.sol": {"content": text} for name, text in sources.items()},
        "settings": settings,
    }


def compile_sources(source_dir: Path = CONTRACTS_DIR) -> dict[str, dict[str, Any]]:
    """Compile every contract in CONTRACT_NAMES from `source_dir` and return its artifacts.

    The result maps a contract name to its artifact dict (abi, bytecode, compiler,
    source_sha256). Raises RuntimeError with the compiler's messages if compilation fails.
    """
    return _compile(CONTRACT_NAMES, source_dir, metadata_hash=True, embedded={})


def compile_product(source_dir: Path = PRODUCT_SOURCE_DIR) -> dict[str, dict[str, Any]]:
    """Compile the PRODUCT_CONTRACTS from `source_dir` and return their artifacts.

    As compile_sources, without the metadata hash in the bytecode, and each artifact also holds
    `deployed_bytecode` and the init code of the contracts PRODUCT_CONTRACTS names (for the
    collector factory: `collector_init_code`, the creation code of each collector).
    """
    return _compile(
        tuple(PRODUCT_CONTRACTS), source_dir, metadata_hash=False, embedded=PRODUCT_CONTRACTS
    )


def _compile(
    names: Sequence[str],
    source_dir: Path,
    *,
    metadata_hash: bool,
    embedded: Mapping[str, Mapping[str, str]],
) -> dict[str, dict[str, Any]]:
    raw = {name: (source_dir / f"{name}.sol").read_bytes() for name in names}
    sources = {name: data.decode("utf-8") for name, data in raw.items()}
    request = json.dumps(_standard_json_input(sources, metadata_hash=metadata_hash))
    proc = subprocess.run(
        [_node(), "-e", _NODE_SCRIPT, str(solc_module_dir())],
        input=request,
        capture_output=True,
        text=True,
        timeout=_COMPILE_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"solcjs failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    reply: dict[str, Any] = json.loads(proc.stdout)
    output: dict[str, Any] = reply["output"]
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        messages = "\n".join(str(e.get("formattedMessage", e)) for e in errors)
        raise RuntimeError(f"Solidity compilation failed:\n{messages}")

    artifacts: dict[str, dict[str, Any]] = {}
    for name in names:
        unit = output["contracts"][f"{name}.sol"]
        contract = unit[name]
        artifacts[name] = {
            "abi": contract["abi"],
            "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
            "compiler": f"solc {reply['version']}",
            "source_sha256": hashlib.sha256(raw[name]).hexdigest(),
        }
        if name in RUNTIME_CONTRACTS:
            runtime = contract["evm"]["deployedBytecode"]["object"]
            artifacts[name]["deployed_bytecode"] = "0x" + runtime
        for key, other in embedded.get(name, {}).items():
            artifacts[name][key] = "0x" + unit[other]["evm"]["bytecode"]["object"]
    return artifacts


def render_artifact(artifact: dict[str, Any]) -> str:
    """Serialise an artifact exactly as it is committed (sorted keys, 2-space indent, newline)."""
    return json.dumps(artifact, indent=2, sort_keys=True) + "\n"


def write_artifacts(out_dir: Path = CONTRACTS_DIR, source_dir: Path = CONTRACTS_DIR) -> list[Path]:
    """Compile the sources in `source_dir` and write `<Name>.json` files into `out_dir`.

    Returns the paths written. `out_dir` is created if needed.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, artifact in compile_sources(source_dir).items():
        path = out_dir / f"{name}.json"
        path.write_text(render_artifact(artifact), encoding="utf-8")
        written.append(path)
    return written


def write_product_artifacts(
    out_dir: Path = PRODUCT_ARTIFACT_DIR, source_dir: Path = PRODUCT_SOURCE_DIR
) -> list[Path]:
    """Compile the product contracts in `source_dir` and write `<Name>.json` files into `out_dir`.

    Returns the paths written. `out_dir` is created if needed.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, artifact in compile_product(source_dir).items():
        path = out_dir / f"{name}.json"
        path.write_text(render_artifact(artifact), encoding="utf-8")
        written.append(path)
    return written


def stale_artifacts(source_dir: Path = CONTRACTS_DIR) -> list[str]:
    """Return the names whose committed artifact differs from a fresh compilation."""
    return _stale(compile_sources(source_dir), source_dir)


def stale_product_artifacts() -> list[str]:
    """Return the product contracts whose committed artifact differs from a fresh compilation."""
    return _stale(compile_product(), PRODUCT_ARTIFACT_DIR)


def _stale(artifacts: Mapping[str, dict[str, Any]], artifact_dir: Path) -> list[str]:
    stale: list[str] = []
    for name, artifact in artifacts.items():
        path = artifact_dir / f"{name}.json"
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != render_artifact(artifact):
            stale.append(name)
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line: rewrite the artifacts, or with --check only compare them."""
    parser = argparse.ArgumentParser(
        prog="python -m relay.devtools.compile_contracts",
        description=(
            "Compile relay/devtools/contracts/*.sol and contracts/*.sol into the committed"
            " JSON artifacts."
        ),
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--out", type=Path, default=CONTRACTS_DIR, help="directory to write the artifacts to"
    )
    group.add_argument(
        "--check", action="store_true", help="exit 1 if the committed artifacts are stale"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = [CONTRACTS_DIR / f"{name}.json" for name in stale_artifacts()]
        stale += [PRODUCT_ARTIFACT_DIR / f"{name}.json" for name in stale_product_artifacts()]
        for path in stale:
            print(f"stale: {path}", file=sys.stderr)
        if stale:
            print("run: python -m relay.devtools.compile_contracts", file=sys.stderr)
            return 1
        print(f"up to date: {', '.join((*CONTRACT_NAMES, *PRODUCT_CONTRACTS))}")
        return 0
    written = write_artifacts(args.out)
    written += write_product_artifacts(
        args.out if args.out != CONTRACTS_DIR else PRODUCT_ARTIFACT_DIR
    )
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
