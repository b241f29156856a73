"""Canonical names for Keras and TensorFlow objects, whatever the import style.

libcst's QualifiedNameProvider resolves `tf.keras.layers.Dense`, `from tensorflow.keras import layers
as L; L.Dense` and `from keras.layers import Dense as D; D` to a dotted import path; this module folds
the many paths of one object into one key: "layers.Dense", "Sequential", "optimizers.Adam",
"activations.relu", "tf.nn.relu", ...
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import QualifiedNameProvider

# Longest first: the part of an import path that only says "Keras".
_KERAS_PREFIXES = (
    "tensorflow.python.keras.",
    "tensorflow.compat.v1.keras.",
    "tensorflow.compat.v2.keras.",
    "tensorflow.keras.",
    "tf_keras.",
    "keras.src.",
    "keras.api.",
    "keras._tf_keras.keras.",
    "keras.",
)

# Keras 2 submodules that hold the same objects as their package.
_SUBMODULES = {
    "layers.core.": "layers.",
    "layers.convolutional.": "layers.",
    "layers.pooling.": "layers.",
    "layers.normalization.": "layers.",
    "layers.normalization_v2.": "layers.",
    "layers.embeddings.": "layers.",
    "layers.advanced_activations.": "layers.",
    "optimizers.legacy.": "optimizers.",
    "optimizers.experimental.": "optimizers.",
}

_ALIASES = {
    "models.Sequential": "Sequential",
    "engine.sequential.Sequential": "Sequential",
    "models.Model": "Model",
    "engine.training.Model": "Model",
    "layers.Input": "Input",
    "engine.input_layer.Input": "Input",
    "utils.np_utils.to_categorical": "utils.to_categorical",
}


def canonical(qualified: str) -> str | None:
    """The canonical key of a qualified name, or None when it is not TensorFlow or Keras."""
    for prefix in _KERAS_PREFIXES:
        if qualified.startswith(prefix):
            rest = qualified[len(prefix) :]
            for old, new in _SUBMODULES.items():
                if rest.startswith(old):
                    rest = new + rest[len(old) :]
            return _ALIASES.get(rest, rest)
    if qualified == "tensorflow" or qualified.startswith("tensorflow."):
        return "tf." + qualified[len("tensorflow.") :] if qualified != "tensorflow" else "tf"
    if qualified == "keras":
        return "keras"
    return None


def is_keras_root(qualified: str) -> bool:
    return qualified in {"keras", "tensorflow", "tf_keras"} or canonical(qualified) is not None


class Resolver:
    """Looks up the canonical key of an expression node inside one MetadataWrapper's module."""

    def __init__(self, qualified_names):
        self._qualified = qualified_names
        self._keys: dict[cst.CSTNode, str | None] = {}  # analysis and rewriting ask for the same nodes

    def key(self, node: cst.CSTNode) -> str | None:
        try:
            return self._keys[node]
        except KeyError:
            pass
        names = self._qualified.get(node) or ()
        if callable(names):  # libcst resolves some metadata lazily
            names = names()
        keys = sorted({k for q in names if (k := canonical(q.name)) is not None})
        key = self._keys[node] = keys[0] if keys else None
        return key


def resolver_for(wrapper) -> Resolver:
    return Resolver(wrapper.resolve(QualifiedNameProvider))
