// The TensorFlow.js side of the DigitLab benchmark: the codelab's CNN, optimiser, loss and
// fit() call, re-created exactly, on the same split of the same files as DigitLab.
// bench/run.py calls window.tfjsBench.run(config) and reads back plain JSON.
"use strict";

const IMAGE_SIZE = 784;
const NUM_CLASSES = 10;
const NUM_ROWS = 65000;
const TRAINING_PORTION = 55000; // the last 10000 rows are the official MNIST test set
const CHUNK_ROWS = 5000; // the codelab's chunk: a 784 x 65000 canvas exceeds Chromium's limit

let datasetPromise = null;

/** The sprite's red channel as floats in [0, 1] (exactly the codelab's decoding), and the labels. */
async function loadDataset() {
  const image = new Image();
  image.src = "/data/mnist_images.png";
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = CHUNK_ROWS;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const pixels = new Float32Array(NUM_ROWS * IMAGE_SIZE);
  for (let chunk = 0; chunk < NUM_ROWS / CHUNK_ROWS; chunk++) {
    context.drawImage(image, 0, chunk * CHUNK_ROWS, image.naturalWidth, CHUNK_ROWS,
                      0, 0, image.naturalWidth, CHUNK_ROWS);
    const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const view = pixels.subarray(chunk * CHUNK_ROWS * IMAGE_SIZE);
    for (let j = 0; j < rgba.length / 4; j++) view[j] = rgba[j * 4] / 255;
  }
  const response = await fetch("/data/mnist_labels_uint8");
  if (!response.ok) throw new Error(`labels: HTTP ${response.status}`);
  const labels = new Uint8Array(await response.arrayBuffer()); // one-hot, 10 bytes per row
  if (labels.length !== NUM_ROWS * NUM_CLASSES) throw new Error(`labels: ${labels.length} bytes`);
  return { pixels, labels };
}

/** Rows [start, start + count) as an image tensor and a one-hot label tensor. */
function rows(dataset, start, count) {
  const xs = tf.tensor4d(dataset.pixels.slice(start * IMAGE_SIZE, (start + count) * IMAGE_SIZE),
                         [count, 28, 28, 1]);
  const ys = tf.tensor2d(dataset.labels.slice(start * NUM_CLASSES, (start + count) * NUM_CLASSES),
                         [count, NUM_CLASSES], "float32");
  return { xs, ys };
}

/** The codelab's getModel(), verbatim in substance. */
function codelabModel(learningRate) {
  const model = tf.sequential();
  model.add(tf.layers.conv2d({
    inputShape: [28, 28, 1], kernelSize: 5, filters: 8, strides: 1, activation: "relu",
    kernelInitializer: "varianceScaling",
  }));
  model.add(tf.layers.maxPooling2d({ poolSize: [2, 2], strides: [2, 2] }));
  model.add(tf.layers.conv2d({
    kernelSize: 5, filters: 16, strides: 1, activation: "relu",
    kernelInitializer: "varianceScaling",
  }));
  model.add(tf.layers.maxPooling2d({ poolSize: [2, 2], strides: [2, 2] }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({
    units: NUM_CLASSES, kernelInitializer: "varianceScaling", activation: "softmax",
  }));
  model.compile({
    optimizer: tf.train.adam(learningRate), loss: "categoricalCrossentropy", metrics: ["accuracy"],
  });
  return model;
}

/** Records the gaps between animation frames, to show how long the main thread is blocked. */
function frameGapRecorder() {
  const gaps = [];
  let last = performance.now();
  let running = true;
  const tick = (now) => {
    gaps.push(now - last);
    last = now;
    if (running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  return () => {
    running = false;
    gaps.push(performance.now() - last); // a frame still pending when training ended counts too
    return { worstMs: Math.max(0, ...gaps), frames: gaps.length };
  };
}

/** Top-1 accuracy and wall time of predicting `count` test images. */
async function timedTest(model, dataset, count) {
  const test = rows(dataset, TRAINING_PORTION, count);
  const start = performance.now();
  const predicted = tf.tidy(() => model.predict(test.xs).argMax(-1));
  const classes = await predicted.data();
  const seconds = (performance.now() - start) / 1000;
  let correct = 0;
  for (let i = 0; i < count; i++) {
    if (dataset.labels[(TRAINING_PORTION + i) * NUM_CLASSES + classes[i]] === 1) correct++;
  }
  tf.dispose([predicted, test.xs, test.ys]);
  return { accuracy: correct / count, seconds };
}

/**
 * One benchmark run. config: {backend, trainSize, validationSize, epochs, batchSize,
 * learningRate, testSize}. Training = the first trainSize rows; validation = the last
 * validationSize rows of the training portion; test = the first testSize test rows.
 */
async function run(config) {
  if (!(await tf.setBackend(config.backend))) throw new Error(`backend ${config.backend} unavailable`);
  await tf.ready();
  datasetPromise ??= loadDataset();
  const dataset = await datasetPromise;
  const train = rows(dataset, 0, config.trainSize);
  const validation = rows(dataset, TRAINING_PORTION - config.validationSize, config.validationSize);
  const model = codelabModel(config.learningRate);

  const epochSeconds = [];
  const history = { loss: [], acc: [], val_loss: [], val_acc: [] };
  let epochStart = 0;
  const stopGaps = frameGapRecorder();
  const start = performance.now();
  await model.fit(train.xs, train.ys, {
    batchSize: config.batchSize, epochs: config.epochs, shuffle: true,
    validationData: [validation.xs, validation.ys],
    callbacks: {
      onEpochBegin: async () => { epochStart = performance.now(); },
      onEpochEnd: async (epoch, logs) => {
        epochSeconds.push((performance.now() - epochStart) / 1000);
        for (const key of Object.keys(history)) history[key].push(logs[key]);
      },
    },
  });
  const trainSeconds = (performance.now() - start) / 1000;
  const frameGaps = stopGaps();
  const test = await timedTest(model, dataset, config.testSize);
  const result = {
    backend: tf.getBackend(), tfjsVersion: tf.version.tfjs, trainSeconds, epochSeconds, history,
    testAccuracy: test.accuracy, testSize: config.testSize, predictSeconds: test.seconds,
    worstFrameGapMs: frameGaps.worstMs, tensorBytes: tf.memory().numBytes,
  };
  model.dispose();
  tf.dispose([train.xs, train.ys, validation.xs, validation.ys]);
  return result;
}

window.tfjsBench = { run };
