// The lead worker's training replicas: Pyodide workers it starts itself (./replica.js), each a
// copy of the model that computes one shard of every batch (py/digitlab/nn/parallel.py). The
// lead's Python drives them through py/digitlab/web/team.py; this module only moves messages.
// A replica that crashes, runs out of memory or is ended is "lost": the step that waits on it
// resolves with {lost: its number}, once the others answered, and the team goes on without it.

let nextSeq = 1;

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
  }

  ask(message, transfer = []) {
    if (this.state !== "ready") return Promise.reject({ lost: true });
    const seq = nextSeq++;
    const answer = new Promise((resolve, reject) => this.waiting.set(seq, { resolve, reject }));
    this.worker.postMessage({ ...message, seq }, transfer);
    return answer;
  }

  lose() {
    if (this.state === "lost") return;
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
    this.lost = 0;
    this.changed = () => onChange(this.info());
  }

  /** {ready, booting, lost}: how many replicas are in each state (lost: since the page opened). */
  info() {
    const count = (state) => this.members.filter((m) => m.state === state).length;
    return { ready: count("ready"), booting: count("booting"), lost: this.lost };
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
    this.active = this.members.filter((m) => m.state === "ready").slice(0, size);
    this.pending = [];
    if (this.active.length < size) return Promise.resolve({ lost: this.active.length + 1 });
    return this.settle(this.active.map((m) => m.ask({ type: "sync", weights, dropout, backend })));
  }

  /** Replica `i` (from 1): apply the last step (`apply`, a Float32Array, or null), then
   *  compute the shard's gradients. Its answer is collected by gather(). */
  send(i, apply, learningRate, pixels, labels, start, total) {
    this.pending[i - 1] = this.active[i - 1].ask(
      { type: "step", apply, learningRate, pixels, labels, start, total }, [pixels.buffer, labels.buffer]);
  }

  /** The answers to this step's sends, in replica order: [{gradient, loss, correct}]. */
  gather() {
    const answers = this.pending;
    this.pending = [];
    return this.settle(answers);
  }

  /** The run's last step on every replica of the run. */
  finish(apply, learningRate) {
    return this.settle(this.active.map((m) => m.ask({ type: "apply", apply, learningRate })));
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
