// The main thread: controls, layout, the pad's ink, and window.digitlab. Python runs in the
// worker (./worker.js) and draws every chart onto canvases transferred to it.
import { memoryBudget } from "./budget.js";
import { createBuilder } from "./builder.js";
import { applyTranslations, chooseLanguage, formatNumber, language, messageFor, setLanguage, t } from "./i18n.js";
import { setupPad } from "./pad.js";
import { readSharedConfig, shareUrl } from "./share.js";
import { loadSources, renderSources } from "./source.js";

const $ = (id) => document.getElementById(id);

// Canvases Python draws on (their control is transferred to the worker).
const WORKER_CANVASES = [
  "examples", "class-balance", "chart-batch", "chart-epoch", "per-class", "confusion",
  "misclassified", "predictions", "pad-probs", "filters", "feature-maps",
];

const state = { phase: "booting", epoch: 0, batch: 0 };
let worker = null;
let nextCallId = 1;
const pendingCalls = new Map();
let readyResolvers = null;
let pad = null;
let builder = null;
let workerLang = null; // the language Python draws in; a switch during training waits for it
const shown = { summary: null, progress: null, accuracy: null }; // re-rendered on a language switch

function codedError(code, message) {
  const error = new Error(message);
  error.code = code;
  return error;
}

// ---------------------------------------------------------------- the alert banner

function showAlert(message, { retry = false } = {}) {
  $("alert-text").textContent = message; // text, never markup: messages may quote user files
  $("retry").hidden = !retry;
  document.querySelector('[data-testid="alert"]').hidden = false;
}

function hideAlert() {
  document.querySelector('[data-testid="alert"]').hidden = true;
}

// ---------------------------------------------------------------- boot

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

function browserProblem() {
  if (typeof WebAssembly !== "object") return "WebAssembly";
  if (!supportsModuleWorkers()) return "module Web Workers";
  if (typeof OffscreenCanvas === "undefined" || !HTMLCanvasElement.prototype.transferControlToOffscreen) {
    return "OffscreenCanvas";
  }
  return null;
}

// A canvas can be transferred once; a Retry needs fresh elements for the new worker.
function freshCanvas(id) {
  const old = $(id);
  if (!old.dataset.transferred) return old;
  const copy = old.cloneNode(false);
  delete copy.dataset.transferred;
  old.replaceWith(copy);
  return copy;
}

function resetBootProgress() {
  document.querySelectorAll(".boot-stages li").forEach((item) => {
    item.querySelector("progress").value = 0;
    item.querySelector(".bytes").textContent = "";
    item.classList.remove("done", "failed");
  });
  $("boot").hidden = false;
}

