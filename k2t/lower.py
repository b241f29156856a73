"""Infer and lower: walk a Sequential model's layers with static shapes and write its nn.Module class.

The engine tracks, between layers, the Keras shape (channels-last, no batch axis) and the layout of
the torch tensor. It inserts one permute where a layer needs the other layout, asks each layer's rule
for its torch code, names the submodules, and records for the verifier which module holds which Keras
layer's weights.
"""

from __future__ import annotations

import ast
import dataclasses
import keyword
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field

from k2t.analyse import ModelIR, Problem
from k2t.rules.activations import ACTIVATIONS, render
from k2t.rules.initializers import initializer_code, keras_fans
from k2t.rules.layers import untranslated_layer_rule
from k2t.rules.regularizers import Penalty
from k2t.rules.spec import FIRST, LAST, STATE, LayerContext, Lowering, Step, Unsupported, to_first, to_last
from k2t.values import Symbol, Value, code_of, dim_code


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
    comparable: bool = True  # the module's output is the layer's output (before its activation)

    @property
    def label(self) -> str:
        """How reports name the layer: Keras's own names depend on what ran before."""
        own = f"{self.keras_name}, " if self.keras_name else ""
        return f"{self.key} ({own}layer {self.index})"


@dataclass(frozen=True)
class InputSpec:
    """One input of the torch model, as the data path must prepare it."""

    var: str  # the forward() argument
    name: str | None  # keras.Input(name=...): the key of a dict of inputs
    dtype: str  # "float32", or "int64" for indices into an Embedding
    rank: int  # dimensions without the batch
    channels_first: bool  # the model takes (N, C, ...) where Keras took (N, ..., C)


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
    ctor_keywords: list[str] = field(default_factory=list)  # module constants passed by name
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    snippets: set[str] = field(default_factory=set)
    inputs: list[InputSpec] = field(default_factory=list)
    output_shape: tuple = ()  # Keras's output shape without the batch (the torch output's too)
    output_shapes: list = field(default_factory=list)  # every output's, for a model with several
    # Layer objects the program also uses on its own, given to the constructor: name -> constructor.
    injected: dict = field(default_factory=dict)
    regularized: bool = False  # the class has regularization_loss(): Keras's penalties
    # Layers kept as UntranslatedLayer modules (marked in __init__): reported as errors at their lines.
    untranslated: list = field(default_factory=list)
    # Lazy modules not yet materialised where the program compiles: the optimizer is created after
    # one forward pass on the first training batch.
    materialize: bool = False
    # ... and then reset_parameters() (Keras's initialisers), which cannot run on lazy parameters.
    reset_after_materialize: bool = False


@dataclass
class _Tensor:
    """A value in forward(): its variable, Keras shape (no batch axis), torch layout."""

    var: str
    shape: tuple
    layout: str
    flat_from: tuple | None = None


def _wanted_layout(layer, shape) -> str | None:
    return layer.rule.wanted(layer.args) if len(shape) >= 2 else None


# The rank of the input a model's first layer takes, where the program gives no input shape
# (`Sequential([Conv1D(...), ...])` built by fit() from its data): the sizes come from the first batch.
_FIRST_LAYER_RANKS = {
    # Flatten takes any rank: the data is given as it is (not permuted) and flattened in Keras's order.
    **dict.fromkeys(("Dense", "Embedding", "Flatten"), 1),
    **dict.fromkeys(("Conv1D", "SeparableConv1D", "DepthwiseConv1D", "Conv1DTranspose", "MaxPooling1D",
                     "AveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling1D", "LSTM", "GRU",
                     "SimpleRNN", "Bidirectional", "SpatialDropout1D", "ZeroPadding1D", "Cropping1D",
                     "UpSampling1D"), 2),
    **dict.fromkeys(("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose", "MaxPooling2D",
                     "AveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling2D", "SpatialDropout2D",
                     "ZeroPadding2D", "Cropping2D", "UpSampling2D", "RandomFlip", "RandomRotation", "RandomZoom",
                     "RandomTranslation", "RandomContrast", "RandomCrop", "Resizing", "CenterCrop"), 3),
    **dict.fromkeys(("Conv3D", "Conv3DTranspose", "MaxPooling3D", "AveragePooling3D", "GlobalAveragePooling3D",
                     "GlobalMaxPooling3D", "SpatialDropout3D", "ZeroPadding3D", "Cropping3D", "UpSampling3D"), 4),
}


_ANY_RANK = {"Dropout", "AlphaDropout", "GaussianDropout", "GaussianNoise", "Activation", "ReLU", "LeakyReLU", "ELU",
             "Softmax", "Rescaling", "ActivityRegularization", "Identity"}


