"""Run axe-core inside a Playwright page and fail on serious or critical violations.

axe-core is the npm package pinned in package.json (`make setup-dev` installs it into
node_modules/). It is put into the page with `page.evaluate`, which the page's
Content-Security-Policy does not govern, so the page is checked with its real CSP. Use
`assert_accessible(page, "what is shown")` after each state a test brings the page to, and
`tab_to(page, "Button name")` then `page.keyboard.press("Enter")` to use a page by keyboard alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
# WCAG 2.2 A and AA and axe's best practices (https://github.com/dequelabs/axe-core/blob/develop/doc/API.md)
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def axe_violations(page: Page, impacts: tuple[str, ...] = BLOCKING) -> list[dict[str, Any]]:
    """Return axe-core's violations of the page as it is now, those of `impacts` only."""
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: run `make setup-dev` (npm ci installs axe-core)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(f"{AXE.read_text()}\n;undefined")
    found: list[dict[str, Any]] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
        ".then(result => result.violations)",
        TAGS,
    )
    return [v for v in found if v.get("impact") in impacts]


def assert_accessible(page: Page, label: str = "") -> None:
    """Fail with axe-core's findings when the page has a serious or critical violation."""
    found = axe_violations(page)
    lines = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in found
    ]
    assert not found, f"{label or page.url}:\n" + "\n".join(lines)


def tab_to(page: Page, name: str, presses: int = 40) -> None:
    """Press Tab until the focused element's text or aria-label is `name`; fail if never."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement;"
            " return [e.getAttribute('aria-label'), e.textContent.trim()]; }"
        )
        if name in focused:
            return
    raise AssertionError(f"{name!r} cannot be reached with the Tab key")
