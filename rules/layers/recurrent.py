"""Recurrent layers: LSTM, GRU, SimpleRNN, Bidirectional -> nn.LSTM, nn.GRU, nn.RNN (batch_first).

Caveats kept by these rules:
- Keras returns the last step unless return_sequences=True; torch returns every step plus the final
  states: the forward takes output[:, -1] (or output) from the module's result.
- go_backwards=True runs over the reversed sequence and, with return_sequences, returns the outputs
  in that reversed order: the input is flipped and the output is not.
- Bidirectional with return_sequences=False joins the forward direction's last output with the
  backward direction's final output, which sits at time step 0 of the output sequence (so
  output[:, -1] would be wrong): the forward reads the final hidden states h_n instead.
- Weights: Keras kernels are (in, k*units), torch weight_ih_l0 is (k*units, in). LSTM gates are
  i, f, c, o in both. Keras LSTM/SimpleRNN have one bias: bias_ih = bias, bias_hh = 0. The GRU gate
  order is z, r, h in Keras and r, z, n in torch; its reset_after bias is (2, 3 * units): input bias
  then recurrent bias. Bidirectional's weights are the forward layer's then the backward layer's
  (torch's *_l0 and *_l0_reverse).
- Input dropout: Keras draws one mask per sequence and feature and keeps it for every step, which is
  nn.Dropout1d on (N, C, L). recurrent_dropout has no torch equivalent.
- Keras initialises kernels glorot_uniform, recurrent kernels orthogonal, biases zeros and the LSTM
  forget-gate bias to 1 (unit_forget_bias); torch draws everything from U(-1/sqrt(units), ...).
  torch's LSTM/RNN have a second bias (bias_hh) that Keras lacks: trained, it moves the sum of the
  two at twice the rate, so training matches Keras only with it zero and frozen.
"""

from __future__ import annotations

from k2t.rules.activations import ACTIVATIONS
from k2t.rules.initializers import initializer_code, keras_fans
from k2t.rules.spec import LAST, STATE, LayerContext, LayerRule, Lowering, Step, Unsupported, params
from k2t.values import Symbol, dim_code

_TORCH = {"LSTM": "nn.LSTM", "GRU": "nn.GRU", "SimpleRNN": "nn.RNN"}
# Loops (snippets.py) for activations torch's modules lack; same parameters, same outputs.
_LOOPS = {"LSTM": "KerasLSTM", "GRU": "KerasGRU"}


def _activation_function(name: str) -> str:
    """A callable for an activation: torch.relu, or a lambda for templated ones."""
    template = ACTIVATIONS[name]
    if template.count("{x}") == 1 and template.endswith("({x})"):
        return template[: -len("({x})")]
    return "lambda x: " + template.format(x="x", dim=-1)
_ATTR = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn"}
# Keywords that leave the computation unchanged: implementation= only regroups the products
# (use_cudnn= and seed= are parameters: one picks a kernel, the other seeds dropout).
_INERT = LayerRule.__dataclass_fields__["inert"].default | {"implementation"}
_REGULARIZED = (
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "activity_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
)
_MERGE = {
    # merge_mode -> (all steps on (N, L, 2u) with {u} the units, final states on (2, N, u))
    "concat": (None, "torch.cat([{x}[0], {x}[1]], dim=1)"),
    "sum": ("{x}[..., :{u}] + {x}[..., {u}:]", "{x}[0] + {x}[1]"),
    "ave": ("({x}[..., :{u}] + {x}[..., {u}:]) / 2", "({x}[0] + {x}[1]) / 2"),
    "mul": ("{x}[..., :{u}] * {x}[..., {u}:]", "{x}[0] * {x}[1]"),
}


def _arg(ctx, name: str, bidirectional: bool, code: str | None = None) -> str:
    """How a message names one argument: LSTM(dropout=0.2) or Bidirectional(LSTM(dropout=0.2))."""
    text = f"{ctx.key}({name}={ctx.code(name) if code is None else code})"
    return f"Bidirectional({text})" if bidirectional else text


