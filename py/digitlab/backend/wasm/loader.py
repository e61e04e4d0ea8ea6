"""Open the kernels' side module, self-test it, and make "simd" the active backend.

Boot, in the Pyodide worker: js/worker.js downloads the site's kernels/gemm_plain.<hash>.wasm
(and gemm_relaxed when the page asks for `?simd=relaxed`), web/controller.py writes each into
Pyodide's file system as /tmp/gemm_<variant>.so and calls
    load("/tmp/gemm_plain.so", "/tmp/gemm_relaxed.so" or None, relaxed=...)
`load` dlopens a variant through Pyodide's dynamic linker (ctypes.CDLL: the module shares
Pyodide's memory), gives digitlab_sgemm to gemm.py and the layer kernels to ops.py, checks both
against NumPy on awkward shapes, and registers them with backend/registry.py. The plain variant
is the default: its results are bit-for-bit the same on every machine; the relaxed one is
faster, hardware-dependent, and rejected by browsers without relaxed SIMD (the plain one is
then tried). When nothing loads, the NumPy backend stays.

No failure is silent: each variant that would not open or failed its self-test, and each kernel
download the controller could not get (`note_failure`), is logged as a warning (stderr, which
Pyodide shows in the worker's console) and kept; `info()` returns the list.
"""

from __future__ import annotations

import ctypes
import logging
import sys

import numpy as np

from digitlab.backend import numpy_ops, registry
from digitlab.backend.wasm import gemm, ops
from digitlab.backend.wasm.memory import FLOAT32

BACKEND_NAME = "simd"
# digitlab_sgemm(M, N, K, a, a_rs, a_cs, bp, c, ldc, flags): addresses unsigned, the rest signed.
SGEMM_ARGTYPES = [ctypes.c_int32] * 3 + [ctypes.c_uint32, ctypes.c_int32, ctypes.c_int32,
                                         ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int32,
                                         ctypes.c_int32]

_log = logging.getLogger(__name__)
# errors: {"variant", "reason"} per failed attempt since the worker started, oldest first.
_state: dict = {"variant": None, "errors": []}


def _open_kernel(path: str) -> tuple[gemm.Kernel, dict[str, gemm.Kernel]]:
    """dlopen the side module; return its sgemm export and its layer kernels (name -> export)."""
    library = ctypes.CDLL(path)
    sgemm = getattr(library, gemm.KERNEL_SYMBOL)
    sgemm.argtypes = SGEMM_ARGTYPES
    sgemm.restype = None
    layer_kernels = {}
    for name, count in ops.SIGNATURES.items():
        fn = getattr(library, name)
        fn.argtypes = [ctypes.c_uint32] * count
        fn.restype = None
        layer_kernels[name] = fn
    return sgemm, layer_kernels


# ---------------------------------------------------------------- self-tests

def gemm_self_test() -> bool:
    """A few awkward shapes against NumPy float64: the kernel must be right before it is used."""
    rng = np.random.default_rng(0)
    for m, n, k, ta, tb in [(13, 11, 7, False, False), (7, 19, 300, True, False),
                            (1, 1, 1, False, True), (9, 8, 5, True, True)]:
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(FLOAT32)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(FLOAT32)
        want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
        got = gemm.simd_gemm(a, b, ta, tb)
        if not np.allclose(got, want, rtol=1e-4, atol=1e-4):
            return False
    return True


def ops_self_test() -> bool:
    """Each layer kernel against its NumPy version on awkward shapes: right before used."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 7, 9, 4)).astype(FLOAT32)
    x[0, 0, 0, :] = x[0, 0, 1, :]  # a tie: the gradient must go to the first only
    for kernel_size, strides in (((3, 2), (1, 1)), ((2, 3), (2, 2))):
        want = numpy_ops.numpy_im2col(x, kernel_size, strides)
        if not np.array_equal(ops.im2col(x, kernel_size, strides), want):
            return False
        grads = rng.standard_normal(want.shape).astype(FLOAT32)
        a, b = np.zeros_like(x), np.zeros_like(x)
        numpy_ops.numpy_col2im_add(grads, a, kernel_size, strides)
        ops.col2im_add(grads, b, kernel_size, strides)
        if not np.allclose(a, b, rtol=1e-5, atol=1e-5):
            return False
    out = ops.pool_forward(x, 2, 2)
    dout = rng.standard_normal(out.shape).astype(FLOAT32)
    if not (np.array_equal(out, numpy_ops.numpy_pool_forward(x, 2, 2)) and np.array_equal(
            ops.pool_backward(x, out, dout, 2, 2),
            numpy_ops.numpy_pool_backward(x, out, dout, 2, 2))):
        return False
    y, bias = x.copy(), rng.standard_normal(4).astype(FLOAT32)
    ops.bias_act(y, bias, True)
    want = np.maximum(x + bias, 0)
    d, dbias = ops.grad_bias(x, y, True)
    want_d, want_bias = numpy_ops.numpy_grad_bias(x, y, True)
    return (np.array_equal(y, want) and np.array_equal(d, want_d)
            and np.allclose(dbias, want_bias, rtol=1e-5, atol=1e-5))


# ---------------------------------------------------------------- load and report

def note_failure(variant: str, reason: str) -> None:
    """Keep and log why a kernel variant is not used (a failed download, open or self-test)."""
    _state["errors"].append({"variant": variant, "reason": reason})
    _log.warning("digitlab: the %s SIMD kernels are not used: %s", variant, reason)


def _attempt(path: str, variant: str) -> str | None:
    """Open, bind, self-test and register one variant; None on success, else why not."""
    sgemm, layer_kernels = _open_kernel(path)
    gemm.bind(sgemm)
    ops.bind(layer_kernels)
    _state["variant"] = variant
    if not gemm_self_test():
        return "the GEMM self-test failed"
    if not ops_self_test():
        return "the layer kernels' self-test failed"
    registry.register_backend(BACKEND_NAME, gemm.simd_gemm, ops.TABLE)
    registry.set_backend(BACKEND_NAME)
    return None


def load(path_plain: str, path_relaxed: str | None = None, relaxed: bool = False) -> bool:
    """Load a kernel variant and make "simd" the active backend; False if impossible.

    `relaxed` asks for the relaxed-SIMD variant first, then the plain one. Every failed attempt
    is logged and kept for `info()`; on failure the previous backend stays active. Outside
    Pyodide there is no side module to open: False, and nothing is recorded.
    """
    if sys.platform != "emscripten":
        return False
    candidates = [(path_relaxed, "relaxed")] if relaxed and path_relaxed else []
    candidates.append((path_plain, "plain"))
    for path, variant in candidates:
        try:
            reason = _attempt(path, variant)
        except Exception as error:  # noqa: BLE001 - any failure means: the next variant, or NumPy
            reason = f"{type(error).__name__}: {error}"
        if reason is None:
            return True
        note_failure(variant, reason)
        _state["variant"] = None
        gemm.bind(None)
        ops.unbind()
    _log.warning("digitlab: no SIMD kernels loaded; the %s backend stays", registry.get_backend())
    return False


def info() -> dict:
    """{"backend": the active backend, "variant": "plain" | "relaxed" | None (the kernels
    loaded), "errors": [{"variant", "reason"}, ...] (every failed attempt, oldest first)}."""
    return {"backend": registry.get_backend(), "variant": _state["variant"],
            "errors": [dict(error) for error in _state["errors"]]}
