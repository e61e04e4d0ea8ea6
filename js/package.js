// What every Pyodide worker of the page loads besides the runtime: our package's sources and
// their bytecode, and the SIMD kernels. The lead worker (./worker.js) and the training
// replicas (./replica.js) both start these downloads as soon as they start.

export const PYODIDE_DIR = new URL("../vendor/__PYODIDE_DIR__/", import.meta.url).href;
const PY_FILES = ["__PY_FILES__"]; // build.py writes the list of package files, content-hashed
// Their bytecode for Pyodide's Python, compiled at build time (null: Python compiles them).
const PY_BYTECODE = "__PY_BYTECODE__";
export const KERNELS = { "__KERNELS__": "" }; // variant -> URL of the SIMD GEMM side modules
const PY_BASE = new URL("../py/", import.meta.url).href;

/** Start fetching the package: {sources, bytecode}; `refusal(message)` is the error a missing
 *  source file rejects `sources` with. */
export function downloadPackage(refusal) {
  const sources = Promise.all(PY_FILES.map(async (entry) => {
    const response = await fetch(PY_BASE + entry);
    if (!response.ok) throw refusal(`py/${entry.split("?")[0]}: HTTP ${response.status}`);
    return [entry.split("?")[0], await response.text()];
  }));
  sources.catch(() => {}); // awaited in writePackage, whose caller reports it
  // Without the bytecode (missing, refused) Python compiles the sources: slower, same result.
  const bytecode = PY_BYTECODE === null ? Promise.resolve(null) : fetch(PY_BASE + PY_BYTECODE)
    .then((response) => (response.ok ? response.arrayBuffer() : null)).catch(() => null);
  return { sources, bytecode };
}

// build.py's bundle: per file, uint32 path length, UTF-8 path, uint32 size, bytes.
function* bundledFiles(buffer) {
  const view = new DataView(buffer);
  const decoder = new TextDecoder();
  for (let at = 0; at + 4 <= buffer.byteLength;) {
    const nameLength = view.getUint32(at, true);
    const name = decoder.decode(new Uint8Array(buffer, at + 4, nameLength));
    const size = view.getUint32(at + 4 + nameLength, true);
    yield [name, new Uint8Array(buffer, at + 8 + nameLength, size)];
    at += 8 + nameLength + size;
  }
}

function writeFile(pyodide, path, data) {
  const target = `/home/pyodide/${path}`;
  pyodide.FS.mkdirTree(target.slice(0, target.lastIndexOf("/")));
  pyodide.FS.writeFile(target, data);
}

/** Write the downloaded package into Pyodide's file system, on its path. */
export async function writePackage(pyodide, download) {
  for (const [path, text] of await download.sources) writeFile(pyodide, path, text);
  const bytecode = await download.bytecode;
  try {
    for (const [path, data] of bytecode ? bundledFiles(bytecode) : []) writeFile(pyodide, path, data);
  } catch (error) {
    console.warn("the package's bytecode is unreadable; Python compiles the sources:", error);
  }
  pyodide.runPython("import sys; sys.path.insert(0, '/home/pyodide')");
}
