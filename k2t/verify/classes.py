"""Verify a translated subclassed model: both built from the program's own construction, each Keras
variable copied to the torch parameter k2t made from it (recorded at translation time: sub-layer
attributes through the layer rules, add_weight variables as they are), both run on one sample.

Inside a translated class tensors keep Keras's channels-last layout, so inputs and outputs compare
without permutes. Imports TensorFlow and torch.
"""

from __future__ import annotations

import numpy as np
import torch

from k2t.rules.layers import LAYERS
from k2t.verify.compare import SAMPLES, UNKNOWN_SIZE, _close, _errors


def randomise(keras_model, rng: np.random.Generator) -> None:
    """Every variable random, so that biases, scales and statistics all matter."""
    for variable in keras_model.weights:
        shape = tuple(variable.shape)
        name = variable.path if hasattr(variable, "path") else variable.name
        if "moving_variance" in name:
            value = rng.uniform(0.005, 1.0, shape)
        elif any(part in name for part in ("moving_mean", "beta", "bias")):
            value = rng.normal(0.0, 0.5, shape)
        elif "gamma" in name:
            value = rng.uniform(0.5, 1.5, shape)
        else:
            fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
            value = rng.normal(0.0, 1.0 / np.sqrt(max(fan_in, 1)), shape)
        variable.assign(value.astype(variable.dtype if isinstance(variable.dtype, str) else "float32"))


def transfer(keras_object, torch_module, report, reports: dict, prefix: str = "") -> dict[str, torch.Tensor]:
    """state_dict key -> tensor for every Keras variable of this class and the classes inside it."""
    out: dict[str, torch.Tensor] = {}
    for attr, key, info, torch_attr in report.layers:
        layer = getattr(keras_object, attr)
        for name, array in LAYERS[key].transfer(layer.get_weights(), info).items():
            out[f"{prefix}{torch_attr}.{name}"] = torch.as_tensor(np.ascontiguousarray(array))
    for attr in report.weights:
        out[f"{prefix}{attr}"] = torch.as_tensor(np.asarray(getattr(keras_object, attr)))
    for attr, class_name in report.custom:
        inner = reports.get(class_name)
        if inner is None:
            raise KeyError(f"class {class_name} was not translated")
        out.update(transfer(getattr(keras_object, attr), getattr(torch_module, attr), inner, reports, f"{prefix}{attr}."))
    return out


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


def compare(name, keras_model, torch_model, report, reports, shape, executed, atol, rtol, seed):
    from k2t.verify import Verdict

    rng = np.random.default_rng(seed)
    vocabulary = None
    if report.token_input:  # ids valid for every Embedding of the model
        sizes = [layer.input_dim for layer in keras_model._flatten_layers() if hasattr(layer, "input_dim")]
        vocabulary = min(sizes) if sizes else None
    x = sample(shape, rng, vocabulary)
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
        values = transfer(keras_model, torch_model, report, reports)
    except (AttributeError, KeyError) as exc:
        return Verdict(name, "different", reason=f"weights do not fit: {exc}", executed=executed)
    state = torch_model.state_dict()
    for key, value in values.items():
        if key not in state:
            return Verdict(name, "different", reason=f"weights do not fit: the torch model has no {key}",
                           executed=executed)
        if tuple(state[key].shape) != tuple(value.shape):
            return Verdict(name, "different", executed=executed, reason=(
                f"weights do not fit: {key}: torch shape {tuple(state[key].shape)} but Keras gives {tuple(value.shape)}"))
        state[key] = value.to(state[key].dtype)
    missing = [k for k in state if k not in values and not k.endswith("num_batches_tracked")]
    if missing:
        return Verdict(name, "different", reason=f"torch parameters without Keras weights: {missing}",
                       executed=executed)
    torch_model.load_state_dict(state)
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
