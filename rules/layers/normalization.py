"""BatchNormalization over the feature/channel axis; LayerNormalization over the last axis;
GroupNormalization over groups of channels; UnitNormalization (L2) over an axis.

Keras: momentum 0.99 and epsilon 1e-3; torch: momentum is the weight of the new batch (1 - 0.99 =
0.01) and epsilon defaults to 1e-5, so both are written out.
Weights: [gamma, beta, moving_mean, moving_variance] (gamma/beta only with scale/center).
GroupNormalization splits the channels into contiguous groups as nn.GroupNorm does (channel c in
group c // (C / groups)), with biased variances and epsilon inside the square root in both.
UnitNormalization (Keras 3): x * min(rsqrt(sum(x**2)), 1e12), i.e. x / max(norm, 1e-12), which is
F.normalize's formula and epsilon (tf.keras 2 put 1e-12 on the squared sum instead: only norms below
1e-6 differ).
"""

from __future__ import annotations

from k2t.rules.spec import FIRST, LAST, LayerRule, Lowering, Step, Unsupported, params
from k2t.values import dim_code


def _affine_init(ctx, center: bool, channels) -> dict:
    """Lowering fields that initialise gamma/beta like Keras where they are not ones/zeros (torch's
    defaults, and Keras's)."""
    gamma, beta = ctx.value("gamma_initializer"), ctx.value("beta_initializer")
    if not center or (gamma, beta) == ("ones", "zeros"):
        return {}
    if not isinstance(channels, int):
        raise Unsupported(f"{ctx.key}(gamma_initializer=/beta_initializer=) needs a known number of channels", "K2T303")
    # nn.init cannot take fans from a 1-D weight: Keras's bounds are written out.
    return {"init": (gamma, beta), "kernel_shape": (channels,), "torch_fans": False}


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
    for name, default in (("moving_mean_initializer", "zeros"), ("moving_variance_initializer", "ones")):
        if ctx.value(name) != default:
            raise Unsupported(f"BatchNormalization({name}={ctx.code(name)}) has no translation yet")
    momentum = round(1 - ctx.require("momentum"), 10)
    lazy = ctx.in_shape[-1] is None and ctx.lazy  # the first batch sets the size
    if ctx.in_shape[-1] is None and not lazy:
        raise Unsupported("BatchNormalization needs its number of features, which is unknown here", "K2T303")
    options = [] if lazy else [dim_code(ctx.in_shape[-1])]
    options += [f"eps={ctx.code('epsilon')}", f"momentum={momentum}"]
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
        steps=[Step("{m}({x})", f"nn.{'Lazy' if lazy else ''}BatchNorm{n}d({', '.join(options)})", attr="bn", comment=comment)],
        out_shape=ctx.in_shape,
        out_layout=ctx.layout,
        weights_step=0,
        transfer_info={"affine": bool(center)},
        **_affine_init(ctx, center, ctx.in_shape[-1]),
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
    lazy = ctx.in_shape[-1] is None and ctx.lazy  # the first batch sets the size
    if ctx.in_shape[-1] is None and not lazy:
        raise Unsupported("LayerNormalization needs its number of features, which is unknown here", "K2T303")
    options = [] if lazy else [dim_code(ctx.in_shape[-1])]
    options.append(f"eps={ctx.code('epsilon')}")
    if not center:
        options.append("elementwise_affine=False")
    # Said where the program relies on Keras's default (an explicit epsilon speaks for itself).
    comment = "Keras's default epsilon is 1e-3 (torch: 1e-5)." if ctx.is_default("epsilon", 0.001) else None
    module = f"{'LazyLayerNorm' if lazy else 'nn.LayerNorm'}({', '.join(options)})"
    return Lowering(
        steps=[Step("{m}({x})", module, attr="norm", comment=comment)],
        snippets={"LazyLayerNorm"} if lazy else set(),
        out_shape=ctx.in_shape,
        out_layout=LAST,
        weights_step=0,
        transfer_info={"affine": bool(center)},
        **_affine_init(ctx, center, ctx.in_shape[-1]),
    )


def _transfer_layer_norm(weights, info):
    return dict(zip(["weight", "bias"], weights)) if info.get("affine", True) else {}


def _group_norm(ctx) -> Lowering:
    axis = ctx.require("axis")
    if axis not in (-1, ctx.rank):
        raise Unsupported(f"GroupNormalization(axis={ctx.code('axis')}) has no translation yet")
    channels = ctx.in_shape[-1]
    if not isinstance(channels, int):
        raise Unsupported("GroupNormalization needs a known number of channels", "K2T303")
    groups = ctx.require("groups")
    groups = channels if groups == -1 else groups  # Keras: -1 is one group per channel
    if not isinstance(groups, int) or groups <= 0 or channels % groups:
        raise Unsupported(
            f"GroupNormalization(groups={ctx.code('groups')}) must divide the {channels} channels"
        )
    center, scale = ctx.require("center"), ctx.require("scale")
    if center != scale:
        raise Unsupported("GroupNormalization with only one of center/scale has no translation yet")
    groups_code = ctx.code("groups") if ctx.value("groups") != -1 else dim_code(channels)
    options = [groups_code, dim_code(channels), f"eps={ctx.code('epsilon')}"]
    if not center:
        options.append("affine=False")
    comment = None
    if ctx.is_default("epsilon", 0.001):
        comment = "Keras's default epsilon is 1e-3 (torch: 1e-5)."
    return Lowering(
        steps=[Step("{m}({x})", f"nn.GroupNorm({', '.join(options)})", attr="norm", comment=comment)],
        out_shape=ctx.in_shape,
        out_layout=ctx.layout,
        weights_step=0,
        transfer_info={"affine": bool(center)},
        **_affine_init(ctx, center, channels),
    )


def _torch_dim(ctx, axis: int) -> int:
    """The torch dim of a Keras axis (counting the batch) in the layout the tensor has."""
    rank = ctx.rank
    if not -rank - 1 <= axis <= rank:
        raise Unsupported(f"{ctx.key}(axis={axis}) is out of range for a rank-{rank + 1} input")
    axis %= rank + 1
    if ctx.layout != FIRST or rank < 2 or axis == 0:
        return axis - rank - 1 if axis else 0  # Keras's order: counted from the end
    return 1 if axis == rank else axis + 1  # (N, C, ...): the channels are dim 1


def _unit_norm(ctx) -> Lowering:
    axis = ctx.require("axis")
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    dims = sorted({_torch_dim(ctx, a) for a in axes}, key=lambda d: d % (ctx.rank + 1))
    if len(dims) == 1:
        forward = f"F.normalize({{x}}, dim={dims[0]})"
    else:
        norm = f"torch.linalg.vector_norm({{x}}, dim={tuple(dims)}, keepdim=True)"
        forward = f"{{x}} / {norm}.clamp_min(1e-12)"
    return Lowering(steps=[Step(forward)], out_shape=ctx.in_shape, out_layout=ctx.layout)


RULES = [
    LayerRule(
        "GroupNormalization",
        params(
            ("groups", 32),
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
        _group_norm,
        wants=FIRST,
        transfer=_transfer_layer_norm,
        regularized=(("gamma_regularizer", "weight"), ("beta_regularizer", "bias")),
    ),
    LayerRule("UnitNormalization", params(("axis", -1)), _unit_norm),
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
        regularized=(("gamma_regularizer", "weight"), ("beta_regularizer", "bias")),
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
        regularized=(("gamma_regularizer", "weight"), ("beta_regularizer", "bias")),
    ),
]
