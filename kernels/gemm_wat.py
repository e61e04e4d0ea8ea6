"""Generator of the WebAssembly text (WAT) of DigitLab's float32 GEMM kernel.

This file is the kernel's source: `wat(relaxed)` returns the module text, which
build_kernels.py assembles with wabt's wat2wasm. Generated rather than hand-written because the
register-blocked micro-kernel is fully unrolled over its rows and lanes, once per row count.

Exported: digitlab_sgemm(M, N, K, a, a_rs, a_cs, bp, c, ldc, flags), all i32, byte units:
    C[i, j] (+)= sum_k A[i, k] * B[k, j]   for i < M, j < N
  A[i, k] is the float at a + i*a_rs + k*a_cs (any strides: a transposed A needs no copy).
  B is packed (see py/digitlab/backend/wasm): ceil(N/8) panels, panel p holding B[k, 8p:8p+8] at
  bp + (p*K + k)*32, zero-padded past column N.
  C[i, j] is at c + i*ldc + 4*j. flags bit 0: add to C instead of overwriting it.
Also digitlab_conv_forward (see conv_driver): the same micro-kernel with A an image whose
convolution windows it reads in place, and, from ops_wat.py, the layers' other passes.
There are no bounds checks here: the Python wrapper proves every address is inside its array.

The plain variant uses f32x4.mul + f32x4.add (bit-for-bit reproducible on every machine); the
relaxed one f32x4.relaxed_madd, which may or may not fuse depending on the hardware.
"""

from __future__ import annotations

try:  # imported as kernels.gemm_wat (build.py, tests) or next to build_kernels.py as a script
    from . import ops_wat
except ImportError:
    import ops_wat  # type: ignore[no-redef]

# Rows per micro-tile. V8 hoists a k step's loads above its arithmetic, so all splats are live
# at once: 4 rows need 8 accumulators + 2 B vectors + 4 splats + 1 product = 15 registers, the
# x64 allocatable maximum; 6 rows (or unrolling k) made V8 spill and ran at ~60-80% speed.
MR = 4
NR = 8  # columns per micro-tile: two f32x4
KC = 256  # K block: a B panel block (8 KB) and the tile's A rows stay in L1
NC_PANELS = 32  # panels per N block: a 256x256 block of packed B (256 KB) stays in L2

# How A's rows are addressed in the micro-kernel:
#   cols: a_rs == 4, one pointer, rows at immediate offsets (A transposed: fewer adds)
#   any:  one pointer per row, each advanced by a_cs
MODES = ("cols", "any")


def _fma(relaxed: bool, acc: str, a: str, b: str) -> str:
    if relaxed:
        return f"(f32x4.relaxed_madd (local.get {a}) (local.get {b}) (local.get {acc}))"
    return f"(f32x4.add (local.get {acc}) (f32x4.mul (local.get {a}) (local.get {b})))"


def _k_step(mode: str, rows: int, relaxed: bool) -> list[str]:
    """One k: load the B row (8 floats), splat each A element, two multiply-adds per row."""
    out = [
        "(local.set $b0 (v128.load align=4 (local.get $pb)))",
        "(local.set $b1 (v128.load offset=16 align=4 (local.get $pb)))",
    ]
    for r in range(rows):
        addr, off = ("$a0", 4 * r) if mode == "cols" else (f"$a{r}", 0)
        out.append(f"(local.set $av (v128.load32_splat offset={off} align=4 (local.get {addr})))")
        out.append(f"(local.set $c{r}_0 {_fma(relaxed, f'$c{r}_0', '$av', '$b0')})")
        out.append(f"(local.set $c{r}_1 {_fma(relaxed, f'$c{r}_1', '$av', '$b1')})")
    return out


def _advance(mode: str, rows: int) -> list[str]:
    """Move the A and B pointers one k position on."""
    out = ["(local.set $pb (i32.add (local.get $pb) (i32.const 32)))"]
    for r in range(1 if mode == "cols" else rows):
        out.append(f"(local.set $a{r} (i32.add (local.get $a{r}) (local.get $cs)))")
    return out


