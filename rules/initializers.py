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
from dataclasses import dataclass

# name -> template with {w}: the initialisers whose scale does not depend on the fans.
INITIALIZERS: dict[str, str] = {
    "zeros": "nn.init.zeros_({w})",
    "ones": "nn.init.ones_({w})",
    "constant": "nn.init.zeros_({w})",  # Constant()'s default value is 0
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
    "Constant": "constant",
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


def _fan_scaled(name: str, target: str, fans, torch_fans: bool, given: tuple | None = None) -> str | None:
    scale, mode, distribution = given or VARIANCE_SCALING[name]
    if distribution == "normal":  # Keras 2's name for truncated_normal
        distribution = "truncated_normal"
    if given is None and torch_fans and name in _TORCH_UNIFORM:
        return _TORCH_UNIFORM[name].format(w=target)
    if fans is None and torch_fans:
        # Sizes known only at run time: torch's weight has Keras's fans, (out, in, *kernel) against
        # Keras's (*kernel, in, out): fan_in = weight[0].numel(), fan_out = weight[:, 0].numel().
        fan_in, fan_out = f"{target}[0].numel()", f"{target}[:, 0].numel()"
        n = {"fan_in": fan_in, "fan_out": fan_out}.get(mode, f"({fan_in} + {fan_out}) / 2")
        why = f"# {name}, with Keras's fans read from the weight"
        if distribution == "uniform":
            return f"{why}\nlimit = ({3.0 * scale!r} / max(1.0, {n})) ** 0.5\nnn.init.uniform_({target}, -limit, limit)"
        if distribution == "untruncated_normal":
            return f"{why}\nnn.init.normal_({target}, std=({scale!r} / max(1.0, {n})) ** 0.5)"
        return (
            f"{why}, truncated at 2 std\nstd = ({scale!r} / max(1.0, {n})) ** 0.5 / {_TRUNCATED_STD!r}\n"
            f"nn.init.trunc_normal_({target}, std=std, a=-2 * std, b=2 * std)"
        )
    if fans is None:
        return None
    fan_in, fan_out = fans
    n = max(1.0, {"fan_in": fan_in, "fan_out": fan_out}.get(mode, (fan_in + fan_out) / 2))
    why = f"# {name} with Keras's fans: fan_in={fan_in}, fan_out={fan_out}"
    if distribution == "uniform":
        limit = f"{math.sqrt(3.0 * scale / n):.8g}"
        return f"{why}\nnn.init.uniform_({target}, -{limit}, {limit})"
    if distribution == "untruncated_normal":
        return f"{why}\nnn.init.normal_({target}, std={math.sqrt(scale / n):.8g})"
    std = math.sqrt(scale / n) / _TRUNCATED_STD
    return (
        f"{why}, truncated at 2 std\nstd = {std:.8g}\n"
        f"nn.init.trunc_normal_({target}, std=std, a=-2 * std, b=2 * std)"
    )


@dataclass(frozen=True)
class Initializer:
    """A Keras initializer object made with arguments: RandomNormal(stddev=0.02)."""

    name: str  # snake_case, as in INITIALIZERS / VARIANCE_SCALING
    args: tuple  # (name, value) pairs, every parameter of SIGNATURES[name]

    def __getitem__(self, key: str):
        return dict(self.args)[key]

    def __str__(self) -> str:  # random_normal(mean=0.0, stddev=0.02), for messages and comments
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.args)})"


