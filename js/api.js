// window.digitlab: the page's automation API (tests, the benchmark and users script it). Each
// method is a call into Python through ./rpc.js; the few that change what the page shows
// (train, loadWeights, predictPad, shareUrl) reach the page through `page`, which
// ./controls.js fills in, so this module does not depend on the controls.
import { memoryBudget } from "./budget.js";
import { t } from "./i18n.js";
import { boot, callWorker, codedError, on, sendStop, setPhase, startWorker, state } from "./rpc.js";
import { shareUrl } from "./share.js";

/**
 * What the API needs from the page: padSnapshot() -> {width, height, alpha}, shareConfig() ->
 * the set-up a link reproduces, weightsLoaded(summary), trainingStarted(), trainingEnded().
 */
export const page = {
  padSnapshot: () => ({ width: 0, height: 0, alpha: new Uint8Array(0) }),
  shareConfig: () => ({}),
  weightsLoaded: () => {},
  trainingStarted: () => {},
  trainingEnded: () => {},
};

async function runTraining(config) {
  if (state.phase === "training") throw codedError("BUSY", t("error.BUSY"));
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

function asBytes(data) {
  if (data instanceof Uint8Array) return new Uint8Array(data); // a copy: the original stays usable
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  throw codedError("BAD_WEIGHTS", t("error.BAD_WEIGHTS", { detail: t("error.BAD_WEIGHTS.not_bytes") }), { reason: "not_bytes" });
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
  saveWeights: () => callWorker("saveWeights"),
  loadWeights: async (data) => {
    const summary = await callWorker("loadWeights", {}, asBytes(data));
    page.weightsLoaded(summary);
    return summary;
  },
  state: () => ({ ...state, model: state.model && { ...state.model }, run: state.run && { ...state.run } }),
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
