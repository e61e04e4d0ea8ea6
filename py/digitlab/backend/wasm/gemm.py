"""The WebAssembly SIMD GEMM backend: a checked Python wrapper around kernels/gemm_wat.py.

Under Pyodide the kernel is an Emscripten side module loaded with `ctypes.CDLL`; it shares
Pyodide's memory, so NumPy arrays are passed as i32 addresses, with no copies and no JS. The
kernel has no bounds checks: a wrong size or stride would silently corrupt the Python heap.
So every call goes through `check_call`, which proves (in pure Python, unit-testable under
CPython with the kernel mocked) that each address the kernel will touch lies inside the array
it belongs to, and raises ValueError instead of calling otherwise.

Kernel ABI (see kernels/gemm_wat.py): digitlab_sgemm(M, N, K, a, a_rs, a_cs, bp, c, ldc, flags)
computes C (+)= A @ B with A read through byte strides and B packed into zero-padded panels of
8 columns (panel p holds B[:, 8p:8p+8], K rows of 32 bytes, at bp + p*K*32).

Boot (in the worker, after writing the two .wasm files into Pyodide's file system):
    simd.load("/kernels/gemm_plain.wasm", "/kernels/gemm_relaxed.wasm", relaxed=False)
The plain variant is the default: its results are bit-for-bit the same on every machine.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digitlab.backend import registry as gemm_module
from digitlab.backend.wasm import ops as simd_ops

KERNEL_SYMBOL = "digitlab_sgemm"
BACKEND_NAME = "simd"
PANEL = 8  # columns per packed B panel (the micro-kernel's width)
FLOAT32 = np.dtype(np.float32)
ITEM = FLOAT32.itemsize
I32_MAX = 2**31 - 1
# Kernel addresses are wasm32 i32s; under CPython (unit tests, mocked kernel) they are host ones.
ADDRESS_LIMIT = 2**32 if sys.platform == "emscripten" else 2**64
WORKSPACE_ALIGN = 16  # bytes; v128 loads of packed B never straddle a cache line

Kernel = Callable[..., object]
_state: dict = {"kernel": None, "variant": None, "workspace": np.empty(0, dtype=FLOAT32)}


@dataclass(frozen=True)
class KernelCall:
    """The exact integer arguments of one digitlab_sgemm call, in ABI order."""

    m: int
    n: int
    k: int
    a: int
    a_rs: int
    a_cs: int
    bp: int
    c: int
    ldc: int
    flags: int = 0

    @property
    def panels(self) -> int:
        return -(-self.n // PANEL)

    def args(self) -> tuple:
        # Not dataclasses.astuple: it deep-copies, a third of the wrapper's time.
        return (self.m, self.n, self.k, self.a, self.a_rs, self.a_cs, self.bp, self.c, self.ldc,
                self.flags)


# ---------------------------------------------------------------- address arithmetic

def address(arr: np.ndarray) -> int:
    return int(arr.__array_interface__["data"][0])


def extent(start: int, dims: list[tuple[int, int]], itemsize: int = ITEM) -> tuple[int, int]:
    """Byte range [lo, hi) touched by elements at start + sum(i_d * stride_d), i_d < count_d."""
    lo = hi = start
    for count, stride in dims:
        if count <= 0:
            return start, start
        span = (count - 1) * stride
        if span < 0:
            lo += span
        else:
            hi += span
    return lo, hi + itemsize


def footprint(arr: np.ndarray) -> tuple[int, int]:
    """Byte range [lo, hi) spanned by an array's elements (from its shape and strides)."""
    return extent(address(arr), list(zip(arr.shape, arr.strides, strict=True)), arr.itemsize)


def _root(arr: np.ndarray) -> np.ndarray:
    """The outermost ndarray that `arr` views (as_strided's DummyArray is stepped through)."""
    while arr.base is not None:
        base = arr.base
        if not isinstance(base, np.ndarray):
            base = getattr(base, "base", None)  # numpy.lib.stride_tricks.DummyArray
            if not isinstance(base, np.ndarray):
                break
        arr = base
    return arr


