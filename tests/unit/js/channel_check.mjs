// js/channel.js between two Node threads (run by tests/unit/test_channel.py): shards and steps
// taken in the order sent, the results read back, a run's end, a growing shard (a new
// channel), the replica's error and a lost replica. Exits non-zero on the first failure.
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";

import { Channel } from "../../../js/channel.js";

const floats = 3;
const first = Channel.create(floats, 2, 4);
const worker = new Worker(new URL("./channel_replica.mjs", import.meta.url),
  { workerData: { specs: [first.spec] } });
const left = () => new Promise((resolve) => worker.once("message", ({ left }) => resolve(left)));

// A shard before any step: no step taken; the result's fields as the replica wrote them.
first.send(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), Uint8Array.of(3, 9), 0, 4);
let answer = await first.answer();
assert.deepEqual([...answer.gradient], [36, 37, 38]);
assert.equal(answer.correct, 2);
assert.equal(answer.loss, 0);
assert.ok(!(answer.gradient.buffer instanceof SharedArrayBuffer), "the result is a copy");

// A step, then a smaller shard: the step is taken first, with its learning rate.
first.apply(Float32Array.of(1, 2, 3), 0.5);
first.send(Uint8Array.of(10, 0, 0, 0), Uint8Array.of(1), 2, 4);
answer = await first.answer();
assert.deepEqual([...answer.gradient], [1010, 1011, 1012]);
assert.equal(answer.loss, 3 + 2 / 4);
assert.equal(answer.correct, 1);

// The run's last step, then its end: the replica takes the step before it leaves.
first.apply(Float32Array.of(0, 0, 2), 1);
const leaving = left();
first.end();
assert.equal(await leaving, 2);

// A new channel (as for a larger shard): the replica serves it from its first step.
const second = Channel.create(floats, 3, 4);
worker.postMessage(second.spec);
second.send(new Uint8Array(12).fill(1), Uint8Array.of(1, 2, 3), 4, 8);
answer = await second.answer();
assert.deepEqual([...answer.gradient], [12, 13, 14]);

// The replica's error reaches the lead, and the replica leaves the loop.
const failing = left();
second.send(Uint8Array.of(255, 0, 0, 0), Uint8Array.of(0), 4, 8);
await assert.rejects(second.answer(), { message: "shard 4: pixel 255 refused" });
assert.equal(await failing, 0);

// A replica that is gone: whoever waits on its answer hears so.
const third = Channel.create(floats, 1, 4);
worker.postMessage(third.spec);
await worker.terminate();
third.send(Uint8Array.of(1, 1, 1, 1), Uint8Array.of(1), 0, 1);
const waiting = third.answer();
third.close();
await assert.rejects(waiting, (reason) => reason.lost === true);
console.log("channel ok");
