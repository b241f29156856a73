"""Keras initializers -> torch.nn.init calls, so a translated model starts training like the original.

Keras: kernels glorot_uniform, biases zeros, embeddings uniform(-0.05, 0.05). Torch's defaults differ
(kaiming-uniform with a=sqrt(5)). glorot_normal/he_normal/lecun_normal are truncated normals in
Keras: nn.init.trunc_normal_ with the same standard deviation (Keras truncates at 2 std).
"""

from __future__ import annotations

# name -> template with {w}; {fan_in} etc. are resolved by torch itself where it can.
INITIALIZERS: dict[str, str] = {
    "glorot_uniform": "nn.init.xavier_uniform_({w})",
    "he_uniform": 'nn.init.kaiming_uniform_({w}, nonlinearity="relu")',
    "zeros": "nn.init.zeros_({w})",
    "ones": "nn.init.ones_({w})",
    "uniform": "nn.init.uniform_({w}, -0.05, 0.05)",
    "random_uniform": "nn.init.uniform_({w}, -0.05, 0.05)",
    "random_normal": "nn.init.normal_({w}, std=0.05)",
    "orthogonal": "nn.init.orthogonal_({w})",
}

ALIASES = {
    "GlorotUniform": "glorot_uniform",
    "HeUniform": "he_uniform",
    "Zeros": "zeros",
    "Ones": "ones",
    "RandomUniform": "random_uniform",
    "RandomNormal": "random_normal",
    "Orthogonal": "orthogonal",
}


def initializer_code(name, target: str) -> str | None:
    """The init call for a Keras initializer name, or None when it has no translation."""
    if name is None:
        return None
    name = ALIASES.get(name, name)
    template = INITIALIZERS.get(name)
    return template.format(w=target) if template else None

