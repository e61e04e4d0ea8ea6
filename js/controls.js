// The page's controls: the buttons and the training form, the model summary table, the model
// choice and the builder, the language switch, the share link and the alert banner. They act
// through window.digitlab (./api.js), like a script would; worker news arrives through the
// hooks of ./rpc.js, which this module fills in. What they show about the lab (which model is
// in use, the run, the results) is rendered from Python's state message (`lab.state`), never
// remembered here, so the page cannot tell one story while the worker holds another.
import { digitlab, page, start } from "./api.js";
import { createBuilder } from "./builder.js";
import { cellCodes, cellsShare, loadCells, renderCellButtons, setupCells } from "./cells.js";
import { applyTranslations, chooseLanguage, formatNumber, language, setLanguage, showString, showText, t } from "./i18n.js";
import { setupPad } from "./pad.js";
import { callWorker, lab, on, python, state } from "./rpc.js";
import { readSharedCells, readSharedConfig, shareUrl } from "./share.js";
import { loadSources, renderSources } from "./source.js";
import { SCHEMA } from "./schema.js";

const $ = (id) => document.getElementById(id);

let pad = null;
let builder = null;
// Re-rendered on a language switch: the last progress message, and the model the select or
// builder shows: {summary (null when it cannot be built), active (it is the model in use)}.
const shown = { progress: null, selection: null };
let linkModel = null; // the model a share link set up, until the reader chose (or none)
let linkChoice = null; // the saved model the reader is asked about, while the choice shows

function quietly(promise) {
  promise.catch(() => {}); // the banner already shows the error
}

// ---------------------------------------------------------------- the alert banner

function showAlert(message, { retry = false } = {}) {
  showText($("alert-text"), message); // text and <code>, never markup: messages may quote user files
  $("retry").hidden = !retry;
  document.querySelector('[data-testid="alert"]').hidden = false;
}

function hideAlert() {
  document.querySelector('[data-testid="alert"]').hidden = true;
}

// ---------------------------------------------------------------- boot done

async function onReady() {
  renderState();
  if (python.lang !== language()) tellPythonTheLanguage(); // switched while booting
  quietly(loadSources((step) => callWorker("source", { step })));
  quietly(loadCells(() => callWorker("cellOriginals")));
  const saved = lab.state?.model?.source === "stored" ? lab.state.model : null;
  if (saved && linkModel === null) showModelInSelect(saved); // the select shows what is in use
  await refreshModel();
  // A link's model replaces the saved one only if the reader says so.
  if (saved && linkModel !== null && shown.selection && !shown.selection.active) showLinkChoice(saved);
}

// ---------------------------------------------------------------- the state

// How the model in use came to be, by its `source` in the state.
const SOURCE_TEXT = { trained: "model.source.trained", file: "model.source.file", stored: "model.source.stored",
  link: "model.source.link", builder: "model.source.builder", code: "model.source.code" };

function modelLabel(name) {
  return name === "custom" ? t("model.name.custom") : t(`model.${name}`);
}

function renderState() {
  const ready = state.phase === "ready";
  const model = lab.state?.model ?? null;
  $("train-button").disabled = !ready;
  $("stop-button").disabled = state.phase !== "training";
  for (const id of ["continue-button", "evaluate-button", "save-weights", "export-tfjs"]) $(id).disabled = !ready || !model;
  renderModelPanel();
  renderProgressText();
  renderTrainResult();
  renderAccuracy();
  renderPadHint();
  renderWeightsStatus();
  renderConfusionTable();
  renderCellButtons();
  renderWorkersStatus();
}

function onState() {
  renderState();
  announceEpoch();
  const model = lab.state?.model;
  const identity = model ? `${model.source}:${JSON.stringify(model.spec)}` : "";
  if (identity !== shown.modelIdentity) {
    shown.modelIdentity = identity;
    if (model?.source === "code") showCodeModelInSelect();
    quietly(refreshModel()); // is the selection still (or now) the model in use?
  }
}

