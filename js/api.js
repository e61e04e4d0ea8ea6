// window.digitlab: the page's automation API (tests, the benchmark and users script it). Each
// method is a call into Python through ./rpc.js; the few that change what the page shows
// (train, loadWeights, predictPad, shareUrl) reach the page through `page`, which
// ./controls.js fills in, so this module does not depend on the controls.
import { memoryBudget } from "./budget.js";
import { t } from "./i18n.js";
import { restoreWeights, runCode, stopCode } from "./coderun.js";
import { boot, busyError, callWorker, codedError, on, sendKillWorker, sendStop, setPhase, startWorker, state } from "./rpc.js";
import { shareUrl } from "./share.js";

/**
 * What the API needs from the page: padSnapshot() -> {width, height, alpha}, showOnPad(alpha,
 * width, height) puts an image on the pad as its ink, shareConfig() ->
 * the set-up a link reproduces, weightsLoaded(summary), trainingStarted(), trainingEnded().
 */
export const page = {
  padSnapshot: () => ({ width: 0, height: 0, alpha: new Uint8Array(0) }),
  showOnPad: () => {},
  shareConfig: () => ({}),
  cellCodes: () => ({}),
  weightsLoaded: () => {},
  trainingStarted: () => {},
  trainingEnded: () => {},
};

async function runTraining(config) {
  if (state.phase === "training" || state.phase === "running") throw busyError();
  const call = callWorker("train", config);
  state.epoch = 0;
  state.batch = 0;
  setPhase("training");
  page.trainingStarted();
  try {
    return await call;
  } finally {
    setPhase("ready");
    page.trainingEnded();
  }
}

async function runEvaluation(options) {
  const call = callWorker("evaluate", options);
  if (state.phase !== "ready") return call; // rejected (busy or not booted) as it should be
  setPhase("evaluating");
  try {
    return await call;
  } finally {
    if (state.phase === "evaluating") setPhase("ready");
  }
}

