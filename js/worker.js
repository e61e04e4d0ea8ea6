// The module worker: boots Pyodide from the site's own vendor/ folder, loads the digitlab
// package, and relays typed messages between the page and Python (py/digitlab/web/worker.py).
// No model logic lives here.

const PYODIDE_DIR = new URL("../vendor/__PYODIDE_DIR__/", import.meta.url).href;
const PY_FILES = ["__PY_FILES__"]; // build.py writes the list of package files, content-hashed
const KERNELS = { "__KERNELS__": "" }; // variant -> URL of the SIMD GEMM side modules
const DATA_URLS = {
  sprite: new URL("../data/mnist_images.png", import.meta.url).href,
  labels: new URL("../data/mnist_labels_uint8", import.meta.url).href,
};

// sha256 of the runtime files Pyodide fetches itself (its lock covers only the wheels).
const RUNTIME_SHA256 = { "__RUNTIME_SHA256__": "" };

let app = null; // the Python App object, once booted
let bootFailed = false;
const pendingStops = [];

// ---------------------------------------------------------------- boot progress

function stageOf(url) {
  if (url.includes("/data/")) return "data";
  if (/numpy-[^/]*\.whl/.test(url)) return "numpy";
  if (/pillow-[^/]*\.whl/.test(url)) return "pillow";
  if (url.startsWith(PYODIDE_DIR)) return "runtime";
  return null;
}

// A runtime file that is missing or altered makes Emscripten abort without settling
// loadPyodide's promise, so boot fails from here, naming the file. `reply`: Python's refusal
// (its error data and worded message), passed on whole.
function failBoot(stage, message, code = "RUNTIME", reply = {}) {
  if (bootFailed) return;
  bootFailed = true;
  postMessage({ ...reply, type: "boot-error", stage, code, message });
}

function bytesToHex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function verifyRuntimeFile(name, stream) {
  const digest = await crypto.subtle.digest("SHA-256", await new Response(stream).arrayBuffer());
  if (bytesToHex(digest) !== RUNTIME_SHA256[name]) {
    failBoot("runtime", `${name}: integrity check failed (the file differs from the build)`);
  }
}

// Count bytes as they stream in, so the page can show each boot stage's progress.
const nativeFetch = globalThis.fetch.bind(globalThis);
globalThis.fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input), import.meta.url).href;
  const stage = stageOf(url);
  const name = url.split("?")[0].split("/").pop();
  const response = await nativeFetch(input, init);
  if (stage === "runtime" && !response.ok) failBoot(stage, `${name}: HTTP ${response.status}`);
  if (!stage || !response.body) return response;
  let body = response.body;
  if (RUNTIME_SHA256[name]) {
    // Hash a copy while Pyodide compiles the other one as it streams in.
    const [forPyodide, forHash] = body.tee();
    verifyRuntimeFile(name, forHash);
    body = forPyodide;
  }
  const total = Number(response.headers.get("content-length")) || 0;
  let loaded = 0;
  const counter = new TransformStream({
    transform(chunk, controller) {
      loaded += chunk.byteLength;
      postMessage({ type: "boot", stage, url, loaded, total });
      controller.enqueue(chunk);
    },
  });
  return new Response(body.pipeThrough(counter), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
};

// Start the data download at once, so it overlaps the runtime's start; Python awaits it.
function prefetch(url) {
  return fetch(url).then(async (response) => ({
    ok: response.ok,
    status: response.status,
    bytes: response.ok ? new Uint8Array(await response.arrayBuffer()) : null,
  }));
}
const dataDownloads = { sprite: prefetch(DATA_URLS.sprite), labels: prefetch(DATA_URLS.labels) };
// The SIMD kernels too (tens of KB each); Python picks the variant and falls back to NumPy.
const kernelDownloads = Object.fromEntries(Object.entries(KERNELS).map(
  ([variant, url]) => [variant, prefetch(new URL(url, import.meta.url).href)]));
// A failed download surfaces in Python's data stage, not as an unhandled rejection here.
for (const download of [...Object.values(dataDownloads), ...Object.values(kernelDownloads)]) {
  download.catch(() => {});
}

// ---------------------------------------------------------------- Python side helpers

// Yield to the event loop without timers, which browsers throttle in background tabs.
function yieldNow() {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}
self.digitlabYield = yieldNow;
self.digitlabPost = (json) => postMessage(JSON.parse(json));
self.digitlabTakeStop = () => pendingStops.splice(0).length > 0;

class StageError extends Error {
  constructor(stage, code, message, reply = {}) {
    super(message);
    this.stage = stage;
    this.code = code;
    this.reply = reply;
  }
}

async function loadPackageFiles(pyodide) {
  const base = new URL("../py/", import.meta.url).href;
  const files = await Promise.all(PY_FILES.map(async (entry) => {
    const response = await fetch(base + entry);
    if (!response.ok) throw new StageError("runtime", "RUNTIME", `py/${entry.split("?")[0]}: HTTP ${response.status}`);
    return [entry.split("?")[0], await response.text()];
  }));
  for (const [path, text] of files) {
    const target = `/home/pyodide/${path}`;
    pyodide.FS.mkdirTree(target.slice(0, target.lastIndexOf("/")));
    pyodide.FS.writeFile(target, text);
  }
}

