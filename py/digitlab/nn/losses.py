"""Softmax fused with categorical cross-entropy."""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Stable log-softmax over the last axis. [N,K] -> [N,K]"""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Stable softmax over the last axis. [N,K] -> [N,K]"""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def softmax_cross_entropy(logits: np.ndarray, y_onehot: np.ndarray,
                          batch_size: int | None = None) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) against one-hot targets, and d loss / d logits.

    logits [N,K], y_onehot [N,K] -> (loss, dlogits [N,K]); the fused gradient is (p - y) / N.
    `batch_size`: the rows of the whole batch when these N are one shard of it (N is then
    replaced by it): the loss is this shard's share of the batch's mean, and the shards'
    gradients add up to the batch's.
    """
    n = logits.shape[0] if batch_size is None else batch_size
    logp = log_softmax(logits)
    loss = float(-(y_onehot * logp).sum() / n)
    dlogits = (np.exp(logp) - y_onehot) / logits.dtype.type(n)
    return loss, dlogits.astype(logits.dtype, copy=False)


def cross_entropy_per_example(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """-log softmax(logits)[label] per row. logits [N,K], int labels [N] -> [N] float64"""
    logp = log_softmax(logits)
    return -logp[np.arange(logits.shape[0]), labels.astype(np.intp)].astype(np.float64)
