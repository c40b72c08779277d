"""The WooCommerce gateway plugin (integrations/woocommerce/): PHP lint, its PHPUnit suite, the zip.

The plugin's logic is tested in PHP against stand-ins for the WordPress and WooCommerce functions
it calls (integrations/woocommerce/tests/stubs/) and a fake of the relay's store API; this module
runs those tests so `make test` and CI see their failures. `make test` installs php-cli and
phpunit (the Makefile's $(PHPUNIT) rule); without them these tests fail rather than skip.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "integrations" / "woocommerce" / "relay-payments"
PHP_TESTS = ROOT / "integrations" / "woocommerce" / "tests"


def _tool(name: str) -> str:
    """Return the path of a command the Makefile installs; fail with how to get it."""
    path = shutil.which(name)
    assert path is not None, f"{name} is missing: `make setup-system` (Debian's php-cli, phpunit)"
    return path


def _php_files() -> list[Path]:
    return sorted(PLUGIN.rglob("*.php")) + sorted(PHP_TESTS.rglob("*.php"))


def test_every_php_file_parses() -> None:
    php = _tool("php")
    files = _php_files()
    assert len(files) > 10
    for path in files:
        result = subprocess.run([php, "-l", str(path)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{path}:\n{result.stdout}{result.stderr}"


def test_the_plugins_main_file_and_headers() -> None:
    main = (PLUGIN / "relay-payments.php").read_text(encoding="utf-8")
    assert "Plugin Name:" in main
    assert "Requires PHP:         7.4" in main
    assert "declare_compatibility( 'custom_order_tables'" in main


def test_the_blocks_script_parses() -> None:
    node = _tool("node")
    script = PLUGIN / "assets" / "js" / "relay-blocks.js"
    result = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_phpunit_suite_passes() -> None:
    phpunit = _tool("phpunit")
    result = subprocess.run(
        [phpunit, "-c", str(PHP_TESTS / "phpunit.xml")],
        capture_output=True,
        text=True,
        cwd=PHP_TESTS,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"phpunit failed:\n{output}"
    assert "OK (" in output, output


def test_make_builds_the_zip_with_one_top_folder(tmp_path: Path) -> None:
    result = subprocess.run(
        ["make", "-s", "woocommerce-plugin", f"DIST={tmp_path}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with zipfile.ZipFile(tmp_path / "relay-payments.zip") as archive:
        names = archive.namelist()
    assert all(name.startswith("relay-payments/") for name in names), names
    assert "relay-payments/relay-payments.php" in names
    assert "relay-payments/assets/js/relay-blocks.js" in names
    shipped = {name.removeprefix("relay-payments/") for name in names if not name.endswith("/")}
    expected = {str(path.relative_to(PLUGIN)) for path in PLUGIN.rglob("*") if path.is_file()}
    assert shipped == expected
