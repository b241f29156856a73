"""Keras initializers -> torch.nn.init calls, so a translated model starts training like the original.

Keras: kernels glorot_uniform, biases zeros, embeddings uniform(-0.05, 0.05). Torch's defaults differ
(kaiming-uniform with a=sqrt(5)). glorot_normal/he_normal/lecun_normal are truncated normals in
Keras: nn.init.trunc_normal_ with the same standard deviation (Keras truncates at 2 std).

The glorot/he/lecun initialisers scale with the kernel's fans, which Keras computes from its own
kernel shape (compute_fans: the last two axes times the receptive field). torch's nn.init computes
them from the torch weight; where that layout gives other fans (DepthwiseConv2D's grouped
(in * mult, 1, kh, kw) weight, Embedding's (num, dim) table) or torch has no such initialiser (the
truncated normals), the bounds are computed here from Keras's fans and written out.
"""

from __future__ import annotations

import math

# name -> template with {w}: the initialisers whose scale does not depend on the fans.
INITIALIZERS: dict[str, str] = {
    "zeros": "nn.init.zeros_({w})",
    "ones": "nn.init.ones_({w})",
    "uniform": "nn.init.uniform_({w}, -0.05, 0.05)",
    "random_uniform": "nn.init.uniform_({w}, -0.05, 0.05)",
    "random_normal": "nn.init.normal_({w}, std=0.05)",
    # Keras truncates at 2 standard deviations, as trunc_normal_'s bounds do here.
    "truncated_normal": "nn.init.trunc_normal_({w}, std=0.05, a=-0.1, b=0.1)",
    "orthogonal": "nn.init.orthogonal_({w})",
}

# keras.initializers.VarianceScaling (scale, mode, distribution) of the fan-scaled initialisers.
VARIANCE_SCALING: dict[str, tuple[float, str, str]] = {
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
    "variance_scaling": (1.0, "fan_in", "truncated_normal"),  # VarianceScaling's defaults
}
# Keras divides the std by this (the std of a unit normal truncated at 2) so that the truncated
# draws have the wanted std.
_TRUNCATED_STD = 0.87962566103423978
_TORCH_UNIFORM = {
    "glorot_uniform": "nn.init.xavier_uniform_({w})",
    "he_uniform": 'nn.init.kaiming_uniform_({w}, nonlinearity="relu")',
    "lecun_uniform": 'nn.init.kaiming_uniform_({w}, nonlinearity="linear")',
}

ALIASES = {
    "GlorotUniform": "glorot_uniform",
    "GlorotNormal": "glorot_normal",
    "HeUniform": "he_uniform",
    "HeNormal": "he_normal",
    "LecunUniform": "lecun_uniform",
    "LecunNormal": "lecun_normal",
    "VarianceScaling": "variance_scaling",
    "Zeros": "zeros",
    "Ones": "ones",
    "RandomUniform": "random_uniform",
    "RandomNormal": "random_normal",
    "normal": "random_normal",  # Keras's older name
    "TruncatedNormal": "truncated_normal",
    "Orthogonal": "orthogonal",
}


def keras_fans(shape) -> tuple[int, int] | None:
    """(fan_in, fan_out) of a Keras kernel shape, as keras.initializers computes them; None when a
    size is known only at run time."""
    if shape is None or not all(isinstance(d, int) for d in shape):
        return None
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _fan_scaled(name: str, target: str, fans, torch_fans: bool) -> str | None:
    scale, mode, distribution = VARIANCE_SCALING[name]
    if torch_fans and name in _TORCH_UNIFORM:
        return _TORCH_UNIFORM[name].format(w=target)
    if fans is None and torch_fans:
        # Sizes known only at run time: torch's weight has Keras's fans, (out, in, *kernel) against
        # Keras's (*kernel, in, out): fan_in = weight[0].numel(), fan_out = weight[:, 0].numel().
        fan_in, fan_out = f"{target}[0].numel()", f"{target}[:, 0].numel()"
        n = fan_in if mode == "fan_in" else f"({fan_in} + {fan_out}) / 2"
        why = f"# {name}, with Keras's fans read from the weight"
        if distribution == "uniform":
            return f"{why}\nlimit = ({3.0 * scale!r} / max(1.0, {n})) ** 0.5\nnn.init.uniform_({target}, -limit, limit)"
        return (
            f"{why}, truncated at 2 std\nstd = ({scale!r} / max(1.0, {n})) ** 0.5 / {_TRUNCATED_STD!r}\n"
            f"nn.init.trunc_normal_({target}, std=std, a=-2 * std, b=2 * std)"
        )
    if fans is None:
        return None
    fan_in, fan_out = fans
    n = max(1.0, fan_in if mode == "fan_in" else (fan_in + fan_out) / 2)
    why = f"# {name} with Keras's fans: fan_in={fan_in}, fan_out={fan_out}"
    if distribution == "uniform":
        limit = f"{math.sqrt(3.0 * scale / n):.8g}"
        return f"{why}\nnn.init.uniform_({target}, -{limit}, {limit})"
    std = math.sqrt(scale / n) / _TRUNCATED_STD
    return (
        f"{why}, truncated at 2 std\nstd = {std:.8g}\n"
        f"nn.init.trunc_normal_({target}, std=std, a=-2 * std, b=2 * std)"
    )


def initializer_code(name, target: str, fans=None, torch_fans: bool = True) -> str | None:
    """The init call for a Keras initializer name (lines, a comment first where the bounds are
    written out), or None when it has no translation.

    fans: Keras's (fan_in, fan_out) of the kernel (keras_fans), None when unknown; torch_fans: whether
    torch's nn.init computes the same fans from `target` (False for layouts that differ).
    """
    if name is None:
        return None
    name = ALIASES.get(name, name)
    if name in VARIANCE_SCALING:
        return _fan_scaled(name, target, fans, torch_fans)
    template = INITIALIZERS.get(name)
    return template.format(w=target) if template else None
