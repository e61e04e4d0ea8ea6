// The module worker: boots Pyodide from the site's own vendor/ folder, loads the digitlab
// package, and relays typed messages between the page and Python (py/digitlab/web/worker.py).
// No model logic lives here.

import { downloadPackage, KERNELS, PYODIDE_DIR, writePackage } from "./package.js";
import { Team } from "./team.js";

const DATA_URLS = {
  sprite: new URL("../data/mnist_images.png", import.meta.url).href,
  labels: new URL("../data/mnist_labels_uint8", import.meta.url).href,
};

// sha256 of the runtime files Pyodide fetches itself (its lock covers only the wheels).
const RUNTIME_SHA256 = { "__RUNTIME_SHA256__": "" };

// Where the boot's time goes: stage -> [start, end] in epoch ms (timeOrigin + now, so the page
// can place them on its own clock), sent with `ready` (and the deferred stages after it).
const bootTimings = {};
const epochNow = () => performance.timeOrigin + performance.now();
const workerStart = epochNow();

async function timed(stage, work) {
  const start = epochNow();
  try {
    return await work();
  } finally {
    bootTimings[stage] = [start, epochNow()];
  }
}

let app = null; // the Python App object, once booted
let team = null; // the training replicas (./team.js)
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

// The wheels the boot loads (file -> the lock's integrity), fetched from the worker's start
// rather than once the runtime is up: Pyodide's own fetch of one then gets this response.
const EARLY_WHEELS = { "__EARLY_WHEELS__": "" };
const nativeFetch = globalThis.fetch.bind(globalThis);
// Read whole at once: an unread body would stall after the browser's first buffer.
const earlyFetches = new Map(Object.entries(EARLY_WHEELS).map(([file, integrity]) => {
  const early = nativeFetch(PYODIDE_DIR + file, { integrity }).then(async (response) => (
    response.ok ? new Response(await response.arrayBuffer(), { status: response.status, headers: response.headers }) : response));
  early.catch(() => {}); // Pyodide's fetch of it gets the failure
  return [PYODIDE_DIR + file, early];
}));

// Count bytes as they stream in, so the page can show each boot stage's progress.
globalThis.fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input), import.meta.url).href;
  const stage = stageOf(url);
  const name = url.split("?")[0].split("/").pop();
  const early = earlyFetches.get(url);
  earlyFetches.delete(url);
  const response = await (early ?? nativeFetch(input, init));
  if (stage === "runtime" && !response.ok) failBoot(stage, `${name}: HTTP ${response.status}`);
  if (!stage || !response.body) return response;
  // Pyodide gets the browser's own Response, untouched: it keeps its URL, so V8 may cache the
  // compiled runtime for the next visit (a Response made here would be compiled every time).
  // A copy is counted for the progress bars, and hashed.
  watch(response.clone(), stage, url, name);
  return response;
};

// How often a download's progress reaches the page: every chunk would be hundreds of
// messages, each a repaint of the boot's progress bars.
const PROGRESS_EVERY_MS = 100;

// A copy from the service worker's cache says that it checked the file's sha256 when it kept
// it (js/sw.js): hashing it again would only take the CPU from the runtime's start.
const SW_CHECKED = "X-DigitLab-SHA256";

async function watch(copy, stage, url, name) {
  const total = Number(copy.headers.get("content-length")) || 0;
  const expected = RUNTIME_SHA256[name];
  const kept = expected && copy.headers.get(SW_CHECKED) !== expected ? [] : null;
  let loaded = 0;
  let posted = 0;
  try {
    const reader = copy.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      loaded += value.byteLength;
      kept?.push(value);
      if (performance.now() - posted >= PROGRESS_EVERY_MS) {
        posted = performance.now();
        postMessage({ type: "boot", stage, url, loaded, total });
      }
    }
  } catch {
    return; // the download failed: whoever reads the response itself reports it
  }
  postMessage({ type: "boot", stage, url, loaded, total });
  if (kept) verifyRuntimeFile(name, new Blob(kept).stream());
}

