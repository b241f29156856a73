"""Core layers: Dense, Activation and its layer forms, Dropout, Flatten, Reshape, Embedding, Rescaling.

Caveats kept by these rules:
- Dense kernels are (in, out) in Keras and (out, in) in torch. After a conv stack the engine keeps
  torch's (C, H, W) flatten and the Dense rows are permuted during weight transfer (flat_from).
- LeakyReLU's default slope is 0.3 in Keras (0.01 in torch).
- PReLU's slopes start at 0 in Keras (0.25 in torch). Keras's alpha has the input's shape (1 along
  shared_axes): nn.PReLU where it is one slope or one per channel (channels at dim 1), else the
  KerasPReLU module of rules/snippets.py with a slope per position.
- Embedding(mask_zero=True) masks downstream layers; torch has no masks (padding_idx differs).
- Embedding is sparse=True where the compiled optimizer reproduces Keras's update from per-token
  gradient rows (rules/optimizers.py).
"""

from __future__ import annotations

import ast
import math

from k2t.rules.activations import ACTIVATIONS, render
from k2t.rules.spec import (
    KERNEL_PARAMS,
    FIRST,
    LAST,
    LayerRule,
    Lowering,
    Step,
    Unsupported,
    params,
    to_last,
)
from k2t.values import Symbol, dim_code


def _dense(ctx) -> Lowering:
    # A size passed to a model-building function (Dense(n_classes)) becomes a constructor parameter.
    units = ctx.value("units") if ctx.args["units"].known else Symbol(ctx.code("units"))
    in_features = ctx.in_shape[-1] if ctx.flat_from is None else math.prod(ctx.flat_from)
    bias = ctx.value("use_bias")
    if in_features is None and not ctx.lazy:
        raise Unsupported("Dense needs its number of input features, which is unknown here", "K2T303")
    if in_features is None:  # the first batch sets the size (torch's lazy module)
        module = f"nn.LazyLinear({ctx.code('units')}" + ("" if bias else ", bias=False") + ")"
    else:
        args = f"{dim_code(in_features)}, {ctx.code('units')}" + ("" if bias else ", bias=False")
        module = f"nn.Linear({args})"
    return Lowering(
        steps=[Step("{m}({x})", module, attr="fc")],
        out_shape=ctx.in_shape[:-1] + (units,) if ctx.flat_from is None else (units,),
        activation=ctx.value("activation"),
        weights_step=0,
        transfer_info={"flat_from": ctx.flat_from},
        init=(ctx.value("kernel_initializer"), ctx.value("bias_initializer") if bias else None),
        kernel_shape=(in_features, units),  # Linear's (out, in) weight has the same fans
    )


def _transfer_dense(weights, info):
    kernel = weights[0]
    flat_from = info.get("flat_from")
    if flat_from:
        # Keras flattened (H, W, C); the torch model flattens (C, H, W): reorder the kernel rows.
        rank = len(flat_from)
        order = (rank - 1,) + tuple(range(rank - 1)) + (rank,)
        kernel = kernel.reshape(*flat_from, -1).transpose(order).reshape(kernel.shape)
    out = {"weight": kernel.T}
    if len(weights) > 1:
        out["bias"] = weights[1]
    return out


def _activation(ctx) -> Lowering:
    name = ctx.value("activation")
    if name not in ACTIVATIONS:
        raise Unsupported(f"Activation({ctx.code('activation')}) has no translation", "K2T101")
    return Lowering(steps=[], out_shape=ctx.in_shape, out_layout=ctx.layout, activation=name)


def _channel_dim(ctx, axis: int = -1) -> int:
    """The torch dim of a Keras axis (only the last, feature axis moves with the layout)."""
    if axis in (-1, ctx.rank):
        return 1 if ctx.layout == FIRST else -1
    raise Unsupported(f"{ctx.key}(axis={axis}) has no translation for this layout")


def _elementwise(expression: str):
    """A rule for a layer that is one functional call (layout-agnostic)."""

    def lower(ctx) -> Lowering:
        step = Step(expression.format(x="{x}", **{k: v.code for k, v in ctx.args.items()}))
        return Lowering(steps=[step], out_shape=ctx.in_shape, out_layout=ctx.layout)

    return lower


def _relu(ctx) -> Lowering:
    if not (ctx.is_default("negative_slope", 0.0) and ctx.is_default("threshold", 0.0)):
        raise Unsupported("ReLU(negative_slope=..., threshold=...) has no translation yet")
    max_value = ctx.value("max_value")
    if max_value is None:
        forward = "torch.relu({x})"
    elif max_value == 6:
        forward = "F.relu6({x})"
    else:
        forward = "torch.clamp({x}, 0.0, " + ctx.code("max_value") + ")"
    return Lowering(steps=[Step(forward)], out_shape=ctx.in_shape, out_layout=ctx.layout)


