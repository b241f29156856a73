"""Keras activations as torch expressions. {x} is the input, {dim} the channel/feature axis.

Keras 3 semantics: 'gelu' is exact (approximate=False), 'leaky_relu' has slope 0.2, 'hard_sigmoid'
is relu6(x + 3) / 6 (torch.nn.functional.hardsigmoid), 'swish' is silu.
"""

from __future__ import annotations

ACTIVATIONS: dict[str, str] = {
    "linear": "{x}",
    "relu": "torch.relu({x})",
    "sigmoid": "torch.sigmoid({x})",
    "tanh": "torch.tanh({x})",
    "softmax": "torch.softmax({x}, dim={dim})",
    "log_softmax": "torch.log_softmax({x}, dim={dim})",
    "elu": "F.elu({x})",
    "selu": "F.selu({x})",
    "softplus": "F.softplus({x})",
    "softsign": "F.softsign({x})",
    "swish": "F.silu({x})",
    "silu": "F.silu({x})",
    "gelu": "F.gelu({x})",
    "relu6": "F.relu6({x})",
    "leaky_relu": "F.leaky_relu({x}, 0.2)",
    "hard_sigmoid": "F.hardsigmoid({x})",
    "hard_silu": "F.hardswish({x})",
    "hard_swish": "F.hardswish({x})",
    "mish": "F.mish({x})",
    "exponential": "torch.exp({x})",
}

# Function objects that name an activation: keras.activations.relu, tf.nn.relu, tf.math.tanh, ...
_FUNCTION_KEYS = {
    "tf.nn.relu": "relu",
    "tf.nn.sigmoid": "sigmoid",
    "tf.math.sigmoid": "sigmoid",
    "tf.sigmoid": "sigmoid",
    "tf.nn.tanh": "tanh",
    "tf.math.tanh": "tanh",
    "tf.tanh": "tanh",
    "tf.nn.softmax": "softmax",
    "tf.nn.log_softmax": "log_softmax",
    "tf.nn.elu": "elu",
    "tf.nn.selu": "selu",
    "tf.nn.softplus": "softplus",
    "tf.nn.softsign": "softsign",
    "tf.nn.swish": "swish",
    "tf.nn.silu": "silu",
    "tf.nn.gelu": "gelu",
    "tf.nn.relu6": "relu6",
    "tf.math.exp": "exponential",
    "tf.exp": "exponential",
}

# The inverse of activations fused into the loss (softmax + crossentropy, sigmoid + BCE).
OUTPUT_ACTIVATIONS = {"softmax": "torch.softmax({x}, dim=-1)", "sigmoid": "torch.sigmoid({x})"}


def activation_name(key_or_string: str | None) -> str | None:
    """'relu' from 'relu', 'activations.relu' or 'tf.nn.relu'; None when it is not an activation."""
    if key_or_string is None:
        return "linear"
    if key_or_string in _FUNCTION_KEYS:
        return _FUNCTION_KEYS[key_or_string]
    name = key_or_string.removeprefix("activations.")
    return name if name in ACTIVATIONS else None


def render(name: str, x: str, dim: int = -1) -> str:
    return ACTIVATIONS[name].format(x=x, dim=dim)