def _lazy_shape(model: ModelIR, var: str) -> tuple:
    """An input without a shape: None sizes, of the rank its first layer takes."""
    first = next((layer for layer in model.graph_nodes if var in layer.inputs), None)
    if first is not None and first.key.startswith("Model:"):  # a model as the first layer: its input
        inner = first.args["model"].value
        if len(inner.graph_inputs) == 1:
            inner_var, shape = inner.graph_inputs[0]
            return shape if shape is not None else _lazy_shape(inner, inner_var)
    # Layers that work on any rank (Dropout, an activation, Rescaling): the next layer says it.
    while first is not None and first.key in _ANY_RANK:
        later = model.graph_nodes[model.graph_nodes.index(first) + 1 :]
        first = next((layer for layer in later if first.output in layer.inputs), None)
    rank = _FIRST_LAYER_RANKS.get(first.key) if first is not None else None
    if rank is None:
        raise Unsupported(
            "the model has no input shape (input_shape=, keras.Input or model.build), and its first layer "
            f"({first.key if first else 'none'}) does not say the input's rank",
            "K2T303",
        )
    return (None,) * rank


def _input_layouts(model: ModelIR, shapes: dict) -> dict[str, str]:
    """Each input is channels-first when the first layer that cares about layout wants it so."""
    layouts = {}
    for var, shape in shapes.items():
        want = None
        frontier = [var]
        for layer in model.graph_nodes:
            if any(v in frontier for v in layer.inputs):
                if layer.token_input:
                    break
                want = layer.rule.wanted(layer.args)
                if want:
                    break
                frontier.append(layer.output)
        layouts[var] = FIRST if want == FIRST and len(shape) >= 2 else LAST
    return layouts


def _consumers(model: ModelIR, index: int) -> list[int]:
    """Nodes reading the tensor node `index` produces (until its variable is bound again)."""
    var = model.graph_nodes[index].output
    found = []
    for j in range(index + 1, len(model.graph_nodes)):
        node = model.graph_nodes[j]
        if var in node.inputs:
            found.append(j)
        if node.output == var:
            break
    return found


def unpacked_lines(expression: str, outputs: list[str], pattern: str, finish, why: str | None, temps: tuple,
                   read, taken: set[str]) -> list[str]:
    """A layer with several outputs: its call unpacked into `pattern` (`_` for what nothing reads),
    then each output brought to Keras's form (`h, c = h[0], c[0]`), with the comment saying why.
    read(name): whether the program reads that output; temps get names not in `taken`."""
    fields = {f"y{i}": var if read(var) else "_" for i, var in enumerate(outputs)}
    wanted = [(var, code) for var, code in zip(outputs, finish) if code and read(var)]
    for i, base in enumerate(temps):
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        fields[f"t{i}"] = name if any(f"{{t{i}}}" in code for _, code in wanted) else "_"
    lines = [f"{pattern.format(**fields).replace('(_, _)', '_')} = {expression}"]
    done = [(var, code.format(**fields)) for var, code in wanted]
    if done:
        lines += [f"# {why}"] if why and any("[0]" in code or "[1]" in code for _, code in done) else []
        lines.append(f"{', '.join(v for v, _ in done)} = {', '.join(c for _, c in done)}")
    return lines


# Unsupported codes for which a layer is kept in place as a module that raises: no rule for the layer
# or one of its arguments (not a graph or size problem, which the model as a whole must solve).
_KEPT_IN_PLACE = ("K2T101", "K2T102", "K2T201")


def _only_initial_state(model: ModelIR, var: str) -> bool:
    """Every layer that reads `var` takes it as an initial state (not as its sequence), and the
    model does not return it."""
    readers = [layer for layer in model.graph_nodes if var in layer.inputs]
    return bool(readers) and var not in model.graph_outputs and all(
        layer.rule is not None and layer.rule.takes_states and layer.inputs[0] != var for layer in readers
    )


def _consumer_keys(model: ModelIR, index: int) -> tuple[str, ...]:
    """Keys of the chain of single consumers after a node (Flatten's look-ahead)."""
    keys = []
    while True:
        consumers = _consumers(model, index)
        if len(consumers) != 1 or model.graph_nodes[index].output in model.graph_outputs[:-1]:
            return tuple(keys)
        index = consumers[0]
        keys.append(model.graph_nodes[index].key)