def _k_loop(mode: str, rows: int, relaxed: bool) -> list[str]:
    """The k loop over kc >= 1 steps. Not unrolled: V8 would hoist the extra loads and spill."""
    return [
        "(local.set $pbend (i32.add (local.get $pb) (i32.shl (local.get $kc) (i32.const 5))))",
        "(loop $k",
        *_k_step(mode, rows, relaxed),
        *_advance(mode, rows),
        "(br_if $k (i32.lt_u (local.get $pb) (local.get $pbend))))",
    ]


def _k_loop_windows(mode: str, rows: int, relaxed: bool) -> list[str]:
    """The k loop of a convolution read in place (no im2col): k runs over the window's kernel
    rows, each a run of $run bytes of the image (kw*C floats), then $jump bytes on to the
    next kernel row. Same order of k as the im2col columns, so the same sums."""
    jump = [f"(local.set $a{r} (i32.add (local.get $a{r}) (local.get $jump)))"
            for r in range(1 if mode == "cols" else rows)]
    return [
        "(local.set $pbend (i32.add (local.get $pb) (i32.shl (local.get $kc) (i32.const 5))))",
        "(loop $window_rows",
        "(local.set $prun (i32.add (local.get $pb) (i32.shl (local.get $run) (i32.const 3))))",
        "(loop $k",
        *_k_step(mode, rows, relaxed),
        *_advance(mode, rows),
        "(br_if $k (i32.lt_u (local.get $pb) (local.get $prun))))",
        *jump,
        "(br_if $window_rows (i32.lt_u (local.get $pb) (local.get $pbend))))",
    ]


def _store_full(rows: int) -> list[str]:
    out = ["(local.set $pr (local.get $pc))"]
    for r in range(rows):
        for h in range(2):
            acc = f"$c{r}_{h}"
            loaded = f"(v128.load offset={16 * h} align=4 (local.get $pr))"
            summed = f"(f32x4.add (local.get {acc}) {loaded})"
            out.append(f"(if (local.get $acc) (then (local.set {acc} {summed})))")
            out.append(f"(v128.store offset={16 * h} align=4 (local.get $pr) (local.get {acc}))")
        out.append("(local.set $pr (i32.add (local.get $pr) (local.get $ldc)))")
    return out


def _store_partial(rows: int) -> list[str]:
    """Lane by lane, only the nr < 8 columns that exist: nothing past column N is touched."""
    out = ["(local.set $pr (local.get $pc))"]
    for r in range(rows):
        for lane in range(NR):
            value = f"(f32x4.extract_lane {lane % 4} (local.get $c{r}_{lane // 4}))"
            addr = f"offset={4 * lane} align=4 (local.get $pr)"
            summed = f"(f32.add {value} (f32.load {addr}))"
            out.append(
                f"(if (i32.gt_u (local.get $nr) (i32.const {lane})) (then "
                f"(if (local.get $acc) (then (f32.store {addr} {summed})) "
                f"(else (f32.store {addr} {value})))))"
            )
        out.append("(local.set $pr (i32.add (local.get $pr) (local.get $ldc)))")
    return out


def _tile(mode: str, rows: int, relaxed: bool, windows: bool = False) -> list[str]:
    """One micro-tile: C[rows x nr] at $pcj (+)= A rows at $pa_t @ the B panel block at $pbj."""
    out = [f"(local.set $c{r}_{h} (v128.const i32x4 0 0 0 0))" for r in range(rows) for h in (0, 1)]
    out += ["(local.set $a0 (local.get $pa_t))", "(local.set $pb (local.get $pbj))"]
    if mode != "cols":
        for r in range(1, rows):
            out.append(f"(local.set $a{r} (i32.add (local.get $a{r - 1}) (local.get $rs)))")
    out += (_k_loop_windows if windows else _k_loop)(mode, rows, relaxed)
    out.append("(local.set $pc (local.get $pcj))")
    out.append("(if (i32.eq (local.get $nr) (i32.const 8))")
    out.append("(then " + "\n".join(_store_full(rows)) + ")")
    out.append("(else " + "\n".join(_store_partial(rows)) + "))")
    return out


