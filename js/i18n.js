// The page's words, in the reader's language. The tables are Python's (py/digitlab/i18n/),
// one per language, shipped by build.py in the generated ./schema.js; so are the errors'
// wordings: Python words an error it raises (its reply carries `message`), the page only words
// its own (BUSY, UNSUPPORTED, a boot failure in the worker's JavaScript).
//
// A string may hold code segments between backticks (`MnistData.split`, a file name, a config
// key). showText() shows them as <code> elements, built with createElement and textContent:
// the page never parses markup. Where no element can go (attributes, <option>, the title),
// plainText() drops the backticks. Canvas texts have no segments.
import { SCHEMA, STRINGS } from "./schema.js";

export { STRINGS };

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
  const detail = dataText(String(reply.message ?? ""));
  return t(`error.${reply.code}`, { detail, stage: t(`stage.${reply.stage}`) });
}

function template(key) {
  return STRINGS[current][key] ?? STRINGS[SCHEMA.defaultLanguage][key] ?? key;
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

/** The string `key`, filled in; it may hold code segments (see showText). */
export function t(key, params = {}) {
  return fill(template(key), params);
}

const BACKTICK = "`";
const LOOKALIKE = "\u02cb"; // what Python's tables show for a backtick in data, too

/** Text from data (a file name, an exception's message), safe in a string with code
 *  segments: it opens none. */
export function dataText(text) {
  return text.replaceAll(BACKTICK, LOOKALIKE);
}

/** A string without its code segments' backticks, for attributes, options and the title. */
export function plainText(text) {
  return text.replaceAll(BACKTICK, "");
}

// "a `b` c" -> [{code: false, text: "a "}, {code: true, text: "b"}, {code: false, text: " c"}];
// a backtick without a partner stays as it is.
function segments(text) {
  const parts = text.split(BACKTICK);
  if (parts.length % 2 === 0) parts.splice(-2, 2, `${parts.at(-2)}${BACKTICK}${parts.at(-1)}`);
  return parts.map((part, index) => ({ code: index % 2 === 1, text: part }));
}

function render(element, parts) {
  element.replaceChildren(...parts.filter((part) => part.text !== "").map((part) => {
    if (!part.code) return document.createTextNode(part.text);
    const code = document.createElement("code");
    code.textContent = part.text;
    return code;
  }));
}

/** Show `text` in `element`: its code segments as <code> elements, the rest as text. */
export function showText(element, text) {
  render(element, segments(text));
}

/** Show the string `key` in `element`. The template's segments are found before `params` are
 *  filled in, so a parameter (a file the reader chose) can never open or close one. */
export function showString(element, key, params = {}) {
  render(element, segments(template(key)).map((part) => ({ ...part, text: fill(part.text, params) })));
}

function params(element) {
  try {
    return JSON.parse(element.dataset.i18nParams ?? "{}");
  } catch {
    return {};
  }
}

/** Put every data-i18n element in the current language. An element may carry its string's
 *  parameters as JSON in data-i18n-params (the Load control's file name), so it keeps them
 *  across a switch. */
export function applyTranslations(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    if (element.closest("select, option")) element.textContent = plainText(t(element.dataset.i18n, params(element)));
    else showString(element, element.dataset.i18n, params(element));
  }
  // Labels screen readers announce but nobody sees, e.g. the pad's aria-label.
  for (const element of root.querySelectorAll("[data-i18n-aria-label]")) {
    element.setAttribute("aria-label", plainText(t(element.dataset.i18nAriaLabel)));
  }
  document.title = plainText(`${t("title")} — ${t("tagline")}`);
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
