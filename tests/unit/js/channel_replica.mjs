// The replica's side of js/channel.js under Node (tests/unit/test_channel.py): a stand-in for
// the Python replica that shows, in each shard's result, how many steps it took before it.
import { parentPort, workerData } from "node:worker_threads";

import { Channel } from "../../../js/channel.js";

for (;;) {
  const channel = new Channel(workerData.specs.shift() ?? (await next()));
  let steps = 0;
  let rateSum = 0;
  channel.serve({
    apply(gradient, learningRate) {
      steps += 1;
      rateSum += learningRate * gradient.reduce((a, b) => a + b, 0);
    },
    step(pixels, labels, start, total) {
      if (pixels[0] === 255) throw new Error(`shard ${start}: pixel 255 refused`);
      const sum = pixels.reduce((a, b) => a + b, 0);
      const gradient = Float32Array.from({ length: channel.step.length }, (_, i) => steps * 1000 + sum + i);
      return { gradient, loss: rateSum + start / total, correct: labels.length };
    },
  });
  parentPort.postMessage({ left: steps });
}

function next() {
  return new Promise((resolve) => parentPort.once("message", resolve));
}
