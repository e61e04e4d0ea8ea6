"""The SIMD GEMM wrapper under CPython, with the WebAssembly kernel replaced by an emulation of
its ABI that reads and writes raw memory (safe only because every call is checked first)."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

from digitlab.backend import registry
from digitlab.backend import wasm as simd
from digitlab.backend.wasm import gemm, loader, memory
from digitlab.backend.wasm import ops as wasm_ops
from kernels import build_kernels, gemm_wat


def raw_view(addr: int, shape: tuple, strides: tuple) -> np.ndarray:
    lo, hi = memory.extent(addr, list(zip(shape, strides, strict=True)))
    buf = (ctypes.c_char * max(hi - lo, 1)).from_address(lo)
    return np.ndarray(shape, np.float32, buffer=buf, offset=addr - lo, strides=strides)


def emulated_kernel(m, n, k, a, a_rs, a_cs, bp, c, ldc, flags) -> None:
    """digitlab_sgemm's documented ABI, in NumPy on raw addresses."""
    panels = -(-n // gemm.PANEL)
    a_view = raw_view(a, (m, k), (a_rs, a_cs))
    packed = raw_view(bp, (panels, k, gemm.PANEL), (k * 32, 32, 4))
    b_view = packed.transpose(1, 0, 2).reshape(k, panels * gemm.PANEL)[:, :n]
    c_view = raw_view(c, (m, n), (ldc, 4))
    product = a_view.astype(np.float64) @ b_view.astype(np.float64)
    c_view[...] = (c_view + product if flags else product).astype(np.float32)


class Recorder:
    def __init__(self, emulate: bool = True) -> None:
        self.calls: list[tuple] = []
        self.emulate = emulate

    def __call__(self, *args) -> None:
        self.calls.append(args)
        if self.emulate:
            emulated_kernel(*args)


@pytest.fixture()
def kernel(monkeypatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setitem(gemm._state, "kernel", recorder)
    return recorder


def reference(a, b, trans_a, trans_b) -> np.ndarray:
    return (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b).astype(np.float64)


def relative_error(got, a, b, trans_a, trans_b) -> float:
    scale = np.abs(a.T if trans_a else a).astype(np.float64) @ np.abs(b.T if trans_b else b)
    return float(np.max(np.abs(got - reference(a, b, trans_a, trans_b)) / (scale + 1e-30)))


def operands(rng, m, n, k, trans_a, trans_b, dtype=np.float32):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    return a, b


# ---------------------------------------------------------------- results


def test_random_shapes_match_float64(kernel):
    rng = np.random.default_rng(0)
    for _ in range(300):
        m, n, k = (int(v) for v in rng.integers(1, 30, 3))
        ta, tb = bool(rng.integers(2)), bool(rng.integers(2))
        a, b = operands(rng, m, n, k, ta, tb)
        got = gemm.simd_gemm(a, b, ta, tb)
        assert got.shape == (m, n) and got.dtype == np.float32 and got.flags.c_contiguous
        assert relative_error(got, a, b, ta, tb) < 1e-5
    assert kernel.calls


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (1, 8, 3), (8, 1, 3), (5, 17, 9), (33, 24, 1),
                                   (7, 9, 600)])
def test_edge_shapes(kernel, m, n, k):
    a, b = operands(np.random.default_rng(1), m, n, k, False, False)
    assert relative_error(gemm.simd_gemm(a, b), a, b, False, False) < 1e-5


def test_strided_and_reversed_views_are_read_in_place(kernel):
    rng = np.random.default_rng(2)
    base = rng.standard_normal((40, 30)).astype(np.float32)
    b = rng.standard_normal((15, 11)).astype(np.float32)
    for view in (base[::2, ::2], base[::-2, 1::2], base[3:23, 15:]):
        got = gemm.simd_gemm(view, b)
        assert relative_error(got, view, b, False, False) < 1e-5
        assert kernel.calls[-1][3:6] == (memory.address(view), *view.strides)  # no copy


def test_views_the_kernel_cannot_stride_are_copied(kernel):
    rng = np.random.default_rng(3)
    raw = np.zeros(20 * 4 * 4 + 8, np.uint8)
    start = 1 + (-memory.address(raw)) % 4
    a = raw[start : start + 320].view(np.float32).reshape(20, 4)  # misaligned by one byte
    a[...] = rng.standard_normal((20, 4))
    b = rng.standard_normal((4, 9)).astype(np.float32)
    assert memory.address(a) % 4 == 1 and not memory.readable_in_place(a)
    assert relative_error(gemm.simd_gemm(a, b), a, b, False, False) < 1e-5
    assert memory.address(a) not in [call[3] for call in kernel.calls]


