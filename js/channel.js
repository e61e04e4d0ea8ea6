// The memory the lead worker and one replica share while a run lasts (./team.js, ./replica.js),
// on a cross-origin-isolated page: the step the lead took, the next shard, and the shard's
// result, with Atomics saying which is new. No message crosses per batch, so neither side
// waits on the other's event loop: the replica sleeps in Atomics.wait until the lead writes,
// and the lead's Atomics.waitAsync lets its own event loop run (a Stop, a lost replica) while
// it waits for the result.

/** Whether this page can share memory between its workers (and wait on it without blocking). */
export const shared = typeof SharedArrayBuffer === "function" && globalThis.crossOriginIsolated === true
  && typeof Atomics.waitAsync === "function";

// The header's int32 words.
const BELL = 0; // bumped by the lead after it wrote anything: what the replica sleeps on
const APPLIED = 1; // steps the lead wrote (the step region holds the last)
const SENT = 2; // shards the lead wrote (the shard region holds the last)
const DONE = 3; // shards the replica finished (the result region holds the last)
const ROWS = 4;
const START = 5;
const TOTAL = 6;
const CORRECT = 7;
const FAILED = 8; // 1: the replica's Python raised; the text region says what, and it stopped
const END = 9; // 1: the run is over; the replica leaves its loop once it took every step
const TEXT_LENGTH = 10;
const HEADER_WORDS = 16;
const TEXT_BYTES = 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Channel {
  /** A new channel for a model of `floats` parameters and shards of up to `rows` rows of
   *  `rowBytes` pixels each. */
  static create(floats, rows, rowBytes) {
    const bytes = HEADER_WORDS * 4 + 2 * 8 + 2 * floats * 4 + rows * (rowBytes + 1) + TEXT_BYTES;
    return new Channel({ buffer: new SharedArrayBuffer(bytes), floats, rows, rowBytes });
  }

  /** `spec`: what create() made, as it crosses to the replica in a message. */
  constructor(spec) {
    const { buffer, floats, rows, rowBytes } = spec;
    this.spec = spec;
    let at = 0;
    const take = (Type, count) => {
      const view = new Type(buffer, at, count);
      at += count * Type.BYTES_PER_ELEMENT;
      return view;
    };
    this.words = take(Int32Array, HEADER_WORDS);
    this.numbers = take(Float64Array, 2); // the step's learning rate, the shard's loss
    this.step = take(Float32Array, floats);
    this.result = take(Float32Array, floats);
    this.pixels = take(Uint8Array, rows * rowBytes);
    this.labels = take(Uint8Array, rows);
    this.text = take(Uint8Array, TEXT_BYTES);
    this.closed = false;
  }

  fits(pixels, labels) {
    return labels.length <= this.spec.rows && pixels.length <= this.pixels.length;
  }

  // ------------------------------------------------------------ the lead's side

  /** Start the replica on a shard (Uint8Arrays; rows start.. of a `total`-row batch). */
  send(pixels, labels, start, total) {
    this.pixels.set(pixels);
    this.labels.set(labels);
    this.words[ROWS] = labels.length;
    this.words[START] = start;
    this.words[TOTAL] = total;
    Atomics.add(this.words, SENT, 1);
    this.ring();
  }

  /** The step the lead took (a Float32Array, its learning rate): taken before the next shard. */
  apply(gradient, learningRate) {
    this.step.set(gradient);
    this.numbers[0] = learningRate;
    Atomics.add(this.words, APPLIED, 1);
    this.ring();
  }

  /** The last shard's {gradient, loss, correct} once the replica finished it; rejects with its
   *  Python error, or with {lost: true} once close()d. */
  async answer() {
    const words = this.words;
    for (;;) {
      if (this.closed) throw { lost: true };
      if (Atomics.load(words, FAILED)) throw new Error(this.failure());
      const done = Atomics.load(words, DONE);
      if (done === Atomics.load(words, SENT)) {
        return { gradient: this.result.slice(), loss: this.numbers[1], correct: words[CORRECT] };
      }
      const wait = Atomics.waitAsync(words, DONE, done);
      if (wait.async) await wait.value;
    }
  }

  /** Let the replica leave its loop, once it took every step sent. */
  end() {
    Atomics.store(this.words, END, 1);
    this.ring();
  }

  /** The replica is gone: whoever waits on an answer hears so. */
  close() {
    this.closed = true;
    Atomics.notify(this.words, DONE);
  }

  ring() {
    Atomics.add(this.words, BELL, 1);
    Atomics.notify(this.words, BELL);
  }

  failure() {
    return decoder.decode(this.text.slice(0, this.words[TEXT_LENGTH]));
  }

  // ------------------------------------------------------------ the replica's side

  /** Take steps and shards as the lead writes them, until it ends the run or `replica` throws:
   *  replica.apply(gradient, learningRate), replica.step(pixels, labels, start, total) ->
   *  {gradient, loss, correct}. Blocks this worker meanwhile (Atomics.wait). */
  serve(replica) {
    const words = this.words;
    let applied = 0;
    let done = 0;
    try {
      for (;;) {
        // Read the bell before the work, so a write after this look rings past `rung` and the
        // wait below returns at once. SENT before APPLIED: a shard seen here was written
        // after the step before it, so that step is seen too, and taken first.
        const rung = Atomics.load(words, BELL);
        const sent = Atomics.load(words, SENT);
        const end = Atomics.load(words, END);
        if (Atomics.load(words, APPLIED) !== applied) {
          applied += 1;
          replica.apply(this.step.slice(), this.numbers[0]);
        }
        if (sent !== done) {
          const rows = words[ROWS];
          const { gradient, loss, correct } = replica.step(
            this.pixels.slice(0, rows * this.spec.rowBytes), this.labels.slice(0, rows),
            words[START], words[TOTAL]);
          this.result.set(gradient);
          this.numbers[1] = loss;
          words[CORRECT] = correct;
          done = sent;
          Atomics.store(words, DONE, done);
          Atomics.notify(words, DONE);
        }
        if (end && Atomics.load(words, APPLIED) === applied) return;
        Atomics.wait(words, BELL, rung);
      }
    } catch (error) {
      const { written } = encoder.encodeInto(String(error?.message ?? error), this.text);
      words[TEXT_LENGTH] = written;
      Atomics.store(words, FAILED, 1);
      Atomics.notify(words, DONE);
    }
  }
}