def _check(ctx, bidirectional: bool) -> None:
    """Raise Unsupported for argument values without a faithful translation."""
    key = ctx.key
    # The engine reports the regularizers and constraints of an unwrapped layer itself.
    for name in _REGULARIZED if bidirectional else ():
        if ctx.value(name) is not None:
            raise Unsupported(f"{_arg(ctx, name, bidirectional, '...')} is not translated yet")
    allowed = ("tanh", "relu") if key == "SimpleRNN" else ("tanh",)
    if key in _LOOPS and not bidirectional:  # any activation, through an explicit loop
        allowed = tuple(name for name in ACTIVATIONS if name not in ("softmax", "log_softmax"))
    if ctx.value("activation") not in allowed:
        raise Unsupported(
            f"{_arg(ctx, 'activation', bidirectional)}: torch's {_TORCH[key]} only has "
            + " or ".join(allowed)
        )
    if key != "SimpleRNN" and not ctx.args["recurrent_activation"].known:
        raise Unsupported(
            f"{_arg(ctx, 'recurrent_activation', bidirectional)}: k2t reads only the string "
            "'sigmoid' here"
        )
    if key != "SimpleRNN" and ctx.value("recurrent_activation") != "sigmoid":
        raise Unsupported(
            f"{_arg(ctx, 'recurrent_activation', bidirectional)}: torch's {_TORCH[key]} gates are "
            "sigmoid"
        )
    ctx.require("return_state")
    for name in ("stateful", "unroll"):
        if ctx.value(name) is not False:
            raise Unsupported(f"{_arg(ctx, name, bidirectional)} has no translation yet")
    if ctx.value("recurrent_dropout") != 0:
        raise Unsupported(
            f"{_arg(ctx, 'recurrent_dropout', bidirectional)}: torch's recurrent modules have no "
            "dropout on the recurrent state"
        )
    if key == "GRU" and ctx.value("reset_after") is not True:
        raise Unsupported(
            f"{_arg(ctx, 'reset_after', bidirectional)}: torch's nn.GRU applies the reset gate "
            "after the recurrent product (reset_after=True)"
        )
    for name in ("units", "use_bias", "return_sequences", "go_backwards", "dropout"):
        if not (name == "units" and ctx.lazy):  # in a class: the size the constructor is given
            ctx.require(name)
    if bidirectional and ctx.value("go_backwards"):
        raise Unsupported(f"{_arg(ctx, 'go_backwards', True)} is not translated yet")
    if bidirectional and ctx.value("dropout"):
        raise Unsupported(
            f"{_arg(ctx, 'dropout', True)}: each Keras direction draws its own input mask; torch's "
            "bidirectional module sees one input"
        )


def _init_code(ctx, bidirectional: bool) -> tuple[list[str], bool]:
    """reset_parameters() lines ({m} the module) and whether they initialise like Keras.

    Keras's kernels (in, k * units) and torch's weights (k * units, in) have the same fans, so
    glorot_uniform is xavier_uniform_ and orthogonal is orthogonal_ on the whole matrix.
    """
    bias = ctx.value("use_bias")
    units = ctx.value("units")
    gates = {"LSTM": 4, "GRU": 3}.get(ctx.key, 1) * units if isinstance(units, int) else None
    lines = [
        initializer_code(
            ctx.value("kernel_initializer"), "{m}.weight_ih_l0", keras_fans((ctx.in_shape[-1], gates))
        ),
        initializer_code(
            ctx.value("recurrent_initializer"), "{m}.weight_hh_l0", keras_fans((units, gates))
        ),
    ]
    if bias:
        lines.append(initializer_code(ctx.value("bias_initializer"), "{m}.bias_ih_l0"))
        if ctx.key == "GRU":  # reset_after: the recurrent bias is a Keras weight too
            lines.append(initializer_code(ctx.value("bias_initializer"), "{m}.bias_hh_l0"))
        elif ctx.key == "LSTM" and ctx.value("unit_forget_bias"):
            units = ctx.code("units")
            if units.isdigit():
                lines.append(f"nn.init.ones_({{m}}.bias_ih_l0[{units}:{2 * int(units)}])  # forget gate")
            else:  # a size read from the program: the gate blocks of the module's own bias
                lines.append("nn.init.ones_({m}.bias_ih_l0.view(4, -1)[1])  # forget gate")
    keras_like = None not in lines
    lines = [part for line in lines for part in line.splitlines()] if keras_like else []
    if bias and ctx.key != "GRU":
        lines += [
            "# Keras has one bias: torch's recurrent bias stays zero and is not trained.",
            "nn.init.zeros_({m}.bias_hh_l0)",
            "{m}.bias_hh_l0.requires_grad_(False)",
        ]
    if bidirectional:
        lines += [line.replace("_l0", "_l0_reverse") for line in lines if not line.startswith("#")]
    return lines, keras_like


