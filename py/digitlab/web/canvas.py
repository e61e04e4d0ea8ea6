"""The page's canvases, as seen from the worker: OffscreenCanvases transferred by the page.

Any object with `width`, `height` and `getContext("2d")` will do, so this runs under CPython
with fake canvases; copying NumPy pixels onto a context needs the browser's ImageData, so that
one step (`put_pixels`) is handed in by `web/worker.py`. Pixels come from `viz.images` as NumPy
RGBA arrays; charts come from `viz.charts`, which only needs a 2D context.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from digitlab.viz import charts
from digitlab.viz import images as draw

LABEL_HEIGHT = 16

# put_pixels(ctx, rgba [h, w, 4] uint8 C-contiguous, x, y): putImageData in the browser.
PutPixels = Callable[[Any, np.ndarray, int, int], None]


class CanvasSet:
    """Named OffscreenCanvases with their 2D contexts and the page's colour theme."""

    def __init__(self, canvases: dict[str, Any], put_pixels: PutPixels, dark: bool = False) -> None:
        self.canvases = canvases
        self.put_pixels = put_pixels
        self.contexts: dict[str, Any] = {}
        self.theme = charts.DARK if dark else charts.LIGHT

    def set_theme(self, dark: bool) -> None:
        """Draw in the dark or light theme from now on (painters read `theme` as they paint)."""
        self.theme = charts.DARK if dark else charts.LIGHT

    def size(self, name: str) -> tuple[int, int]:
        canvas = self.canvases[name]
        return int(canvas.width), int(canvas.height)

    def ctx(self, name: str, width: int | None = None, height: int | None = None) -> Any:
        """The 2D context of canvas `name`, resized first if a size is given."""
        canvas = self.canvases[name]
        if width is not None and (canvas.width != width or canvas.height != height):
            canvas.width, canvas.height = int(width), int(height)
        if name not in self.contexts:
            self.contexts[name] = canvas.getContext("2d")
        return self.contexts[name]

    def put_image(self, name: str, rgba: np.ndarray, x: int = 0, y: int = 0) -> None:
        """Copy an RGBA uint8 array [h, w, 4] onto canvas `name` at (x, y)."""
        self.put_pixels(self.ctx(name), np.ascontiguousarray(rgba, dtype=np.uint8), x, y)

    def digit_grid(
        self, name: str, images: np.ndarray, captions: Sequence[str], cols: int = 10,
        scale: int = 2, border_colors: Sequence[str | None] | None = None,
        caption_colors: Sequence[str] | None = None,
    ) -> draw.GridLayout:
        """Digits (white ink on black, as MNIST) in a grid, a caption under each."""
        layout = draw.digit_layout(len(images), cols, scale=scale, pad=2, label_h=LABEL_HEIGHT)
        width, height = max(layout.width, 1), max(layout.height, 1)
        ctx = self.ctx(name, width, height)
        ctx.fillStyle = self.theme.background
        ctx.fillRect(0, 0, width, height)
        if len(images) == 0:
            return layout
        rgba = draw.digit_grid(images, cols, scale=scale, pad=2, label_h=LABEL_HEIGHT,
                               border_colors=border_colors,
                               background=draw.parse_color(self.theme.background))
        self.put_image(name, rgba)
        ctx.font = self.theme.font(12)
        ctx.textAlign = "center"
        ctx.textBaseline = "top"
        for i, caption in enumerate(captions):
            x, y = layout.label_anchor(i)
            ctx.fillStyle = caption_colors[i] if caption_colors else self.theme.foreground
            ctx.fillText(caption, x, y + 1)
        return layout
