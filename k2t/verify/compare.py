"""Randomise the Keras weights, transfer them with the rules, run both models and compare.

Weights are random (not freshly initialised) so that biases and BatchNorm statistics matter: a wrong
epsilon or a missing bias shows. Moving variances are drawn small enough (down to 0.005) that
epsilon 1e-3 versus 1e-5 changes outputs well beyond float32 noise.
"""

from __future__ import annotations

import contextlib
import os

from collections import Counter

import numpy as np
import torch


@contextlib.contextmanager
def _silenced_stderr():
    """TensorFlow's C++ runtime logs to fd 2 at import, before any Python setting applies."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


with _silenced_stderr():
    import tensorflow  # noqa: F401 - imported for its side effect of loading quietly

from k2t.rules.activations import OUTPUT_ACTIVATIONS, render
from k2t.rules.layers import LAYERS
from k2t.rules.spec import FIRST

# LayerMap.key of a custom layer's add_weight variable (k2t/verify/classes.py): copied as it is.
VARIABLE = "Variable"
CUSTOM = "Custom:"  # LayerMap.key prefix of the program's own layer classes (rules/layers/custom.py)
NESTED = "Model:"  # and of the program's models used as layers of another model
SAMPLES = 4
UNKNOWN_SIZE = 16  # stands for None (e.g. a variable sequence length) in sample inputs


def randomise(keras_model, rng: np.random.Generator) -> None:
    for layer in keras_model.layers:
        values = [random_value(weight, rng) for weight in layer.weights]
        if values:
            layer.set_weights(values)
            if hasattr(layer, "adapt"):  # a preprocessing layer computes what it uses from its state
                layer.finalize_state()


def random_value(weight, rng: np.random.Generator) -> np.ndarray:
    """A random value for one Keras variable, by what its name says it is."""
    shape = tuple(weight.shape)
    name = _path(weight)
    if "int" in str(weight.dtype):  # a counter (Normalization's count): kept
        return np.asarray(weight)
    if "moving_variance" in name or name.endswith("/variance"):
        # Small enough that an epsilon of 1e-5 instead of 1e-3 moves outputs by 0.5%, large enough
        # that twenty BatchNorms in a row do not amplify float32 rounding past the tolerance.
        value = rng.uniform(0.1, 1.0, shape)
    elif "moving_mean" in name or "beta" in name or "bias" in name:
        value = rng.normal(0.0, 0.5, shape)
    elif "gamma" in name:
        value = rng.uniform(0.5, 1.5, shape)
    else:
        fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        value = rng.normal(0.0, 1.0 / np.sqrt(max(fan_in, 1)), shape)
    return value.astype("float32")


def keras_layers(keras_model, ir) -> tuple[list, list]:
    """The Keras layer behind each IR node, and (functional models) the tensor it produces."""
    if ir.kind == "sequential":
        return list(keras_model.layers), []
    def makes(node, var: str) -> bool:  # `out, h, c = lstm(x)` makes h too
        return node.output == var or var in node.outputs

    producers = []  # per node: for each input, the index of the node producing it (or None)
    for i, node in enumerate(ir.graph_nodes):
        row = []
        for var in node.inputs:
            earlier = [j for j in range(i) if makes(ir.graph_nodes[j], var)]
            row.append(earlier[-1] if earlier else None)
        producers.append(row)
    layers = [None] * len(ir.graph_nodes)
    tensors = [None] * len(ir.graph_nodes)
    stack = [  # from each output back
        (max(i for i, n in enumerate(ir.graph_nodes) if makes(n, var)), tensor)
        for var, tensor in zip(ir.graph_outputs, keras_model.outputs)
    ]
    while stack:
        index, tensor = stack.pop()
        if tensors[index] is not None:
            continue
        if ir.graph_nodes[index].key == "Identity":  # `shortcut = x`: the same Keras tensor
            tensors[index] = tensor
            stack.append((producers[index][0], tensor)) if producers[index][0] is not None else None
            continue
        operation, node_index, _ = tensor._keras_history
        layers[index], tensors[index] = operation, tensor
        function = ir.graph_nodes[index].args.get("function")
        if function is not None and getattr(function.value, "names", ()):
            # An op expression (`ops.maximum(a, b) + 1.0`) is one Keras operation per op in it.
            found = _expression_inputs(function.value.body, function.value.names, tensor)
            inbound = [found[name] for name in function.value.names]
        else:
            inbound = operation._inbound_nodes[node_index].input_tensors
        for producer, keras_input in zip(producers[index], inbound):
            if producer is not None:
                stack.append((producer, keras_input))
    return layers, tensors


def _expression_inputs(expression, names: tuple, tensor) -> dict:
    """The Keras tensors that an op expression's names stand for, found by walking the Keras
    operations it created (one per op or operator on a tensor, inputs in argument order) back
    from its output, along the expression's own tree."""
    import libcst as cst

    from k2t import cstwalk

    def on_tensors(node) -> bool:
        return any(isinstance(n, cst.Name) and n.value in names for n in cstwalk.iter_nodes(node))

    def operands(node) -> list:
        if isinstance(node, cst.Call):
            values = []
            for arg in node.args:
                value = arg.value
                values += [e.value for e in value.elements] if isinstance(value, (cst.List, cst.Tuple)) else [value]
            return [v for v in values if on_tensors(v)]
        if isinstance(node, cst.BinaryOperation):
            return [side for side in (node.left, node.right) if on_tensors(side)]
        if isinstance(node, cst.UnaryOperation):
            return [node.expression]
        if isinstance(node, cst.Subscript):
            return [node.value]
        raise LookupError(f"cannot follow {type(node).__name__} through Keras's operations")

    found: dict = {}
    stack = [(expression, tensor)]
    while stack:
        node, keras_tensor = stack.pop()
        if isinstance(node, cst.Name):
            found.setdefault(node.value, keras_tensor)
            continue
        operation, node_index, _ = keras_tensor._keras_history
        inbound = operation._inbound_nodes[node_index].input_tensors
        children = operands(node)
        if len(children) != len(inbound):
            raise LookupError(f"{type(operation).__name__} takes {len(inbound)} tensors, the expression {len(children)}")
        stack.extend(zip(children, inbound))
    return found


