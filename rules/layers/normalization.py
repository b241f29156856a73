"""BatchNormalization over the feature/channel axis; LayerNormalization over the last axis.

Keras: momentum 0.99 and epsilon 1e-3; torch: momentum is the weight of the new batch (1 - 0.99 =
0.01) and epsilon defaults to 1e-5, so both are written out.
Weights: [gamma, beta, moving_mean, moving_variance] (gamma/beta only with scale/center).
"""

from __future__ import annotations

from k2t.rules.spec import FIRST, LAST, LayerRule, Lowering, Step, Unsupported, params
from k2t.values import dim_code


def _batch_norm(ctx) -> Lowering:
    axis = ctx.require("axis")
    if axis not in (-1, ctx.rank) and not (isinstance(axis, (list, tuple)) and list(axis) == [-1]):
        raise Unsupported(f"BatchNormalization(axis={axis}) has no translation yet")
    if ctx.value("renorm") or ctx.value("synchronized"):
        raise Unsupported("BatchNormalization(renorm/synchronized) has no translation yet")
    center, scale = ctx.require("center"), ctx.require("scale")
    if center != scale:
        raise Unsupported("BatchNormalization with only one of center/scale has no translation yet")
    n = {0: 1, 1: 1, 2: 1, 3: 2, 4: 3}.get(ctx.rank)
    if n is None:
        raise Unsupported(f"BatchNormalization on rank-{ctx.rank + 1} tensors has no translation")
    momentum = round(1 - ctx.require("momentum"), 10)
    options = [dim_code(ctx.in_shape[-1]), f"eps={ctx.code('epsilon')}", f"momentum={momentum}"]
    if not center:
        options.append("affine=False")
    if ctx.is_default("momentum", 0.99) and ctx.is_default("epsilon", 0.001):
        comment = "Keras defaults: epsilon=1e-3, momentum=0.99 (torch counts momentum the other way)."
    else:
        comment = f"Keras momentum={ctx.code('momentum')}: torch counts momentum the other way (1 - it)."
    ctx.note(
        "BatchNormalization: torch updates running_var with the unbiased batch variance (Keras: the "
        "biased one), so the moving variance learned in training differs by n/(n-1) per batch",
        comment="torch's running_var averages unbiased batch variances (Keras: biased ones).",
    )
    return Lowering(
        steps=[Step("{m}({x})", f"nn.BatchNorm{n}d({', '.join(options)})", attr="bn", comment=comment)],
        out_shape=ctx.in_shape,
        out_layout=ctx.layout,
        weights_step=0,
        transfer_info={"affine": bool(center)},
    )


def _transfer_batch_norm(weights, info):
    names = ["weight", "bias"] if info.get("affine", True) else []
    names += ["running_mean", "running_var"]
    return dict(zip(names, weights))


def _layer_norm(ctx) -> Lowering:
    axis = ctx.require("axis")
    if axis not in (-1, ctx.rank, [-1], (-1,)):
        raise Unsupported(f"LayerNormalization(axis={axis}) has no translation yet")
    center, scale = ctx.require("center"), ctx.require("scale")
    if center != scale:
        raise Unsupported("LayerNormalization with only one of center/scale has no translation yet")
    options = [dim_code(ctx.in_shape[-1]), f"eps={ctx.code('epsilon')}"]
    if not center:
        options.append("elementwise_affine=False")
    return Lowering(
        steps=[Step("{m}({x})", f"nn.LayerNorm({', '.join(options)})", attr="norm",
                    comment="Keras's default epsilon is 1e-3 (torch: 1e-5).")],
        out_shape=ctx.in_shape,
        out_layout=LAST,
        weights_step=0,
        transfer_info={"affine": bool(center)},
    )


def _transfer_layer_norm(weights, info):
    return dict(zip(["weight", "bias"], weights)) if info.get("affine", True) else {}


RULES = [
    LayerRule(
        "LayerNormalization",
        params(
            ("axis", -1),
            ("epsilon", 0.001),
            ("center", True),
            ("scale", True),
            ("beta_initializer", "zeros"),
            ("gamma_initializer", "ones"),
            ("beta_regularizer", None),
            ("gamma_regularizer", None),
            ("beta_constraint", None),
            ("gamma_constraint", None),
        ),
        _layer_norm,
        wants=LAST,
        transfer=_transfer_layer_norm,
    ),
    LayerRule(
        "BatchNormalization",
        params(
            ("axis", -1),
            ("momentum", 0.99),
            ("epsilon", 0.001),
            ("center", True),
            ("scale", True),
            ("beta_initializer", "zeros"),
            ("gamma_initializer", "ones"),
            ("moving_mean_initializer", "zeros"),
            ("moving_variance_initializer", "ones"),
            ("beta_regularizer", None),
            ("gamma_regularizer", None),
            ("beta_constraint", None),
            ("gamma_constraint", None),
            ("renorm", False),
            ("renorm_clipping", None),
            ("renorm_momentum", 0.99),
            ("synchronized", False),
        ),
        _batch_norm,
        wants=FIRST,
        transfer=_transfer_batch_norm,
    ),
]
