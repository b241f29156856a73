"""Convolutions: Conv1D, Conv2D (channels_last in Keras, channels_first in torch).

padding='same' is symmetric only when the total padding is even; TF puts the extra row/column at the
bottom/right: total = max((ceil(n/s) - 1) * s + (k - 1) * d + 1 - n, 0), before = total // 2. With
stride 1 torch's padding='same' does the same; with strides > 1 torch refuses 'same', so the padding
is written out (an nn.ZeroPad layer where it is asymmetric).
Kernels: Conv2D (kh, kw, in, out) -> (out, in, kh, kw); Conv1D (k, in, out) -> (out, in, k);
DepthwiseConv2D (kh, kw, in, mult) -> (in * mult, 1, kh, kw) with groups=in; Conv2DTranspose
(kh, kw, out, in) -> ConvTranspose2d (in, out, kh, kw).
"""

from __future__ import annotations

import math

from k2t.rules.spec import KERNEL_PARAMS, FIRST, LayerRule, Lowering, Step, Unsupported, compact, params, tuple_of
from k2t.values import NamedInt, Value, dim_code


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
    if padding == "same":
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


def _conv(n: int):
    def lower(ctx) -> Lowering:
        if ctx.value("data_format") not in (None, "channels_last"):
            raise Unsupported(f"{ctx.key}(data_format={ctx.code('data_format')}) is not supported")
        filters = ctx.require("filters")
        kernel = tuple_of(ctx.require("kernel_size"), n)
        strides = tuple_of(ctx.require("strides"), n)
        dilation = tuple_of(ctx.require("dilation_rate"), n)
        groups = ctx.require("groups")
        padding = str(ctx.require("padding")).lower()
        if padding not in ("valid", "same"):
            raise Unsupported(f"{ctx.key}(padding={padding!r}) has no translation yet")
        spatial, in_channels = ctx.in_shape[:-1], ctx.in_shape[-1]
        steps = []
        options = []
        if strides != (1,) * n:
            options.append(f"stride={compact(strides)}")
        if padding == "same":
            pads = [same_padding(size, k, s, d) for size, k, s, d in zip(spatial, kernel, strides, dilation)]
            if None in pads:
                raise Unsupported(f"{ctx.key}(padding='same', strides>1) needs a known input size")
            if all(before == after for before, after in pads):
                if any(before for before, _ in pads):
                    options.append(f"padding={compact(tuple(b for b, _ in pads))}")
            elif strides == (1,) * n:
                options.append('padding="same"')
            else:
                steps.append(Step("{m}({x})", pad_module(pads), attr="pad", comment=
                                  "TF pads 'same' asymmetrically: the extra row/column goes bottom/right."))
        if dilation != (1,) * n:
            options.append(f"dilation={compact(dilation)}")
        if groups != 1:
            options.append(f"groups={ctx.code('groups')}")
        bias = ctx.value("use_bias")
        if not bias:
            options.append("bias=False")
        head = f"{dim_code(in_channels)}, {ctx.code('filters')}, {compact(kernel)}"
        cls = f"nn.Conv{n}d" if in_channels is not None else f"nn.LazyConv{n}d"
        if in_channels is None:
            head = head.split(", ", 1)[1]
        steps.append(Step("{m}({x})", f"{cls}({', '.join([head, *options])})", attr="conv"))
        out = tuple(
            conv_out(size, k, s, padding, d) for size, k, s, d in zip(spatial, kernel, strides, dilation)
        )
        return Lowering(
            steps=steps,
            out_shape=out + (filters,),
            out_layout=FIRST,
            activation=ctx.value("activation"),
            weights_step=len(steps) - 1,
            init=(ctx.value("kernel_initializer"), ctx.value("bias_initializer") if bias else None),
            # (*kernel, in / groups, filters): torch's (out, in / groups, *kernel) has the same fans
            kernel_shape=(*kernel, _per_group(in_channels, groups), filters),
        )

    return lower


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
    lowering = _conv(2)(sub)
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


def _conv_transpose(ctx) -> Lowering:
    """Conv2DTranspose; 'same' gives size * stride as in TF (the odd crop goes at the end)."""
    if ctx.value("data_format") not in (None, "channels_last"):
        raise Unsupported(f"{ctx.key}(data_format={ctx.code('data_format')}) is not supported")
    if ctx.value("output_padding") is not None:
        raise Unsupported("Conv2DTranspose(output_padding=...) has no translation yet")
    kernel = tuple_of(ctx.require("kernel_size"), 2)
    strides = tuple_of(ctx.require("strides"), 2)
    if tuple_of(ctx.require("dilation_rate"), 2) != (1, 1):
        raise Unsupported("Conv2DTranspose(dilation_rate=...) has no translation yet")
    padding = str(ctx.require("padding")).lower()
    if any(k < s for k, s in zip(kernel, strides)):
        raise Unsupported("Conv2DTranspose with kernel_size < strides has no translation yet")
    options = [] if strides == (1, 1) else [f"stride={compact(strides)}"]
    steps = []
    crops = [(0, 0), (0, 0)]
    if padding == "same":
        totals = [k - s for k, s in zip(kernel, strides)]
        if all(t % 2 == 0 for t in totals):
            if any(totals):
                options.append(f"padding={compact(tuple(t // 2 for t in totals))}")
        else:
            crops = [(t // 2, t - t // 2) for t in totals]
    in_channels = ctx.in_shape[-1]
    bias = ctx.value("use_bias")
    if not bias:
        options.append("bias=False")
    head = f"{dim_code(in_channels)}, {ctx.code('filters')}, {compact(kernel)}"
    steps.append(Step("{m}({x})", f"nn.ConvTranspose2d({', '.join([head, *options])})", attr="deconv"))
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
        # Keras's (kh, kw, filters, in) and torch's (in, filters, kh, kw) give the same fans.
        kernel_shape=(*kernel, ctx.require("filters"), in_channels),
    )


def _transfer_conv_transpose(weights, info):
    out = {"weight": weights[0].transpose(3, 2, 0, 1)}  # (kh, kw, out, in) -> (in, out, kh, kw)
    if len(weights) > 1:
        out["bias"] = weights[1]
    return out


RULES = [
    LayerRule("Conv1D", _conv_params(1), _conv(1), wants=FIRST, transfer=_transfer_conv),
    LayerRule("Conv2D", _conv_params(2), _conv(2), wants=FIRST, transfer=_transfer_conv),
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
    ),
    LayerRule(
        "Conv2DTranspose",
        params(
            "filters",
            "kernel_size",
            ("strides", (1, 1)),
            ("padding", "valid"),
            ("output_padding", None),
            ("data_format", None),
            ("dilation_rate", (1, 1)),
            ("activation", None),
            ("use_bias", True),
            *KERNEL_PARAMS,
        ),
        _conv_transpose,
        wants=FIRST,
        transfer=_transfer_conv_transpose,
    ),
]
