"""digitlab.keras on the real MNIST files: the codelab's model written in Keras words trains to
exactly the weights of the page's `train({model: 'tutorial', epochs: 1})`, and the same code
runs as a plain CPython script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from digitlab.data.mnist import LABELS_FILE, SPRITE_FILE
from digitlab.keras import (
    Adam,
    Conv2D,
    Dense,
    Flatten,
    MaxPooling2D,
    Sequential,
    set_random_seed,
    to_categorical,
)
from tests.unit.conftest import REPO
from tests.unit.fakes import Lab, boot

CODELAB_MODEL = """\
model = Sequential()
model.add(Conv2D(filters=8, kernel_size=5, strides=1, activation="relu",
                 kernel_initializer="variance_scaling", input_shape=(28, 28, 1)))
model.add(MaxPooling2D(pool_size=2, strides=2))
model.add(Conv2D(filters=16, kernel_size=5, strides=1, activation="relu",
                 kernel_initializer="variance_scaling"))
model.add(MaxPooling2D(pool_size=2, strides=2))
model.add(Flatten())
model.add(Dense(10, activation="softmax", kernel_initializer="variance_scaling"))
"""


def as_keras_arrays(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What a cell hands Keras: float images in [0, 1] and one-hot labels."""
    return images.reshape(-1, 28, 28, 1).astype("float32") / 255, to_categorical(labels, 10)


def test_one_epoch_in_keras_words_gives_the_weights_of_train_tutorial(data_dir: Path) -> None:
    lab = Lab()
    assert boot(lab, (data_dir / SPRITE_FILE).read_bytes(),
                (data_dir / LABELS_FILE).read_bytes())["ok"]
    page = lab.call("train", {"model": "tutorial", "epochs": 1})
    assert page["ok"], page
    trained = {k: v.copy() for k, v in lab.controller.model.parameters().items()}

    set_random_seed(0)
    x, y = as_keras_arrays(*lab.controller.data.train_set())  # the codelab's 5500 images
    xv, yv = as_keras_arrays(*lab.controller.data.validation_set())
    namespace = {"Sequential": Sequential, "Conv2D": Conv2D, "MaxPooling2D": MaxPooling2D,
                 "Flatten": Flatten, "Dense": Dense}
    exec(CODELAB_MODEL, namespace)
    model = namespace["model"]
    model.compile(optimizer=Adam(learning_rate=0.001), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=512, epochs=1, shuffle=True, validation_data=(xv, yv),
                        verbose=0)

    keras = model.engine.parameters()
    assert keras.keys() == trained.keys()
    for key, value in trained.items():
        assert np.array_equal(keras[key], value), key  # bit for bit
    run = page["value"]
    assert history.history["loss"] == run["loss"]
    assert history.history["accuracy"] == run["acc"]
    assert history.history["val_loss"] == run["val_loss"]
    assert history.history["val_accuracy"] == run["val_acc"]


SCRIPT = """\
from digitlab.data.mnist import MnistData
from digitlab.keras import *

data = MnistData.from_dir({data!r}, train_size=1024, validation_size=256)
images, labels = data.train_set()
x = images.reshape(-1, 28, 28, 1).astype("float32") / 255
y = to_categorical(labels, 10)
val_images, val_labels = data.validation_set()
x_val = val_images.reshape(-1, 28, 28, 1).astype("float32") / 255
y_val = to_categorical(val_labels, 10)

{model}
model.summary()
model.compile(optimizer=Adam(learning_rate=0.001), loss="categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(x, y, batch_size=512, epochs=2, validation_data=(x_val, y_val),
                    shuffle=True)
print(sorted(history.history), history.epoch)
loss, accuracy = model.evaluate(x_val, y_val, verbose=0)
print("probabilities", model.predict(x_val[:3], verbose=0).sum(axis=1).round(4).tolist())
print("evaluated", round(accuracy, 4) == round(history.history["val_accuracy"][-1], 4))
"""


def test_the_cells_code_runs_as_a_cpython_script(data_dir: Path, tmp_path: Path) -> None:
    script = tmp_path / "codelab.py"
    script.write_text(SCRIPT.format(data=str(data_dir), model=CODELAB_MODEL))
    env = {**os.environ, "PYTHONPATH": str(REPO / "py")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0] == 'Model: "sequential"'
    assert " Total params: 5,994 (23.41 KB)" in out
    assert out[out.index("Epoch 1/2") + 1].startswith("2/2 - ")
    assert "val_accuracy: " in out[out.index("Epoch 2/2") + 1]
    assert out[-3:] == ["['accuracy', 'loss', 'val_accuracy', 'val_loss'] [0, 1]",
                        "probabilities [1.0, 1.0, 1.0]", "evaluated True"]
    assert done.stderr == ""


