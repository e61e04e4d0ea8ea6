// The drawing pad: ink is drawn here on the main thread for latency; Python only ever sees a
// snapshot of the ink (its alpha channel) when it is asked to predict.

const INK_WIDTH_FRACTION = 0.075; // of the pad's width: about an MNIST pen stroke after scaling

export function setupPad(canvas, clearButton, onStroke) {
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  let drawing = false;
  let last = null;
  let hasInk = false;
  let pending = false;

  function point(event) {
    const box = canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - box.left) * canvas.width) / box.width,
      y: ((event.clientY - box.top) * canvas.height) / box.height,
    };
  }

  function stroke(from, to) {
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#000";
    ctx.lineWidth = canvas.width * INK_WIDTH_FRACTION;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    if (from.x === to.x && from.y === to.y) {
      // Canvas strokes nothing for a zero-length line: a tap is a round dot.
      ctx.arc(from.x, from.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      ctx.moveTo(from.x, from.y);
      ctx.lineTo(to.x, to.y);
      ctx.stroke();
    }
    hasInk = true;
  }

  // Predict at most once per frame while the pen moves: Python answers in a few ms.
  function requestPrediction() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; onStroke(); });
  }

  canvas.style.touchAction = "none";
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    last = point(event);
    stroke(last, last);
    requestPrediction();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const next = point(event);
    stroke(last, next);
    last = next;
    requestPrediction();
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    requestPrediction();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  function clear() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    hasInk = false;
    onStroke();
  }
  clearButton.addEventListener("click", clear);

  // An image takes the pad's place as its ink (an uploaded photo, a test digit): alpha bytes,
  // row-major, `width` x `height`, scaled smoothly onto the pad. The pad then is that image:
  // predicting it, drawing on it and clearing it work as for a drawing.
  function showImage(alpha, width, height) {
    const pixels = new Uint8ClampedArray(width * height * 4);
    for (let i = 0; i < alpha.length; i++) pixels[4 * i + 3] = alpha[i]; // black ink, this alpha
    const image = new OffscreenCanvas(width, height);
    image.getContext("2d").putImageData(new ImageData(pixels, width, height), 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
    hasInk = alpha.some((value) => value > 0);
    onStroke();
  }

  return {
    clear,
    showImage,
    hasInk: () => hasInk,
    // The ink as alpha bytes, row-major, with the pad's size.
    snapshot() {
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const alpha = new Uint8Array(canvas.width * canvas.height);
      for (let i = 0; i < alpha.length; i++) alpha[i] = data[4 * i + 3];
      return { width: canvas.width, height: canvas.height, alpha };
    },
  };
}
