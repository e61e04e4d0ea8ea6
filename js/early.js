// The first module the page runs, and the smallest: it checks what the browser must have and
// starts the Python worker at once, before the page's own modules (the code cells' editor
// alone is 380 KB) have been fetched and run, so the runtime's download and start begin as
// early as they can. ./rpc.js takes this worker for the first boot.

function supportsModuleWorkers() {
  let supported = false;
  try {
    const options = { get type() { supported = true; return "module"; } };
    new Worker("http://[", options); // an invalid URL: throws before anything is fetched
  } catch {
    // Only the getter matters: options are read before the URL is parsed.
  }
  return supported;
}

/** The first feature the page needs that this browser lacks, or null. */
export function browserProblem() {
  if (typeof WebAssembly !== "object") return "WebAssembly";
  if (!supportsModuleWorkers()) return "module Web Workers";
  if (typeof OffscreenCanvas === "undefined" || !HTMLCanvasElement.prototype.transferControlToOffscreen) {
    return "OffscreenCanvas";
  }
  return null;
}

/** A new Python worker (./worker.js): it starts loading the runtime as it starts. */
export function newWorker() {
  return new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
}

// A first visit that is not cross-origin isolated may load itself again through the service
// worker (./offline.js) before it boots: a worker started now would be thrown away with it.
const sw = navigator.serviceWorker;
const mayReload = Boolean(sw) && !globalThis.crossOriginIsolated && !sw.controller;
let early = browserProblem() || mayReload ? null : newWorker();

/** The worker started with the page (once; null after, or when none was started). */
export function takeEarlyWorker() {
  const worker = early;
  early = null;
  return worker;
}
