"""Convolutions: Conv1D/2D/3D, SeparableConv1D/2D, DepthwiseConv2D, Conv1D/2D/3DTranspose
(channels_last in Keras, channels_first in torch).

padding='same' is symmetric only when the total padding is even; TF puts the extra row/column at the
bottom/right: total = max((ceil(n/s) - 1) * s + (k - 1) * d + 1 - n, 0), before = total // 2. With
stride 1 torch's padding='same' does the same; with strides > 1 torch refuses 'same', so the padding
is written out (an nn.ZeroPad layer where it is asymmetric).
Conv1D(padding='causal') pads (k - 1) * dilation zeros before the sequence and none after.
Kernels: Conv2D (kh, kw, in, out) -> (out, in, kh, kw); Conv1D (k, in, out) -> (out, in, k);
DepthwiseConv2D (kh, kw, in, mult) -> (in * mult, 1, kh, kw) with groups=in; ConvNDTranspose
(*k, out, in) -> ConvTransposeNd (in, out, *k); SeparableConv depthwise (*k, in, mult) ->
(in * mult, 1, *k) and pointwise (1, ..., in * mult, out) -> (out, in * mult, 1, ...), the bias on
the pointwise conv (TF applies the strides, padding and dilation in the depthwise step).
"""

from __future__ import annotations

import math

from k2t.rules.initializers import initializer_code, keras_fans
from k2t.rules.spec import KERNEL_PARAMS, FIRST, LayerRule, Lowering, Step, Unsupported, compact, params, tuple_of
from k2t.values import NamedInt, Symbol, Value, dim_code


def same_padding(size, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int] | None:
    """TF's (before, after) padding for 'same'; None when the size is unknown and it matters."""
    if stride == 1:
        total = (kernel - 1) * dilation
    elif size is None:
        return None
    else:
        total = max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def conv_out(size, kernel: int, stride: int, padding: str, dilation: int = 1):
    if size is None:
        return None
    if padding in ("same", "causal"):  # causal: (k - 1) * d zeros before, none after
        return math.ceil(size / stride)
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def pad_module(pads: list[tuple[int, int]], value: str = "0.0") -> str:
    """nn.ZeroPad1d/2d (or ConstantPad with value) for per-dim (before, after) pads."""
    flat = []
    for before, after in reversed(pads):  # torch lists the last dim first
        flat += [before, after]
    n = len(pads)
    if value == "0.0":
        return f"nn.ZeroPad{n}d({tuple(flat)})"
    return f"nn.ConstantPad{n}d({tuple(flat)}, {value})"


def _padding(ctx, kernel, strides, dilation, padding) -> tuple[list[Step], list[str]]:
    """Keras's padding as (pad steps before the conv, the conv's padding options)."""
    n = len(kernel)
    spatial = ctx.in_shape[:-1]
    if padding == "causal":
        if kernel[0] == 1:
            return [], []
        pads = [((kernel[0] - 1) * dilation[0], 0)]
        comment = "padding='causal': Keras pads the start only (no step sees later inputs)."
        return [Step("{m}({x})", pad_module(pads), attr="pad", comment=comment)], []
    if padding != "same":
        return [], []
    pads = [same_padding(size, k, s, d) for size, k, s, d in zip(spatial, kernel, strides, dilation)]
    if None in pads:  # TF's asymmetric padding depends on the size: computed in forward()
        return [Step(f"pad_same({{x}}, {kernel}, {strides}, {dilation})")], []
    if all(before == after for before, after in pads):
        return [], [f"padding={compact(tuple(b for b, _ in pads))}"] if any(b for b, _ in pads) else []
    if strides == (1,) * n:
        return [], ['padding="same"']
    comment = "TF pads 'same' asymmetrically: the extra row/column goes bottom/right."
    return [Step("{m}({x})", pad_module(pads), attr="pad", comment=comment)], []