BLOCK_PARAMS = ("pa", "rs", "cs", "pb0", "pstride", "kc", "pc0", "ldc", "tiles", "panels",
                "nlast", "acc")
WINDOW_PARAMS = ("run", "jump")  # bytes per kernel row's run, and on to the next kernel row


def block_kernel(mode: str, rows: int, relaxed: bool, windows: bool = False) -> str:
    """`tiles` row tiles of `rows` rows x `panels` B panels, for one K block.

    The loops over tiles and panels live here, not in the caller, so a tile costs no call:
    with the small K of the convolutions (8..200) a call per tile cost up to half the time.
    With `windows`, A is an image read in place by a convolution (see _k_loop_windows).
    """
    names = BLOCK_PARAMS + (WINDOW_PARAMS if windows else ())
    params = " ".join(f"(param ${p} i32)" for p in names)
    step = f"(i32.const {rows})"
    v128s = [f"$c{r}_{h}" for r in range(rows) for h in range(2)] + ["$b0", "$b1", "$av"]
    i32s = [f"$a{r}" for r in range(rows)] + [
        "$pb", "$pbend", "$pc", "$pr", "$pa_t", "$pc_t", "$pbj", "$pcj", "$j", "$nr",
        *(["$prun"] if windows else [])]
    return "\n".join([
        f"(func ${'window' if windows else 'block'}_{mode}_{rows} {params}",
        " ".join(f"(local {name} v128)" for name in v128s),
        " ".join(f"(local {name} i32)" for name in i32s),
        "(local.set $pa_t (local.get $pa)) (local.set $pc_t (local.get $pc0))",
        "(loop $tiles",
        "(local.set $pbj (local.get $pb0)) (local.set $pcj (local.get $pc_t))",
        "(local.set $j (local.get $panels))",
        "(loop $panels",
        "(local.set $nr (select (local.get $nlast) (i32.const 8)",
        "  (i32.eq (local.get $j) (i32.const 1))))",
        *_tile(mode, rows, relaxed, windows),
        "(local.set $pbj (i32.add (local.get $pbj) (local.get $pstride)))",
        "(local.set $pcj (i32.add (local.get $pcj) (i32.const 32)))",
        "(local.set $j (i32.sub (local.get $j) (i32.const 1)))",
        "(br_if $panels (local.get $j)))",
        f"(local.set $pa_t (i32.add (local.get $pa_t) (i32.mul (local.get $rs) {step})))",
        f"(local.set $pc_t (i32.add (local.get $pc_t) (i32.mul (local.get $ldc) {step})))",
        "(local.set $tiles (i32.sub (local.get $tiles) (i32.const 1)))",
        "(br_if $tiles (local.get $tiles)))",
        ")",
    ])


def _dispatch(mode: str, rows: int, windows: bool = False) -> str:
    """Call the block kernel for `mode` and $mr rows per tile (1..rows)."""
    names = ("pa_b", "rs", "cs", "pb_b", "pstride", "kc", "pc_b", "ldc", "tiles", "npan",
             "nlast", "acc") + (WINDOW_PARAMS if windows else ())
    args = " ".join(f"(local.get ${n})" for n in names)
    kind = "window" if windows else "block"
    if rows == 1:
        return f"(call ${kind}_{mode}_1 {args})"
    return (
        f"(if (i32.eq (local.get $mr) (i32.const {rows}))"
        f" (then (call ${kind}_{mode}_{rows} {args}))"
        f" (else {_dispatch(mode, rows - 1, windows)}))"
    )


def _call_blocks(windows: bool = False) -> str:
    return (f"(if (local.get $cols) (then {_dispatch('cols', MR, windows)})"
            f" (else {_dispatch('any', MR, windows)}))")


