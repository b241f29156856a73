"""Random image augmentation layers: RandomFlip, RandomRotation, RandomZoom, RandomTranslation,
RandomContrast, RandomBrightness, RandomCrop (Keras 3 semantics, read from its source).

All are the identity at inference (Keras: training=False, without clipping either; torch: not
self.training): the forward says `x = random_<op>(x, ...) if self.training else x`, with the
helpers of snippets.py. Each image of a batch draws its own transform, as in Keras; RandomCrop
draws one window for the whole batch, as Keras does too.
- RandomFlip: one uniform draw per image, flipped where it is <= 0.5; "horizontal_and_vertical"
  flips both axes of an image together on that one draw (Keras 3 does not flip them independently).
- Factors (Keras's _set_factor): a number f means (max(-|f|, lowest bound), |f|), a pair is
  sorted. Values Keras rejects when it builds the layer are not checked again.
- RandomRotation: an angle uniform in [lo, hi] * 2 pi; RandomZoom: a scale 1 + f with f uniform in
  the range, f > 0 zooms out (the image shows 1 + f times its extent), width_factor=None reuses the
  height's draw; RandomTranslation: shifts of f * height down and f * width right (height drawn
  first, as Keras draws). Keras maps each output pixel centre to an input point with a matrix about
  the centre ((size - 1) / 2) and samples there with TF's ImageProjectiveTransformV3; F.affine_grid
  with align_corners=False has the same pixel centres, so the matrix becomes theta in [-1, 1]
  coordinates (scaled by the aspect ratio for a rotation). TF's fill modes are grid_sample's
  padding modes: "reflect" (dcba|abcd|dcba, then clamped) is "reflection", "nearest" (clamped) is
  "border", "constant" with fill_value 0 is "zeros" (outside neighbours weigh in as 0 in bilinear
  sampling, in both). "wrap" and a non-zero fill_value are refused; the other modes never read
  fill_value. interpolation="nearest" rounds a point exactly half-way between pixels away from
  zero in TF and to even in torch: measure zero for random transforms, but a fixed one (low ==
  high) hits such points (a 45 degree turn, half-pixel shifts), which is refused.
- RandomContrast: the factor is uniform in [1 - lo, 1 + hi] with Keras's factor bounds (0, 1), so
  a number f gives [1, 1 + f] in Keras 3 (contrast only raised); each channel moves about its mean
  over height and width, then the result is clipped to value_range (not sorted by Keras: a
  reversed range is refused).
- RandomBrightness: a shift uniform in [lo, hi] times the width of value_range (sorted by Keras),
  then clipped to value_range.
- RandomCrop in training: a window at a uniform integer offset when the image is larger in both
  dimensions; when one dimension equals the target, Keras's fixed centred window (offsets as its
  source computes them); an image smaller in a dimension is resized by Keras, which is refused.
  At inference Keras 3 returns the image uncropped (whatever its static output shape says).
- seed= seeds Keras's per-layer generator; the translation draws from torch's global generator
  (torch.manual_seed), which a note (K2T104) says. data_format="channels_first" is refused.
"""

from __future__ import annotations

from k2t.rules.spec import FIRST, LayerRule, Lowering, Step, Unsupported, params

_INTERPOLATIONS = ("bilinear", "nearest")
_PADDING = {"reflect": "reflection", "nearest": "border", "constant": "zeros"}


def _num(value: float) -> str:
    """A bound as short source text: 0.1, not 0.09999999999999998 (Keras casts to float32)."""
    return repr(round(value, 12)) if isinstance(value, float) else repr(value)


def _pair(values: tuple) -> str:
    return "(" + ", ".join(_num(v) for v in values) + ")"


def _range(ctx, name: str, floor: float = -1) -> tuple:
    """Keras's reading of a factor: f -> (max(-|f|, floor), |f|), (a, b) -> sorted. (Values Keras
    rejects when the layer is built are not checked again.)"""
    factor = ctx.require(name)
    if isinstance(factor, (tuple, list)) and len(factor) == 2:
        return tuple(sorted(factor))
    if isinstance(factor, (int, float)) and not isinstance(factor, bool):
        return (max(-abs(factor), floor), abs(factor))
    raise Unsupported(
        f"{ctx.key}({name}={ctx.code(name)}): a number or a pair of numbers is needed"
    )