// The select and builder show the model `model` (the saved one at boot, or after Keep).
function showModelInSelect(model) {
  if (model.name === "custom") {
    $("model-select").value = "custom";
    builder.setSpec(model.spec);
  } else {
    $("model-select").value = model.name;
  }
  $("builder").hidden = $("model-select").value !== "custom";
}

// The model cell ran: its get_model() is the model in use, and the select says so ("code").
function showCodeModelInSelect() {
  $("model-code").hidden = false;
  $("model-select").value = "code";
  $("builder").hidden = true;
}

function renderLinkChoice() {
  const box = $("link-choice");
  box.hidden = linkChoice === null;
  if (linkChoice === null) return;
  const choice = $("model-select").value;
  $("link-choice-text").textContent = t("link.prompt", {
    name: modelLabel(choice), saved: modelLabel(linkChoice.name), params: formatNumber(linkChoice.params),
  });
}

function showLinkChoice(saved) {
  linkChoice = saved;
  renderLinkChoice();
  $("link-use").focus();
}

function closeLinkChoice() {
  linkChoice = null;
  linkModel = null;
  renderLinkChoice();
}

function useLinkModel() {
  const choice = $("model-select").value;
  closeLinkChoice();
  quietly(callWorker("useModel", { model: choice === "custom" ? builder.spec() : choice, source: "link" }));
}

function keepSavedModel() {
  const saved = linkChoice;
  closeLinkChoice();
  if (saved) showModelInSelect(saved);
  quietly(refreshModel());
  updateUrl();
}

// ---------------------------------------------------------------- training

function renderProgressText() {
  const message = shown.progress;
  const run = lab.state?.run ?? null;
  if (state.phase === "training" && message) {
    $("progress-text").textContent = t("train.progress", {
      epoch: formatNumber(message.epoch), epochs: formatNumber(message.epochs),
      batch: formatNumber(message.batch), batches: formatNumber(message.batches),
      speed: formatNumber(Math.round(message.imagesPerSecond)), eta: formatNumber(Math.ceil(message.eta)),
    });
    return;
  }
  if (state.phase === "training") return; // the first progress message is on its way
  $("progress").value = run && run.epochs && run.batches
    ? Math.min(1, (run.completed * run.batches + run.batch) / (run.epochs * run.batches)) : 0;
  const numbers = run && { epoch: formatNumber(run.epoch), epochs: formatNumber(run.epochs) };
  $("progress-text").textContent = !run ? "" : run.finished ? t("train.finished", numbers) : t("train.stopped", numbers);
}

function percent(value) {
  return formatNumber(100 * value, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
}

// The last completed epoch's figures, as text: what the charts end on.
function renderTrainResult() {
  const run = lab.state?.run;
  const element = $("train-result");
  if (!run || !run.completed || run.acc === null) {
    element.textContent = "";
    return;
  }
  const params = { epoch: formatNumber(run.completed), acc: percent(run.acc) };
  element.textContent = run.valAcc === null
    ? t("train.result.noValidation", params) : t("train.result", { ...params, val: percent(run.valAcc) });
}

function showTrainingProgress(message) {
  $("progress").value = message.fraction;
  shown.progress = message;
  renderProgressText();
  if (message.alt) {
    $("chart-batch-alt").textContent = message.alt.batch;
    $("chart-epoch-alt").textContent = message.alt.epoch;
  }
}

function onTrainingStarted() {
  shown.progress = null;
  announced.epoch = lab.state?.run?.completed ?? 0; // a continued run announces its new epochs
  if (linkChoice !== null) closeLinkChoice(); // training answers it: the trained model is in use
  renderState();
}

function onTrainingEnded() {
  renderState();
  announceRunEnd();
  if (python.lang !== language()) tellPythonTheLanguage(); // switched while training
  // The model in use may have changed while training (a first model, edits in the builder),
  // and refreshModel waits for "ready": ask again whether the selection is the model in use.
  quietly(refreshModel());
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
    workers: $("workers").value === "auto" ? "auto" : Number($("workers").value),
  };
}

