"""WebAssembly text of the convolution layers' other hot loops, next to the GEMM in one module.

After the SIMD GEMM, a training step of the codelab model in Pyodide spent ~80% of its time in
NumPy's scalar loops around it: im2col, col2im, 2x2 max pooling, bias + ReLU and their
gradients. These kernels do those passes with 128-bit SIMD, in place on NumPy arrays. Like the
GEMM they take i32 byte addresses and strides and check nothing: py/digitlab/backend/wasm/ops.py
proves every address in range before each call. All are deterministic (no relaxed SIMD).

Exported (all parameters i32; "run" and strides in bytes, runs a multiple of 4):
  digitlab_im2col(img, cols, n, oh, ow, kh, run, img_stride, row_step, col_step, row_stride)
      for b < n, i < oh, j < ow, r < kh, in that order: append the `run` bytes at
      img + b*img_stride + i*row_step + j*col_step + r*row_stride to cols (written in sequence).
  digitlab_col2im_add(img, cols, ...same...)
      the same walk, adding each run of cols into img instead (overlapping windows sum in
      that fixed order).
  digitlab_pool2_forward(x, out, n, oh, ow, c, img_stride, row_stride)
      2x2 windows with stride 2, channels c (a multiple of 4): out (contiguous [n,oh,ow,c]) =
      the max of x[b, 2i:2i+2, 2j:2j+2, :], x addressed by its image and row strides.
  digitlab_pool2_backward(x, out, dout, dx, n, oh, ow, c, img_stride, row_stride)
      dx (same strides as x) gets dout at the first position of each window, in row-major
      order, whose x equals out, and 0 at the other three (all four are written).
  digitlab_bias_relu(y, rows, c, bias, relu)
      in place, y [rows, c] contiguous: y += bias, then max(y, 0) when relu != 0 (NaN stays).
  digitlab_grad_bias(dout, y, d, rows, c, dbias, partial, relu)
      d = dout * (y > 0) (dout itself when relu == 0; d may be dout), and dbias += the column
      sums of d, summed in blocks of 256 rows in `partial` (c floats, zero on entry) first, so
      rounding stays that of 256-row sums plus a few hundred block sums, not of 300 000 rows.
"""

from __future__ import annotations

BIAS_BLOCK_ROWS = 256


def _params(*names: str) -> str:
    return " ".join(f"(param ${name} i32)" for name in names)


def _locals(kind: str, *names: str) -> str:
    return " ".join(f"(local ${name} {kind})" for name in names)


def _run_loop(body_vector: str, body_scalar: str) -> str:
    """Walk one run of $run bytes at $s (image side) and $q (column side), 16 bytes at a time,
    then 4 at a time for the tail; both pointers end one run further on."""
    return f"""
      (local.set $vend (i32.add (local.get $s) (i32.and (local.get $run) (i32.const -16))))
      (local.set $end (i32.add (local.get $s) (local.get $run)))
      (if (i32.lt_u (local.get $s) (local.get $vend)) (then (loop $vec
        {body_vector}
        (local.set $s (i32.add (local.get $s) (i32.const 16)))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (br_if $vec (i32.lt_u (local.get $s) (local.get $vend))))))
      (if (i32.lt_u (local.get $s) (local.get $end)) (then (loop $tail
        {body_scalar}
        (local.set $s (i32.add (local.get $s) (i32.const 4)))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (br_if $tail (i32.lt_u (local.get $s) (local.get $end))))))"""


def _window_walk(name: str, body_vector: str, body_scalar: str) -> str:
    """The loops shared by im2col and col2im: images, output rows, output columns, kernel rows.
    Every count is at least 1 (the wrapper refuses empty calls), so each loop runs its body
    before testing."""
    return f"""
(func (export "{name}")
  {_params("img", "cols", "n", "oh", "ow", "kh", "run", "img_stride", "row_step", "col_step",
           "row_stride")}
  {_locals("i32", "b", "i", "j", "r", "pb", "pi", "pj", "s", "q", "vend", "end")}
  (local.set $q (local.get $cols))
  (local.set $pb (local.get $img)) (local.set $b (local.get $n))
  (loop $images
    (local.set $pi (local.get $pb)) (local.set $i (local.get $oh))
    (loop $rows
      (local.set $pj (local.get $pi)) (local.set $j (local.get $ow))
      (loop $columns
        (local.set $s (local.get $pj)) (local.set $r (local.get $kh))
        (loop $kernel_rows
          {_run_loop(body_vector, body_scalar)}
          (local.set $s (i32.add (i32.sub (local.get $s) (local.get $run))
                                 (local.get $row_stride)))
          (local.set $r (i32.sub (local.get $r) (i32.const 1)))
          (br_if $kernel_rows (local.get $r)))
        (local.set $pj (i32.add (local.get $pj) (local.get $col_step)))
        (local.set $j (i32.sub (local.get $j) (i32.const 1)))
        (br_if $columns (local.get $j)))
      (local.set $pi (i32.add (local.get $pi) (local.get $row_step)))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $rows (local.get $i)))
    (local.set $pb (i32.add (local.get $pb) (local.get $img_stride)))
    (local.set $b (i32.sub (local.get $b) (i32.const 1)))
    (br_if $images (local.get $b))))"""