def _geometry(ctx, n: int, causal: bool = False, strided_dilation: bool = True):
    """kernel, strides, dilation, padding of a convolution, checked."""
    if ctx.value("data_format") not in (None, "channels_last"):
        raise Unsupported(f"{ctx.key}(data_format={ctx.code('data_format')}) is not supported")
    kernel = tuple_of(ctx.require("kernel_size"), n)
    strides = tuple_of(ctx.require("strides"), n)
    dilation = tuple_of(ctx.require("dilation_rate"), n)
    padding = str(ctx.require("padding")).lower()
    if padding not in ("valid", "same") and not (causal and padding == "causal"):
        raise Unsupported(f"{ctx.key}(padding={padding!r}) has no translation yet")
    if not strided_dilation and max(strides) > 1 and max(dilation) > 1:
        raise Unsupported(f"{ctx.key}: Keras refuses strides > 1 together with dilation_rate > 1")
    return kernel, strides, dilation, padding


def _conv(n: int, strided_dilation: bool = False):
    """Conv1D/2D/3D (and DepthwiseConv2D through it, which allows strides with dilation)."""

    def lower(ctx) -> Lowering:
        # A size passed to a block-building function or class (Conv2D(filters, 3)) stays a name.
        filters = ctx.value("filters") if ctx.args["filters"].known else Symbol(ctx.code("filters"))
        kernel, strides, dilation, padding = _geometry(ctx, n, n == 1, strided_dilation)
        groups = ctx.require("groups")
        spatial, in_channels = ctx.in_shape[:-1], ctx.in_shape[-1]
        steps, padding_options = _padding(ctx, kernel, strides, dilation, padding)
        options = [f"stride={compact(strides)}"] if strides != (1,) * n else []
        options += padding_options
        if dilation != (1,) * n:
            options.append(f"dilation={compact(dilation)}")
        if groups != 1:
            options.append(f"groups={ctx.code('groups')}")
        bias = ctx.value("use_bias")
        if not bias:
            options.append("bias=False")
        if in_channels is None and not ctx.lazy:
            raise Unsupported(f"{ctx.key} needs its number of input channels, which is unknown here", "K2T303")
        if in_channels is None:  # the first batch sets the size (torch's lazy module)
            head = f"{ctx.code('filters')}, {compact(kernel)}"
            module = f"nn.LazyConv{n}d({', '.join([head, *options])})"
        else:
            head = f"{dim_code(in_channels)}, {ctx.code('filters')}, {compact(kernel)}"
            module = f"nn.Conv{n}d({', '.join([head, *options])})"
        steps.append(Step("{m}({x})", module, attr="conv"))
        out = tuple(
            conv_out(size, k, s, padding, d) for size, k, s, d in zip(spatial, kernel, strides, dilation)
        )
        return Lowering(
            steps=steps,
            out_shape=out + (filters,),
            out_layout=FIRST,
            snippets=_snippets(steps),
            activation=ctx.value("activation"),
            weights_step=len(steps) - 1,
            init=(ctx.value("kernel_initializer"), ctx.value("bias_initializer") if bias else None),
            # (*kernel, in / groups, filters): torch's (out, in / groups, *kernel) has the same fans
            kernel_shape=(*kernel, _per_group(in_channels, groups), filters),
        )

    return lower


def _snippets(steps: list[Step]) -> set[str]:
    """The helpers the steps call (rules/snippets.py)."""
    return {"pad_same"} if any(step.forward.startswith("pad_same(") for step in steps) else set()


def _per_group(channels, groups):
    return channels // groups if isinstance(channels, int) and isinstance(groups, int) else None


def _transfer_conv(weights, info):
    kernel = weights[0]
    rank = kernel.ndim
    # (*spatial, in, out) -> (out, in, *spatial)
    out = {"weight": kernel.transpose((rank - 1, rank - 2) + tuple(range(rank - 2)))}
    if len(weights) > 1:
        out["bias"] = weights[1]
    return out


def _conv_params(n: int):
    one = 1 if n == 1 else (1,) * n
    return params(
        "filters",
        "kernel_size",
        ("strides", one),
        ("padding", "valid"),
        ("data_format", None),
        ("dilation_rate", one),
        ("groups", 1),
        ("activation", None),
        ("use_bias", True),
        *KERNEL_PARAMS,
    )