const bootBytes = {};
function showBootProgress(message) {
  const item = document.querySelector(`.boot-stages li[data-stage="${message.stage}"]`);
  if (!item) return;
  if (message.done) {
    item.classList.add("done");
    item.querySelector("progress").value = 1;
    return;
  }
  bootBytes[message.stage] ??= {};
  bootBytes[message.stage][message.url] = { loaded: message.loaded, total: message.total };
  const files = Object.values(bootBytes[message.stage]);
  const loaded = files.reduce((sum, f) => sum + f.loaded, 0);
  const total = files.reduce((sum, f) => sum + f.total, 0);
  item.querySelector("progress").value = total ? loaded / total : 0;
  const mb = (bytes) => formatNumber(bytes / 1e6, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  item.querySelector(".bytes").textContent = t("boot.bytes", { loaded: mb(loaded), total: mb(total) });
}

function startWorker() {
  resetBootProgress();
  state.phase = "booting";
  for (const key of Object.keys(bootBytes)) delete bootBytes[key];
  const readyPromise = new Promise((resolve, reject) => { readyResolvers = { resolve, reject }; });
  readyPromise.catch(() => {}); // callers get the rejection through digitlab.ready
  digitlab.ready = readyPromise;

  worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  worker.onmessage = (event) => onWorkerMessage(event.data);
  worker.onerror = (event) => failBoot({ stage: "runtime", code: "RUNTIME", message: event.message || "worker failed to start" });
  const canvases = {};
  for (const id of WORKER_CANVASES) {
    const canvas = freshCanvas(id);
    canvases[id] = canvas.transferControlToOffscreen();
    canvas.dataset.transferred = "1";
  }
  worker.postMessage({ type: "init", canvases, settings: uiSettings() }, Object.values(canvases));
}

function uiSettings() {
  workerLang = document.documentElement.lang;
  return {
    lang: workerLang,
    dark: matchMedia("(prefers-color-scheme: dark)").matches,
    memoryBudget: memoryBudget().bytes, // Python refuses models that would not fit
    // ?simd=relaxed: the faster relaxed-SIMD kernel (results depend on the hardware);
    // ?simd=off: NumPy's own matmul. The default, plain SIMD, is reproducible.
    simd: new URLSearchParams(location.search).get("simd") || "plain",
  };
}

function failBoot(reply) {
  state.phase = "error";
  document.querySelector(`.boot-stages li[data-stage="${reply.stage}"]`)?.classList.add("failed");
  const error = codedError(reply.code, messageFor(reply));
  error.stage = reply.stage;
  showAlert(error.message, { retry: true });
  readyResolvers?.reject(error);
  readyResolvers = null;
}

function onReady(value) {
  state.phase = "ready";
  $("boot").hidden = true;
  setControlsEnabled(true);
  renderSummary(value.restored || value.summary);
  if (value.restored) $("continue-button").disabled = false;
  readyResolvers?.resolve(true);
  readyResolvers = null;
  // A shared link or a restored form may have picked another model than the boot summary's.
  if ($("model-select").value !== "tutorial") quietly(onModelChoice("tutorial"));
  if (workerLang !== language()) tellPythonTheLanguage(); // switched while booting
  quietly(loadSources((step) => callWorker("source", { step })));
}

function onWorkerMessage(message) {
  switch (message.type) {
    case "boot": return showBootProgress(message);
    case "ready": return onReady(message.value);
    case "boot-error": return failBoot(message);
    case "progress": return showTrainingProgress(message);
    case "result": return settleCall(message);
    case "alt": return setAltText(message);
    default: return undefined;
  }
}

// Screen-reader text for a canvas Python drew.
function setAltText(message) {
  const element = $(message.id);
  if (element) element.textContent = message.text;
}

// ---------------------------------------------------------------- calls into Python

function callWorker(method, args, bytes) {
  if (state.phase === "training") return Promise.reject(codedError("BUSY", t("error.BUSY")));
  if (state.phase === "booting" || state.phase === "error" || !worker) {
    return Promise.reject(codedError("RUNTIME", t("error.NOT_READY")));
  }
  const id = nextCallId++;
  return new Promise((resolve, reject) => {
    pendingCalls.set(id, { resolve, reject });
    const transfer = bytes ? [bytes.buffer] : [];
    worker.postMessage({ type: "call", id, method, args, bytes }, transfer);
  });
}

function settleCall(reply) {
  const pending = pendingCalls.get(reply.id);
  if (!pending) return;
  pendingCalls.delete(reply.id);
  if (reply.ok) pending.resolve(reply.bytes ?? reply.value);
  else {
    const error = codedError(reply.code, messageFor(reply));
    showAlert(error.message);
    pending.reject(error);
  }
}

// ---------------------------------------------------------------- training

function renderProgressText() {
  const message = shown.progress;
  if (!message) return;
  $("progress-text").textContent = t("train.progress", {
    epoch: formatNumber(message.epoch), epochs: formatNumber(message.epochs),
    batch: formatNumber(message.batch), batches: formatNumber(message.batches),
    speed: formatNumber(Math.round(message.imagesPerSecond)), eta: formatNumber(Math.ceil(message.eta)),
  });
}

function showTrainingProgress(message) {
  state.epoch = message.epoch;
  state.batch = message.batch;
  $("progress").value = message.fraction;
  shown.progress = message;
  renderProgressText();
  if (message.alt) {
    $("chart-batch-alt").textContent = message.alt.batch;
    $("chart-epoch-alt").textContent = message.alt.epoch;
  }
}

async function runTraining(config) {
  if (state.phase === "training") throw codedError("BUSY", t("error.BUSY"));
  const call = callWorker("train", config);
  state.phase = "training";
  state.epoch = 0;
  state.batch = 0;
  setTrainingControls(true);
  try {
    return await call;
  } finally {
    state.phase = "ready";
    setTrainingControls(false);
    $("continue-button").disabled = false;
    if (workerLang !== language()) tellPythonTheLanguage(); // switched while training
    if ($("model-select").value === "custom") refreshModel(); // edits made while training
  }
}

async function runEvaluation(options) {
  const call = callWorker("evaluate", options);
  if (state.phase !== "ready") return call; // rejected (busy or not booted) as it should be
  state.phase = "evaluating";
  try {
    return await call;
  } finally {
    if (state.phase === "evaluating") state.phase = "ready";
  }
}

function readConfigFromControls() {
  const number = (id) => ($(id).value.trim() === "" ? NaN : Number($(id).value));
  return {
    model: $("model-select").value === "custom" ? builder.spec() : $("model-select").value,
    trainSize: number("train-size"),
    validationSize: number("validation-size"),
    epochs: number("epochs"),
    batchSize: number("batch-size"),
    learningRate: number("learning-rate"),
    optimizer: $("optimizer").value,
  };
}

function setControlsEnabled(enabled) {
  for (const id of ["train-button", "evaluate-button", "save-weights"]) $(id).disabled = !enabled;
}

function setTrainingControls(training) {
  $("train-button").disabled = training;
  $("continue-button").disabled = training;
  $("evaluate-button").disabled = training;
  $("save-weights").disabled = training;
  $("stop-button").disabled = !training;
}

// ---------------------------------------------------------------- model summary

function renderSummary(summary) {
  if (!summary) return;
  shown.summary = summary;
  $("summary-invalid").hidden = true;
  const locale = language();
  const body = $("model-summary").querySelector("tbody");
  body.replaceChildren(...summary.layers.map((layer) => {
    const row = document.createElement("tr");
    const shape = `[${layer.output_shape.map((d) => (d === null ? "null" : d)).join(", ")}]`;
    for (const value of [`${layer.name} (${layer.type})`, shape, layer.params.toLocaleString(locale)]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.append(cell);
    }
    return row;
  }));
  $("summary-total").textContent = summary.total_params.toLocaleString(locale);
}

function clearSummary() {
  shown.summary = null;
  $("model-summary").querySelector("tbody").replaceChildren();
  $("summary-total").textContent = "–";
  $("summary-invalid").hidden = false;
}

// ---------------------------------------------------------------- model choice and builder

let planSequence = 0;
let planTimer = null;

// The summary of the chosen model; for "custom", Python's plan of the builder's layers.
function refreshModel() {
  const choice = $("model-select").value;
  $("builder").hidden = choice !== "custom";
  if (state.phase !== "ready") return; // onReady and the end of training call again
  if (choice !== "custom") {
    quietly(digitlab.summary(choice).then(renderSummary));
    return;
  }
  const sequence = ++planSequence; // answers can overtake each other; show only the latest
  quietly(digitlab.plan({ model: builder.spec(), batchSize: Number($("batch-size").value) || undefined })
    .then((plan) => {
      if (sequence !== planSequence) return;
      builder.showPlan(plan);
      if (plan.ok) renderSummary(plan.summary);
      else clearSummary();
    }));
}

function schedulePlan() {
  clearTimeout(planTimer);
  planTimer = setTimeout(refreshModel, 150); // typing "128" should not cost three plans
  updateUrl();
}

async function resetBuilder() {
  builder.setSpec((await digitlab.plan({ model: "tutorial" })).spec);
  schedulePlan();
}

async function onModelChoice(previous) {
  if ($("model-select").value === "custom" && builder.isEmpty()) {
    // Start from the model that was selected, so there is something sensible to edit.
    const plan = await digitlab.plan({ model: previous === "custom" ? "tutorial" : previous });
    builder.setSpec(plan.spec);
  }
  refreshModel();
  updateUrl();
}

// ---------------------------------------------------------------- language and sharing

function tellPythonTheLanguage() {
  if (state.phase !== "ready") return;
  const lang = language();
  quietly(callWorker("setLanguage", { lang }).then(() => {
    workerLang = lang;
    if ($("model-select").value === "custom") refreshModel(); // problems are worded in Python
  }));
}

function onLanguageSwitch(lang) {
  setLanguage(lang);
  renderSummary(shown.summary);
  renderProgressText();
  renderAccuracy();
  renderSources();
  builder.render();
  tellPythonTheLanguage();
  updateUrl();
}

function shareConfig() {
  const config = readConfigFromControls();
  return { lang: language(), ...config };
}

// The address bar always holds the current set-up, so a bookmark or a reload keeps it too.
function updateUrl() {
  try {
    history.replaceState(null, "", shareUrl(shareConfig()));
  } catch {
    // A sandboxed or file: page may refuse; the Copy link button still shows the link.
  }
}

async function copyLink() {
  const url = shareUrl(shareConfig());
  updateUrl();
  const field = $("share-link");
  field.value = url;
  let copied = false;
  try {
    await navigator.clipboard.writeText(url);
    copied = true;
  } catch {
    // No clipboard permission (or an insecure context): show the link to copy by hand.
  }
  field.hidden = copied;
  $("share-status").dataset.i18n = copied ? "share.copied" : "share.manual";
  $("share-status").textContent = t($("share-status").dataset.i18n);
  $("share-status").hidden = false;
  if (!copied) field.select();
}

function restoreSharedConfig(config) {
  if (!config) return;
  const fields = { trainSize: "train-size", validationSize: "validation-size", epochs: "epochs",
    batchSize: "batch-size", learningRate: "learning-rate" };
  for (const [key, id] of Object.entries(fields)) if (key in config) $(id).value = String(config[key]);
  if (config.optimizer) $("optimizer").value = config.optimizer;
  if (Array.isArray(config.model)) {
    $("model-select").value = "custom";
    builder.setSpec(config.model);
  } else if (config.model) {
    $("model-select").value = config.model;
  }
  $("builder").hidden = $("model-select").value !== "custom";
}

function renderAccuracy() {
  if (shown.accuracy === null) return;
  $("test-accuracy").textContent = t("evaluate.accuracy", {
    accuracy: formatNumber(100 * shown.accuracy, { minimumFractionDigits: 2, maximumFractionDigits: 2 }),
  });
}

// ---------------------------------------------------------------- window.digitlab

function asBytes(data) {
  if (data instanceof Uint8Array) return new Uint8Array(data); // a copy: the original stays usable
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  throw codedError("BAD_WEIGHTS", t("error.BAD_WEIGHTS", { detail: "expected a Uint8Array or ArrayBuffer" }));
}

const digitlab = {
  ready: null,
  examples: () => callWorker("examples"),
  train: (config = {}) => runTraining({ ...config }),
  stop: async () => {
    if (state.phase === "training") worker.postMessage({ type: "stop" });
  },
  evaluate: (options = {}) => runEvaluation(options),
  predict: (pixels) => callWorker("predict", { pixels: Array.from(pixels) }),
  testImage: (index) => callWorker("testImage", { index }),
  predictPad: () => {
    const { width, height, alpha } = pad.snapshot();
    return callWorker("predictPad", { width, height }, alpha);
  },
  saveWeights: () => callWorker("saveWeights"),
  loadWeights: async (data) => {
    const summary = await callWorker("loadWeights", {}, asBytes(data));
    renderSummary(summary);
    $("continue-button").disabled = false;
    return summary;
  },
  state: () => ({ ...state }),
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
  shareUrl: () => shareUrl(shareConfig()),
};
window.digitlab = digitlab;

// ---------------------------------------------------------------- wiring

function downloadBytes(bytes, name) {
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/zip" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function quietly(promise) {
  promise.catch(() => {}); // the banner already shows the error
}

function wireControls() {
  $("train-button").addEventListener("click", () => quietly(digitlab.train(readConfigFromControls())));
  $("continue-button").addEventListener("click", () => quietly(digitlab.train({ ...readConfigFromControls(), continue: true })));
  $("stop-button").addEventListener("click", () => quietly(digitlab.stop()));
  $("evaluate-button").addEventListener("click", () => quietly(digitlab.evaluate().then((result) => {
    shown.accuracy = result.accuracy;
    renderAccuracy();
  })));
  let previousModel = $("model-select").value;
  $("model-select").addEventListener("change", () => {
    const previous = previousModel;
    previousModel = $("model-select").value;
    quietly(onModelChoice(previous));
  });
  $("train-form").addEventListener("input", () => {
    updateUrl();
    if ($("model-select").value === "custom") schedulePlan(); // the batch size changes the memory
  });
  $("optimizer").addEventListener("change", updateUrl);
  $("share").addEventListener("click", () => quietly(copyLink()));
  $("builder-reset").addEventListener("click", () => quietly(resetBuilder()));
  $("save-weights").addEventListener("click", () => quietly(digitlab.saveWeights().then((bytes) => downloadBytes(bytes, "digitlab-weights.npz"))));
  $("load-weights").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (file) quietly(digitlab.loadWeights(await file.arrayBuffer()));
  });
  $("inspect-index").addEventListener("change", () => {
    const text = $("inspect-index").value.trim();
    quietly(digitlab.inspect(text === "" ? null : Number(text)));
  });
  $("alert-dismiss").addEventListener("click", hideAlert);
  $("retry").addEventListener("click", () => {
    hideAlert();
    worker?.terminate();
    startWorker();
  });
  $("lang").addEventListener("change", () => onLanguageSwitch($("lang").value));
  pad = setupPad($("pad"), $("clear"), () => {
    $("pad-hint").hidden = pad.hasInk();
    if (state.phase === "ready") quietly(digitlab.predictPad());
  });
}

function main() {
  const shared = readSharedConfig();
  $("lang").value = chooseLanguage(shared?.lang);
  applyTranslations();
  builder = createBuilder($("builder"), schedulePlan);
  restoreSharedConfig(shared);
  wireControls();
  setControlsEnabled(false);
  const problem = browserProblem();
  if (problem) {
    state.phase = "error";
    const error = codedError("UNSUPPORTED", t("error.UNSUPPORTED", { feature: problem }));
    digitlab.ready = Promise.reject(error);
    digitlab.ready.catch(() => {});
    showAlert(error.message);
    return;
  }
  startWorker();
}

main();
