"""Accessibility helpers for the end-to-end tests: axe-core run inside the real page.

axe-core comes from node_modules (the npm dev package). The page's CSP allows no inline
script, so it is not added as a <script> tag: its source is evaluated through the DevTools
protocol (Playwright's evaluate), which the CSP does not govern; the page's own policy stays
as strict as it ships.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def audit(page: Page, state: str) -> list[dict]:
    """Run axe on the whole page; print a one-line summary; return the serious and critical
    violations as {id, impact, help, targets}."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("""async () => {
        const r = await axe.run(document);
        return {passes: r.passes.length, violations: r.violations.map(v => ({id: v.id,
            impact: v.impact, help: v.help,
            targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))};
    }""")
    passes, result = result["passes"], result["violations"]
    assert passes > 3, f"axe checked almost nothing ({passes} rules passed)"
    lang = page.evaluate("document.documentElement.lang")
    counts = {impact: sum(1 for v in result if v["impact"] == impact)
              for impact in ("critical", "serious", "moderate", "minor")}
    summary = ", ".join(f"{n} {impact}" for impact, n in counts.items())
    ids = ", ".join(sorted({v["id"] for v in result})) or "none"
    print(f"axe [{lang}] {state}: {passes} rules passed; violations: {summary} (rules: {ids})")
    return [v for v in result if v["impact"] in BLOCKING]
