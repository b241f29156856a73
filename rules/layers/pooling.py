"""Pooling: Max/AveragePooling1D/2D/3D and their Global forms.

'same' pooling: max pooling pads with -inf and average pooling leaves the padding out of the mean
(count_include_pad=False). Where TF's padding is only at the end, torch's ceil_mode=True gives the
same windows; symmetric padding maps to torch's padding argument.
"""

from __future__ import annotations

from k2t.rules.layers.conv import conv_out, pad_module, same_padding
from k2t.rules.spec import FIRST, LAST, LayerRule, Lowering, Step, Unsupported, compact, params, tuple_of


def _pool(kind: str, n: int):
    def lower(ctx) -> Lowering:
        if ctx.value("data_format") not in (None, "channels_last"):
            raise Unsupported(f"{ctx.key}(data_format={ctx.code('data_format')}) is not supported")
        size = tuple_of(ctx.require("pool_size"), n)
        strides = ctx.require("strides")
        strides = size if strides is None else tuple_of(strides, n)
        padding = str(ctx.require("padding")).lower()
        spatial = ctx.in_shape[:-1]
        out = tuple(conv_out(d, k, s, padding) for d, k, s in zip(spatial, size, strides))
        options = [] if strides == size else [f"stride={compact(strides)}"]
        steps = []
        if padding == "same":
            pads = [same_padding(d, k, s) for d, k, s in zip(spatial, size, strides)]
            if None in pads and kind == "Avg":
                raise Unsupported(f"{ctx.key}(padding='same', strides>1) needs a known input size")
            if None in pads:  # TF's padding depends on the size, known at run time: -inf, as max ignores it
                ones = (1,) * n
                steps.append(Step(f'pad_same({{x}}, {size}, {strides}, {ones}, float("-inf"))'))
                args = ", ".join([str(compact(size)), *options])
                steps.append(Step("{m}({x})", f"nn.{kind}Pool{n}d({args})", attr="pool"))
                return Lowering(steps=steps, out_shape=out + (ctx.in_shape[-1],), out_layout=FIRST,
                                snippets={"pad_same"})
            ceil_out = tuple(
                -(-(d - k) // s) + 1 for d, k, s in zip(spatial, size, strides)
            )
            if all(b == a for b, a in pads):
                if any(b for b, _ in pads):
                    options.append(f"padding={compact(tuple(b for b, _ in pads))}")
            elif all(b == 0 for b, _ in pads) and ceil_out == out:
                options.append("ceil_mode=True")  # TF pads only at the end: the last window is partial
            elif kind == "Max":
                steps.append(Step("{m}({x})", pad_module(pads, 'float("-inf")'), attr="pad"))
            else:
                raise Unsupported(f"{ctx.key}(padding='same') with these sizes has no exact torch equivalent yet")
            if kind == "Avg" and any(b or a for b, a in pads):
                options.append("count_include_pad=False")  # Keras leaves the padding out of the mean
        args = ", ".join([str(compact(size)), *options])
        steps.append(Step("{m}({x})", f"nn.{kind}Pool{n}d({args})", attr="pool"))
        return Lowering(steps=steps, out_shape=out + (ctx.in_shape[-1],), out_layout=FIRST)

    return lower


def _global(kind: str):
    def lower(ctx) -> Lowering:
        if ctx.value("data_format") not in (None, "channels_last"):
            raise Unsupported(f"{ctx.key}(data_format={ctx.code('data_format')}) is not supported")
        keepdims = bool(ctx.value("keepdims"))
        spatial = range(2, ctx.rank + 1) if ctx.layout == FIRST else range(1, ctx.rank)
        dims = tuple(spatial)
        dim = str(dims[0]) if len(dims) == 1 else str(dims)
        fn = "mean" if kind == "Avg" else "amax"
        keep = ", keepdim=True" if keepdims else ""
        channels = ctx.in_shape[-1]
        out = ((1,) * (ctx.rank - 1) + (channels,)) if keepdims else (channels,)
        return Lowering(
            steps=[Step("{x}." + fn + "(dim=" + dim + keep + ")")],
            out_shape=out,
            out_layout=ctx.layout if keepdims else LAST,
        )

    return lower


def _pool_params(n: int, default_size):
    return params(("pool_size", default_size), ("strides", None), ("padding", "valid"), ("data_format", None))


_GLOBAL = params(("data_format", None), ("keepdims", False))

RULES = [
    LayerRule("MaxPooling1D", _pool_params(1, 2), _pool("Max", 1), wants=FIRST),
    LayerRule("MaxPooling2D", _pool_params(2, (2, 2)), _pool("Max", 2), wants=FIRST),
    LayerRule("AveragePooling1D", _pool_params(1, 2), _pool("Avg", 1), wants=FIRST),
    LayerRule("AveragePooling2D", _pool_params(2, (2, 2)), _pool("Avg", 2), wants=FIRST),
    LayerRule("MaxPooling3D", _pool_params(3, (2, 2, 2)), _pool("Max", 3), wants=FIRST),
    LayerRule("AveragePooling3D", _pool_params(3, (2, 2, 2)), _pool("Avg", 3), wants=FIRST),
    LayerRule("GlobalAveragePooling1D", _GLOBAL, _global("Avg")),
    LayerRule("GlobalAveragePooling2D", _GLOBAL, _global("Avg")),
    LayerRule("GlobalMaxPooling1D", _GLOBAL, _global("Max")),
    LayerRule("GlobalMaxPooling2D", _GLOBAL, _global("Max")),
    LayerRule("GlobalAveragePooling3D", _GLOBAL, _global("Avg")),
    LayerRule("GlobalMaxPooling3D", _GLOBAL, _global("Max")),
]

ALIASES = {
    "MaxPool1D": "MaxPooling1D",
    "MaxPool2D": "MaxPooling2D",
    "AvgPool1D": "AveragePooling1D",
    "AvgPool2D": "AveragePooling2D",
    "GlobalAvgPool1D": "GlobalAveragePooling1D",
    "GlobalAvgPool2D": "GlobalAveragePooling2D",
    "GlobalMaxPool1D": "GlobalMaxPooling1D",
    "GlobalMaxPool2D": "GlobalMaxPooling2D",
    "MaxPool3D": "MaxPooling3D",
    "AvgPool3D": "AveragePooling3D",
    "GlobalAvgPool3D": "GlobalAveragePooling3D",
    "GlobalMaxPool3D": "GlobalMaxPooling3D",
}
