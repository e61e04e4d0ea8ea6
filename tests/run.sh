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
# -c pins every package to the versions the tests are run with (see that file's header).
python3 -m pip install -q --disable-pip-version-check -c requirements/dev-constraints.txt -e ".[dev]"

echo "== building the site (npm ci, verified downloads)"
npm ci --no-audit --no-fund --loglevel=error
python3 build.py

echo "== ruff"
python3 -m ruff check .

echo "== pytest (unit + end-to-end in Chromium)"
report="${TMPDIR:-/tmp}/digitlab-pytest.xml"
rm -f "$report"  # a report left by an earlier run must not be counted as this one's
# -rfEs lists failures, errors and every skip with its reason (-rs alone would drop pytest's
# default list of failures). A skip fails the run (below): on every machine each test either
# passes or fails.
pytest_status=0
python3 -m pytest -q -rfEs --junitxml="$report" "$@" || pytest_status=$?

# Reads pytest's JUnit report. `skips`: name each skipped test and its reason, exit 1 if any.
# `line`: the closing summary line.
junit() {
  python3 - "$report" "$1" <<'PY'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

path, mode = Path(sys.argv[1]), sys.argv[2]
try:
    root = ET.parse(path).getroot()
except (OSError, ET.ParseError):  # pytest stopped before writing it (usage error, crash)
    if mode == "line":
        print("tests: 0 passed, 0 failed, 0 skipped (pytest wrote no report)")
    sys.exit(0)
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
count = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
if mode == "line":
    passed = count["tests"] - count["failures"] - count["errors"] - count["skipped"]
    print(f"tests: {passed} passed, {count['failures'] + count['errors']} failed, "
          f"{count['skipped']} skipped")
    sys.exit(0)
skipped = [(case, skip) for case in root.iter("testcase") for skip in case.iter("skipped")]
for case, skip in skipped:
    print(f"SKIPPED (fails the run): {case.get('classname')}::{case.get('name')}: "
          f"{skip.get('message', '')}")
sys.exit(1 if skipped else 0)
PY
}

skip_status=0
junit skips || skip_status=$?

# The benchmark smoke run only when every test passed: on a broken build it would only repeat
# what pytest said, and a failing run ends sooner.
bench_status=0
if [ "$pytest_status" = 0 ] && [ "$skip_status" = 0 ]; then
  echo "== benchmark smoke run (bench/run.py --quick: exercised, not timed against targets)"
  python3 bench/run.py --quick --out "${TMPDIR:-/tmp}/digitlab-bench-quick.json" || bench_status=$?
  [ "$bench_status" = 0 ] || echo "!! the benchmark smoke run failed (exit $bench_status)"
  echo "== scaling smoke run (bench/run.py --scaling --quick: N=1 and N=2 on 512 images, not timed)"
  scaling_status=0
  python3 bench/run.py --scaling --quick \
    --out "${TMPDIR:-/tmp}/digitlab-bench-scaling-quick.json" || scaling_status=$?
  [ "$scaling_status" = 0 ] || echo "!! the scaling smoke run failed (exit $scaling_status)"
  [ "$bench_status" != 0 ] || bench_status=$scaling_status
elif [ "$pytest_status" != 0 ]; then
  echo "== benchmark smoke run not started: pytest failed (exit $pytest_status)"
else
  echo "== benchmark smoke run not started: tests were skipped"
fi

# The benchmark's table came last: repeat pytest's count as the closing line, whatever failed.
junit line
if [ "$pytest_status" != 0 ]; then exit "$pytest_status"; fi
if [ "$skip_status" != 0 ] || [ "$bench_status" != 0 ]; then exit 1; fi