def _lower(ctx, merge_mode: str | None = None) -> Lowering:
    """An LSTM/GRU/SimpleRNN; merge_mode is set when it is wrapped in Bidirectional."""
    key = ctx.key
    bidirectional = merge_mode is not None
    what = f"Bidirectional({key})" if bidirectional else key
    _check(ctx, bidirectional)
    if ctx.rank != 2:
        raise Unsupported(f"{what} needs a (timesteps, features) input, got {ctx.in_shape}")
    length, in_features = ctx.in_shape
    if in_features is None:
        raise Unsupported(f"{what} needs its number of input features known statically")
    # In a class, a size the constructor is given (GRU(self.units)) is written as the program has it.
    units = Symbol(ctx.code("units")) if ctx.lazy and not ctx.args["units"].known else ctx.require("units")
    states = _initial_states(ctx, what, in_features)
    options = ["batch_first=True"]
    if key == "SimpleRNN" and ctx.value("activation") == "relu":
        options.append('nonlinearity="relu"')
    if not ctx.value("use_bias"):
        options.append("bias=False")
    if bidirectional:
        options.append("bidirectional=True")
    snippets = set()
    torch_class = _TORCH[key]
    activation = ctx.value("activation")
    if key in _LOOPS and activation != "tanh":
        # torch's nn.LSTM/nn.GRU are tanh-only: a loop with the same parameters and outputs.
        torch_class = _LOOPS[key]
        snippets.add(torch_class)
        options.insert(0, f"activation={_activation_function(activation)}")
    module = f"{torch_class}({dim_code(in_features)}, {ctx.code('units')}, {', '.join(options)})"
    sequences = ctx.value("return_sequences")
    backwards = ctx.value("go_backwards")
    steps = []
    dropout = ctx.value("dropout")
    # The sequence is the first of several inputs when initial states are given.
    sequence = "{x0}" if states else "{x}"
    if dropout:
        steps.append(
            Step(
                "{m}(" + sequence + ".transpose(1, 2)).transpose(1, 2)",
                f"nn.Dropout1d({ctx.code('dropout')})",
                attr="dropout",
                comment=f"Keras {key}(dropout=...): one input mask per sequence and feature, kept "
                "for every step.",
            )
        )
    sequence = "{x}" if dropout else sequence
    call = "{m}(" + sequence + (".flip(1)" if backwards else "") + (f", {states})" if states else ")")
    comment = "Keras's go_backwards: runs over the reversed sequence." if backwards else None
    out_units = units * 2 if merge_mode == "concat" else units
    weights_step = len(steps)
    if ctx.value("return_state"):
        attr = ("bi" if bidirectional else "") + _ATTR[key]
        return _with_states(ctx, steps, Step(call, module, attr, comment), length, snippets, merge_mode)
    if not bidirectional:
        steps.append(
            Step(call + ("[0]" if sequences else "[0][:, -1]"), module, _ATTR[key], comment)
        )
    elif sequences:
        steps.append(Step(call + "[0]", module, "bi" + _ATTR[key]))
        merge = _MERGE[merge_mode][0]
        if merge:
            steps.append(Step(merge.replace("{u}", ctx.code("units"))))
    else:
        # Final hidden states (2, N, units): the backward direction ends at time step 0.
        final = "[1][0]" if key == "LSTM" else "[1]"
        steps.append(
            Step(
                call + final,
                module,
                "bi" + _ATTR[key],
                comment="Keras merges each direction's final output (the backward one's is at "
                "step 0).",
            )
        )
        steps.append(Step(_MERGE[merge_mode][1]))
    init_code, keras_like = _init_code(ctx, bidirectional)
    if not keras_like:
        ctx.note(
            f"{what}: an initializer has no translation; torch's default initialisation is used"
        )
    return Lowering(
        steps=steps,
        out_shape=(length, out_units) if sequences else (out_units,),
        out_layout=LAST,
        weights_step=weights_step,
        init_code=init_code,
        transfer_info={"kind": key, "bidirectional": bidirectional},
        snippets=snippets,
    )


