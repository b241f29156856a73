"""Infer and lower: walk a Sequential model's layers with static shapes and write its nn.Module class.

The engine tracks, between layers, the Keras shape (channels-last, no batch axis) and the layout of
the torch tensor. It inserts one permute where a layer needs the other layout, asks each layer's rule
for its torch code, names the submodules, and records for the verifier which module holds which Keras
layer's weights.
"""

from __future__ import annotations

import keyword
import re
from collections import Counter
from dataclasses import dataclass, field

from k2t.analyse import ModelIR, Problem
from k2t.rules.activations import ACTIVATIONS, render
from k2t.rules.initializers import initializer_code
from k2t.rules.spec import FIRST, LAST, LayerContext, Step, Unsupported, to_first, to_last
from k2t.values import Symbol, dim_code


@dataclass
class LayerMap:
    """How one Keras layer lives in the torch model (for weight transfer and per-layer checks)."""

    index: int
    key: str
    module: str | None  # attribute holding the weights, or whose output is the layer's output
    weights: bool  # whether `module` receives the Keras weights
    transfer_info: dict
    activation: str | None  # applied to the module's output to get the Keras layer's output
    layout: str  # layout of the layer's output in torch
    out_shape: tuple
    flat_from: tuple | None = None  # output is a (C, H, W)-ordered flatten of this Keras shape
    keras_name: str | None = None  # the name= given in Keras, if any

    @property
    def label(self) -> str:
        """How reports name the layer: Keras's own names depend on what ran before."""
        own = f"{self.keras_name}, " if self.keras_name else ""
        return f"{self.key} ({own}layer {self.index})"


@dataclass
class LoweredModel:
    class_name: str
    code: str
    layers: list[LayerMap]
    input_shape: tuple
    input_dtype: str  # "float32" or "int64"
    channels_first: bool  # the model takes (N, C, ...) where Keras took (N, ..., C)
    fused_activation: str | None
    output_units: object
    ctor_params: list[str]
    ctor_args: list[str]
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)


_REGULARIZED = ("kernel_regularizer", "bias_regularizer", "activity_regularizer", "embeddings_regularizer")
_CONSTRAINED = ("kernel_constraint", "bias_constraint", "embeddings_constraint")


