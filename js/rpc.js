// The worker and the messages to and from it: start and restart, boot progress, calls into
// Python with ids and their settling. The page's phase lives here because it decides which
// calls are refused (BUSY while training, RUNTIME before boot), at once, before the worker
// hears of them. Everything else about the lab (the model in use and where it came from, the
// run and whether it stopped) is Python's: its controller posts a "state" message whenever it
// changes, kept here in `lab.state`. What the page does with a message beyond that (the
// banner, the controls) is left to the hooks in `on`, which ./controls.js fills in: this
// module imports none of the page's own modules.
import { memoryBudget } from "./budget.js";
import { newWorker, takeEarlyWorker } from "./early.js";
import { formatNumber, messageFor, t } from "./i18n.js";
import { SCHEMA } from "./schema.js";

const $ = (id) => document.getElementById(id);


/**
 * What digitlab.state() reports: the phase and training position, and from Python's state,
 * model {name, params, source, trained} and run {epoch, epochs, completed, batch, batches,
 * stopped, finished} (each null until there is one).
 */
export const state = { phase: "booting", epoch: 0, batch: 0, model: null, run: null, workers: null };

/** Python's last state message whole (with the model's summary and the run's figures). */
export const lab = { state: null };

/** The language Python draws in; a switch during boot waits for it to catch up (onReady). */
export const python = { lang: null };

/**
 * What the page does on worker news; ./controls.js replaces these no-ops:
 * alert(message, {retry}) shows the banner, ready(value) gets the boot's {summary, restored},
 * progress(message) each training progress message, state(labState) each state message,
 * phase() a call that changed the phase (training, evaluating) and set it back.
 */
export const on = { alert: () => {}, ready: () => {}, progress: () => {}, state: () => {}, phase: () => {},
  cellOutput: () => {} };

/** Pyodide's interrupt buffer, shared with the worker: writing 2 stops a running code cell
 *  with KeyboardInterrupt. Only a cross-origin isolated page has SharedArrayBuffer. */
export const interruptBuffer = globalThis.crossOriginIsolated ? new Int32Array(new SharedArrayBuffer(4)) : null;

/** BUSY, saying what keeps the lab busy (a model training, a code cell running). */
export function busyError() {
  const reason = state.phase === "running" ? "running" : "training";
  return codedError("BUSY", t("error.BUSY", { detail: t(`error.BUSY.${reason}`) }), { reason });
}

/** The phase a call puts the page in (and back), told to the page so its controls follow. */
export function setPhase(phase) {
  state.phase = phase;
  on.phase();
}

let worker = null;
let nextCallId = 1;
const pendingCalls = new Map();
let readyResolvers = null;

// The data an error carries besides its words, so a caller can act on it (and a page word it).
const ERROR_DATA = ["reason", "field", "layer", "limits", "value", "cause", "stage"];

/** An Error with a stable `code`, plus the fields of `data` that describe it. */
export function codedError(code, message, data = {}) {
  const error = new Error(message);
  error.code = code;
  for (const key of ERROR_DATA) if (data[key] !== undefined && data[key] !== null) error[key] = data[key];
  return error;
}

// ---------------------------------------------------------------- boot

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

/**
 * Start a worker (ending the previous one, for Retry) and return the promise that settles
 * when Python has booted: true, or the boot error with its code and stage.
 */
export function startWorker() {
  worker?.terminate();
  // The old worker's calls never get an answer: settle them (quietly: Stop said why).
  for (const pending of pendingCalls.values()) pending.reject(codedError("RESTARTED", t("cell.restarted")));
  pendingCalls.clear();
  resetBootProgress();
  setPhase("booting");
  for (const key of Object.keys(bootBytes)) delete bootBytes[key];
  boot.timings = null;
  const readyPromise = new Promise((resolve, reject) => { readyResolvers = { resolve, reject }; });
  readyPromise.catch(() => {}); // callers get the rejection through digitlab.ready

  worker = takeEarlyWorker() ?? newWorker();
  worker.onmessage = (event) => onWorkerMessage(event.data);
  worker.onerror = (event) => failBoot({ stage: "runtime", code: "RUNTIME", message: event.message || "worker failed to start" });
  const canvases = {};
  for (const id of SCHEMA.canvases) { // Python draws on these: their control goes to it
    const canvas = freshCanvas(id);
    canvases[id] = canvas.transferControlToOffscreen();
    canvas.dataset.transferred = "1";
  }
  worker.postMessage({ type: "init", canvases, settings: uiSettings(), interruptBuffer }, Object.values(canvases));
  return readyPromise;
}