def im2col() -> str:
    return _window_walk(
        "digitlab_im2col",
        "(v128.store align=4 (local.get $q) (v128.load align=4 (local.get $s)))",
        "(f32.store (local.get $q) (f32.load (local.get $s)))",
    )


def col2im_add() -> str:
    return _window_walk(
        "digitlab_col2im_add",
        "(v128.store align=4 (local.get $s) (f32x4.add (v128.load align=4 (local.get $s))"
        " (v128.load align=4 (local.get $q))))",
        "(f32.store (local.get $s) (f32.add (f32.load (local.get $s)) (f32.load (local.get $q))))",
    )


def _pool_walk(name: str, params: tuple[str, ...], extra_locals: tuple[str, ...],
               body: str) -> str:
    """Loops over 2x2 windows, 4 channels at a time. $p points at the window's top-left 4
    channels in x (and $pd at the same place in dx, when there is one), $o is the byte offset of
    the output's 4 channels; $cb is the byte width of one pixel (c*4), $rs the row stride."""
    return f"""
(func (export "{name}")
  {_params(*params)}
  {_locals("i32", "b", "i", "j", "k", "cb", "pb", "pi", "p", "pd", "o", "delta")}
  {_locals("v128", *extra_locals)}
  (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
  {"(local.set $delta (i32.sub (local.get $dx) (local.get $x)))" if "dx" in params else ""}
  (local.set $o (i32.const 0))
  (local.set $pb (local.get $x)) (local.set $b (local.get $n))
  (loop $images
    (local.set $pi (local.get $pb)) (local.set $i (local.get $oh))
    (loop $rows
      (local.set $p (local.get $pi)) (local.set $j (local.get $ow))
      (loop $windows
        (local.set $k (local.get $c))
        (loop $channels
          {"(local.set $pd (i32.add (local.get $p) (local.get $delta)))" if "dx" in params else ""}
          {body}
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (local.set $o (i32.add (local.get $o) (i32.const 16)))
          (local.set $k (i32.sub (local.get $k) (i32.const 4)))
          (br_if $channels (local.get $k)))
        (local.set $p (i32.add (local.get $p) (local.get $cb)))
        (local.set $j (i32.sub (local.get $j) (i32.const 1)))
        (br_if $windows (local.get $j)))
      (local.set $pi (i32.add (local.get $pi) (i32.shl (local.get $rs) (i32.const 1))))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $rows (local.get $i)))
    (local.set $pb (i32.add (local.get $pb) (local.get $img_stride)))
    (local.set $b (i32.sub (local.get $b) (i32.const 1)))
    (br_if $images (local.get $b))))"""


def _corner(pointer: str, dx: bool, dy: bool) -> str:
    """The address of one of the window's four positions, from its top-left pointer."""
    addr = f"(local.get {pointer})"
    if dx:
        addr = f"(i32.add {addr} (local.get $cb))"
    if dy:
        addr = f"(i32.add {addr} (local.get $rs))"
    return addr


CORNERS = ((False, False), (True, False), (False, True), (True, True))  # row-major: tie order


def pool2_forward() -> str:
    loads = [f"(v128.load align=4 {_corner('$p', dx, dy)})" for dx, dy in CORNERS]
    body = (f"(v128.store align=4 (i32.add (local.get $out) (local.get $o)) (f32x4.max"
            f" (f32x4.max {loads[0]} {loads[1]}) (f32x4.max {loads[2]} {loads[3]})))")
    return _pool_walk("digitlab_pool2_forward",
                      ("x", "out", "n", "oh", "ow", "c", "img_stride", "rs"), (), body)


