// The page's entry point. Python runs in a worker (./worker.js, reached through ./rpc.js) and
// draws every chart onto canvases transferred to it; ./api.js is window.digitlab and
// ./controls.js the buttons and forms that use it. ./offline.js registers the service worker
// first: on a first visit it may load the page again, isolated, before anything boots.
import { refuse, start } from "./api.js";
import { setupControls } from "./controls.js";
import { cacheForOffline, setupOffline } from "./offline.js";
import { browserProblem } from "./early.js";

setupControls();
const problem = browserProblem();
if (problem) refuse(problem);
else {
  setupOffline().then((reloading) => {
    if (reloading) return;
    start();
    window.digitlab.ready.then(cacheForOffline, () => {});
  });
}
