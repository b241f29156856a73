"""Verify a translated subclassed model: both built from the program's own construction, each Keras
variable copied to the torch parameter k2t made from it (recorded at translation time: sub-layer
attributes through the layer rules, add_weight variables as they are), both run on one sample.

Inside a translated class tensors keep Keras's channels-last layout, so inputs and outputs compare
without permutes. Imports TensorFlow and torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import torch

from k2t.lower import LayerMap
from k2t.rules.spec import LAST
from k2t.verify.compare import SAMPLES, UNKNOWN_SIZE, VARIABLE, _close, _errors, random_value, transfer


def randomise(keras_model, rng: np.random.Generator) -> None:
    """Every variable random, so that biases, scales and statistics all matter."""
    for variable in keras_model.weights:  # also add_weight variables of the model itself
        variable.assign(random_value(variable, rng))


class _Variable:
    """An add_weight variable where the shared weight mapping expects a layer."""

    def __init__(self, variable):
        self.weights = [variable]
        self.name = variable.path if hasattr(variable, "path") else variable.name

    def get_weights(self) -> list[np.ndarray]:
        return [np.asarray(self.weights[0])]


@dataclass
class Mapping:
    """The class's weight map in the form the Sequential verifier uses (compare.mapped_weights):
    Keras layers, and LayerMaps (.lowered.layers) naming the torch module or parameter of each."""

    keras: list = field(default_factory=list)
    lowered: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(layers=[]))


def mapping(keras_object, report, reports: dict, prefix: str = "", into: Mapping | None = None) -> Mapping:
    """Sub-layer attributes through their rules, add_weight variables as they are, nested classes."""
    into = into or Mapping()
    for attr, key, info, torch_attr in report.layers:
        for suffix, layer in _items(getattr(keras_object, attr)):  # a layer list: nn.ModuleList items
            into.lowered.layers.append(LayerMap(len(into.keras), key, f"{prefix}{torch_attr}{suffix}", True, info, None, LAST, ()))
            into.keras.append(layer)
    for attr in report.weights:
        if not hasattr(keras_object, attr):  # made under a condition (`if self.use_bias:`) this one skips
            continue
        into.lowered.layers.append(LayerMap(len(into.keras), VARIABLE, f"{prefix}{attr}", True, {}, None, LAST, ()))
        into.keras.append(_Variable(getattr(keras_object, attr)))
    for attr, layer_maps in report.sequentials:  # a keras.Sequential member: its layers in order
        keras_layers = list(getattr(keras_object, attr).layers)
        base = len(into.keras)
        into.keras.extend(keras_layers)
        for m in layer_maps:
            module = f"{prefix}{attr}.{m.module}" if m.module else None
            into.lowered.layers.append(dataclasses.replace(m, index=base + m.index, module=module))
    for attr, class_name in report.custom:
        if class_name not in reports:
            raise KeyError(f"class {class_name} was not translated")
        for suffix, layer in _items(getattr(keras_object, attr)):
            mapping(layer, reports[class_name], reports, f"{prefix}{attr}{suffix}.", into)
    return into


def _items(value) -> list[tuple[str, object]]:
    """A member, or each layer of a list member with its nn.ModuleList index."""
    if isinstance(value, (list, tuple)):
        return [(f".{i}", item) for i, item in enumerate(value)]
    return [("", value)]


def sample(shape: tuple, rng, vocabulary: int | None = None, count: int = SAMPLES) -> np.ndarray:
    sizes = tuple(UNKNOWN_SIZE if d is None else int(d) for d in shape)
    if vocabulary is not None:  # token ids into an Embedding
        return rng.integers(0, vocabulary, (count, *sizes)).astype("int64")
    return rng.standard_normal((count, *sizes)).astype("float32")


def _arrays(value) -> list[np.ndarray]:
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _arrays(v)]
    if isinstance(value, dict):
        return [a for k in sorted(value) for a in _arrays(value[k])]
    if isinstance(value, torch.Tensor):
        return [value.detach().numpy()]
    return [np.asarray(value)]


def vocabulary_of(keras_model, report) -> int | None:
    """Token ids valid for every Embedding of the model, where its input holds token ids."""
    if not report.token_input:
        return None
    sizes = [layer.input_dim for layer in keras_model._flatten_layers() if hasattr(layer, "input_dim")]
    return min(sizes) if sizes else None


def compare(name, keras_model, torch_model, report, reports, shape, executed, atol, rtol, seed):
    from k2t.verify import Verdict

    rng = np.random.default_rng(seed)
    x = sample(shape, rng, vocabulary_of(keras_model, report))
    keras_model(x, training=False)  # builds the Keras model's variables (no-op when built)
    torch_model.eval()
    try:
        with torch.no_grad():
            torch_model(torch.as_tensor(x))  # materialises lazy modules
    except Exception as exc:  # noqa: BLE001 - any failure of the torch side is the verdict
        return Verdict(name, "different", reason=f"the torch model failed: {type(exc).__name__}: {exc}",
                       executed=executed)
    randomise(keras_model, rng)
    try:
        weights = mapping(keras_model, report, reports)
        missing = transfer(weights.keras, torch_model, weights.lowered)
    except (AttributeError, KeyError, ValueError, RuntimeError) as exc:
        return Verdict(name, "different", reason=f"weights do not fit: {exc}", executed=executed)
    if missing:
        return Verdict(name, "different", reason=f"torch parameters without Keras weights: {missing}",
                       executed=executed)
    expected = _arrays(keras_model(x, training=False))
    try:
        with torch.no_grad():
            actual = _arrays(torch_model(torch.as_tensor(x)))
    except Exception as exc:  # noqa: BLE001
        return Verdict(name, "different", reason=f"the torch model failed: {type(exc).__name__}: {exc}",
                       executed=executed)
    if len(actual) != len(expected) or any(a.shape != e.shape for a, e in zip(actual, expected)):
        shapes = [a.shape for a in actual], [e.shape for e in expected]
        return Verdict(name, "different", reason=f"output shapes {shapes[0]} != Keras {shapes[1]}", executed=executed)
    errors = [_errors(a, e) for a, e in zip(actual, expected)]
    max_abs, max_rel = max(e[0] for e in errors), max(e[1] for e in errors)
    same = all(_close(a, e, atol, rtol) for a, e in zip(actual, expected))
    return Verdict(name, "equivalent" if same else "different", max_abs, max_rel, executed=executed, layers=[])
