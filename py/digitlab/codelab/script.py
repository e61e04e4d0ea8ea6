"""The code cells' names for a plain Python script: `from digitlab.codelab.script import *`.

After that line, a cell copied out of the page runs as is under CPython with native NumPy:
the Keras-style names (`Sequential`, `Conv2D`, ..., `Adam`, `SGD`), `np`, `data` (the MNIST
files build.py caches, as `CodelabData`), `model` (None until a cell binds one), `pixels`
(the first test image, standing in for a drawing) and `show`, which draws the page's charts
into PNG files and prints where each went and what it shows.

Settings, from the environment:
  DIGITLAB_DATA  the folder with mnist_images.png and mnist_labels_uint8
                 (default: build.py's cache, .cache/data next to py/)
  DIGITLAB_SHOW  the folder the PNG files go to (default: ./digitlab-show)
  DIGITLAB_LANG  the language of the charts' words: en or zh-CN (default: en)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from digitlab.codelab.dataset import CodelabData
from digitlab.codelab.png_canvas import PngCanvases
from digitlab.codelab.session import cell_names, default_pixels
from digitlab.codelab.show import Painter, Show
from digitlab.data.mnist import LABELS_FILE, SPRITE_FILE, MnistData
from digitlab.schema import DEFAULT_LANGUAGE, LANGUAGES


def data_dir() -> Path:
    """$DIGITLAB_DATA, else the folder build.py caches the MNIST files in."""
    env = os.environ.get("DIGITLAB_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[3] / ".cache" / "data"


def load_data(directory: Path | None = None) -> CodelabData:
    directory = directory or data_dir()
    for name in (SPRITE_FILE, LABELS_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory / name} not found: run `python build.py` to "
                                    "fetch the MNIST files, or set DIGITLAB_DATA to their folder")
    return CodelabData(MnistData.from_dir(directory))


class PngShow(Show):
    """`show` for a script: each drawing is saved as <DIGITLAB_SHOW>/<canvas>.png, and its path
    and text alternative are printed (on stderr; the batch chart, redrawn while a model
    trains, only when its file is first written)."""

    QUIET_REDRAWS = frozenset({"chart-batch"})

    def __init__(self, directory: str | Path, lang: str = DEFAULT_LANGUAGE) -> None:
        super().__init__(PngCanvases(directory), lang, self._save)

    def _save(self, name: str, paint: Painter) -> None:
        again = name in self.drawings
        self.drawings[name] = paint
        self.alts[name] = alt = paint(self.canvases, self.lang)
        path = self.canvases.save(name)
        if not (again and name in self.QUIET_REDRAWS):
            print(f"show: {path}" + (f": {alt}" if alt else ""), file=sys.stderr)


_lang = os.environ.get("DIGITLAB_LANG", DEFAULT_LANGUAGE)
if _lang not in LANGUAGES:
    raise ValueError(f"DIGITLAB_LANG must be one of {', '.join(LANGUAGES)}, got {_lang!r}")

data = load_data()
show = PngShow(os.environ.get("DIGITLAB_SHOW", "digitlab-show"), _lang)
_names = cell_names(data, show, None, default_pixels(data))  # what a Session's cells have
globals().update(_names)
__all__ = list(_names)  # the Keras-style names, np, data, show, model, pixels
