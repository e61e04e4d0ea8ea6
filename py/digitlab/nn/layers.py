"""CS231n-style layers: forward(x, training) caches what backward(dout) needs.

Images are NHWC. Every layer exposes `params` and `grads` (dicts of arrays, same keys), a
`name` (e.g. "conv2d_1", used as the key prefix in the weights file) and `config()` (its entry
in the model spec, with tfjs config keys). Layers compute in the dtype of their input, so a
float64 input with float64 params gives float64 gradients (used by the gradient checks).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from digitlab import backend

IM2COL_BUDGET_BYTES = 64 * 1024 * 1024
# tfjs/Keras truncated-normal correction: stddev of a unit normal truncated at +-2 stddev.
TRUNCATED_NORMAL_STDDEV = 0.87962566103423978


def variance_scaling(shape: tuple[int, ...], fan_in: int, rng: np.random.Generator) -> np.ndarray:
    """tfjs varianceScaling(scale=1, mode=fanIn, distribution=normal): truncated at 2 stddev."""
    stddev = math.sqrt(1.0 / max(1, fan_in)) / TRUNCATED_NORMAL_STDDEV
    z = rng.standard_normal(shape)
    outside = np.abs(z) > 2.0
    while outside.any():  # redraw, as tf.truncatedNormal does; converges in a few rounds
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2.0
    return (z * stddev).astype(np.float32)


def glorot_uniform(shape: tuple[int, ...], fan_in: int, fan_out: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Keras's default kernel initialiser: uniform in +-sqrt(6 / (fan_in + fan_out))."""
    limit = math.sqrt(6.0 / max(1, fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


# Kernel initialisers by their model-spec (tfjs) name; the first is the default, the
# codelab's choice. Each draws from the model's seeded stream in layer order.
INITIALIZERS = ("varianceScaling", "glorotUniform")


def initial_kernel(initializer: str, shape: tuple[int, ...], fan_in: int, fan_out: int,
                   rng: np.random.Generator) -> np.ndarray:
    if initializer == "glorotUniform":
        return glorot_uniform(shape, fan_in, fan_out, rng)
    return variance_scaling(shape, fan_in, rng)


def weight_grad(inputs: np.ndarray, dout: np.ndarray) -> np.ndarray:
    """inputs.T @ dout, [m,k] x [m,n] -> [k,n].

    Always transposes `inputs`: measured in Pyodide, (dout.T @ inputs).T is 2-4x slower for the
    conv shapes (m in the tens of thousands, n small), and native BLAS does not care.
    """
    return backend.gemm(inputs, dout, trans_a=True)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """tfjs 'same': output ceil(size/stride); returns (output, pad_before, pad_after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def window_geometry(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int, int]:
    """(output size, pad before, pad after) along one spatial axis."""
    if padding == "same":
        return same_padding(size, kernel, stride)
    return (size - kernel) // stride + 1, 0, 0


def pair(value: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(value, int | np.integer):
        return int(value), int(value)
    h, w = value
    return int(h), int(w)


def _with_initializer(config: dict, initializer: str) -> dict:
    """A layer's spec entry names its initialiser only when it is not the default, so the
    codelab's specs (and every weights file written before there was a choice) read as before."""
    if initializer != INITIALIZERS[0]:
        config["kernelInitializer"] = initializer
    return config


class Layer:
    """Base: a layer without parameters that passes shapes through."""

    kind = "layer"  # the model-spec "type"
    type_name = "Layer"  # the summary's type column, as tfjs prints it

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        """Create parameters for `input_shape` (no batch axis); return the output shape."""
        self.input_shape = tuple(input_shape)
        return self.output_shape(input_shape)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(input_shape)

    def flops(self, input_shape: tuple[int, ...]) -> int:
        """Forward FLOPs per image (multiply + add = 2); only the matrix products count."""
        return 0

    def param_count(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def count_params(self, input_shape: tuple[int, ...]) -> int:
        """Trainable parameters for `input_shape`, counted without building the layer."""
        return 0

    def config(self) -> dict:
        return {"type": self.kind}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Conv2D(Layer):
    """2-D convolution via im2col + one gemm. x [N,H,W,C] -> [N,Ho,Wo,filters]; kernel [kh,kw,C,F].

    Batches whose im2col buffer would exceed `IM2COL_BUDGET_BYTES` are processed in chunks; then
    backward rebuilds each chunk's columns instead of keeping them all. Where the backend reads
    windows in place (backend.conv_forward: the SIMD one does), forward writes no columns at all.
    """

    kind = "conv2d"
    type_name = "Conv2D"

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int] = 5,
        strides: int | tuple[int, int] = 1,
        padding: str = "valid",
        activation: str | None = None,
        needs_input_grad: bool = True,
        name: str = "",
        kernel_initializer: str = INITIALIZERS[0],
    ) -> None:
        super().__init__(name)
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        if activation not in (None, "linear", "relu"):
            raise ValueError(f"conv2d activation must be 'relu' or 'linear', got {activation!r}")
        if kernel_initializer not in INITIALIZERS:
            raise ValueError(f"kernel initializer must be one of {INITIALIZERS}, "
                             f"got {kernel_initializer!r}")
        self.kernel_initializer = kernel_initializer
        self.filters = int(filters)
        self.kernel_size = pair(kernel_size)
        self.strides = pair(strides)
        self.padding = padding
        self.activation = None if activation == "linear" else activation
        self.needs_input_grad = needs_input_grad

    def output_shape(self, input_shape):
        h, w, _ = input_shape
        oh = window_geometry(h, self.kernel_size[0], self.strides[0], self.padding)[0]
        ow = window_geometry(w, self.kernel_size[1], self.strides[1], self.padding)[0]
        return (oh, ow, self.filters)

    def build(self, input_shape, rng):
        kh, kw = self.kernel_size
        channels = input_shape[2]
        fan_in, fan_out = kh * kw * channels, kh * kw * self.filters
        self.params = {
            "kernel": initial_kernel(self.kernel_initializer, (kh, kw, channels, self.filters),
                                     fan_in, fan_out, rng),
            "bias": np.zeros(self.filters, dtype=np.float32),
        }
        return super().build(input_shape, rng)

    def count_params(self, input_shape):
        kh, kw = self.kernel_size
        return kh * kw * input_shape[-1] * self.filters + self.filters

    def flops(self, input_shape):
        oh, ow, f = self.output_shape(input_shape)
        kh, kw = self.kernel_size
        return 2 * oh * ow * f * kh * kw * input_shape[2]

    def config(self):
        config = {
            "type": self.kind,
            "filters": self.filters,
            "kernelSize": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "activation": self.activation or "linear",
        }
        return _with_initializer(config, self.kernel_initializer)

    def _pad(self, x: np.ndarray) -> np.ndarray:
        if self.padding == "valid":
            return x
        _, h, w, _ = x.shape
        _, top, bottom = same_padding(h, self.kernel_size[0], self.strides[0])
        _, left, right = same_padding(w, self.kernel_size[1], self.strides[1])
        if top == bottom == left == right == 0:
            return x
        return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))

    def _chunk(self, xp: np.ndarray) -> int:
        """Images per im2col chunk, so the column buffer stays within the budget."""
        _, hp, wp, c = xp.shape
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
        per_image = oh * ow * kh * kw * c * xp.itemsize
        return max(1, IM2COL_BUDGET_BYTES // per_image)

    def forward(self, x, training=False):
        kernel = self.params["kernel"]
        w = kernel.reshape(-1, self.filters)
        xp = self._pad(x)
        # Reading the windows in place (where the backend can) beats writing im2col's columns
        # even in training, where backward then builds the columns it needs itself.
        out, cols = backend.conv_forward(xp, w, self.kernel_size, self.strides), None
        if out is None:
            out, cols = self._forward_im2col(x, xp, w)
        backend.bias_act(out, self.params["bias"], self.activation == "relu")
        if training:
            self._xp, self._out, self._x_shape, self._cols = xp, out, x.shape, cols
        return out

    def _forward_im2col(self, x: np.ndarray, xp: np.ndarray, w: np.ndarray) -> tuple:
        """(output without bias, the columns when the batch was one chunk, else None)."""
        n, f = x.shape[0], self.filters
        oh, ow, _ = self.output_shape(x.shape[1:])
        out = np.empty((n, oh, ow, f), dtype=np.result_type(x.dtype, w.dtype))
        chunk = self._chunk(xp)
        cols = None
        for start in range(0, n, chunk):
            cols = backend.im2col(xp[start : start + chunk], self.kernel_size, self.strides)
            backend.gemm(cols, w, out=out[start : start + chunk].reshape(-1, f))
        return out, cols if chunk >= n else None

    def backward(self, dout):
        dout, dbias = backend.grad_bias(dout, self._out, self.activation == "relu")
        xp, n, f = self._xp, dout.shape[0], self.filters
        w = self.params["kernel"].reshape(-1, f)
        chunk = self._chunk(xp)
        dw = np.zeros(w.shape, dtype=np.result_type(dout.dtype, w.dtype))
        dxp = np.zeros(xp.shape, dtype=dw.dtype) if self.needs_input_grad else None
        for start in range(0, n, chunk):
            part = xp[start : start + chunk]
            if self._cols is not None:
                cols = self._cols
            else:
                cols = backend.im2col(part, self.kernel_size, self.strides)
            d = dout[start : start + chunk].reshape(-1, f)
            dw += weight_grad(cols, d)
            if dxp is not None:
                backend.conv_input_grad(d, w, dxp[start : start + chunk], self.kernel_size,
                                        self.strides)
        self.grads = {"kernel": dw.reshape(self.params["kernel"].shape), "bias": dbias}
        self._cols = None  # free the big buffer early
        if dxp is None:
            return None
        _, h, wd, _ = self._x_shape
        top = (dxp.shape[1] - h) // 2 if self.padding == "same" else 0
        left = (dxp.shape[2] - wd) // 2 if self.padding == "same" else 0
        return dxp[:, top : top + h, left : left + wd]


class MaxPool2D(Layer):
    """Max pooling. x [N,H,W,C] -> [N,Ho,Wo,C].

    Ties: the gradient goes to exactly one element per window, the first maximum in row-major
    window order (as argmax picks it), so the gradient sums match the output's.
    """

    kind = "maxPooling2d"
    type_name = "MaxPooling2D"

    def __init__(
        self,
        pool_size: int | tuple[int, int] = 2,
        strides: int | tuple[int, int] | None = None,
        padding: str = "valid",
        name: str = "",
    ) -> None:
        super().__init__(name)
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.pool_size = pair(pool_size)
        self.strides = pair(strides) if strides is not None else self.pool_size
        self.padding = padding

    def _geometry(self, h: int, w: int):
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        return (
            window_geometry(h, ph, sh, self.padding),
            window_geometry(w, pw, sw, self.padding),
        )

    def output_shape(self, input_shape):
        h, w, c = input_shape
        (oh, _, _), (ow, _, _) = self._geometry(h, w)
        return (oh, ow, c)

    def config(self):
        return {
            "type": self.kind,
            "poolSize": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
        }

    @property
    def _tiles(self) -> bool:
        return self.pool_size == self.strides

    def _offsets(self) -> list[tuple[int, int]]:
        """Window positions in row-major order: the order that decides ties."""
        return [(i, j) for i in range(self.pool_size[0]) for j in range(self.pool_size[1])]

    def _windows(self, xp: np.ndarray, oh: int, ow: int) -> np.ndarray:
        """Overlapping windows: [n,Hp,Wp,C] -> [n,Ho,Wo,C,ph*pw] (a copy), row-major."""
        n, _, _, c = xp.shape
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        bn, bh, bw, bc = xp.strides
        windows = as_strided(
            xp, (n, oh, ow, c, ph, pw), (bn, bh * sh, bw * sw, bc, bh, bw), writeable=False
        )
        return windows.reshape(n, oh, ow, c, ph * pw)

    def forward(self, x, training=False):
        n, h, w, c = x.shape
        (oh, top, bottom), (ow, left, right) = self._geometry(h, w)
        (ph, pw) = self.pool_size
        xp = x
        if top or bottom or left or right:
            pad = ((0, 0), (top, bottom), (left, right), (0, 0))
            xp = np.pad(x, pad, constant_values=-np.inf)
        self._xp_shape, self._x_shape, self._pad_offsets = xp.shape, x.shape, (top, left)
        if self._tiles:
            out = backend.pool_forward(xp, ph, pw)
            if training:
                self._xp, self._out = xp, out
            return out
        windows = self._windows(xp, oh, ow)
        argmax = windows.argmax(axis=-1)  # first maximum wins ties
        if training:
            self._argmax = argmax
        return np.take_along_axis(windows, argmax[..., None], axis=-1)[..., 0]

    def backward(self, dout):
        n, oh, ow, c = dout.shape
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        if self._tiles:
            dxp = backend.pool_backward(self._xp, self._out, dout, ph, pw)
        else:
            dxp = np.zeros(self._xp_shape, dtype=dout.dtype)
            dwin = (self._argmax[..., None] == np.arange(ph * pw)) * dout[..., None]
            d6 = dwin.reshape(n, oh, ow, c, ph, pw)
            for i, j in self._offsets():  # overlapping windows: one add per pool offset
                dxp[:, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] += d6[
                    ..., i, j
                ]
        _, h, w, _ = self._x_shape
        top, left = self._pad_offsets
        return dxp[:, top : top + h, left : left + w]


class Flatten(Layer):
    """[N, ...] -> [N, prod(...)] in C order (h, w, c), the same order as tfjs."""

    kind = "flatten"
    type_name = "Flatten"

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        self._x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self._x_shape)


