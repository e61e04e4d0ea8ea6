// The floor: a module worker that loads the site's own Pyodide (same vendor folder, indexURL
// and lock file as js/worker.js) and imports NumPy from the site's wheel. Nothing else: no
// integrity checks, no progress, no package of ours. Marks are epoch ms (timeOrigin + now),
// so the page can place them on its own clock.
const at = () => performance.timeOrigin + performance.now();

self.onmessage = async (event) => {
  const marks = { workerStart: at() };
  try {
    const vendor = new URL(`../vendor/${event.data.dir}/`, import.meta.url).href;
    const { loadPyodide } = await import(vendor + "pyodide.mjs");
    const pyodide = await loadPyodide({ indexURL: vendor, lockFileURL: vendor + "pyodide-lock.json" });
    marks.runtime = at();
    await pyodide.loadPackage("numpy", { messageCallback: () => {} });
    pyodide.runPython("import numpy");
    marks.numpy = at();
    postMessage({ ok: true, marks });
  } catch (error) {
    postMessage({ ok: false, error: String(error && error.message || error) });
  }
};