def _softmax(ctx) -> Lowering:
    dim = _channel_dim(ctx, ctx.require("axis"))
    return Lowering(
        steps=[Step(render("softmax", "{x}", dim))], out_shape=ctx.in_shape, out_layout=ctx.layout
    )


def _dropout(ctx) -> Lowering:
    if ctx.value("noise_shape") is not None:
        raise Unsupported("Dropout(noise_shape=...) has no translation yet")
    return Lowering(
        steps=[Step("{m}({x})", f"nn.Dropout({ctx.code('rate')})", attr="dropout")],
        out_shape=ctx.in_shape,
        out_layout=ctx.layout,
    )


def _feeds_dense(next_keys) -> bool:
    """Whether the flattened tensor reaches a Dense through elementwise layers only."""
    for key in next_keys:
        if key == "Dense":
            return True
        # Per-position layers only: a BatchNormalization's per-feature weights follow Keras's
        # (H, W, C) order, so it must see the Keras flatten.
        if key not in {"Dropout", "Activation", "ReLU", "LeakyReLU", "ELU"}:
            return False
    return False


def _flatten(ctx) -> Lowering:
    size = math.prod(ctx.in_shape) if None not in ctx.in_shape else None
    out_shape = (size,)
    if ctx.layout == FIRST and ctx.rank >= 2:
        if _feeds_dense(ctx.next_keys) and size is not None:
            # Idiomatic (C, H, W) flatten; the next Dense's rows are reordered on weight transfer.
            return Lowering([Step("torch.flatten({x}, 1)")], out_shape, flat_from=ctx.in_shape)
        # Keras flattens in (H, W, C) order: move the channels last first.
        steps = [Step(to_last(ctx.rank)), Step("torch.flatten({x}, 1)")]
        return Lowering(steps, out_shape)
    return Lowering([Step("torch.flatten({x}, 1)")], out_shape)