def pool2_backward() -> str:
    out = "(v128.load align=4 (i32.add (local.get $out) (local.get $o)))"
    grad = "(v128.load align=4 (i32.add (local.get $dout) (local.get $o)))"
    body = [f"(local.set $m {out})", f"(local.set $g {grad})",
            "(local.set $taken (v128.const i32x4 0 0 0 0))"]
    for dx, dy in CORNERS:
        equal = f"(f32x4.eq (v128.load align=4 {_corner('$p', dx, dy)}) (local.get $m))"
        body += [
            f"(local.set $hit (v128.andnot {equal} (local.get $taken)))",
            "(local.set $taken (v128.or (local.get $taken) (local.get $hit)))",
            f"(v128.store align=4 {_corner('$pd', dx, dy)}"
            " (v128.and (local.get $g) (local.get $hit)))",
        ]
    return _pool_walk("digitlab_pool2_backward",
                      ("x", "out", "dout", "dx", "n", "oh", "ow", "c", "img_stride", "rs"),
                      ("m", "g", "hit", "taken"), "\n          ".join(body))


def bias_relu() -> str:
    return f"""
(func (export "digitlab_bias_relu")
  {_params("y", "rows", "c", "bias", "relu")}
  {_locals("i32", "r", "k", "pb")}
  {_locals("v128", "v")}
  (local.set $r (local.get $rows))
  (loop $rows
    (local.set $pb (local.get $bias)) (local.set $k (local.get $c))
    (loop $channels
      (local.set $v (f32x4.add (v128.load align=4 (local.get $y))
                               (v128.load align=4 (local.get $pb))))
      (if (local.get $relu)
        (then (local.set $v (f32x4.max (local.get $v) (v128.const i32x4 0 0 0 0)))))
      (v128.store align=4 (local.get $y) (local.get $v))
      (local.set $y (i32.add (local.get $y) (i32.const 16)))
      (local.set $pb (i32.add (local.get $pb) (i32.const 16)))
      (local.set $k (i32.sub (local.get $k) (i32.const 4)))
      (br_if $channels (local.get $k)))
    (local.set $r (i32.sub (local.get $r) (i32.const 1)))
    (br_if $rows (local.get $r))))"""


def grad_bias() -> str:
    return f"""
(func $flush (param $partial i32) (param $dbias i32) (param $c i32)
  (loop $channels
    (v128.store align=4 (local.get $dbias) (f32x4.add (v128.load align=4 (local.get $dbias))
                                                      (v128.load align=4 (local.get $partial))))
    (v128.store align=4 (local.get $partial) (v128.const i32x4 0 0 0 0))
    (local.set $partial (i32.add (local.get $partial) (i32.const 16)))
    (local.set $dbias (i32.add (local.get $dbias) (i32.const 16)))
    (local.set $c (i32.sub (local.get $c) (i32.const 4)))
    (br_if $channels (local.get $c))))
(func (export "digitlab_grad_bias")
  {_params("dout", "y", "d", "rows", "c", "dbias", "partial", "relu")}
  {_locals("i32", "r", "k", "pp", "left")}
  {_locals("v128", "g")}
  (local.set $r (local.get $rows)) (local.set $left (i32.const {BIAS_BLOCK_ROWS}))
  (loop $rows
    (local.set $pp (local.get $partial)) (local.set $k (local.get $c))
    (loop $channels
      (local.set $g (v128.load align=4 (local.get $dout)))
      (if (local.get $relu) (then
        (local.set $g (v128.and (local.get $g) (f32x4.gt (v128.load align=4 (local.get $y))
                                                         (v128.const i32x4 0 0 0 0))))
        (v128.store align=4 (local.get $d) (local.get $g))))
      (v128.store align=4 (local.get $pp) (f32x4.add (v128.load align=4 (local.get $pp))
                                                     (local.get $g)))
      (local.set $dout (i32.add (local.get $dout) (i32.const 16)))
      (local.set $y (i32.add (local.get $y) (i32.const 16)))
      (local.set $d (i32.add (local.get $d) (i32.const 16)))
      (local.set $pp (i32.add (local.get $pp) (i32.const 16)))
      (local.set $k (i32.sub (local.get $k) (i32.const 4)))
      (br_if $channels (local.get $k)))
    (local.set $left (i32.sub (local.get $left) (i32.const 1)))
    (if (i32.eqz (local.get $left)) (then
      (call $flush (local.get $partial) (local.get $dbias) (local.get $c))
      (local.set $left (i32.const {BIAS_BLOCK_ROWS}))))
    (local.set $r (i32.sub (local.get $r) (i32.const 1)))
    (br_if $rows (local.get $r)))
  (call $flush (local.get $partial) (local.get $dbias) (local.get $c)))"""


def functions() -> list[str]:
    """The module's non-GEMM functions, in the order of the docstring."""
    return [im2col(), col2im_add(), pool2_forward(), pool2_backward(), bias_relu(), grad_bias()]
