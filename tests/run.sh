#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian machine, build the site, run every test.
# Usage: bash tests/run.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# chromium drives the end-to-end tests; the CJK fonts show Chinese in screenshots.
if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
  echo "== installing Debian's chromium and CJK fonts"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi

echo "== installing Python dev dependencies"
python3 -m pip install -q --disable-pip-version-check -e ".[dev]"

echo "== building the site (npm ci, verified downloads)"
npm ci --no-audit --no-fund --loglevel=error
python3 build.py

echo "== ruff"
python3 -m ruff check .

echo "== pytest (unit + end-to-end in Chromium)"
report="${TMPDIR:-/tmp}/digitlab-pytest.xml"
python3 -m pytest -q --junitxml="$report" "$@"

echo "== benchmark smoke run (bench/run.py --quick: exercised, not timed against targets)"
python3 bench/run.py --quick --out "${TMPDIR:-/tmp}/digitlab-bench-quick.json"

# The benchmark's table came last: repeat pytest's count as the closing line.
python3 - "$report" <<'PY'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suite = root if root.tag == "testsuite" else root.find("testsuite")
tests, failures, errors, skipped = (int(suite.get(k, 0)) for k in
                                    ("tests", "failures", "errors", "skipped"))
print(f"tests: {tests - failures - errors - skipped} passed, {failures + errors} failed, "
      f"{skipped} skipped")
PY
