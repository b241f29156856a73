"""Merging layers (functional API): Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum,
and their function forms (layers.concatenate([a, b]), layers.add([a, b]), ...).

The engine brings every input into one layout first; Concatenate(axis=-1) on channels-first image
tensors then concatenates along dim 1.
"""

from __future__ import annotations

from k2t.rules.spec import FIRST, LayerRule, Lowering, Step, Unsupported, params


def _concatenate(ctx) -> Lowering:
    axis = ctx.require("axis")
    rank = ctx.rank
    if axis < 0:
        axis += rank + 1  # Keras counts the batch axis
    if not 1 <= axis <= rank:
        raise Unsupported(f"Concatenate(axis={ctx.code('axis')}) is out of range")
    if ctx.layout == FIRST and rank >= 2:
        if axis != rank:
            raise Unsupported("Concatenate on a spatial axis of channels-first tensors has no translation yet")
        dim = 1
    else:
        dim = -1 if axis == rank else axis
    shapes = ctx.in_shapes or (ctx.in_shape,)
    if len({len(shape) for shape in shapes}) > 1:
        raise Unsupported("Concatenate of tensors of different ranks (Keras refuses it too)")
    size = shapes[0][axis - 1]
    for shape in shapes[1:]:
        size = None if size is None or shape[axis - 1] is None else size + shape[axis - 1]
    out = tuple(size if i == axis - 1 else d for i, d in enumerate(shapes[0]))
    return Lowering([Step("torch.cat({xs}, dim=" + str(dim) + ")")], out, out_layout=ctx.layout)


def _elementwise(operator: str | None = None, function: str | None = None, average: bool = False):
    def lower(ctx) -> Lowering:
        n = len(ctx.in_shapes or (ctx.in_shape,))
        if n < 2:
            raise Unsupported(f"{ctx.key} needs at least two inputs")
        names = ["{x%d}" % i for i in range(n)]
        if operator:
            expression = f" {operator} ".join(names)
        else:
            expression = names[0]
            for name in names[1:]:
                expression = f"{function}({expression}, {name})"
        if average:
            expression = f"({expression}) / {n}"
        return Lowering([Step(expression)], ctx.in_shape, out_layout=ctx.layout)

    return lower


def _subtract(ctx) -> Lowering:
    if len(ctx.in_shapes) != 2:
        raise Unsupported("Subtract takes exactly two inputs")
    return Lowering([Step("{x0} - {x1}")], ctx.in_shape, out_layout=ctx.layout)


RULES = [
    LayerRule("Concatenate", params(("axis", -1)), _concatenate),
    LayerRule("Add", params(), _elementwise("+")),
    LayerRule("Subtract", params(), _subtract),
    LayerRule("Multiply", params(), _elementwise("*")),
    LayerRule("Average", params(), _elementwise("+", average=True)),
    LayerRule("Maximum", params(), _elementwise(function="torch.maximum")),
    LayerRule("Minimum", params(), _elementwise(function="torch.minimum")),
]

# layers.concatenate(inputs, axis=-1) and friends: the function form of each layer.
FUNCTIONS = {
    "concatenate": "Concatenate",
    "add": "Add",
    "subtract": "Subtract",
    "multiply": "Multiply",
    "average": "Average",
    "maximum": "Maximum",
    "minimum": "Minimum",
}
