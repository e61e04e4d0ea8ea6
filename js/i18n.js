// Every visible string of the page, one table per language. Python's canvases get their
// strings from Python's own table (py/digitlab/strings.py); both are checked for key parity.

export const STRINGS = {
  en: {
    "title": "DigitLab",
    "tagline": "Train a convolutional network on handwritten digits — in Python, with NumPy, entirely in your browser.",
    "language": "Language",
    "retry": "Retry",
    "dismiss": "Dismiss",
    "noscript": "DigitLab needs JavaScript and WebAssembly to run Python in your browser.",
    "boot.title": "Starting up",
    "boot.bytes": "{loaded} of {total} MB",
    "stage.runtime": "Python runtime",
    "stage.numpy": "NumPy",
    "stage.pillow": "Pillow",
    "stage.data": "MNIST data",
    "stage.undefined": "start-up",
    "data.title": "1. Load the data",
    "data.explain": "65,000 handwritten digits, 28 × 28 pixels each, packed one per row into a single PNG sprite. The first 55,000 are for learning; the last 10,000 are the official MNIST test set, which the network never trains on.",
    "data.examples": "The first 20 test images with their labels.",
    "model.title": "2. Define the model",
    "model.explain": "A convolutional network slides small learned filters over the image, keeps the strongest responses with max-pooling, and finally scores each of the ten digits with a dense softmax layer.",
    "model.select": "Model",
    "model.tutorial": "Tutorial CNN (the codelab's)",
    "model.strong": "Strong CNN",
    "summary.layer": "Layer",
    "summary.shape": "Output shape",
    "summary.params": "Parameters",
    "summary.total": "Total",
    "train.title": "3. Train the model",
    "train.explain": "Training shows the network batches of images, measures how wrong it is (the loss) and nudges every weight downhill. A validation set it never trains on tells us whether it is learning or memorising.",
    "train.trainSize": "Training images",
    "train.validationSize": "Validation images",
    "train.epochs": "Epochs",
    "train.batchSize": "Batch size",
    "train.learningRate": "Learning rate",
    "train.optimizer": "Optimiser",
    "train.start": "Train",
    "train.stop": "Stop",
    "train.continue": "Continue",
    "train.progress": "Epoch {epoch}/{epochs} · batch {batch}/{batches} · {speed} images/s · about {eta} s left",
    "evaluate.title": "4. Evaluate the model",
    "evaluate.explain": "Now the network sees the 10,000 test digits for the first time. The confusion matrix shows, for each true digit (row), what the network predicted (column): everything off the diagonal is a mistake.",
    "evaluate.run": "Evaluate on the test set",
    "evaluate.accuracy": "Test accuracy: {accuracy}%",
    "evaluate.misclassified": "Digits it gets wrong",
    "evaluate.predictions": "Predictions",
    "try.title": "5. Try it",
    "try.explain": "Draw a digit. It is cropped, scaled to 20 × 20 and centred by its centre of mass in 28 × 28, just as MNIST's digits were made, then the network guesses.",
    "try.clear": "Clear",
    "try.hint": "Draw a digit from 0 to 9 in the box.",
    "try.inside": "Inside the network",
    "files.title": "Model files",
    "files.save": "Save weights",
    "files.load": "Load weights",
    "error.RUNTIME": "The {stage} failed to load: {detail}. Check your connection and press Retry.",
    "error.DATA_SPRITE": "The MNIST images could not be loaded: {detail}. Press Retry to download them again.",
    "error.DATA_LABELS": "The MNIST labels could not be loaded: {detail}. Press Retry to download them again.",
    "error.BAD_CONFIG": "This training setting is not valid: {detail}.",
    "error.BAD_WEIGHTS": "This weights file was refused: {detail}. The current model is unchanged.",
    "error.DIVERGED": "Training stopped: {detail}.",
    "error.BUSY": "DigitLab is busy training; stop it first or wait until it ends.",
    "error.NOT_READY": "DigitLab is not ready yet.",
    "error.UNSUPPORTED": "This browser lacks {feature}, which DigitLab needs. Please use a current Chrome, Edge, Firefox or Safari.",
    "error.NO_MODEL": "There is no trained model yet: {detail}.",
    "error.INTERNAL": "Something went wrong: {detail}.",
  },
  "zh-CN": {
    "title": "DigitLab",
    "tagline": "在浏览器里用 Python 和 NumPy 训练一个识别手写数字的卷积神经网络。",
    "language": "语言",
    "retry": "重试",
    "dismiss": "关闭",
    "noscript": "DigitLab 需要 JavaScript 和 WebAssembly 才能在浏览器里运行 Python。",
    "boot.title": "正在启动",
    "boot.bytes": "{loaded} / {total} MB",
    "stage.runtime": "Python 运行时",
    "stage.numpy": "NumPy",
    "stage.pillow": "Pillow",
    "stage.data": "MNIST 数据",
    "stage.undefined": "启动",
    "data.title": "1. 加载数据",
    "data.explain": "65,000 个手写数字，每个 28 × 28 像素，一行一个地打包在一张 PNG 图里。前 55,000 个用来学习；最后 10,000 个是官方的 MNIST 测试集，网络从不在上面训练。",
    "data.examples": "测试集的前 20 张图片及其标签。",
    "model.title": "2. 定义模型结构",
    "model.explain": "卷积网络把一些可学习的小滤波器在图像上滑动，用最大池化保留最强的响应，最后由一个 softmax 全连接层给十个数字分别打分。",
    "model.select": "模型",
    "model.tutorial": "教程里的 CNN",
    "model.strong": "更强的 CNN",
    "summary.layer": "层",
    "summary.shape": "输出形状",
    "summary.params": "参数",
    "summary.total": "合计",
    "train.title": "3. 训练模型",
    "train.explain": "训练时，网络一批一批地看图片，衡量自己错了多少（损失），再把每个权重往下坡方向推一点。一个从不参与训练的验证集告诉我们它是在学习还是在死记硬背。",
    "train.trainSize": "训练图片数",
    "train.validationSize": "验证图片数",
    "train.epochs": "轮数",
    "train.batchSize": "批大小",
    "train.learningRate": "学习率",
    "train.optimizer": "优化器",
    "train.start": "训练",
    "train.stop": "停止",
    "train.continue": "继续训练",
    "train.progress": "第 {epoch}/{epochs} 轮 · 第 {batch}/{batches} 批 · 每秒 {speed} 张 · 约剩 {eta} 秒",
    "evaluate.title": "4. 评估模型",
    "evaluate.explain": "现在网络第一次看到 10,000 个测试数字。混淆矩阵的每一行是真实的数字，每一列是网络的预测：对角线以外的都是错误。",
    "evaluate.run": "在测试集上评估",
    "evaluate.accuracy": "测试准确率：{accuracy}%",
    "evaluate.misclassified": "它认错的数字",
    "evaluate.predictions": "预测",
    "try.title": "5. 试一试",
    "try.explain": "写一个数字。它会像 MNIST 的数字那样被裁剪、缩放到 20 × 20，再按重心放进 28 × 28 的中央，然后由网络来猜。",
    "try.clear": "清除",
    "try.hint": "在框里写一个 0 到 9 的数字。",
    "try.inside": "网络内部",
    "files.title": "模型文件",
    "files.save": "保存权重",
    "files.load": "加载权重",
    "error.RUNTIME": "{stage}加载失败：{detail}。请检查网络连接后点击“重试”。",
    "error.DATA_SPRITE": "无法加载 MNIST 图片：{detail}。点击“重试”重新下载。",
    "error.DATA_LABELS": "无法加载 MNIST 标签：{detail}。点击“重试”重新下载。",
    "error.BAD_CONFIG": "训练设置无效：{detail}。",
    "error.BAD_WEIGHTS": "权重文件被拒绝：{detail}。当前模型保持不变。",
    "error.DIVERGED": "训练发散，已停止：{detail}。已恢复上一次正常的权重，请尝试更小的学习率。",
    "error.BUSY": "DigitLab 正在训练，请先停止或等待训练结束。",
    "error.NOT_READY": "DigitLab 还没有准备好。",
    "error.UNSUPPORTED": "此浏览器缺少 DigitLab 所需的 {feature}。请使用新版的 Chrome、Edge、Firefox 或 Safari。",
    "error.NO_MODEL": "还没有训练好的模型：{detail}。",
    "error.INTERNAL": "出了点问题：{detail}。",
  },
};

const STORAGE_KEY = "digitlab.lang";
let current = "en";

export function chooseLanguage() {
  const fromUrl = new URLSearchParams(location.search).get("lang");
  let stored = null;
  try { stored = localStorage.getItem(STORAGE_KEY); } catch { /* storage may be disabled */ }
  const browser = (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
  current = [fromUrl, stored, browser].find((lang) => lang in STRINGS) || "en";
  document.documentElement.lang = current;
  return current;
}

export function t(key, params = {}) {
  const template = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

export function applyTranslations(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  document.title = `${t("title")} — ${t("tagline")}`;
}

export function setLanguage(lang) {
  if (!(lang in STRINGS)) return;
  current = lang;
  document.documentElement.lang = lang;
  try { localStorage.setItem(STORAGE_KEY, lang); } catch { /* storage may be disabled */ }
  applyTranslations();
  document.dispatchEvent(new CustomEvent("digitlab:language", { detail: lang }));
}

export function language() {
  return current;
}
