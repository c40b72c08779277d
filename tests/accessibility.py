"""Run axe-core (the npm package, pinned in package.json) inside a page Playwright drives.

The page's own Content-Security-Policy forbids injected scripts, so the browser context that
checks a page must be made with `bypass_csp=True`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = frozenset({"serious", "critical"})


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Return axe-core's serious and critical violations on the page as it is now (WCAG 2.x A/AA
    and best practices), each `{"id", "impact", "help", "nodes": [target selectors]}`."""
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: `make setup-dev` installs node_modules")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results: dict[str, Any] = page.evaluate(
        """async () => await axe.run(document, {resultTypes: ["violations"]})"""
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]],
        }
        for v in results["violations"]
        if v["impact"] in SERIOUS
    ]


def assert_accessible(page: Page) -> None:
    """Fail with axe-core's findings when the page has a serious or critical violation."""
    found = axe_violations(page)
    assert found == [], f"{page.url}: {found}"
