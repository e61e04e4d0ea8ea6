// The page's entry point. Python runs in a worker (./worker.js, reached through ./rpc.js) and
// draws every chart onto canvases transferred to it; ./api.js is window.digitlab and
// ./controls.js the buttons and forms that use it.
import { refuse, start } from "./api.js";
import { setupControls } from "./controls.js";
import { browserProblem } from "./rpc.js";

setupControls();
const problem = browserProblem();
if (problem) refuse(problem);
else start();