// Start the data download at once, so it overlaps the runtime's start; Python awaits it.
function prefetch(url) {
  return fetch(url).then(async (response) => ({
    ok: response.ok,
    status: response.status,
    bytes: response.ok ? new Uint8Array(await response.arrayBuffer()) : null,
  }));
}
// The sprite (10.7 MB, inflated to 51 MB) is fetched and inflated by a worker of its own
// (./sprite.js), on another core: inflating it here would hold this thread while the
// runtime starts on it. Its progress and timings come back with it.
let spriteWorker = null;

function prefetchSprite() {
  return new Promise((resolve, reject) => {
    const helper = new Worker(new URL("./sprite.js", import.meta.url), { type: "module" });
    spriteWorker = helper;
    helper.onmessage = ({ data }) => {
      if (data.type === "boot") {
        postMessage(data);
        return;
      }
      helper.terminate();
      spriteWorker = null;
      Object.assign(bootTimings, data.timings);
      if (data.type === "failed") reject(new Error(data.message));
      else resolve(data.download);
    };
    helper.onerror = (event) => {
      helper.terminate();
      reject(new Error(event.message || "the sprite's worker failed to start"));
    };
    helper.postMessage({ url: DATA_URLS.sprite });
  });
}

let dataDownloads = { sprite: prefetchSprite(), labels: prefetch(DATA_URLS.labels) };
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

// The package's sources (and bytecode) are fetched from the start too, while the runtime
// starts; they are written into its file system once it is up.
const packageDownload = downloadPackage((message) => new StageError("runtime", "RUNTIME", message));

// Pyodide downloads and unpacks the wheels concurrently; a failure names its package.
async function loadPackages(pyodide, names) {
  const errors = [];
  await pyodide.loadPackage(names, {
    messageCallback: () => {},
    errorCallback: (message) => errors.push(message),
  });
  for (const name of names) {
    const failed = errors.filter((message) => message.toLowerCase().includes(name));
    if (failed.length) throw new StageError(name, "RUNTIME", `${name}: ${failed.join(" ")}`);
    postMessage({ type: "boot", stage: name, done: true });
  }
  if (errors.length) throw new StageError("runtime", "RUNTIME", errors.join(" "));
}

// What the first screen does not need is loaded after `ready`: Pillow, used only by the pad's
// resize (and to read a sprite of another PNG kind). Calls that may use it wait for it; the
// others, listed here, never do. A method added later waits too, which is always safe.
const CALLS_WITHOUT_PILLOW = new Set([
  "examples", "train", "evaluate", "predict", "testImage", "inspect", "saveWeights",
  "loadWeights", "useModel", "state", "summary", "memory", "simdInfo", "simdVerify",
  "setGemmBackend", "source", "plan", "setLanguage", "replicas",
]);
let deferred = null; // settles with null, or the refusal a call that needs Pillow gets

function loadDeferred() {
  deferred ??= timed("pillow", () => loadPackages(pyodideModule, ["pillow"])).then(
    () => null,
    (error) => ({ ok: false, code: "RUNTIME", stage: "pillow", message: error.message }));
  return deferred;
}

// The runtime starts loading with the worker, not when the page's "init" arrives: the page
// starts this worker before its own modules have run (./early.js).
const runtime = (async () => {
  try {
    const { loadPyodide } = await import(PYODIDE_DIR + "pyodide.mjs");
    return await loadPyodide({ indexURL: PYODIDE_DIR, lockFileURL: PYODIDE_DIR + "pyodide-lock.json" });
  } catch (error) {
    throw new StageError("runtime", "RUNTIME", `pyodide.asm.wasm: ${error.message}`);
  } finally {
    bootTimings.runtime = [workerStart, epochNow()];
    spriteWorker?.postMessage({ type: "inflate" }); // see ./sprite.js
  }
})();
runtime.catch(() => {}); // boot() reports it