function setControlsEnabled(enabled) {
  for (const id of ["train-button", "continue-button", "evaluate-button", "save-weights", "export-tfjs"]) $(id).disabled = !enabled;
}

// What the training workers are doing, from state().workers (absent until the page has
// replicas): the workers of the run while training, else how many are ready, starting, lost.
// Written only when the words change: the <output> is a polite live region.
function renderWorkersStatus() {
  const workers = state.workers ?? lab.state?.workers ?? null;
  const parts = [];
  const count = (key, n) => { if (n > 0) parts.push(t(key, { count: formatNumber(n) })); };
  if (workers && state.phase === "training" && workers.active) {
    parts.push(workers.active === 1 ? t("train.workers.training.one")
      : t("train.workers.training", { count: formatNumber(workers.active) }));
  } else if (workers && !workers.parallel) {
    parts.push(t("train.workers.single"));
  } else if (workers) {
    count("train.workers.ready", workers.ready);
    count("train.workers.booting", workers.booting);
  }
  if (workers) count("train.workers.lost", workers.lost);
  const text = parts.join(t("train.workers.separator"));
  if ($("workers-status").textContent !== text) $("workers-status").textContent = text;
}

// ---------------------------------------------------------------- model summary

function renderSummaryTable(summary) {
  const locale = language();
  const body = $("model-summary").querySelector("tbody");
  body.replaceChildren(...(summary ? summary.layers : []).map((layer) => {
    const row = document.createElement("tr");
    const shape = `[${layer.output_shape.map((d) => (d === null ? "null" : d)).join(", ")}]`;
    for (const [value, isCode] of [[`${layer.name} (${layer.type})`, true], [shape, true],
      [layer.params.toLocaleString(locale), false]]) {
      const cell = document.createElement("td");
      // Layer names, types and shapes are the code's own (conv2d_1, Conv2D, null): code.
      cell.append(isCode ? Object.assign(document.createElement("code"), { textContent: value }) : value);
      row.append(cell);
    }
    return row;
  }));
  $("summary-total").textContent = summary ? summary.total_params.toLocaleString(locale) : "–";
}

// The table shows the model in use (Evaluate, Continue, Save and the pad use it); without
// one, the selected model, not trained yet. A selection that differs from the model in use
// is said to be untrained.
function renderModelPanel() {
  const model = lab.state?.model ?? null;
  const selection = shown.selection;
  const invalid = selection !== null && selection.summary === null;
  $("summary-invalid").hidden = !invalid;
  if (model) {
    renderSummaryTable(model.summary);
    $("model-status").textContent = t("model.status.inUse", {
      name: modelLabel(model.name), params: formatNumber(model.params), source: t(SOURCE_TEXT[model.source]),
    });
  } else {
    renderSummaryTable(selection?.summary ?? null);
    $("model-status").textContent = t("model.status.none");
  }
  $("model-other").hidden = !model || !selection || invalid || selection.active;
}

// ---------------------------------------------------------------- model choice and builder

let planSequence = 0;
let planTimer = null;

