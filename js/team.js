// The lead worker's training replicas: Pyodide workers it starts itself (./replica.js), each a
// copy of the model that computes one shard of every batch (py/digitlab/nn/parallel.py). The
// lead's Python drives them through py/digitlab/web/team.py; this module only moves the data.
// A replica that crashes, runs out of memory or is ended is "lost": the step that waits on it
// resolves with {lost: its number}, once the others answered, and the team goes on without it.
//
// Per batch the lead sends each replica its shard, gathers the shards' gradients, then sends
// the step it took with their sum. On a cross-origin-isolated page these go through shared
// memory (./channel.js: no message per batch); elsewhere as messages, the arrays transferred.
import { Channel, shared } from "./channel.js";

let nextSeq = 1;

// An answer may be rejected (its replica lost) before anyone awaits it, as a shard sent ahead
// is between batches; settle() reads the rejection later. Until then it is no unhandled error.
function unwatched(answer) {
  answer.catch(() => {});
  return answer;
}

class Member {
  constructor(settings, onChange, onLost) {
    this.state = "booting";
    this.onLost = onLost;
    this.waiting = new Map(); // seq -> {resolve, reject}
    this.onChange = onChange;
    this.worker = new Worker(new URL("./replica.js", import.meta.url), { type: "module" });
    this.booted = new Promise((resolve) => { this.onBooted = resolve; });
    this.worker.onmessage = ({ data }) => {
      if (data.type === "ready" || data.type === "boot-error") {
        this.state = data.type === "ready" ? "ready" : "failed";
        this.error = data.message ?? null;
        if (this.state === "failed") this.worker.terminate();
        this.onBooted(this.state === "ready");
        onChange();
        return;
      }
      const waiter = this.waiting.get(data.seq);
      this.waiting.delete(data.seq);
      if (data.type === "done") waiter?.resolve(data);
      else waiter?.reject(new Error(data.message));
    };
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.lose();
    };
    this.worker.postMessage({ type: "init", settings });
    this.channel = null; // this run's shared memory with the replica, once it has a shard
  }

  ask(message, transfer = []) {
    if (this.state !== "ready") return unwatched(Promise.reject({ lost: true }));
    const seq = nextSeq++;
    const answer = new Promise((resolve, reject) => this.waiting.set(seq, { resolve, reject }));
    this.worker.postMessage({ ...message, seq }, transfer);
    return unwatched(answer);
  }

  /** `promise`, or its rejection with {lost: true} if the replica is lost first. */
  watch(promise) {
    const seq = nextSeq++;
    return unwatched(new Promise((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      promise.then(resolve, reject).finally(() => this.waiting.delete(seq));
    }));
  }

  /** Start a shard: through the channel (a new one when the shard does not fit), or a message. */
  send(pixels, labels, start, total) {
    if (!shared) {
      return this.ask({ type: "step", pixels, labels, start, total }, [pixels.buffer, labels.buffer]);
    }
    if (this.state !== "ready") return unwatched(Promise.reject({ lost: true }));
    if (!this.channel?.fits(pixels, labels)) {
      this.endRun(); // the replica leaves the old channel's loop, then serves the new one
      this.channel = Channel.create(this.floats, labels.length, pixels.length / Math.max(labels.length, 1));
      this.worker.postMessage({ type: "serve", channel: this.channel.spec });
    }
    this.channel.send(pixels, labels, start, total);
    return this.watch(this.channel.answer());
  }

  /** The step the lead took; a promise of its completion in message mode, none through a
   *  channel (the next answer says if it failed). */
  apply(gradient, learningRate) {
    if (this.channel) {
      this.channel.apply(gradient, learningRate);
      return null;
    }
    return this.ask({ type: "apply", apply: gradient, learningRate }); // copied, not moved
  }

  /** The run is over: the replica leaves its channel, once it took every step. */
  endRun() {
    this.channel?.end();
    this.channel = null;
  }

  lose() {
    if (this.state === "lost") return;
    this.channel?.close();
    this.channel = null;
    this.worker.terminate();
    this.state = "lost";
    this.onLost();
    for (const waiter of this.waiting.values()) waiter.reject({ lost: true });
    this.waiting.clear();
    this.onBooted(false);
    this.onChange();
  }
}

const usable = (member) => member.state === "ready" || member.state === "booting";

export class Team {
  /** `settings`: what the replicas need of the page's (the kernel choice); `onChange(info)`:
   *  told whenever a replica boots or is lost. */
  constructor(settings, onChange) {
    this.settings = settings;
    this.members = [];
    this.active = [];
    this.pending = []; // this step's answers, replica order
    this.applied = []; // the last step's, where replicas answer it (messages)
    this.lost = 0;
    this.changed = () => onChange(this.info());
  }