def _panel_blocks(rows: str, cols: str, pb_first: str, pa_first: str, pc_first: str,
                  windows: bool = False) -> str:
    """The loop over blocks of up to NC_PANELS B panels (of $cols columns): in each, the full
    MR-row tiles of the $rows rows in one call, then the rows % MR left in another. The *_first
    expressions address the block's first B panel, A row and C element (from $jc, its first
    panel)."""
    return f"""
    (local.set $jc (i32.const 0))
    (loop $jc_loop
      (local.set $npan (i32.sub (local.get $panels) (local.get $jc)))
      (if (i32.gt_s (local.get $npan) (i32.const {NC_PANELS}))
        (then (local.set $npan (i32.const {NC_PANELS}))))
      (local.set $nlast (i32.sub (local.get ${cols})
        (i32.shl (i32.sub (i32.add (local.get $jc) (local.get $npan)) (i32.const 1))
                 (i32.const 3))))
      (if (i32.gt_s (local.get $nlast) (i32.const {NR})) (then (local.set $nlast (i32.const {NR}))))
      (local.set $pb_b {pb_first})
      (local.set $pa_b {pa_first})
      (local.set $pc_b {pc_first})
      (local.set $tiles (i32.div_u (local.get ${rows}) (i32.const {MR})))
      (local.set $mr (i32.const {MR}))
      (if (local.get $tiles) (then {_call_blocks(windows)}))
      (local.set $pa_b (i32.add (local.get $pa_b)
        (i32.mul (local.get $tiles) (i32.mul (local.get $rs) (i32.const {MR})))))
      (local.set $pc_b (i32.add (local.get $pc_b)
        (i32.mul (local.get $tiles) (i32.mul (local.get $ldc) (i32.const {MR})))))
      (local.set $mr (i32.rem_u (local.get ${rows}) (i32.const {MR})))
      (local.set $tiles (i32.const 1))
      (if (local.get $mr) (then {_call_blocks(windows)}))
      (local.set $jc (i32.add (local.get $jc) (local.get $npan)))
      (br_if $jc_loop (i32.lt_s (local.get $jc) (local.get $panels))))"""


def driver() -> str:
    """digitlab_sgemm: for each K block and N block of panels, the full row tiles in one call,
    then the remaining M % MR rows in another (see the module docstring for the ABI)."""
    return f"""
(func (export "digitlab_sgemm")
  (param $M i32) (param $N i32) (param $K i32) (param $pa i32) (param $rs i32) (param $cs i32)
  (param $pb i32) (param $pc i32) (param $ldc i32) (param $flags i32)
  (local $cols i32) (local $panels i32) (local $pstride i32) (local $kb i32) (local $kc i32)
  (local $acc i32) (local $jc i32) (local $npan i32) (local $nlast i32) (local $mr i32)
  (local $tiles i32) (local $pa_b i32) (local $pb_b i32) (local $pc_b i32)
  (local.set $cols (i32.eq (local.get $rs) (i32.const 4)))
  (local.set $panels (i32.shr_u (i32.add (local.get $N) (i32.const {NR - 1})) (i32.const 3)))
  (local.set $pstride (i32.shl (local.get $K) (i32.const 5)))
  (loop $kb_loop
    (local.set $kc (i32.sub (local.get $K) (local.get $kb)))
    (if (i32.gt_s (local.get $kc) (i32.const {KC})) (then (local.set $kc (i32.const {KC}))))
    (local.set $acc (i32.or (i32.ne (local.get $kb) (i32.const 0))
                            (i32.and (local.get $flags) (i32.const 1))))
    {_panel_blocks(rows="M", cols="N",
                   pb_first="(i32.add (local.get $pb) (i32.shl (i32.add (i32.mul (local.get $jc)"
                            " (local.get $K)) (local.get $kb)) (i32.const 5)))",
                   pa_first="(i32.add (local.get $pa) (i32.mul (local.get $kb) (local.get $cs)))",
                   pc_first="(i32.add (local.get $pc) (i32.shl (local.get $jc) (i32.const 5)))")}
    (local.set $kb (i32.add (local.get $kb) (local.get $kc)))
    (br_if $kb_loop (i32.lt_s (local.get $kb) (local.get $K))))
)"""