def mapped_weights(layers, lowered, values=None) -> dict[str, np.ndarray]:
    """torch state_dict key -> array, as the rules transfer a list per Keras layer.

    values(layer) gives the arrays in the order of layer.weights (default: its weights); the
    training check passes gradients or trained weights through the same rules.
    """
    values = values or (lambda layer: layer.get_weights())
    out = {}
    for layer_map in lowered.layers:
        if not layer_map.weights:
            continue
        if layer_map.key == VARIABLE:  # an add_weight variable: the parameter holds it as it is
            out[layer_map.module] = np.asarray(values(layers[layer_map.index])[0])
            continue
        if layer_map.key.startswith(CUSTOM):  # the program's own layer class: its recorded weight map
            inner = _class_mapping(layers[layer_map.index], layer_map.transfer_info)
            for key, array in mapped_weights(inner.keras, inner.lowered, values).items():
                out[f"{layer_map.module}.{key}"] = array
            continue
        if layer_map.key.startswith(NESTED):  # a model used as a layer: its own layers' map
            inner_layers, inner_lowered = _nested_layers(layers[layer_map.index], layer_map.transfer_info)
            for key, array in mapped_weights(inner_layers, inner_lowered, values).items():
                out[f"{layer_map.module}.{key}"] = array
            continue
        rule = LAYERS[layer_map.key]
        for name, array in rule.transfer(values(layers[layer_map.index]), layer_map.transfer_info).items():
            out[f"{layer_map.module}.{name}"] = np.asarray(array)
    return out


def keras_weight_names(layers, lowered) -> dict[str, tuple[str, object]]:
    """torch state_dict key -> (Keras weight path, Keras layer), found by transferring indicator
    arrays (ones for one Keras weight, zeros for the others) through the rules; a torch key that no
    Keras weight reaches (an LSTM's zero bias_hh) maps to ("(no Keras weight)", layer)."""
    names = {}
    for layer_map in lowered.layers:
        if not layer_map.weights:
            continue
        layer = layers[layer_map.index]
        if layer_map.key == VARIABLE:
            names[layer_map.module] = (_path(layer.weights[0]), layer)
            continue
        if layer_map.key.startswith(CUSTOM):
            inner = _class_mapping(layer, layer_map.transfer_info)
            for key, found in keras_weight_names(inner.keras, inner.lowered).items():
                names[f"{layer_map.module}.{key}"] = found
            continue
        if layer_map.key.startswith(NESTED):
            inner_layers, inner_lowered = _nested_layers(layer, layer_map.transfer_info)
            for key, found in keras_weight_names(inner_layers, inner_lowered).items():
                names[f"{layer_map.module}.{key}"] = found
            continue
        rule = LAYERS[layer_map.key]
        weights = list(layer.weights)
        for j, weight in enumerate(weights):
            probe = [np.ones(w.shape, "float32") if i == j else np.zeros(w.shape, "float32") for i, w in enumerate(weights)]
            for name, array in rule.transfer(probe, layer_map.transfer_info).items():
                if np.any(np.asarray(array)):
                    names.setdefault(f"{layer_map.module}.{name}", (_path(weight), layer))
        zeros = [np.zeros(w.shape, "float32") for w in weights]
        for name in rule.transfer(zeros, layer_map.transfer_info):
            names.setdefault(f"{layer_map.module}.{name}", (f"{layer.name}/(no Keras weight)", layer))
    return names


