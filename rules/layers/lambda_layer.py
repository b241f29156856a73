"""Lambda: its function's body, an expression of table ops (rules/ops.py), inlined in forward().

The function may be a `lambda x: <expr>`, a module-level `def f(x): return <expr>` (the def goes with
the model when nothing else uses it), or a table function itself (`Lambda(tf.nn.relu)`); applied to
a list of tensors, the function's argument is that list (`lambda t: t[0] * t[1]`).

Caveats kept by this rule:
- The body's axis arguments are Keras (channels-last) axes: the layer takes channels-last input
  (the engine permutes a channels-first tensor) unless the body is pointwise, which runs on either
  layout unchanged.
- The output shape is derived from the table (elementwise, reductions, expand_dims, concat, ...);
  where it cannot be, output_shape= gives it, else the layer is refused. A derived shape that
  contradicts output_shape= is refused too.
- mask= and arguments= are not translated.
"""

from __future__ import annotations

from k2t.ops import LambdaFunction
from k2t.rules.ops import BATCH, Refused
from k2t.rules.spec import LAST, LayerRule, Lowering, Step, Unsupported, params


def _wants(args: dict) -> str | None:
    function = args["function"].value
    return None if isinstance(function, LambdaFunction) and function.pointwise else LAST


def _lambda(ctx) -> Lowering:
    function = ctx.args["function"].value
    if not isinstance(function, LambdaFunction):
        raise Unsupported(f"layer Lambda has no translation yet: {ctx.code('function')} cannot be read", "K2T101")
    for name in ("mask", "arguments"):
        if not ctx.is_default(name, None):
            raise Unsupported(f"Lambda({name}={ctx.code(name)}) has no translation")
    in_shapes = ctx.in_shapes if len(ctx.in_shapes) > 1 else (ctx.in_shape,)
    try:
        code, result = function.translate(in_shapes)
    except Refused as exc:
        what = "an op on the model's tensors" if function.names else "layer Lambda"  # `x = tf.nn.relu(x)`
        raise Unsupported(f"{what} has no translation yet: {exc}", "K2T101") from None
    # An op expression on several tensors of one shape (`ops.maximum(a, b)`) runs on their common
    # layout; of several shapes, it broadcasts Keras's axes: channels-last.
    one_shape = len(in_shapes) == 1 or (bool(function.names) and len(set(in_shapes)) == 1)
    pointwise = result.pointwise and one_shape and result.shape != ()
    if ctx.layout != LAST and not pointwise:
        raise Unsupported(f"Lambda({function.code}) needs channels-last input here")
    return Lowering(
        steps=[Step(code)],
        out_shape=_output_shape(ctx, function, result.shape),
        out_layout=ctx.layout if pointwise else LAST,
    )


def _output_shape(ctx, function: LambdaFunction, derived: tuple | None) -> tuple:
    given = ctx.args["output_shape"]
    # Keras uses output_shape= only for its symbolic shapes; a function or run-time value is not read.
    declared = tuple(given.value) if isinstance(given.value, (tuple, list)) else None
    if derived is None:
        if declared is None:
            what = "" if given.value is None else f" and output_shape={given.code} is not a static tuple"
            raise Unsupported(f"Lambda({function.code}): k2t cannot derive the output shape of this body{what}")
        return declared
    if not derived or derived[0] is not BATCH:
        raise Unsupported(f"Lambda({function.code}): the output does not keep the batch axis first")
    out = tuple(derived[1:])
    known_input = all(d is not None for shape in (ctx.in_shapes or (ctx.in_shape,)) for d in shape)
    if declared is None and known_input and None in out:
        # The layers after it need the sizes Keras knows when it builds the model.
        raise Unsupported(
            f"Lambda({function.code}): k2t cannot derive the size of axis {out.index(None) + 1} of the output; "
            "give output_shape="
        )
    if declared is not None:
        clash = len(declared) != len(out) or any(
            isinstance(d, int) and isinstance(o, int) and d != o for d, o in zip(declared, out)
        )
        if clash:
            raise Unsupported(f"Lambda: output_shape={given.code} contradicts the body's shape {out}")
        out = tuple(o if o is not None else d for o, d in zip(out, declared))
    return out


RULES = [
    LayerRule(
        "Lambda",
        params("function", ("output_shape", None), ("mask", None), ("arguments", None)),
        _lambda,
        wants=_wants,
    ),
]
