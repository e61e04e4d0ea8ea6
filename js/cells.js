// The code cells: one editor per step (data, model, train, evaluate, try) holding the Python
// that step runs, which the reader may edit and run in the worker. The cells' text comes from
// Python (the codelab package is the source of truth), asked for once after boot; the reader's
// edits are kept per step in localStorage, and a share link may carry edited cells, which open
// unrun under a notice. Code runs only on Run or Ctrl-Enter (./coderun.js does the running).
// What the worker writes shows as text only: textContent, never markup.
import { digitlab } from "./api.js";
import { cellHooks, runningStep } from "./coderun.js";
import { createEditor } from "./editor.js";
import { applyTranslations, plainText, showString, showText, t } from "./i18n.js";
import { on, state } from "./rpc.js";
import { packCells } from "./share.js";

const $ = (id) => document.getElementById(id);
const STORAGE_PREFIX = "digitlab.cell."; // a Pages origin is shared: prefix what we store

const cells = new Map(); // step -> {editor, output, status, original, run, stop}
let originals = null; // {step: code} from Python, once booted
let linkCells = null; // {step: code} a share link carried, until the editors show them
let linkRead = Promise.resolve(null); // reading (inflating) the link's cells
let packed = ""; // the edited cells, compressed for the share link ("" when none differ)
let packSequence = 0;
let onShareChange = () => {};

function stored(step) {
  try { return localStorage.getItem(STORAGE_PREFIX + step); } catch { return null; }
}

function store(step, code) {
  try {
    if (code === originals[step]) localStorage.removeItem(STORAGE_PREFIX + step);
    else localStorage.setItem(STORAGE_PREFIX + step, code);
  } catch {
    // Storage disabled or full: the edit still stands in the editor and the link.
  }
}

/** {step: code} of every cell as the editors hold it now (before boot: empty). */
export function cellCodes() {
  return Object.fromEntries([...cells].map(([step, cell]) => [step, cell.editor.getCode()]));
}

/** The share link's part for the cells: {cells: packed} when some differ from the original. */
export function cellsShare() {
  return packed ? { cells: packed } : {};
}

async function repack() {
  const sequence = ++packSequence;
  const edited = Object.fromEntries(Object.entries(cellCodes()).filter(([step, code]) => code !== originals[step]));
  const next = Object.keys(edited).length ? await packCells(edited) : "";
  if (sequence !== packSequence || next === packed) return; // a later edit overtook this one
  packed = next;
  onShareChange();
}

// ---------------------------------------------------------------- output

function appendOutput(step, stream, text) {
  const cell = cells.get(step);
  if (!cell) return;
  const span = document.createElement("span");
  if (stream === "stderr") span.className = "stderr";
  span.textContent = text; // the reader's output is data: never parsed as markup
  cell.output.append(span);
  cell.output.parentElement.hidden = false;
}

function showStatus(cell, key, params = {}) {
  cell.status.dataset.i18n = key;
  cell.status.dataset.i18nParams = JSON.stringify(params);
  showString(cell.status, key, params);
  cell.status.hidden = false;
}

function showResult(cell, result) {
  const error = result.error;
  if (!error) {
    showStatus(cell, "cell.done");
    cell.hint.hidden = true;
    return;
  }
  const params = { type: error.type, message: error.message, line: error.line };
  if (error.type === "KeyboardInterrupt") showStatus(cell, "cell.interrupted"); // Stop did it
  else showStatus(cell, error.line ? "cell.error" : "cell.errorNoLine", params);
  cell.hint.hidden = !error.hint;
  showText(cell.hint, error.hint ?? ""); // Python's sentence, its code segments as <code>
}

function run(step) {
  digitlab.runCode({ step, code: cells.get(step).editor.getCode() }).catch(() => {}); // shown by onEnded
}

function onStarted(step) {
  const cell = cells.get(step);
  $("code-notice").hidden = true; // code ran on purpose: the link's warning has done its job
  if (!cell) return;
  cell.output.replaceChildren();
  cell.output.parentElement.hidden = true;
  cell.hint.hidden = true;
  showStatus(cell, "cell.running");
}

function onEnded(step, result, error) {
  const cell = cells.get(step);
  if (!cell) return;
  if (result) {
    showResult(cell, result);
    if (result.restarted) showStatus(cell, "cell.restarted");
    return;
  }
  // A refusal (BUSY, not booted) in the page's words; the last output stays.
  cell.status.removeAttribute("data-i18n");
  showText(cell.status, error.message);
  cell.status.hidden = false;
}

function reset(step) {
  const cell = cells.get(step);
  cell.editor.setCode(originals[step]);
  store(step, originals[step]);
  cell.editor.focus();
}

// ---------------------------------------------------------------- the cells