def lower_model(
    model: ModelIR, fused_activation: str | None = None, constants: dict | None = None, sparse_gradients: bool = False,
    borrowed: dict | None = None, runtime_names: frozenset = frozenset(),
) -> LoweredModel:
    """constants: the module's names with literal values; sizes the class reads from them become
    constructor parameters with those defaults (the class then does not depend on globals).
    sparse_gradients: the optimizer takes an Embedding's gradient sparse, as Keras on TensorFlow does.
    borrowed: id(LayerCall) -> (the constructor parameter holding the model that made the layer, its
    module attribute there): the layer's module is that model's (the weights are shared).
    runtime_names: the module's variables that the run computes (`vocab_size = len(words) + 1`): a
    size __init__ reads from one is a constructor parameter, so the class does not read a global."""
    borrowed = borrowed or {}
    graph_inputs = [(var, shape if shape is not None else _lazy_shape(model, var)) for var, shape in model.graph_inputs]
    # Sizes the first batch sets (torch's lazy modules).
    lazy = graph_inputs != model.graph_inputs and any(d is None for _, shape in graph_inputs for d in shape)
    for _, shape in graph_inputs:
        for dim in shape:
            if not (dim is None or isinstance(dim, Symbol) or (isinstance(dim, int) and not isinstance(dim, bool))):
                raise Unsupported(
                    f"the input shape {_shape_repr(shape)} holds {getattr(dim, 'code', None) or repr(dim)}, "
                    "which is not a size",
                    "K2T303",
                )
    ctor_params: list[str] = []
    ctor_args: list[str] = []  # what the construction site passes for each parameter
    tensors: dict[str, _Tensor] = {}
    input_layouts = _input_layouts(model, dict(graph_inputs))
    input_shapes = []
    for var, shape in graph_inputs:
        shape = list(shape)
        for i, dim in enumerate(shape):
            if isinstance(dim, Symbol):  # known at run time only: a constructor parameter
                name = _input_dim_name(i, len(shape))
                if len(model.graph_inputs) > 1:
                    name = f"{var}_{name}"
                ctor_params.append(name)
                ctor_args.append(dim.code)
                shape[i] = Symbol(name)
        tensors[var] = _Tensor(var, tuple(shape), input_layouts[var])
        input_shapes.append(tuple(shape))
    rank2_layouts = {input_layouts[v] for v, shape in graph_inputs if len(shape) >= 2}
    channels_first = rank2_layouts == {FIRST}
    embedding_inputs = {
        v for v, _ in model.graph_inputs if any(n.token_input and v in n.inputs for n in model.graph_nodes)
    }
    input_dtype = "int64" if embedding_inputs else "float32"
    init_lines: list[str] = []
    forward: list[str] = []
    layer_maps: list[LayerMap] = []
    notes: list[Problem] = []
    problems: list[Problem] = []
    modules: list[tuple[Step, int]] = []  # (step, layer index) in order, named below
    per_layer_steps: list[tuple[list[Step], str, list[str]]] = []
    init_requests: list[tuple[Step, Lowering, object]] = []
    comments: dict[int, list[str]] = {}  # id(step) -> notes written above its line
    init_code: list[tuple[Step, list[str]]] = []  # a rule's own reset_parameters() lines
    output_var = model.graph_outputs[0]
    failed: set[str] = set()  # tensors of layers that could not be translated
    snippets: set[str] = set()  # helpers the class needs (e.g. a recurrent loop)
    module_steps: dict[int, list[Step]] = {}  # id(LayerCall) -> its steps that create modules
    shared_steps: dict[int, int] = {}  # id(step) of a shared layer's later call -> id(first step)
    penalties: list[tuple[Step, str, Penalty]] = []  # (weights module step, parameter, penalty)
    injected: dict[str, str] = {}  # layer object variable -> the module's constructor code
    fixed_names: dict[int, str] = {}  # id(step) -> its attribute (a borrowed module keeps its name)
    untranslated: list[Problem] = []  # layers kept as modules that raise, one marker each
    unsized: set[str] = set()  # tensors computed after an untranslated layer: their sizes are unknown

    for index, layer in enumerate(model.graph_nodes):
        rule = layer.rule
        # Every regularizer and constraint argument (kernel_, bias_, gamma_, depthwise_, ...).
        layer_penalties = []
        for name in [n for n in layer.args if n.endswith(("_regularizer", "_constraint"))]:
            value = layer.args[name].value
            if value is None:
                continue
            target = dict(rule.regularized).get(name)
            if isinstance(value, Penalty) and target is not None:
                if not (name == "bias_regularizer" and layer.args.get("use_bias", Value("True", True)).value is False):
                    layer_penalties.append((target, value))
                continue
            if name.endswith("_regularizer") and target is not None:
                reason = f"{layer.args[name].code} is not a regularizer k2t can read (l1, l2, l1_l2 with their factors)"
            elif name.endswith("_regularizer"):
                reason = "the regularizer (a penalty added to the loss) of this weight is not translated yet"
            else:
                reason = "the constraint is not translated yet"
            problems.append(Problem(layer.node, "K2T102", f"{layer.key}({name}=...): {reason}"))
        attributes = sorted({n for value in layer.args.values() for n in value.local_names if "." in n})
        taken = dict(zip(ctor_params, ctor_args))
        clashes = [a for a in attributes if taken.get(a.split(".")[1], a) != a or keyword.iskeyword(a.split(".")[1])]
        if clashes:
            problems.append(Problem(layer.node, "K2T102", f"{layer.key}: {', '.join(clashes)} is read from an object, "
                                    "and the model's constructor already has a parameter of that name"))
            failed.update(layer.outputs or [layer.output])
            continue
        for attribute in attributes:
            # `Dense(self.num_tokens)` in a method: the model is given self.num_tokens as num_tokens.
            _, name = attribute.split(".")
            pattern = re.compile(rf"\b{re.escape(attribute)}\b")
            for arg, value in layer.args.items():
                if attribute in value.local_names:
                    layer.args[arg] = dataclasses.replace(
                        value, code=pattern.sub(name, value.code),
                        local_names=frozenset(name if n == attribute else n for n in value.local_names),
                    )
            if name not in ctor_params:
                ctor_params.append(name)
                ctor_args.append(attribute)
        for value in layer.args.values():
            for local in sorted(value.local_names):
                if local not in ctor_params:
                    ctor_params.append(local)
                    ctor_args.append(local)
        if any(v in failed for v in layer.inputs):  # the cause is reported where it failed
            failed.update(layer.outputs or [layer.output])
            continue
        try:
            inputs = [tensors[v] for v in layer.inputs]
        except KeyError as exc:
            problems.append(Problem(layer.node, "K2T301", f"tensor {exc.args[0]} is not produced by a known layer"))
            continue
        steps: list[Step] = []
        # Bring the inputs into the layout the layer wants (one permute, where it is needed).
        wants = _wanted_layout(layer, inputs[0].shape)
        if len(inputs) > 1 and wants is None and len({t.layout for t in inputs}) > 1:
            wants = LAST
        input_exprs = []
        for tensor in inputs:
            expression, layout = tensor.var, tensor.layout
            rank = len(tensor.shape)
            if wants == FIRST and layout == LAST and rank >= 2:
                expression, layout = to_first(rank).format(x=tensor.var), FIRST
            elif wants == LAST and layout == FIRST and rank >= 2:
                expression, layout = to_last(rank).format(x=tensor.var), LAST
            input_exprs.append((expression, layout))
        layout = input_exprs[0][1]
        if len(inputs) == 1 and input_exprs[0][0] != inputs[0].var:
            steps.append(Step(input_exprs[0][0].replace(inputs[0].var, "{x}", 1)))
        flat_from = inputs[0].flat_from if len(inputs) == 1 else None
        ctx = LayerContext(
            key=layer.key,
            args=layer.args,
            in_shape=inputs[0].shape,
            layout=layout,
            next_keys=_consumer_keys(model, index),
            flat_from=flat_from if rule.keras == "Dense" else None,
            in_shapes=tuple(t.shape for t in inputs),
            in_layouts=tuple(t.layout for t in inputs),
            in_names=tuple(layer.input_names),
            separate_inputs=layer.separate_inputs,
            call_options={name: value.value for name, value in layer.call_options.items()},
            sparse_gradients=sparse_gradients,
            lazy=lazy or any(v in unsized for v in layer.inputs),  # after an untranslated layer: lazy sizes
        )
        try:
            lowering = rule.lower(ctx)
        except Unsupported as exc:
            if (exc.code not in _KEPT_IN_PLACE or layer.outputs or layer.shared_with is not None or id(layer) in borrowed
                    or layer.key.startswith(("Custom:", "Model:"))):  # the program's class or model: fixed there
                problems.append(Problem(layer.node, exc.code, str(exc)))
                failed.update(layer.outputs or [layer.output])
                continue
            # One marker for the layer; the model around it is translated (rules/layers/custom.py).
            reason = str(exc)
            if any(v in unsized for v in layer.inputs):
                reason += " (its input comes after a layer k2t could not translate, whose sizes are not known)"
            layer = dataclasses.replace(layer, rule=untranslated_layer_rule(code_of(layer.node)),
                                        untranslated=Problem(layer.node, exc.code, reason))
            lowering = layer.rule.lower(ctx)
        except TypeError:  # arithmetic on a size known only at run time
            runtime = ", ".join(d.code for t in inputs for d in t.shape if isinstance(d, Symbol))
            problems.append(
                Problem(layer.node, "K2T303", f"{layer.key} needs input sizes that are only known at run time ({runtime})")
            )
            failed.update(layer.outputs or [layer.output])
            continue
        if layer.untranslated is not None:
            untranslated.append(layer.untranslated)
            unsized.add(layer.output)
            message = " ".join(layer.untranslated.message.split())  # one comment line
            lowering.steps[0].comment = f"k2t: {layer.untranslated.code} {message}; write this module's forward()"
        if id(layer) in borrowed and layer.shared_with is None:
            own = [step for step in lowering.steps if step.module is not None]
            owner, attr = borrowed[id(layer)]
            if len(own) > 1 or (own and attr is None):
                problems.append(Problem(layer.node, "K2T301", f"{layer.key}: a layer of {owner} made of several modules is not shared yet"))
                failed.update(layer.outputs or [layer.output])
                continue
            if own:
                own[0].module = f"{owner}.{attr}"
                fixed_names[id(own[0])] = attr  # `self.fc1 = autoencoder.fc1`
                lowering = dataclasses.replace(lowering, init=None, init_code=[])  # initialised where it was made
                if owner not in ctor_params:
                    ctor_params.append(owner)
                    ctor_args.append(owner)
        elif layer.injected and lowering.weights_step is not None and layer.shared_with is None:
            # The program's own layer object, given to the constructor under its name.
            step = lowering.steps[lowering.weights_step]
            injected[layer.binding] = step.module
            step.module = layer.binding
            if layer.binding not in ctor_params:
                ctor_params.append(layer.binding)
                ctor_args.append(layer.binding)
        first = module_steps.get(id(layer.shared_with)) if layer.shared_with is not None else None
        if layer.shared_with is not None:
            # A layer applied again: its steps call the first application's modules.
            own = [step for step in lowering.steps if step.module is not None]
            if first is None or [s.module for s in own] != [s.module for s in first]:
                problems.append(Problem(layer.node, "K2T301", f"shared {layer.key} applied to inputs of another shape"))
                failed.update(layer.outputs or [layer.output])
                continue
            shared_steps.update({id(mine): id(theirs) for mine, theirs in zip(own, first)})
            ctx.notes.clear()  # said at the first application
        else:
            module_steps[id(layer)] = [step for step in lowering.steps if step.module is not None]
            if layer_penalties and lowering.weights_step is not None:
                penalties += [(lowering.steps[lowering.weights_step], target, p) for target, p in layer_penalties]
            elif layer_penalties:
                problems.append(Problem(layer.node, "K2T102", f"{layer.key}: its regularizer has no weights to act on"))
        unpacked = len(layer.outputs) > 1
        if unpacked != bool(lowering.unpack) or (unpacked and len(layer.outputs) != len(lowering.out_shapes)):
            count = len(lowering.out_shapes) if lowering.unpack else 1
            problems.append(Problem(layer.node, "K2T301", f"{layer.key} returns {count} tensor{'s' * (count > 1)}, "
                                    + (f"unpacked here into {len(layer.outputs)}" if unpacked else
                                       "which k2t follows only unpacked (`output, state = layer(x)`)")))
            failed.update(layer.outputs or [layer.output])
            continue
        layer_notes = [Problem(layer.node, note[0], note[1]) for note in ctx.notes]
        notes.extend(layer_notes)
        activation = lowering.activation
        if activation is not None and activation not in ACTIVATIONS:
            problems.append(
                Problem(layer.node, "K2T102", f"{layer.key}(activation={layer.args['activation'].code}) has no translation")
            )
            failed.update(layer.outputs or [layer.output])
            continue
        # The module's output is the layer's output (up to its activation) only when the last
        # step is a plain module call: then the verifier compares it layer by layer.
        comparable = bool(lowering.steps) and lowering.steps[-1].forward == "{m}({x})" and not unpacked
        snippets |= lowering.snippets
        steps.extend(lowering.steps)
        for step in lowering.steps:
            if step.module is not None and first is None:
                modules.append((step, index))
        if lowering.init is not None and lowering.weights_step is not None and first is None:
            init_requests.append((lowering.steps[lowering.weights_step], lowering, layer))
        if lowering.init_code and lowering.weights_step is not None and first is None:
            init_code.append((lowering.steps[lowering.weights_step], lowering.init_code))
        out_rank = len(lowering.out_shape)
        dim = 1 if lowering.out_layout == FIRST and out_rank >= 2 else -1
        is_output = layer.output == output_var and index == max(
            i for i, n in enumerate(model.graph_nodes) if n.output == output_var
        )
        if is_output and fused_activation and layer.key == "Softmax" and activation is None:
            activation, steps = "softmax", steps[: len(steps) - len(lowering.steps)]
        if activation not in (None, "linear") and not (is_output and activation == fused_activation):
            if steps:
                steps[-1].forward = render(activation, steps[-1].forward, dim)
            else:
                steps.append(Step(render(activation, "{x}", dim)))
        if not steps:  # an identity (e.g. Activation('linear')): keep the variable flowing
            steps.append(Step("{x}"))
        # A documented difference is a comment at the layer's line, not a marker for a human.
        for note, problem in zip(ctx.notes, layer_notes):
            _add_comment(comments, _layer_step(lowering, steps), layer.key, problem.message, *note[2:])
        extra_outputs, finish = [], list(lowering.finish)
        for i, (var, shape) in enumerate(zip(layer.outputs, lowering.out_shapes) if unpacked else ()):
            if i and finish[i] == f"{{y{i}}}[0]" and _only_initial_state(model, var):
                # Read only as another recurrent layer's initial state: kept as torch returns it.
                finish[i] = None
                extra_outputs.append((var, shape, STATE))
            elif i:
                extra_outputs.append((var, shape, lowering.out_layout))
        unpacking = (layer.outputs, lowering.unpack, finish, lowering.finish_comment, lowering.temps) if unpacked else None
        per_layer_steps.append(
            (steps, layer.output, inputs[0].var, [expr for expr, _ in input_exprs], layer.comments, unpacking)
        )
        last = lowering.steps[-1] if lowering.steps else None
        last_module_step = last if last is not None and last.module else None
        weights_step = lowering.steps[lowering.weights_step] if lowering.weights_step is not None else None
        # A (C, H, W)-ordered flatten travels through weightless, shape-keeping layers to the Dense.
        if lowering.flat_from is not None:
            out_flat_from = lowering.flat_from
        elif lowering.weights_step is None and lowering.out_shape == inputs[0].shape and len(inputs) == 1:
            out_flat_from = flat_from
        else:
            out_flat_from = None
        layer_maps.append(
            LayerMap(
                index=index,
                key=layer.key,
                module=id(weights_step or last_module_step) if (weights_step or last_module_step) else None,
                weights=weights_step is not None and first is None,  # shared: transferred once
                transfer_info=lowering.transfer_info,
                activation=activation if activation not in (None, "linear") else None,
                layout=lowering.out_layout,
                out_shape=lowering.out_shape,
                flat_from=out_flat_from,
                keras_name=layer.name,
                comparable=comparable,
            )
        )
        tensors[layer.output] = _Tensor(layer.output, tuple(lowering.out_shape), lowering.out_layout, out_flat_from)
        if any(v in unsized for v in layer.inputs) and None in lowering.out_shape:
            unsized.add(layer.output)
        for var, shape, layout in extra_outputs:
            tensors[var] = _Tensor(var, tuple(shape), layout)

    if problems:
        raise Failed(problems)
    if len(untranslated) > 1 and 2 * len(untranslated) > len(model.graph_nodes):
        # Mostly layers k2t cannot translate (Keras 1 code, say): the model stays as it is, marked.
        raise Failed(untranslated)

    names = _name_modules(modules, model, fixed_names)
    names.update({mine: names[theirs] for mine, theirs in shared_steps.items()})
    for lm in layer_maps:
        lm.module = names.get(lm.module) if lm.module is not None else None
    reset = _reset_parameters(init_requests, names, notes, comments)
    said: set[str] = set()  # a note is written once per class, above the first module it concerns
    for step, _ in modules:
        notes_above = ([f"# {step.comment}"] if step.comment else []) + comments.pop(id(step), [])
        init_lines += [line for line in notes_above if line not in said]
        said.update(notes_above)
        init_lines.append(f"self.{names[id(step)]} = {step.module}")
    consumed = {var for layer in model.graph_nodes for var in layer.inputs} | set(model.graph_outputs)
    taken = consumed | {var for layer in model.graph_nodes for var in [layer.output, *layer.outputs]}
    for steps, out, current, input_exprs, user_comments, unpacking in per_layer_steps:
        forward += user_comments  # the program's own comments, next to the code they explain
        for position, step in enumerate(steps):
            fields = {f"x{i}": e for i, e in enumerate(input_exprs)}
            fields["xs"] = "[" + ", ".join(input_exprs) + "]"
            expression = step.forward.format(x=current, m=f"self.{names[id(step)]}" if step.module else "", **fields)
            forward += comments.pop(id(step), [])
            if unpacking and position == len(steps) - 1:  # `out, (h, c) = self.lstm(x)`, then Keras's form
                forward += unpacked_lines(expression, *unpacking, lambda var: var in consumed, taken)
            else:
                forward.append(f"{out} = {expression}")
            current = out
    for var in model.graph_outputs:
        tensor = tensors[var]
        if tensor.layout == FIRST and len(tensor.shape) >= 2:
            # Keras returns channels-last: the model's outputs keep Keras's layout.
            forward.append(f"{var} = {to_last(len(tensor.shape)).format(x=var)}")
    forward = _reuse_names(forward, {*(var for var, _ in model.graph_inputs), *model.graph_outputs})
    out_tensor = tensors[output_var]
    output_shapes = [tuple(tensors[var].shape) for var in model.graph_outputs]
    reset += [line.format(m=f"self.{names[id(step)]}") for step, lines in init_code for line in lines]
    # A parameter whose value the code took as a choice (an activation's name), not as a size, is
    # not read by the class: the builder is then fixed for its value instead of passing it.
    read = _loaded_names(init_lines + forward + reset)
    kept = [i for i, param in enumerate(ctor_params) if param in read]
    ctor_params, ctor_args = [ctor_params[i] for i in kept], [ctor_args[i] for i in kept]
    output_units = out_tensor.shape[-1] if out_tensor.shape else None
    input_vars = [var for var, _ in model.graph_inputs]
    ctor_keywords = _constant_parameters(init_lines, forward + reset, ctor_params, constants or {})
    from_globals = _loaded_names(init_lines) - _loaded_names(forward + reset) - set(ctor_params) - set(ctor_keywords)
    for name in sorted(from_globals & runtime_names):
        ctor_params.append(name)
        ctor_args.append(name)
    terms = [term for step, param, p in penalties for term in p.terms(f"self.{names[id(step)]}.{param}")]
    lazy_modules = any(step.module.startswith("nn.Lazy") for step, _ in modules)
    code = _class_code(
        model, input_vars, input_shapes,
        ctor_params + [f"{name}={value!r}" for name, value in ctor_keywords.items()],
        init_lines, reset, forward, model.graph_outputs, output_shapes, channels_first, fused_activation, terms,
        lazy_modules,
    )
    return LoweredModel(
        class_name=model.class_name,
        code=code,
        layers=layer_maps,
        input_shape=input_shapes[0],
        input_dtype=input_dtype,
        channels_first=channels_first,
        fused_activation=fused_activation,
        output_units=output_units,
        ctor_params=ctor_params,
        ctor_args=ctor_args,
        ctor_keywords=list(ctor_keywords),
        notes=notes,
        snippets=snippets,
        inputs=[
            InputSpec(
                var,
                model.input_names.get(var),
                "int64" if var in embedding_inputs else "float32",
                len(shape),
                input_layouts[var] == FIRST and len(shape) >= 2,
            )
            for (var, _), shape in zip(model.graph_inputs, input_shapes)
        ],
        output_shape=tuple(out_tensor.shape),
        output_shapes=output_shapes,
        # Made where the program makes the layer object: sizes in the program's own terms.
        injected={
            name: re.sub(r"\b\w+\b", lambda m: dict(zip(ctor_params, ctor_args)).get(m.group(), m.group()), code)
            for name, code in injected.items()
        },
        regularized=bool(terms),
        untranslated=untranslated,
        materialize=lazy_modules,
        reset_after_materialize=lazy_modules and bool(reset),
    )


