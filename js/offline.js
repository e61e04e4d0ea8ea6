// The page's side of the service worker (../sw.js, at the site's root): registering it, the
// one reload that makes the first visit cross-origin isolated, asking it to cache the rest of
// the build, and the banner that offers a new version. Where no service worker can register
// (some private windows, file://, an insecure origin) the page runs as before, not isolated
// and not offline, and says so only in the console.

const sw = navigator.serviceWorker; // undefined where service workers are unavailable
const RELOADED = "digitlab:isolation-reload"; // sessionStorage: this tab reloaded itself once
// How long the first visit waits for the worker to take over before booting without it.
const TAKEOVER_WAIT_MS = 10_000;

// Whether a worker controlled the page when it loaded: a later change of controller is a new
// version taking over, and then the page loads again (from that version only).
let hadController = Boolean(sw?.controller);
let registration = null;

const $ = (id) => document.getElementById(id);

function register() {
  if (!sw) return Promise.resolve(null);
  return sw.register(new URL("../sw.js", import.meta.url), { scope: new URL("../", import.meta.url).href })
    .catch((error) => {
      console.info("DigitLab: no offline copy in this browser (service worker:", `${error.message})`);
      return null;
    });
}

// sessionStorage may be unavailable; then the page never reloads itself (no loop possible).
function takeReloadFlag() {
  try {
    const reloaded = sessionStorage.getItem(RELOADED) === "1";
    sessionStorage.removeItem(RELOADED);
    return { reloaded, canReload: true };
  } catch {
    return { reloaded: true, canReload: false };
  }
}

function reloadOnce() {
  sessionStorage.setItem(RELOADED, "1");
  location.reload();
}

function takeover() {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), TAKEOVER_WAIT_MS);
    sw.addEventListener("controllerchange", () => { clearTimeout(timer); resolve(true); }, { once: true });
  });
}

// A registration that never settles must not keep the page from booting.
function orGiveUp(promise) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve(null), TAKEOVER_WAIT_MS))]);
}

function offer(waiting) {
  const banner = $("update-ready");
  if (!banner) return;
  banner.hidden = false;
  $("update-reload").onclick = () => {
    $("update-reload").disabled = true;
    waiting.postMessage({ type: "skip-waiting" }); // then controllerchange reloads the page
  };
}

function watchForUpdates() {
  if (!registration) return;
  if (registration.waiting && sw.controller) offer(registration.waiting);
  registration.addEventListener("updatefound", () => {
    const next = registration.installing;
    next?.addEventListener("statechange", () => {
      if (next.state === "installed" && sw.controller) offer(next);
    });
  });
  // A tab left open for days still hears of a new deploy when the reader comes back to it.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") registration.update().catch(() => {});
  });
}

/**
 * Register the service worker; resolves true when the page is about to load again (the first
 * visit on a host that sends no COOP/COEP: once the worker has taken over, the page reloads
 * through it, once per tab), false when it should boot now.
 */
export async function setupOffline() {
  sw?.addEventListener("controllerchange", () => {
    if (hadController) location.reload();
    hadController = true;
  });
  const { reloaded, canReload } = takeReloadFlag();
  const mayReload = sw && !crossOriginIsolated && !sw.controller && !reloaded && canReload;
  const registering = register().then((result) => {
    registration = result;
    watchForUpdates();
    return result;
  });
  if (!mayReload) return false;
  const result = await orGiveUp(registering);
  if (!result) return false;
  // In control already, or active but not in control (a hard reload bypasses the worker):
  // a plain reload goes through it.
  if (sw.controller || result.active) {
    reloadOnce();
    return true;
  }
  if (!(await takeover())) return false;
  reloadOnce();
  return true;
}

/** Once Python is ready: ask the worker to cache whatever of the build it lacks. */
export async function cacheForOffline() {
  if (!sw) return;
  const ready = await sw.ready;
  sw.addEventListener("message", (event) => {
    if (event.data?.type === "filled" && event.data.complete) document.documentElement.dataset.offline = "ready";
  });
  ready.active?.postMessage({ type: "fill" });
}