function buildCell(box) {
  const step = box.dataset.step;
  const title = Object.assign(document.createElement("h3"), { id: `cell-title-${step}` });
  title.dataset.i18n = "cell.title";
  // The narrative that walks through the step's cell (the codelab package's words).
  const intro = Object.assign(document.createElement("p"), { className: "cell-intro explain" });
  intro.dataset.i18n = `cells.${step}.intro`;
  const keys = Object.assign(document.createElement("p"), { className: "cell-keys" });
  keys.dataset.i18n = "cell.keys";
  const host = Object.assign(document.createElement("div"), { className: "cell-editor" });
  host.dataset.testid = `code-${step}`;
  const loading = Object.assign(document.createElement("p"), { className: "cell-loading" });
  loading.dataset.i18n = "cell.loading";
  host.append(loading);
  const button = (key, testid, className = "") => {
    const element = Object.assign(document.createElement("button"), { type: "button", className });
    element.dataset.i18n = key;
    element.dataset.testid = testid;
    element.disabled = true;
    return element;
  };
  const runButton = button("cell.run", `run-${step}`);
  const resetButton = button("cell.reset", `reset-${step}`, "secondary");
  const stopButton = button("cell.stop", `stop-${step}`, "secondary");
  const buttons = Object.assign(document.createElement("div"), { className: "buttons" });
  buttons.append(runButton, resetButton, stopButton);
  const status = Object.assign(document.createElement("p"), { className: "cell-status", hidden: true });
  status.setAttribute("role", "status");
  const hint = Object.assign(document.createElement("p"), { className: "cell-hint", hidden: true });
  // Output as it streams: a <pre><code> (Python's own text), announced as a log.
  const pre = Object.assign(document.createElement("pre"), { className: "cell-output", hidden: true });
  pre.dataset.testid = `output-${step}`;
  pre.setAttribute("role", "log");
  pre.setAttribute("aria-live", "polite");
  pre.dataset.i18nAriaLabel = "cell.output";
  const output = document.createElement("code");
  pre.append(output);
  box.replaceChildren(title, intro, keys, host, buttons, status, hint, pre);
  applyTranslations(box);
  runButton.addEventListener("click", () => run(step));
  resetButton.addEventListener("click", () => reset(step));
  stopButton.addEventListener("click", () => digitlab.stopCode());
  cells.set(step, { step, host, title, output, status, hint, runButton, resetButton, stopButton, editor: null });
}

function editorLabel(step) {
  return plainText(t("cell.label", { title: t(`${step}.title`) }));
}

function fillEditors() {
  for (const [step, cell] of cells) {
    if (!(step in originals)) continue;
    const code = linkCells?.[step] ?? stored(step) ?? originals[step];
    cell.host.replaceChildren();
    cell.editor = createEditor(cell.host, {
      doc: code,
      label: editorLabel(step),
      description: plainText(t("cell.keys")),
      onRun: () => run(step),
      onChange: (text) => {
        store(step, text);
        repack();
      },
    });
    cell.runButton.disabled = false;
    cell.resetButton.disabled = false;
  }
  for (const [step, cell] of cells) if (!cell.editor) cells.delete(step); // Python has no such step
  linkCells = null;
  repack();
}

/** Stop is for the running cell; Run stays on (a second Run says BUSY). Called by the
 *  controls whenever the phase changes. */
export function renderCellButtons() {
  for (const cell of cells.values()) {
    cell.stopButton.disabled = !(state.phase === "running" && runningStep() === cell.step);
    if (cell.editor) cell.runButton.disabled = state.phase === "booting" || state.phase === "error";
  }
}

/** Build the cells (empty until Python answers). `sharedCells`: a promise of the link's
 *  {step: code} or null; `shareChanged` is called when the link's cells part changes. The
 *  link's code fills the editors and nothing runs it; a notice says it is there. */
export function setupCells({ sharedCells = Promise.resolve(null), shareChanged = () => {} } = {}) {
  onShareChange = shareChanged;
  linkRead = sharedCells.then((shared) => {
    linkCells = shared && Object.keys(shared).length ? shared : null;
    $("code-notice").hidden = linkCells === null;
  }, () => {});
  for (const box of document.querySelectorAll(".cell[data-step]")) buildCell(box);
  on.cellOutput = (message) => appendOutput(message.step, message.stream, message.text);
  Object.assign(cellHooks, { started: onStarted, ended: onEnded });
  document.addEventListener("digitlab:language", () => {
    for (const [step, cell] of cells) {
      cell.editor?.setLabel(editorLabel(step));
      cell.editor?.setDescription(plainText(t("cell.keys")));
    }
  });
}

/** After boot: fetch the steps' original code from Python, once, and fill the editors. */
export async function loadCells(fetchOriginals) {
  renderCellButtons();
  if (originals) return;
  originals = await fetchOriginals();
  await linkRead;
  fillEditors();
}