class Dense(Layer):
    """Fully connected. x [N,in] -> [N,units]; kernel [in,units].

    activation 'softmax' is recorded for the spec, but forward returns the logits: the model
    applies softmax (predict) or fuses it with the cross-entropy (training).
    """

    kind = "dense"
    type_name = "Dense"

    def __init__(self, units: int, activation: str | None = None, name: str = "",
                 kernel_initializer: str = INITIALIZERS[0]) -> None:
        super().__init__(name)
        if activation not in (None, "linear", "relu", "softmax"):
            raise ValueError(f"dense activation must be relu/softmax/linear, got {activation!r}")
        if kernel_initializer not in INITIALIZERS:
            raise ValueError(f"kernel initializer must be one of {INITIALIZERS}, "
                             f"got {kernel_initializer!r}")
        self.kernel_initializer = kernel_initializer
        self.units = int(units)
        self.activation = None if activation == "linear" else activation

    def output_shape(self, input_shape):
        return (self.units,)

    def build(self, input_shape, rng):
        fan_in = input_shape[-1]
        self.params = {
            "kernel": initial_kernel(self.kernel_initializer, (fan_in, self.units), fan_in,
                                     self.units, rng),
            "bias": np.zeros(self.units, dtype=np.float32),
        }
        return super().build(input_shape, rng)

    def count_params(self, input_shape):
        return input_shape[-1] * self.units + self.units

    def flops(self, input_shape):
        return 2 * input_shape[-1] * self.units

    def config(self):
        config = {"type": self.kind, "units": self.units,
                  "activation": self.activation or "linear"}
        return _with_initializer(config, self.kernel_initializer)

    def forward(self, x, training=False):
        out = backend.gemm(x, self.params["kernel"])
        backend.bias_act(out, self.params["bias"], self.activation == "relu")
        if training:
            self._x, self._out = x, out
        return out

    def backward(self, dout):
        dout, dbias = backend.grad_bias(dout, self._out, self.activation == "relu")
        self.grads = {"kernel": weight_grad(self._x, dout), "bias": dbias}
        return backend.gemm(dout, self.params["kernel"], trans_b=True)


