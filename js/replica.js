// A training replica (see ./team.js): a module worker the lead worker starts, with its own
// Pyodide, NumPy, kernels and package, holding a copy of the model (py/digitlab/web/replica.py).
// It needs no data files: the lead sends each shard's pixels. It boots from the files the lead
// already fetched, so they come from the browser's caches.
import { Channel } from "./channel.js";
import { downloadPackage, KERNELS, PYODIDE_DIR, writePackage } from "./package.js";

const packageDownload = downloadPackage((message) => new Error(message));
const kernelDownloads = Object.fromEntries(Object.entries(KERNELS).map(([variant, url]) => [variant,
  fetch(new URL(url, import.meta.url)).then(async (response) => ({
    ok: response.ok, status: response.status, bytes: response.ok ? new Uint8Array(await response.arrayBuffer()) : null,
  }))]));
for (const download of Object.values(kernelDownloads)) download.catch(() => {});

let replica = null; // the Python side, once booted
let pyodideModule = null;
// Pyodide does not expose its Memory; its Emscripten module does (a private field).
const heapBytes = () => pyodideModule?._module?.HEAPU8?.byteLength ?? null;

async function boot(settings) {
  const { loadPyodide } = await import(PYODIDE_DIR + "pyodide.mjs");
  const pyodide = await loadPyodide({ indexURL: PYODIDE_DIR, lockFileURL: PYODIDE_DIR + "pyodide-lock.json" });
  pyodideModule = pyodide;
  await pyodide.loadPackage(["numpy"], { messageCallback: () => {} });
  await writePackage(pyodide, packageDownload);
  replica = pyodide.pyimport("digitlab.web.replica").start();
  await replica.boot(JSON.stringify(settings), kernelDownloads);
}

// One shard's gradients: {gradient (a Float32Array), loss, correct}.
function step(pixels, labels, start, total) {
  const proxy = replica.step(pixels, labels, start, total);
  const [gradient, loss, correct] = proxy.toJs();
  proxy.destroy(); // the tuple, kept alive by its proxy otherwise
  return { gradient, loss, correct };
}

const apply = (gradient, learningRate) => replica.apply(gradient, learningRate);

async function answer(message) {
  switch (message.type) {
    case "sync": return { floats: replica.sync(message.weights, message.dropout, message.backend) };
    case "step": {
      const result = step(message.pixels, message.labels, message.start, message.total);
      return [result, [result.gradient.buffer]];
    }
    case "apply": return apply(message.apply, message.learningRate);
    case "ping": return {};
    case "checksum": return { checksum: replica.checksum(), wasmHeapBytes: heapBytes() };
    default: throw new Error(`unknown message ${message.type}`);
  }
}

self.onmessage = async ({ data: message }) => {
  if (message.type === "init") {
    try {
      await boot(message.settings);
      postMessage({ type: "ready" });
    } catch (error) {
      postMessage({ type: "boot-error", message: String(error.message || error) });
    }
    return;
  }
  if (message.type === "serve") {
    // This run's batches come through shared memory until the lead ends the run; messages
    // wait meanwhile. A Python error is written to the channel for the lead.
    new Channel(message.channel).serve({ apply, step });
    return;
  }
  try {
    const value = await answer(message);
    const [fields, transfer] = Array.isArray(value) ? value : [value ?? {}, []];
    postMessage({ type: "done", seq: message.seq, ...fields }, transfer);
  } catch (error) {
    postMessage({ type: "failed", seq: message.seq, message: String(error.message || error) });
  }
};