# The parameters of the initializer classes (seed dropped: Keras's stream cannot be reproduced),
# with Keras's defaults; TensorFlow's *_initializer functions take the same.
SIGNATURES: dict[str, tuple[tuple[str, object], ...]] = {
    "random_normal": (("mean", 0.0), ("stddev", 0.05)),
    "truncated_normal": (("mean", 0.0), ("stddev", 0.05)),
    "random_uniform": (("minval", -0.05), ("maxval", 0.05)),
    "constant": (("value", 0.0),),
    "orthogonal": (("gain", 1.0),),
    "variance_scaling": (("scale", 1.0), ("mode", "fan_in"), ("distribution", "truncated_normal")),
    **{name: () for name in ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
                             "lecun_normal", "zeros", "ones")},
}
TF_FUNCTIONS = {  # tf.random_normal_initializer(...) and the like: the Keras name they stand for
    "random_normal_initializer": "random_normal", "truncated_normal_initializer": "truncated_normal",
    "random_uniform_initializer": "random_uniform", "constant_initializer": "constant",
    "zeros_initializer": "zeros", "ones_initializer": "ones", "orthogonal_initializer": "orthogonal",
    "glorot_uniform_initializer": "glorot_uniform", "glorot_normal_initializer": "glorot_normal",
    "variance_scaling_initializer": "variance_scaling",
}


def from_call(name: str, positional: list, keywords: dict):
    """The initializer a call makes (`RandomNormal(stddev=0.02)`): its name where the arguments are
    Keras's defaults, an Initializer otherwise, None where an argument is unknown or unsupported.
    name: the class (RandomNormal, TruncatedNormal, ...) or TensorFlow function name."""
    name = TF_FUNCTIONS.get(name, ALIASES.get(name, name))
    signature = SIGNATURES.get(name)
    if signature is None or len(positional) > len(signature) + 1:
        return None
    given = dict(zip([p for p, _ in signature] + ["seed"], positional))
    for key, value in keywords.items():
        if key not in {p for p, _ in signature} | {"seed", "dtype"} or key in given:
            return None
        given[key] = value
    values = []
    for param, default in signature:
        value = given.get(param, default)
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            return None
        values.append((param, value))
    if all(value == default for (_, value), (_, default) in zip(values, signature)):
        return name
    return Initializer(name, tuple(values))


def _parametrised(init: Initializer, target: str, fans, torch_fans: bool) -> str | None:
    if init.name == "random_normal":
        return f"nn.init.normal_({target}, mean={init['mean']!r}, std={init['stddev']!r})"
    if init.name == "truncated_normal":  # Keras truncates at 2 standard deviations
        mean, std = init["mean"], init["stddev"]
        return f"nn.init.trunc_normal_({target}, mean={mean!r}, std={std!r}, a={mean - 2 * std!r}, b={mean + 2 * std!r})"
    if init.name == "random_uniform":
        return f"nn.init.uniform_({target}, {init['minval']!r}, {init['maxval']!r})"
    if init.name == "constant":
        return f"nn.init.constant_({target}, {init['value']!r})"
    if init.name == "orthogonal":
        return f"nn.init.orthogonal_({target}, gain={init['gain']!r})"
    if init.name == "variance_scaling":
        scale, mode, distribution = init["scale"], init["mode"], init["distribution"]
        if mode not in ("fan_in", "fan_out", "fan_avg") or distribution not in (
            "uniform", "truncated_normal", "normal", "untruncated_normal"
        ):
            return None
        return _fan_scaled(init.name, target, fans, torch_fans, (float(scale), mode, distribution))
    return None


def initializer_code(name, target: str, fans=None, torch_fans: bool = True) -> str | None:
    """The init call for a Keras initializer name (lines, a comment first where the bounds are
    written out), or None when it has no translation.

    fans: Keras's (fan_in, fan_out) of the kernel (keras_fans), None when unknown; torch_fans: whether
    torch's nn.init computes the same fans from `target` (False for layouts that differ).
    """
    if isinstance(name, Initializer):
        return _parametrised(name, target, fans, torch_fans)
    if not isinstance(name, str):
        return None
    name = ALIASES.get(name, name)
    if name in VARIANCE_SCALING:
        return _fan_scaled(name, target, fans, torch_fans)
    template = INITIALIZERS.get(name)
    return template.format(w=target) if template else None
