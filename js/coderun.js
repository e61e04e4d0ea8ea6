// Running a code cell, and stopping one. The reader's code is synchronous Python in the worker,
// so while it runs the worker hears no messages: Stop either sets Pyodide's interrupt buffer
// (a SharedArrayBuffer, only when the page is cross-origin isolated), which raises
// KeyboardInterrupt in the cell, or ends the worker and boots a fresh one, then loads the
// weights of the model that was in use, kept from just before the cell ran. First, Stop is
// also sent as a message, which a cell inside a fit hears at its next pause (web/cells.py);
// a cell that has not ended STOP_GRACE_MS later (`while True: pass` without isolation, or code
// stuck outside Python's eval loop) gets the restart.
import { t } from "./i18n.js";
import { busyError, callWorker, interruptBuffer, sendStop, setPhase, state } from "./rpc.js";

const STOP_GRACE_MS = 1000;
let running = null; // {step, snapshot, settle, call} while a cell runs

/** What the page shows of a run, whoever started it (a Run button or a script): ./cells.js
 *  fills these in. started(step) as it starts, ended(step, result | null, error | null). */
export const cellHooks = { started: () => {}, ended: () => {} };

/** The step whose cell is running, or null. */
export function runningStep() {
  return running?.step ?? null;
}

// The model in use as a weights file, so a restarted worker can have it back.
async function snapshot() {
  const model = state.model;
  if (!model) return null;
  try {
    return { bytes: await callWorker("saveWeights"), source: model.source };
  } catch {
    return null;
  }
}

/** Run `code` as `step`'s cell: resolves {ok, stdout, stderr, error} (also when the code
 *  fails); rejects BUSY while training or while another cell runs. */
export async function runCode({ step, code } = {}) {
  try {
    const result = await runCell(step, code);
    cellHooks.ended(step, result, null);
    return result;
  } catch (error) {
    cellHooks.ended(step, null, error);
    throw error;
  }
}

async function runCell(step, code) {
  if (state.phase === "training" || state.phase === "running" || state.phase === "evaluating") {
    throw busyError();
  }
  const kept = await snapshot();
  if (state.phase !== "ready") throw busyError(); // something started while the weights came
  if (interruptBuffer) Atomics.store(interruptBuffer, 0, 0); // no Stop left over from before
  const call = callWorker("runCode", { step, code });
  let settle;
  const stopped = new Promise((resolve) => { settle = resolve; });
  // A restart drops the old worker's calls (code RESTARTED); the result then comes from Stop.
  const answered = call.catch((error) => {
    if (error.code === "RESTARTED") return new Promise(() => {});
    throw error;
  });
  running = { step, snapshot: kept, settle, call: answered };
  cellHooks.started(step);
  setPhase("running");
  try {
    return await Promise.race([answered, stopped]);
  } finally {
    running = null;
    if (state.phase === "running") setPhase("ready");
  }
}

const delay = (ms) => new Promise((resolve) => { setTimeout(() => resolve(false), ms); });

/** Load the weights kept before the cell ran into a fresh worker (with their source). */
export async function restoreWeights(kept) {
  if (!kept) return;
  try {
    await callWorker("loadWeights", { source: kept.source }, new Uint8Array(kept.bytes));
  } catch {
    // The banner says why; the lab works on, without the model.
  }
}

/**
 * Stop the running cell. `restart(kept)` ends the worker at once, boots a fresh one, loads
 * the kept weights, and resolves when the lab is usable again. The cell's runCode resolves
 * as soon as it is stopped (restarted: true, when the worker was ended); this resolves
 * {stopped, restarted, ms} once the lab is usable, ms counted from the call.
 */
export async function stopCode(restart) {
  const current = running;
  if (!current) return { stopped: false, restarted: false, ms: 0 };
  const started = performance.now();
  sendStop(); // a cell inside a fit hears this at its next pause and ends the fit
  if (interruptBuffer) Atomics.store(interruptBuffer, 0, 2); // SIGINT: KeyboardInterrupt
  const done = () => true;
  if (await Promise.race([current.call.then(done, done), delay(STOP_GRACE_MS)])) {
    return { stopped: true, restarted: false, ms: performance.now() - started };
  }
  const usable = restart(current.snapshot); // the old worker ends here, synchronously
  current.settle({
    ok: false, stdout: "", stderr: "", restarted: true,
    error: { type: "KeyboardInterrupt", message: t("cell.restarted"), line: null, hint: null },
  });
  await usable.catch(() => {}); // a failed boot shows in the banner, with Retry
  return { stopped: true, restarted: true, ms: performance.now() - started };
}