def _initial_states(ctx, what: str, in_features) -> str | None:
    """The torch code of `initial_state=[h, c]` ({x1}, {x2}: Keras's (N, units) states), or None.

    torch's states have a leading (layers * directions) axis: (1, N, units).
    """
    given = ctx.in_shapes[1:] if len(ctx.in_shapes) > 1 else ()
    if not given:
        return None
    expected = 2 if ctx.key == "LSTM" else 1
    if len(given) != expected:
        raise Unsupported(f"{what} is given {len(given)} initial states; Keras's {ctx.key} takes {expected}")
    units = ctx.value("units") if ctx.args["units"].known else None
    if any(len(shape) != 1 or (units is not None and shape[0] not in (units, None)) for shape in given):
        raise Unsupported(f"{what}'s initial states must be (batch, {units}) tensors, got {given}")
    if ctx.key in _LOOPS and ctx.value("activation") != "tanh":
        raise Unsupported(f"{what}(activation={ctx.code('activation')}) with initial states is not translated yet")
    layouts = ctx.in_layouts[1:] or (LAST,) * expected
    codes = [f"{{x{i}}}" if layout == STATE else f"{{x{i}}}.unsqueeze(0)" for i, layout in enumerate(layouts, 1)]
    return f"({codes[0]}, {codes[1]})" if expected == 2 else codes[0]


def _with_states(ctx, steps: list[Step], step: Step, length, snippets, merge_mode: str | None) -> Lowering:
    """return_state=True: Keras returns [output, h, c] (LSTM) or [output, h], each state (N, units),
    and wrapped in Bidirectional [output, forward h, (c,) backward h, (c)]; torch returns (all steps,
    (h_n, c_n)) or (all steps, h_n), each state (directions, N, units)."""
    units = ctx.value("units") if ctx.args["units"].known else Symbol(ctx.code("units"))
    count = 2 if ctx.key == "LSTM" else 1
    sequences = ctx.value("return_sequences")
    bidirectional = merge_mode is not None
    steps.append(step)
    init_code, keras_like = _init_code(ctx, bidirectional)
    if not keras_like:
        ctx.note(f"{ctx.key}: an initializer has no translation; torch's default initialisation is used")
    if not bidirectional:
        unpack, temps = ("{y0}, ({y1}, {y2})" if count == 2 else "{y0}, {y1}"), ()
        finish = (None if sequences else "{y0}[:, -1]", *(f"{{y{i}}}[0]" for i in range(1, count + 1)))
        out_units, why = units, "torch's final states have a leading (num_layers) axis."
    else:  # the final states in temporaries (h_n, c_n), each direction's taken from them
        unpack, temps = ("{y0}, ({t0}, {t1})" if count == 2 else "{y0}, {t0}"), ("h_n", "c_n")[:count]
        merge = _MERGE[merge_mode][0] if sequences else _MERGE[merge_mode][1].replace("{x}", "{t0}")
        merged = merge.replace("{u}", ctx.code("units")).replace("{x}", "{y0}") if merge else None
        finish = (merged, *(f"{{t{j}}}[{direction}]" for direction in (0, 1) for j in range(count)))
        out_units = units * 2 if merge_mode == "concat" else units
        why = "torch stacks the directions' final states, forward first: (2, N, units)."
    return Lowering(
        steps=steps,
        out_shape=(length, out_units) if sequences else (out_units,),
        out_layout=LAST,
        weights_step=len(steps) - 1,
        init_code=init_code,
        transfer_info={"kind": ctx.key, "bidirectional": bidirectional},
        snippets=snippets,
        unpack=unpack,
        finish=finish,
        out_shapes=((length, out_units) if sequences else (out_units,), *[(units,)] * (len(finish) - 1)),
        finish_comment=why,
        temps=temps,
    )


