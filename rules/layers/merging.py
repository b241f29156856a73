"""Merging layers (functional API): Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum,
Dot, and their function forms (layers.concatenate([a, b]), layers.add([a, b]), ...).

Dot sums the product over one axis of each input (Keras counts the batch axis): vectors give
(N, 1); (N, L, D) sequences a batched matmul; other ranks an einsum. normalize=True L2-normalises
both inputs first; Keras floors the norm at its epsilon 1e-7 (F.normalize's default eps is 1e-12).

The engine brings every input into one layout first; Concatenate(axis=-1) on channels-first image
tensors then concatenates along dim 1.
"""

from __future__ import annotations

from k2t.rules.spec import FIRST, LAST, LayerRule, Lowering, Step, Unsupported, params


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


def _dot(ctx) -> Lowering:
    shapes = ctx.in_shapes or (ctx.in_shape,)
    if len(shapes) != 2:
        raise Unsupported("Dot takes exactly two inputs")
    axes = ctx.require("axes")
    axes = list(axes) if isinstance(axes, (list, tuple)) else [axes, axes]
    if len(axes) != 2 or not all(isinstance(a, int) for a in axes):
        raise Unsupported(f"Dot(axes={ctx.code('axes')}) is not one axis or a pair of axes")
    ranks = [len(shape) + 1 for shape in shapes]  # Keras counts the batch axis
    axes = [a % rank if a < 0 else a for a, rank in zip(axes, ranks)]
    if not all(1 <= a < rank for a, rank in zip(axes, ranks)):
        raise Unsupported(f"Dot(axes={ctx.code('axes')}) is out of range (the batch axis cannot be summed)")
    normalize = ctx.require("normalize")
    names = []
    for i, axis in enumerate(axes):
        name = "{x%d}" % i
        if normalize:
            name = f"F.normalize({name}, dim={axis}, eps=1e-7)"
        names.append(name)
    x, y = names
    rest_x = tuple(d for i, d in enumerate(shapes[0]) if i != axes[0] - 1)
    rest_y = tuple(d for i, d in enumerate(shapes[1]) if i != axes[1] - 1)
    out = rest_x + rest_y or (1,)
    if ranks == [2, 2]:
        forward = f"({x} * {y}).sum(dim=1, keepdim=True)"
    elif ranks == [3, 3]:
        left = x if axes[0] == 2 else f"{x}.transpose(1, 2)"
        right = y if axes[1] == 1 else f"{y}.transpose(1, 2)"
        forward = f"torch.bmm({left}, {right})"
    else:
        letters = iter("ijklmnopqrstuvw")
        sub_x = [next(letters) for _ in range(ranks[0] - 1)]
        sub_y = [next(letters) for _ in range(ranks[1] - 1)]
        sub_y[axes[1] - 1] = sub_x[axes[0] - 1]
        kept = [c for i, c in enumerate(sub_x) if i != axes[0] - 1] + [c for i, c in enumerate(sub_y) if i != axes[1] - 1]
        equation = f"b{''.join(sub_x)},b{''.join(sub_y)}->b{''.join(kept)}"
        forward = f'torch.einsum("{equation}", {x}, {y})'
    return Lowering([Step(forward)], out, out_layout=LAST)


RULES = [
    LayerRule("Concatenate", params(("axis", -1)), _concatenate),
    LayerRule("Add", params(), _elementwise("+")),
    LayerRule("Subtract", params(), _subtract),
    LayerRule("Multiply", params(), _elementwise("*")),
    LayerRule("Average", params(), _elementwise("+", average=True)),
    LayerRule("Maximum", params(), _elementwise(function="torch.maximum")),
    LayerRule("Minimum", params(), _elementwise(function="torch.minimum")),
    LayerRule("Dot", params("axes", ("normalize", False)), _dot, wants=LAST),
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
    "dot": "Dot",
}
