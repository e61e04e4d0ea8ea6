"""The compute backends behind one registry: the layers call `backend.gemm`, `backend.im2col`, ...
and never know which backend runs (NumPy's, or the WebAssembly SIMD kernels of `backend.wasm`).
"""

from digitlab.backend.registry import (
    backends,
    bias_act,
    col2im_add,
    conv_forward,
    conv_input_grad,
    gemm,
    get_backend,
    grad_bias,
    im2col,
    pool_backward,
    pool_forward,
    register_backend,
    set_backend,
)

__all__ = ["backends", "bias_act", "col2im_add", "conv_forward", "conv_input_grad", "gemm",
           "get_backend", "grad_bias", "im2col", "pool_backward", "pool_forward",
           "register_backend", "set_backend"]
