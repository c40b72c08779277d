"""Compile Solidity sources into the JSON artifacts committed next to them.

The dev chain (`devkit.devchain`) deploys real contracts, but neither the tests nor `relay demo`
should need a Solidity compiler: they load committed artifacts. This module regenerates them with
the npm package `solc` (solcjs, pinned in package.json, installed by `npm ci`), driven through its
JS API by a tiny inline Node script, so no compiler binary is ever downloaded. What it builds is
the list `BUILDS` of source -> artifact pairs (the dev contracts in `devkit/contracts/`, and the
product contract `contracts/CollectorFactory.sol` into `relay/contracts/CollectorFactory.json`,
package data of the relay); building one more contract is one more `Build(...)` line there.

Run it after editing a `.sol` file and commit the result::

    npm ci
    python -m devkit.compile_contracts            # rewrite the committed artifacts
    python -m devkit.compile_contracts --check    # exit 1 if they are stale

Each artifact is ``{"abi": [...], "bytecode": "0x...", "compiler": "solc <version>",
"source_sha256": "<sha256 hex of the .sol file>"}``; a contract the dev chain installs with
`anvil_setCode` instead of deploying it (`runtime=True`: Multicall3, the collector factory) also
carries ``"deployed_bytecode": "0x..."``, its runtime code; a build with `init_codes` also carries
the creation code of other contracts of its file (the collector factory: `collector_init_code`).
A build with `metadata_hash=False` (the collector factory) has no metadata hash appended to its
bytecode, so that editing a comment never moves an address derived from that bytecode (CREATE2).
The output is deterministic: the same sources and compiler give byte-identical files, which the
tests verify.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devkit import REPO_ROOT

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
"""Directory holding the dev contracts' `.sol` sources and their committed `.json` artifacts."""


@dataclass(frozen=True)
class Build:
    """One contract to build: `name` (the contract in `source`), its `.sol` file, its `.json`."""

    name: str
    source: Path
    artifact: Path
    runtime: bool = False
    """Also keep `deployed_bytecode` (runtime code, for anvil_setCode)."""
    metadata_hash: bool = True
    """Append solc's CBOR metadata (with the source's hash) to the bytecode."""
    init_codes: Mapping[str, str] = field(default_factory=dict)
    """Artifact key -> a contract of the same file whose creation code the artifact also keeps."""


def _dev(name: str, *, runtime: bool = False) -> Build:
    return Build(name, CONTRACTS_DIR / f"{name}.sol", CONTRACTS_DIR / f"{name}.json", runtime)


BUILDS: tuple[Build, ...] = (
    _dev("TestToken"),
    _dev("PaymentRouter"),
    _dev("TestPriceFeed"),
    _dev("Multicall3", runtime=True),
    _dev("TestTokenNoBool"),
    _dev("TestTokenPausable"),
    Build(
        "CollectorFactory",
        REPO_ROOT / "contracts" / "CollectorFactory.sol",
        REPO_ROOT / "relay" / "contracts" / "CollectorFactory.json",
        runtime=True,
        metadata_hash=False,
        init_codes={"collector_init_code": "Collector"},
    ),
)
"""Every source -> artifact pair to build, compiled together in one solc run."""

CONTRACT_NAMES: tuple[str, ...] = tuple(build.name for build in BUILDS)
"""The names of the contracts in BUILDS, in order."""

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
        settings["metadata"] = {"appendCBOR": False}
    return {
        "language": "Solidity",
        "sources": {f"{name}.sol": {"content": text} for name, text in sources.items()},
        "settings": settings,
    }


def compile_sources(builds: Sequence[Build] = BUILDS) -> dict[str, dict[str, Any]]:
    """Compile every contract of `builds` (one solc run per metadata setting) and return its
    artifacts.

    The result maps a contract name to its artifact dict (abi, bytecode, compiler,
    source_sha256, deployed_bytecode for a runtime build, and a build's init_codes keys).
    Raises RuntimeError with the compiler's messages if compilation fails.
    """
    artifacts: dict[str, dict[str, Any]] = {}
    for metadata_hash in (True, False):
        group = [build for build in builds if build.metadata_hash == metadata_hash]
        if group:
            artifacts.update(_compile(group, metadata_hash=metadata_hash))
    return {build.name: artifacts[build.name] for build in builds}


def _compile(builds: Sequence[Build], *, metadata_hash: bool) -> dict[str, dict[str, Any]]:
    raw = {build.name: build.source.read_bytes() for build in builds}
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
    for build in builds:
        name = build.name
        unit = output["contracts"][f"{name}.sol"]
        contract = unit[name]
        artifacts[name] = {
            "abi": contract["abi"],
            "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
            "compiler": f"solc {reply['version']}",
            "source_sha256": hashlib.sha256(raw[name]).hexdigest(),
        }
        if build.runtime:
            runtime = contract["evm"]["deployedBytecode"]["object"]
            artifacts[name]["deployed_bytecode"] = "0x" + runtime
        for key, other in build.init_codes.items():
            artifacts[name][key] = "0x" + unit[other]["evm"]["bytecode"]["object"]
    return artifacts


def render_artifact(artifact: dict[str, Any]) -> str:
    """Serialise an artifact exactly as it is committed (sorted keys, 2-space indent, newline)."""
    return json.dumps(artifact, indent=2, sort_keys=True) + "\n"


def write_artifacts(out_dir: Path | None = None, builds: Sequence[Build] = BUILDS) -> list[Path]:
    """Compile `builds` and write each artifact to its path, or as `<Name>.json` into `out_dir`.

    Returns the paths written. `out_dir` is created if needed.
    """
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    paths = {b.name: b.artifact if out_dir is None else out_dir / f"{b.name}.json" for b in builds}
    for name, artifact in compile_sources(builds).items():
        paths[name].write_text(render_artifact(artifact), encoding="utf-8")
    return list(paths.values())


def stale_artifacts(builds: Sequence[Build] = BUILDS) -> list[Build]:
    """Return the builds whose committed artifact differs from a fresh compilation."""
    fresh = compile_sources(builds)
    stale: list[Build] = []
    for build in builds:
        path = build.artifact
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != render_artifact(fresh[build.name]):
            stale.append(build)
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line: rewrite the artifacts, or with --check only compare them."""
    parser = argparse.ArgumentParser(
        prog="python -m devkit.compile_contracts",
        description="Compile the contracts of BUILDS into their committed JSON artifacts.",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--out", type=Path, default=None, help="directory to write the artifacts to instead"
    )
    group.add_argument(
        "--check", action="store_true", help="exit 1 if the committed artifacts are stale"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_artifacts()
        for build in stale:
            print(f"stale: {build.artifact}", file=sys.stderr)
        if stale:
            print("run: python -m devkit.compile_contracts", file=sys.stderr)
            return 1
        print(f"up to date: {', '.join(CONTRACT_NAMES)}")
        return 0
    for path in write_artifacts(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
