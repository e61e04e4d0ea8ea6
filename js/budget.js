// How much memory a model may need for training, derived from what the browser tells us
// rather than a fixed constant. Python (py/digitlab/nn/plan.py) estimates a model's need and
// compares it with this budget before anything is allocated.

const GIB = 2 ** 30;
// A wasm32 heap (Pyodide's) addresses at most 4 GiB, however big the device is.
const WASM32_LIMIT = 4 * GIB;
// navigator.deviceMemory exists only in Chromium browsers (and is capped at 8); without it,
// assume a common 4 GB device.
const ASSUMED_DEVICE_GIB = 4;
// One tab gets a share of the device, and the same heap also holds the Python runtime, NumPy,
// the 51 MB of MNIST pixels and NumPy's temporaries; growing the heap can briefly need the old
// and the new copy. So a model may plan for a quarter of what the tab could possibly reach.
const SHARE_FOR_THE_MODEL = 0.25;

/** {bytes, deviceGiB, heapLimit, reachable}: the budget and the numbers it came from. */
export function memoryBudget() {
  const deviceGiB = Number(navigator.deviceMemory) > 0 ? Number(navigator.deviceMemory) : ASSUMED_DEVICE_GIB;
  const limits = [deviceGiB * GIB, WASM32_LIMIT];
  // Chromium's non-standard performance.memory: the most JavaScript heap this tab may use.
  const heapLimit = Number(performance.memory?.jsHeapSizeLimit) || null;
  if (heapLimit) limits.push(heapLimit);
  const reachable = Math.min(...limits);
  return { bytes: Math.floor(reachable * SHARE_FOR_THE_MODEL), deviceGiB, heapLimit, reachable };
}
