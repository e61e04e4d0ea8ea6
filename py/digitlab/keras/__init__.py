"""A Keras-style front over DigitLab's engine, so the lab's code cells read like Keras (and like
the tfjs codelab's `tf.layers` code), and run the same in the page and in a CPython script::

    from digitlab.keras import *

    model = Sequential()
    model.add(Conv2D(filters=8, kernel_size=5, strides=1, activation="relu",
                     kernel_initializer="variance_scaling", input_shape=(28, 28, 1)))
    model.add(MaxPooling2D(pool_size=2, strides=2))
    model.add(Conv2D(filters=16, kernel_size=5, strides=1, activation="relu",
                     kernel_initializer="variance_scaling"))
    model.add(MaxPooling2D(pool_size=2, strides=2))
    model.add(Flatten())
    model.add(Dense(10, activation="softmax", kernel_initializer="variance_scaling"))
    model.summary()
    model.compile(optimizer=Adam(learning_rate=0.001), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=512, epochs=10, validation_data=(xv, yv))
    history.history["val_accuracy"]

There is no second engine: every layer is one entry of the model-spec layer list (the JSON
`train()` and the weights file take; `Sequential.to_spec()` / `Sequential.from_spec()`), the
engine model (`model.engine`) is built from it by `digitlab.nn.zoo.build_model`, and `fit`
is the engine's one training loop (`TrainingRun`). Names, arguments and defaults are Keras
3's; what the engine cannot do is refused by the argument's name (a DigitLabError: BAD_MODEL
for layers, BAD_CONFIG for compile/fit/evaluate/predict and the optimisers), never ignored.

Seeds: `utils.set_random_seed(seed)`, default 0, as everywhere in DigitLab. The code above
with the codelab's 5500 training images gives, after one epoch, bit for bit the weights of
`train({model: 'tutorial', epochs: 1})`.

For code that runs cells: `callbacks.always(*callbacks)` adds callbacks to every fit,
evaluate and predict inside a `with` block (progress, live charts, a Stop check that sets
`model.stop_training`); `Sequential.wrap(engine_model)` fronts an existing engine model.
"""

from __future__ import annotations

from digitlab.keras import callbacks, layers, models, optimizers, utils
from digitlab.keras.callbacks import (
    Callback,
    EarlyStopping,
    History,
    LambdaCallback,
    always,
)
from digitlab.keras.layers import (
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Input,
    InputLayer,
    MaxPool2D,
    MaxPooling2D,
)
from digitlab.keras.models import Sequential
from digitlab.keras.optimizers import SGD, Adam
from digitlab.keras.utils import set_random_seed, to_categorical

__all__ = [
    "SGD", "Adam", "Callback", "Conv2D", "Dense", "Dropout", "EarlyStopping", "Flatten",
    "History", "Input", "InputLayer", "LambdaCallback", "MaxPool2D", "MaxPooling2D",
    "Sequential", "always", "callbacks", "layers", "models", "optimizers", "set_random_seed",
    "to_categorical", "utils",
]
