"""Text that Python draws onto canvases, in every language the page speaks.

The page's own strings live in js/i18n.js; a test checks that both tables have the same
languages and that each table has the same keys in every language.
"""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "batch_loss_title": "Loss per batch",
        "batch_acc_title": "Accuracy per batch",
        "epoch_loss_title": "Loss per epoch",
        "epoch_acc_title": "Accuracy per epoch",
        "batch_axis": "batch",
        "epoch_axis": "epoch",
        "loss": "loss",
        "accuracy": "accuracy",
        "train": "train",
        "validation": "validation",
        "per_class_title": "Accuracy per digit (test set)",
        "class_balance_title": "Images per digit",
        "confusion_title": "Confusion matrix",
        "true_label": "true digit",
        "predicted_label": "predicted digit",
        "probs_title": "What the network thinks you drew",
        "true_short": "true {true}",
        "predicted_short": "→ {predicted}",
        "filters_title": "First layer's filters",
        "maps_title": "Feature maps of {layer}",
        "training_images": "training set",
        "test_images": "test set",
        "per_class_alt": "Per-class test accuracy: {items}.",
        "class_balance_alt": "Training images per digit: {train}. Test images per digit: {test}.",
        "confusion_alt": "Confusion matrix, rows are true digits, columns predictions: {rows}.",
        "probs_alt": "Probabilities for digits 0 to 9: {items}.",
        "batch_alt": "Batch {batch}: loss {loss}, accuracy {acc}.",
        "epoch_alt": "Epoch {epoch}: loss {loss}, accuracy {acc}, validation loss {val_loss}, "
                     "validation accuracy {val_acc}.",
        "no_mistakes": "No mistakes among these images.",
        "layer_conv2d": "conv2d",
        "layer_maxPooling2d": "maxPooling2d",
        "layer_flatten": "flatten",
        "layer_dense": "dense",
        "layer_dropout": "dropout",
        "problem_shrinks": "model, layer {n} ({type}): its input is only {input}, smaller than its "
                           "window, so the output would shrink below 1x1 - use a smaller kernel "
                           "or pool, 'same' padding, or fewer layers",
        "problem_needs_flatten": "model, layer {n} ({type}): a dense layer needs a flat input - "
                                 "add a flatten layer before it",
        "problem_needs_image": "model, layer {n} ({type}): this layer needs an image, but its "
                               "input is already flat - move it before the flatten layer",
        "problem_last_layer": "model, layer {n} ({type}): the last layer must be dense with 10 "
                              "units and softmax, one score per digit",
        "problem_softmax_last": "model, layer {n} ({type}): softmax is only allowed on the last "
                                "layer",
        "problem_invalid": "model, layer {n} ({type}): {detail}",
        "problem_model": "model: {detail}",
        "problem_memory": "model, layer {n} ({type}): training would need about {needed} of memory "
                          "({params} parameters), more than this browser's budget of {budget} - "
                          "use fewer units or filters, or a smaller batch",
    },
    "zh-CN": {
        "batch_loss_title": "每批的损失",
        "batch_acc_title": "每批的准确率",
        "epoch_loss_title": "每轮的损失",
        "epoch_acc_title": "每轮的准确率",
        "batch_axis": "批",
        "epoch_axis": "轮",
        "loss": "损失",
        "accuracy": "准确率",
        "train": "训练",
        "validation": "验证",
        "per_class_title": "每个数字的准确率（测试集）",
        "class_balance_title": "每个数字的图片数",
        "confusion_title": "混淆矩阵",
        "true_label": "真实数字",
        "predicted_label": "预测数字",
        "probs_title": "网络认为你写的是",
        "true_short": "真 {true}",
        "predicted_short": "→ {predicted}",
        "filters_title": "第一层的滤波器",
        "maps_title": "{layer} 的特征图",
        "training_images": "训练集",
        "test_images": "测试集",
        "per_class_alt": "每个数字的测试准确率：{items}。",
        "class_balance_alt": "每个数字的训练图片数：{train}。测试图片数：{test}。",
        "confusion_alt": "混淆矩阵，行为真实数字，列为预测：{rows}。",
        "probs_alt": "数字 0 到 9 的概率：{items}。",
        "batch_alt": "第 {batch} 批：损失 {loss}，准确率 {acc}。",
        "epoch_alt": "第 {epoch} 轮：损失 {loss}，准确率 {acc}，"
                     "验证损失 {val_loss}，验证准确率 {val_acc}。",
        "no_mistakes": "这些图片里没有错误。",
        "layer_conv2d": "卷积层",
        "layer_maxPooling2d": "最大池化层",
        "layer_flatten": "展平层",
        "layer_dense": "全连接层",
        "layer_dropout": "随机失活层",
        "problem_shrinks": "模型第 {n} 层（{type}）：输入只有 {input}，比窗口还小，输出会缩到 1x1 "
                           "以下——请换更小的卷积核或池化窗口、改用补零填充，或减少层数",
        "problem_needs_flatten": ("模型第 {n} 层（{type}）：全连接层需要一维的输入——"
                                  "请在它前面加一个展平层"),
        "problem_needs_image": "模型第 {n} 层（{type}）：这一层需要图像输入，但输入已经被展平——"
                               "请把它移到展平层之前",
        "problem_last_layer": "模型第 {n} 层（{type}）：最后一层必须是 10 个单元、softmax 激活的"
                              "全连接层，给每个数字一个分数",
        "problem_softmax_last": "模型第 {n} 层（{type}）：只有最后一层可以用 softmax",
        "problem_invalid": "模型第 {n} 层（{type}）：{detail}",
        "problem_model": "模型：{detail}",
        "problem_memory": "模型第 {n} 层（{type}）：训练大约需要 {needed} 内存（{params} 个参数），"
                          "超过了这个浏览器的预算 {budget}——请减少单元数或滤波器数，或减小批大小",
    },
}


def text(lang: str, key: str, **params: object) -> str:
    """The string `key` in `lang` (English when the language is unknown), filled in."""
    table = STRINGS.get(lang, STRINGS["en"])
    return table[key].format(**params)
