"""Address arithmetic and the memory checks every WebAssembly kernel call shares.

The kernels (kernels/gemm_wat.py, kernels/ops_wat.py) share Pyodide's memory and take NumPy
arrays as raw i32 byte addresses and byte strides, with no bounds checks of their own: a wrong
size or stride would silently corrupt the Python heap. The wrappers in gemm.py and ops.py
therefore compute, before each call and in pure Python (unit-testable under CPython), the byte
range [lo, hi) the kernel will touch through each argument, and prove with the functions here
that it lies inside the array it belongs to and inside that array's memory block (an
`as_strided` view can claim more than its buffer holds). A failed check raises ValueError
through `require` or `refuse`; the kernel is then never called. The checks run on every call,
so each array's address, footprint and memory block are read once per call (`layout`) and
passed on, and refusal messages are formatted only on refusal; nothing is kept between calls.

The kernels work on float32 only: 4-byte elements, addresses and strides multiples of 4, every
size and stride within i32, every address below ADDRESS_LIMIT.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import numpy as np

FLOAT32 = np.dtype(np.float32)
ITEM = FLOAT32.itemsize
I32_MAX = 2**31 - 1
# Kernel addresses are wasm32 i32s; under CPython (unit tests, mocked kernel) they are host ones.
ADDRESS_LIMIT = 2**32 if sys.platform == "emscripten" else 2**64

Region = tuple[int, int]  # a byte range [lo, hi)


# ---------------------------------------------------------------- address arithmetic

def address(arr: np.ndarray) -> int:
    """The byte address of an array's first element.

    The read costs ~1.6 us in Pyodide (the interface dict is built each time; arr.ctypes.data
    and byte_bounds are slower still), so each check reads it once and passes it on."""
    return int(arr.__array_interface__["data"][0])


def extent(start: int, dims: Iterable[tuple[int, int]], itemsize: int = ITEM) -> Region:
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


def footprint(arr: np.ndarray, addr: int | None = None) -> Region:
    """Byte range [lo, hi) spanned by an array's elements (from its shape and strides); `addr`,
    when given, is its address as just read."""
    if addr is None:
        addr = address(arr)
    if arr.flags.c_contiguous:
        # NumPy derives the flag from the shape and strides: every dimension longer than 1
        # steps by the product of the later ones, so the elements span exactly nbytes (0 for
        # an empty array), as extent() would find at five times the cost.
        return addr, addr + arr.nbytes
    return extent(addr, zip(arr.shape, arr.strides, strict=True), arr.itemsize)


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


def buffer_bounds(arr: np.ndarray) -> Region:
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


# An array's (address, footprint, memory block), read together once per kernel call and passed
# to the checks (the block is None when unknown: buffer_bounds raises). Never kept across calls:
# memory is reused, and a view's facts are only true while that view is the one being checked.
Layout = tuple[int, Region, Region | None]


def layout(arr: np.ndarray) -> Layout:
    """`arr`'s address, footprint and memory block, with one address read (two for a view)."""
    addr = address(arr)
    span = footprint(arr, addr)
    if arr.base is None:
        return addr, span, span  # it owns its data: its block is its own footprint
    try:
        block = buffer_bounds(arr)
    except ValueError:
        block = None
    return addr, span, block


def inside(inner: Region, outer: Region) -> bool:
    """True when `inner` is empty or lies within `outer`."""
    return inner[0] == inner[1] or (outer[0] <= inner[0] and inner[1] <= outer[1])


def overlaps(x: Region, y: Region) -> bool:
    return x[0] < y[1] and y[0] < x[1]


# ---------------------------------------------------------------- the checks before a call

def refuse(message: str) -> None:
    """Refuse a kernel call with ValueError."""
    raise ValueError(f"simd kernel call refused: {message}")


def require(ok: bool, message: str, *args: object) -> None:
    """Refuse a kernel call: raise ValueError unless `ok`. The message is `message % args`,
    formatted only on refusal (formatting shapes and dtypes costs more than the checks)."""
    if not ok:
        refuse(message % args if args else message)


def check_region(name: str, arr: np.ndarray, region: Region, known: Layout | None = None) -> None:
    """The bytes a kernel touches through `arr` must lie inside `arr` and inside its buffer;
    `known` is `layout(arr)` when the caller has just read it."""
    _, span, block = layout(arr) if known is None else known
    if not inside(region, span):
        refuse(f"{name}: kernel range outside the array")
    if block is None:
        block = buffer_bounds(arr)  # raises why the block is unknown
    if not inside(region, block):
        refuse(f"{name}: kernel range outside its buffer")
    if not (region[0] >= 0 and region[1] <= ADDRESS_LIMIT):
        refuse(f"{name}: address out of range")


def check_dense(name: str, arr: np.ndarray, floats: int) -> Region:
    """`arr` must be a C-contiguous float32 block of `floats` elements; the range the kernel
    gets, starting at the address it was read at here."""
    if not (isinstance(arr, np.ndarray) and arr.dtype == FLOAT32):
        refuse(f"{name} is not float32")
    if not (arr.flags.c_contiguous and arr.size == floats):
        refuse(f"{name} is not {floats} packed floats")
    known = layout(arr)
    addr = known[0]
    if addr % ITEM:
        refuse(f"{name} is not 4-byte aligned")
    region = (addr, addr + floats * ITEM)
    check_region(name, arr, region, known)
    return region


def check_bounds(name: str, x: np.ndarray) -> Layout:
    """Refuse a view reaching outside its memory block (as_strided can make one): NumPy itself
    would read or write out of bounds through it. Unknown foreign buffers pass. Returns x's
    layout (x.T's too: the same elements)."""
    known = layout(x)
    if known[2] is not None and not inside(known[1], known[2]):
        raise ValueError(f"gemm: {name} reaches outside its buffer")
    return known


def readable_in_place(x: np.ndarray, known: Layout | None = None) -> bool:
    """True when a kernel can read `x` through its strides (else it gets a copy): 4-byte
    aligned, strides multiples of 4 within i32, and every element inside its buffer. `known`
    is `layout(x)` (or of x.T) when the caller has just read it."""
    addr, span, block = layout(x) if known is None else known
    if addr % ITEM or block is None:
        return False
    for s in x.strides:
        if s % ITEM or abs(s) > I32_MAX:
            return False
    return inside(span, block)
