"""Item 8 of the code cells: a cell copied into a script runs as is under CPython with native
NumPy, after `from digitlab.codelab.script import *`. Every original cell, in order, as one
script in a fresh interpreter; the train cell's `EPOCHS = 10` becomes `EPOCHS = 1` (ten epochs
take minutes under CPython; nothing else changes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from digitlab.codelab.session import STEPS, original
from tests.unit.conftest import REPO, require_real_data

DRAWN = ["examples", "chart-batch", "chart-epoch", "per-class", "confusion", "pad-probs"]


def script_of_the_cells() -> str:
    cells = [original(step).replace("EPOCHS = 10", "EPOCHS = 1") for step in STEPS]
    return "from digitlab.codelab.script import *\n\n" + "\n\n".join(cells)


def run_script(source: str, folder: Path, **env: str) -> subprocess.CompletedProcess:
    path = folder / "codelab.py"
    path.write_text(source, encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(REPO / "py"),
                   "DIGITLAB_DATA": str(require_real_data()),
                   "DIGITLAB_SHOW": str(folder / "show"), **env}
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          cwd=folder, env=environment, timeout=300)


def test_the_cells_run_as_a_script_and_draw_png_files(tmp_path) -> None:
    done = run_script(script_of_the_cells(), tmp_path)
    assert done.returncode == 0, done.stderr
    assert 'Model: "sequential"' in done.stdout and "Total params: 5,994" in done.stdout
    assert "val_accuracy" in done.stdout  # fit's progress line
    for name in DRAWN:
        path = tmp_path / "show" / f"{name}.png"
        assert f"show: {path}" in done.stderr, name
        pixels = np.asarray(Image.open(path).convert("L"))
        assert pixels.min() < 100 < pixels.max(), name  # drawn: dark text or ink on white
    assert "Confusion matrix, rows are true digits" in done.stderr  # the alt text, printed


def test_the_scripts_names_are_the_cells_names(tmp_path) -> None:
    source = ("from digitlab.codelab.script import *\n"
              "print(sorted(name for name in dir() if not name.startswith('_')))\n"
              "print(type(data).__name__, model, pixels.shape, show.lang)\n")
    done = run_script(source, tmp_path, DIGITLAB_LANG="zh-CN")
    assert done.returncode == 0, done.stderr
    names, rest = done.stdout.splitlines()
    assert eval(names) == sorted(["Adam", "Conv2D", "Dense", "Dropout", "Flatten",  # noqa: S307
                                  "MaxPooling2D", "SGD", "Sequential", "data", "model", "np",
                                  "pixels", "show"])
    assert rest == "CodelabData None (28, 28) zh-CN"
