// Starts the bare worker and exposes window.bare.ready, which resolves with the worker's marks
// (ms since this page's navigation start) once NumPy is imported. `?dir=pyodide-X.Y.Z` names
// the site's vendor folder, as bench/run.py knows it from build.py.
const dir = new URLSearchParams(location.search).get("dir");
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });

function pageTime(epochMs) {
  return epochMs - performance.timeOrigin;
}

window.bare = {
  ready: new Promise((resolve, reject) => {
    worker.onmessage = (event) => {
      const { ok, marks, error } = event.data;
      if (!ok) return reject(new Error(error));
      return resolve(Object.fromEntries(Object.entries(marks).map(([name, at]) => [name, pageTime(at)])));
    };
    worker.onerror = (event) => reject(new Error(event.message || "the bare worker failed"));
  }),
};
worker.postMessage({ dir });
