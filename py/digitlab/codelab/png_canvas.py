"""Canvases for CPython: the part of the Canvas 2D API that `viz.charts` uses, drawn with Pillow.

A script that runs the code cells outside the page (`digitlab.codelab.script`) draws the same
charts and digit grids as the page, onto these, and saves each canvas as a PNG file. Only what
`viz.charts` and `codelab.show` call is implemented: rectangles, straight paths (dashed or not),
text with the canvas's alignment and baselines, and save/restore of translate and rotate.

Pillow is imported when the first canvas is made, never by the page (importing it there would
delay the boot; the page draws on the browser's own canvases).
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

from digitlab.viz import charts
from digitlab.viz.images import parse_color

_RGB = re.compile(r"rgba?\(([^)]*)\)")
_FONT_PX = re.compile(r"(\d+(?:\.\d+)?)px")
# Fonts with Chinese glyphs, tried by name (Pillow looks in the system's font folders); the
# bundled default font has none.
_CJK_FONTS = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "wqy-microhei.ttc",
              "msyh.ttc", "PingFang.ttc")


def css_rgba(color: str) -> tuple[int, int, int, int]:
    """'#rrggbb', '#rgb' or 'rgb(r,g,b)' / 'rgba(r,g,b,a)' (as viz.images.css_color writes)."""
    match = _RGB.fullmatch(color.strip())
    if match is None:
        return parse_color(color)
    parts = [p.strip() for p in match.group(1).split(",")]
    r, g, b = (int(float(p)) for p in parts[:3])
    alpha = round(float(parts[3]) * 255) if len(parts) > 3 else 255
    return r, g, b, alpha


def _has_wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in "WF" for ch in text)


_font_cache: dict[tuple[int, bool], Any] = {}


def _font(size: int, wide: bool) -> Any:
    from PIL import ImageFont

    key = (size, wide)
    if key not in _font_cache:
        font = None
        if wide:
            for name in _CJK_FONTS:
                try:
                    font = ImageFont.truetype(name, size)
                    break
                except OSError:
                    continue
        _font_cache[key] = font or ImageFont.load_default(size)
    return _font_cache[key]


class PngContext:
    """A 2D context on a PngCanvas: fill and stroke styles, line width and dash, font, text
    alignment, and a transform of translations and rotations (save/restore)."""

    def __init__(self, canvas: PngCanvas) -> None:
        self.canvas = canvas
        self.fillStyle = "#000000"  # noqa: N815 - the Canvas API's names
        self.strokeStyle = "#000000"  # noqa: N815
        self.lineWidth = 1.0  # noqa: N815
        self.font = "10px sans-serif"
        self.textAlign = "start"  # noqa: N815
        self.textBaseline = "alphabetic"  # noqa: N815
        self._dash: list[float] = []
        self._matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)  # a, b, c, d, e, f as in setTransform
        self._saved: list[tuple] = []
        self._path: list[list[tuple[float, float]]] = []

    # ---- state -----------------------------------------------------------------------
    def save(self) -> None:
        self._saved.append((self._matrix, self.fillStyle, self.strokeStyle, self.lineWidth,
                            self.font, self.textAlign, self.textBaseline, list(self._dash)))

    def restore(self) -> None:
        if self._saved:
            (self._matrix, self.fillStyle, self.strokeStyle, self.lineWidth, self.font,
             self.textAlign, self.textBaseline, self._dash) = self._saved.pop()

    def translate(self, x: float, y: float) -> None:
        a, b, c, d, e, f = self._matrix
        self._matrix = (a, b, c, d, e + a * x + c * y, f + b * x + d * y)

    def rotate(self, angle: float) -> None:
        a, b, c, d, e, f = self._matrix
        cos, sin = math.cos(angle), math.sin(angle)
        self._matrix = (a * cos + c * sin, b * cos + d * sin, c * cos - a * sin,
                        d * cos - b * sin, e, f)

    def setLineDash(self, segments: list[float]) -> None:  # noqa: N802
        self._dash = [float(s) for s in segments]

    def _point(self, x: float, y: float) -> tuple[float, float]:
        a, b, c, d, e, f = self._matrix
        return a * x + c * y + e, b * x + d * y + f

    @property
    def _angle(self) -> float:
        return math.atan2(self._matrix[1], self._matrix[0])

    # ---- rectangles --------------------------------------------------------------------
    def fillRect(self, x: float, y: float, w: float, h: float) -> None:  # noqa: N802
        corners = [self._point(x, y), self._point(x + w, y), self._point(x + w, y + h),
                   self._point(x, y + h)]
        self.canvas.draw.polygon(corners, fill=css_rgba(self.fillStyle))

    def strokeRect(self, x: float, y: float, w: float, h: float) -> None:  # noqa: N802
        corners = [self._point(x, y), self._point(x + w, y), self._point(x + w, y + h),
                   self._point(x, y + h), self._point(x, y)]
        self._stroke_points(corners)

    # ---- paths -------------------------------------------------------------------------
    def beginPath(self) -> None:  # noqa: N802
        self._path = []

    def moveTo(self, x: float, y: float) -> None:  # noqa: N802
        self._path.append([self._point(x, y)])

    def lineTo(self, x: float, y: float) -> None:  # noqa: N802
        if not self._path:
            self._path.append([])
        self._path[-1].append(self._point(x, y))

    def stroke(self) -> None:
        for points in self._path:
            self._stroke_points(points)

    def _stroke_points(self, points: list[tuple[float, float]]) -> None:
        if len(points) < 2:
            return
        color, width = css_rgba(self.strokeStyle), max(1, round(self.lineWidth))
        if not self._dash:
            self.canvas.draw.line(points, fill=color, width=width, joint="curve")
            return
        for start, end in _dashes(points, self._dash):
            self.canvas.draw.line([start, end], fill=color, width=width)

    # ---- text --------------------------------------------------------------------------
    def measureText(self, text: str) -> Any:  # noqa: N802
        font = _font(self._font_px(), _has_wide(text))
        return type("TextMetrics", (), {"width": font.getlength(text)})()

    def _font_px(self) -> int:
        match = _FONT_PX.search(self.font)
        return max(1, round(float(match.group(1)))) if match else 10

    def fillText(self, text: str, x: float, y: float) -> None:  # noqa: N802
        from PIL import Image, ImageDraw

        text = str(text)
        if not text:
            return
        font = _font(self._font_px(), _has_wide(text))
        width = font.getlength(text)
        ascent, descent = font.getmetrics()
        dx = {"center": -width / 2, "right": -width, "end": -width}.get(self.textAlign, 0.0)
        dy = {"top": 0.0, "hanging": 0.0, "middle": -(ascent + descent) / 2,
              "bottom": -(ascent + descent), "ideographic": -(ascent + descent)
              }.get(self.textBaseline, -ascent)
        color = css_rgba(self.fillStyle)
        angle = self._angle
        if abs(angle) < 1e-6:
            px, py = self._point(x, y)
            self.canvas.draw.text((px + dx, py + dy), text, fill=color, font=font)
            return
        # Rotated text (an axis label): drawn level on its own image, turned, pasted.
        box = Image.new("RGBA", (math.ceil(width) + 2, ascent + descent + 2), (0, 0, 0, 0))
        ImageDraw.Draw(box).text((1, 1), text, fill=color, font=font)
        turned = box.rotate(math.degrees(-angle), expand=True)
        # The anchor (x, y) sits at (-dx, -dy) of the level text's box.
        ax, ay = -dx + 1, -dy + 1
        cx, cy = box.width / 2, box.height / 2
        cos, sin = math.cos(angle), math.sin(angle)
        rx, ry = cos * (ax - cx) - sin * (ay - cy), sin * (ax - cx) + cos * (ay - cy)
        px, py = self._point(x, y)
        left = round(px - rx - turned.width / 2)
        top = round(py - ry - turned.height / 2)
        self.canvas.image.alpha_composite(turned, (max(left, 0), max(top, 0)))

    # ---- pixels ------------------------------------------------------------------------
    def put_rgba(self, rgba: np.ndarray, x: int, y: int) -> None:
        """putImageData: the pixels replace what is there (no blending), clipped to the canvas."""
        from PIL import Image

        self.canvas.image.paste(Image.fromarray(np.ascontiguousarray(rgba, np.uint8), "RGBA"),
                                (int(x), int(y)))


def _dashes(points: list[tuple[float, float]], pattern: list[float]):
    """The drawn pieces of a polyline under a dash pattern (on, off, on, ...)."""
    pattern = [p for p in pattern if p > 0] or [1.0]
    if len(pattern) % 2:
        pattern = pattern * 2
    index, left, on = 0, pattern[0], True
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        length = math.hypot(x1 - x0, y1 - y0)
        done = 0.0
        while done < length:
            step = min(left, length - done)
            if on:
                t0, t1 = done / length, (done + step) / length
                yield ((x0 + (x1 - x0) * t0, y0 + (y1 - y0) * t0),
                       (x0 + (x1 - x0) * t1, y0 + (y1 - y0) * t1))
            done += step
            left -= step
            if left <= 1e-9:
                index = (index + 1) % len(pattern)
                left, on = pattern[index], not on


class PngCanvas:
    """A canvas of `width` x `height` transparent pixels; resizing clears it, as in a browser."""

    def __init__(self, width: int = 300, height: int = 150) -> None:
        self._size = (int(width), int(height))
        self._context: PngContext | None = None
        self._clear()

    def _clear(self) -> None:
        from PIL import Image, ImageDraw

        self.image = Image.new("RGBA", (max(1, self._size[0]), max(1, self._size[1])))
        self.draw = ImageDraw.Draw(self.image)

    @property
    def width(self) -> int:
        return self._size[0]

    @width.setter
    def width(self, value: int) -> None:
        self._size = (int(value), self._size[1])
        self._clear()

    @property
    def height(self) -> int:
        return self._size[1]

    @height.setter
    def height(self, value: int) -> None:
        self._size = (self._size[0], int(value))
        self._clear()

    def getContext(self, kind: str) -> PngContext:  # noqa: N802 - the Canvas API's name
        if kind != "2d":
            raise ValueError(f"only the 2d context is drawn here, not {kind!r}")
        if self._context is None:
            self._context = PngContext(self)
        return self._context

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG")
        return buffer.getvalue()

    def rgba(self) -> np.ndarray:
        """The pixels, uint8 [height, width, 4]."""
        return np.asarray(self.image)


class PngCanvases:
    """Named PngCanvases, created on first use: the same interface `web/canvas.CanvasSet` gives
    the page's views (`ctx`, `size`, `put_image`, `theme`), so `codelab.show` draws on either.
    With a `directory`, `save(name)` writes `<directory>/<name>.png`."""

    def __init__(self, directory: str | Path | None = None, dark: bool = False) -> None:
        self.canvases: dict[str, PngCanvas] = {}
        self.directory = Path(directory) if directory is not None else None
        self.theme = charts.DARK if dark else charts.LIGHT

    def canvas(self, name: str) -> PngCanvas:
        if name not in self.canvases:
            self.canvases[name] = PngCanvas()
        return self.canvases[name]

    def size(self, name: str) -> tuple[int, int]:
        canvas = self.canvas(name)
        return canvas.width, canvas.height

    def ctx(self, name: str, width: int | None = None, height: int | None = None) -> PngContext:
        canvas = self.canvas(name)
        if width is not None and (canvas.width, canvas.height) != (int(width), int(height)):
            canvas.width, canvas.height = int(width), int(height)
        return canvas.getContext("2d")

    def put_image(self, name: str, rgba: np.ndarray, x: int = 0, y: int = 0) -> None:
        self.ctx(name).put_rgba(rgba, x, y)

    def save(self, name: str) -> Path | None:
        """Write canvas `name` to `<directory>/<name>.png` (nothing without a directory)."""
        if self.directory is None:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{name}.png"
        path.write_bytes(self.canvas(name).png())
        return path
