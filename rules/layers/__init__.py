"""The layer registry: canonical key (as in "layers.<Key>") -> LayerRule."""

from __future__ import annotations

from k2t.rules.layers import (
    attention,
    augmentation,
    conv,
    core,
    lambda_layer,
    merging,
    normalization,
    pooling,
    preprocessing,
    recurrent,
    regularization,
    reshaping,
    wrappers,
)
from k2t.rules.layers.custom import custom_layer_rule, nested_model_rule, snake_case, untranslated_layer_rule  # noqa: F401 - the program's classes and models
from k2t.rules.spec import LayerRule

_FAMILIES = (
    core,
    lambda_layer,
    conv,
    pooling,
    normalization,
    merging,
    reshaping,
    preprocessing,
    augmentation,
    regularization,
    recurrent,
    wrappers,
    attention,
)

LAYERS: dict[str, LayerRule] = {rule.keras: rule for family in _FAMILIES for rule in family.RULES}
ALIASES: dict[str, str] = {
    alias: target for family in _FAMILIES for alias, target in getattr(family, "ALIASES", {}).items()
}
# Keras 2 names for the same layer classes.
ALIASES.update(
    {
        "Convolution1D": "Conv1D",
        "Convolution2D": "Conv2D",
        "Convolution3D": "Conv3D",
        "SeparableConvolution1D": "SeparableConv1D",
        "SeparableConvolution2D": "SeparableConv2D",
    }
)


# Functions that build and apply a layer in one call: layers.concatenate([a, b]) -> Concatenate.
LAYER_FUNCTIONS: dict[str, str] = dict(merging.FUNCTIONS)


def layer_rule(key: str) -> LayerRule | None:
    """The rule for a canonical key such as "layers.Dense", or None."""
    if not key.startswith("layers."):
        return None
    name = key[len("layers.") :]
    return LAYERS.get(ALIASES.get(name, name))