function uiSettings() {
  python.lang = document.documentElement.lang;
  return {
    lang: python.lang,
    dark: matchMedia("(prefers-color-scheme: dark)").matches,
    memoryBudget: memoryBudget().bytes, // Python refuses models that would not fit
    // ?simd=relaxed: the faster relaxed-SIMD kernel (results depend on the hardware);
    // ?simd=off: NumPy's own matmul. The default, plain SIMD, is reproducible.
    simd: new URLSearchParams(location.search).get("simd") || "plain",
    cores: navigator.hardwareConcurrency || null, // `workers: 'auto'` uses up to 4 of them
  };
}

function failBoot(reply) {
  setPhase("error");
  document.querySelector(`.boot-stages li[data-stage="${reply.stage}"]`)?.classList.add("failed");
  const error = codedError(reply.code, messageFor(reply), reply);
  on.alert(error.message, { retry: true });
  readyResolvers?.reject(error);
  readyResolvers = null;
}

/**
 * Where this boot's time went: stage -> [start, end] in ms since the page's navigation start
 * (performance.now()'s clock), `ready` a single time; stages deferred past ready (`after`)
 * arrive later. Null until the worker is ready.
 */
export const boot = { timings: null };

function onPageClock(timings) {
  const toPage = (epochMs) => epochMs - performance.timeOrigin;
  return Object.fromEntries(Object.entries(timings).map(([stage, at]) => (
    [stage, Array.isArray(at) ? at.map(toPage) : toPage(at)])));
}

function addBootTimings(timings) {
  boot.timings = { ...boot.timings, ...onPageClock(timings) };
}

function onReady(value) {
  boot.timings = null;
  addBootTimings(value.bootTimings || {});
  delete value.bootTimings;
  state.phase = "ready";
  $("boot").hidden = true;
  on.ready(value);
  readyResolvers?.resolve(true);
  readyResolvers = null;
}

function onWorkerMessage(message) {
  switch (message.type) {
    case "boot": return showBootProgress(message);
    case "ready": return onReady(message.value);
    case "boot-error": return failBoot(message);
    case "boot-timings": return addBootTimings(message.timings);
    case "progress": return onProgress(message);
    case "state": return onState(message.state);
    case "result": return settleCall(message);
    case "alt": return setAltText(message);
    case "cell-output": return on.cellOutput(message);
    default: return undefined;
  }
}

function onProgress(message) {
  state.epoch = message.epoch;
  state.batch = message.batch;
  on.progress(message);
}

function pick(object, keys) {
  return object ? Object.fromEntries(keys.map((key) => [key, object[key]])) : null;
}

function onState(next) {
  lab.state = next;
  state.model = pick(next.model, ["name", "params", "source", "trained"]);
  state.run = pick(next.run, ["epoch", "epochs", "completed", "batch", "batches", "stopped", "finished"]);
  state.workers = next.workers ?? null;
  on.state(next);
}

// Screen-reader text for a canvas Python drew.
function setAltText(message) {
  const element = $(message.id);
  if (element) element.textContent = message.text;
}

// ---------------------------------------------------------------- calls into Python

// A language or colour-scheme switch only paints, so it may reach Python while a model trains.
const CALLS_WHILE_TRAINING = new Set(["setLanguage", "setTheme"]);

/** Call `App.call_<method>` in the worker; rejects at once while training or not booted. */
export function callWorker(method, args, bytes) {
  if ((state.phase === "training" || state.phase === "running") && !CALLS_WHILE_TRAINING.has(method)) {
    return Promise.reject(busyError());
  }
  if (state.phase === "booting" || state.phase === "error" || !worker) {
    return Promise.reject(codedError("RUNTIME", t("error.RUNTIME.not_ready"), { reason: "not_ready" }));
  }
  const id = nextCallId++;
  return new Promise((resolve, reject) => {
    pendingCalls.set(id, { resolve, reject });
    const transfer = bytes ? [bytes.buffer] : [];
    worker.postMessage({ type: "call", id, method, args, bytes }, transfer);
  });
}

/** Ask the training loop to end after its current batch (a message, not a call: it is busy). */
export function sendStop() {
  worker.postMessage({ type: "stop" });
}

/** End training worker `n` (2.. : worker 1 is the one Python answers in) as a crash would. */
export function sendKillWorker(n) {
  worker.postMessage({ type: "kill-worker", worker: n });
}

function settleCall(reply) {
  const pending = pendingCalls.get(reply.id);
  if (!pending) return;
  pendingCalls.delete(reply.id);
  if (reply.ok) pending.resolve(reply.bytes ?? reply.value);
  else {
    const error = codedError(reply.code, messageFor(reply), reply);
    on.alert(error.message);
    pending.reject(error);
  }
}
