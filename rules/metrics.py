"""Keras metrics -> how the generated loop computes them (k2t/loops.py writes the code).

A metric is averaged over all its values, as Keras's Mean metrics do: per sample for (N, C) outputs,
per token for sequence outputs (N, T, C). Metrics are not weighted by sample_weight (compile's
`weighted_metrics` are). 'accuracy' resolves in Keras 3 from the shapes of labels and outputs, not
from the loss: binary for a one-unit output, sparse categorical when the labels have one rank less
(sparse crossentropy), categorical otherwise (so a multi-label sigmoid output gets categorical
accuracy).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """A compiled metric: its History key and how it is computed."""

    name: str
    kind: str  # categorical_accuracy, sparse_categorical_accuracy, binary_accuracy, mae, mse, rmse
    threshold: float = 0.5


# Keras metric names and classes -> (kind, default name of a metric object)
METRIC_KINDS = {
    "categorical_accuracy": "categorical_accuracy",
    "sparse_categorical_accuracy": "sparse_categorical_accuracy",
    "binary_accuracy": "binary_accuracy",
    "mae": "mae",
    "mean_absolute_error": "mae",
    "mse": "mse",
    "mean_squared_error": "mse",
}
METRIC_CLASSES = {
    "CategoricalAccuracy": ("categorical_accuracy", "categorical_accuracy"),
    "SparseCategoricalAccuracy": ("sparse_categorical_accuracy", "sparse_categorical_accuracy"),
    "BinaryAccuracy": ("binary_accuracy", "binary_accuracy"),
    "MeanAbsoluteError": ("mae", "mean_absolute_error"),
    "MeanSquaredError": ("mse", "mean_squared_error"),
    "RootMeanSquaredError": ("rmse", "root_mean_squared_error"),
}
ACCURACY = {"accuracy", "acc"}


def resolve_accuracy(sparse_loss: bool, output_units) -> str:
    """'accuracy' as Keras 3 resolves it, from the shapes of labels and outputs: a one-unit output
    gets binary accuracy, labels of lower rank (sparse crossentropy) sparse categorical accuracy,
    anything else categorical accuracy (so does a multi-label sigmoid output)."""
    if output_units == 1:
        return "binary_accuracy"
    return "sparse_categorical_accuracy" if sparse_loss else "categorical_accuracy"
