// The sprite's worker, started by ./worker.js for one file: it downloads the MNIST sprite
// (reporting progress as the "data" boot stage) and inflates its image data with the
// browser's own zlib, on a core the runtime's start is not using. It answers once, with
// {download: {ok, status, bytes, inflated}, timings}, the buffers transferred, not copied.

const epochNow = () => performance.timeOrigin + performance.now();
const PROGRESS_EVERY_MS = 100;

async function download(url, timings) {
  const start = epochNow();
  const response = await fetch(url);
  if (!response.ok) {
    timings.dataFetch = [start, epochNow()];
    return { ok: false, status: response.status, bytes: null };
  }
  const total = Number(response.headers.get("content-length")) || 0;
  const chunks = [];
  let loaded = 0;
  let posted = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    if (performance.now() - posted >= PROGRESS_EVERY_MS) { // not a repaint per chunk
      posted = performance.now();
      postMessage({ type: "boot", stage: "data", url, loaded, total });
    }
  }
  postMessage({ type: "boot", stage: "data", url, loaded, total });
  const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
  timings.dataFetch = [start, epochNow()];
  return { ok: true, status: response.status, bytes };
}

// The image data, inflated: Python then only checks the chunks and undoes the few filtered rows.
async function inflatedGray8(png) {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const idat = [];
  let header = null;
  for (let at = 8; at + 8 <= png.byteLength;) {
    const length = view.getUint32(at);
    const kind = String.fromCharCode(...png.subarray(at + 4, at + 8));
    if (kind === "IHDR") header = { width: view.getUint32(at + 8), height: view.getUint32(at + 12), kind: png.subarray(at + 16, at + 21).join(",") };
    else if (kind === "IDAT") idat.push(png.subarray(at + 8, at + 8 + length));
    else if (kind === "IEND") break;
    at += 12 + length;
  }
  // 8-bit grayscale, deflate, standard filters, not interlaced; anything else is Python's.
  if (!header || header.kind !== "8,0,0,0,0") return null;
  const { width, height } = header;
  const out = new Uint8Array(height * (width + 1));
  const reader = new Blob(idat).stream().pipeThrough(new DecompressionStream("deflate")).getReader();
  let filled = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (filled + value.byteLength > out.byteLength) return null;
    out.set(value, filled);
    filled += value.byteLength;
  }
  if (filled !== out.byteLength) return null;
  // Rows without their filter bytes, so Python copies them once, straight into its array.
  const rows = new Uint8Array(height * width);
  const filters = new Uint8Array(height);
  for (let y = 0; y < height; y += 1) {
    filters[y] = out[y * (width + 1)];
    rows.set(out.subarray(y * (width + 1) + 1, (y + 1) * (width + 1)), y * width);
  }
  return { width, height, rows, filters };
}

// Inflating waits for "inflate": on a first visit the runtime's WebAssembly is compiled on
// every core, and the sprite's 300 ms of zlib would slow that more than it gains.
let mayInflate;
const inflateNow = new Promise((resolve) => { mayInflate = resolve; });

self.onmessage = async ({ data: { url, type } }) => {
  if (type === "inflate") {
    mayInflate();
    return;
  }
  const timings = {};
  let result;
  try {
    result = await download(url, timings);
  } catch (error) {
    // The network failed: Python's data stage reports it, as for any download.
    postMessage({ type: "failed", message: String(error?.message || error), timings });
    return;
  }
  if (result.ok) {
    await inflateNow;
    const start = epochNow();
    // Any problem (a corrupt or unusual file) leaves the whole decoding, and its report, to Python.
    result.inflated = await inflatedGray8(result.bytes).catch(() => null);
    timings.dataInflate = [start, epochNow()];
  }
  const buffers = [result.bytes, result.inflated?.rows, result.inflated?.filters].filter(Boolean).map((b) => b.buffer);
  postMessage({ type: "sprite", download: result, timings }, buffers);
};