def conv_driver() -> str:
    """digitlab_conv_forward(x, bp, out, n, oh, ow, kh, run, img_stride, row_step, col_step,
    row_stride, F): out [n,oh,ow,F] (contiguous) = the valid convolution of the image at x
    with the kernel W [kh*run/4, F] packed like B, reading each window in place: for output
    pixel (b,i,j) the k-th float of its window is at x + b*img_stride + i*row_step + j*col_step
    + (k div (run/4))*row_stride + 4*(k mod (run/4)). Exactly im2col(x) @ W, with the same sums,
    without writing im2col's columns. Tiles are MR pixels of one output row."""
    return f"""
(func (export "digitlab_conv_forward")
  (param $x i32) (param $pb i32) (param $out i32) (param $n i32) (param $oh i32) (param $ow i32)
  (param $kh i32) (param $run i32) (param $img_stride i32) (param $row_step i32)
  (param $rs i32) (param $row_stride i32) (param $F i32)
  (local $cols i32) (local $cs i32) (local $kc i32) (local $panels i32) (local $pstride i32)
  (local $acc i32) (local $jump i32) (local $ldc i32) (local $b i32) (local $i i32)
  (local $jc i32) (local $npan i32) (local $nlast i32) (local $mr i32) (local $tiles i32)
  (local $pa_b i32) (local $pb_b i32) (local $pc_b i32) (local $pimg i32) (local $prow i32)
  (local $pout i32)
  (local.set $cols (i32.eq (local.get $rs) (i32.const 4)))
  (local.set $cs (i32.const 4))
  (local.set $kc (i32.mul (local.get $kh) (i32.shr_u (local.get $run) (i32.const 2))))
  (local.set $panels (i32.shr_u (i32.add (local.get $F) (i32.const {NR - 1})) (i32.const 3)))
  (local.set $pstride (i32.shl (local.get $kc) (i32.const 5)))
  (local.set $jump (i32.sub (local.get $row_stride) (local.get $run)))
  (local.set $ldc (i32.shl (local.get $F) (i32.const 2)))
  (local.set $pimg (local.get $x)) (local.set $pout (local.get $out))
  (local.set $b (local.get $n))
  (loop $images
    (local.set $prow (local.get $pimg)) (local.set $i (local.get $oh))
    (loop $rows
      {_panel_blocks(rows="ow", cols="F",
                     pb_first="(i32.add (local.get $pb) (i32.shl (i32.mul (local.get $jc)"
                              " (local.get $kc)) (i32.const 5)))",
                     pa_first="(local.get $prow)",
                     pc_first="(i32.add (local.get $pout) (i32.shl (local.get $jc) (i32.const 5)))",
                     windows=True)}
      (local.set $prow (i32.add (local.get $prow) (local.get $row_step)))
      (local.set $pout (i32.add (local.get $pout) (i32.mul (local.get $ow) (local.get $ldc))))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $rows (local.get $i)))
    (local.set $pimg (i32.add (local.get $pimg) (local.get $img_stride)))
    (local.set $b (i32.sub (local.get $b) (i32.const 1)))
    (br_if $images (local.get $b))))"""


def wat(relaxed: bool = False) -> str:
    """The whole module: imports Pyodide's memory, exports digitlab_sgemm and the layers' other
    kernels (ops_wat.py), so one side module serves the whole training step."""
    kernels = [block_kernel(mode, rows, relaxed, windows) for windows in (False, True)
               for mode in MODES for rows in range(1, MR + 1)]
    return "\n".join([
        "(module",
        '(import "env" "memory" (memory 0))',
        *kernels,
        driver(),
        conv_driver(),
        *ops_wat.functions(),
        ")",
    ])
