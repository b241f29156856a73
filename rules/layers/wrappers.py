"""Wrappers: TimeDistributed(layer) for layers that already act on the last axis only.

TimeDistributed(Dense(n)) on (N, T, F) is nn.Linear applied to the last dimension, which torch does
for any leading shape; the inner layer's rule writes the code and moves the weights.
"""

from __future__ import annotations

from k2t.rules.spec import LAST, LayerContext, LayerRule, Lowering, Unsupported, params

_PER_STEP = {"Dense", "Dropout", "Activation", "ReLU", "LeakyReLU", "ELU"}


def _time_distributed(ctx) -> Lowering:
    inner = ctx.value("layer")
    if getattr(inner, "key", None) not in _PER_STEP:
        what = getattr(inner, "key", ctx.code("layer"))
        raise Unsupported(f"TimeDistributed({what}) has no translation yet")
    sub = LayerContext(inner.key, inner.args, ctx.in_shape, ctx.layout, ctx.next_keys)
    lowering = inner.rule.lower(sub)
    ctx.notes.extend(sub.notes)
    lowering.transfer_info = {**lowering.transfer_info, "inner": inner.key}
    return lowering


def _transfer_time_distributed(weights, info):
    from k2t.rules.layers import LAYERS

    return LAYERS[info["inner"]].transfer(weights, info)


RULES = [
    LayerRule("TimeDistributed", params("layer"), _time_distributed, wants=LAST, transfer=_transfer_time_distributed),
]
