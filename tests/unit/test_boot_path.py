"""The boot's fast path: the sprite inflated by the worker (png.decode_gray8's `inflated`),
the package's bytecode made at build time, the boot's timings and the warm-up after it."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import build
from digitlab.data import png as png_decoder
from digitlab.data.mnist import SPRITE_FILE, MnistData
from tests.unit.conftest import synthetic_labels
from tests.unit.fakes import Lab, boot


def inflated_like_the_worker(data: bytes) -> png_decoder.Inflated:
    """What js/worker.js hands Python: the IDAT stream inflated, split into the rows without
    their filter bytes and those bytes."""
    idat = b"".join(body for kind, body in png_decoder.chunks(data) if kind == b"IDAT")
    header = next(body for kind, body in png_decoder.chunks(data) if kind == b"IHDR")
    width, height = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:8], "big")
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, width + 1)
    return rows[:, 1:].copy(), rows[:, 0].copy()


def test_the_real_sprite_decoded_from_the_workers_inflated_rows_is_pillows(data_dir) -> None:
    data = (data_dir / SPRITE_FILE).read_bytes()
    inflated = inflated_like_the_worker(data)
    assert set(np.unique(inflated[1])) - {0}, "the sprite has filtered rows to undo"
    got = png_decoder.decode_gray8(data, inflated)
    assert np.array_equal(got, np.asarray(Image.open(data_dir / SPRITE_FILE)))
    assert np.array_equal(got, png_decoder.decode_gray8(data))


def test_inflated_rows_of_the_wrong_shape_are_ignored(synthetic_sprite: bytes) -> None:
    wrong = (np.zeros((3, 784), np.uint8), np.zeros(3, np.uint8))
    assert np.array_equal(png_decoder.decode_gray8(synthetic_sprite, wrong),
                          png_decoder.decode_gray8(synthetic_sprite))


def test_the_chunks_are_checked_even_when_the_rows_come_inflated(synthetic_sprite: bytes) -> None:
    inflated = inflated_like_the_worker(synthetic_sprite)
    damaged = bytearray(synthetic_sprite)
    idat = synthetic_sprite.index(b"IDAT")
    damaged[idat + 10] ^= 0xFF
    with pytest.raises(png_decoder.PngError) as caught:
        png_decoder.decode_gray8(bytes(damaged), inflated)
    assert caught.value.reason == "png_crc"


def test_mnist_data_from_inflated_rows_matches_the_plain_decode(synthetic_sprite: bytes) -> None:
    labels = synthetic_labels()
    fast = MnistData.from_bytes(synthetic_sprite, labels,
                                inflated=inflated_like_the_worker(synthetic_sprite))
    assert np.array_equal(fast.images, MnistData.from_bytes(synthetic_sprite, labels).images)


# ---------------------------------------------------------------- bytecode

def split_bundle(blob: bytes) -> dict[str, bytes]:
    """The worker's reading of build.bytecode_bundle (js/worker.js bundledFiles)."""
    files, at = {}, 0
    while at + 4 <= len(blob):
        size = int.from_bytes(blob[at:at + 4], "little")
        name = blob[at + 4:at + 4 + size].decode()
        length = int.from_bytes(blob[at + 4 + size:at + 8 + size], "little")
        files[name] = blob[at + 8 + size:at + 8 + size + length]
        at += 8 + size + length
    return files


def test_the_bytecode_bundle_reads_back_file_by_file() -> None:
    files = {"digitlab/__pycache__/a.cpython-312.pyc": b"\x00" * 5, "b/c.pyc": b"xyz", "d": b""}
    assert split_bundle(build.bytecode_bundle(files)) == files


def test_pyc_names_are_the_ones_pyodides_imports_look_for() -> None:
    assert build.pyc_name("digitlab/nn/layers.py") == \
        "digitlab/nn/__pycache__/layers.cpython-312.pyc"


def test_the_built_site_ships_unchecked_bytecode_for_every_module() -> None:
    # js/package.js: what every Pyodide worker of the page loads (the lead and the replicas).
    package = next((build.SITE / "js").glob("package.*.js")).read_text()
    shipped = re.search(r'const PY_BYTECODE = "([^"]+)";', package)
    assert shipped, "the package names no bytecode (was the site built without node?)"
    name, version = shipped[1].split("?v=")
    blob = (build.SITE / "py" / name).read_bytes()
    assert build.content_hash(blob) == version
    files = split_bundle(blob)
    sources = sorted(p.relative_to(build.ROOT / "py").as_posix()
                     for p in (build.ROOT / "py").rglob("*.py"))
    assert sorted(files) == sorted(build.pyc_name(rel) for rel in sources)
    for data in files.values():
        # PEP 552: flags 0b01 = hash-based, not checked against the source (written at boot).
        assert int.from_bytes(data[4:8], "little") == 1
    magic = {data[:4] for data in files.values()}
    assert len(magic) == 1 and magic.pop()[2:] == b"\r\n"


def test_bytecode_is_compiled_again_only_for_changed_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "CACHE", tmp_path)
    calls = []
    real_run = build.subprocess.run

    def counting_run(args, **kwargs):
        calls.append(json.loads(Path(args[2]).read_text())["files"])
        return real_run(args, **kwargs)

    monkeypatch.setattr(build.subprocess, "run", counting_run)
    first = build.bytecode_archive({"pkg/a.py": b"A = 1\n", "pkg/b.py": b"B = 2\n"})
    second = build.bytecode_archive({"pkg/a.py": b"A = 1\n", "pkg/b.py": b"B = 3\n"})
    assert calls == [["pkg/a.py", "pkg/b.py"], ["pkg/b.py"]]
    assert split_bundle(first)["pkg/__pycache__/a.cpython-312.pyc"] == \
        split_bundle(second)["pkg/__pycache__/a.cpython-312.pyc"]


# ---------------------------------------------------------------- the controller's part

def test_boot_reports_its_steps_in_order(synthetic_sprite: bytes) -> None:
    result = boot(Lab(), synthetic_sprite, synthetic_labels())
    timings = result["value"]["timings"]
    assert list(timings) == ["dataWait", "dataDecode", "kernels", "firstDraw"]
    ends = [0.0]
    for start, end in timings.values():
        assert ends[-1] <= start <= end
        ends.append(end)


def test_the_warm_up_changes_nothing_with_or_without_a_model(synthetic_sprite: bytes) -> None:
    lab = Lab()
    assert boot(lab, synthetic_sprite, synthetic_labels())["ok"]
    before = lab.call("state")["value"]
    assert lab.call("warmUp") == {"ok": True, "value": None, "bytes": None}
    assert lab.call("state")["value"] == before and lab.controller.model is None
    assert lab.call("train", {"trainSize": 100, "validationSize": 100, "epochs": 1,
                              "batchSize": 50})["ok"]
    weights = {name: value.copy() for name, value in lab.controller.model.parameters().items()}
    state = lab.call("state")["value"]
    assert lab.call("warmUp")["ok"]
    assert lab.call("state")["value"] == state
    after = lab.controller.model.parameters()
    assert weights.keys() == after.keys()
    assert all(np.array_equal(weights[name], after[name]) for name in weights)
