"""Preprocessing layers that are part of the model: Resizing, CenterCrop, Normalization,
Discretization, CategoryEncoding.

Resizing runs tf.image.resize, which samples at half-pixel centres: 'bilinear' is F.interpolate's
bilinear with align_corners=False (with antialias=True too: both filter with a triangle kernel
when downsampling), and 'nearest' is torch's 'nearest-exact' (torch's 'nearest' rounds the source
index down and picks other pixels). bicubic (TF: Keys a=-0.5, torch: a=-0.75), area, lanczos and
the aspect-ratio crop/pad options have no exact torch equivalent here and are refused.
CenterCrop slices the centre, cutting the extra row/column of an odd difference from the
bottom/right (start = (size - target) // 2); on an input smaller than the target Keras resizes
instead, which is refused.
Discretization with bin_boundaries and output_mode="int" is TensorFlow's Bucketize, the bin i with
boundaries[i - 1] <= x < boundaries[i]: torch.bucketize(right=True), int64 (Keras: int32) in the
Discretization module of rules/snippets.py. num_bins with adapt() (Keras's approximate quantile
summary with its epsilon) and the other output modes are refused.
CategoryEncoding (integer ids in [0, num_tokens), rank 1 or 2 with the batch): F.one_hot; multi_hot
is its maximum and count its sum over the ids of a sample, as float32. Ids are cast with .long()
(k2t's inputs are float32 unless an Embedding reads them). Keras drops ids >= num_tokens in multi_hot
and count where torch's one_hot raises. multi_hot/count of a rank-1 input (Keras encodes the whole
batch as one sample), count_weights and sparse=True are refused.
"""

from __future__ import annotations

from k2t.rules.spec import FIRST, LAST, LayerRule, Lowering, Step, Unsupported, params

_MODES = {"bilinear": 'mode="bilinear", align_corners=False', "nearest": 'mode="nearest-exact"'}


def _check(ctx) -> None:
    if ctx.value("data_format") not in (None, "channels_last"):
        raise Unsupported(f"{ctx.key}(data_format={ctx.code('data_format')}) is not supported")
    if ctx.rank != 3:
        raise Unsupported(f"{ctx.key} needs (height, width, channels) images, got {ctx.in_shape}")


def _resizing(ctx) -> Lowering:
    _check(ctx)
    interpolation = ctx.require("interpolation")
    if interpolation not in _MODES:
        raise Unsupported(
            f"Resizing(interpolation={interpolation!r}) has no exact torch equivalent"
        )
    for name in ("crop_to_aspect_ratio", "pad_to_aspect_ratio"):
        if ctx.require(name):
            raise Unsupported(f"Resizing({name}=True) has no translation yet")
    antialias = bool(ctx.require("antialias"))
    if antialias and interpolation != "bilinear":
        raise Unsupported(
            f"Resizing(interpolation={interpolation!r}, antialias=True) has no translation yet"
        )
    height, width = ctx.require("height"), ctx.require("width")
    options = f"size=({ctx.code('height')}, {ctx.code('width')}), {_MODES[interpolation]}"
    if antialias:
        options += ", antialias=True"
    step = Step("F.interpolate({x}, " + options + ")")
    return Lowering([step], (height, width, ctx.in_shape[-1]), FIRST)


def _center_crop(ctx) -> Lowering:
    _check(ctx)
    height, width = ctx.require("height"), ctx.require("width")
    size_h, size_w = ctx.in_shape[:2]
    if not (isinstance(size_h, int) and isinstance(size_w, int)):
        raise Unsupported(
            "CenterCrop needs the input's height and width known statically", "K2T303"
        )
    if size_h < height or size_w < width:
        raise Unsupported(
            f"CenterCrop({height}, {width}) on a {size_h}x{size_w} input: Keras resizes instead of "
            "cropping (smart_resize), which has no translation yet"
        )
    top, left = (size_h - height) // 2, (size_w - width) // 2
    rows = f"{top}:{top + height}" if height != size_h else ":"
    cols = f"{left}:{left + width}" if width != size_w else ":"
    steps = [Step("{x}[:, :, " + rows + ", " + cols + "]")] if (rows, cols) != (":", ":") else []
    return Lowering(steps, (height, width, ctx.in_shape[-1]), FIRST)