def buffer_bounds(arr: np.ndarray) -> tuple[int, int]:
    """Byte range [lo, hi) of the memory block holding `arr`'s data.

    An array that owns its data spans its whole allocation. One over a foreign buffer (bytes,
    memoryview, ...) is bounded by that buffer. Raises ValueError when the block is unknown.
    """
    root = _root(arr)
    if root.base is None:
        return footprint(root)
    try:
        view = memoryview(root.base)
    except TypeError:
        raise ValueError(f"cannot bound the memory of a {type(root.base).__name__}") from None
    if not view.contiguous:
        raise ValueError("array over a non-contiguous foreign buffer")
    start = address(np.frombuffer(view.cast("B"), dtype=np.uint8)) if view.nbytes else 0
    return start, start + view.nbytes


def _inside(inner: tuple[int, int], outer: tuple[int, int]) -> bool:
    return inner[0] == inner[1] or (outer[0] <= inner[0] and inner[1] <= outer[1])


def overlaps(x: tuple[int, int], y: tuple[int, int]) -> bool:
    return x[0] < y[1] and y[0] < x[1]


# ---------------------------------------------------------------- the check before every call

def require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(f"simd kernel call refused: {message}")


def _check_operand(name: str, arr: object, shape: tuple, strides: tuple, addr: int) -> None:
    """`arr` must be the float32 view the kernel will read or write, exactly."""
    require(isinstance(arr, np.ndarray), f"{name} is not a NumPy array")
    require(arr.dtype == FLOAT32, f"{name} dtype is {arr.dtype}, not float32")
    require(arr.shape == shape, f"{name} shape {arr.shape} != kernel's {shape}")
    require(arr.strides == strides, f"{name} strides {arr.strides} != kernel's {strides}")
    require(address(arr) == addr, f"{name} address differs from the kernel's")
    require(addr % ITEM == 0, f"{name} is not 4-byte aligned")
    require(all(s % ITEM == 0 for s in strides), f"{name} strides not multiples of 4")


def check_region(name: str, arr: np.ndarray, region: tuple[int, int]) -> None:
    require(_inside(region, footprint(arr)), f"{name}: kernel range outside the array")
    require(_inside(region, buffer_bounds(arr)), f"{name}: kernel range outside its buffer")
    require(region[0] >= 0 and region[1] <= ADDRESS_LIMIT, f"{name}: address out of range")


def kernel_regions(call: KernelCall) -> dict[str, tuple[int, int]]:
    """Byte ranges the kernel reads (a, bp) and writes (c), from the call's own arguments."""
    return {
        "a": extent(call.a, [(call.m, call.a_rs), (call.k, call.a_cs)]),
        "bp": (call.bp, call.bp + call.panels * call.k * PANEL * ITEM),
        "c": extent(call.c, [(call.m, call.ldc), (call.n, ITEM)]),
    }


def check_call(call: KernelCall, a: np.ndarray, bp: np.ndarray, c: np.ndarray) -> None:
    """Raise ValueError unless `call` touches only a (read), bp (read) and c (write)."""
    values = call.args()
    require(all(isinstance(v, int | np.integer) for v in values), "non-integer argument")
    require(all(-I32_MAX - 1 <= v < ADDRESS_LIMIT for v in values), "argument out of range")
    require(min(call.m, call.n, call.k) >= 1 and max(call.m, call.n, call.k) <= I32_MAX,
             f"bad size {call.m}x{call.n}x{call.k}")
    require(call.flags in (0, 1), f"bad flags {call.flags}")
    for stride in (call.a_rs, call.a_cs, call.ldc):
        require(abs(stride) <= I32_MAX, "stride out of i32 range")
    _check_operand("a", a, (call.m, call.k), (call.a_rs, call.a_cs), call.a)
    require(isinstance(bp, np.ndarray) and bp.flags.c_contiguous, "bp must be C-contiguous")
    _check_operand("bp", bp, bp.shape, bp.strides, call.bp)
    require(bp.size >= call.panels * call.k * PANEL, "bp smaller than the packed panels")
    _check_operand("c", c, (call.m, call.n), (call.ldc, ITEM), call.c)
    require(c.flags.writeable, "c is read-only")
    require(call.ldc >= call.n * ITEM, "c rows overlap (ldc < 4*n)")
    regions = kernel_regions(call)
    for name, arr in (("a", a), ("bp", bp), ("c", c)):
        check_region(name, arr, regions[name])
    require(not overlaps(regions["c"], regions["a"]), "c overlaps a")
    require(not overlaps(regions["c"], regions["bp"]), "c overlaps bp")