def _reshape(ctx) -> Lowering:
    target = tuple(ctx.require("target_shape"))
    known = None not in ctx.in_shape
    if -1 in target and known:
        rest = math.prod(d for d in target if d != -1)
        target = tuple(math.prod(ctx.in_shape) // rest if d == -1 else d for d in target)
    dims = ", ".join(str(d) for d in target)
    return Lowering([Step("{x}.reshape({x}.size(0), " + dims + ")")], tuple(target))


def _embedding(ctx) -> Lowering:
    if ctx.value("mask_zero"):
        raise Unsupported(
            "Embedding(mask_zero=True) masks the layers that follow; torch has no masks "
            "(padding_idx is not the same): mask by hand"
        )
    # A regularizer's dense gradient term makes Keras's gradient dense too.
    sparse = ", sparse=True" if ctx.sparse_gradients and ctx.value("embeddings_regularizer") is None else ""
    module = f"nn.Embedding({ctx.code('input_dim')}, {ctx.code('output_dim')}{sparse})"
    comment = "sparse=True: Keras on TensorFlow updates embeddings from per-token sparse gradients"
    return Lowering(
        steps=[Step("{m}({x})", module, attr="embedding", comment=comment if sparse else None)],
        out_shape=ctx.in_shape + (ctx.value("output_dim") if ctx.args["output_dim"].known else Symbol(ctx.code("output_dim")),),
        weights_step=0,
        init=(ctx.value("embeddings_initializer"), None),
        # Keras's fan_in is input_dim; torch's nn.init takes the table's second axis (output_dim).
        kernel_shape=(ctx.value("input_dim"), ctx.value("output_dim")),
        torch_fans=False,
    )


def _transfer_embedding(weights, info):
    return {"weight": weights[0]}


_LOOSE = (ast.IfExp, ast.BoolOp, ast.Compare, ast.Lambda, ast.NamedExpr)


def _factor(code: str) -> str:
    """code as the right operand of `x * ...`, parenthesised where it is an expression: Keras
    multiplies by the float32 scale, and `x * 1.0 / 255` (a division of x) differs by a rounding."""
    node = ast.parse(code, mode="eval").body
    return f"({code})" if isinstance(node, (*_LOOSE, ast.BinOp)) else code


def _rescaling(ctx) -> Lowering:
    forward = "{x} * " + _factor(ctx.code("scale"))
    if not ctx.is_default("offset", 0.0):
        offset = ctx.code("offset")
        node = ast.parse(offset, mode="eval").body
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            forward += " - " + _factor(ast.unparse(node.operand))  # x * s - 1, not x * s + -1
        else:
            forward += " + " + (f"({offset})" if isinstance(node, _LOOSE) else offset)
    return Lowering([Step(forward)], ctx.in_shape, out_layout=ctx.layout)


def _prelu(ctx) -> Lowering:
    shared = ctx.require("shared_axes")
    shared = set() if shared is None else set(shared) if isinstance(shared, (list, tuple)) else {shared}
    rank = ctx.rank
    if not all(isinstance(a, int) and 1 <= a <= rank for a in shared):
        raise Unsupported(f"PReLU(shared_axes={ctx.code('shared_axes')}) must name axes 1 to {rank}")
    alpha = tuple(1 if i + 1 in shared else d for i, d in enumerate(ctx.in_shape))  # Keras's alpha shape
    if None in alpha:
        raise Unsupported("PReLU needs the sizes of the axes that do not share a slope, which are unknown here", "K2T303")
    channels_first = ctx.layout == FIRST and rank >= 2
    info = {"channels_first": channels_first}
    if all(d == 1 for d in alpha):
        module, snippets = "nn.PReLU()", set()
    elif all(d == 1 for d in alpha[:-1]) and (rank == 1 or channels_first):
        module, snippets = f"nn.PReLU({dim_code(alpha[-1])})", set()
    else:
        shape = (alpha[-1],) + alpha[:-1] if channels_first else alpha
        module, snippets = f"KerasPReLU({shape})", {"KerasPReLU"}
        info["per_position"] = True
    return Lowering(
        steps=[Step("{m}({x})", module, attr="prelu")],
        out_shape=ctx.in_shape,
        out_layout=ctx.layout,
        weights_step=0,
        transfer_info=info,
        init=(ctx.value("alpha_initializer"), None),
        kernel_shape=alpha,
        torch_fans=False,
        snippets=snippets,
    )


def _transfer_prelu(weights, info):
    alpha = weights[0]
    if not info.get("per_position"):
        return {"weight": alpha.reshape(-1)}
    if info.get("channels_first") and alpha.ndim >= 2:
        alpha = alpha.transpose((alpha.ndim - 1, *range(alpha.ndim - 1)))  # (..., C) -> (C, ...)
    return {"weight": alpha}


_INITIALIZED = ("kernel_initializer", "bias_initializer")

RULES = [
    LayerRule(
        "Dense",
        params(
            "units",
            ("activation", None),
            ("use_bias", True),
            *KERNEL_PARAMS,
        ),
        _dense,
        wants=LAST,
        transfer=_transfer_dense,
    ),
    LayerRule("Activation", params("activation"), _activation),
    LayerRule("Dropout", params("rate", ("noise_shape", None), ("seed", None)), _dropout),
    LayerRule("Flatten", params(("data_format", None)), _flatten),
    LayerRule("Reshape", params("target_shape"), _reshape, wants=LAST),
    LayerRule(
        "Embedding",
        params(
            "input_dim",
            "output_dim",
            ("embeddings_initializer", "uniform"),
            ("embeddings_regularizer", None),
            ("activity_regularizer", None),
            ("embeddings_constraint", None),
            ("mask_zero", False),
            ("input_length", None),
        ),
        _embedding,
        transfer=_transfer_embedding,
        regularized=(("embeddings_regularizer", "weight"),),
    ),
    LayerRule("Rescaling", params("scale", ("offset", 0.0)), _rescaling),
    LayerRule("Identity", params(), _elementwise("{x}")),
    LayerRule(
        "ReLU", params(("max_value", None), ("negative_slope", 0.0), ("threshold", 0.0)), _relu
    ),
    LayerRule("Softmax", params(("axis", -1)), _softmax),
    LayerRule(
        "LeakyReLU",
        params(("negative_slope", 0.3, ("alpha",))),
        _elementwise("F.leaky_relu({x}, {negative_slope})"),
    ),
    LayerRule("ELU", params(("alpha", 1.0)), _elementwise("F.elu({x}, {alpha})")),
    LayerRule(
        "PReLU",
        params(
            ("alpha_initializer", "Zeros"),
            ("alpha_regularizer", None),
            ("alpha_constraint", None),
            ("shared_axes", None),
        ),
        _prelu,
        # shared_axes given: mostly the spatial axes of feature maps, one slope per channel (nn.PReLU
        # on channels-first tensors); without it a slope per position, in whatever layout comes.
        wants=lambda args: FIRST if args["shared_axes"].value is not None else None,
        transfer=_transfer_prelu,
        regularized=(("alpha_regularizer", "weight"),),
    ),
]
