// The page's controls: the buttons and the training form, the model summary table, the model
// choice and the builder, the language switch, the share link and the alert banner. They act
// through window.digitlab (./api.js), like a script would; worker news arrives through the
// hooks of ./rpc.js, which this module fills in.
import { digitlab, page, start } from "./api.js";
import { createBuilder } from "./builder.js";
import { applyTranslations, chooseLanguage, formatNumber, language, setLanguage, showString, showText, t } from "./i18n.js";
import { setupPad } from "./pad.js";
import { callWorker, on, python, state } from "./rpc.js";
import { readSharedConfig, shareUrl } from "./share.js";
import { loadSources, renderSources } from "./source.js";
import { SCHEMA } from "./schema.js";

const $ = (id) => document.getElementById(id);

let pad = null;
let builder = null;
const shown = { summary: null, progress: null, accuracy: null }; // re-rendered on a language switch

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

function onReady(value) {
  setControlsEnabled(true);
  renderSummary(value.restored || value.summary);
  if (value.restored) $("continue-button").disabled = false;
  // A shared link or a restored form may have picked another model than the boot summary's.
  if ($("model-select").value !== "tutorial") quietly(onModelChoice("tutorial"));
  if (python.lang !== language()) tellPythonTheLanguage(); // switched while booting
  quietly(loadSources((step) => callWorker("source", { step })));
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
  $("progress").value = message.fraction;
  shown.progress = message;
  renderProgressText();
  if (message.alt) {
    $("chart-batch-alt").textContent = message.alt.batch;
    $("chart-epoch-alt").textContent = message.alt.epoch;
  }
}

function onTrainingEnded() {
  setTrainingControls(false);
  $("continue-button").disabled = false;
  if (python.lang !== language()) tellPythonTheLanguage(); // switched while training
  if ($("model-select").value === "custom") refreshModel(); // edits made while training
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
    for (const [value, isCode] of [[`${layer.name} (${layer.type})`, true], [shape, true],
      [layer.params.toLocaleString(locale), false]]) {
      const cell = document.createElement("td");
      // Layer names, types and shapes are the code's own (conv2d_1, Conv2D, null): code.
      cell.append(isCode ? Object.assign(document.createElement("code"), { textContent: value }) : value);
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

// Python words the canvases and their alt texts: it switches too, and draws every canvas that
// shows something again, in any phase (while training or evaluating the call waits for the
// worker's next pause). Only a Python that has not booted yet is left out: onReady catches up.
function tellPythonTheLanguage() {
  if (state.phase === "booting" || state.phase === "error") return;
  const lang = language();
  quietly(callWorker("setLanguage", { lang }).then(() => {
    python.lang = lang;
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
  if (shown.accuracy === null) return;
  $("test-accuracy").textContent = t("evaluate.accuracy", {
    accuracy: formatNumber(100 * shown.accuracy, { minimumFractionDigits: 2, maximumFractionDigits: 2 }),
  });
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
    event.target.value = ""; // the same file may be chosen again
    if (!file) return;
    showLoadState("files.loading", file.name);
    try {
      await digitlab.loadWeights(await file.arrayBuffer());
      showLoadState("files.loaded", file.name);
    } catch {
      showLoadState("files.refused", file.name); // the banner says why
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
    $("pad-hint").hidden = pad.hasInk();
    if (state.phase === "ready") quietly(digitlab.predictPad());
  });
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
}

/** Set the page up from its link (language, form, model), wire every control, disable the
 *  ones that need Python until it has booted. */
export function setupControls() {
  Object.assign(on, { alert: showAlert, ready: onReady, progress: showTrainingProgress });
  Object.assign(page, {
    padSnapshot: () => pad.snapshot(),
    shareConfig,
    weightsLoaded: (summary) => {
      renderSummary(summary);
      $("continue-button").disabled = false;
    },
    trainingStarted: () => setTrainingControls(true),
    trainingEnded: onTrainingEnded,
  });
  const shared = readSharedConfig();
  $("lang").value = chooseLanguage(shared?.lang);
  applyTranslations();
  builder = createBuilder($("builder"), schedulePlan);
  applyTrainingSchema();
  restoreSharedConfig(shared);
  wireControls();
  setControlsEnabled(false);
}
