"""The checked float32 GEMM on the WebAssembly kernel digitlab_sgemm (kernels/gemm_wat.py).

`simd_gemm(a, b, trans_a, trans_b, out, accumulate)` is the registry's GEMM signature
(backend/registry.py): op(a) [m, k] @ op(b) [k, n] -> [m, n], float32, with out and accumulate
as in NumPy's matmul(out=) and `out +=`. Other dtypes go to NumPy. Shapes are checked first;
A is read in place through its strides when the kernel can (memory.readable_in_place), else
copied; B is packed into the workspace; and when m < n the kernel computes C.T = op(b).T @ op(a).T
instead, so the smaller operand is the packed one (the sums per element are the same).

Kernel ABI: digitlab_sgemm(M, N, K, a, a_rs, a_cs, bp, c, ldc, flags), all i32, byte units,
computes C (+)= A @ B for i < M, j < N: A[i, k] at a + i*a_rs + k*a_cs; B packed into
ceil(N/8) zero-padded panels of 8 columns, panel p holding B[:, 8p:8p+8] as K rows of 32
bytes at bp + p*K*32; C[i, j] at c + i*ldc + 4*j; flags bit 0 adds to C. The kernel checks
nothing, so `run_kernel` is the only way it is called: `check_call` first proves, from the
call's own integers, that it reads only inside a and bp and writes only inside c, and that c
overlaps neither. The loader (loader.py) puts the kernel here with `bind`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digitlab.backend.wasm.memory import (
    ADDRESS_LIMIT,
    FLOAT32,
    I32_MAX,
    ITEM,
    Layout,
    Region,
    address,
    check_bounds,
    check_region,
    extent,
    layout,
    overlaps,
    readable_in_place,
    require,
)

KERNEL_SYMBOL = "digitlab_sgemm"
PANEL = 8  # columns per packed B panel (the micro-kernel's width)
WORKSPACE_ALIGN = 16  # bytes; v128 loads of packed B never straddle a cache line

Kernel = Callable[..., object]
_INTEGER = (int, np.integer)
_state: dict = {"kernel": None, "workspace": np.empty(0, dtype=FLOAT32)}


def bind(kernel: Kernel | None) -> None:
    """Use `kernel` (the side module's digitlab_sgemm) for every call from now on; None: none."""
    _state["kernel"] = kernel


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


# ---------------------------------------------------------------- the check before every call

def _check_operand(name: str, arr: object, shape: tuple, strides: tuple, addr: int) -> Layout:
    """`arr` must be the float32 view the kernel will read or write, exactly; its layout."""
    require(isinstance(arr, np.ndarray), "%s is not a NumPy array", name)
    require(arr.dtype == FLOAT32, "%s dtype is %s, not float32", name, arr.dtype)
    require(arr.shape == shape, "%s shape %s != kernel's %s", name, arr.shape, shape)
    require(arr.strides == strides, "%s strides %s != kernel's %s", name, arr.strides, strides)
    known = layout(arr)
    require(known[0] == addr, "%s address differs from the kernel's", name)
    require(addr % ITEM == 0, "%s is not 4-byte aligned", name)
    for stride in strides:
        require(stride % ITEM == 0, "%s strides not multiples of 4", name)
    return known


def kernel_regions(call: KernelCall) -> dict[str, Region]:
    """Byte ranges the kernel reads (a, bp) and writes (c), from the call's own arguments."""
    return {
        "a": extent(call.a, [(call.m, call.a_rs), (call.k, call.a_cs)]),
        "bp": (call.bp, call.bp + call.panels * call.k * PANEL * ITEM),
        "c": extent(call.c, [(call.m, call.ldc), (call.n, ITEM)]),
    }


def check_call(call: KernelCall, a: np.ndarray, bp: np.ndarray, c: np.ndarray) -> None:
    """Raise ValueError unless `call` touches only a (read), bp (read) and c (write)."""
    values = call.args()
    for value in values:
        require(isinstance(value, _INTEGER), "non-integer argument")
    require(min(values) >= -I32_MAX - 1 and max(values) < ADDRESS_LIMIT, "argument out of range")
    require(min(call.m, call.n, call.k) >= 1 and max(call.m, call.n, call.k) <= I32_MAX,
            "bad size %sx%sx%s", call.m, call.n, call.k)
    require(call.flags in (0, 1), "bad flags %s", call.flags)
    require(max(abs(call.a_rs), abs(call.a_cs), abs(call.ldc)) <= I32_MAX,
            "stride out of i32 range")
    known = {"a": _check_operand("a", a, (call.m, call.k), (call.a_rs, call.a_cs), call.a)}
    require(isinstance(bp, np.ndarray) and bp.flags.c_contiguous, "bp must be C-contiguous")
    known["bp"] = _check_operand("bp", bp, bp.shape, bp.strides, call.bp)
    require(bp.size >= call.panels * call.k * PANEL, "bp smaller than the packed panels")
    known["c"] = _check_operand("c", c, (call.m, call.n), (call.ldc, ITEM), call.c)
    require(c.flags.writeable, "c is read-only")
    require(call.ldc >= call.n * ITEM, "c rows overlap (ldc < 4*n)")
    regions = kernel_regions(call)
    for name, arr in (("a", a), ("bp", bp), ("c", c)):
        check_region(name, arr, regions[name], known[name])
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


def pack_b(b: np.ndarray, known: Layout | None = None) -> np.ndarray:
    """B [K, N] -> panels [ceil(N/8), K, 8], zero-padded past column N, in the workspace.

    A C-contiguous B with exactly 8 columns is already in that layout and is used as is.
    `known` is layout(b) (or of b.T) when the caller has just read it.
    """
    k, n = b.shape
    if n == PANEL and b.flags.c_contiguous and readable_in_place(b, known):
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


def _operand(x: np.ndarray, known: Layout) -> tuple[np.ndarray, int]:
    """x, or a copy the kernel can read, and its address; `known` is layout(x) or of x.T."""
    if readable_in_place(x, known):
        return x, known[0]
    # copy(), not ascontiguousarray: that returns a misaligned contiguous array unchanged.
    x = x.copy(order="C")
    return x, address(x)


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


def _product(op_a: np.ndarray, op_b: np.ndarray, c: np.ndarray, accumulate: bool,
             known_a: Layout, known_b: Layout) -> None:
    """c (+)= op_a @ op_b through the kernel; c is C-contiguous and shares no memory. known_a
    and known_b are the layouts just read of op_a and op_b (or of their transposes)."""
    m, k = op_a.shape
    a, a_addr = _operand(op_a, known_a)
    bp = pack_b(op_b, known_b)
    call = KernelCall(m, c.shape[1], k, a_addr, a.strides[0], a.strides[1],
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
    known_a, known_b = check_bounds("a", a), check_bounds("b", b)
    if out is not None:
        check_bounds("out", out)
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
        _product(op_a, op_b, out, accumulate, known_a, known_b)
        return out
    c = np.empty((n, m) if swap else (m, n), dtype=FLOAT32)
    if swap:
        _product(op_b.T, op_a.T, c, False, known_b, known_a)
    else:
        _product(op_a, op_b, c, False, known_a, known_b)
    result = c.T if swap else c
    if out is None:
        return np.ascontiguousarray(result)
    if accumulate:
        out += result
    else:
        out[...] = result
    return out
