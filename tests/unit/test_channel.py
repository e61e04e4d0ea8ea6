"""js/channel.js, the shared memory the lead worker and a replica exchange batches through,
run between two Node threads (tests/unit/js/channel_check.mjs has the cases): what the lead
writes is taken in order, results come back, a run ends, the replica's error and its loss
reach the lead. The page's own use of it is tested in tests/e2e/test_training_workers.py."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHECK = Path(__file__).resolve().parent / "js" / "channel_check.mjs"


def test_the_channel_between_two_threads() -> None:
    node = shutil.which("node")
    assert node, "node is not on PATH (the build needs it too: install Node.js)"
    result = subprocess.run([node, str(CHECK)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "channel ok", result.stdout
