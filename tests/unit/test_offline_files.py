"""build.py's offline files: the service worker lists every file of the build with its sha256
and is named by the build's hash; the app manifest and icons make the page installable; every
URL in them is relative, so the site works under a sub-path."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

from PIL import Image

import build


def listed(site: Path) -> tuple[str, dict[str, str], dict[str, str]]:
    """(version, files, headers) as the built sw.js holds them."""
    text = (site / build.SERVICE_WORKER).read_text()
    for placeholder in ["__VERSION__", "__FILES__", "__HEADERS__"]:
        assert placeholder not in text
    version = re.search(r'const VERSION = "(\w+)";', text)[1]
    files = json.loads(re.search(r"const FILES = (\{.*?\});", text, re.S)[1])
    headers = json.loads(re.search(r"const HEADERS = (\{.*?\});", text, re.S)[1])
    return version, files, headers


def fake_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    for path, data in {"index.html": b"<!doctype html>", "js/main.0123456789ab.js": b"x",
                       "vendor/pyodide/pyodide.asm.wasm": b"\0asm", ".nojekyll": b"",
                       ".build-stamp": b"stamp"}.items():
        build.write(site / path, data)
    return site


def test_the_service_worker_lists_every_file_with_its_sha256(tmp_path: Path) -> None:
    site = fake_site(tmp_path)
    build.write_offline_files(site)
    version, files, headers = listed(site)
    on_disk = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    assert set(files) == on_disk - {"sw.js", ".nojekyll", ".build-stamp"}
    assert {"index.html", "manifest.webmanifest", "icons/icon-512.png"} <= set(files)
    for path, sha in files.items():
        assert hashlib.sha256((site / path).read_bytes()).hexdigest() == sha, path
    assert version == build.build_version(files)
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert headers["Content-Security-Policy"] == build.CSP


def test_a_changed_file_makes_a_new_version(tmp_path: Path) -> None:
    site = fake_site(tmp_path)
    build.write_offline_files(site)
    first = listed(site)[0]
    build.write(site / "vendor/pyodide/pyodide.asm.wasm", b"\0asm, another build")
    build.write_offline_files(site)
    assert listed(site)[0] != first


def test_the_built_site_is_listed_whole() -> None:
    """Whatever build.py writes into site/ comes before the service worker lists it."""
    version, files, _ = listed(build.SITE)
    on_disk = {p.relative_to(build.SITE).as_posix() for p in build.SITE.rglob("*") if p.is_file()}
    assert set(files) == on_disk - build.NOT_PRECACHED
    assert any(path.startswith("vendor/") and path.endswith(".whl") for path in files)
    assert {"data/mnist_images.png", "vendor/pyodide-0.27.7/pyodide.asm.wasm"} <= set(files)


def is_relative(url: str) -> bool:
    return not re.match(r"^(/|[a-z][a-z0-9+.-]*:)", url, re.I)


def test_the_web_manifest_is_installable_and_relative() -> None:
    manifest = build.web_manifest()
    assert manifest["name"] == "DigitLab" and manifest["display"] == "standalone"
    for key in ["id", "start_url", "scope"]:
        assert is_relative(manifest[key]), key
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    assert all(is_relative(icon["src"]) for icon in manifest["icons"])
    html = (build.ROOT / "index.html").read_text()
    assert f'<meta name="theme-color" content="{manifest["theme_color"]}">' in html
    assert f"--accent: {manifest['theme_color']};" in (build.ROOT / "css/style.css").read_text()


def test_index_html_refers_to_nothing_by_an_absolute_url() -> None:
    html = (build.ROOT / "index.html").read_text()
    urls = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert urls and all(is_relative(url) or url.startswith("data:") for url in urls), urls
    assert 'rel="manifest" href="manifest.webmanifest"' in html


def test_icons_are_pngs_of_their_size_with_the_digit_in_the_safe_zone() -> None:
    background = tuple(bytes.fromhex(build.THEME_COLOUR[1:]))
    for _, size, purpose in build.ICONS:
        image = Image.open(io.BytesIO(build.icon_png(size, maskable=purpose == "maskable")))
        assert image.size == (size, size) and image.format == "PNG"
        pixels = image.convert("RGB").load()
        drawn = [(x, y) for y in range(0, size, 2) for x in range(0, size, 2)
                 if pixels[x, y] != background]
        assert len(drawn) > size * size / 200, "the digit is missing"
        if purpose == "maskable":  # a mask keeps the central circle of 40 % radius
            centre = size / 2
            assert all((x - centre) ** 2 + (y - centre) ** 2 < (0.4 * size) ** 2
                       for x, y in drawn)