def lower_model(model: ModelIR, fused_activation: str | None = None) -> LoweredModel:
    if model.input_shape is None:
        raise Unsupported(
            "the Sequential model has no input shape (input_shape=, keras.Input or model.build): "
            "k2t needs it to write explicit layer sizes",
            "K2T303",
        )
    ctor_params: list[str] = []
    ctor_args: list[str] = []  # what the construction site passes for each parameter
    shape = list(model.input_shape)
    for i, dim in enumerate(shape):
        if isinstance(dim, Symbol):  # known at run time only: a constructor parameter
            name = _input_dim_name(i, len(shape))
            ctor_params.append(name)
            ctor_args.append(dim.code)
            shape[i] = Symbol(name)
    shape = tuple(shape)
    input_shape = shape
    first_wants = next((layer.rule.wants for layer in model.layers if layer.rule.wants), None)
    channels_first = first_wants == FIRST and len(shape) >= 2 and model.layers[0].key != "Embedding"
    layout = FIRST if channels_first else LAST
    input_dtype = "int64" if model.layers and model.layers[0].key == "Embedding" else "float32"
    init_lines: list[str] = []
    forward: list[str] = []
    layer_maps: list[LayerMap] = []
    notes: list[Problem] = []
    problems: list[Problem] = []
    modules: list[tuple[Step, int]] = []  # (step, layer index) in order, named below
    flat_from = None
    per_layer_steps: list[list[Step]] = []
    init_requests: list[tuple[Step, tuple]] = []
    keys = [layer.key for layer in model.layers]

    for index, layer in enumerate(model.layers):
        rule = layer.rule
        for name in _REGULARIZED + _CONSTRAINED:
            if name in layer.args and layer.args[name].value is not None:
                kind = "regularizer adds a loss term" if "regular" in name else "constraint"
                problems.append(Problem(layer.node, "K2T102", f"{layer.key}({name}=...): the {kind} is not translated yet"))
        for value in layer.args.values():
            for local in sorted(value.local_names):
                if local not in ctor_params:
                    ctor_params.append(local)
                    ctor_args.append(local)
        steps: list[Step] = []
        rank = len(shape)
        if rule.wants == FIRST and layout == LAST and rank >= 2:
            steps.append(Step(to_first(rank), comment=None))
            layout = FIRST
        elif rule.wants == LAST and layout == FIRST and rank >= 2:
            steps.append(Step(to_last(rank)))
            layout = LAST
        ctx = LayerContext(
            key=layer.key,
            args=layer.args,
            in_shape=shape,
            layout=layout,
            next_keys=tuple(keys[index + 1 :]),
            flat_from=flat_from if rule.keras == "Dense" else None,
        )
        try:
            lowering = rule.lower(ctx)
        except Unsupported as exc:
            problems.append(Problem(layer.node, exc.code, str(exc)))
            continue
        except TypeError:  # arithmetic on a size known only at run time
            runtime = ", ".join(d.code for d in shape if isinstance(d, Symbol))
            problems.append(
                Problem(layer.node, "K2T303", f"{layer.key} needs input sizes that are only known at run time ({runtime})")
            )
            continue
        for code, message in ctx.notes:
            notes.append(Problem(layer.node, code, message))
        activation = lowering.activation
        if activation is not None and activation not in ACTIVATIONS:
            problems.append(
                Problem(layer.node, "K2T102", f"{layer.key}(activation={layer.args['activation'].code}) has no translation")
            )
            continue
        steps.extend(lowering.steps)
        for step in lowering.steps:
            if step.module is not None:
                modules.append((step, index))
        if lowering.init is not None and lowering.weights_step is not None:
            init_requests.append((lowering.steps[lowering.weights_step], lowering.init, layer))
        out_rank = len(lowering.out_shape)
        dim = 1 if lowering.out_layout == FIRST and out_rank >= 2 else -1
        is_last = index == len(model.layers) - 1
        if is_last and fused_activation and layer.key == "Softmax" and activation is None:
            activation, steps = "softmax", steps[: len(steps) - len(lowering.steps)]
        if activation not in (None, "linear") and not (is_last and activation == fused_activation):
            if steps:
                steps[-1].forward = render(activation, steps[-1].forward, dim)
            else:
                steps.append(Step(render(activation, "{x}", dim)))
        per_layer_steps.append(steps)
        last_module_step = lowering.steps[-1] if lowering.steps and lowering.steps[-1].module else None
        weights_step = lowering.steps[lowering.weights_step] if lowering.weights_step is not None else None
        layer_maps.append(
            LayerMap(
                index=index,
                key=layer.key,
                module=id(weights_step or last_module_step) if (weights_step or last_module_step) else None,
                weights=weights_step is not None,
                transfer_info=lowering.transfer_info,
                activation=activation if activation not in (None, "linear") else None,
                layout=lowering.out_layout,
                out_shape=lowering.out_shape,
            )
        )
        layer_map = layer_maps[-1]
        layer_map.keras_name = layer.name
        # A (C, H, W)-ordered flatten travels through weightless, shape-keeping layers to the Dense.
        if lowering.flat_from is not None:
            flat_from = lowering.flat_from
        elif not (lowering.weights_step is None and lowering.out_shape == shape):
            flat_from = None
        layer_map.flat_from = flat_from
        shape, layout = tuple(lowering.out_shape), lowering.out_layout

    if problems:
        raise _Failed(problems)

    names = _name_modules(modules, model)
    for lm in layer_maps:
        lm.module = names.get(lm.module) if lm.module is not None else None
    for step, _ in modules:
        if step.comment:
            init_lines.append(f"# {step.comment}")
        init_lines.append(f"self.{names[id(step)]} = {step.module}")
    for steps in per_layer_steps:
        for step in steps:
            expression = step.forward.format(x="x", m=f"self.{names[id(step)]}" if step.module else "")
            forward.append(f"x = {expression}")
    reset = _reset_parameters(init_requests, names, notes)
    output_units = shape[-1] if shape else None
    code = _class_code(
        model, input_shape, ctor_params, init_lines, reset, forward, shape, channels_first, fused_activation
    )
    return LoweredModel(
        class_name=model.class_name,
        code=code,
        layers=layer_maps,
        input_shape=input_shape,
        input_dtype=input_dtype,
        channels_first=channels_first,
        fused_activation=fused_activation,
        output_units=output_units,
        ctor_params=ctor_params,
        ctor_args=ctor_args,
        notes=notes,
    )