def _nested_layers(keras_model, info) -> tuple[list, object]:
    """The Keras layers of a model used as a layer, as its own lowering numbers them."""
    report = info["nested"]
    return keras_layers(keras_model, report.ir)[0], report.lowered


def _class_mapping(keras_layer, info):
    from k2t.verify.classes import mapping

    return mapping(keras_layer, info["class"], info["classes"])


def _path(weight) -> str:
    return weight.path if hasattr(weight, "path") else weight.name


def transfer(layers, torch_model, lowered) -> list[str]:
    """Copy weights; returns the torch parameters that received nothing (should be none)."""
    state = torch_model.state_dict()
    updates = {}
    for key, array in mapped_weights(layers, lowered).items():
        if key not in state:
            raise KeyError(f"the torch model has no parameter {key}")
        if tuple(state[key].shape) != tuple(array.shape):
            raise ValueError(
                f"{key}: torch shape {tuple(state[key].shape)} but Keras weights give {tuple(array.shape)}"
            )
        updates[key] = torch.as_tensor(np.ascontiguousarray(array))
    state.update(updates)
    torch_model.load_state_dict(state)
    return [k for k in state if k not in updates and not k.endswith("num_batches_tracked")]


def sample_inputs(keras_model, lowered, ir, rng, count: int = SAMPLES) -> list[np.ndarray]:
    """Keras-format arrays: channels-last, int64 indices for an input that feeds an Embedding."""
    arrays = []
    for (var, _), keras_input in zip(ir.graph_inputs, keras_model.inputs):
        shape = tuple(UNKNOWN_SIZE if d is None else int(d) for d in keras_input.shape[1:])
        embedding = next((n for n in ir.graph_nodes if n.token_input and var in n.inputs), None)
        if embedding is not None:
            if embedding.key == "Embedding":
                vocabulary = int(embedding.args["input_dim"].value)
            else:  # a layer class: ids valid for each of the model's Embeddings
                vocabulary = min(l.input_dim for l in keras_model._flatten_layers() if hasattr(l, "input_dim"))
            arrays.append(rng.integers(0, vocabulary, (count, *shape)).astype("int64"))
        else:
            arrays.append(rng.standard_normal((count, *shape)).astype("float32"))
    return arrays


