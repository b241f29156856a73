"""Regularisation layers: SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout, AlphaDropout,
ActivityRegularization.

All are the identity outside training (Keras: training=False; torch: model.eval()).
SpatialDropout drops whole channels: nn.Dropout1d/2d/3d on channels-first tensors.
GaussianDropout multiplies by noise of mean 1 and standard deviation sqrt(rate / (1 - rate)).
AlphaDropout is nn.AlphaDropout: both set a dropped unit to -alpha * scale of SELU (-1.7580993...)
and apply the affine map a * x + b with a = ((1 - rate) * (1 + rate * 1.7580993**2)) ** -0.5 and
b = a * 1.7580993 * rate (torch's formula written otherwise); a noise_shape (masks shared along
axes) is refused.
ActivityRegularization is the identity in forward(); its l1/l2 penalty on the activations (divided
by the batch size) is a loss term that k2t's regularization_loss() (weights only) cannot hold yet:
refused unless both factors are 0.
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


def _alpha_dropout(ctx) -> Lowering:
    if ctx.value("noise_shape") is not None:
        raise Unsupported(
            f"AlphaDropout(noise_shape={ctx.code('noise_shape')}): masks shared along axes have no translation yet"
        )
    module = f"nn.AlphaDropout({ctx.code('rate')})"
    return Lowering([Step("{m}({x})", module, attr="dropout")], ctx.in_shape, ctx.layout)


def _activity_regularization(ctx) -> Lowering:
    if ctx.require("l1") or ctx.require("l2"):
        raise Unsupported(
            "ActivityRegularization: its penalty l1 * sum(|x|) + l2 * sum(x**2) on the activations (divided "
            "by the batch size), which Keras adds to the loss, is not translated yet (regularization_loss() "
            "holds weight penalties only)"
        )
    return Lowering([], ctx.in_shape, ctx.layout)  # the identity


RULES = [
    LayerRule("SpatialDropout1D", params("rate", ("seed", None)), _spatial_dropout(1), wants=FIRST),
    LayerRule("SpatialDropout2D", params("rate", ("data_format", None), ("seed", None)), _spatial_dropout(2),
              wants=FIRST),
    LayerRule("SpatialDropout3D", params("rate", ("data_format", None), ("seed", None)), _spatial_dropout(3),
              wants=FIRST),
    LayerRule("GaussianNoise", params("stddev", ("seed", None)), _gaussian_noise),
    LayerRule("GaussianDropout", params("rate", ("seed", None)), _gaussian_dropout),
    LayerRule("AlphaDropout", params("rate", ("noise_shape", None), ("seed", None)), _alpha_dropout),
    LayerRule("ActivityRegularization", params(("l1", 0.0), ("l2", 0.0)), _activity_regularization),
]
