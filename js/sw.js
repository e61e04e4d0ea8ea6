// The service worker, built by build.py to the site's root as sw.js (its scope is the folder
// it is served from, so the site works under any sub-path, e.g. GitHub Pages' /REPO/). It
// fills in the placeholders: the build's version, every file of the build with its sha256,
// and the headers the page needs.
//
// - One cache per build, named after the build's content hash. Whatever the page asks for is
//   answered from the cache of the build that controls it, so one page load never mixes the
//   files of two builds; a file not cached yet is fetched, checked against its sha256, and kept.
// - A new build installs beside the old one: files whose hash did not change are copied from
//   the old cache, the others fetched and checked. It then waits until the reader clicks
//   Reload (the page sends "skip-waiting"); when it takes over, it deletes the old caches.
// - The very first build this browser sees has nothing to mix with: it takes over at once, so
//   the page can load again through it (cross-origin isolated), and caches files as the page
//   fetches them; the page asks for the rest ("fill") once Python is ready.
// - Every response it serves carries COOP/COEP, so the page is crossOriginIsolated
//   (SharedArrayBuffer exists) on a static host that sets no headers, and the page's CSP,
//   which a <meta> tag cannot apply to workers.

const VERSION = "__VERSION__";
const FILES = { "__FILES__": "" }; // path relative to the scope -> sha256 (hex)
const HEADERS = { "__HEADERS__": "" }; // added to every response served

const SCOPE = new URL(self.registration.scope);
// One origin may host several sites (USER.github.io/REPO/): the scope is part of the name, so
// a build deletes only its own site's older caches.
const PREFIX = `digitlab ${SCOPE.pathname} `;
const CACHE = PREFIX + VERSION;
const SHA_HEADER = "X-DigitLab-SHA256"; // on cached copies: lets the next build reuse them

const keyOf = (path) => new URL(path, SCOPE).href;

async function sha256(buffer) {
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

// The build's path for a request, or null when this build has no such file. A `?v=` (the
// Python sources, the kernels) names the content the page expects, a prefix of its sha256:
// a request made by another build's page is not answered from this build's cache.
function pathFor(request) {
  const url = new URL(request.url);
  if (url.origin !== SCOPE.origin || !url.pathname.startsWith(SCOPE.pathname)) return null;
  let path = decodeURIComponent(url.pathname.slice(SCOPE.pathname.length));
  if (request.mode === "navigate" && path === "") path = "index.html";
  if (!Object.hasOwn(FILES, path)) return null;
  const expected = url.searchParams.get("v");
  return expected && !FILES[path].startsWith(expected) ? null : path;
}

function withHeaders(response) {
  if (response.status === 0) return response; // an opaque redirect: nothing to add
  const headers = new Headers(response.headers);
  headers.delete(SHA_HEADER);
  for (const [name, value] of Object.entries(HEADERS)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

function forCache(path, body, headers) {
  const kept = new Headers(headers);
  kept.set(SHA_HEADER, FILES[path]);
  return new Response(body, { status: 200, headers: kept });
}

// A file of this build from the network, or an error naming it: a host midway through a
// deploy (or a stale CDN copy) can serve another build's file, which must not be cached.
async function fetchChecked(path) {
  const response = await fetch(keyOf(path), { cache: "no-cache" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  const body = await response.arrayBuffer();
  if (await sha256(body) !== FILES[path]) throw new Error(`${path}: not the file of build ${VERSION}`);
  return forCache(path, body, response.headers);
}

async function olderCaches() {
  const names = (await caches.keys()).filter((name) => name.startsWith(PREFIX) && name !== CACHE);
  return Promise.all(names.map((name) => caches.open(name)));
}

// Cache every file of the build that is not cached yet, reusing older builds' copies of
// unchanged files. `strict`: fail on the first file that cannot be had (an update installs
// whole or not at all); otherwise keep what can be had (the first build's "fill").
async function cacheAll(strict) {
  const cache = await caches.open(CACHE);
  const older = await olderCaches();
  const results = await Promise.allSettled(Object.keys(FILES).map(async (path) => {
    if (await cache.match(keyOf(path))) return;
    for (const old of older) {
      const copy = await old.match(keyOf(path));
      if (copy && copy.headers.get(SHA_HEADER) === FILES[path]) return cache.put(keyOf(path), copy);
    }
    return cache.put(keyOf(path), await fetchChecked(path));
  }));
  const failed = results.filter((result) => result.status === "rejected");
  if (strict && failed.length) throw failed[0].reason;
  return failed.length === 0;
}

// Hashing and storing what a first visit fetches would take the CPU from the page's boot:
// it waits until the page asks for the rest ("fill", once Python is ready), or a while.
const KEEP_WAIT_MS = 30_000;
let pageReady;
const pageReadyOrLater = new Promise((resolve) => {
  pageReady = resolve;
  setTimeout(resolve, KEEP_WAIT_MS);
});

// The network's copy of a file the cache lacks, kept (once checked) for next time.
async function keep(path, response) {
  await pageReadyOrLater;
  const body = await response.arrayBuffer();
  if (await sha256(body) !== FILES[path]) return;
  await (await caches.open(CACHE)).put(keyOf(path), forCache(path, body, response.headers));
}

async function cached(path) {
  try {
    return await (await caches.open(CACHE)).match(keyOf(path));
  } catch {
    return undefined; // storage refused (quota, a private window): the network still answers
  }
}

// Only a page and a worker's script need the headers (isolation, and the CSP a worker gets
// from its own script's response). Everything else, from the cache, goes out as the cache's
// own response: a Response made here would lose what the browser keeps beside the cached
// copy, V8's compiled code for the runtime's WebAssembly, and the runtime would be compiled
// again on every visit. Its SHA_HEADER tells js/worker.js that the copy was checked.
const NEEDS_HEADERS = new Set(["document", "iframe", "worker", "sharedworker"]);

async function respond(event, path) {
  const copy = path === null ? undefined : await cached(path);
  if (copy) return NEEDS_HEADERS.has(event.request.destination) ? withHeaders(copy) : copy;
  const response = await fetch(event.request);
  if (path !== null && response.status === 200 && response.type === "basic") {
    event.waitUntil(keep(path, response.clone()).catch(() => {}));
  }
  return withHeaders(response);
}

self.addEventListener("install", (event) => {
  if (!self.registration.active) {
    self.skipWaiting(); // the first build: see the top of this file
    return;
  }
  event.waitUntil(cacheAll(true));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const old of (await caches.keys()).filter((name) => name.startsWith(PREFIX) && name !== CACHE)) {
      await caches.delete(old);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== SCOPE.origin) return;
  event.respondWith(respond(event, pathFor(request)));
});

self.addEventListener("message", (event) => {
  const type = event.data?.type;
  if (type === "skip-waiting") {
    self.skipWaiting();
  } else if (type === "fill") {
    pageReady();
    event.waitUntil(cacheAll(false).then((complete) => {
      event.source?.postMessage({ type: "filled", version: VERSION, complete });
    }));
  }
});
