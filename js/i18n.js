// The page's words, in the reader's language. The tables are Python's (py/digitlab/i18n/),
// one per language, shipped by build.py in the generated ./schema.js; so are the errors'
// wordings: Python words an error it raises (its reply carries `message`), the page only words
// its own (BUSY, UNSUPPORTED, a boot failure in the worker's JavaScript).
import { SCHEMA, STRINGS } from "./schema.js";

export { STRINGS };

// Keys main.js still uses under their old names (until it moves to the new ones).
const STORAGE_KEY = "digitlab.lang";
let current = SCHEMA.defaultLanguage;

// Priority: an explicit ?lang=, then a shared link's language, then the last choice made here,
// then the browser's own language.
export function chooseLanguage(shared = null) {
  const fromUrl = new URLSearchParams(location.search).get("lang");
  let stored = null;
  try { stored = localStorage.getItem(STORAGE_KEY); } catch { /* storage may be disabled */ }
  const browser = (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
  current = [fromUrl, shared, stored, browser].find((lang) => lang in STRINGS) || SCHEMA.defaultLanguage;
  document.documentElement.lang = current;
  return current;
}

// The banner's words for a failed call: {code, reason, message, stage, field, ...} from the
// worker. Python's errors (they have a `reason`) arrive worded in the page's language; the
// worker's own boot failures carry a bare detail that the code's frame puts in words.
export function messageFor(reply) {
  if (typeof reply.reason === "string" && reply.message) return reply.message;
  return t(`error.${reply.code}`, { detail: reply.message, stage: t(`stage.${reply.stage}`) });
}

export function t(key, params = {}) {
  const template = STRINGS[current][key] ?? STRINGS[SCHEMA.defaultLanguage][key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

export function applyTranslations(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  // Labels screen readers announce but nobody sees, e.g. the pad's aria-label.
  for (const element of root.querySelectorAll("[data-i18n-aria-label]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nAriaLabel));
  }
  document.title = `${t("title")} — ${t("tagline")}`;
}

export function setLanguage(lang) {
  if (!(lang in STRINGS)) return;
  current = lang;
  document.documentElement.lang = lang;
  try { localStorage.setItem(STORAGE_KEY, lang); } catch { /* storage may be disabled */ }
  applyTranslations();
  document.dispatchEvent(new CustomEvent("digitlab:language", { detail: lang }));
}

export function language() {
  return current;
}

/** A number written the way the page's language writes it (digit grouping, decimals). */
export function formatNumber(value, options = {}) {
  return new Intl.NumberFormat(current, options).format(value);
}

/** A byte count in MB or GB (decimal units), with locale digits. */
export function formatBytes(bytes) {
  const [unit, scale] = bytes >= 1e8 ? ["GB", 1e9] : ["MB", 1e6];
  return `${formatNumber(bytes / scale, { maximumFractionDigits: 1, minimumFractionDigits: 1 })} ${unit}`;
}
