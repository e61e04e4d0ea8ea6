"""Assemble the WebAssembly SIMD kernels into Emscripten side modules that Pyodide's ctypes can
load: one module per variant, holding the GEMM (gemm_wat.py) and the layers' other passes
(ops_wat.py), so one module serves the whole training step.

    python3 kernels/build_kernels.py OUT_DIR

writes OUT_DIR/gemm_plain.wasm and OUT_DIR/gemm_relaxed.wasm (the GEMM with relaxed-SIMD
multiply-adds). build.py runs it for site/kernels/. The assembler is npm's wabt, pinned by
package-lock.json and installed by `npm ci`, run by kernels/wat2wasm.mjs; without it, a system
`wat2wasm` (Debian package `wabt`). Standard library only. Neither assembler writes the
`dylink.0` custom section that marks a side module, so it is prepended here: with it,
`ctypes.CDLL(path)` (in `load` of py/digitlab/backend/wasm/gemm.py, which wraps the GEMM;
py/digitlab/backend/wasm/ops.py wraps the other kernels of the same module) goes through
Pyodide's own dynamic linker, which hands the module Pyodide's memory as `env.memory`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:  # imported as kernels.build_kernels (the tests), as build_kernels (build.py puts kernels/
    # on sys.path) or run as a script: the last two find gemm_wat.py on sys.path
    from . import gemm_wat
except ImportError:
    import gemm_wat  # type: ignore[no-redef]

WASM_HEADER = b"\0asm\x01\0\0\0"
WASM_DYLINK_MEM_INFO = 1
VARIANTS = {"gemm_plain.wasm": False, "gemm_relaxed.wasm": True}


class KernelBuildError(RuntimeError):
    pass


def leb128(value: int) -> bytes:
    """Unsigned LEB128, the integer encoding of wasm sections."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def dylink_section() -> bytes:
    """Custom section 'dylink.0' with one WASM_DYLINK_MEM_INFO subsection, all zero: the module
    needs no memory or table space of its own (no data, no function table)."""
    mem_info = leb128(0) * 4  # memorysize, memoryalignment, tablesize, tablealignment
    subsection = bytes([WASM_DYLINK_MEM_INFO]) + leb128(len(mem_info)) + mem_info
    name = b"dylink.0"
    payload = leb128(len(name)) + name + subsection
    return b"\0" + leb128(len(payload)) + payload


def as_side_module(wasm: bytes) -> bytes:
    """Insert the dylink.0 section right after the header: the spec wants it first."""
    if wasm[:8] != WASM_HEADER:
        raise KernelBuildError("wat2wasm output is not a wasm 1 module")
    return wasm[:8] + dylink_section() + wasm[8:]


NODE_WABT = Path(__file__).resolve().parents[1] / "node_modules" / "wabt"
NODE_ASSEMBLER = Path(__file__).resolve().parent / "wat2wasm.mjs"


def assembler_command(source: Path, target: Path, relaxed: bool) -> list[str]:
    """npm's wabt (pinned by package-lock.json, installed by `npm ci`) when present, so a fresh
    machine needs no system package; else Debian's wat2wasm."""
    node = shutil.which("node")
    if node and NODE_WABT.exists():
        return [node, str(NODE_ASSEMBLER), str(source), str(target),
                *(["--relaxed"] if relaxed else [])]
    tool = shutil.which("wat2wasm")
    if tool is None:
        raise KernelBuildError("no WebAssembly assembler: run `npm ci` (wabt) or install wabt")
    return [tool, *(["--enable-relaxed-simd"] if relaxed else []), str(source), "-o", str(target)]


def assemble(text: str, relaxed: bool, tmp: Path) -> bytes:
    source, target = tmp / "kernel.wat", tmp / "kernel.wasm"
    source.write_text(text)
    result = subprocess.run(
        assembler_command(source, target, relaxed), capture_output=True, text=True
    )
    if result.returncode != 0:
        raise KernelBuildError(f"assembling the kernel failed: {result.stderr.strip()[:2000]}")
    return target.read_bytes()


def build_kernels(out_dir: Path) -> list[Path]:
    """Write the plain and relaxed-SIMD kernels into out_dir; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, relaxed in VARIANTS.items():
            wasm = as_side_module(assemble(gemm_wat.wat(relaxed), relaxed, Path(tmp)))
            (out_dir / name).write_bytes(wasm)
            paths.append(out_dir / name)
    return paths


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: build_kernels.py OUT_DIR", file=sys.stderr)
        return 2
    try:
        for path in build_kernels(Path(argv[0])):
            print(path)
    except KernelBuildError as error:
        print(f"build_kernels.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