def _check(ctx) -> None:
    """Batches of (height, width, channels) images, channels last; a seed becomes a note."""
    if ctx.value("data_format") not in (None, "channels_last"):
        raise Unsupported(f"{ctx.key}(data_format={ctx.code('data_format')}) is not supported")
    if ctx.rank != 3:
        raise Unsupported(f"{ctx.key} needs (height, width, channels) images, got {ctx.in_shape}")
    if not ctx.is_default("seed", None):
        ctx.note(
            f"{ctx.key}(seed={ctx.code('seed')}): torch draws the augmentation from its global "
            "generator (seed it with torch.manual_seed), not from a per-layer seed"
        )


def _training_only(
    ctx, helper: str, arguments: str, layout: str = FIRST, out_shape=None
) -> Lowering:
    """`x = helper(x, arguments) if self.training else x`: Keras's augmentation layers pass the
    images through at inference."""
    step = Step(f"({helper}({{x}}, {arguments}) if self.training else {{x}})")
    return Lowering([step], out_shape or ctx.in_shape, layout, snippets={helper})


def _random_flip(ctx) -> Lowering:
    _check(ctx)
    mode = ctx.require("mode")
    flips = {
        "horizontal": (True, False),
        "vertical": (False, True),
        "horizontal_and_vertical": (True, True),
    }
    if mode not in flips:
        raise Unsupported(f"RandomFlip(mode={ctx.code('mode')}) is not a Keras mode")
    horizontal, vertical = flips[mode]
    return _training_only(ctx, "random_flip", f"horizontal={horizontal}, vertical={vertical}")


def _sampling(ctx, *ranges: tuple) -> str:
    """The interpolation and padding keywords of an affine layer ('' for Keras's defaults)."""
    interpolation, fill_mode = ctx.require("interpolation"), ctx.require("fill_mode")
    if interpolation not in _INTERPOLATIONS:
        raise Unsupported(f"{ctx.key}(interpolation={interpolation!r}) is not supported")
    if interpolation == "nearest" and any(low == high != 0 for low, high in ranges):
        # A fixed transform puts pixels exactly half-way (a 45 degree turn, a 0.5 pixel shift),
        # where TF rounds away from zero and torch to even.
        raise Unsupported(
            f"{ctx.key}(interpolation='nearest') with a fixed (low == high) factor: TF and torch "
            "round half-way pixels differently"
        )
    if fill_mode not in _PADDING:
        raise Unsupported(f"{ctx.key}(fill_mode={fill_mode!r}) has no grid_sample equivalent")
    if fill_mode == "constant" and ctx.require("fill_value") != 0:
        raise Unsupported(
            f"{ctx.key}(fill_value={ctx.code('fill_value')}): grid_sample pads with zeros only"
        )
    options = f', mode="{interpolation}"' if interpolation != "bilinear" else ""
    if fill_mode != "reflect":
        options += f', padding_mode="{_PADDING[fill_mode]}"'
    return options


def _random_rotation(ctx) -> Lowering:
    _check(ctx)
    factor = _range(ctx, "factor")
    return _training_only(ctx, "random_rotation", _pair(factor) + _sampling(ctx, factor))


def _random_zoom(ctx) -> Lowering:
    _check(ctx)
    ranges = [_range(ctx, "height_factor")]
    if not ctx.is_default("width_factor", None):
        ranges.append(_range(ctx, "width_factor"))
    arguments = ", ".join(_pair(r) for r in ranges)
    return _training_only(ctx, "random_zoom", arguments + _sampling(ctx, *ranges))


def _random_translation(ctx) -> Lowering:
    _check(ctx)
    height, width = _range(ctx, "height_factor"), _range(ctx, "width_factor")
    arguments = f"{_pair(height)}, {_pair(width)}{_sampling(ctx, height, width)}"
    return _training_only(ctx, "random_translation", arguments)


