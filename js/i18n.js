// Every visible string of the page, one table per language. Python's canvases get their
// strings from Python's own table (py/digitlab/web/strings.py); both are checked for key parity.

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
    "data.explain": "This is supervised learning: every image comes with the right answer, its label, and the network learns by comparing its guesses with those labels. The data are 65,000 handwritten digits of 28 × 28 grey pixels, packed one per row into a single PNG sprite. The first 55,000 are for learning — most for training, the last few for validation — and the last 10,000 are the official MNIST test set, which the network never trains on. Pixels are scaled to 0–1 and batches come in a shuffled order, so every batch is a fair sample.",
    "data.examples": "The first 20 test images with their labels.",
    "model.title": "2. Define the model",
    "model.explain": "A convolution slides small learned filters (here 5 × 5) over the image; each filter lights up where it finds its pattern — an edge, a curve, the end of a stroke — and produces one feature map. Max-pooling keeps only the strongest response in each 2 × 2 patch: the maps shrink by half and small shifts of the digit matter less. After two rounds, flatten lines the maps up and a dense softmax layer turns them into ten probabilities, one per digit. Pick a model, or choose Custom to build your own; the table counts the weights each layer learns.",
    "model.select": "Model",
    "model.tutorial": "Tutorial CNN (the codelab's)",
    "model.strong": "Strong CNN",
    "summary.layer": "Layer",
    "summary.shape": "Output shape",
    "summary.params": "Parameters",
    "summary.total": "Total",
    "train.title": "3. Train the model",
    "train.explain": "Training shows the network a batch of images, measures how wrong its guesses are (the cross-entropy loss) and uses the gradient to nudge every weight a little downhill; one pass over the training images is an epoch. Adam adapts the step size of each weight, SGD uses the same learning rate for all. The validation images are never trained on: when training accuracy keeps rising but validation accuracy stalls, the network has started memorising instead of learning.",
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
    "evaluate.explain": "Now the network sees the 10,000 test digits for the first time, so its accuracy here is a fair estimate of how it will do on new handwriting. Read the confusion matrix row by row: each row is a true digit and each column what the network predicted, so the diagonal holds the right answers and every other cell counts one kind of mistake — a dark cell in row 4, column 9 means fours taken for nines.",
    "evaluate.run": "Evaluate on the test set",
    "evaluate.accuracy": "Test accuracy: {accuracy}%",
    "evaluate.misclassified": "Digits it gets wrong",
    "evaluate.predictions": "Predictions",
    "try.title": "5. Try it",
    "try.explain": "Draw a digit. Like MNIST's own digits, it is cropped, scaled to fit 20 × 20 and centred by its centre of mass in a 28 × 28 image; then the network runs one forward pass and shows its ten probabilities. Below, the first layer's filters and the feature maps they produce for your drawing show what the convolutions look for.",
    "try.clear": "Clear",
    "try.hint": "Draw a digit from 0 to 9 in the box.",
    "try.inside": "Inside the network",
    "try.inspect": "Show the feature maps of test image number (empty: the drawing)",
    "files.title": "Model files",
    "files.save": "Save weights",
    "files.load": "Load weights",
    "model.custom": "Custom (build your own)",
    "builder.title": "Your layers",
    "builder.hint": "Edit the layers from the input (28 × 28 × 1) down to the output. New layers go just above the output layer; the last layer must stay dense with 10 units and softmax.",
    "builder.type": "Layer",
    "builder.type.conv2d": "conv2d (convolution)",
    "builder.type.maxPooling2d": "maxPooling2d (pooling)",
    "builder.type.flatten": "flatten",
    "builder.type.dense": "dense (fully connected)",
    "builder.type.dropout": "dropout",
    "builder.filters": "Filters",
    "builder.kernelSize": "Kernel size",
    "builder.strides": "Stride",
    "builder.poolSize": "Pool size",
    "builder.units": "Units",
    "builder.rate": "Dropout rate",
    "builder.padding": "Padding",
    "builder.padding.valid": "valid (no padding)",
    "builder.padding.same": "same (zero padding)",
    "builder.activation": "Activation",
    "builder.activation.relu": "ReLU",
    "builder.activation.linear": "linear",
    "builder.activation.softmax": "softmax",
    "builder.up": "Move up",
    "builder.down": "Move down",
    "builder.remove": "Remove layer",
    "builder.addType": "New layer",
    "builder.add": "Add layer",
    "builder.reset": "Start again from the tutorial CNN",
    "builder.memory": "Estimated training memory: {needed} ({params} parameters) of this browser's budget of {budget}.",
    "summary.invalid": "This model cannot be built yet; see the problems above.",
    "source.show": "The Python that runs this step",
    "source.loading": "Loading the source from the running Python…",
    "source.line": "line {line}",
    "share.copy": "Copy link",
    "share.copied": "Link copied: it restores the language, the model and the training settings.",
    "share.manual": "Copy this link: it restores the language, the model and the training settings.",
    "share.label": "Link to this set-up",
    "try.padLabel": "Drawing pad",
    "footer.notices": "Third-party notices",
    "footer.license": "License",
    "boot.done": "done",
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
    "data.explain": "这是监督学习：每张图片都带着正确答案（标签），网络把自己的猜测和标签相比较来学习。数据是 65,000 个手写数字，每个是 28 × 28 的灰度像素，一行一个地打包在一张 PNG 图里。前 55,000 个用来学习——大部分用于训练，最后一小部分留作验证；最后 10,000 个是官方的 MNIST 测试集，网络从不在上面训练。像素被缩放到 0 到 1 之间，批次按打乱的顺序抽取，所以每一批都是公平的样本。",
    "data.examples": "测试集的前 20 张图片及其标签。",
    "model.title": "2. 定义模型结构",
    "model.explain": "卷积把一些可学习的小滤波器（这里是 5 × 5）在图像上滑动；每个滤波器在找到自己的图案——一条边、一段弧线、一个笔画的末端——的地方发亮，生成一张特征图。最大池化在每个 2 × 2 的小块里只保留最强的响应：特征图缩小一半，数字稍微挪动一点也不要紧。经过两轮之后，展平层把特征图排成一列，再由一个 softmax 全连接层把它们变成十个概率，每个数字一个。选一个模型，或者选“自定义”搭建你自己的；下表列出每一层要学习的权重个数。",
    "model.select": "模型",
    "model.tutorial": "教程里的 CNN",
    "model.strong": "更强的 CNN",
    "summary.layer": "层",
    "summary.shape": "输出形状",
    "summary.params": "参数",
    "summary.total": "合计",
    "train.title": "3. 训练模型",
    "train.explain": "训练时，网络每次看一批图片，用交叉熵损失衡量自己猜错了多少，再沿着梯度把每个权重往下坡方向推一小步；把训练图片完整看一遍叫做一轮。Adam 为每个权重自动调整步长，SGD 则对所有权重使用同一个学习率。验证集的图片从不参与训练：如果训练准确率还在上升而验证准确率停滞不前，说明网络开始死记硬背，而不是在学习。",
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
    "evaluate.explain": "现在网络第一次看到 10,000 个测试数字，所以这里的准确率能公平地估计它对新笔迹的表现。混淆矩阵要一行一行地读：每一行是真实的数字，每一列是网络的预测，所以对角线上是答对的，其余每个格子统计一种错误——第 4 行第 9 列的格子颜色深，就表示不少 4 被认成了 9。",
    "evaluate.run": "在测试集上评估",
    "evaluate.accuracy": "测试准确率：{accuracy}%",
    "evaluate.misclassified": "它认错的数字",
    "evaluate.predictions": "预测",
    "try.title": "5. 试一试",
    "try.explain": "写一个数字。它会像 MNIST 的数字那样被裁剪、缩放到 20 × 20 以内，再按重心放进 28 × 28 图像的中央；然后网络做一次前向计算，显示十个数字各自的概率。下面是第一层的滤波器，以及它们对你的笔迹产生的特征图，可以看出卷积在寻找什么。",
    "try.clear": "清除",
    "try.hint": "在框里写一个 0 到 9 的数字。",
    "try.inside": "网络内部",
    "try.inspect": "显示第几张测试图片的特征图（留空：显示手写的数字）",
    "files.title": "模型文件",
    "files.save": "保存权重",
    "files.load": "加载权重",
    "model.custom": "自定义（自己搭建）",
    "builder.title": "你的网络层",
    "builder.hint": "从输入（28 × 28 × 1）到输出逐层编辑。新加的层放在输出层的正上方；最后一层必须保持为 10 个单元、softmax 激活的全连接层。",
    "builder.type": "层",
    "builder.type.conv2d": "卷积层",
    "builder.type.maxPooling2d": "最大池化层",
    "builder.type.flatten": "展平层",
    "builder.type.dense": "全连接层",
    "builder.type.dropout": "随机失活层",
    "builder.filters": "滤波器数",
    "builder.kernelSize": "卷积核大小",
    "builder.strides": "步长",
    "builder.poolSize": "池化窗口",
    "builder.units": "单元数",
    "builder.rate": "失活比例",
    "builder.padding": "填充",
    "builder.padding.valid": "不填充",
    "builder.padding.same": "补零填充",
    "builder.activation": "激活函数",
    "builder.activation.relu": "ReLU",
    "builder.activation.linear": "线性",
    "builder.activation.softmax": "softmax",
    "builder.up": "上移",
    "builder.down": "下移",
    "builder.remove": "删除这一层",
    "builder.addType": "新的层",
    "builder.add": "添加一层",
    "builder.reset": "从教程里的 CNN 重新开始",
    "builder.memory": "估计训练内存：{needed}（{params} 个参数），这个浏览器的预算是 {budget}。",
    "summary.invalid": "这个模型还无法搭建，请看上面的问题。",
    "source.show": "这一步运行的 Python 代码",
    "source.loading": "正在从运行中的 Python 读取源代码…",
    "source.line": "第 {line} 行",
    "share.copy": "复制链接",
    "share.copied": "链接已复制：打开它会恢复语言、模型和训练设置。",
    "share.manual": "复制这个链接：打开它会恢复语言、模型和训练设置。",
    "share.label": "这套设置的链接",
    "try.padLabel": "手写板",
    "footer.notices": "第三方声明",
    "footer.license": "许可证",
    "boot.done": "完成",
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

