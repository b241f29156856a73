"""Keras metric names -> the metric functions written into the output (see snippets.py).

'accuracy' resolves as Keras resolves it: binary accuracy for a one-unit output or a binary loss,
sparse categorical accuracy with the sparse loss, categorical accuracy otherwise.
"""

from __future__ import annotations

# Keras name -> snippet function (per-sample values)
METRICS = {
    "mae": "mean_absolute_error",
    "mean_absolute_error": "mean_absolute_error",
    "mse": "mean_squared_error",
    "mean_squared_error": "mean_squared_error",
    "categorical_accuracy": "categorical_accuracy",
    "sparse_categorical_accuracy": "sparse_categorical_accuracy",
    "binary_accuracy": "binary_accuracy",
}

ACCURACY = {"accuracy", "acc"}


def resolve_accuracy(loss_accuracy: str, output_units) -> str:
    if output_units == 1 or loss_accuracy == "binary":
        return "binary_accuracy"
    return f"{loss_accuracy}_accuracy"
