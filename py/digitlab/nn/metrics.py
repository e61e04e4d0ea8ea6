"""Accuracy, per-class accuracy, confusion matrix.

Labels and predictions are int class indices [N]; cast to np.intp because np.bincount rejects
int64 indices on wasm32 (Pyodide).
"""

from __future__ import annotations

import numpy as np

NUM_CLASSES = 10


def predicted_classes(probabilities: np.ndarray) -> np.ndarray:
    """[N,10] scores -> int classes [N]."""
    return np.asarray(probabilities).argmax(axis=1).astype(np.intp)


def accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Fraction of predictions equal to labels (0.0 for no examples)."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    return float((labels == predictions).mean()) if labels.size else 0.0


def confusion_matrix(
    labels: np.ndarray, predictions: np.ndarray, num_classes: int = NUM_CLASSES
) -> np.ndarray:
    """Counts [num_classes, num_classes]: confusion[true][predicted]."""
    pairs = np.asarray(labels, dtype=np.intp) * num_classes + np.asarray(predictions, np.intp)
    counts = np.bincount(pairs, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def per_class_accuracy(
    labels: np.ndarray, predictions: np.ndarray, num_classes: int = NUM_CLASSES
) -> tuple[np.ndarray, np.ndarray]:
    """(accuracy per true class [10] float64, examples per class [10] int); 0.0 where none."""
    confusion = confusion_matrix(labels, predictions, num_classes)
    counts = confusion.sum(axis=1)
    correct = np.diag(confusion)
    return np.where(counts > 0, correct / np.maximum(counts, 1), 0.0), counts

