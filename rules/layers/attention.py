"""MultiHeadAttention -> the MultiHeadAttention module of rules/snippets.py (four nn.Linear
projections around F.scaled_dot_product_attention). Attention (Luong-style dot-product attention,
called on [query, value] or [query, value, key]) -> F.scaled_dot_product_attention with scale=1.0
(Keras does not divide by sqrt(dim)); use_scale=True learns a scalar factor of the scores, starting
at 1: the DotAttention module of rules/snippets.py. AdditiveAttention (Bahdanau-style: scores
sum(scale * tanh(query_i + key_j)) over the features, scale a learned (dim,) vector with Keras's
glorot-uniform start, or 1 without use_scale) -> the AdditiveAttention module of rules/snippets.py.

Caveats kept by this rule:
- torch's nn.MultiheadAttention ties each head's size to embed_dim / num_heads; Keras's key_dim and
  value_dim are free (keras.io examples use key_dim=embed_dim), so the module keeps Keras's sizes.
- Keras's projections are EinsumDense kernels (dim, heads, key_dim) and (heads, value_dim, out):
  Keras's glorot fans come from those 3-D shapes (fan_in = heads * dim, ...), not from the Linear's
  two axes, so the bounds are written out.
- Attention masks, use_causal_mask, return_attention_scores and attention_axes are refused (marked).
"""

from __future__ import annotations

from k2t.rules.initializers import initializer_code, keras_fans
from k2t.rules.spec import KERNEL_PARAMS, LAST, LayerRule, Lowering, Step, Unsupported, params
from k2t.values import dim_code


# MultiHeadAttention's tensor arguments in their positional order.
_MHA_INPUTS = ("query", "value", "key", "attention_mask")


def _mha(ctx) -> Lowering:
    for name in ("attention_axes", "output_shape"):
        if ctx.value(name) is not None:
            raise Unsupported(f"MultiHeadAttention({name}=...) has no translation yet")
    shapes = ctx.in_shapes or (ctx.in_shape,)
    names = ctx.in_names or _MHA_INPUTS[: len(shapes)]
    given = dict(zip(names, range(len(shapes))))
    if len(given) != len(shapes) or not {"query", "value"} <= set(given):
        raise Unsupported("MultiHeadAttention is called with query and value (and key) tensors")
    if any(len(shapes[given[n]]) != 2 for n in ("query", "value", "key") if n in given):
        raise Unsupported("MultiHeadAttention on tensors other than (batch, length, features) has no translation yet")
    query_dim, value_in = shapes[given["query"]][-1], shapes[given["value"]][-1]
    key_in = shapes[given["key"]][-1] if "key" in given else value_in
    if None in (query_dim, value_in, key_in):
        raise Unsupported("MultiHeadAttention needs the feature sizes of its inputs, which are unknown here", "K2T303")
    heads = ctx.require("num_heads")
    key_dim = ctx.require("key_dim")
    value_dim = ctx.value("value_dim") if ctx.value("value_dim") is not None else key_dim
    bias = ctx.require("use_bias")
    options = [f"num_heads={ctx.code('num_heads')}", f"key_dim={ctx.code('key_dim')}"]
    if value_dim != key_dim:
        options.append(f"value_dim={ctx.code('value_dim')}")
    if ctx.value("dropout"):
        options.append(f"dropout={ctx.code('dropout')}")
    if not bias:
        options.append("bias=False")
    sizes = [dim_code(query_dim), dim_code(key_in), dim_code(value_in)]
    module = f"MultiHeadAttention({', '.join(sizes + options)})"
    arguments = [f"{{x{given['query']}}}", f"{{x{given['value']}}}"]
    arguments += [f"{name}={{x{given[name]}}}" for name in ("key", "attention_mask") if name in given]
    scores = False
    for option in ("use_causal_mask", "return_attention_scores"):
        value = ctx.call_options.get(option, False)
        if value not in (True, False):
            raise Unsupported(f"MultiHeadAttention(..., {option}=...): the value must be known statically")
        arguments += [f"{option}=True"] if value else []
        scores = scores or (option == "return_attention_scores" and value)
    forward = "{m}(" + ", ".join(arguments) + ")"
    query_shape = shapes[given["query"]]
    several = {}
    if scores:  # (output, weights): weights (heads, query length, value length) per sample
        weights_shape = (heads, query_shape[0], shapes[given["value"]][0])
        several = {"unpack": "{y0}, {y1}", "finish": (None, None), "out_shapes": (query_shape, weights_shape)}
    # Keras's fans of each EinsumDense kernel: (in, heads, size) and (heads, value_dim, out).
    kernels = {
        "query": (query_dim, heads, key_dim),
        "key": (key_in, heads, key_dim),
        "value": (value_in, heads, value_dim),
        "output": (heads, value_dim, query_dim),
    }
    init = []
    for name, shape in kernels.items():
        code = initializer_code(ctx.value("kernel_initializer"), f"{{m}}.{name}.weight", keras_fans(shape), False)
        if code is None:
            raise Unsupported(f"MultiHeadAttention(kernel_initializer={ctx.code('kernel_initializer')}) has no translation yet")
        init += code.splitlines()
        if bias:
            bias_code = initializer_code(ctx.value("bias_initializer"), f"{{m}}.{name}.bias")
            if bias_code is None:
                raise Unsupported(f"MultiHeadAttention(bias_initializer={ctx.code('bias_initializer')}) has no translation yet")
            init += bias_code.splitlines()
    return Lowering(
        steps=[Step(forward, module, attr="attention")],
        out_shape=query_shape,
        out_layout=LAST,
        weights_step=0,
        transfer_info={"bias": bool(bias)},
        init_code=[line.replace("{", "{{").replace("}", "}}").replace("{{m}}", "{m}") for line in init],
        snippets={"MultiHeadAttention"},
        **several,
    )