def _shape_repr(shape) -> str:
    return "(" + ", ".join(getattr(d, "code", None) or repr(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class Failed(Exception):
    """A model with problems: it is left as it is, and each problem reported."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems[0].message)
        self.problems = problems


def _identifier(name: str) -> str:
    name = re.sub(r"\W", "_", name).strip("_").lower() or "layer"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = "layer_" + name
    return name


def _name_modules(modules, model: ModelIR, fixed: dict | None = None) -> dict[int, str]:
    """fc1, fc2, conv1, ...; a Keras name= wins; a kind that occurs once is not numbered."""
    fixed = fixed or {}
    counts = Counter(step.attr for step, _ in modules if id(step) not in fixed)
    seen: Counter = Counter()
    names: dict[int, str] = {}
    taken: set[str] = set(fixed.values())
    for step, index in modules:
        keras_name = model.layers[index].name or model.layers[index].binding
        if id(step) in fixed:
            names[id(step)] = fixed[id(step)]
            continue
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


def _layer_step(lowering: Lowering, steps: list[Step]) -> Step:
    """The step whose line stands for a layer: its weights' module, else its first module or line."""
    if lowering.weights_step is not None:
        return lowering.steps[lowering.weights_step]
    return next((step for step in steps if step.module), steps[0])


def _add_comment(comments, step: Step, key: str, message: str, comment: str | None = None) -> None:
    """A note as a short comment above the step's line (a rule may give a shorter text)."""
    text = comment or message.removeprefix(f"{key}: ")
    comments.setdefault(id(step), []).extend(f"# {line}" for line in textwrap.wrap(text, 78))


def _reset_parameters(requests, names, notes, comments) -> list[str]:
    """Lines of reset_parameters(): Keras initialisers, grouped by (kernel, bias) initialiser."""
    groups: dict[tuple, list[str]] = {}
    for step, lowering, layer in requests:
        kernel, bias = lowering.init
        fans = keras_fans(lowering.kernel_shape)
        kernel_code = initializer_code(kernel, "module.weight", fans, lowering.torch_fans)
        bias_code = initializer_code(bias, "module.bias") if bias is not None else None
        if kernel_code is None or (bias is not None and bias_code is None):
            note = Problem(
                layer.node,
                "K2T104",
                f"{layer.key}: initializer {str(kernel if kernel_code is None else bias)!r} has no translation; "
                "torch's default initialisation is used",
            )
            notes.append(note)
            _add_comment(comments, step, layer.key, note.message)
            continue
        groups.setdefault((kernel_code, bias_code), []).append(names[id(step)])
    lines = []
    for (kernel_code, bias_code), attrs in groups.items():
        code = [kernel_code, *([bias_code] if bias_code else [])]
        code = [line for part in code for line in part.splitlines()]
        if len(attrs) == 1:
            lines += [line.replace("module.", f"self.{attrs[0]}.") for line in code]
            continue
        lines.append(f"for module in ({', '.join(f'self.{a}' for a in attrs)}):")
        lines += [f"    {line}" for line in code]
    return lines


def _shape_text(shape, channels_first: bool) -> str:
    dims = ["?" if d is None else dim_code(d) for d in shape]  # ?: set by the data
    if channels_first and len(dims) >= 2:
        dims = [dims[-1], *dims[:-1]]
    return "(N, " + ", ".join(dims) + ")"


def _input_dim_name(index: int, rank: int) -> str:
    if index == rank - 1:
        return "in_features" if rank == 1 else "in_channels"
    return {2: ["length"], 3: ["height", "width"]}.get(rank, [f"size{i}" for i in range(rank)])[index]


def _loaded_names(lines: list[str]) -> set[str]:
    names = set()
    for line in lines:
        try:
            tree = ast.parse(line.strip())
        except SyntaxError:
            continue
        names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return names


def _constant_parameters(init_lines, other_lines, ctor_params, constants: dict) -> dict:
    """Module constants that only __init__ reads -> their values (forward() keeps reading globals)."""
    used = _loaded_names(init_lines) - _loaded_names(other_lines) - set(ctor_params)
    return {
        name: constants[name]
        for name in sorted(used)
        if name in constants and isinstance(constants[name], (int, float, tuple)) and not isinstance(constants[name], bool)
    }


def _reuse_names(forward: list[str], kept: set[str]) -> list[str]:
    """`x_3 = self.bn(x); x = torch.relu(x_3)` -> `x = self.bn(x); x = torch.relu(x)`: a numbered
    variable (from a helper read into the graph, where the caller already had `x`) takes its base
    name back wherever no read of the base name's older value comes between. forward() is straight
    code, so the order of the lines is the whole data flow."""
    statements = [None if line.lstrip().startswith("#") else ast.parse(line).body[0] for line in forward]

    def reads(i: int) -> set[str]:
        node = statements[i]
        value = node.value if isinstance(node, ast.Assign) else node
        return {n.id for n in ast.walk(value) if isinstance(n, ast.Name)} if node is not None else set()

    def writes(i: int) -> set[str]:
        node = statements[i]
        targets = node.targets if isinstance(node, ast.Assign) else []
        return {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}

    lines = list(forward)
    for i in range(len(lines)):
        node = statements[i]
        single = isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        name = node.targets[0].id if single else None  # `out, (h, c) = ...` keeps its names
        base = re.sub(r"(_\d+)+$", "", name or "")
        if not base or base == name or name in kept:
            continue
        later = range(i + 1, len(lines))
        redefined = next((j for j in later if name in writes(j)), len(lines))
        last_read = max((j for j in range(i + 1, redefined) if name in reads(j)), default=i)
        next_base = next((j for j in later if base in writes(j)), len(lines))
        # The base's older value must be dead from here on, and the base not set while this is read.
        if next_base < last_read or any(base in reads(j) for j in range(i + 1, min(next_base + 1, len(lines)))):
            continue
        for j in range(i, last_read + 1):
            if statements[j] is None:  # a comment
                continue
            renamed = _renamed(lines[j], name, base, rename_target=j == i)
            if renamed != lines[j]:
                lines[j] = renamed
                statements[j] = ast.parse(renamed).body[0]
    return lines


def _renamed(line: str, old: str, new: str, rename_target: bool) -> str:
    """`line` with the variable `old` read (and, if asked, assigned) as `new`."""
    target, equals, value = line.partition(" = ")
    value = re.sub(rf"(?<![\w.]){old}\b", new, value)
    return f"{new if rename_target else target}{equals}{value}"


def _class_code(model, input_vars, input_shapes, ctor_params, init_lines, reset, forward, output_vars,
                out_shapes, channels_first, fused, penalty_terms=(), lazy=False) -> str:
    params = "".join(f", {p}" for p in ctor_params)
    source = model.keras_name or model.var
    kind = "Sequential" if model.kind == "sequential" else "functional"
    owners = " and ".join(f"`{var}`" for var in sorted({owner.var for owner, _ in model.borrowed.values()}))
    doc = f'    """The Keras {kind} model `{source}`."""'
    if owners:
        doc = doc[:-3] + f"\n\n    The layers it has with {owners} are that model's modules: the weights are shared.\n    " + '"""'
    lines = [
        f"class {model.class_name}(nn.Module):",
        doc,
        "",
        f"    def __init__(self{params}):",
        "        super().__init__()",
        *[f"        {line}" for line in init_lines],
    ]
    if reset and lazy:
        lines += ["        # The first batch sets the lazy sizes; reset_parameters() runs after it."]
    if reset:
        lines += [*(["        self.reset_parameters()"] if not lazy else []), "", "    def reset_parameters(self):",
                  '        """Initialise like Keras (torch\'s default initialisers differ)."""']
        lines += [f"        {line}" for line in reset]
    in_text = ", ".join(_shape_text(shape, channels_first and len(shape) >= 2) for shape in input_shapes)
    out_text = ", ".join(_shape_text(shape, False) for shape in out_shapes)
    if len(out_shapes) > 1:
        out_text = f"({out_text})"
    doc = [f'        """{in_text} -> {out_text}.']
    if fused:
        doc[0] = doc[0][:-1] + " logits."
        doc += ["", f"        The final {fused} is part of the loss and is applied in predict().", "        "]
    doc[-1] += '"""'
    lines += ["", f"    def forward(self, {', '.join(input_vars)}):", *doc]
    prefix = f"{output_vars[0]} = "
    if len(output_vars) > 1:
        forward = forward + [f"return {', '.join(output_vars)}"]
    elif forward and forward[-1].startswith(prefix):
        forward = forward[:-1] + ["return " + forward[-1][len(prefix):]]
    else:
        forward = forward + [f"return {output_vars[0]}"]
    lines += [f"        {line}" for line in forward]
    if penalty_terms:
        lines += ["", "    def regularization_loss(self):",
                  '        """The layers\' weight regularizers, which Keras adds to the loss."""',
                  f"        return {' + '.join(penalty_terms)}"]
    return "\n".join(lines) + "\n"


def lower_nested(report, injected: bool, ctx) -> Lowering:
    """A translated model used as a layer of another (rules/layers/custom.py): the inner model's
    class, which the outer model creates, or is given (`injected`: the program also uses the inner
    model on its own, and Keras shares its weights with the outer model)."""
    lowered: LoweredModel = report.lowered
    if len(lowered.inputs) != 1:
        raise Unsupported(f"{report.var} takes several inputs: such a model used as a layer is not translated yet", "K2T301")
    if len(ctx.in_shapes) != 1:
        raise Unsupported(f"{report.var} is applied to several tensors but takes one", "K2T301")
    given, expected = tuple(ctx.in_shape), tuple(lowered.input_shape)
    if len(given) != len(expected) or any(
        isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(given, expected)
    ):
        raise Unsupported(
            f"{report.var} takes inputs of shape {_shape_repr(expected)} but is applied to {_shape_repr(given)}", "K2T301"
        )
    if lowered.ctor_args:
        raise Unsupported(f"{report.var}'s sizes are known only at run time ({', '.join(lowered.ctor_args)})", "K2T303")
    name = ctx.code("model")  # the variable the program applies: the constructor argument's name
    module = name if injected else f"{lowered.class_name}()"
    return Lowering(
        steps=[Step("{m}({x})", module, attr=name)],
        out_shape=tuple(lowered.output_shape),
        out_layout=LAST,
        # Compiled on its own with a loss that takes logits, the inner model returns them: the
        # outer model applies the output activation that Keras's inner model applies.
        activation=lowered.fused_activation,
        weights_step=0,
        transfer_info={"nested": report},
    )
