"""The relay's wheel carries the product only: no emulator, no dev chain, no dev contract.

The wheel is built from a copy of the files setuptools reads (pyproject.toml, README.md, relay/,
plugin_specs/), so the build leaves nothing in the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from devkit.compile_contracts import CONTRACTS_DIR

ROOT = Path(__file__).resolve().parent.parent


def _build_wheel(tmp_path: Path) -> list[str]:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("relay", "plugin_specs"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = out.glob("relay-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_the_relay_wheel_carries_no_development_kit(tmp_path: Path) -> None:
    names = _build_wheel(tmp_path)
    # the product is there: the CLI, the web app's templates, the shipped plugin specs
    assert "relay/cli.py" in names
    assert "relay/specs/loader.py" in names  # a subpackage, listed in pyproject.toml
    assert any(n.startswith("relay/web/templates/") for n in names)
    assert "relay/web/openapi.json" in names
    assert any(n.startswith("relay/plugin_specs/") and n.endswith(".toml") for n in names)
    assert "relay/contracts/CollectorFactory.json" in names  # the collector factory's artifact
    tops = {n.split("/", 1)[0] for n in names}
    assert tops <= {"relay", *(n.split("/", 1)[0] for n in names if ".dist-info/" in n)}, tops
    assert not [n for n in names if n.startswith("relay/devtools/")]
    dev_contracts = {path.name for path in CONTRACTS_DIR.iterdir()}
    assert dev_contracts >= {"TestToken.sol", "TestToken.json", "Multicall3.json"}
    assert not [n for n in names if n.rsplit("/", 1)[-1] in dev_contracts or n.endswith(".sol")]
    with zipfile.ZipFile(next((tmp_path / "wheel").glob("relay-*.whl"))) as archive:
        modules = {n: archive.read(n).decode() for n in names if n.endswith(".py")}
    for marker in ("class WooStore", "class ShopifyStore", "class Anvil", "class LoopbackServer"):
        assert not [n for n, text in modules.items() if marker in text], marker