def run_kernel(call: KernelCall, a: np.ndarray, bp: np.ndarray, c: np.ndarray) -> None:
    """The only way the kernel is ever called: checked first, every time."""
    check_call(call, a, bp, c)
    kernel = _state["kernel"]
    if kernel is None:
        raise RuntimeError("the SIMD kernel is not loaded")
    kernel(*call.args())


# ---------------------------------------------------------------- packing and operands

def workspace(floats: int) -> np.ndarray:
    """A 16-byte-aligned float32 scratch buffer of `floats` elements, grown as needed."""
    buf = _state["workspace"]
    pad = WORKSPACE_ALIGN // ITEM
    if buf.size < floats + pad:
        buf = np.empty(max(floats + pad, buf.size * 3 // 2), dtype=FLOAT32)
        _state["workspace"] = buf
    skip = (-address(buf) % WORKSPACE_ALIGN) // ITEM
    return buf[skip : skip + floats]


def pack_b(b: np.ndarray) -> np.ndarray:
    """B [K, N] -> panels [ceil(N/8), K, 8], zero-padded past column N, in the workspace.

    A C-contiguous B with exactly 8 columns is already in that layout and is used as is.
    """
    k, n = b.shape
    if n == PANEL and readable_in_place(b) and b.flags.c_contiguous:
        return b
    panels = -(-n // PANEL)
    packed = workspace(panels * k * PANEL).reshape(panels, k, PANEL)
    full = n // PANEL
    if full:
        packed[:full] = b[:, : full * PANEL].reshape(k, full, PANEL).transpose(1, 0, 2)
    if n % PANEL:
        packed[full, :, : n % PANEL] = b[:, full * PANEL :]
        packed[full, :, n % PANEL :] = 0
    return packed


def check_bounds(name: str, x: np.ndarray) -> None:
    """Refuse a view reaching outside its memory block (as_strided can make one): NumPy itself
    would read or write out of bounds through it. Unknown foreign buffers pass."""
    try:
        bounds = buffer_bounds(x)
    except ValueError:
        return
    if not _inside(footprint(x), bounds):
        raise ValueError(f"gemm: {name} reaches outside its buffer")


def readable_in_place(x: np.ndarray) -> bool:
    """True when the kernel can read `x` through its strides (else it gets a copy)."""
    if address(x) % ITEM or any(s % ITEM or abs(s) > I32_MAX for s in x.strides):
        return False
    try:
        return _inside(footprint(x), buffer_bounds(x))
    except ValueError:
        return False


def _operand(x: np.ndarray) -> np.ndarray:
    # copy(), not ascontiguousarray: that returns a misaligned contiguous array unchanged.
    return x if readable_in_place(x) else x.copy(order="C")


# ---------------------------------------------------------------- the backend

def _numpy_gemm(a, b, trans_a, trans_b, out):
    # Non-float32 work (float64 gradient checks) is rare: contiguous copies keep it simple.
    a = np.ascontiguousarray(a.T if trans_a else a)
    b = np.ascontiguousarray(b.T if trans_b else b)
    return np.matmul(a, b, out=out)


def _check_shapes(a: np.ndarray, b: np.ndarray, trans_a: bool, trans_b: bool) -> tuple:
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"gemm needs 2-D operands, got {a.ndim}-D and {b.ndim}-D")
    m, k = a.shape[::-1] if trans_a else a.shape
    k2, n = b.shape[::-1] if trans_b else b.shape
    if k != k2:
        raise ValueError(f"gemm shapes do not match: op(a) {m}x{k}, op(b) {k2}x{n}")
    return m, n, k


def _check_out(out: np.ndarray | None, m: int, n: int) -> None:
    if out is None:
        return
    if not isinstance(out, np.ndarray) or out.dtype != FLOAT32 or out.shape != (m, n):
        raise ValueError(f"out must be a float32 array of shape {(m, n)}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")


def _product(op_a: np.ndarray, op_b: np.ndarray, c: np.ndarray, accumulate: bool) -> None:
    """c (+)= op_a @ op_b through the kernel; c is C-contiguous and shares no memory."""
    m, k = op_a.shape
    a = _operand(op_a)
    bp = pack_b(op_b)
    call = KernelCall(m, c.shape[1], k, address(a), a.strides[0], a.strides[1],
                      address(bp), address(c), c.strides[0], int(accumulate))
    run_kernel(call, a, bp, c)


def simd_gemm(
    a: np.ndarray,
    b: np.ndarray,
    trans_a: bool = False,
    trans_b: bool = False,
    out: np.ndarray | None = None,
    accumulate: bool = False,
) -> np.ndarray:
    """op(a) @ op(b) (plus out's contents when `accumulate`), float32 via the kernel."""
    if accumulate and out is None:
        raise ValueError("accumulate needs out")
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != FLOAT32 or b.dtype != FLOAT32 or (out is not None and out.dtype != FLOAT32):
        if accumulate:
            out += _numpy_gemm(a, b, trans_a, trans_b, None)
            return out
        return _numpy_gemm(a, b, trans_a, trans_b, out)
    m, n, k = _check_shapes(a, b, trans_a, trans_b)
    _check_out(out, m, n)
    for name, x in (("a", a), ("b", b), ("out", out)):
        if x is not None:
            check_bounds(name, x)
    op_a, op_b = (a.T if trans_a else a), (b.T if trans_b else b)
    if m == 0 or n == 0 or k == 0:
        result = np.zeros((m, n), dtype=FLOAT32) if out is None else out
        if not accumulate:
            result[...] = 0
        return result
    # The kernel packs its B operand and reads A in place: pack the smaller one by computing
    # C.T = op(b).T @ op(a).T when m < n. The sums per element are identical either way.
    swap = m < n
    direct = (out is not None and out.flags.c_contiguous and not swap
              and not np.may_share_memory(out, a) and not np.may_share_memory(out, b))
    if direct:
        _product(op_a, op_b, out, accumulate)
        return out
    c = np.empty((n, m) if swap else (m, n), dtype=FLOAT32)
    if swap:
        _product(op_b.T, op_a.T, c, False)
    else:
        _product(op_a, op_b, c, False)
    result = c.T if swap else c
    if out is None:
        return np.ascontiguousarray(result)
    if accumulate:
        out += result
    else:
        out[...] = result
    return out


# ---------------------------------------------------------------- loading

def _open_kernel(path: str) -> Kernel:
    """dlopen the side module through Pyodide's dynamic linker; return its sgemm export (and
    bind the layers' other kernels, in the same module)."""
    library = ctypes.CDLL(path)
    simd_ops.bind(library)
    fn = getattr(library, KERNEL_SYMBOL)
    fn.argtypes = [ctypes.c_int32] * 3 + [ctypes.c_uint32, ctypes.c_int32, ctypes.c_int32,
                                          ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int32,
                                          ctypes.c_int32]
    fn.restype = None
    return fn


def self_test() -> bool:
    """A few awkward shapes against NumPy float64: the kernel must be right before it is used."""
    rng = np.random.default_rng(0)
    for m, n, k, ta, tb in [(13, 11, 7, False, False), (7, 19, 300, True, False),
                            (1, 1, 1, False, True), (9, 8, 5, True, True)]:
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(FLOAT32)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(FLOAT32)
        want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
        got = simd_gemm(a, b, ta, tb)
        if not np.allclose(got, want, rtol=1e-4, atol=1e-4):
            return False
    return True


def load(path_plain: str, path_relaxed: str | None = None, relaxed: bool = False) -> bool:
    """Load a kernel variant and make "simd" the active GEMM backend; False if impossible.

    `relaxed` asks for the relaxed-SIMD variant (faster, results hardware-dependent); a
    browser without relaxed SIMD rejects that module, and the plain one is used instead.
    On any failure the previous backend stays active.
    """
    if sys.platform != "emscripten":
        return False
    candidates = [(path_relaxed, "relaxed")] if relaxed and path_relaxed else []
    candidates.append((path_plain, "plain"))
    for path, variant in candidates:
        try:
            _state["kernel"], _state["variant"] = _open_kernel(path), variant
            if self_test() and simd_ops.self_test():
                gemm_module.register_backend(BACKEND_NAME, simd_gemm, simd_ops.TABLE)
                gemm_module.set_backend(BACKEND_NAME)
                return True
        except Exception:  # noqa: BLE001 - any failure means: try the next variant, or NumPy
            pass
        _state["kernel"], _state["variant"] = None, None
        simd_ops.unbind()
    return False


def info() -> dict:
    """{"backend": active GEMM backend, "variant": "plain" | "relaxed" | None}."""
    return {"backend": gemm_module.get_backend(), "variant": _state["variant"]}


# ---------------------------------------------------------------- in-page verification

def _random_case(rng: np.random.Generator) -> tuple:
    """Sizes around the tile edges (1, 3..9, 17, ...) and K past the 256 block, any transpose."""
    small = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33]
    m, n = (int(rng.choice(small)) if rng.random() < 0.7 else int(rng.integers(1, 80))
            for _ in range(2))
    k = int(rng.choice([1, 2, 7, 8, 255, 256, 257, 600])) if rng.random() < 0.3 else \
        int(rng.integers(1, 64))
    return m, n, k, bool(rng.integers(2)), bool(rng.integers(2)), bool(rng.integers(2))


def _max_relative_error(got: np.ndarray, a: np.ndarray, b: np.ndarray, start) -> float:
    """|got - exact| relative to |c| + sum |a_ik b_kj|, the scale of float32 rounding."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    c64 = np.zeros(got.shape) if start is None else start.astype(np.float64)
    scale = np.abs(c64) + np.abs(a64) @ np.abs(b64)
    return float(np.max(np.abs(got - (c64 + a64 @ b64)) / np.maximum(scale, 1e-30)))


def verify(cases: int = 2000, seed: int = 0) -> dict:
    """Compare the active kernel with NumPy float64 on random shapes (transposes, strided
    views, accumulate), and check that misuse is refused; for the in-page tests."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(cases):
        m, n, k, trans_a, trans_b, accumulate = _random_case(rng)
        a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(FLOAT32)
        b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(FLOAT32)
        op_a, op_b = (a.T if trans_a else a), (b.T if trans_b else b)
        start = rng.standard_normal((m, n)).astype(FLOAT32) if accumulate else None
        out = None if start is None else start.copy()
        got = simd_gemm(a, b, trans_a, trans_b, out=out, accumulate=accumulate)
        worst = max(worst, _max_relative_error(got, op_a, op_b, start))
    return {"cases": cases, "maxRelErr": worst, "refused": _refusals(), **info(),
            "ops": simd_ops.verify(max(1, cases // 4), seed)}


def _refusals() -> dict:
    """Each kind of misuse must raise ValueError before the kernel runs."""
    a, bp, c = np.ones((6, 5), FLOAT32), np.zeros(5 * PANEL, FLOAT32), np.zeros((6, 8), FLOAT32)
    good = KernelCall(6, 8, 5, address(a), 20, 4, address(bp), address(c), 32)
    small = np.ones(4, FLOAT32)
    liar = np.lib.stride_tricks.as_strided(small, shape=(6, 5), strides=(20, 4))
    bad = {
        "rows": (KernelCall(7, 8, 5, *good.args()[3:]), a, bp, c),
        "k": (KernelCall(6, 8, 6, *good.args()[3:]), a, bp, c),
        "cols": (KernelCall(6, 9, 5, *good.args()[3:]), a, bp, c),
        "stride": (KernelCall(6, 8, 5, good.a, 24, 4, good.bp, good.c, 32), a, bp, c),
        "dtype": (good, a.astype(np.float64), bp, c),
        "address": (KernelCall(6, 8, 5, good.a + 4, 20, 4, good.bp, good.c, 32), a, bp, c),
        "outOfBounds": (KernelCall(6, 8, 5, address(liar), 20, 4, good.bp, good.c, 32),
                        liar, bp, c),
    }
    refused = {}
    for name, args in bad.items():
        try:
            run_kernel(*args)
            refused[name] = False
        except ValueError:
            refused[name] = True
    return refused