// The summary of the chosen model (for "custom", Python's plan of the builder's layers), and
// whether it is the model in use. Resolves when shown (or when the phase defers it).
function refreshModel() {
  const choice = $("model-select").value;
  $("builder").hidden = choice !== "custom";
  if (state.phase !== "ready") return Promise.resolve(); // onReady and the end of training call again
  const sequence = ++planSequence; // answers can overtake each other; show only the latest
  const request = choice !== "custom"
    ? digitlab.summary(choice).then((summary) => ({ summary, active: summary.active }))
    : digitlab.plan({ model: builder.spec(), batchSize: Number($("batch-size").value) || undefined })
      .then((plan) => {
        if (sequence === planSequence) builder.showPlan(plan);
        return { summary: plan.ok ? plan.summary : null, active: plan.active };
      });
  return request.then((selection) => {
    if (sequence !== planSequence) return;
    shown.selection = selection;
    renderModelPanel();
    if (linkChoice !== null) renderLinkChoice();
  }, () => {}); // the banner already shows the error
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

// Python words the canvases and their alt texts: it switches too, and draws every canvas that
// shows something again, in any phase (while training or evaluating the call waits for the
// worker's next pause). Only a Python that has not booted yet is left out: onReady catches up.
function tellPythonTheLanguage() {
  if (state.phase === "booting" || state.phase === "error") return;
  const lang = language();
  quietly(callWorker("setLanguage", { lang }).then(() => {
    python.lang = lang;
    if ($("model-select").value === "custom") quietly(refreshModel()); // problems are worded in Python
  }));
}

function onLanguageSwitch(lang) {
  setLanguage(lang);
  renderState();
  renderLinkChoice();
  renderSources();
  builder.render();
  tellPythonTheLanguage();
  updateUrl();
}

function shareConfig() {
  // The worker count is this machine's choice, not part of the set-up a link shares.
  const config = readConfigFromControls();
  delete config.workers;
  return { lang: language(), ...config, ...cellsShare() };
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
  for (const [key, id] of Object.entries(FORM_FIELDS)) if (key in config) $(id).value = String(config[key]);
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
  const evaluation = lab.state?.evaluation;
  $("test-accuracy").textContent = !evaluation ? "" : t("evaluate.accuracy", {
    accuracy: formatNumber(100 * evaluation.accuracy, { minimumFractionDigits: 2, maximumFractionDigits: 2 }),
  });
}

function renderPadHint() {
  const hint = $("pad-hint");
  const model = lab.state?.model;
  hint.dataset.i18n = model ? "try.hint" : "try.noModel"; // kept by a language switch
  hint.textContent = t(hint.dataset.i18n);
  hint.hidden = Boolean(model) && pad !== null && pad.hasInk();
}

// A loaded (or restored) model named, with its size: the file did what the reader meant.
function renderWeightsStatus() {
  const model = lab.state?.model;
  const element = $("weights-status");
  const key = { file: "files.loadedModel", stored: "files.restored" }[model?.source];
  element.hidden = !key;
  element.textContent = key ? t(key, { name: modelLabel(model.name), params: formatNumber(model.params) }) : "";
}

// ---------------------------------------------------------------- wiring

// The Load control's status line, in the page's language: its key and the file's name stay on
// the element (data-i18n, data-i18n-params), so a language switch words it again.
function showLoadState(key, name) {
  const status = $("load-weights-status");
  status.dataset.i18n = key;
  status.dataset.i18nParams = JSON.stringify({ name });
  showString(status, key, { name });
}

function downloadBytes(bytes, name) {
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/zip" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function wireControls() {
  $("train-button").addEventListener("click", () => quietly(digitlab.train(readConfigFromControls())));
  $("continue-button").addEventListener("click", () => quietly(digitlab.train({ ...readConfigFromControls(), continue: true })));
  $("stop-button").addEventListener("click", () => quietly(digitlab.stop()));
  $("evaluate-button").addEventListener("click", () => quietly(digitlab.evaluate()));
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
  $("export-tfjs").addEventListener("click", () => quietly(digitlab.exportTfjs().then((bytes) => downloadBytes(bytes, "digitlab-tfjs-model.zip"))));
  $("load-weights").addEventListener("change", async (event) => {
    // One weights file or zip, or a TF.js model.json chosen together with its .bin files.
    const files = Array.from(event.target.files);
    event.target.value = ""; // the same file may be chosen again
    if (!files.length) return;
    const name = files.map((file) => file.name).join(", ");
    showLoadState("files.loading", name);
    try {
      if (files.length === 1 && !/\.(json|bin)$/i.test(files[0].name)) await digitlab.loadWeights(await files[0].arrayBuffer());
      else await digitlab.loadModelFiles(files);
      showLoadState("files.loaded", name);
    } catch {
      showLoadState("files.refused", name); // the banner says why
    }
  });
  $("inspect-index").addEventListener("change", () => {
    const text = $("inspect-index").value.trim();
    quietly(digitlab.inspect(text === "" ? null : Number(text)));
  });
  $("alert-dismiss").addEventListener("click", hideAlert);
  $("retry").addEventListener("click", () => {
    hideAlert();
    start();
  });
  $("lang").addEventListener("change", () => onLanguageSwitch($("lang").value));
  pad = setupPad($("pad"), $("clear"), () => {
    renderPadHint();
    if (state.phase === "ready") quietly(digitlab.predictPad());
  });
  $("link-use").addEventListener("click", useLinkModel);
  $("link-keep").addEventListener("click", keepSavedModel);
  $("link-choice").addEventListener("keydown", (event) => {
    if (event.key === "Escape") keepSavedModel(); // leaving the question keeps what is there
  });
  wireAccessibleInputs();
}

// The training form's inputs, by config field: their limits and starting values are the schema's.
const FORM_FIELDS = { trainSize: "train-size", validationSize: "validation-size", epochs: "epochs",
  batchSize: "batch-size", learningRate: "learning-rate" };

function applyTrainingSchema() {
  for (const [name, id] of Object.entries(FORM_FIELDS)) {
    const field = SCHEMA.training.fields[name];
    const input = $(id);
    if ("min" in field) input.min = String(field.min);
    else if ("exclusiveMin" in field) input.min = String(field.exclusiveMin);
    if ("max" in field) input.max = String(field.max);
    input.value = String(field.default);
  }
  $("optimizer").value = SCHEMA.training.defaults.optimizer;
  // Auto, then 1..N: N is the cores this machine reports, at most the schema's limit, and at
  // least 2 so the choice exists everywhere (a browser that cannot run several trains on 1).
  const workers = SCHEMA.training.fields.workers;
  const most = Math.min(workers.max, Math.max(navigator.hardwareConcurrency || 1, 2));
  for (let n = workers.min; n <= most; n++) $("workers").append(new Option(String(n), String(n)));
  $("workers").value = String(workers.default);
}

/** Set the page up from its link (language, form, model), wire every control, disable the
 *  ones that need Python until it has booted. */
export function setupControls() {
  Object.assign(on, { alert: showAlert, ready: (value) => quietly(onReady(value)), progress: showTrainingProgress, state: onState,
    phase: renderState });
  Object.assign(page, {
    padSnapshot: () => pad.snapshot(),
    showOnPad: (alpha, width, height) => pad.showImage(alpha, width, height),
    shareConfig,
    cellCodes,
    weightsLoaded: () => {}, // the state message that came before the reply has shown it
    trainingStarted: onTrainingStarted,
    trainingEnded: onTrainingEnded,
  });
  const shared = readSharedConfig();
  linkModel = shared?.model ?? null;
  $("lang").value = chooseLanguage(shared?.lang);
  applyTranslations();
  builder = createBuilder($("builder"), schedulePlan);
  applyTrainingSchema();
  restoreSharedConfig(shared);
  wireControls();
  setupCells({ sharedCells: readSharedCells(), shareChanged: updateUrl });
  setControlsEnabled(false);
  renderPadHint();
}

// ---------------------------------------------------------------- everyone can use it

// The polite live region: the end of each epoch and of the run, from the state (never each
// batch: the progress text changes with every batch and is not live).
const announced = { epoch: 0 };

// The key and parameters stay on the element (data-i18n), so a language switch words the
// last announcement again instead of leaving it in the other language.
function announce(key, params) {
  const element = $("announcer");
  element.dataset.i18n = key;
  element.dataset.i18nParams = JSON.stringify(params);
  showString(element, key, params);
}

function announceEpoch() {
  const run = lab.state?.run;
  if (state.phase !== "training" || !run || run.completed <= announced.epoch || run.acc === null) return;
  announced.epoch = run.completed;
  const params = { epoch: formatNumber(run.completed), epochs: formatNumber(run.epochs),
    loss: formatNumber(run.loss, { maximumFractionDigits: 3 }), acc: percent(run.acc) };
  if (run.valAcc === null) announce("announce.epochNoValidation", params);
  else announce("announce.epoch", { ...params, val: percent(run.valAcc) });
}

function announceRunEnd() {
  const run = lab.state?.run;
  if (!run) return;
  if (run.finished) {
    announce("announce.finished", { epochs: formatNumber(run.epochs), acc: run.acc === null ? "–" : percent(run.acc) });
  } else {
    announce("announce.stopped", { epoch: formatNumber(run.epoch), epochs: formatNumber(run.epochs) });
  }
}

// The confusion matrix as a real table, on demand (the canvas's alt text has it as a list):
// built with DOM methods from the state's numbers, in the page's language.
function renderConfusionTable() {
  const evaluation = lab.state?.evaluation;
  const toggle = $("confusion-table-toggle");
  const box = $("confusion-table");
  toggle.hidden = !evaluation?.confusion;
  const open = Boolean(evaluation?.confusion) && toggle.getAttribute("aria-expanded") === "true";
  toggle.dataset.i18n = open ? "evaluate.tableHide" : "evaluate.tableShow";
  toggle.textContent = t(toggle.dataset.i18n);
  box.hidden = !open;
  if (!open) {
    box.replaceChildren();
    return;
  }
  const cell = (tag, text, scope) => {
    const element = document.createElement(tag);
    element.textContent = text;
    if (scope) element.scope = scope;
    return element;
  };
  const table = document.createElement("table");
  table.append(cell("caption", t("evaluate.tableCaption")));
  const head = document.createElement("tr");
  head.append(cell("th", t("evaluate.tableCorner"), "col"));
  for (let digit = 0; digit < 10; digit++) head.append(cell("th", String(digit), "col"));
  head.append(cell("th", t("evaluate.tableCorrect"), "col"));
  const thead = document.createElement("thead");
  thead.append(head);
  const tbody = document.createElement("tbody");
  evaluation.confusion.forEach((row, digit) => {
    const line = document.createElement("tr");
    line.append(cell("th", String(digit), "row"));
    row.forEach((count, predicted) => {
      const td = cell("td", formatNumber(count));
      if (predicted === digit) td.className = "diagonal";
      line.append(td);
    });
    line.append(cell("td", `${percent(evaluation.perClass[digit])}%`));
    tbody.append(line);
  });
  table.append(thead, tbody);
  box.replaceChildren(table);
}

// What the upload and the test-digit inputs say, in the page's language (kept across a
// switch by data-i18n and data-i18n-params, like the Load control's status).
function showPadInputState(key, params) {
  const status = $("upload-status");
  status.dataset.i18n = key;
  status.dataset.i18nParams = JSON.stringify(params);
  showString(status, key, params);
}

async function pickTestDigit() {
  const index = Number($("pick-index").value);
  try {
    const { label } = await digitlab.pickTestDigit(index);
    showPadInputState("try.picked", { index: formatNumber(index), label: String(label) });
  } catch {
    // the banner says why (an index out of range, no model yet)
  }
}

// The charts follow the system's colour scheme, also when it changes while the page is open.
function followColourScheme() {
  const query = matchMedia("(prefers-color-scheme: dark)");
  query.addEventListener("change", () => {
    if (state.phase === "booting" || state.phase === "error") return; // the boot reads it
    quietly(digitlab.setTheme(query.matches));
  });
}

function wireAccessibleInputs() {
  $("upload-digit").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = ""; // the same file may be chosen again
    if (!file) return;
    showPadInputState("try.uploading", { name: file.name });
    try {
      await digitlab.uploadDigit(await file.arrayBuffer());
      showPadInputState("try.uploaded", { name: file.name });
    } catch {
      showPadInputState("try.uploadRefused", { name: file.name }); // the banner says why
    }
  });
  $("pick-digit").addEventListener("click", () => quietly(pickTestDigit()));
  $("pick-index").addEventListener("keydown", (event) => {
    if (event.key === "Enter") quietly(pickTestDigit());
  });
  $("confusion-table-toggle").addEventListener("click", () => {
    const toggle = $("confusion-table-toggle");
    toggle.setAttribute("aria-expanded", String(toggle.getAttribute("aria-expanded") !== "true"));
    renderConfusionTable();
  });
  followColourScheme();
}