def _errors(actual: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    diff = np.abs(actual.astype("float64") - expected.astype("float64"))
    scale = np.maximum(np.abs(expected.astype("float64")), 1e-12)
    return float(diff.max(initial=0.0)), float((diff / scale).max(initial=0.0))


def _close(actual, expected, atol, rtol) -> bool:
    return actual.shape == expected.shape and bool(np.allclose(actual, expected, atol=atol, rtol=rtol))


def _to_keras_layout(array: np.ndarray, layout: str) -> np.ndarray:
    if layout == FIRST and array.ndim >= 3:
        return np.moveaxis(array, 1, -1)
    return array


def torch_inputs(arrays, lowered) -> list:
    """Keras input arrays as the torch model takes them (channels first where it is)."""
    inputs = []
    for array in arrays:
        tensor = torch.as_tensor(array)
        if lowered.channels_first and tensor.dim() > 2:
            tensor = tensor.movedim(-1, 1)
        inputs.append(tensor)
    return inputs


def _materialise(torch_model, keras_model, lowered, ir, seed) -> None:
    """Lazy modules and parameters (the program's layer classes whose build() reads the input's
    shape) take their sizes from one pass, as the generated program does before training."""
    from torch.nn.parameter import is_lazy

    if not any(is_lazy(p) for p in torch_model.parameters()):
        return
    arrays = sample_inputs(keras_model, lowered, ir, np.random.default_rng([seed, 2]))
    torch_model.eval()
    with torch.no_grad():
        torch_model(*torch_inputs(arrays, lowered))


def compare(name, keras_model, torch_model, lowered, ir, executed, atol, rtol, seed):
    from k2t.verify import Verdict

    import keras

    rng = np.random.default_rng(seed)
    randomise(keras_model, rng)
    layers, tensors = keras_layers(keras_model, ir)
    try:
        _materialise(torch_model, keras_model, lowered, ir, seed)
        missing = transfer(layers, torch_model, lowered)
    except (KeyError, ValueError, RuntimeError) as exc:
        return Verdict(name, "different", reason=f"weights do not fit: {exc}", executed=executed)
    if missing:
        return Verdict(name, "different", reason=f"torch parameters without Keras weights: {missing}",
                       executed=executed)
    xs = sample_inputs(keras_model, lowered, ir, rng)
    keras_x = xs if len(xs) > 1 else xs[0]

    # Keras, every layer's output in inference mode.
    if ir.kind == "sequential":
        keras_outputs = []
        value = keras_x
        for layer in keras_model.layers:
            value = layer(value, training=False)
            keras_outputs.append(np.asarray(value))
    else:
        probe = keras.Model(keras_model.input, [t for t in tensors if t is not None])
        values = iter(probe(keras_x, training=False))
        keras_outputs = [np.asarray(next(values)) if t is not None else None for t in tensors]
    expected = keras_model(keras_x, training=False)
    expected = [np.asarray(e) for e in expected] if isinstance(expected, (list, tuple)) else [np.asarray(expected)]

    # Torch, with hooks on the modules that stand for Keras layers.
    torch_model.eval()
    captured: dict[str, list] = {}  # module -> its outputs, one per call (a shared layer: several)
    hooks = []
    modules = dict(torch_model.named_modules())
    for key in {m.module for m in lowered.layers if m.module and m.comparable and m.module in modules}:
        def hook(module, inputs, output, key=key):
            captured.setdefault(key, []).append(output.detach())

        hooks.append(modules[key].register_forward_hook(hook))
    inputs = torch_inputs(xs, lowered)
    try:
        with torch.no_grad():
            output = torch_model(*inputs)
            if lowered.fused_activation:
                output = eval(OUTPUT_ACTIVATIONS[lowered.fused_activation].format(x="output"))  # noqa: S307
            outputs = list(output) if isinstance(output, (list, tuple)) else [output]
    except Exception as exc:  # noqa: BLE001 - any failure of the torch side is the verdict
        return Verdict(name, "different", reason=f"the torch model failed: {type(exc).__name__}: {exc}",
                       executed=executed)
    finally:
        for handle in hooks:
            handle.remove()
    actual = [o.numpy() for o in outputs]

    compared, first = [], None
    calls = Counter()  # forward() calls the modules in the order of the layers
    for layer_map in lowered.layers:
        if layer_map.module not in captured or not layer_map.comparable:
            continue
        call = calls[layer_map.module]
        calls[layer_map.module] += 1
        if keras_outputs[layer_map.index] is None or call >= len(captured[layer_map.module]):
            continue
        value = captured[layer_map.module][call]
        if layer_map.activation:
            dim = 1 if layer_map.layout == FIRST and value.dim() >= 3 else -1
            value = eval(render(layer_map.activation, "value", dim), {"torch": torch, "F": torch.nn.functional, "value": value})  # noqa: S307
        got = _to_keras_layout(value.numpy(), layer_map.layout)
        want = keras_outputs[layer_map.index]
        if layer_map.flat_from:  # torch flattened (C, H, W): reorder Keras's (H, W, C) flatten
            want = np.moveaxis(want.reshape(len(want), *layer_map.flat_from), -1, 1).reshape(len(want), -1)
        label = layer_map.label
        if got.shape != want.shape:
            compared.append((label, None))
            first = first or label
            continue
        compared.append((label, _errors(got, want)[0]))
        if first is None and not _close(got, want, atol, rtol):
            first = label

    shapes = [a.shape for a in actual], [e.shape for e in expected]
    if shapes[0] != shapes[1]:
        described = [", ".join(str(s) for s in side) for side in shapes]
        return Verdict(name, "different", reason=f"output shape {described[0]} != Keras {described[1]}",
                       first_divergent_layer=first, executed=executed, layers=compared)
    errors = [_errors(a, e) for a, e in zip(actual, expected)]  # per output
    max_abs, max_rel = max(e[0] for e in errors), max(e[1] for e in errors)
    status = "equivalent" if all(_close(a, e, atol, rtol) for a, e in zip(actual, expected)) else "different"
    if status == "different" and first is None:
        first = lowered.layers[-1].label
    return Verdict(name, status, max_abs, max_rel, first if status == "different" else None,
                   executed=executed, layers=compared)