def _transfer_one(weights, kind: str, suffix: str = "") -> dict:
    import numpy as np  # the verifier's dependency: the converter runs without numpy

    kernel, recurrent = weights[0], weights[1]
    bias = weights[2] if len(weights) > 2 else None
    if kind == "GRU":
        # Keras gate blocks z, r, h -> torch r, z, n.
        def reorder(array):
            z, r, h = np.split(array, 3, axis=-1)
            return np.concatenate([r, z, h], axis=-1)

        kernel, recurrent = reorder(kernel), reorder(recurrent)
        if bias is not None:
            bias = reorder(bias)  # (2, 3u): input bias, recurrent bias
    out = {f"weight_ih_l0{suffix}": kernel.T, f"weight_hh_l0{suffix}": recurrent.T}
    if bias is not None:
        if kind == "GRU":
            out[f"bias_ih_l0{suffix}"], out[f"bias_hh_l0{suffix}"] = bias[0], bias[1]
        else:  # one Keras bias: torch's recurrent bias is zero
            out[f"bias_ih_l0{suffix}"] = bias
            out[f"bias_hh_l0{suffix}"] = np.zeros_like(bias)
    return out


def _transfer(weights, info) -> dict:
    kind = info["kind"]
    if not info["bidirectional"]:
        return _transfer_one(weights, kind)
    half = len(weights) // 2  # the forward layer's weights, then the backward layer's
    return {
        **_transfer_one(weights[:half], kind),
        **_transfer_one(weights[half:], kind, "_reverse"),
    }


def _bidirectional(ctx) -> Lowering:
    inner = ctx.value("layer")
    if not hasattr(inner, "key"):
        raise Unsupported(
            f"Bidirectional({ctx.code('layer')}): the wrapped layer must be written as a layer "
            "call inside Bidirectional(...) to translate"
        )
    if inner.key not in _TORCH:
        raise Unsupported(
            f"Bidirectional({inner.key}) has no translation (LSTM, GRU and SimpleRNN do)"
        )
    if len(ctx.in_shapes) > 1:
        raise Unsupported(f"Bidirectional({inner.key}) with initial states is not translated yet")
    merge_mode = ctx.value("merge_mode")
    if merge_mode not in _MERGE:
        raise Unsupported(
            f"Bidirectional(merge_mode={ctx.code('merge_mode')}) has no translation "
            "(concat, sum, ave and mul do)"
        )
    for name in ("weights", "backward_layer"):
        if ctx.value(name) is not None:
            raise Unsupported(f"Bidirectional({name}=...) is not translated yet")
    inner_ctx = LayerContext(
        key=inner.key, args=inner.args, in_shape=ctx.in_shape, layout=ctx.layout
    )
    lowering = _lower(inner_ctx, merge_mode)
    ctx.notes.extend(inner_ctx.notes)
    return lowering


def _recurrent_params(key: str):
    head = ["units", ("activation", "tanh")]
    if key != "SimpleRNN":
        head.append(("recurrent_activation", "sigmoid"))
    head += [
        ("use_bias", True),
        ("kernel_initializer", "glorot_uniform"),
        ("recurrent_initializer", "orthogonal"),
        ("bias_initializer", "zeros"),
    ]
    if key == "LSTM":
        head.append(("unit_forget_bias", True))
    head += [(name, None) for name in _REGULARIZED]
    head += [("dropout", 0.0), ("recurrent_dropout", 0.0)]
    tail = [
        ("return_sequences", False),
        ("return_state", False),
        ("go_backwards", False),
        ("stateful", False),
        ("unroll", False),
    ]
    if key == "SimpleRNN":
        return params(*head, *tail, ("seed", None))
    if key == "GRU":
        return params(*head, ("seed", None), *tail, ("reset_after", True), ("use_cudnn", "auto"))
    return params(*head, ("seed", None), *tail, ("use_cudnn", "auto"))


RULES = [
    LayerRule(
        key, _recurrent_params(key), _lower, wants=LAST, transfer=_transfer, inert=_INERT, takes_states=True,
        # Keras's bias is torch's bias_ih + bias_hh: a penalty on it is not one on each (refused).
        regularized=(("kernel_regularizer", "weight_ih_l0"), ("recurrent_regularizer", "weight_hh_l0")),
    )
    for key in ("LSTM", "GRU", "SimpleRNN")
] + [
    LayerRule(
        "Bidirectional",
        params("layer", ("merge_mode", "concat"), ("weights", None), ("backward_layer", None)),
        _bidirectional,
        wants=LAST,
        transfer=_transfer,
    )
]