def _value_range(ctx) -> tuple:
    value_range = ctx.require("value_range")
    if not (isinstance(value_range, (tuple, list)) and len(value_range) == 2):
        raise Unsupported(
            f"{ctx.key}(value_range={ctx.code('value_range')}) must be a pair of numbers"
        )
    return tuple(value_range)


def _random_contrast(ctx) -> Lowering:
    _check(ctx)
    # Keras's factor bounds are (0, 1): a number f reads as (0, f), a contrast factor in [1, 1 + f].
    low, high = _range(ctx, "factor", floor=0)
    value_range = _value_range(ctx)
    if value_range[0] > value_range[1]:
        raise Unsupported(
            f"RandomContrast(value_range={ctx.code('value_range')}): a reversed range"
        )
    arguments = f"{_pair((1.0 - low, 1.0 + high))}, value_range={_pair(value_range)}"
    return _training_only(ctx, "random_contrast", arguments)


def _random_brightness(ctx) -> Lowering:
    _check(ctx)
    factor, value_range = _range(ctx, "factor"), tuple(sorted(_value_range(ctx)))
    arguments = f"{_pair(factor)}, value_range={_pair(value_range)}"
    return _training_only(ctx, "random_brightness", arguments, ctx.layout)  # per image: any layout


def _random_crop(ctx) -> Lowering:
    _check(ctx)
    height, width = ctx.require("height"), ctx.require("width")
    size_h, size_w = ctx.in_shape[:2]
    if not (isinstance(size_h, int) and isinstance(size_w, int)):
        raise Unsupported(
            "RandomCrop needs the input's height and width known statically", "K2T303"
        )
    out_shape = (height, width, ctx.in_shape[-1])
    if size_h > height and size_w > width:
        return _training_only(
            ctx, "random_crop", f"{ctx.code('height')}, {ctx.code('width')}", FIRST, out_shape
        )
    if size_h < height or size_w < width:
        raise Unsupported(
            f"RandomCrop({height}, {width}) on a {size_h}x{size_w} input: Keras resizes instead of "
            "cropping, which has no translation yet"
        )
    # One side equals the target: Keras's fixed window (its aspect-ratio crop, read from its source).
    crop_h = max(min(size_h, int(size_w * height / width)), 1)
    crop_w = max(min(size_w, int(size_h * width / height)), 1)
    top, left = int((size_h - crop_h) / 2), int((size_w - crop_w) / 2)
    if (size_h, size_w) == (height, width):
        return Lowering([], out_shape, FIRST)
    rows = f"{top}:{top + height}" if height != size_h else ":"
    cols = f"{left}:{left + width}" if width != size_w else ":"
    window = "{x}[:, :, " + rows + ", " + cols + "]"
    return Lowering([Step("(" + window + " if self.training else {x})")], out_shape, FIRST)


_AFFINE = (
    ("fill_mode", "reflect"),
    ("interpolation", "bilinear"),
    ("seed", None),
    ("fill_value", 0.0),
    ("data_format", None),
)

RULES = [
    LayerRule(
        "RandomFlip",
        params(("mode", "horizontal_and_vertical"), ("seed", None), ("data_format", None)),
        _random_flip,
        wants=FIRST,
    ),
    LayerRule("RandomRotation", params("factor", *_AFFINE), _random_rotation, wants=FIRST),
    LayerRule(
        "RandomZoom",
        params("height_factor", ("width_factor", None), *_AFFINE),
        _random_zoom,
        wants=FIRST,
    ),
    LayerRule(
        "RandomTranslation",
        params("height_factor", "width_factor", *_AFFINE),
        _random_translation,
        wants=FIRST,
    ),
    LayerRule(
        "RandomContrast",
        params("factor", ("value_range", (0, 255)), ("seed", None), ("data_format", None)),
        _random_contrast,
        wants=FIRST,
    ),
    LayerRule(
        "RandomBrightness",
        params("factor", ("value_range", (0, 255)), ("seed", None), ("data_format", None)),
        _random_brightness,
    ),
    LayerRule(
        "RandomCrop",
        params("height", "width", ("seed", None), ("data_format", None)),
        _random_crop,
        wants=FIRST,
    ),
]