  /** {ready, booting, lost, exchange}: how many replicas are in each state (lost: since the
   *  page opened), and how batches reach them ("shared" memory or "messages"). */
  info() {
    const count = (state) => this.members.filter((m) => m.state === state).length;
    return { ready: count("ready"), booting: count("booting"), lost: this.lost,
             exchange: shared ? "shared" : "messages" };
  }

  /** Start replicas until `count` are ready or booting. */
  ensure(count) {
    this.members = this.members.filter(usable);
    while (this.members.length < count) this.members.push(new Member(this.settings, this.changed, () => { this.lost += 1; }));
    this.changed();
  }

  /** Wait for the first `count` replicas to boot; resolves with how many are ready. */
  async ready(count) {
    this.ensure(count);
    await Promise.all(this.members.slice(0, count).map((m) => m.booted));
    this.members = this.members.filter(usable);
    return Math.min(count, this.members.filter((m) => m.state === "ready").length);
  }

  /** Make the first `size` ready replicas the run's (replica 1 first), copies of the model:
   *  its weights file (a Uint8Array), Dropout streams (JSON) and backend name. */
  sync(size, weights, dropout, backend) {
    for (const member of this.members) member.endRun(); // a run that ended without finish()
    this.active = this.members.filter((m) => m.state === "ready").slice(0, size);
    this.pending = []; // a shard sent ahead of a batch that never came: not wanted (unwatched)
    this.applied = [];
    if (this.active.length < size) return Promise.resolve({ lost: this.active.length + 1 });
    const synced = this.settle(this.active.map((m) => m.ask({ type: "sync", weights, dropout, backend })));
    return synced.then((answers) => {
      if (!answers.lost) this.active.forEach((m, i) => { m.floats = answers[i].floats; });
      return answers;
    });
  }

  /** Replica `i` (from 1): compute the shard's gradients (`pixels`, `labels`: Uint8Arrays,
   *  rows start.. of a `total`-row batch). Its answer is collected by gather(). */
  send(i, pixels, labels, start, total) {
    this.pending[i - 1] = this.active[i - 1].send(pixels, labels, start, total);
  }

  /** The answers to this step's sends, in replica order: [{gradient, loss, correct}]; first
   *  whether the steps sent before them were taken (messages only). */
  async gather() {
    const applied = await this.settleApplied();
    if (applied?.lost) return applied;
    const answers = this.pending;
    this.pending = [];
    return this.settle(answers);
  }

  /** The step the lead took with the gathered gradients' sum (a Float32Array), on every
   *  replica of the run, without waiting for it. */
  apply(gradient, learningRate) {
    this.applied = this.active.map((m) => m.apply(gradient, learningRate));
  }

  /** Resolves once every replica of the run took every step: the run is over. */
  async finish() {
    const applied = await this.settleApplied();
    if (applied?.lost) return applied;
    this.pending = []; // as in sync()
    for (const member of this.active) member.endRun();
    // A message is answered once the replica left its channel's loop: every step taken.
    return this.settle(this.active.map((m) => m.ask({ type: "ping" })));
  }

  async settleApplied() {
    const applied = this.applied;
    this.applied = [];
    return applied.some(Boolean) ? this.settle(applied) : null; // none through channels
  }

  /** Each ready replica's digest of its weights and optimiser state, and its wasm heap's
   *  size: [{checksum, wasmHeapBytes}], replica 1 first. */
  async replicas() {
    const ready = this.members.filter((m) => m.state === "ready");
    const answers = await this.settle(ready.map((m) => m.ask({ type: "checksum" })));
    if (answers.lost) return answers;
    return answers.map(({ checksum, wasmHeapBytes }) => ({ checksum, wasmHeapBytes }));
  }

  /** End ready replica `i` (from 1) as a crash would: the test hook for a lost worker. */
  kill(i) {
    this.members.filter((m) => m.state === "ready")[i - 1]?.lose();
  }

  // All answers, or the first loss as {lost: the replica's number}, once every answer settled
  // (so no reply of this step is left to arrive during the next). A replica's Python error
  // rejects, with its message.
  async settle(answers) {
    const results = await Promise.allSettled(answers);
    const lost = results.findIndex((result) => result.status === "rejected" && result.reason?.lost);
    if (lost >= 0) {
      this.members = this.members.filter(usable);
      this.changed();
      return { lost: lost + 1 };
    }
    const failed = results.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
    return results.map((result) => result.value);
  }
}
