"""TensorFlow/Keras functions called outside models -> torch/numpy expressions or snippets.

Templates use {0}, {1}, ... for positional arguments; a snippet name means the helper of that name
(see snippets.py) is copied into the output and called with the same arguments.
"""

from __future__ import annotations

# canonical key -> (template, snippet the template needs or None)
FUNCTIONS: dict[str, tuple[str, str | None]] = {
    "utils.to_categorical": ("to_categorical({args})", "to_categorical"),
    # TF's global seed is the backend's only; Keras's also seeds Python's random and NumPy.
    "tf.random.set_seed": ("torch.manual_seed({args})", None),
    "utils.set_random_seed": ("set_random_seed({args})", "set_random_seed"),
    "tf.keras.utils.set_random_seed": ("set_random_seed({args})", "set_random_seed"),
    # The same files as Keras's loaders, read into the same arrays (rules/snippets.py).
    "datasets.mnist.load_data": ("load_mnist({args})", "load_mnist"),
    "datasets.fashion_mnist.load_data": ("load_fashion_mnist({args})", "load_fashion_mnist"),
    "datasets.cifar10.load_data": ("load_cifar10({args})", "load_cifar10"),
    "datasets.boston_housing.load_data": ("load_boston_housing({args})", "load_boston_housing"),
    "datasets.imdb.load_data": ("load_imdb({args})", "load_imdb"),
    "utils.pad_sequences": ("pad_sequences({args})", "pad_sequences"),
    "preprocessing.sequence.pad_sequences": ("pad_sequences({args})", "pad_sequences"),
    "utils.get_file": ("get_file({args})", "get_file"),
}

# Arguments whose use keeps a function for a human (with the reason), and how many positional
# arguments the translation takes.
REFUSED: dict[str, tuple[dict[str, str], int]] = {
    "utils.get_file": (
        {
            "untar": "archives are not extracted",
            "extract": "archives are not extracted",
            "file_hash": "the hash is not checked",
            "md5_hash": "the hash is not checked",
            "archive_format": "archives are not extracted",
            "force_download": "not translated",
            "hash_algorithm": "the hash is not checked",
        },
        2,
    ),
}

# Calls made for their effect on Keras's own state or display, as statements of their own -> the
# lines that stand in their place ({0}: the first argument, which for plot_model must be a model
# k2t translated).
STATEMENTS: dict[str, list[str]] = {
    "backend.clear_session": [
        "# keras.backend.clear_session() reset Keras's global state (layer name counters, graphs);",
        "# torch keeps none, so nothing stands in its place.",
    ],
    "utils.plot_model": [
        "# keras.utils.plot_model drew the model's graph to an image; torch has no drawing built in.",
        "print({0})",
    ],
}