function imageBytes(data) {
  if (data instanceof Uint8Array) return new Uint8Array(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  return new Uint8Array(0); // Python refuses it as an empty image, in the page's language
}

// An image file, or test image `index`, onto the pad as its ink; then the pad is predicted as
// a drawing is, so predictPad() and every pad view describe it. Resolves like predictPad().
async function uploadToPad(data) {
  const { width, height } = page.padSnapshot();
  const alpha = await callWorker("uploadDigit", { width, height }, imageBytes(data));
  page.showOnPad(alpha, width, height);
  return digitlab.predictPad();
}

async function testDigitToPad(index) {
  const { pixels, label } = await callWorker("testImage", { index });
  page.showOnPad(Uint8Array.from(pixels, (value) => Math.round(255 * value)), 28, 28);
  return { label, probabilities: await digitlab.predictPad() };
}

function asBytes(data) {
  if (data instanceof Uint8Array) return new Uint8Array(data); // a copy: the original stays usable
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  throw codedError("BAD_WEIGHTS", t("error.BAD_WEIGHTS", { detail: t("error.BAD_WEIGHTS.not_bytes") }), { reason: "not_bytes" });
}

/** Files (File objects, or {name, data} with bytes) as [{name, data: Uint8Array}]. */
async function filesAsBytes(files) {
  return Promise.all(Array.from(files ?? [], async (file) => {
    if (typeof Blob !== "undefined" && file instanceof Blob) {
      return { name: file.name ?? "", data: new Uint8Array(await file.arrayBuffer()) };
    }
    return { name: String(file?.name ?? ""), data: asBytes(file?.data) };
  }));
}

export const digitlab = {
  ready: null,
  examples: () => callWorker("examples"),
  train: (config = {}) => runTraining({ ...config }),
  stop: async () => {
    if (state.phase === "training") sendStop();
  },
  evaluate: (options = {}) => runEvaluation(options),
  predict: (pixels) => callWorker("predict", { pixels: Array.from(pixels) }),
  testImage: (index) => callWorker("testImage", { index }),
  predictPad: () => {
    const { width, height, alpha } = page.padSnapshot();
    return callWorker("predictPad", { width, height }, alpha);
  },
  uploadDigit: (data) => uploadToPad(data),
  pickTestDigit: (index) => testDigitToPad(index),
  saveWeights: () => callWorker("saveWeights"),
  loadWeights: async (data) => {
    const summary = await callWorker("loadWeights", {}, asBytes(data));
    page.weightsLoaded(summary);
    return summary;
  },
  // TensorFlow.js Layers models: the model in use as a zip of model.json + model.weights.bin,
  // and several files at once (model.json with its .bin files; or one file, as loadWeights).
  exportTfjs: () => callWorker("exportTfjs"),
  loadModelFiles: async (files) => {
    const list = await filesAsBytes(files);
    const payload = new Uint8Array(list.reduce((sum, file) => sum + file.data.length, 0));
    let offset = 0;
    for (const file of list) {
      payload.set(file.data, offset);
      offset += file.data.length;
    }
    const args = { files: list.map((file) => ({ name: file.name, size: file.data.length })) };
    const summary = await callWorker("loadModelFiles", args, payload);
    page.weightsLoaded(summary);
    return summary;
  },
  state: () => ({ ...state, model: state.model && { ...state.model }, run: state.run && { ...state.run },
    workers: state.workers && { ...state.workers } }),
  summary: (model) => callWorker("summary", { model }),
  memory: (options = {}) => callWorker("memory", options),
  inspect: (index) => callWorker("inspect", { index }),
  simdInfo: () => callWorker("simdInfo"),
  simdVerify: (options = {}) => callWorker("simdVerify", options),
  setGemmBackend: (name) => callWorker("setGemmBackend", { name }),
  // The tutorial's additions: the Python source of a step, the builder's check of a layer
  // list ({model, batchSize} -> {ok, problems, estimate, budget, summary, spec}), the memory
  // budget (sync) and the link that reproduces the current set-up (sync).
  source: (step) => callWorker("source", { step }),
  plan: (options = {}) => callWorker("plan", options),
  budget: () => memoryBudget(),
  shareUrl: () => shareUrl(page.shareConfig()),
  // Charts in the dark or light theme (the page follows the system's colour scheme).
  setTheme: (dark) => callWorker("setTheme", { dark: Boolean(dark) }),
  // The code cells: run one ({step, code} -> {ok, stdout, stderr, error}), stop it, and the
  // code each cell holds now ({step: code}).
  runCode: (args) => runCode(args),
  // A restart: a fresh worker, ready once it has the weights that were in use back.
  stopCode: () => stopCode((kept) => {
    digitlab.ready = startWorker().then(async () => {
      await restoreWeights(kept);
      return true;
    });
    return digitlab.ready;
  }),
  cells: () => page.cellCodes(),
  // Data-parallel training: each worker's copy of the model in use, [{worker, checksum,
  // wasmHeapBytes}] (worker 1 first), and the test hook that ends worker n (2..) as a crash.
  replicas: () => callWorker("replicas"),
  killWorker: (n) => sendKillWorker(n),
  // Where the boot's time went (sync): stage -> [start, end] ms since navigation start.
  bootTimings: () => boot.timings && structuredClone(boot.timings),
};
window.digitlab = digitlab;

/** Boot (or, for Retry, re-boot) Python; digitlab.ready follows this boot. */
export function start() {
  digitlab.ready = startWorker();
}

/** A browser without `feature` never starts the worker: ready rejects with UNSUPPORTED. */
export function refuse(feature) {
  state.phase = "error";
  const error = codedError("UNSUPPORTED", t("error.UNSUPPORTED", { feature }));
  digitlab.ready = Promise.reject(error);
  digitlab.ready.catch(() => {});
  on.alert(error.message);
}