def _normalization(ctx) -> Lowering:
    """Normalization over the last axis: rules/snippets.py's Normalization module, its statistics
    given or set by adapt() (the program's own call, on the module it is given; see translate)."""
    axis = ctx.require("axis")
    if axis not in (-1, ctx.rank, (-1,), [-1]):
        raise Unsupported(f"Normalization(axis={ctx.code('axis')}): only the last axis is translated")
    features = ctx.in_shape[-1]
    # A size known at run time only is left to adapt() (or to the given statistics' shape).
    options = [str(features)] if isinstance(features, int) else []
    if not ctx.is_default("mean", None) or not ctx.is_default("variance", None):
        mean, variance = ctx.require("mean"), ctx.require("variance")
        if mean is None or variance is None:
            raise Unsupported("Normalization() with only one of mean= and variance=")
        options += [f"mean={ctx.code('mean')}", f"variance={ctx.code('variance')}"]
    if ctx.require("invert"):
        options.append("invert=True")
    return Lowering(
        [Step("{m}({x})", f"Normalization({', '.join(options)})", attr="normalization")],
        ctx.in_shape,
        LAST,
        weights_step=0,
        snippets={"Normalization"},
    )


def _transfer_normalization(weights, info) -> dict:
    """Keras's adapted statistics (mean, variance, count) into the module's buffers; given ones
    are the module's constants (not state)."""
    return {"mean": weights[0], "variance": weights[1]} if weights else {}


def _discretization(ctx) -> Lowering:
    if ctx.value("bin_boundaries") is None:
        raise Unsupported(
            "Discretization(num_bins=...) with adapt(): Keras's approximate quantile summary (epsilon) "
            "has no translation yet; give bin_boundaries"
        )
    if ctx.require("output_mode") != "int":
        raise Unsupported(f"Discretization(output_mode={ctx.code('output_mode')}) has no translation yet")
    ctx.require("bin_boundaries")  # a list known statically
    module = f"Discretization({ctx.code('bin_boundaries')})"
    return Lowering([Step("{m}({x})", module, attr="discretization")], ctx.in_shape, ctx.layout, snippets={"Discretization"})


def _category_encoding(ctx) -> Lowering:
    tokens, mode = ctx.require("num_tokens"), ctx.require("output_mode")
    if tokens is None:
        raise Unsupported("CategoryEncoding needs num_tokens")
    if ctx.require("sparse"):
        raise Unsupported("CategoryEncoding(sparse=True): torch has no sparse output here")
    mode = "multi_hot" if mode == "binary" else mode
    if mode not in ("one_hot", "multi_hot", "count"):
        raise Unsupported(f"CategoryEncoding(output_mode={ctx.code('output_mode')}) has no translation yet")
    if ctx.rank > 1:
        raise Unsupported(f"CategoryEncoding on ids of shape {ctx.in_shape}: Keras encodes rank 1 or 2 inputs only")
    one_hot = "F.one_hot({x}.long(), " + ctx.code("num_tokens") + ")"
    if ctx.rank == 0:
        if mode != "one_hot":
            raise Unsupported(
                f"CategoryEncoding(output_mode={mode!r}) of a rank-1 input: Keras encodes the whole batch as "
                "one sample (no batch axis), which has no translation"
            )
        return Lowering([Step(one_hot + ".float()")], (tokens,), LAST)
    ids = ctx.in_shape[0]
    if mode == "one_hot":
        if not isinstance(ids, int):
            raise Unsupported("CategoryEncoding(output_mode='one_hot') needs the number of ids per sample", "K2T303")
        if ids == 1:  # Keras drops the axis of size 1
            return Lowering([Step(one_hot.replace("{x}.long()", "{x}.long().squeeze(-1)") + ".float()")], (tokens,), LAST)
        return Lowering([Step(one_hot + ".float()")], (ids, tokens), LAST)
    reduce = "amax" if mode == "multi_hot" else "sum"
    return Lowering([Step(one_hot + f".{reduce}(1).float()")], (tokens,), LAST)


RULES = [
    LayerRule(
        "Normalization",
        params(("axis", -1), ("mean", None), ("variance", None), ("invert", False)),
        _normalization,
        wants=LAST,
        transfer=_transfer_normalization,
    ),
    LayerRule(
        "Resizing",
        params(
            "height",
            "width",
            ("interpolation", "bilinear"),
            ("crop_to_aspect_ratio", False),
            ("pad_to_aspect_ratio", False),
            ("fill_mode", "constant"),
            ("fill_value", 0.0),
            ("antialias", False),
            ("data_format", None),
        ),
        _resizing,
        wants=FIRST,
    ),
    LayerRule(
        "CenterCrop", params("height", "width", ("data_format", None)), _center_crop, wants=FIRST
    ),
    LayerRule(
        "Discretization",
        params(
            ("bin_boundaries", None),
            ("num_bins", None),
            ("epsilon", 0.01),
            ("output_mode", "int"),
            ("sparse", False),
        ),
        _discretization,
    ),
    LayerRule(
        "CategoryEncoding",
        params(("num_tokens", None), ("output_mode", "multi_hot"), ("sparse", False)),
        _category_encoding,
        wants=LAST,
    ),
]