def _transfer_mha(weights, info):
    """Keras: query, key, value kernels (in, heads, size) and the output kernel (heads, size, out),
    each with its bias; torch: nn.Linear weights (out, in) over the flattened heads."""
    out = {}
    names = ("query", "key", "value", "output")
    step = 2 if info.get("bias", True) else 1
    for i, name in enumerate(names):
        kernel = weights[i * step]
        flat = kernel.reshape(kernel.shape[0], -1) if name != "output" else kernel.reshape(-1, kernel.shape[-1])
        out[f"{name}.weight"] = flat.T
        if step == 2:
            out[f"{name}.bias"] = weights[i * step + 1].reshape(-1)
    return out


def _attention(ctx) -> Lowering:
    if ctx.value("score_mode") != "dot":
        raise Unsupported(f"Attention(score_mode={ctx.code('score_mode')}) has no translation yet")
    shapes = ctx.in_shapes or (ctx.in_shape,)
    if len(shapes) not in (2, 3):
        raise Unsupported("Attention is called with query and value (and key) tensors")
    if any(len(shape) != 2 for shape in shapes):
        raise Unsupported("Attention on tensors other than (batch, length, features) has no translation yet")
    dropout = ctx.require("dropout")
    out = shapes[0][:1] + shapes[1][-1:]  # (Tq, value features)
    if not ctx.require("use_scale") and not dropout:
        key = "{x2}" if len(shapes) == 3 else "{x1}"
        forward = "F.scaled_dot_product_attention({x0}, " + key + ", {x1}, scale=1.0)"
        return Lowering([Step(forward)], out, out_layout=LAST)
    if not ctx.require("use_scale"):  # dropout on the attention weights
        key = "{x2}" if len(shapes) == 3 else "{x1}"
        forward = "{m}(torch.softmax({x0} @ " + key + ".transpose(1, 2), dim=-1)) @ {x1}"
        module = f"nn.Dropout({ctx.code('dropout')})"
        return Lowering([Step(forward, module, attr="attention_dropout")], out, out_layout=LAST)
    forward = "{m}({x0}, {x1})" if len(shapes) == 2 else "{m}({x0}, {x1}, {x2})"
    module = f"DotAttention(dropout={ctx.code('dropout')})" if dropout else "DotAttention()"
    return Lowering(
        steps=[Step(forward, module, attr="attention")],
        out_shape=out,
        out_layout=LAST,
        weights_step=0,
        snippets={"DotAttention"},
    )


def _additive_attention(ctx) -> Lowering:
    shapes = ctx.in_shapes or (ctx.in_shape,)
    if len(shapes) not in (2, 3):
        raise Unsupported("AdditiveAttention is called with query and value (and key) tensors")
    if any(len(shape) != 2 for shape in shapes):
        raise Unsupported("AdditiveAttention on tensors other than (batch, length, features) has no translation yet")
    dim = shapes[0][-1]
    if not isinstance(dim, int):
        raise Unsupported("AdditiveAttention needs the query's feature size, which is unknown here", "K2T303")
    key_dim = shapes[-1][-1]
    if isinstance(key_dim, int) and key_dim != dim:
        raise Unsupported(f"AdditiveAttention adds queries of {dim} features to keys of {key_dim}: Keras needs equal sizes")
    options = [dim_code(dim)]
    if not ctx.require("use_scale"):
        options.append("use_scale=False")
    if ctx.require("dropout"):
        options.append(f"dropout={ctx.code('dropout')}")
    forward = "{m}({x0}, {x1})" if len(shapes) == 2 else "{m}({x0}, {x1}, {x2})"
    return Lowering(
        steps=[Step(forward, f"AdditiveAttention({', '.join(options)})", attr="attention")],
        out_shape=shapes[0][:1] + shapes[1][-1:],  # (Tq, value features)
        out_layout=LAST,
        weights_step=0,
        snippets={"AdditiveAttention"},
    )


def _transfer_attention(weights, info):
    return {"scale": weights[0]}  # Keras's scalar "scale" weight


def _transfer_additive_attention(weights, info):
    return {"scale": weights[0]} if weights else {}  # Keras's (dim,) "scale" weight with use_scale


RULES = [
    LayerRule(
        "MultiHeadAttention",
        params(
            "num_heads",
            "key_dim",
            ("value_dim", None),
            ("dropout", 0.0),
            ("use_bias", True),
            ("output_shape", None),
            ("attention_axes", None),
            *KERNEL_PARAMS,
            ("seed", None),
            ("flash_attention", None),
        ),
        _mha,
        wants=LAST,
        transfer=_transfer_mha,
        regularized=(),  # Keras's kernel_regularizer acts on all four kernels: refused for now
        call_inputs=_MHA_INPUTS,
        call_options=("use_causal_mask", "return_attention_scores"),
    ),
    LayerRule(
        "Attention",
        params(("use_scale", False), ("score_mode", "dot"), ("dropout", 0.0), ("seed", None)),
        _attention,
        wants=LAST,
        transfer=_transfer_attention,
        regularized=(),
    ),
    LayerRule(
        "AdditiveAttention",
        params(("use_scale", True), ("dropout", 0.0), ("seed", None)),
        _additive_attention,
        wants=LAST,
        transfer=_transfer_additive_attention,
        regularized=(),
    ),
]
