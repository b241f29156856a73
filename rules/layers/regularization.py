"""Regularisation layers: SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout.

All are the identity outside training (Keras: training=False; torch: model.eval()).
SpatialDropout drops whole channels: nn.Dropout1d/2d/3d on channels-first tensors.
GaussianDropout multiplies by noise of mean 1 and standard deviation sqrt(rate / (1 - rate)).
"""

from __future__ import annotations

from k2t.rules.spec import FIRST, LayerRule, Lowering, Step, Unsupported, params


def _spatial_dropout(n: int):
    def lower(ctx) -> Lowering:
        if "data_format" in ctx.args and ctx.value("data_format") not in (None, "channels_last"):
            raise Unsupported(f"{ctx.key}(data_format={ctx.code('data_format')}) is not supported")
        module = f"nn.Dropout{n}d({ctx.code('rate')})"
        return Lowering([Step("{m}({x})", module, attr="dropout")], ctx.in_shape, FIRST)

    return lower


def _gaussian_noise(ctx) -> Lowering:
    noise = "{x} + " + ctx.code("stddev") + " * torch.randn_like({x})"
    return Lowering([Step("(" + noise + " if self.training else {x})")], ctx.in_shape, ctx.layout)


def _gaussian_dropout(ctx) -> Lowering:
    rate = ctx.require("rate")
    std = (rate / (1 - rate)) ** 0.5
    noise = "{x} * (1 + " + repr(round(std, 10)) + " * torch.randn_like({x}))"
    return Lowering([Step("(" + noise + " if self.training else {x})")], ctx.in_shape, ctx.layout)


RULES = [
    LayerRule("SpatialDropout1D", params("rate", ("seed", None)), _spatial_dropout(1), wants=FIRST),
    LayerRule("SpatialDropout2D", params("rate", ("data_format", None), ("seed", None)), _spatial_dropout(2),
              wants=FIRST),
    LayerRule("SpatialDropout3D", params("rate", ("data_format", None), ("seed", None)), _spatial_dropout(3),
              wants=FIRST),
    LayerRule("GaussianNoise", params("stddev", ("seed", None)), _gaussian_noise),
    LayerRule("GaussianDropout", params("rate", ("seed", None)), _gaussian_dropout),
]