class _Failed(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(problems[0].message)
        self.problems = problems


Failed = _Failed


def _identifier(name: str) -> str:
    name = re.sub(r"\W", "_", name).strip("_").lower() or "layer"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = "layer_" + name
    return name


def _name_modules(modules, model: ModelIR) -> dict[int, str]:
    """fc1, fc2, conv1, ...; a Keras name= wins; a kind that occurs once is not numbered."""
    counts = Counter(step.attr for step, _ in modules)
    seen: Counter = Counter()
    names: dict[int, str] = {}
    taken: set[str] = set()
    for step, index in modules:
        keras_name = model.layers[index].name
        if keras_name and step.attr not in ("pad",):
            name = _identifier(keras_name)
        elif counts[step.attr] == 1:
            name = step.attr
        else:
            seen[step.attr] += 1
            name = f"{step.attr}{seen[step.attr]}"
        base, n = name, 1
        while name in taken or name in {"forward", "training"}:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        names[id(step)] = name
    return names


def _reset_parameters(requests, names, notes) -> list[str]:
    """Lines of reset_parameters(): Keras initialisers, grouped by (kernel, bias) initialiser."""
    groups: dict[tuple, list[str]] = {}
    for step, (kernel, bias), layer in requests:
        kernel_code = initializer_code(kernel, "module.weight")
        bias_code = initializer_code(bias, "module.bias") if bias is not None else None
        if kernel_code is None or (bias is not None and bias_code is None):
            notes.append(
                Problem(
                    layer.node,
                    "K2T104",
                    f"{layer.key}: initializer {kernel if kernel_code is None else bias!r} has no translation; "
                    "torch's default initialisation is used",
                )
            )
            continue
        groups.setdefault((kernel_code, bias_code), []).append(names[id(step)])
    lines = []
    for (kernel_code, bias_code), attrs in groups.items():
        if len(attrs) == 1:
            lines.append(kernel_code.replace("module.", f"self.{attrs[0]}."))
            if bias_code:
                lines.append(bias_code.replace("module.", f"self.{attrs[0]}."))
            continue
        lines.append(f"for module in ({', '.join(f'self.{a}' for a in attrs)}):")
        lines.append(f"    {kernel_code}")
        if bias_code:
            lines.append(f"    {bias_code}")
    return lines


def _shape_text(shape, channels_first: bool) -> str:
    dims = [dim_code(d) for d in shape]
    if channels_first and len(dims) >= 2:
        dims = [dims[-1], *dims[:-1]]
    return "(N, " + ", ".join(dims) + ")"


def _input_dim_name(index: int, rank: int) -> str:
    if index == rank - 1:
        return "in_features" if rank == 1 else "in_channels"
    return {2: ["length"], 3: ["height", "width"]}.get(rank, [f"size{i}" for i in range(rank)])[index]


def _class_code(model, input_shape, ctor_params, init_lines, reset, forward, out_shape, channels_first, fused) -> str:
    params = "".join(f", {p}" for p in ctor_params)
    source = model.keras_name or model.var
    lines = [
        f"class {model.class_name}(nn.Module):",
        f'    """The Keras Sequential model `{source}`."""',
        "",
        f"    def __init__(self{params}):",
        "        super().__init__()",
        *[f"        {line}" for line in init_lines],
    ]
    if reset:
        lines += ["        self.reset_parameters()", "", "    def reset_parameters(self):",
                  '        """Initialise like Keras (torch\'s default initialisers differ)."""']
        lines += [f"        {line}" for line in reset]
    in_text = _shape_text(input_shape, channels_first)
    out_text = _shape_text(out_shape, False)
    doc = [f'        """{in_text} -> {out_text}.']
    if fused:
        doc[0] = doc[0][:-1] + " logits."
        doc += ["", f"        The final {fused} is part of the loss and is applied in predict().", "        "]
    doc[-1] += '"""'
    lines += ["", "    def forward(self, x):", *doc]
    if forward and forward[-1].startswith("x = "):
        forward = forward[:-1] + ["return " + forward[-1][4:]]
    else:
        forward = forward + ["return x"]
    lines += [f"        {line}" for line in forward]
    return "\n".join(lines) + "\n"