async function boot(canvases, settings, interruptBuffer) {
  let pyodide;
  try {
    const { loadPyodide } = await import(PYODIDE_DIR + "pyodide.mjs");
    pyodide = await loadPyodide({ indexURL: PYODIDE_DIR, lockFileURL: PYODIDE_DIR + "pyodide-lock.json" });
  } catch (error) {
    throw new StageError("runtime", "RUNTIME", `pyodide.asm.wasm: ${error.message}`);
  }
  // One call: Pyodide downloads and unpacks both wheels concurrently.
  const errors = [];
  await pyodide.loadPackage(["numpy", "pillow"], {
    messageCallback: () => {},
    errorCallback: (message) => errors.push(message),
  });
  for (const name of ["numpy", "pillow"]) {
    const failed = errors.filter((message) => message.toLowerCase().includes(name));
    if (failed.length) throw new StageError(name, "RUNTIME", `${name}: ${failed.join(" ")}`);
    postMessage({ type: "boot", stage: name, done: true });
  }
  if (errors.length) throw new StageError("runtime", "RUNTIME", errors.join(" "));
  pyodideModule = pyodide;
  if (interruptBuffer) pyodide.setInterruptBuffer(interruptBuffer); // Stop for code cells
  await loadPackageFiles(pyodide);
  pyodide.runPython("import sys; sys.path.insert(0, '/home/pyodide')");
  app = pyodide.pyimport("digitlab.web.worker").start(canvases, JSON.stringify(settings));
  const result = JSON.parse(await app.boot(dataDownloads.sprite, dataDownloads.labels,
                                           kernelDownloads));
  if (!result.ok) throw new StageError(result.stage || "data", result.code, result.message, result);
  return result.value;
}

// ---------------------------------------------------------------- messages

self.onmessage = async (event) => {
  const message = event.data;
  if (message.type === "stop") {
    pendingStops.push(true);
    return;
  }
  if (message.type === "init") {
    try {
      const value = await boot(message.canvases, message.settings, message.interruptBuffer);
      value.restored = await restoreModel();
      if (!bootFailed) postMessage({ type: "ready", value });
    } catch (error) {
      failBoot(error.stage || "runtime", error.message, error.code || "RUNTIME", error.reply);
    }
    return;
  }
  if (message.type === "call") {
    const reply = await callPython(message.method, message.args, message.bytes);
    postMessage({ type: "result", id: message.id, ...reply }, reply.bytes ? [reply.bytes.buffer] : []);
    if (reply.ok && PERSISTED_AFTER.has(message.method)) await persistModel();
    if (reply.ok && FORGOTTEN_AFTER.has(message.method)) await forgetModel();
  }
};

let pyodideModule = null; // for the wasm heap size only

async function callPython(method, args, bytes) {
  try {
    const reply = JSON.parse(await app.call(method, JSON.stringify(args ?? null), bytes ?? null));
    if (reply.ok && method === "memory") {
      // Pyodide does not expose its Memory; its Emscripten module does (a private field).
      reply.value.wasmHeapBytes = pyodideModule?._module?.HEAPU8?.byteLength ?? null;
    }
    if (reply.ok && reply.bytes != null) {
      const proxy = app.take_bytes(reply.bytes);
      reply.bytes = proxy instanceof Uint8Array ? proxy : proxy.toJs();
    } else {
      delete reply.bytes;
    }
    return reply;
  } catch (error) {
    return { ok: false, code: "INTERNAL", message: String(error.message || error) };
  }
}

// ---------------------------------------------------------------- the last model, kept in IndexedDB

// A GitHub Pages origin is shared by all of a user's projects: prefix what we store.
const DB_NAME = "digitlab";
const MODEL_KEY = "digitlab:last-model";
const PERSISTED_AFTER = new Set(["train", "loadWeights"]);
// The reader chose a share link's (untrained) model over the saved one: that one is replaced.
const FORGOTTEN_AFTER = new Set(["useModel"]);

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore("models");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function dbRequest(mode, action) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const request = action(db.transaction("models", mode).objectStore("models"));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}

async function persistModel() {
  try {
    const reply = await callPython("saveWeights");
    if (reply.ok) await dbRequest("readwrite", (store) => store.put(reply.bytes, MODEL_KEY));
  } catch (error) {
    console.warn("could not keep the model in IndexedDB:", error); // private mode, quota
  }
}

async function forgetModel() {
  await dbRequest("readwrite", (store) => store.delete(MODEL_KEY)).catch(() => {});
}

// The saved model, in use from boot as source "stored" (its run is not kept: Continue then
// starts a run on its weights).
async function restoreModel() {
  let bytes;
  try {
    bytes = await dbRequest("readonly", (store) => store.get(MODEL_KEY));
  } catch {
    return null;
  }
  if (!bytes) return null;
  const reply = await callPython("loadWeights", { source: "stored" }, bytes);
  if (!reply.ok) await forgetModel();
  return reply.ok ? reply.value : null;
}