class ReLU(Layer):
    """max(x, 0), any shape."""

    kind = "relu"
    type_name = "ReLU"

    def forward(self, x, training=False):
        out = np.maximum(x, 0)
        if training:
            self._mask = x > 0
        return out

    def backward(self, dout):
        return dout * self._mask


class Dropout(Layer):
    """Inverted dropout, any shape: training zeroes a `rate` fraction and scales by 1/(1-rate)."""

    kind = "dropout"
    type_name = "Dropout"

    def __init__(self, rate: float, seed: int = 0, name: str = "") -> None:
        super().__init__(name)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.rng = np.random.default_rng(seed)
        # (first row, batch rows) while this replica trains on a shard of a batch
        # (nn/parallel.py): the mask is drawn for the whole batch and this shard's rows kept,
        # so every replica's stream stays in step and the masks are one worker's.
        self.rows: tuple[int, int] | None = None

    def config(self):
        return {"type": self.kind, "rate": self.rate}

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        if self.rows is None:
            keep = self.rng.random(x.shape, dtype=np.float32) >= self.rate
        else:
            start, total = self.rows
            whole = self.rng.random((total, *x.shape[1:]), dtype=np.float32)
            keep = whole[start : start + len(x)] >= self.rate
        self._mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.rate))
        return x * self._mask

    def backward(self, dout):
        return dout if self._mask is None else dout * self._mask