async function boot(canvases, settings, interruptBuffer) {
  const pyodide = await runtime;
  pyodideModule = pyodide;
  if (interruptBuffer) pyodide.setInterruptBuffer(interruptBuffer); // Stop for code cells
  // NumPy only: Pillow waits until after ready (loadDeferred), unless the sprite needs it.
  await timed("numpy", () => loadPackages(pyodide, ["numpy"]));
  // Its own mark: the bare boot's floor includes it, the package's imports then do not.
  await timed("numpyImport", () => pyodide.runPython("import numpy"));
  await timed("pyFiles", () => writePackage(pyodide, packageDownload));
  // The other workers a run may share its batches with, started when a run first asks.
  team = new Team({ simd: settings.simd }, () => app?.state_changed());
  self.digitlabTeam = team;
  await timed("imports", () => {
    app = pyodide.pyimport("digitlab.web.worker").start(canvases, JSON.stringify(settings));
  });
  const sprite = await dataDownloads.sprite.catch(() => null);
  if (sprite?.ok && !sprite.inflated) await loadDeferred(); // an unusual PNG: Pillow reads it
  const result = JSON.parse(await app.boot(dataDownloads.sprite, dataDownloads.labels,
                                           kernelDownloads));
  dataDownloads = null; // Python has its copies: let the browser's go
  if (!result.ok) throw new StageError(result.stage || "data", result.code, result.message, result);
  Object.assign(bootTimings, result.value.timings);
  delete result.value.timings;
  return result.value;
}

// ---------------------------------------------------------------- messages

self.onmessage = async (event) => {
  const message = event.data;
  if (message.type === "stop") {
    pendingStops.push(true);
    return;
  }
  if (message.type === "kill-worker") { // the test hook for a worker that crashes mid-run
    team?.kill(message.worker - 1);
    return;
  }
  if (message.type === "init") {
    try {
      const value = await boot(message.canvases, message.settings, message.interruptBuffer);
      value.restored = await timed("restore", restoreModel);
      value.bootTimings = { ...bootTimings, ready: epochNow() };
      if (!bootFailed) postMessage({ type: "ready", value });
      if (!bootFailed) afterReady();
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

let pyodideModule = null; // for the wasm heap size, and the packages loaded after boot

// After `ready`: Pillow, then the first forward pass (see Controller.call_warmUp); a call
// that arrives meanwhile goes first or between, as the event loop takes it.
async function afterReady() {
  await loadDeferred();
  await timed("warmUp", () => callPython("warmUp"));
  postMessage({ type: "boot-timings", timings: { pillow: bootTimings.pillow, warmUp: bootTimings.warmUp } });
}

async function callPython(method, args, bytes) {
  if (!CALLS_WITHOUT_PILLOW.has(method)) {
    const refusal = await loadDeferred();
    if (refusal) return refusal;
  }
  try {
    const reply = JSON.parse(await app.call(method, JSON.stringify(args ?? null), bytes ?? null));
    // Pyodide does not expose its Memory; its Emscripten module does (a private field).
    const heapBytes = pyodideModule?._module?.HEAPU8?.byteLength ?? null;
    if (reply.ok && method === "memory") reply.value.wasmHeapBytes = heapBytes;
    if (reply.ok && method === "replicas") reply.value[0].wasmHeapBytes = heapBytes;
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

// The saved model's bytes, read from the worker's start while the runtime starts (null when
// there is none, or no IndexedDB: private mode).
const storedModel = dbRequest("readonly", (store) => store.get(MODEL_KEY)).catch(() => null);

// The saved model, in use from boot as source "stored" (its run is not kept: Continue then
// starts a run on its weights).
async function restoreModel() {
  const bytes = await storedModel;
  if (!bytes) return null;
  const reply = await callPython("loadWeights", { source: "stored" }, bytes);
  if (!reply.ok) await forgetModel();
  return reply.ok ? reply.value : null;
}