def test_swapped_orientation_for_wide_outputs(kernel):
    """m < n: the kernel computes C.T (packing the smaller operand); result is the same."""
    rng = np.random.default_rng(4)
    a, b = operands(rng, 3, 40, 20, True, False)
    got = gemm.simd_gemm(a, b, True, False)
    assert kernel.calls[-1][0] == 40  # the kernel saw M = n
    assert relative_error(got, a, b, True, False) < 1e-5


def test_out_contiguous_noncontiguous_and_accumulate(kernel):
    rng = np.random.default_rng(5)
    a, b = operands(rng, 12, 10, 7, False, True)
    want = reference(a, b, False, True)
    out = np.full((12, 10), 9.0, dtype=np.float32)
    assert gemm.simd_gemm(a, b, False, True, out=out) is out
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    gemm.simd_gemm(a, b, False, True, out=out, accumulate=True)
    np.testing.assert_allclose(out, 2 * want, rtol=1e-5, atol=1e-5)
    wide = np.zeros((12, 20), dtype=np.float32)
    gemm.simd_gemm(a, b, False, True, out=wide[:, ::2])
    np.testing.assert_allclose(wide[:, ::2], want, rtol=1e-5, atol=1e-5)
    assert not wide[:, 1::2].any()


def test_out_aliasing_an_input_is_computed_out_of_place(kernel):
    a = np.random.default_rng(6).standard_normal((8, 8)).astype(np.float32)
    want = reference(a, a, False, False)
    gemm.simd_gemm(a, a.copy(), out=a)
    np.testing.assert_allclose(a, want, rtol=1e-5, atol=1e-5)


def test_empty_dimensions(kernel):
    assert gemm.simd_gemm(np.ones((0, 3), np.float32), np.ones((3, 4), np.float32)).shape == (0, 4)
    zero_k = gemm.simd_gemm(np.ones((2, 0), np.float32), np.ones((0, 4), np.float32))
    assert zero_k.shape == (2, 4) and not zero_k.any()
    assert not kernel.calls


def test_other_dtypes_fall_back_to_numpy(kernel):
    rng = np.random.default_rng(7)
    a, b = operands(rng, 6, 5, 4, True, False, np.float64)
    np.testing.assert_allclose(gemm.simd_gemm(a, b, True, False), reference(a, b, True, False))
    gemm.simd_gemm(a.astype(np.float32), b, True, False)  # mixed: NumPy too
    out = np.empty((5, 5), np.float64)  # float32 inputs, float64 out: NumPy casts, as matmul
    x = a[:, :5].astype(np.float32)
    gemm.simd_gemm(x, x, True, False, out=out)
    np.testing.assert_allclose(out, reference(x, x, True, False), rtol=1e-6)
    assert not kernel.calls


def test_through_the_gemm_registry(kernel):
    registry.register_backend("simd-test", gemm.simd_gemm)
    previous = registry.get_backend()
    registry.set_backend("simd-test")
    try:
        a, b = operands(np.random.default_rng(8), 9, 5, 6, False, False)
        assert relative_error(registry.gemm(a, b), a, b, False, False) < 1e-5
    finally:
        registry.set_backend(previous)


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("a_shape,b_shape", [((3, 4), (5, 6)), ((3, 4, 1), (4, 2)), ((4,), (4, 2))])
def test_bad_shapes_are_refused(kernel, a_shape, b_shape):
    with pytest.raises(ValueError):
        gemm.simd_gemm(np.ones(a_shape, np.float32), np.ones(b_shape, np.float32))
    assert not kernel.calls


@pytest.mark.parametrize("out", [np.empty((3, 3), np.float32), np.empty((2, 3), np.float32),
                                 np.empty((3, 2, 1), np.float32)])
def test_bad_out_is_refused(kernel, out):
    with pytest.raises(ValueError):
        gemm.simd_gemm(np.ones((3, 4), np.float32), np.ones((4, 2), np.float32), out=out)
    assert not kernel.calls


def test_read_only_out_is_refused(kernel):
    out = np.empty((3, 2), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError):
        gemm.simd_gemm(np.ones((3, 4), np.float32), np.ones((4, 2), np.float32), out=out)
    assert not kernel.calls


