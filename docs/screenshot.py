"""Regenerate docs/screenshot.png (the README's picture) from a real run of the page.

    python3 docs/screenshot.py            # 6 epochs of the codelab's CNN -> docs/screenshot.png
    python3 docs/screenshot.py --epochs 2 --out /tmp/shot.png

What it does: `build.py serve --port 0` (which rebuilds site/ if an input changed), then in
Debian's Chromium (or $DIGITLAB_CHROMIUM) at 1280 px wide, in English and the light colour
scheme: boot, train the tutorial CNN with the page's default settings for --epochs epochs
through the form, evaluate on the 10,000 test images with the button, draw a digit on the pad,
and screenshot the page from "3. Train the model" down to the pad and its probabilities. The
picture is reduced to 256 colours (flat UI colours survive that) so it stays under ~400 KB.

Needs what the end-to-end tests need: Playwright for Python and the built site's downloads
(`python3 build.py` once). It takes about a minute on two cores, most of it training.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("DIGITLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update"]
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 600_000
MAX_BYTES = 400_000
# A "2" in the pad's own coordinates (it is 280 x 280 CSS px): the hook, the diagonal, the base.
DIGIT_STROKES = [
    [(85, 95), (110, 65), (150, 55), (185, 70), (195, 105), (180, 140), (145, 175), (110, 205),
     (85, 225)],
    [(85, 225), (130, 222), (170, 220), (205, 222)],
]


def serve() -> tuple[subprocess.Popen, str]:
    """Start `build.py serve` on a free port; returns the process and the URL it printed."""
    process = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "serve", "--port", "0"],
                               cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline().strip()
    while line and not line.startswith("http://"):  # build output comes first
        line = process.stdout.readline().strip()
    if not line.startswith("http://127.0.0.1:"):
        process.terminate()
        raise SystemExit(f"build.py serve did not print its URL (got {line!r})")
    return process, line


def train_evaluate_draw(page: Page, epochs: int) -> None:
    page.wait_for_function("() => window.digitlab && window.digitlab.ready")
    page.evaluate("window.digitlab.ready")
    page.get_by_test_id("model-select").select_option("tutorial")
    page.get_by_test_id("epochs").fill(str(epochs))
    page.get_by_test_id("train").click()
    # The bar is full only once the run is over ("ready" alone may still be before it).
    page.wait_for_function("""() => document.getElementById('progress').value === 1
                                     && window.digitlab.state().phase === 'ready'""")
    page.get_by_test_id("evaluate").click()
    page.wait_for_function("() => document.getElementById('test-accuracy').textContent !== ''")
    page.wait_for_function("() => window.digitlab.state().phase === 'ready'")

    pad = page.get_by_test_id("pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    scale = box["width"] / 280
    for stroke in DIGIT_STROKES:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=4)
        page.mouse.up()
    # The probabilities chart's text alternative is written when Python has drawn it.
    page.wait_for_function("() => document.getElementById('pad-probs-alt').textContent !== ''")
    page.wait_for_function("() => window.digitlab.state().phase === 'ready'")
    page.wait_for_timeout(500)  # worker canvases reach the page a frame after Python draws


def clip(page: Page) -> dict:
    """From the training step's top to the bottom of the pad's row, full width, in page px."""
    return page.evaluate("""() => {
        const top = document.getElementById('train').getBoundingClientRect().top + scrollY;
        const bottom = document.querySelector('#try .try').getBoundingClientRect().bottom + scrollY;
        return {x: 0, y: Math.floor(top - 12), width: innerWidth,
                height: Math.ceil(bottom - top + 28)};
    }""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    args = parser.parse_args()

    process, url = serve()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            context = browser.new_context(viewport=VIEWPORT, color_scheme="light",
                                          device_scale_factor=1)
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{url}?lang=en")
            train_evaluate_draw(page, args.epochs)
            png = page.screenshot(full_page=True, clip=clip(page))
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=10)

    picture = Image.open(io.BytesIO(png)).convert("RGB").quantize(256)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(args.out, optimize=True)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({picture.width} x {picture.height}, {size / 1e3:.0f} kB)")
    if size > MAX_BYTES:
        print(f"warning: over {MAX_BYTES / 1e3:.0f} kB; clip less or scale down", file=sys.stderr)


if __name__ == "__main__":
    main()
