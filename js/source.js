// "The Python that runs this step": collapsible panels under each section. Their text comes
// from Python itself (inspect.getsource inside Pyodide, app.call_source), so it is the code the
// page actually loaded, and it is fetched once after boot because calls are refused while
// training.
import { t } from "./i18n.js";
import { highlight } from "./highlight.js";

const cache = new Map();

function render(panel, snippets) {
  const body = panel.querySelector(".source-body");
  body.replaceChildren(...snippets.flatMap((snippet) => {
    const title = document.createElement("p");
    title.className = "source-title";
    const code = (text) => Object.assign(document.createElement("code"), { textContent: text });
    title.append(code(snippet.file), " · ", code(snippet.name), ` · ${t("source.line", { line: snippet.line })}`);
    const pre = document.createElement("pre");
    pre.append(highlight(snippet.code));
    return [title, pre];
  }));
}

/** Load every panel's source (call after boot) and re-render open panels. */
export async function loadSources(fetchSource) {
  for (const panel of document.querySelectorAll("details.source")) {
    const step = panel.dataset.step;
    try {
      cache.set(step, await fetchSource(step));
      render(panel, cache.get(step));
    } catch {
      // The banner already explains it; the panel keeps its "loading" note.
    }
  }
}

/** Re-render (titles carry translated words) after a language switch. */
export function renderSources() {
  for (const panel of document.querySelectorAll("details.source")) {
    if (cache.has(panel.dataset.step)) render(panel, cache.get(panel.dataset.step));
  }
}