def test_views_reaching_outside_their_buffer_are_refused(kernel):
    small = np.ones(16, np.float32)
    liar = as_strided(small, shape=(100, 4), strides=(16, 4))  # 400 floats over 16
    with pytest.raises(ValueError, match="outside"):
        gemm.simd_gemm(liar, np.ones((4, 3), np.float32))
    with pytest.raises(ValueError, match="outside"):
        gemm.simd_gemm(np.ones((5, 100), np.float32), liar)
    with pytest.raises(ValueError, match="outside"):
        gemm.simd_gemm(np.ones((100, 2), np.float32), np.ones((2, 4), np.float32), out=liar)
    assert not kernel.calls


def valid_call() -> tuple[gemm.KernelCall, np.ndarray, np.ndarray, np.ndarray]:
    m, n, k = 10, 12, 7
    a = np.ones((m, k), np.float32)
    bp = np.zeros(2 * k * 8, np.float32)
    c = np.zeros((m, n), np.float32)
    call = gemm.KernelCall(m, n, k, memory.address(a), 4 * k, 4, memory.address(bp),
                           memory.address(c), 4 * n, 0)
    return call, a, bp, c


def test_the_valid_call_passes():
    gemm.check_call(*valid_call())


def replace(call: gemm.KernelCall, **fields) -> gemm.KernelCall:
    values = {**call.__dict__, **fields}
    return gemm.KernelCall(**values)


@pytest.mark.parametrize("fields", [
    {"m": 11}, {"k": 8}, {"n": 17}, {"m": 0}, {"n": -1}, {"flags": 2}, {"a_rs": 32},
    {"a_cs": 8}, {"ldc": 40}, {"ldc": 44}, {"a_rs": -28}, {"m": 2**31}, {"k": 1.5},
])
def test_wrong_sizes_and_strides_are_refused(kernel, fields):
    call, a, bp, c = valid_call()
    with pytest.raises(ValueError, match="refused"):
        gemm.run_kernel(replace(call, **fields), a, bp, c)
    assert not kernel.calls


@pytest.mark.parametrize("which", ["a", "bp", "c"])
def test_wrong_addresses_are_refused(kernel, which):
    call, a, bp, c = valid_call()
    for delta in (4, -4, 2, 1 << 20):
        with pytest.raises(ValueError, match="refused"):
            gemm.run_kernel(replace(call, **{which: getattr(call, which) + delta}), a, bp, c)
    assert not kernel.calls


def test_wrong_arrays_are_refused(kernel):
    call, a, bp, c = valid_call()
    frozen = c.copy()
    frozen.flags.writeable = False
    frozen_call = replace(call, c=memory.address(frozen))
    bad = [
        (call, a.astype(np.float64), bp, c),  # dtype
        (call, a, bp[:-1], c),  # packed B too small
        (call, a, bp, c.tolist()),  # not an array
        (frozen_call, a, bp, frozen),  # read-only output
    ]
    for args in bad:
        with pytest.raises(ValueError, match="refused"):
            gemm.run_kernel(*args)
    assert not kernel.calls


def test_overlapping_output_is_refused(kernel):
    block = np.zeros(400, np.float32)
    a = block[:70].reshape(10, 7)
    c = block[60:180].reshape(10, 12)  # overlaps a's last row
    bp = np.zeros(2 * 7 * 8, np.float32)
    call = gemm.KernelCall(10, 12, 7, memory.address(a), 28, 4, memory.address(bp),
                           memory.address(c), 48, 0)
    with pytest.raises(ValueError, match="overlaps"):
        gemm.run_kernel(call, a, bp, c)
    assert not kernel.calls


def test_as_strided_liar_is_refused_at_the_kernel_boundary(kernel):
    small = np.ones(16, np.float32)
    liar = as_strided(small, shape=(10, 7), strides=(28, 4))
    call, _, bp, c = valid_call()
    with pytest.raises(ValueError, match="outside its buffer"):
        gemm.run_kernel(replace(call, a=memory.address(liar)), liar, bp, c)
    assert not kernel.calls


def test_address_limit(kernel, monkeypatch):
    monkeypatch.setattr(memory, "ADDRESS_LIMIT", 4096)
    with pytest.raises(ValueError, match="refused"):
        gemm.run_kernel(*valid_call())
    assert not kernel.calls


def test_kernel_not_loaded_raises(monkeypatch):
    monkeypatch.setitem(gemm._state, "kernel", None)
    with pytest.raises(RuntimeError):
        gemm.run_kernel(*valid_call())


# ---------------------------------------------------------------- loading: no silent failure


