// The page's set-up in its URL: `#config=` + base64url(JSON), so a link reproduces it.
// What comes back from a URL is data only: parsed with JSON.parse, checked field by field, and
// anything unexpected is dropped (Python validates the model spec again before training).

const NUMBER_FIELDS = ["trainSize", "validationSize", "epochs", "batchSize", "learningRate"];
const LAYER_KEYS = new Set(["type", "filters", "kernelSize", "strides", "padding", "activation",
  "poolSize", "units", "rate"]);
const MAX_LAYERS = 64;

function toBase64Url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
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

/** The URL that reproduces `config` on this page. */
export function shareUrl(config, base = location.href) {
  const url = new URL(base);
  url.searchParams.set("lang", config.lang);
  url.hash = `config=${toBase64Url(JSON.stringify(config))}`;
  return url.href;
}

/** The set-up in the current URL, sanitised, or null when there is none (or it is unreadable). */
export function readSharedConfig(hash = location.hash) {
  const match = /^#config=([\w-]+)$/.exec(hash);
  if (!match) return null;
  try {
    return sanitizeConfig(JSON.parse(fromBase64Url(match[1])));
  } catch {
    return null; // a mangled link: start from the defaults
  }
}
