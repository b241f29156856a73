"""Convolutions: Conv1D, Conv2D (channels_last in Keras, channels_first in torch).

padding='same' is symmetric only when the total padding is even; TF puts the extra row/column at the
bottom/right: total = max((ceil(n/s) - 1) * s + (k - 1) * d + 1 - n, 0), before = total // 2. With
stride 1 torch's padding='same' does the same; with strides > 1 torch refuses 'same', so the padding
is written out (an nn.ZeroPad layer where it is asymmetric).
Kernels: Conv2D (kh, kw, in, out) -> (out, in, kh, kw); Conv1D (k, in, out) -> (out, in, k).
"""

from __future__ import annotations

import math

from k2t.rules.spec import FIRST, LayerRule, Lowering, Step, Unsupported, compact, params, tuple_of
from k2t.values import dim_code


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
        )

    return lower


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
        ("kernel_initializer", "glorot_uniform"),
        ("bias_initializer", "zeros"),
        ("kernel_regularizer", None),
        ("bias_regularizer", None),
        ("activity_regularizer", None),
        ("kernel_constraint", None),
        ("bias_constraint", None),
    )


RULES = [
    LayerRule("Conv1D", _conv_params(1), _conv(1), wants=FIRST, transfer=_transfer_conv),
    LayerRule("Conv2D", _conv_params(2), _conv(2), wants=FIRST, transfer=_transfer_conv),
]
