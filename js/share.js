// The page's set-up in its URL: `#config=` + base64url(JSON), so a link reproduces it, and,
// when the reader edited code cells, `&cells=` + base64url(deflate-raw(JSON {step: code})).
// What comes back from a URL is data only: parsed with JSON.parse, checked field by field, and
// anything unexpected is dropped (Python validates the model spec again before training). A
// link's code is only ever shown in the editors: nothing runs it until the reader presses Run.

const NUMBER_FIELDS = ["trainSize", "validationSize", "epochs", "batchSize", "learningRate"];
const LAYER_KEYS = new Set(["type", "filters", "kernelSize", "strides", "padding", "activation",
  "poolSize", "units", "rate"]);
const MAX_LAYERS = 64;
const CELL_STEPS = ["data", "model", "train", "evaluate", "try"];
const MAX_CELLS_BYTES = 1 << 20; // inflated; a link is never this long, a crafted one might be
const FRAGMENT = /^#config=([\w-]+)(?:&cells=([\w-]+))?$/;

function toBase64Url(text) {
  return bytesToBase64Url(new TextEncoder().encode(text));
}

function bytesToBase64Url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function base64UrlToBytes(text) {
  return Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
}

function fromBase64Url(text) {
  return new TextDecoder().decode(base64UrlToBytes(text));
}

/** {step: code} as the link's `cells=` part: deflate-raw, then base64url. */
export async function packCells(cells) {
  const stream = new Blob([JSON.stringify(cells)]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return bytesToBase64Url(new Uint8Array(await new Response(stream).arrayBuffer()));
}

// Inflate at most MAX_CELLS_BYTES: a few bytes of a crafted link could inflate to gigabytes.
async function inflate(bytes) {
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw")).getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_CELLS_BYTES) {
      await reader.cancel();
      throw new Error("the link's cells are too large");
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(await new Blob(chunks).arrayBuffer());
}

/** The code cells a link carries, {step: code} (known steps, text only), or null. */
export async function readSharedCells(hash = location.hash) {
  const packed = FRAGMENT.exec(hash)?.[2];
  if (!packed) return null;
  try {
    const raw = JSON.parse(await inflate(base64UrlToBytes(packed)));
    const cells = {};
    for (const step of CELL_STEPS) if (typeof raw?.[step] === "string") cells[step] = raw[step];
    return Object.keys(cells).length ? cells : null;
  } catch {
    return null; // a mangled link: the cells keep their own code
  }
}

function isPlainValue(value) {
  return ["string", "number", "boolean"].includes(typeof value) || value === null
    || (Array.isArray(value) && value.length <= 2 && value.every((v) => typeof v === "number"));
}

function cleanLayer(layer) {
  if (!layer || typeof layer !== "object" || Array.isArray(layer)) return null;
  const clean = {};
  for (const [key, value] of Object.entries(layer)) {
    if (LAYER_KEYS.has(key) && isPlainValue(value)) clean[key] = value;
  }
  return typeof clean.type === "string" ? clean : null;
}

/** Only the fields we know, with the types we expect. */
export function sanitizeConfig(raw) {
  const config = {};
  if (!raw || typeof raw !== "object") return config;
  if (raw.lang === "en" || raw.lang === "zh-CN") config.lang = raw.lang;
  if (raw.model === "tutorial" || raw.model === "strong") config.model = raw.model;
  if (Array.isArray(raw.model) && raw.model.length <= MAX_LAYERS) {
    const layers = raw.model.map(cleanLayer);
    if (layers.length && layers.every(Boolean)) config.model = layers;
  }
  for (const field of NUMBER_FIELDS) {
    if (typeof raw[field] === "number" && Number.isFinite(raw[field])) config[field] = raw[field];
  }
  if (raw.optimizer === "adam" || raw.optimizer === "sgd") config.optimizer = raw.optimizer;
  return config;
}

/** The URL that reproduces `config` on this page; `config.cells` is packCells' text. */
export function shareUrl(config, base = location.href) {
  const { cells, ...settings } = config;
  const url = new URL(base);
  url.searchParams.set("lang", settings.lang);
  url.hash = `config=${toBase64Url(JSON.stringify(settings))}${cells ? `&cells=${cells}` : ""}`;
  return url.href;
}

/** The set-up in the current URL, sanitised, or null when there is none (or it is unreadable). */
export function readSharedConfig(hash = location.hash) {
  const match = FRAGMENT.exec(hash);
  if (!match) return null;
  try {
    return sanitizeConfig(JSON.parse(fromBase64Url(match[1])));
  } catch {
    return null; // a mangled link: start from the defaults
  }
}
