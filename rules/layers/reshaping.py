"""Reshaping layers: ZeroPadding1D/2D/3D, Cropping1D/2D/3D, UpSampling1D/2D/3D, RepeatVector, Permute.

Keras pads, crops and upsamples channels-last tensors; the torch modules work on channels-first ones,
so these layers want the channels-first layout. UpSampling2D(interpolation='bilinear') resizes like
tf.image.resize with half-pixel centres: torch's align_corners=False. UpSampling3D repeats each
voxel (nearest only, as in Keras).
"""

from __future__ import annotations

from k2t.rules.spec import FIRST, LAST, LayerRule, Lowering, Step, Unsupported, params, tuple_of


def _pairs(value, n: int) -> list[tuple[int, int]]:
    """Keras padding/cropping: 1, (1, 2) or ((1, 2), (3, 4)) -> [(before, after)] per spatial dim."""
    if isinstance(value, int):
        return [(value, value)] * n
    value = tuple(value)
    if n == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        return [value]
    return [(v, v) if isinstance(v, int) else tuple(v) for v in value]


def _shift(shape, pairs, sign: int) -> tuple:
    spatial = tuple(
        None if d is None else d + sign * (before + after) for d, (before, after) in zip(shape[:-1], pairs)
    )
    return spatial + (shape[-1],)


def _check_format(ctx) -> None:
    if "data_format" in ctx.args and ctx.value("data_format") not in (None, "channels_last"):
        raise Unsupported(f"{ctx.key}(data_format={ctx.code('data_format')}) is not supported")


def _zero_padding(n: int):
    def lower(ctx) -> Lowering:
        _check_format(ctx)
        pairs = _pairs(ctx.require("padding"), n)
        flat = []
        for before, after in reversed(pairs):  # torch lists the last dim first
            flat += [before, after]
        module = f"nn.ZeroPad{n}d({tuple(flat)})"
        return Lowering([Step("{m}({x})", module, attr="pad")], _shift(ctx.in_shape, pairs, +1), FIRST)

    return lower


def _cropping(n: int):
    def lower(ctx) -> Lowering:
        _check_format(ctx)
        pairs = _pairs(ctx.require("cropping"), n)
        slices = ", ".join(f"{b or ''}:{-a if a else ''}" for b, a in pairs)
        return Lowering([Step("{x}[:, :, " + slices + "]")], _shift(ctx.in_shape, pairs, -1), FIRST)

    return lower


def _upsampling(n: int):
    def lower(ctx) -> Lowering:
        _check_format(ctx)
        size = tuple_of(ctx.require("size"), n)
        mode = str(ctx.require("interpolation")).lower() if "interpolation" in ctx.args else "nearest"
        if mode not in ("nearest", "bilinear"):
            raise Unsupported(f"{ctx.key}(interpolation={mode!r}) has no translation yet")
        out = tuple(None if d is None else d * s for d, s in zip(ctx.in_shape[:-1], size)) + ctx.in_shape[-1:]
        if n == 1:
            return Lowering([Step("{x}.repeat_interleave(" + str(size[0]) + ", dim=2)")], out, FIRST)
        options = f'scale_factor={size}, mode="{mode}"'
        if mode == "bilinear":
            options += ", align_corners=False"
        return Lowering([Step("{m}({x})", f"nn.Upsample({options})", attr="upsample")], out, FIRST)

    return lower


def _repeat_vector(ctx) -> Lowering:
    n = ctx.code("n")
    return Lowering([Step("{x}.unsqueeze(1).repeat(1, " + n + ", 1)")], (ctx.require("n"),) + ctx.in_shape, LAST)


def _permute(ctx) -> Lowering:
    dims = tuple(ctx.require("dims"))
    out = tuple(ctx.in_shape[d - 1] for d in dims)
    return Lowering([Step("{x}.permute(0, " + ", ".join(str(d) for d in dims) + ")")], out, LAST)


RULES = [
    LayerRule("ZeroPadding1D", params(("padding", 1), ("data_format", None)), _zero_padding(1), wants=FIRST),
    LayerRule("ZeroPadding2D", params(("padding", (1, 1)), ("data_format", None)), _zero_padding(2), wants=FIRST),
    LayerRule("Cropping1D", params(("cropping", (1, 1))), _cropping(1), wants=FIRST),
    LayerRule(
        "Cropping2D", params(("cropping", ((0, 0), (0, 0))), ("data_format", None)), _cropping(2), wants=FIRST
    ),
    LayerRule("UpSampling1D", params(("size", 2)), _upsampling(1), wants=FIRST),
    LayerRule(
        "UpSampling2D",
        params(("size", (2, 2)), ("data_format", None), ("interpolation", "nearest")),
        _upsampling(2),
        wants=FIRST,
    ),
    LayerRule(
        "ZeroPadding3D",
        params(("padding", ((1, 1), (1, 1), (1, 1))), ("data_format", None)),
        _zero_padding(3),
        wants=FIRST,
    ),
    LayerRule(
        "Cropping3D",
        params(("cropping", ((1, 1), (1, 1), (1, 1))), ("data_format", None)),
        _cropping(3),
        wants=FIRST,
    ),
    LayerRule("UpSampling3D", params(("size", (2, 2, 2)), ("data_format", None)), _upsampling(3), wants=FIRST),
    LayerRule("RepeatVector", params("n"), _repeat_vector, wants=LAST),
    LayerRule("Permute", params("dims"), _permute, wants=LAST),
]