@pytest.fixture()
def pyodide_load(monkeypatch, kernel):
    """`load` as under Pyodide (it checks sys.platform), with fresh loader state; the kernels,
    the registry and the active backend are restored afterwards."""
    monkeypatch.setattr(sys, "platform", "emscripten")
    monkeypatch.setattr(loader, "_state", {"variant": None, "errors": []})
    monkeypatch.setattr(wasm_ops, "_kernels", {})
    monkeypatch.setattr(registry, "_BACKENDS", dict(registry._BACKENDS))
    previous = registry.get_backend()
    yield previous
    registry.set_backend(previous)


def silent_layer_kernels() -> dict:
    return {name: (lambda *args: None) for name in wasm_ops.SIGNATURES}


def assert_unloaded(previous: str) -> None:
    assert registry.get_backend() == previous
    assert gemm._state["kernel"] is None and not wasm_ops._kernels


def test_variants_that_will_not_open_are_logged_and_kept(pyodide_load, monkeypatch, caplog):
    def will_not_open(path):
        raise OSError(f"{path}: bad magic number")

    monkeypatch.setattr(loader, "_open_kernel", will_not_open)
    # As the controller reports a kernel it could not download, before load tries the others.
    simd.note_failure("relaxed", "download: AppError: gemm_relaxed.wasm: HTTP 404")
    with caplog.at_level("WARNING", logger=loader.__name__):
        assert simd.load("/tmp/gemm_plain.so", "/tmp/gemm_relaxed.so", relaxed=True) is False
    info = simd.info()
    assert info["variant"] is None and info["errors"] == [
        {"variant": "relaxed", "reason": "download: AppError: gemm_relaxed.wasm: HTTP 404"},
        {"variant": "relaxed", "reason": "OSError: /tmp/gemm_relaxed.so: bad magic number"},
        {"variant": "plain", "reason": "OSError: /tmp/gemm_plain.so: bad magic number"},
    ]
    logged = [record.getMessage() for record in caplog.records]
    assert any("relaxed" in line and "HTTP 404" in line for line in logged), logged
    assert any("plain" in line and "bad magic number" in line for line in logged), logged
    assert_unloaded(pyodide_load)
    info["errors"].clear()  # info() hands out a copy
    assert len(simd.info()["errors"]) == 3


def test_a_failed_self_test_is_logged_and_kept(pyodide_load, monkeypatch, caplog):
    def wrong_kernel(*args):
        emulated_kernel(*args)
        c, ldc, m = args[7], args[8], args[0]
        raw_view(c, (m, 1), (ldc, 4))[...] += 1  # column 0 off by one

    monkeypatch.setattr(loader, "_open_kernel", lambda path: (wrong_kernel, silent_layer_kernels()))
    with caplog.at_level("WARNING", logger=loader.__name__):
        assert simd.load("/tmp/gemm_plain.so") is False
    assert simd.info()["errors"] == [{"variant": "plain", "reason": "the GEMM self-test failed"}]
    assert any("GEMM self-test failed" in record.getMessage() for record in caplog.records)
    assert_unloaded(pyodide_load)


def test_an_exception_in_a_self_test_is_logged_and_kept(pyodide_load, monkeypatch):
    def trapping(*args):
        raise RuntimeError("wasm trap: out of bounds memory access")

    layer_kernels = dict.fromkeys(wasm_ops.SIGNATURES, trapping)
    monkeypatch.setattr(loader, "_open_kernel", lambda path: (emulated_kernel, layer_kernels))
    assert simd.load("/tmp/gemm_plain.so") is False
    assert simd.info()["errors"] == [
        {"variant": "plain", "reason": "RuntimeError: wasm trap: out of bounds memory access"}]
    assert_unloaded(pyodide_load)


# ---------------------------------------------------------------- helpers


def test_extent_and_footprint():
    assert memory.extent(100, [(3, 8), (2, 4)]) == (100, 100 + 16 + 4 + 4)
    assert memory.extent(100, [(3, -8)]) == (84, 104)
    assert memory.extent(100, [(0, 8)]) == (100, 100)
    x = np.zeros((5, 6), np.float32)
    assert memory.footprint(x[::-1]) == memory.footprint(x)
    assert memory.buffer_bounds(x[1:3, ::2]) == memory.footprint(x)
    raw = bytearray(64)
    over = np.frombuffer(raw, np.float32)[2:5]
    lo, hi = memory.buffer_bounds(over)
    assert hi - lo == 64


