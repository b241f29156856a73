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
    "layers.recurrent.": "layers.",
    "layers.merge.": "layers.",
    "layers.wrappers.": "layers.",
    "layers.noise.": "layers.",
    "layers.experimental.preprocessing.": "layers.",
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


# The Keras modules that TensorFlow 2 also exports at its top level (tf.optimizers is tf.keras.optimizers).
_TF_KERAS_ALIASES = ("optimizers", "losses", "metrics", "initializers")


def canonical(qualified: str) -> str | None:
    """The canonical key of a qualified name, or None when it is not TensorFlow or Keras."""
    for prefix in _KERAS_PREFIXES:
        if qualified.startswith(prefix):
            rest = qualified[len(prefix) :]
            for old, new in _SUBMODULES.items():
                if rest.startswith(old):
                    rest = new + rest[len(old) :]
            parts = rest.split(".")
            if parts[0] == "layers" and len(parts) > 2 and parts[-1][:1].isupper():
                rest = "layers." + parts[-1]  # a layer class by its module's path: keras.layers.rnn.lstm.LSTM
            return _ALIASES.get(rest, rest)
    for module in _TF_KERAS_ALIASES:  # TF 2's tf.optimizers, tf.losses, ...: Keras's own modules
        if qualified.startswith(f"tensorflow.{module}."):
            return canonical("tensorflow.keras." + qualified[len("tensorflow.") :])
    if qualified == "tensorflow" or qualified.startswith("tensorflow."):
        return "tf." + qualified[len("tensorflow.") :] if qualified != "tensorflow" else "tf"
    if qualified == "keras":
        return "keras"
    return None


def is_keras_root(qualified: str) -> bool:
    return qualified in {"keras", "tensorflow", "tf_keras"} or canonical(qualified) is not None


# The Keras modules whose names `from <module> import *` brings in, by canonical key ("" for keras).
STAR_MODULES = (
    "", "layers", "models", "optimizers", "optimizers.schedules", "losses", "metrics", "callbacks",
    "activations", "initializers", "regularizers", "constraints", "utils", "backend", "preprocessing",
    "preprocessing.image", "preprocessing.sequence", "applications", "datasets", "ops",
)


def star_imports(module: cst.Module) -> list[str]:
    """Canonical keys of the Keras modules that `from ... import *` statements name (outer ones)."""
    from k2t import cstwalk

    found = []
    for node in cstwalk.imports(module):
        if isinstance(node, cst.ImportFrom) and isinstance(node.names, cst.ImportStar) and node.module is not None:
            path = cst.Module([]).code_for_node(node.module)
            key = "" if path in ("keras", "tensorflow.keras", "tf_keras") else canonical(path)
            if key is not None and key in STAR_MODULES:
                found.append(key)
    return found


class Resolver:
    """Looks up the canonical key of an expression node inside one MetadataWrapper's module.

    Names that only a Keras `import *` can have bound resolve through the exports table
    (k2t/_keras_exports.py): libcst does not follow star imports."""

    def __init__(self, qualified_names, star_modules: list[str] | tuple = ()):
        self._qualified = qualified_names
        self._keys: dict[cst.CSTNode, str | None] = {}  # analysis and rewriting ask for the same nodes
        self._star = star_modules
        # Specialised copies of the module's nodes (a helper function read with its arguments
        # substituted) -> the nodes they copy, whose names they resolve like.
        self.copies: dict[cst.CSTNode, cst.CSTNode] = {}

    def key(self, node: cst.CSTNode) -> str | None:
        node = self.copies.get(node, node)
        try:
            return self._keys[node]
        except KeyError:
            pass
        names = self._qualified.get(node) or ()
        if callable(names):  # libcst resolves some metadata lazily
            names = names()
        keys = sorted({k for q in names if (k := canonical(q.name)) is not None})
        if not names and self._star and isinstance(node, cst.Name):
            keys = [_star_key(module, node.value) for module in self._star if _exported(module, node.value)][:1]
        key = self._keys[node] = keys[0] if keys else None
        return key


def _exported(module: str, name: str) -> bool:
    from k2t._keras_exports import EXPORTS

    return name in EXPORTS.get(module, ())


def _star_key(module: str, name: str) -> str:
    rest = f"{module}.{name}" if module else name
    return _ALIASES.get(rest, rest)


def resolver_for(wrapper) -> Resolver:
    return Resolver(wrapper.resolve(QualifiedNameProvider), star_imports(wrapper.module))


def _generate_exports() -> str:
    """k2t/_keras_exports.py from the installed Keras: what `import *` takes from each module."""
    import importlib
    import os

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    lines = [
        '"""Generated by `python -m k2t.names` from the Keras version below: the names `from <module> import *`',
        'binds, per canonical module key ("" for keras itself). tests/test_star_imports.py checks it."""',
        "",
        f'KERAS_VERSION = "{keras.__version__}"',
        "",
        "EXPORTS = {",
    ]
    for key in STAR_MODULES:
        module = importlib.import_module(f"keras.{key}" if key else "keras")
        names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
        lines.append(f'    "{key}": frozenset(')
        lines.append("        {")
        lines += [f'            "{name}",' for name in sorted(names)]
        lines.append("        }")
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    from pathlib import Path

    Path(__file__).with_name("_keras_exports.py").write_text(_generate_exports(), encoding="utf-8")