def _depthwise(ctx) -> Lowering:
    """DepthwiseConv2D: one filter set per input channel -> nn.Conv2d(groups=in_channels)."""
    if ctx.value("data_format") not in (None, "channels_last"):
        raise Unsupported(f"{ctx.key}(data_format={ctx.code('data_format')}) is not supported")
    channels = ctx.in_shape[-1]
    if channels is None or not isinstance(channels, int):
        raise Unsupported("DepthwiseConv2D needs a known number of input channels", "K2T303")
    multiplier = ctx.require("depth_multiplier")
    inner = dict(ctx.args)
    out_channels = channels * multiplier
    inner["filters"] = Value(repr(int(out_channels)), NamedInt(out_channels, repr(int(out_channels))))
    inner["groups"] = Value(dim_code(channels), channels)
    inner["kernel_initializer"] = ctx.args["depthwise_initializer"]
    sub = type(ctx)(ctx.key, inner, ctx.in_shape, ctx.layout, ctx.next_keys)
    lowering = _conv(2, strided_dilation=True)(sub)
    ctx.notes.extend(sub.notes)
    # Keras's fans come from its (kh, kw, in, multiplier) kernel: fan_in = kh * kw * in, fan_out =
    # kh * kw * multiplier; torch's nn.init would take kh * kw and in * multiplier * kh * kw from the
    # grouped (in * multiplier, 1, kh, kw) weight.
    lowering.kernel_shape = (*tuple_of(ctx.require("kernel_size"), 2), channels, multiplier)
    lowering.torch_fans = False
    return lowering


def _transfer_depthwise(weights, info):
    kernel = weights[0]  # (kh, kw, in, multiplier) -> (in * multiplier, 1, kh, kw)
    kh, kw, channels, multiplier = kernel.shape
    out = {"weight": kernel.reshape(kh, kw, channels * multiplier).transpose(2, 0, 1)[:, None]}
    if len(weights) > 1:
        out["bias"] = weights[1]
    return out