def test_footprint_is_the_extent_of_every_element():
    """footprint's C-contiguous shortcut (nbytes) agrees with extent() over shape and strides,
    for as_strided views with any strides (size-1 and empty dimensions included)."""
    rng = np.random.default_rng(9)
    base = np.zeros(4000, np.float32)
    contiguous = 0
    for _ in range(3000):
        ndim = int(rng.integers(0, 4))
        shape = tuple(int(v) for v in rng.integers(0, 4, ndim))
        strides = tuple(4 * int(v) for v in rng.integers(-20, 20, ndim))
        view = as_strided(base[2000:], shape=shape, strides=strides)
        for x in (view, view.T, np.zeros(shape, np.float32)):
            dims = list(zip(x.shape, x.strides, strict=True))
            assert memory.footprint(x) == memory.extent(memory.address(x), dims), dims
            contiguous += x.flags.c_contiguous
    assert contiguous > 3000  # both paths were taken


def test_pack_b_layout_and_workspace():
    b = np.arange(5 * 19, dtype=np.float32).reshape(5, 19)
    packed = gemm.pack_b(b)
    assert packed.shape == (3, 5, 8) and memory.address(packed) % 16 == 0
    np.testing.assert_array_equal(packed.transpose(1, 0, 2).reshape(5, 24)[:, :19], b)
    assert not packed[2, :, 3:].any()
    eight = np.ones((5, 8), np.float32)
    assert gemm.pack_b(eight) is eight  # already panel layout: no copy
    big = gemm.workspace(10_000)
    assert big.size == 10_000 and memory.address(big) % 16 == 0


def test_load_is_a_no_op_outside_pyodide():
    assert sys.platform != "emscripten", "the unit tests run under CPython"
    assert simd.load("/nonexistent.wasm") is False
    assert simd.info()["variant"] is None


# ---------------------------------------------------------------- the kernel build


def test_leb128_and_dylink_section():
    assert build_kernels.leb128(0) == b"\0"
    assert build_kernels.leb128(624485) == bytes([0xE5, 0x8E, 0x26])
    section = build_kernels.dylink_section()
    assert section == b"\0\x0f\x08dylink.0\x01\x04\0\0\0\0"


def test_wat_mentions_only_the_chosen_instructions():
    assert "relaxed_madd" in gemm_wat.wat(relaxed=True)
    assert "relaxed" not in gemm_wat.wat(relaxed=False)
    assert '(import "env" "memory" (memory 0))' in gemm_wat.wat()


# Reads each built module back with npm's wabt and validates it: the plain one without relaxed
# SIMD enabled (so it truly runs on every SIMD browser), the relaxed one only with it.
VALIDATE_JS = """
import { readFileSync } from "node:fs";
import wabtInit from "wabt";
const wabt = await wabtInit();
const [path, relaxed] = process.argv.slice(1);
for (const relaxed_simd of relaxed === "relaxed" ? [true, false] : [false]) {
  let verdict = "valid";
  try {
    wabt.readWasm(readFileSync(path), { simd: true, relaxed_simd }).validate();
  } catch (error) {
    verdict = "invalid";
  }
  console.log(`${relaxed_simd ? "with" : "without"} relaxed SIMD: ${verdict}`);
}
"""


def test_build_kernels(tmp_path):
    """build.py's own kernel build, with the assembler it uses: npm's wabt, pinned by
    package-lock.json, run by kernels/wat2wasm.mjs (no system package)."""
    node = shutil.which("node")
    assert node, "node is not on PATH: the kernels are assembled with npm's wabt (install Node.js)"
    assert build_kernels.NODE_WABT.is_dir(), (
        f"{build_kernels.NODE_WABT} is missing: run `npm ci` (it installs the pinned wabt)")
    command = build_kernels.assembler_command(tmp_path / "k.wat", tmp_path / "k.wasm", False)
    assert command[:2] == [node, str(build_kernels.NODE_ASSEMBLER)], command
    paths = build_kernels.build_kernels(tmp_path)
    assert [p.name for p in paths] == ["gemm_plain.wasm", "gemm_relaxed.wasm"]
    for path, relaxed in zip(paths, (False, True), strict=True):
        data = path.read_bytes()
        assert data.startswith(b"\0asm\x01\0\0\0" + build_kernels.dylink_section())
        result = subprocess.run(
            [node, "--input-type=module", "-e", VALIDATE_JS, str(path),
             "relaxed" if relaxed else "plain"],
            cwd=build_kernels.NODE_WABT.parents[1], capture_output=True, text=True, check=True)
        expected = ["with relaxed SIMD: valid", "without relaxed SIMD: invalid"] if relaxed \
            else ["without relaxed SIMD: valid"]
        assert result.stdout.splitlines() == expected, (path.name, result.stdout, result.stderr)