// Priority: an explicit ?lang=, then a shared link's language, then the last choice made here,
// then the browser's own language.
export function chooseLanguage(shared = null) {
  const fromUrl = new URLSearchParams(location.search).get("lang");
  let stored = null;
  try { stored = localStorage.getItem(STORAGE_KEY); } catch { /* storage may be disabled */ }
  const browser = (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
  current = [fromUrl, shared, stored, browser].find((lang) => lang in STRINGS) || "en";
  document.documentElement.lang = current;
  return current;
}

// The banner's words for a failed call: {code, message, stage, ...} from the worker.
export function messageFor(reply) {
  return t(`error.${reply.code}`, { detail: reply.message, stage: t(`stage.${reply.stage}`) });
}

export function t(key, params = {}) {
  const template = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

export function applyTranslations(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  // Labels screen readers announce but nobody sees, e.g. the pad's aria-label.
  for (const element of root.querySelectorAll("[data-i18n-aria-label]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nAriaLabel));
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

/** A number written the way the page's language writes it (digit grouping, decimals). */
export function formatNumber(value, options = {}) {
  return new Intl.NumberFormat(current, options).format(value);
}

/** A byte count in MB or GB (decimal units), with locale digits. */
export function formatBytes(bytes) {
  const [unit, scale] = bytes >= 1e8 ? ["GB", 1e9] : ["MB", 1e6];
  return `${formatNumber(bytes / scale, { maximumFractionDigits: 1, minimumFractionDigits: 1 })} ${unit}`;
}