def _conv_transpose(n: int):
    """Conv1D/2D/3DTranspose; 'same' gives size * stride as in TF (the odd crop goes at the end)."""

    def lower(ctx) -> Lowering:
        if ctx.value("data_format") not in (None, "channels_last"):
            raise Unsupported(f"{ctx.key}(data_format={ctx.code('data_format')}) is not supported")
        if ctx.value("output_padding") is not None:
            raise Unsupported(f"{ctx.key}(output_padding=...) has no translation yet")
        kernel = tuple_of(ctx.require("kernel_size"), n)
        strides = tuple_of(ctx.require("strides"), n)
        if tuple_of(ctx.require("dilation_rate"), n) != (1,) * n:
            raise Unsupported(f"{ctx.key}(dilation_rate=...) has no translation yet")
        padding = str(ctx.require("padding")).lower()
        if padding not in ("valid", "same"):
            raise Unsupported(f"{ctx.key}(padding={padding!r}) has no translation yet")
        if any(k < s for k, s in zip(kernel, strides)):
            raise Unsupported(f"{ctx.key} with kernel_size < strides has no translation yet")
        options = [] if strides == (1,) * n else [f"stride={compact(strides)}"]
        steps = []
        crops = [(0, 0)] * n
        if padding == "same":
            totals = [k - s for k, s in zip(kernel, strides)]
            if all(t % 2 == 0 for t in totals):
                if any(totals):
                    options.append(f"padding={compact(tuple(t // 2 for t in totals))}")
            else:
                crops = [(t // 2, t - t // 2) for t in totals]
        in_channels = ctx.in_shape[-1]
        if in_channels is None and not ctx.lazy:
            raise Unsupported(f"{ctx.key} needs its number of input channels, which is unknown here", "K2T303")
        bias = ctx.value("use_bias")
        if not bias:
            options.append("bias=False")
        if in_channels is None:  # the first batch sets the size (torch's lazy module)
            head = f"{ctx.code('filters')}, {compact(kernel)}"
            module = f"nn.LazyConvTranspose{n}d({', '.join([head, *options])})"
        else:
            head = f"{dim_code(in_channels)}, {ctx.code('filters')}, {compact(kernel)}"
            module = f"nn.ConvTranspose{n}d({', '.join([head, *options])})"
        steps.append(Step("{m}({x})", module, attr="deconv"))
        if any(b or a for b, a in crops):
            slices = ", ".join(f"{b or ''}:{-a if a else ''}" for b, a in crops)
            steps.append(Step("{x}[:, :, " + slices + "]", comment=None))
        out = []
        for size, k, s in zip(ctx.in_shape[:-1], kernel, strides):
            out.append(None if size is None else (size * s if padding == "same" else (size - 1) * s + k))
        return Lowering(
            steps=steps,
            out_shape=tuple(out) + (ctx.require("filters"),),
            out_layout=FIRST,
            activation=ctx.value("activation"),
            weights_step=0,
            init=(ctx.value("kernel_initializer"), ctx.value("bias_initializer") if bias else None),
            # Keras's (*kernel, filters, in) and torch's (in, filters, *kernel) give the same fans.
            kernel_shape=(*kernel, ctx.require("filters"), in_channels),
        )

    return lower


def _transfer_conv_transpose(weights, info):
    kernel = weights[0]
    rank = kernel.ndim
    # (*spatial, out, in) -> (in, out, *spatial)
    out = {"weight": kernel.transpose((rank - 1, rank - 2) + tuple(range(rank - 2)))}
    if len(weights) > 1:
        out["bias"] = weights[1]
    return out


def _conv_transpose_params(n: int):
    one = 1 if n == 1 else (1,) * n
    # Conv3DTranspose lists data_format before output_padding; Conv1D/2DTranspose after it.
    formats = (("output_padding", None), ("data_format", None))
    return params(
        "filters",
        "kernel_size",
        ("strides", one),
        ("padding", "valid"),
        *(reversed(formats) if n == 3 else formats),
        ("dilation_rate", one),
        ("activation", None),
        ("use_bias", True),
        *KERNEL_PARAMS,
    )


def _separable(n: int):
    """SeparableConv1D/2D: a depthwise conv (groups=in, no bias) then a 1x1 pointwise conv with the
    bias, as one nn.Sequential so that the layer's three weights live in one module."""

    def lower(ctx) -> Lowering:
        filters = ctx.require("filters")
        multiplier = ctx.require("depth_multiplier")
        kernel, strides, dilation, padding = _geometry(ctx, n)
        spatial, channels = ctx.in_shape[:-1], ctx.in_shape[-1]
        if not isinstance(channels, int):
            raise Unsupported(f"{ctx.key} needs a known number of input channels", "K2T303")
        steps, padding_options = _padding(ctx, kernel, strides, dilation, padding)
        options = [f"stride={compact(strides)}"] if strides != (1,) * n else []
        options += padding_options
        if dilation != (1,) * n:
            options.append(f"dilation={compact(dilation)}")
        options += [f"groups={channels}", "bias=False"]
        inner = channels * multiplier
        depthwise = f"nn.Conv{n}d({channels}, {inner}, {compact(kernel)}, {', '.join(options)})"
        bias = ctx.value("use_bias")
        pointwise = f"nn.Conv{n}d({inner}, {ctx.code('filters')}, 1{'' if bias else ', bias=False'})"
        module = f"nn.Sequential(OrderedDict(depthwise={depthwise}, pointwise={pointwise}))"
        steps.append(Step("{m}({x})", module, attr="sepconv"))
        # Keras's fans: the depthwise kernel is (*kernel, in, multiplier) (torch's grouped
        # (in * multiplier, 1, *kernel) weight gives others); the pointwise kernel
        # (1, ..., in * multiplier, filters) has torch's fans.
        init = [
            initializer_code(ctx.value("depthwise_initializer"), "{m}.depthwise.weight",
                             keras_fans((*kernel, channels, multiplier)), torch_fans=False),
            initializer_code(ctx.value("pointwise_initializer"), "{m}.pointwise.weight",
                             keras_fans((1,) * n + (inner, filters))),
        ]
        if bias:
            init.append(initializer_code(ctx.value("bias_initializer"), "{m}.pointwise.bias"))
        if None in init:
            ctx.note(f"{ctx.key}: an initializer has no translation; torch's default initialisation is used")
            init = []
        out = tuple(
            conv_out(size, k, s, padding, d) for size, k, s, d in zip(spatial, kernel, strides, dilation)
        )
        return Lowering(
            steps=steps,
            out_shape=out + (filters,),
            out_layout=FIRST,
            activation=ctx.value("activation"),
            weights_step=len(steps) - 1,
            init_code=[line for code in init for line in code.splitlines()],
        )

    return lower


def _transfer_separable(weights, info):
    depthwise, pointwise = weights[0], weights[1]
    # (*kernel, in, multiplier) -> (in * multiplier, 1, *kernel): output channel c * multiplier + m
    *kernel, channels, multiplier = depthwise.shape
    rank = len(kernel)
    depthwise = depthwise.reshape(*kernel, channels * multiplier)
    out = {"depthwise.weight": depthwise.transpose((rank,) + tuple(range(rank)))[:, None]}
    # (1, ..., in * multiplier, filters) -> (filters, in * multiplier, 1, ...)
    out["pointwise.weight"] = pointwise.transpose((rank + 1, rank) + tuple(range(rank)))
    if len(weights) > 2:
        out["pointwise.bias"] = weights[2]
    return out


def _separable_params(n: int):
    one = 1 if n == 1 else (1,) * n
    return params(
        "filters",
        "kernel_size",
        ("strides", one),
        ("padding", "valid"),
        ("data_format", None),
        ("dilation_rate", one),
        ("depth_multiplier", 1),
        ("activation", None),
        ("use_bias", True),
        ("depthwise_initializer", "glorot_uniform"),
        ("pointwise_initializer", "glorot_uniform"),
        ("bias_initializer", "zeros"),
        ("depthwise_regularizer", None),
        ("pointwise_regularizer", None),
        ("bias_regularizer", None),
        ("activity_regularizer", None),
        ("depthwise_constraint", None),
        ("pointwise_constraint", None),
        ("bias_constraint", None),
    )


RULES = [
    LayerRule("Conv1D", _conv_params(1), _conv(1), wants=FIRST, transfer=_transfer_conv),
    LayerRule("Conv2D", _conv_params(2), _conv(2), wants=FIRST, transfer=_transfer_conv),
    LayerRule("Conv3D", _conv_params(3), _conv(3), wants=FIRST, transfer=_transfer_conv),
    *(
        LayerRule(
            f"SeparableConv{n}D", _separable_params(n), _separable(n), wants=FIRST, transfer=_transfer_separable,
            regularized=(
                ("depthwise_regularizer", "depthwise.weight"),
                ("pointwise_regularizer", "pointwise.weight"),
                ("bias_regularizer", "pointwise.bias"),
            ),
        )
        for n in (1, 2)
    ),
    LayerRule(
        "DepthwiseConv2D",
        params(
            "kernel_size",
            ("strides", (1, 1)),
            ("padding", "valid"),
            ("depth_multiplier", 1),
            ("data_format", None),
            ("dilation_rate", (1, 1)),
            ("activation", None),
            ("use_bias", True),
            ("depthwise_initializer", "glorot_uniform"),
            ("bias_initializer", "zeros"),
            ("depthwise_regularizer", None),
            ("bias_regularizer", None),
            ("activity_regularizer", None),
            ("depthwise_constraint", None),
            ("bias_constraint", None),
        ),
        _depthwise,
        wants=FIRST,
        transfer=_transfer_depthwise,
        regularized=(("depthwise_regularizer", "weight"), ("bias_regularizer", "bias")),
    ),
    *(
        LayerRule(
            f"Conv{n}DTranspose", _conv_transpose_params(n), _conv_transpose(n), wants=FIRST,
            transfer=_transfer_conv_transpose,
        )
        for n in (1, 2, 3)
    ),
]
