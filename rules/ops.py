"""TensorFlow, keras.backend and keras.ops functions -> torch: the ops table.

One entry per API, keyed by k2t's canonical key (k2t/names.py: "tf.math.reduce_mean", "backend.sum",
"ops.mean"); aliases such as tf.reduce_mean and tf.math.reduce_mean share one entry. As in
tf_upgrade_v2's tables, an entry is data: the Keras/TF signature with its defaults, a torch template,
how the output shape follows from the inputs, and sample calls that tests/test_ops_table.py evaluates
with TensorFlow and with torch on the same inputs. k2t/ops.py walks expressions through the table.

A signature is a Python parameter list; an annotation says how the argument is rendered:
    (none)   a tensor; a Python number or list becomes torch.tensor(..., dtype as TF infers it)
    value    a tensor or a Python number (the torch function takes either)
    index    a tensor, a static int or a static list of ints (an index)
    tensors  a list of tensors
    axis     a static int or None;    axes  a static int, sequence of ints or None
    ints     a static int or sequence of ints (perm, multiples)
    shape    a shape: ints, `tf.shape(x)[i]`-like sizes, or `tf.shape(x)` itself
    dtype    tf.float32, "float32", np.float32, K.floatx() -> torch.float32 (None: left out)
    flag     a static bool (False: the torch keyword is left out)
    static   any static Python value
    default  only the default is translated (another value is refused)
    ignore   not translated (name=)
A template is torch code with {param} fields and {device} (the inputs' device, for constructors); a
keyword whose field is left out (axis=None, a False flag, dtype=None) is dropped. A render function
returns such a template, or refuses (Refused) an argument form it cannot translate faithfully.

Keras/TF semantics kept (each checked against TensorFlow by the table test):
- tf.math.reduce_std/reduce_variance, K.std/var, ops.std/var are population statistics: correction=0.
- tf.nn.gelu and keras.activations.gelu are exact by default; keras.ops.gelu is approximate ("tanh").
- l2_normalize(x, epsilon) is x * rsqrt(max(sum(x**2), epsilon)) = x / max(norm, sqrt(epsilon)):
  F.normalize(eps=sqrt(epsilon)); keras.ops.normalize's epsilon (default 1e-7) bounds the norm itself.
- K.epsilon() is 1e-07; K.sqrt clips negatives to 0; K.hard_sigmoid is clip(0.2 * x + 0.5, 0, 1), Keras
  3's ops/activations.hard_sigmoid relu6(x + 3) / 6; K.clip raises max_value to min_value.
- tf.argmax/argmin give int64 and take axis None as 0; keras.ops.argmax/argmin give int32 and flatten
  for axis None; integer constants and ranges are int32 as TF makes them (torch would make int64).
- tf.cast to an integer type truncates toward zero, as torch's .to() does.
- //, %, floordiv and floormod round toward -inf in both; tf.round and torch.round round half to even.
- torch.chunk equals tf.split(x, n) wherever TF accepts it (the axis divisible by n).
- Random ops (tf.random.normal/uniform, keras.random.normal/uniform/randint, K.random_normal/uniform)
  draw from torch's global generator on the inputs' device, as TF computes them (randn * stddev +
  mean; uniform in [minval, maxval), integers for integer dtypes). seed= is refused: no torch
  generator draws Keras's stream. The table test compares them by shape, dtype and distribution.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any, Callable

from k2t.values import UNKNOWN, Symbol, dim_code


class Refused(Exception):
    """An argument form without a faithful torch translation; str() says why."""


class _Batch:
    """The batch size: unknown, but the same wherever it occurs."""

    def __repr__(self) -> str:
        return "N"


BATCH: Any = _Batch()
OMIT: Any = object()  # a template field left out
REQUIRED: Any = object()

# Expression kinds
TENSOR = "tensor"
NUMBER = "number"  # a Python scalar (or str / None)
SEQ = "sequence"  # a Python tuple/list of expressions (also x.shape)
DTYPE = "dtype"
OBJECT = "object"  # a non-Keras Python object (np, math.pi, ...)


@dataclass(frozen=True)
class Expr:
    """A translated expression: torch code as an ast node, and what is known about its value."""

    node: ast.expr
    kind: str = TENSOR
    shape: tuple | None = None  # TENSOR: sizes (int, None, BATCH or a Symbol); None: unknown rank
    value: Any = UNKNOWN  # static Python value (NUMBER, SEQ, DTYPE: "float32")
    items: tuple = ()  # SEQ: the elements, as Exprs
    # TENSOR: computed position by position from the inputs (or a scalar), so it does not depend on
    # the order of axes: such an expression runs on channels-first tensors unchanged.
    pointwise: bool = False
    dtype: str | None = None  # where known ("bool" after a comparison)
    dim: Any = None  # NUMBER: the size it reads (x.shape[0] is BATCH)
    sizes: bool = False  # SEQ: a tensor's sizes, Python ints, also where its rank is unknown
    last: Any = None  # TENSOR of unknown rank: the size of its last axis, where known (an Embedding's)
    # SEQ returned by a layer with several outputs (an RNN's return_state): (the pattern its call is
    # unpacked into, the code that brings each output to Keras's form), as spec.Lowering has them.
    unpack: tuple | None = None

    @property
    def scalar(self) -> bool:
        return self.kind == NUMBER or (self.kind == TENSOR and self.shape == ())


@dataclass(frozen=True)
class OpParam:
    name: str
    kind: str = "tensor"
    default: Any = REQUIRED
    varargs: bool = False


@dataclass(frozen=True)
class Op:
    keys: tuple[str, ...]
    params: tuple[OpParam, ...]
    torch: str | Callable[["Args"], "str | Expr"]
    samples: tuple[str, ...]
    shape: Callable[["Args"], tuple | None] | None = None
    elementwise: bool = False  # pointwise in every tensor argument (layout-independent)
    dtype: str | None = None  # the output dtype where it is fixed ("bool")
    random: bool = False  # draws random numbers: its samples are compared by distribution, not value


class Args:
    """One call's arguments bound to an entry's parameters: what render and shape functions read."""

    def __init__(self, what: str, op: Op, values: dict, given: set, fill: Callable):
        self.what = what  # the call as written, for messages
        self.op = op
        self.values = values  # param name -> Expr (defaults filled in)
        self._given = given
        self.fill = fill  # template -> ast node, with this call's fields

    def __getitem__(self, name: str) -> Expr:
        return self.values[name]

    def given(self, name: str) -> bool:
        return name in self._given

    def value(self, name: str) -> Any:
        found = static(self.values[name])
        if found is UNKNOWN:
            raise Refused(f"{self.what}: {name} must be known statically")
        return found

    def shape(self, name: str) -> tuple | None:
        e = self.values[name]
        if e.kind == TENSOR:
            return e.shape
        if e.kind == NUMBER:
            return ()
        if e.kind == SEQ and e.items and all(i.kind == NUMBER for i in e.items):
            return (len(e.items),)
        return None

    def rank(self, name: str) -> int:
        shape = self.shape(name)
        if shape is None:
            raise Refused(f"{self.what}: the rank of {name} must be known")
        return len(shape)

    def axis(self, name: str, rank: int) -> int:
        return normalize_axis(self.value(name), rank, self.what)


def static(e: Expr) -> Any:
    """The static Python value of an expression, or UNKNOWN."""
    if e.kind in (NUMBER, DTYPE):
        return e.value
    if e.kind == SEQ:
        if e.value is not UNKNOWN:
            return e.value
        values = tuple(static(i) for i in e.items)
        return UNKNOWN if any(v is UNKNOWN for v in values) else values
    return UNKNOWN


def normalize_axis(axis: Any, rank: int, what: str = "") -> int:
    if not isinstance(axis, int) or isinstance(axis, bool) or not -rank <= axis < rank:
        raise Refused(f"{what}: axis {axis!r} is not an axis of a rank-{rank} tensor")
    return axis % rank


def as_tuple(value: Any) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


# -- shapes ------------------------------------------------------------------------------------


def _is_int(d: Any) -> bool:
    return isinstance(d, int) and not isinstance(d, bool)


def _dim_sum(*dims: Any) -> Any:
    """The sum of sizes: an int; a Symbol (a size known at run time) written as its sum; else None."""
    if all(_is_int(d) for d in dims):
        return sum(dims)
    if all(_is_int(d) or isinstance(d, Symbol) for d in dims):
        return Symbol(" + ".join(dim_code(d) for d in dims if d != 0))
    return None


def _dim_product(*dims: Any) -> Any:
    if all(_is_int(d) for d in dims):
        return math.prod(dims)
    if all(_is_int(d) or isinstance(d, Symbol) for d in dims):
        factors = [d for d in dims if d != 1]
        return Symbol(" * ".join(f"({dim_code(d)})" if " " in dim_code(d) else dim_code(d) for d in factors))
    return None


def broadcast_shapes(*shapes: tuple | None) -> tuple | None:
    """NumPy broadcasting of static shapes; unknown sizes stay unknown (None)."""
    if any(s is None for s in shapes):
        return None
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        big = [d for d in dims if not (_is_int(d) and d == 1)]
        if not big:
            out.append(1)
        elif all(d is big[0] or d == big[0] for d in big):
            out.append(big[0])
        else:
            ints = [d for d in big if _is_int(d)]
            out.append(ints[0] if ints else None)
    return tuple(out)


def same(a: Args) -> tuple | None:
    return a.shape(a.op.params[0].name)


def broadcast(a: Args) -> tuple | None:
    names = [p.name for p in a.op.params if p.kind in ("tensor", "value") and not p.varargs]
    return broadcast_shapes(*(a.shape(n) for n in names if a[n].kind != NUMBER or a[n].value is not None))


def reduced(x: str = "x", axis: str = "axis", keep: str | None = "keepdims"):
    def shape(a: Args) -> tuple | None:
        s = a.shape(x)
        if s is None:
            return None
        given = a.value(axis) if axis else None
        keepdims = bool(a.value(keep)) if keep else False
        axes = set(range(len(s))) if given is None else {normalize_axis(i, len(s), a.what) for i in as_tuple(given)}
        return tuple(1 if i in axes else d for i, d in enumerate(s) if keepdims or i not in axes)

    return shape


def _arg_reduced(x: str, axis_none_flattens: bool):
    def shape(a: Args) -> tuple | None:
        s = a.shape(x)
        if s is None:
            return None
        axis = a.value("axis")
        keep = bool(a.value("keepdims")) if "keepdims" in a.values else False
        if axis is None:
            if axis_none_flattens:
                return (1,) * len(s) if keep else ()
            axis = 0
        axis = normalize_axis(axis, len(s), a.what)
        return tuple(1 if i == axis else d for i, d in enumerate(s) if keep or i != axis)

    return shape


def _concat_shape(values: str, axis: str, new_axis: bool):
    def shape(a: Args) -> tuple | None:
        shapes = [i.shape for i in a[values].items] if a[values].kind == SEQ else [None]
        if not shapes or any(s is None for s in shapes):
            return None
        first = shapes[0]
        if new_axis:
            at = normalize_axis(a.value(axis), len(first) + 1, a.what)
            return first[:at] + (len(shapes),) + first[at:]
        at = normalize_axis(a.value(axis), len(first), a.what)
        return first[:at] + (_dim_sum(*(s[at] for s in shapes)),) + first[at + 1 :]

    return shape


def _shape_of(a: Args, name: str) -> tuple | None:
    """A shape argument's sizes: ints, BATCH (tf.shape(x)[0]), -1, or None where unknown."""
    e = a[name]
    if e.kind == SEQ:
        return (
            tuple(i.value if _is_int(i.value) else (i.dim if i.dim is not None else None) for i in e.items)
            if e.items
            else None
        )
    if e.kind == NUMBER and _is_int(e.value):
        return (e.value,)
    return None


def _reshape_shape(x: str, target: str):
    def shape(a: Args) -> tuple | None:
        source, wanted = a.shape(x), _shape_of(a, target)
        if wanted is None:
            return None
        if -1 not in wanted:
            return wanted
        if source is None or list(wanted).count(-1) != 1:
            return None
        rest = list(source)
        known = 1
        for d in wanted:
            if d == -1:
                continue
            if _is_int(d):
                known *= d
            elif any(r is d for r in rest):  # the same size on both sides (the batch) cancels
                rest.remove(next(r for r in rest if r is d))
            else:
                return tuple(None if d == -1 else d for d in wanted)
        sizes = [d for d in rest if _is_int(d)]
        if [d for d in rest if not _is_int(d)] == [BATCH] and math.prod(sizes) == known:
            return tuple(BATCH if d == -1 else d for d in wanted)  # tf.reshape(x, (-1, 24)): -1 is the batch
        if len(sizes) != len(rest):
            return tuple(None if d == -1 else d for d in wanted)
        return tuple(math.prod(rest) // known if d == -1 else d for d in wanted)

    return shape


def _permuted(x: str, perm: str | None):
    def shape(a: Args) -> tuple | None:
        s = a.shape(x)
        if s is None:
            return None
        order = a.value(perm) if perm else None
        order = tuple(reversed(range(len(s)))) if order is None else as_tuple(order)
        return tuple(s[normalize_axis(i, len(s), a.what)] for i in order)

    return shape


def _expanded(x: str, axis: str):
    def shape(a: Args) -> tuple | None:
        s = a.shape(x)
        if s is None:
            return None
        at = normalize_axis(a.value(axis), len(s) + 1, a.what)
        return s[:at] + (1,) + s[at:]

    return shape


def _squeezed(x: str, axis: str):
    def shape(a: Args) -> tuple | None:
        s = a.shape(x)
        if s is None:
            return None
        given = a.value(axis)
        if given is None:
            return tuple(d for d in s if not (_is_int(d) and d == 1))
        axes = {normalize_axis(i, len(s), a.what) for i in as_tuple(given)}
        return tuple(d for i, d in enumerate(s) if i not in axes)

    return shape


def _tiled(x: str, multiples: str):
    def shape(a: Args) -> tuple | None:
        s, times = a.shape(x), _shape_of(a, multiples)
        if s is None or times is None or len(times) != len(s):
            return None
        return tuple(d if t == 1 else _dim_product(d, t) for d, t in zip(s, times))

    return shape


def matmul_shape(s1: tuple | None, s2: tuple | None) -> tuple | None:
    if s1 is None or s2 is None or not s1 or not s2:
        return None
    if len(s1) == 1 and len(s2) == 1:
        return ()
    if len(s1) == 1:
        return s2[:-2] + s2[-1:]
    if len(s2) == 1:
        return s1[:-1]
    batch = broadcast_shapes(s1[:-2], s2[:-2])
    return None if batch is None else batch + (s1[-2], s2[-1])


def _matmul(x1: str, x2: str, flags: tuple[str, str] | None = None):
    def shape(a: Args) -> tuple | None:
        s1, s2 = a.shape(x1), a.shape(x2)
        if flags and s1 is not None and a.value(flags[0]):
            s1 = s1[:-2] + (s1[-1], s1[-2])
        if flags and s2 is not None and a.value(flags[1]):
            s2 = s2[:-2] + (s2[-1], s2[-2])
        return matmul_shape(s1, s2)

    return shape


def _gathered(x: str, indices: str, axis_default: int = 0, flat: bool = False):
    def shape(a: Args) -> tuple | None:
        s, index = a.shape(x), a.shape(indices)
        if s is None or index is None:
            return None
        axis = a.value("axis") if "axis" in a.values else axis_default
        if axis is None:
            if not flat:
                axis = axis_default
            else:
                size = math.prod(s) if all(_is_int(d) for d in s) else None
                s, axis = (size,), 0
        axis = normalize_axis(axis, len(s), a.what)
        return s[:axis] + index + s[axis + 1 :]

    return shape


def _one_hot_shape(x: str, depth: str):
    def shape(a: Args) -> tuple | None:
        s = a.shape(x)
        return None if s is None else s + (a.value(depth),)

    return shape


def _constant_shape(value: Any) -> tuple:
    if isinstance(value, (list, tuple)):
        return (len(value),) + (_constant_shape(value[0]) if value else ())
    return ()


def _from_shape(name: str):
    def shape(a: Args) -> tuple | None:
        return _shape_of(a, name)

    return shape


def _einsum_shape(equation_param: str, operands: str):
    def shape(a: Args) -> tuple | None:
        return _einsum_sizes(a.value(equation_param), a[operands].items)

    return shape


def _einsum_sizes(equation: str, operands: tuple) -> tuple | None:
    equation = equation.replace(" ", "")
    if "->" not in equation or "." in equation:
        return None
    inputs, output = equation.split("->")
    sizes = {}
    for term, operand in zip(inputs.split(","), operands):
        if operand.shape is None or len(term) != len(operand.shape):
            return None
        for letter, size in zip(term, operand.shape):
            if letter not in sizes or (sizes[letter] == 1 and size != 1):
                sizes[letter] = size
    return tuple(sizes.get(letter) for letter in output)


def _tensordot_axes(axes: Any, rank1: int, what: str) -> tuple[list, list]:
    if _is_int(axes):
        return list(range(rank1 - axes, rank1)), list(range(axes))
    first, second = axes
    return [int(i) for i in as_tuple(first)], [int(i) for i in as_tuple(second)]


def _tensordot_shape(x1: str, x2: str, axes: str):
    def shape(a: Args) -> tuple | None:
        s1, s2 = a.shape(x1), a.shape(x2)
        if s1 is None or s2 is None:
            return None
        first, second = _tensordot_axes(a.value(axes), len(s1), a.what)
        first = {normalize_axis(i, len(s1), a.what) for i in first}
        second = {normalize_axis(i, len(s2), a.what) for i in second}
        return tuple(d for i, d in enumerate(s1) if i not in first) + tuple(
            d for i, d in enumerate(s2) if i not in second
        )

    return shape


def _padded(x: str, paddings: str):
    def shape(a: Args) -> tuple | None:
        s, pads = a.shape(x), a.value(paddings)
        if s is None:
            return None
        return tuple(d if before == after == 0 else _dim_sum(d, before, after) for d, (before, after) in zip(s, pads))

    return shape


# -- rendering helpers -------------------------------------------------------------------------

# Dtype names (TF, NumPy and Keras spell them alike) -> torch.
DTYPES = {
    name: f"torch.{name}"
    for name in ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")
}
DTYPES.update({"half": "torch.float16", "float": "torch.float32", "double": "torch.float64"})


def torch_dtype(name: Any, what: str = "") -> str:
    if name not in DTYPES:
        raise Refused(f"{what}: dtype {name!r} has no torch equivalent k2t knows")
    return DTYPES[name]


def inferred_dtype(value: Any) -> str | None:
    """The dtype TF gives a Python value: float32 for floats, int32 for ints, bool for bools."""
    flat = []

    def walk(v):
        if isinstance(v, (list, tuple)):
            for item in v:
                walk(item)
        else:
            flat.append(v)

    walk(value)
    if not flat or any(not isinstance(v, (int, float, bool)) for v in flat):
        return None
    if all(isinstance(v, bool) for v in flat):
        return "bool"
    if any(isinstance(v, float) for v in flat):
        return "float32"
    return "int32"


def _dtype_keyword(a: Args, name: str = "dtype", default: str | None = "float32") -> str:
    """', dtype=torch.X' for a dtype argument; nothing for None or torch's own default."""
    given = a.value(name)
    if given is None:
        given = default
    if given is None or given == "float32":
        return ""
    return f", dtype={torch_dtype(given, a.what)}"


def _reduce(torch_fn: str, x: str = "x", extra: str = "", single_axis: bool = False):
    """torch.<fn>(x, dim=axis, keepdim=keepdims); axis=None with keepdims lists every dim."""

    def render(a: Args) -> str:
        axis, keep = a.value("axis"), bool(a.value("keepdims"))
        if isinstance(axis, (tuple, list)):
            if not axis:
                raise Refused(f"{a.what}: an empty axis list reduces nothing in TF, everything in torch")
            if single_axis:
                if len(axis) != 1:
                    raise Refused(f"{a.what}: {torch_fn} reduces one axis at a time")
                return f"{torch_fn}({{{x}}}, dim={axis[0]!r}{extra}, keepdim={{keepdims}})"
        if axis is None and keep:
            dims = tuple(range(a.rank(x)))
            if single_axis:
                raise Refused(f"{a.what}: {torch_fn} over every axis with keepdims has no translation")
            return f"{torch_fn}({{{x}}}, dim={dims!r}{extra}, keepdim=True)"
        return f"{torch_fn}({{{x}}}, dim={{axis}}{extra}, keepdim={{keepdims}})"

    return render


def _logsumexp(x: str):
    """torch.logsumexp needs its dims: every axis for axis=None."""
    inner = _reduce("torch.logsumexp", x)

    def render(a: Args) -> str:
        if a.value("axis") is None and not a.value("keepdims"):
            return f"torch.logsumexp({{{x}}}, dim={tuple(range(a.rank(x)))!r})"
        return inner(a)

    return render


def _maximum(torch_fn: str, bound: str, x: str = "x", y: str = "y"):
    """torch.maximum takes two tensors; with a Python number the idiom is clamp(min=...)."""

    def render(a: Args) -> str:
        if a[y].kind == NUMBER and a[x].kind == TENSOR:
            return f"torch.clamp({{{x}}}, {bound}={{{y}}})"
        if a[x].kind == NUMBER and a[y].kind == TENSOR:
            return f"torch.clamp({{{y}}}, {bound}={{{x}}})"
        return f"{torch_fn}({{{x}}}, {{{y}}})"

    return render


def _clamp(x: str, low: str, high: str):
    """TF clips as max(min(x, high), low): a low bound above the high one wins (torch.clamp's high)."""

    def render(a: Args) -> str:
        if a[low].kind == NUMBER and a[high].kind == NUMBER:
            lo, hi = a.value(low), a.value(high)
            if hi < lo:
                return f"torch.clamp({{{x}}}, {{{low}}}, {{{low}}})"
            return f"torch.clamp({{{x}}}, {{{low}}}, {{{high}}})"
        return f"torch.clamp(torch.clamp({{{x}}}, max={{{high}}}), min={{{low}}})"

    return render


def _softmax(torch_fn: str, x: str, default_axis: int | None = -1):
    def render(a: Args) -> str:
        axis = a.value("axis")
        if axis is None:
            axis = default_axis
        if not _is_int(axis):
            raise Refused(f"{a.what}: softmax over several axes has no translation")
        return f"{torch_fn}({{{x}}}, dim={axis!r})"

    return render


def _gelu(x: str):
    def render(a: Args) -> str:
        return f"F.gelu({{{x}}}, approximate='tanh')" if a.value("approximate") else f"F.gelu({{{x}}})"

    return render


def _silu(x: str):
    def render(a: Args) -> str:
        beta = a.value("beta")
        return f"F.silu({{{x}}})" if beta == 1 else f"{{{x}}} * torch.sigmoid({beta!r} * {{{x}}})"

    return render


def _leaky_relu(x: str, slope: str):
    def render(a: Args) -> str:
        alpha = a.value(slope)
        if not isinstance(alpha, (int, float)) or alpha > 1:
            raise Refused(f"{a.what}: a slope above 1 is max(x, slope * x) in TF, not leaky_relu")
        return f"F.leaky_relu({{{x}}}, {alpha!r})"

    return render


def _l2_normalize(x: str, inside_sqrt: bool):
    """TF's epsilon bounds sum(x**2) (the norm is bounded by its square root); Keras 3's the norm."""

    def render(a: Args) -> str:
        eps = a.value("epsilon") if "epsilon" in a.values else 1e-12
        if eps is None:
            eps = 1e-07
        if "order" in a.values and a.value("order") != 2:
            raise Refused(f"{a.what}: only the L2 norm is translated")
        bound = math.sqrt(eps) if inside_sqrt else eps
        if a.value("axis") is None:
            return f"{{{x}}} / torch.clamp(torch.linalg.vector_norm({{{x}}}), min={bound!r})"
        return f"F.normalize({{{x}}}, dim={{axis}}, eps={bound!r})"

    return render


def _transpose(x: str, perm: str | None):
    def render(a: Args) -> str:
        order = a.value(perm) if perm else None
        if order is None:
            order = tuple(reversed(range(a.rank(x))))
        return f"torch.permute({{{x}}}, {tuple(as_tuple(order))!r})"

    return render


def _squeeze(x: str, axis: str):
    def render(a: Args) -> str:
        given, s = a.value(axis), a.shape(x)
        if given is None:
            return f"torch.squeeze({{{x}}})"
        if s is not None:
            for i in as_tuple(given):
                d = s[normalize_axis(i, len(s), a.what)]
                if _is_int(d) and d != 1:
                    raise Refused(f"{a.what}: axis {i} has size {d}, which TF refuses to squeeze")
        return f"torch.squeeze({{{x}}}, {{{axis}}})"

    return render


def _gather(x: str, indices: str, axis_default: int = 0, flat: bool = False):
    """params[:, indices] (advanced indexing keeps TF's gather shape for any indices)."""

    def render(a: Args) -> str:
        if "batch_dims" in a.values and a.value("batch_dims") != 0:
            raise Refused(f"{a.what}: batch_dims has no translation")
        axis = a.value("axis") if "axis" in a.values else axis_default
        if axis is None:
            if flat:
                return f"torch.flatten({{{x}}})[{{{indices}}}]"
            axis = axis_default
        if not _is_int(axis):
            raise Refused(f"{a.what}: axis must be an int")
        if axis >= 0:
            return f"{{{x}}}[" + ", ".join([":"] * axis + [f"{{{indices}}}"]) + "]"
        return f"{{{x}}}[..., {{{indices}}}" + ", :" * (-axis - 1) + "]"

    return render


def _pad(x: str, paddings: str, constant: str, mode: str):
    def render(a: Args) -> str:
        if str(a.value(mode)).upper() != "CONSTANT":
            raise Refused(f"{a.what}: only constant padding is translated")
        pads = a.value(paddings)
        if not all(isinstance(p, (tuple, list)) and len(p) == 2 and all(_is_int(i) for i in p) for p in pads):
            raise Refused(f"{a.what}: paddings must be one (before, after) pair per axis")
        s = a.shape(x)
        if s is not None and len(pads) != len(s):
            raise Refused(f"{a.what}: paddings must have one pair per axis")
        flat: list[int] = []
        for before, after in reversed(pads):
            flat += [before, after]
        while flat and flat[-2:] == [0, 0]:  # leading axes without padding need no pair
            flat = flat[:-2]
        value = a.value(constant)
        value = 0 if value is None else value
        return f"F.pad({{{x}}}, {tuple(flat)!r}" + (f", value={value!r})" if value != 0 else ")")

    return render


def _chunks(x: str, sections: str, axis: str, numpy_split: bool = False):
    """tf.split -> torch.chunk (n equal parts) or torch.split (sizes); a sequence of tensors."""

    def render(a: Args) -> Expr:
        s = a.shape(x)
        if s is None:
            raise Refused(f"{a.what}: the rank of the split tensor must be known")
        at = normalize_axis(a.value(axis), len(s), a.what)
        size = s[at]
        given = a.value(sections)
        if _is_int(given):
            if _is_int(size) and size % given:
                raise Refused(f"{a.what}: {size} does not split into {given} equal parts")
            node = a.fill(f"torch.chunk({{{x}}}, {given!r}, dim={{{axis}}})")
            sizes = [size // given if _is_int(size) else None] * given
        elif numpy_split:  # split points
            points = [int(i) for i in given]
            node = a.fill(f"torch.tensor_split({{{x}}}, {points!r}, dim={{{axis}}})")
            if not _is_int(size):
                raise Refused(f"{a.what}: the split axis must have a static size")
            bounds = [0, *points, size]
            sizes = [max(0, hi - lo) for lo, hi in zip(bounds, bounds[1:])]
        else:
            sizes = [int(i) for i in given]
            if -1 in sizes:
                if not _is_int(size):
                    raise Refused(f"{a.what}: a -1 size needs the axis size")
                sizes[sizes.index(-1)] = size - (sum(sizes) + 1)
            node = a.fill(f"torch.split({{{x}}}, {sizes!r}, dim={{{axis}}})")
        items = tuple(
            Expr(ast.Subscript(node, ast.Constant(i), ast.Load()), TENSOR, s[:at] + (n,) + s[at + 1 :])
            for i, n in enumerate(sizes)
        )
        return Expr(node, SEQ, items=items)

    return render


def _unstack(x: str):
    def render(a: Args) -> Expr:
        s = a.shape(x)
        if s is None:
            raise Refused(f"{a.what}: the rank must be known")
        at = normalize_axis(a.value("axis"), len(s), a.what)
        if not _is_int(s[at]):
            raise Refused(f"{a.what}: the unstacked axis must have a static size")
        node = a.fill(f"torch.unbind({{{x}}}, dim={at})")
        rest = s[:at] + s[at + 1 :]
        items = tuple(Expr(ast.Subscript(node, ast.Constant(i), ast.Load()), TENSOR, rest) for i in range(s[at]))
        return Expr(node, SEQ, items=items)

    return render


def _size_items(a: Args, x: str, node: ast.expr, literal: bool) -> Expr:
    s = a.shape(x)
    if s is None and not literal:  # x.shape: ints, whatever the rank
        return Expr(node, SEQ, sizes=True)
    if s is None:
        raise Refused(f"{a.what}: the rank must be known")
    items = []
    for i, d in enumerate(s):
        if literal and (_is_int(d) or d is BATCH):
            item = ast.Constant(d if _is_int(d) else None)
            items.append(Expr(item, NUMBER, value=d if _is_int(d) else None, dim=d))
        else:
            item = ast.Subscript(node, ast.Constant(i), ast.Load())
            items.append(Expr(item, NUMBER, value=d if _is_int(d) else UNKNOWN, dim=d))
    value = (
        tuple(d if _is_int(d) else None for d in s) if literal and all(_is_int(d) or d is BATCH for d in s) else UNKNOWN
    )
    if literal:
        node = ast.Tuple([i.node for i in items], ast.Load())
    return Expr(node, SEQ, value=value, items=tuple(items))


def _shape(x: str, literal: bool = False):
    """tf.shape(x) -> x.shape (sizes as Python ints); K.int_shape(x) -> its static tuple."""

    def render(a: Args) -> Expr:
        if a[x].kind != TENSOR:
            raise Refused(f"{a.what}: the shape of a non-tensor")
        return _size_items(a, x, a.fill(f"{{{x}}}.shape"), literal)

    return render


def _rank(x: str):
    def render(a: Args) -> Expr:
        node = a.fill(f"{{{x}}}.dim()")
        s = a.shape(x)
        return Expr(node, NUMBER, value=len(s) if s is not None else UNKNOWN)

    return render


def _number(value: Any):
    def render(a: Args) -> Expr:
        return Expr(ast.Constant(value), NUMBER, value=value)

    return render


def _floatx(a: Args) -> Expr:
    return Expr(ast.Constant("float32"), DTYPE, value="float32")


def _cast(x: str, dtype: str, default: str | None = None):
    def render(a: Args) -> str:
        name = a.value(dtype) if dtype else default
        if name is None:
            raise Refused(f"{a.what}: the dtype must be given")
        target = torch_dtype(name, a.what)
        if a[x].kind != TENSOR:
            return f"torch.tensor({{{x}}}, dtype={target}, device={{device}})"
        return f"{{{x}}}.to({target})"

    return render


def _constant(value: str, dtype: str | None, default: str | None = None):
    def render(a: Args) -> str:
        given = a.value(value)
        name = (a.value(dtype) if dtype else None) or default or inferred_dtype(given)
        if name is None:
            raise Refused(f"{a.what}: the value must be numbers")
        if "shape" in a.values and a.value("shape") is not None:
            raise Refused(f"{a.what}: shape= has no translation")
        return f"torch.tensor({given!r}, dtype={torch_dtype(name, a.what)}, device={{device}})"

    return render


def _filled(torch_fn: str, shape: str, dtype: str | None, default: str | None = "float32"):
    def render(a: Args) -> str:
        keyword = _dtype_keyword(a, dtype, default) if dtype else ""
        return f"{torch_fn}({{{shape}}}{keyword}, device={{device}})"

    return render


def _full(shape: str, fill: str, dtype: str | None, default: str | None = None):
    def render(a: Args) -> str:
        name = (a.value(dtype) if dtype else None) or default
        if name is None:
            if a[fill].kind != NUMBER:
                raise Refused(f"{a.what}: the fill value must be a Python number")
            name = inferred_dtype(a.value(fill))
            if name is None:
                raise Refused(f"{a.what}: the fill value must be a number")
        return f"torch.full({{{shape}}}, {{{fill}}}, dtype={torch_dtype(name, a.what)}, device={{device}})"

    return render


def _like(torch_fn: str, x: str):
    def render(a: Args) -> str:
        name = a.value("dtype")
        keyword = f", dtype={torch_dtype(name, a.what)}" if name is not None else ""
        return f"{torch_fn}({{{x}}}{keyword})"

    return render


def _arange(start: str, stop: str, step: str, dtype: str | None, default_step: Any = 1):
    def render(a: Args) -> str:
        name = a.value(dtype) if dtype else None
        parts = [a[start], a[stop], a[step]]
        if name is None:
            kinds = set()
            for part in parts:
                value = static(part)
                if value is None:
                    continue
                if value is UNKNOWN:
                    if part.dim is None:
                        raise Refused(f"{a.what}: the dtype of a run-time bound must be given")
                    kinds.add("int32")
                else:
                    kinds.add(inferred_dtype(value))
            name = "float32" if "float32" in kinds else "int32"
        args = f"{{{start}}}" if static(a[stop]) is None else f"{{{start}}}, {{{stop}}}"
        if static(a[step]) not in (None, default_step, 1):
            if static(a[stop]) is None:
                raise Refused(f"{a.what}: a step without a stop")
            args += f", {{{step}}}"
        return f"torch.arange({args}, dtype={torch_dtype(name, a.what)}, device={{device}})"

    return render


def _range_shape(start: str, stop: str, step: str):
    """A range is 1-D; its length where the bounds are static ints."""

    def shape(a: Args) -> tuple:
        low, high, delta = (static(a[p]) for p in (start, stop, step))
        if high is None:
            low, high = 0, low
        delta = 1 if delta is None else delta
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high, delta)) and delta:
            return (max(0, math.ceil((high - low) / delta)),)
        return (None,)

    return shape


def _eye(n: str, m: str | None, dtype: str | None, default: str = "float32"):
    def render(a: Args) -> str:
        if "k" in a.values and a.value("k") != 0:
            raise Refused(f"{a.what}: an offset diagonal has no translation")
        size = f"{{{n}}}" if m is None or static(a[m]) is None else f"{{{n}}}, {{{m}}}"
        keyword = _dtype_keyword(a, dtype, default) if dtype else ""
        return f"torch.eye({size}{keyword}, device={{device}})"

    return render


def _argmax(torch_fn: str, x: str, none_flattens: bool, dtype: str | None):
    """tf.argmax: int64, axis None is 0; keras.ops.argmax: int32, axis None flattens."""

    def render(a: Args) -> str:
        axis = a.value("axis")
        keep = "keepdims" in a.values and a.value("keepdims")
        if axis is None and not none_flattens:
            axis = 0
        if isinstance(axis, (tuple, list)):
            raise Refused(f"{a.what}: one axis only")
        if axis is None:
            code = f"{torch_fn}({{{x}}}" + (", keepdim=True)" if keep else ")")
            if keep:
                code = f"{torch_fn}({{{x}}}.flatten()).reshape({(1,) * a.rank(x)!r})"
        else:
            code = f"{torch_fn}({{{x}}}, dim={axis!r}" + (", keepdim=True)" if keep else ")")
        name = (a.value("output_type") if "output_type" in a.values else None) or dtype
        if name in (None, "int64"):
            return code
        return f"{code}.to({torch_dtype(name, a.what)})"

    return render


def _matmul_render(x1: str, x2: str, flags: tuple[str, str] | None = None):
    def render(a: Args) -> str:
        left, right = f"{{{x1}}}", f"{{{x2}}}"
        if flags and a.value(flags[0]):
            left += ".mT"
        if flags and a.value(flags[1]):
            right += ".mT"
        return f"torch.matmul({left}, {right})"

    return render


def _dot(x1: str, x2: str):
    """K.dot / ops.dot contract the last axis of x1 with the second-to-last of x2: matmul for x2 of rank <= 2."""

    def render(a: Args) -> str:
        # x1's rank matters only for a scalar (a rank-2 x2 is matmul's right operand for any other).
        if a.rank(x2) > 2 or (a.shape(x1) is not None and a.rank(x1) < 1):
            raise Refused(f"{a.what}: a dot with a rank-{a.rank(x2)} right operand has no translation")
        return f"torch.matmul({{{x1}}}, {{{x2}}})"

    return render


def _tensordot(x1: str, x2: str, axes: str):
    def render(a: Args) -> str:
        first, second = _tensordot_axes(a.value(axes), a.rank(x1), a.what)
        return f"torch.tensordot({{{x1}}}, {{{x2}}}, dims=({first!r}, {second!r}))"

    return render


def _flip(x: str, axis: str, all_when_none: bool):
    def render(a: Args) -> str:
        given = a.value(axis)
        if given is None:
            if not all_when_none:
                raise Refused(f"{a.what}: the axes must be given")
            given = tuple(range(a.rank(x)))
        return f"torch.flip({{{x}}}, dims={tuple(as_tuple(given))!r})"

    return render


def _sort(x: str, values: bool, direction: str | None, dtype: str | None = None):
    def render(a: Args) -> str:
        descending = direction is not None and str(a.value(direction)).upper() == "DESCENDING"
        if direction is not None and str(a.value(direction)).upper() not in ("ASCENDING", "DESCENDING"):
            raise Refused(f"{a.what}: direction must be ASCENDING or DESCENDING")
        flag = ", descending=True" if descending else ""
        if values:
            return f"torch.sort({{{x}}}, dim={{axis}}{flag}).values"
        code = f"torch.argsort({{{x}}}, dim={{axis}}{flag}, stable=True)"
        return code if dtype in (None, "int64") else f"{code}.to({torch_dtype(dtype)})"

    return render


def _cumulative(torch_fn: str, x: str):
    def render(a: Args) -> str:
        if "dtype" in a.values and a.value("dtype") is not None:
            raise Refused(f"{a.what}: dtype= has no translation")
        if a.value("axis") is None:
            return f"{torch_fn}(torch.flatten({{{x}}}), dim=0)"
        return f"{torch_fn}({{{x}}}, dim={{axis}})"

    return render


def _norm(x: str, ord_param: str, default_ord: Any):
    def render(a: Args) -> str:
        order = a.value(ord_param)
        axis = a.value("axis")
        if isinstance(axis, (tuple, list)) and len(axis) != 1:
            raise Refused(f"{a.what}: a norm over several axes (a matrix norm) has no translation")
        if axis is None and default_ord is None and a.rank(x) > 1:
            if order is not None:
                raise Refused(f"{a.what}: a matrix norm has no translation")
        if order in (default_ord, "euclidean", 2, None):
            ord_code = ""
        elif order == 1:
            ord_code = ", ord=1"
        else:
            raise Refused(f"{a.what}: ord={order!r} has no translation")
        return f"torch.linalg.vector_norm({{{x}}}{ord_code}, dim={{axis}}, keepdim={{keepdims}})"

    return render


def _count_nonzero(a: Args) -> str:
    if a.value("keepdims"):
        raise Refused(f"{a.what}: keepdims has no torch.count_nonzero form")
    return "torch.count_nonzero({input}, dim={axis})"


def _where(condition: str, x: str, y: str, cast_condition: bool = False):
    def render(a: Args) -> str:
        if static(a[x]) is None or static(a[y]) is None:
            raise Refused(f"{a.what}: where() with only a condition returns indices; not translated")
        cond = f"{{{condition}}}"
        if cast_condition and a[condition].dtype != "bool":
            cond += ".bool()"
        return f"torch.where({cond}, {{{x}}}, {{{y}}})"

    return render


def _switch(a: Args) -> str:
    cond, then = a.shape("condition"), a.shape("then_expression")
    if cond is None or then is None or len(cond) != len(then):
        raise Refused(f"{a.what}: the condition must have the rank of the branches")
    return _where("condition", "then_expression", "else_expression", True)(a)


def _slice(x: str, begin: str, size: str):
    """tf.slice(x, begin, size) -> x[b0:b0 + s0, ...]; a size of -1 runs to the end."""

    def render(a: Args) -> str:
        starts, sizes = as_tuple(a.value(begin)), as_tuple(a.value(size))
        if len(starts) != len(sizes) or not all(_is_int(i) and i >= 0 for i in starts):
            raise Refused(f"{a.what}: begin must be one non-negative int per axis")
        parts = []
        for start, length in zip(starts, sizes):
            if not _is_int(length) or length < -1:
                raise Refused(f"{a.what}: sizes must be ints (-1: to the end)")
            end = "" if length == -1 else str(start + length)
            parts.append(f"{start or ''}:{end}")
        while parts and parts[-1] == ":":
            parts.pop()
        return f"{{{x}}}[" + ", ".join(parts or [":"]) + "]"

    return render


def _sliced(x: str, begin: str, size: str):
    def shape(a: Args) -> tuple | None:
        s = a.shape(x)
        if s is None:
            return None
        starts, sizes = as_tuple(a.value(begin)), as_tuple(a.value(size))
        out = []
        for i, d in enumerate(s):
            if i >= len(starts):
                out.append(d)
            elif sizes[i] != -1:
                out.append(sizes[i])
            else:
                out.append(d - starts[i] if _is_int(d) else (d if starts[i] == 0 else None))
        return tuple(out)

    return shape


def _moved(x: str, source: str, destination: str):
    def shape(a: Args) -> tuple | None:
        s = a.shape(x)
        if s is None:
            return None
        src = [normalize_axis(i, len(s), a.what) for i in as_tuple(a.value(source))]
        dst = [normalize_axis(i, len(s), a.what) for i in as_tuple(a.value(destination))]
        rest = [i for i in range(len(s)) if i not in src]
        order = [None] * len(s)
        for i, j in zip(src, dst):
            order[j] = i
        for j in range(len(s)):
            if order[j] is None:
                order[j] = rest.pop(0)
        return tuple(s[i] for i in order)

    return shape


def _batch_dot(a: Args) -> str:
    """K.batch_dot of rank-3 (or rank-2) tensors: a batched matmul over the given axes."""
    rx, ry = a.rank("x"), a.rank("y")
    axes = a.value("axes")
    if rx == ry == 2:
        if axes not in (None, 1, -1, (1, 1), [1, 1]):
            raise Refused(f"{a.what}: rank-2 batch_dot over axes {axes!r}")
        return "torch.sum({x} * {y}, dim=1, keepdim=True)"
    if rx != 3 or ry != 3:
        raise Refused(f"{a.what}: batch_dot of rank-{rx} and rank-{ry} tensors has no translation")
    if axes is None:
        axes = (2, 1)
    axes = (axes, axes) if _is_int(axes) else tuple(axes)
    ax, ay = (normalize_axis(i, 3, a.what) for i in axes)
    if 0 in (ax, ay):
        raise Refused(f"{a.what}: batch_dot over the batch axis")
    left = "{x}" if ax == 2 else "{x}.mT"
    right = "{y}" if ay == 1 else "{y}.mT"
    return f"torch.matmul({left}, {right})"


def _batch_dot_shape(a: Args) -> tuple | None:
    sx, sy, axes = a.shape("x"), a.shape("y"), a.value("axes")
    if sx is None or sy is None:
        return None
    if len(sx) == len(sy) == 2:
        return (sx[0], 1)
    axes = (2, 1) if axes is None else (axes, axes) if _is_int(axes) else tuple(axes)
    ax, ay = (normalize_axis(i, 3, a.what) for i in axes)
    return (sx[0], sx[3 - ax], sy[3 - ay])


def _k_clip(a: Args) -> str:
    """K.clip: None bounds are infinite; a max below the min is raised to it."""
    low, high = a["min_value"], a["max_value"]
    if low.kind == NUMBER and high.kind == NUMBER:
        lo, hi = a.value("min_value"), a.value("max_value")
        if lo is not None and hi is not None and hi < lo:
            return f"torch.clamp({{x}}, {lo!r}, {lo!r})"
        if lo is None and hi is None:
            return "{x}"
        if lo is None:
            return "torch.clamp({x}, max={max_value})"
        if hi is None:
            return "torch.clamp({x}, min={min_value})"
    return _clamp("x", "min_value", "max_value")(a)


def _k_relu(a: Args) -> str:
    alpha, max_value, threshold = a.value("alpha"), a.value("max_value"), a.value("threshold")
    if threshold != 0:
        raise Refused(f"{a.what}: threshold has no translation")
    if alpha != 0:
        if max_value is not None:
            raise Refused(f"{a.what}: alpha with max_value has no translation")
        return f"F.leaky_relu({{x}}, {alpha!r})"
    if max_value is None:
        return "torch.relu({x})"
    if max_value == 6:
        return "F.relu6({x})"
    return f"torch.clamp({{x}}, 0.0, {max_value!r})"


def _activation_relu(a: Args) -> str:
    slope, max_value, threshold = a.value("negative_slope"), a.value("max_value"), a.value("threshold")
    if slope != 0 or threshold != 0:
        raise Refused(f"{a.what}: negative_slope/threshold have no translation")
    if max_value is None:
        return "torch.relu({x})"
    return "F.relu6({x})" if max_value == 6 else f"torch.clamp({{x}}, 0.0, {max_value!r})"


def _k_mean(torch_fn: str, extra: str = ""):
    """K.mean/std/var cast a bool tensor to floatx first."""
    inner = _reduce(torch_fn, "x", extra)

    def render(a: Args) -> str:
        template = inner(a)
        return template.replace("{x}", "{x}.float()", 1) if a["x"].dtype == "bool" else template

    return render


def _sum_of(values: str):
    def render(a: Args) -> str:
        e = a[values]
        if e.kind != SEQ or not e.items:
            raise Refused(f"{a.what}: the inputs must be a list written out")
        return " + ".join(f"{{{values}[{i}]}}" for i in range(len(e.items)))

    return render


def _to_tensor(a: Args, x: str = "x") -> str:
    if a.value("dtype") is not None:
        return _cast(x, "dtype")(a)
    return f"{{{x}}}" if a[x].kind == TENSOR else _constant(x, None)(a)


_FLOATS = ("float16", "bfloat16", "float32", "float64", "half", "float", "double")


def _unseeded(a: Args) -> None:
    """seed= fixes Keras's (or TF's) own random stream, which torch cannot reproduce: refused, so
    that nobody expects the translation to draw Keras's numbers."""
    seed = static(a["seed"])
    if seed is not None:
        shown = ast.unparse(a["seed"].node) if seed is UNKNOWN else repr(seed)
        raise Refused(
            f"{a.what}: seed={shown} has no translation: torch cannot draw Keras's random stream "
            "(without seed= the translation draws from torch's global generator, seeded by torch.manual_seed)"
        )


def _is_number(e: Expr, number: float) -> bool:
    value = e.value if e.kind == NUMBER else None
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == number


def _random_normal(a: Args) -> str:
    """randn * stddev + mean (TF's own formula), the factors left out where they are 1 and 0."""
    _unseeded(a)
    name = a.value("dtype") or "float32"
    if name not in _FLOATS:
        raise Refused(f"{a.what}: normal samples of dtype {name!r} (only floating point dtypes)")
    code = f"torch.randn({{shape}}{_dtype_keyword(a)}, device={{device}})"
    if not _is_number(a["stddev"], 1):
        code += " * {stddev}"
    mean = static(a["mean"])
    if isinstance(mean, (int, float)) and not isinstance(mean, bool) and mean < 0:
        code += f" - {-mean!r}"  # not `+ -1.0`
    elif not _is_number(a["mean"], 0):
        code += " + {mean}"
    return code


def _random_uniform(a: Args) -> str:
    """[minval, maxval): torch.rand for [0, 1), uniform_ for other static bounds, randint for ints
    (tf.random.uniform only: maxval must be given then, as TF requires)."""
    _unseeded(a)
    name = a.value("dtype") or "float32"
    low, high = a["minval"], a["maxval"]
    if name not in _FLOATS:
        if high.kind == NUMBER and high.value is None:
            raise Refused(f"{a.what}: an integer dtype needs maxval")
        if not all(e.kind == NUMBER and _is_int(e.value) for e in (low, high)):
            raise Refused(f"{a.what}: integer bounds must be Python ints")
        return f"torch.randint({{minval}}, {{maxval}}, {{shape}}, dtype={torch_dtype(name, a.what)}, device={{device}})"
    rand = f"torch.rand({{shape}}{_dtype_keyword(a)}, device={{device}})"
    if high.kind == NUMBER and high.value is None:  # tf.random.uniform's default: [minval, 1)
        high = Expr(ast.Constant(1.0), NUMBER, value=1.0)
        a.values["maxval"] = high
    if _is_number(low, 0) and _is_number(high, 1):
        return rand
    numbers = [static(e) for e in (low, high)]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        if numbers[0] > numbers[1]:
            raise Refused(f"{a.what}: minval above maxval")
        return f"torch.empty({{shape}}{_dtype_keyword(a)}, device={{device}}).uniform_({{minval}}, {{maxval}})"
    return f"{rand} * ({{maxval}} - {{minval}}) + {{minval}}"


def _random_shape(a: Args) -> tuple | None:
    """The shape asked for (a tensor mean/stddev/bound broadcasts against it, as in TF)."""
    given = _shape_of(a, "shape")
    others = [a.shape(n) for n in ("mean", "stddev", "minval", "maxval") if n in a.values and a[n].kind == TENSOR]
    return broadcast_shapes(given, *others) if others else given


def _refuse(reason: str):
    raise Refused(reason)


def _sparse_xent(a: Args) -> str:
    logits = "{logits}" if a.rank("logits") == 2 else "{logits}.movedim(-1, 1)"
    return f"F.cross_entropy({logits}, {{labels}}.long(), reduction='none')"


def _one_hot(indices: str, depth: str, dtype: str | None):
    def render(a: Args) -> str:
        for name in ("on_value", "off_value"):
            if name in a.values and a.value(name) is not None:
                raise Refused(f"{a.what}: {name} has no translation")
        if "axis" in a.values and a.value("axis") not in (None, -1):
            raise Refused(f"{a.what}: only the last axis is translated")
        if "sparse" in a.values and a.value("sparse"):
            raise Refused(f"{a.what}: sparse has no translation")
        name = (a.value(dtype) if dtype else None) or "float32"
        cast = ".float()" if name == "float32" else f".to({torch_dtype(name, a.what)})"
        return f"F.one_hot({{{indices}}}.long(), {{{depth}}}){cast}"

    return render


def _repeat_rows(a: Args) -> str:
    if a.rank("x") != 2:
        raise Refused(f"{a.what}: K.repeat takes a rank-2 tensor")
    return "{x}.unsqueeze(1).repeat(1, {n}, 1)"


def _repeat_rows_shape(a: Args) -> tuple | None:
    s = a.shape("x")
    return None if s is None else (s[0], a.value("n"), s[1])


def _repeated(x: str, repeats: str, axis: str):
    def shape(a: Args) -> tuple | None:
        s, times, at = a.shape(x), a.value(repeats), a.value(axis)
        if s is None or not _is_int(times):
            return None
        if at is None:
            return (_dim_product(*s, times),)
        at = normalize_axis(at, len(s), a.what)
        return s[:at] + (_dim_product(s[at], times),) + s[at + 1 :]

    return shape


def _repeat_interleave(x: str, repeats: str, axis: str):
    def render(a: Args) -> str:
        if not _is_int(a.value(repeats)):
            raise Refused(f"{a.what}: repeats must be one int")
        if a.value(axis) is None:
            return f"torch.repeat_interleave({{{x}}}, {{{repeats}}})"
        return f"torch.repeat_interleave({{{x}}}, {{{repeats}}}, dim={{{axis}}})"

    return render


# -- the table ---------------------------------------------------------------------------------

OPS: dict[str, Op] = {}
ENTRIES: list[Op] = []


def _parse_signature(signature: str) -> tuple[OpParam, ...]:
    tree = ast.parse(f"def f({signature}): pass").body[0].args
    params = []
    positional = tree.posonlyargs + tree.args
    defaults = [REQUIRED] * (len(positional) - len(tree.defaults)) + [ast.literal_eval(d) for d in tree.defaults]
    for arg, default in zip(positional, defaults):
        params.append(OpParam(arg.arg, arg.annotation.id if arg.annotation else "tensor", default))
    if tree.vararg is not None:
        kind = tree.vararg.annotation.id if tree.vararg.annotation else "tensor"
        params.append(OpParam(tree.vararg.arg, kind, (), varargs=True))
    for arg, default in zip(tree.kwonlyargs, tree.kw_defaults):
        value = REQUIRED if default is None else ast.literal_eval(default)
        params.append(OpParam(arg.arg, arg.annotation.id if arg.annotation else "tensor", value))
    return tuple(params)


def op(
    keys: str, signature: str, torch, *samples: str, shape=None, elementwise=False, dtype=None, random=False
) -> Op:
    """One entry: its keys (space separated aliases), signature, torch template and sample calls."""
    entry = Op(tuple(keys.split()), _parse_signature(signature), torch, samples, shape, elementwise, dtype, random)
    for key in entry.keys:
        if key in OPS:
            raise ValueError(f"duplicate ops table key {key}")
        OPS[key] = entry
    ENTRIES.append(entry)
    return entry


_NAME = "name: ignore = None"


def unary(keys: str, torch_fn: str, *samples: str, x: str = "x", name: bool = True, dtype=None) -> Op:
    signature = f"{x}, {_NAME}" if name else x
    template = torch_fn if "{" in torch_fn else f"{torch_fn}({{{x}}})"
    return op(keys, signature, template, *samples, shape=same, elementwise=True, dtype=dtype)


def binary(keys: str, template: str, *samples: str, params: str = "x, y", name: bool = True, dtype=None) -> Op:
    signature = f"{params}, {_NAME}" if name else params
    return op(keys, signature, template, *samples, shape=broadcast, elementwise=True, dtype=dtype)


# TensorFlow: elementwise math
unary("tf.abs tf.math.abs", "torch.abs", "tf.abs(x)", "tf.math.abs(x - 1.0)")
unary("tf.exp tf.math.exp", "torch.exp", "tf.exp(x)")
unary("tf.math.log", "torch.log", "tf.math.log(p)")
unary("tf.math.log1p", "torch.log1p", "tf.math.log1p(p)")
unary("tf.math.expm1", "torch.expm1", "tf.math.expm1(x)")
unary("tf.sqrt tf.math.sqrt", "torch.sqrt", "tf.sqrt(p)")
unary("tf.math.rsqrt", "torch.rsqrt", "tf.math.rsqrt(p)")
unary("tf.square tf.math.square", "torch.square", "tf.square(x)")
unary("tf.sigmoid tf.math.sigmoid tf.nn.sigmoid", "torch.sigmoid", "tf.sigmoid(x)", "tf.nn.sigmoid(x * 2.0)")
unary("tf.tanh tf.math.tanh tf.nn.tanh", "torch.tanh", "tf.tanh(x)", "tf.math.tanh(x)")
unary("tf.sin tf.math.sin", "torch.sin", "tf.sin(x)")
unary("tf.cos tf.math.cos", "torch.cos", "tf.math.cos(x)")
unary("tf.tan tf.math.tan", "torch.tan", "tf.tan(u)")
unary("tf.asin tf.math.asin", "torch.asin", "tf.math.asin(u)")
unary("tf.acos tf.math.acos", "torch.acos", "tf.acos(u)")
unary("tf.atan tf.math.atan", "torch.atan", "tf.atan(x)")
unary("tf.sinh tf.math.sinh", "torch.sinh", "tf.sinh(x)")
unary("tf.cosh tf.math.cosh", "torch.cosh", "tf.math.cosh(x)")
unary("tf.asinh tf.math.asinh", "torch.asinh", "tf.asinh(x)")
unary("tf.acosh tf.math.acosh", "torch.acosh", "tf.math.acosh(p + 1.0)")
unary("tf.atanh tf.math.atanh", "torch.atanh", "tf.atanh(u)")
unary("tf.sign tf.math.sign", "torch.sign", "tf.sign(x)")
unary("tf.floor tf.math.floor", "torch.floor", "tf.floor(x * 3.0)")
unary("tf.math.ceil", "torch.ceil", "tf.math.ceil(x * 3.0)")
unary("tf.round tf.math.round", "torch.round", "tf.round(x * 3.0)", "tf.round(tf.constant([0.5, 1.5, 2.5, -0.5]))")
unary("tf.math.reciprocal", "torch.reciprocal", "tf.math.reciprocal(p)")
unary("tf.negative tf.math.negative", "torch.neg", "tf.negative(x)")
unary("tf.math.erf", "torch.erf", "tf.math.erf(x)")
unary("tf.math.erfc", "torch.erfc", "tf.math.erfc(x)")
unary("tf.math.lgamma", "torch.lgamma", "tf.math.lgamma(p)")
unary("tf.math.digamma", "torch.digamma", "tf.math.digamma(p)")
unary("tf.math.log_sigmoid", "F.logsigmoid", "tf.math.log_sigmoid(x)")
unary("tf.math.is_nan", "torch.isnan", "tf.math.is_nan(tf.math.log(x))", dtype="bool")
unary("tf.math.is_inf", "torch.isinf", "tf.math.is_inf(1.0 / (x * 0.0))", dtype="bool")
unary("tf.math.is_finite", "torch.isfinite", "tf.math.is_finite(tf.math.log(x))", dtype="bool")
unary("tf.logical_not tf.math.logical_not", "torch.logical_not", "tf.logical_not(c)", dtype="bool")
unary("tf.stop_gradient", "{input}.detach()", "tf.stop_gradient(x)", x="input")
unary("tf.identity", "{input}", "tf.identity(x)", x="input")

# TensorFlow: activations (tf.nn)
unary("tf.nn.relu", "torch.relu", "tf.nn.relu(x)", x="features")
unary("tf.nn.relu6", "F.relu6", "tf.nn.relu6(x * 5.0)", x="features")
unary("tf.nn.elu", "F.elu", "tf.nn.elu(x)", x="features")
unary("tf.nn.selu", "F.selu", "tf.nn.selu(x)", x="features")
unary("tf.nn.softplus tf.math.softplus", "F.softplus", "tf.nn.softplus(x)", "tf.math.softplus(x * 30.0)", x="features")
unary("tf.nn.softsign tf.math.softsign", "F.softsign", "tf.nn.softsign(x)", x="features")
op(
    "tf.nn.gelu",
    f"features, approximate: static = False, {_NAME}",
    _gelu("features"),
    "tf.nn.gelu(x)",
    "tf.nn.gelu(x, approximate=True)",
    shape=same,
    elementwise=True,
)
op(
    "tf.nn.leaky_relu",
    f"features, alpha: static = 0.2, {_NAME}",
    _leaky_relu("features", "alpha"),
    "tf.nn.leaky_relu(x)",
    "tf.nn.leaky_relu(x, alpha=0.1)",
    shape=same,
    elementwise=True,
)
op(
    "tf.nn.silu tf.nn.swish",
    "features, beta: static = 1.0",
    _silu("features"),
    "tf.nn.silu(x)",
    "tf.nn.swish(x, beta=2.0)",
    shape=same,
    elementwise=True,
)
op(
    "tf.nn.softmax tf.math.softmax",
    f"logits, axis: axis = None, {_NAME}",
    _softmax("torch.softmax", "logits"),
    "tf.nn.softmax(x)",
    "tf.nn.softmax(x, axis=1)",
    "tf.math.softmax(x, axis=-2)",
    shape=same,
)
op(
    "tf.nn.log_softmax tf.math.log_softmax",
    f"logits, axis: axis = None, {_NAME}",
    _softmax("torch.log_softmax", "logits"),
    "tf.nn.log_softmax(x)",
    "tf.nn.log_softmax(x, axis=0)",
    shape=same,
)
op(
    "tf.nn.l2_normalize tf.math.l2_normalize tf.linalg.l2_normalize",
    f"x, axis: axes = None, epsilon: static = 1e-12, {_NAME}, dim: default = None",
    _l2_normalize("x", True),
    "tf.nn.l2_normalize(x, axis=-1)",
    "tf.math.l2_normalize(x, axis=[1, 2])",
    "tf.nn.l2_normalize(x)",
    "tf.nn.l2_normalize(x * 1e-5, axis=1, epsilon=1e-4)",
    shape=same,
)
op(
    "tf.nn.sigmoid_cross_entropy_with_logits",
    f"labels, logits, {_NAME}",
    "F.binary_cross_entropy_with_logits({logits}, {labels}, reduction='none')",
    "tf.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=x)",
    "tf.nn.sigmoid_cross_entropy_with_logits(t, y)",
    shape=lambda a: a.shape("logits"),
)
op(
    "tf.nn.softmax_cross_entropy_with_logits",
    f"labels, logits, axis: axis = -1, {_NAME}",
    "-torch.sum({labels} * torch.log_softmax({logits}, dim={axis}), dim={axis})",
    "tf.nn.softmax_cross_entropy_with_logits(labels=tf.nn.softmax(y), logits=x)",
    "tf.nn.softmax_cross_entropy_with_logits(tf.nn.softmax(y, axis=1), x, axis=1)",
    shape=reduced("logits", "axis", None),
)
op(
    "tf.nn.sparse_softmax_cross_entropy_with_logits",
    f"labels, logits, {_NAME}",
    _sparse_xent,
    "tf.nn.sparse_softmax_cross_entropy_with_logits(labels=i, logits=x)",
    "tf.nn.sparse_softmax_cross_entropy_with_logits(i[:, 0], x[:, 0])",
    shape=lambda a: a.shape("labels"),
)
op(
    "tf.nn.bias_add",
    f"value, bias, data_format: default = None, {_NAME}",
    "{value} + {bias}",
    "tf.nn.bias_add(x, v)",
    shape=broadcast,
)

# TensorFlow: binary math, comparisons, logic
binary("tf.add tf.math.add", "{x} + {y}", "tf.add(x, y)", "tf.math.add(x, 1.0)")
binary("tf.subtract tf.math.subtract", "{x} - {y}", "tf.subtract(x, y)", "tf.subtract(x, v)")
binary("tf.multiply tf.math.multiply", "{x} * {y}", "tf.multiply(x, y)", "tf.math.multiply(x, 0.5)")
binary("tf.divide tf.math.divide tf.truediv tf.math.truediv", "{x} / {y}", "tf.divide(x, p)", "tf.math.truediv(x, 4.0)")
binary("tf.math.floordiv", "{x} // {y}", "tf.math.floordiv(x * 5.0, 2.0)")
binary("tf.math.floormod tf.math.mod", "{x} % {y}", "tf.math.floormod(x * 5.0, 2.0)", "tf.math.mod(x, p)")
binary("tf.pow tf.math.pow", "torch.pow({x}, {y})", "tf.pow(p, 2.0)", "tf.math.pow(p, y)", params="x, y: value")
binary(
    "tf.maximum tf.math.maximum",
    _maximum("torch.maximum", "min"),
    "tf.maximum(x, y)",
    "tf.maximum(x, 0.0)",
    params="x: value, y: value",
)
binary(
    "tf.minimum tf.math.minimum",
    _maximum("torch.minimum", "max"),
    "tf.minimum(x, y)",
    "tf.math.minimum(x, 0.5)",
    params="x: value, y: value",
)
binary("tf.math.squared_difference", "torch.square({x} - {y})", "tf.math.squared_difference(x, y)")
binary("tf.atan2 tf.math.atan2", "torch.atan2({y}, {x})", "tf.math.atan2(x, y)", params="y, x")
binary(
    "tf.equal tf.math.equal",
    "torch.eq({x}, {y})",
    "tf.equal(i, 2)",
    "tf.equal(x, y)",
    params="x, y: value",
    dtype="bool",
)
binary("tf.not_equal tf.math.not_equal", "torch.ne({x}, {y})", "tf.not_equal(i, 2)", params="x, y: value", dtype="bool")
binary(
    "tf.greater tf.math.greater",
    "torch.gt({x}, {y})",
    "tf.greater(x, y)",
    "tf.greater(x, 0.0)",
    params="x, y: value",
    dtype="bool",
)
binary(
    "tf.greater_equal tf.math.greater_equal",
    "torch.ge({x}, {y})",
    "tf.greater_equal(x, 0.1)",
    params="x, y: value",
    dtype="bool",
)
binary("tf.less tf.math.less", "torch.lt({x}, {y})", "tf.less(x, y)", params="x, y: value", dtype="bool")
binary(
    "tf.less_equal tf.math.less_equal",
    "torch.le({x}, {y})",
    "tf.math.less_equal(x, 0.0)",
    params="x, y: value",
    dtype="bool",
)
binary("tf.logical_and tf.math.logical_and", "torch.logical_and({x}, {y})", "tf.logical_and(c, d)", dtype="bool")
binary("tf.logical_or tf.math.logical_or", "torch.logical_or({x}, {y})", "tf.math.logical_or(c, d)", dtype="bool")
binary("tf.math.logical_xor", "torch.logical_xor({x}, {y})", "tf.math.logical_xor(c, d)", dtype="bool")
op(
    "tf.math.add_n tf.add_n",
    f"inputs: tensors, {_NAME}",
    _sum_of("inputs"),
    "tf.math.add_n([x, y, p])",
    shape=lambda a: broadcast_shapes(*(i.shape for i in a["inputs"].items)),
    elementwise=True,
)
op(
    "tf.clip_by_value",
    f"t, clip_value_min: value, clip_value_max: value, {_NAME}",
    _clamp("t", "clip_value_min", "clip_value_max"),
    "tf.clip_by_value(x, -0.5, 0.5)",
    "tf.clip_by_value(x, y - 1.0, y + 1.0)",
    shape=same,
    elementwise=True,
)
op(
    "tf.where",
    f"condition, x: value = None, y: value = None, {_NAME}",
    _where("condition", "x", "y"),
    "tf.where(x > 0, x, y)",
    "tf.where(c, x, 0.0)",
    "tf.where(x > y, 1.0, 0.0)",
    shape=broadcast,
    elementwise=True,
)
op(
    "tf.cast",
    f"x: value, dtype: dtype, {_NAME}",
    _cast("x", "dtype"),
    "tf.cast(x * 3.0, tf.int32)",
    "tf.cast(c, 'float32')",
    "tf.cast(x, tf.bool)",
    "tf.cast(i, tf.float32)",
    "tf.cast(2, tf.float32)",
    shape=same,
    elementwise=True,
)

# TensorFlow: reductions
_REDUCE = f"input_tensor, axis: axes = None, keepdims: flag = False, {_NAME}"
op(
    "tf.reduce_mean tf.math.reduce_mean",
    _REDUCE,
    _reduce("torch.mean", "input_tensor"),
    "tf.reduce_mean(x, axis=1, keepdims=True)",
    "tf.reduce_mean(x)",
    "tf.math.reduce_mean(x, axis=[0, -1])",
    "tf.reduce_mean(x, -1)",
    "tf.reduce_mean(x, keepdims=True)",
    shape=reduced("input_tensor"),
)
op(
    "tf.reduce_sum tf.math.reduce_sum",
    _REDUCE,
    _reduce("torch.sum", "input_tensor"),
    "tf.reduce_sum(x, axis=-1)",
    "tf.reduce_sum(x, axis=(1, 2), keepdims=True)",
    "tf.reduce_sum(x)",
    shape=reduced("input_tensor"),
)
op(
    "tf.reduce_max tf.math.reduce_max",
    _REDUCE,
    _reduce("torch.amax", "input_tensor"),
    "tf.reduce_max(x, axis=1)",
    "tf.reduce_max(x, axis=[-1, 0], keepdims=True)",
    "tf.reduce_max(x)",
    shape=reduced("input_tensor"),
)
op(
    "tf.reduce_min tf.math.reduce_min",
    _REDUCE,
    _reduce("torch.amin", "input_tensor"),
    "tf.reduce_min(x, axis=-2, keepdims=True)",
    "tf.math.reduce_min(x)",
    shape=reduced("input_tensor"),
)
op(
    "tf.reduce_prod tf.math.reduce_prod",
    _REDUCE,
    _reduce("torch.prod", "input_tensor", single_axis=True),
    "tf.reduce_prod(p, axis=1)",
    "tf.reduce_prod(p, axis=-1, keepdims=True)",
    "tf.math.reduce_prod(p)",
    shape=reduced("input_tensor"),
)
op(
    "tf.math.reduce_std",
    _REDUCE,
    _reduce("torch.std", "input_tensor", ", correction=0"),
    "tf.math.reduce_std(x, axis=-1)",
    "tf.math.reduce_std(x, axis=[0, 1], keepdims=True)",
    "tf.math.reduce_std(x)",
    shape=reduced("input_tensor"),
)
op(
    "tf.math.reduce_variance",
    _REDUCE,
    _reduce("torch.var", "input_tensor", ", correction=0"),
    "tf.math.reduce_variance(x, axis=1, keepdims=True)",
    "tf.math.reduce_variance(x)",
    shape=reduced("input_tensor"),
)
op(
    "tf.reduce_logsumexp tf.math.reduce_logsumexp",
    _REDUCE,
    _logsumexp("input_tensor"),
    "tf.reduce_logsumexp(x, axis=-1)",
    "tf.math.reduce_logsumexp(x, axis=1, keepdims=True)",
    "tf.reduce_logsumexp(x)",
    shape=reduced("input_tensor"),
)
op(
    "tf.reduce_all tf.math.reduce_all",
    _REDUCE,
    _reduce("torch.all", "input_tensor"),
    "tf.reduce_all(c, axis=-1)",
    "tf.reduce_all(c)",
    shape=reduced("input_tensor"),
    dtype="bool",
)
op(
    "tf.reduce_any tf.math.reduce_any",
    _REDUCE,
    _reduce("torch.any", "input_tensor"),
    "tf.reduce_any(c, axis=[0, 2], keepdims=True)",
    "tf.math.reduce_any(c)",
    shape=reduced("input_tensor"),
    dtype="bool",
)
op(
    "tf.math.reduce_euclidean_norm",
    _REDUCE,
    "torch.linalg.vector_norm({input_tensor}, dim={axis}, keepdim={keepdims})",
    "tf.math.reduce_euclidean_norm(x, axis=-1)",
    "tf.math.reduce_euclidean_norm(x)",
    shape=reduced("input_tensor"),
)
op(
    "tf.norm tf.linalg.norm",
    f"tensor, ord: static = 'euclidean', axis: axes = None, keepdims: flag = None, {_NAME}",
    _norm("tensor", "ord", "euclidean"),
    "tf.norm(x, axis=-1)",
    "tf.norm(x, ord=1, axis=1, keepdims=True)",
    "tf.norm(x)",
    shape=reduced("tensor"),
)
op(
    "tf.math.count_nonzero",
    f"input, axis: axes = None, keepdims: static = None, dtype: default = 'int64', {_NAME}",
    _count_nonzero,
    "tf.math.count_nonzero(x > 0, axis=1)",
    "tf.math.count_nonzero(i)",
    shape=reduced("input"),
)
op(
    "tf.argmax tf.math.argmax",
    f"input, axis: axis = None, output_type: dtype = 'int64', {_NAME}",
    _argmax("torch.argmax", "input", False, None),
    "tf.argmax(x, axis=-1)",
    "tf.argmax(x)",
    "tf.math.argmax(x, 1, output_type=tf.int32)",
    shape=_arg_reduced("input", False),
)
op(
    "tf.argmin tf.math.argmin",
    f"input, axis: axis = None, output_type: dtype = 'int64', {_NAME}",
    _argmax("torch.argmin", "input", False, None),
    "tf.argmin(x, axis=1)",
    "tf.math.argmin(x)",
    shape=_arg_reduced("input", False),
)
op(
    "tf.cumsum tf.math.cumsum",
    f"x, axis: axis = 0, exclusive: default = False, reverse: default = False, {_NAME}",
    "torch.cumsum({x}, dim={axis})",
    "tf.cumsum(x, axis=-1)",
    "tf.math.cumsum(x)",
    shape=same,
)
op(
    "tf.math.cumprod",
    f"x, axis: axis = 0, exclusive: default = False, reverse: default = False, {_NAME}",
    "torch.cumprod({x}, dim={axis})",
    "tf.math.cumprod(p, axis=1)",
    shape=same,
)

# TensorFlow: shapes
op(
    "tf.reshape",
    f"tensor, shape: shape, {_NAME}",
    "torch.reshape({tensor}, {shape})",
    "tf.reshape(x, (-1, 12))",
    "tf.reshape(x, (-1, 3, 4))",
    "tf.reshape(x, [2, 3, 2, 2])",
    "tf.reshape(x, [tf.shape(x)[0], -1])",
    "tf.reshape(x, tf.shape(y))",
    "tf.reshape(x, (tf.shape(x)[0],) + (1,) * (len(x.shape) - 2) + (12,))",
    shape=_reshape_shape("tensor", "shape"),
)
op(
    "tf.transpose",
    "a, perm: ints = None, conjugate: default = False, name: ignore = 'transpose'",
    _transpose("a", "perm"),
    "tf.transpose(x, perm=[0, 2, 1])",
    "tf.transpose(x)",
    "tf.transpose(m)",
    shape=_permuted("a", "perm"),
)
op(
    "tf.expand_dims",
    f"input, axis: axis, {_NAME}",
    "torch.unsqueeze({input}, {axis})",
    "tf.expand_dims(x, -1)",
    "tf.expand_dims(x, axis=1)",
    "tf.expand_dims(x, -3)",
    shape=_expanded("input", "axis"),
)
op(
    "tf.squeeze",
    f"input, axis: axes = None, {_NAME}",
    _squeeze("input", "axis"),
    "tf.squeeze(x[:, :1], axis=1)",
    "tf.squeeze(x[:, :, :1])",
    "tf.squeeze(x[:1, :, :1], [0, -1])",
    shape=_squeezed("input", "axis"),
)
op(
    "tf.concat",
    "values: tensors, axis: axis, name: ignore = 'concat'",
    "torch.cat({values}, dim={axis})",
    "tf.concat([x, y], axis=-1)",
    "tf.concat([x, y, x], 1)",
    "tf.concat([x, x * 2.0], axis=0)",
    shape=_concat_shape("values", "axis", False),
)
op(
    "tf.stack",
    "values: tensors, axis: axis = 0, name: ignore = 'stack'",
    "torch.stack({values}, dim={axis})",
    "tf.stack([x, y])",
    "tf.stack([x, y], axis=-1)",
    shape=_concat_shape("values", "axis", True),
)
op(
    "tf.unstack",
    "value, num: default = None, axis: axis = 0, name: ignore = 'unstack'",
    _unstack("value"),
    "tf.unstack(x, axis=1)[2]",
    "tf.unstack(x)[0]",
)
op(
    "tf.split",
    "value, num_or_size_splits: static, axis: axis = 0, num: default = None, name: ignore = 'split'",
    _chunks("value", "num_or_size_splits", "axis"),
    "tf.split(x, 2, axis=-1)[1]",
    "tf.split(x, [1, 2], axis=1)[1]",
    "tf.split(x, [1, -1, 2], axis=2)[1]",
)
op(
    "tf.tile",
    f"input, multiples: shape, {_NAME}",
    "torch.tile({input}, {multiples})",
    "tf.tile(x, [1, 2, 1])",
    "tf.tile(x, (2, 1, 3))",
    shape=_tiled("input", "multiples"),
)
op(
    "tf.repeat",
    f"input, repeats: static, axis: axis = None, {_NAME}",
    _repeat_interleave("input", "repeats", "axis"),
    "tf.repeat(x, 2, axis=1)",
    "tf.repeat(x, 3)",
    shape=_repeated("input", "repeats", "axis"),
)
op(
    "tf.gather",
    f"params, indices: index, validate_indices: default = None, axis: axis = None, batch_dims: static = 0, {_NAME}",
    _gather("params", "indices"),
    "tf.gather(x, [2, 0], axis=1)",
    "tf.gather(x, i, axis=-1)",
    "tf.gather(x, 1)",
    "tf.gather(m, i)",
    shape=_gathered("params", "indices"),
)
op(
    "tf.pad",
    f"tensor, paddings: static, mode: static = 'CONSTANT', constant_values: static = 0, {_NAME}",
    _pad("tensor", "paddings", "constant_values", "mode"),
    "tf.pad(x, [[0, 0], [1, 2], [0, 0]])",
    "tf.pad(x, [[0, 0], [0, 0], [2, 1]], constant_values=1.5)",
    "tf.pad(x, [[1, 0], [0, 0], [0, 0]])",
    shape=_padded("tensor", "paddings"),
)
op(
    "tf.reverse",
    f"tensor, axis: axes, {_NAME}",
    _flip("tensor", "axis", False),
    "tf.reverse(x, [1])",
    "tf.reverse(x, axis=[0, -1])",
    shape=same,
)
op(
    "tf.sort",
    f"values, axis: axis = -1, direction: static = 'ASCENDING', {_NAME}",
    _sort("values", True, "direction"),
    "tf.sort(x)",
    "tf.sort(x, axis=1, direction='DESCENDING')",
    shape=same,
)
op(
    "tf.argsort",
    f"values, axis: axis = -1, direction: static = 'ASCENDING', stable: static = False, {_NAME}",
    _sort("values", False, "direction", "int32"),
    "tf.argsort(x)",
    "tf.argsort(x, axis=0, direction='DESCENDING')",
    shape=same,
)
op(
    "tf.one_hot",
    "indices, depth: static, on_value: static = None, off_value: static = None, axis: static = None, "
    f"dtype: dtype = None, {_NAME}",
    _one_hot("indices", "depth", "dtype"),
    "tf.one_hot(i, 4)",
    "tf.one_hot(i, depth=5, dtype=tf.int32)",
    shape=_one_hot_shape("indices", "depth"),
)
op(
    "tf.matmul tf.linalg.matmul",
    "a, b, transpose_a: flag = False, transpose_b: flag = False, adjoint_a: default = False, "
    "adjoint_b: default = False, a_is_sparse: default = False, b_is_sparse: default = False, "
    f"output_type: default = None, grad_a: default = False, grad_b: default = False, {_NAME}",
    _matmul_render("a", "b", ("transpose_a", "transpose_b")),
    "tf.matmul(x, m)",
    "tf.matmul(x, y, transpose_b=True)",
    "tf.linalg.matmul(x, x, transpose_a=True)",
    shape=_matmul("a", "b", ("transpose_a", "transpose_b")),
)
op(
    "tf.einsum tf.linalg.einsum",
    "equation: static, *inputs",
    "torch.einsum({equation}, *{inputs})",
    "tf.einsum('bij,jk->bik', x, m)",
    "tf.einsum('bij,bij->bi', x, y)",
    shape=_einsum_shape("equation", "inputs"),
)
op(
    "tf.tensordot tf.linalg.tensordot",
    f"a, b, axes: static, {_NAME}",
    _tensordot("a", "b", "axes"),
    "tf.tensordot(x, m, axes=1)",
    "tf.tensordot(x, y, axes=[[1, 2], [1, 2]])",
    "tf.tensordot(x, v, [[2], [0]])",
    shape=_tensordot_shape("a", "b", "axes"),
)
op("tf.shape", f"input, out_type: default = None, {_NAME}", _shape("input"), "tf.shape(x)[1]", "tf.shape(x)[-1] * 2")
op("tf.rank", f"input, {_NAME}", _rank("input"), "tf.rank(x)")
op(
    "tf.size",
    f"input, out_type: default = None, {_NAME}",
    lambda a: Expr(a.fill("{input}.numel()"), NUMBER),
    "tf.size(x) * 2",
)

op(
    "tf.slice",
    f"input_, begin: static, size: static, {_NAME}",
    _slice("input_", "begin", "size"),
    "tf.slice(x, [0, 1, 0], [-1, 2, -1])",
    "tf.slice(x, [1, 0, 2], [1, 3, 2])",
    shape=_sliced("input_", "begin", "size"),
)
op(
    "tf.broadcast_to",
    f"input, shape: shape, {_NAME}",
    "torch.broadcast_to({input}, {shape})",
    "tf.broadcast_to(v, (2, 3, 4))",
    "tf.broadcast_to(x[:, :1], tf.shape(x))",
    shape=_from_shape("shape"),
)
op(
    "tf.roll",
    f"input, shift: static, axis: static, {_NAME}",
    "torch.roll({input}, {shift}, {axis})",
    "tf.roll(x, 1, axis=-1)",
    "tf.roll(x, [1, -2], axis=[1, 2])",
    shape=same,
)
op(
    "tf.math.divide_no_nan",
    f"x, y, {_NAME}",
    "torch.where({y} == 0, 0.0, {x} / torch.where({y} == 0, 1.0, {y}))",
    "tf.math.divide_no_nan(x, tf.floor(y))",
    shape=broadcast,
    elementwise=True,
)
op(
    "tf.convert_to_tensor",
    f"value: value, dtype: dtype = None, dtype_hint: default = None, {_NAME}",
    lambda a: _to_tensor(a, "value"),
    "tf.convert_to_tensor(x)",
    "tf.convert_to_tensor([1.0, 2.0, 3.0, 4.0]) * x",
    "tf.convert_to_tensor(2, dtype=tf.float32)",
    shape=lambda a: a.shape("value") if a["value"].kind == TENSOR else _constant_shape(a.value("value")),
)
op(
    "tf.linspace",
    f"start: static, stop: static, num: static, {_NAME}, axis: default = 0",
    lambda a: (
        "torch.linspace({start}, {stop}, {num}, device={device})"
        if all(isinstance(a.value(n), float) for n in ("start", "stop"))
        else _refuse(f"{a.what}: start and stop must be Python floats")
    ),
    "tf.linspace(0.0, 1.0, 5)",
    shape=lambda a: (a.value("num"),),
)

# TensorFlow: constants
op(
    "tf.constant",
    "value: static, dtype: dtype = None, shape: static = None, name: ignore = 'Const'",
    _constant("value", "dtype"),
    "tf.constant([1.0, 2.0, 3.0, 4.0]) * x",
    "tf.constant([[1, 2], [3, 4]])",
    "tf.constant(2.5)",
    "tf.constant([1, 0, 1, 1], dtype=tf.float32)",
    "tf.constant([True, False])",
    shape=lambda a: _constant_shape(a.value("value")),
)
op(
    "tf.zeros",
    f"shape: shape, dtype: dtype = 'float32', {_NAME}, layout: default = None",
    _filled("torch.zeros", "shape", "dtype"),
    "tf.zeros((2, 3))",
    "tf.zeros([tf.shape(x)[0], 4], dtype=tf.int32)",
    shape=_from_shape("shape"),
)
op(
    "tf.ones",
    f"shape: shape, dtype: dtype = 'float32', {_NAME}, layout: default = None",
    _filled("torch.ones", "shape", "dtype"),
    "tf.ones([3]) + v[:3]",
    "tf.ones(tf.shape(x))",
    shape=_from_shape("shape"),
)
op(
    "tf.zeros_like",
    f"input, dtype: dtype = None, {_NAME}, layout: default = None",
    _like("torch.zeros_like", "input"),
    "tf.zeros_like(x)",
    "tf.zeros_like(x, dtype=tf.int32)",
    shape=same,
    elementwise=True,
)
op(
    "tf.ones_like",
    f"input, dtype: dtype = None, {_NAME}, layout: default = None",
    _like("torch.ones_like", "input"),
    "tf.ones_like(x)",
    "tf.ones_like(i)",
    shape=same,
    elementwise=True,
)
op(
    "tf.fill",
    f"dims: shape, value: value, {_NAME}, layout: default = None",
    _full("dims", "value", None),
    "tf.fill([2, 3], 0.5)",
    "tf.fill((tf.shape(x)[0], 2), 7)",
    shape=_from_shape("dims"),
)
op(
    "tf.range",
    "start: value, limit: value = None, delta: value = 1, dtype: dtype = None, name: ignore = 'range'",
    _arange("start", "limit", "delta", "dtype"),
    "tf.range(5)",
    "tf.range(1, 10, 2)",
    "tf.range(0.0, 1.0, 0.25)",
    "tf.range(tf.shape(x)[1])",
    "tf.range(3, dtype=tf.float32)",
    shape=_range_shape("start", "limit", "delta"),
)
op(
    "tf.eye tf.linalg.eye",
    f"num_rows: value, num_columns: value = None, batch_shape: default = None, dtype: dtype = 'float32', {_NAME}",
    _eye("num_rows", "num_columns", "dtype"),
    "tf.eye(3)",
    "tf.eye(2, 3, dtype=tf.int32)",
    shape=lambda a: (a.value("num_rows"), a.value("num_columns") or a.value("num_rows")),
)


# TensorFlow / keras.random / keras.backend: random numbers. torch draws from its global generator;
# a seed= is refused (see _unseeded). The table test compares their samples by shape, dtype and
# distribution (tests/test_ops_table.py), never by value.
op(
    "tf.random.normal",
    "shape: shape, mean: value = 0.0, stddev: value = 1.0, dtype: dtype = 'float32', seed: static = None, "
    "name: ignore = None",
    _random_normal,
    "tf.random.normal((200, 500))",
    "tf.random.normal((200, 500), mean=1.5, stddev=0.5, dtype=tf.float64)",
    "tf.random.normal(tf.shape(x))",
    shape=_random_shape,
    random=True,
)
op(
    "tf.random.uniform",
    "shape: shape, minval: value = 0, maxval: value = None, dtype: dtype = 'float32', seed: static = None, "
    "name: ignore = None",
    _random_uniform,
    "tf.random.uniform((200, 500))",
    "tf.random.uniform((200, 500), minval=-2.0, maxval=3.0)",
    "tf.random.uniform((200, 500), minval=1, maxval=7, dtype=tf.int32)",
    "tf.random.uniform([tf.shape(x)[0], 4], maxval=0.5)",
    shape=_random_shape,
    random=True,
)
op(
    "random.normal",
    "shape: shape, mean: value = 0.0, stddev: value = 1.0, dtype: dtype = None, seed: static = None",
    _random_normal,
    "keras.random.normal((200, 500))",
    "keras.random.normal((200, 500), mean=-1.0, stddev=3.0)",
    "keras.random.normal(ops.shape(x), dtype='float16')",
    shape=_random_shape,
    random=True,
)
op(
    "random.uniform",
    "shape: shape, minval: value = 0.0, maxval: value = 1.0, dtype: dtype = None, seed: static = None",
    lambda a: _refuse(f"{a.what}: keras.random.uniform takes floating point dtypes only")
    if (a.value("dtype") or "float32") not in _FLOATS
    else _random_uniform(a),
    "keras.random.uniform((200, 500))",
    "keras.random.uniform((200, 500), minval=0.25, maxval=0.75, dtype='float64')",
    "keras.random.uniform((ops.shape(x)[0], 3), minval=-1.0)",
    shape=_random_shape,
    random=True,
)
op(
    "random.randint",
    "shape: shape, minval: static, maxval: static, dtype: dtype = 'int32', seed: static = None",
    lambda a: _refuse(f"{a.what}: integer dtypes only")
    if (a.value("dtype") or "int32") in _FLOATS
    else _random_uniform(a),
    "keras.random.randint((200, 500), 0, 10)",
    "keras.random.randint((200, 500), -3, 4, dtype='int64')",
    shape=_random_shape,
    random=True,
)
op(
    "backend.random_normal",
    "shape: shape, mean: value = 0.0, stddev: value = 1.0, dtype: dtype = None, seed: static = None",
    _random_normal,
    "K.random_normal((200, 500), stddev=0.1)",
    shape=_random_shape,
    random=True,
)
op(
    "backend.random_uniform",
    "shape: shape, minval: value = 0.0, maxval: value = 1.0, dtype: dtype = None, seed: static = None",
    _random_uniform,
    "K.random_uniform((200, 500), minval=-0.5, maxval=0.5)",
    shape=_random_shape,
    random=True,
)


# keras.backend (Keras 2's functions; tf.keras.backend under Keras 3)
_K_REDUCE = "x, axis: axes = None, keepdims: flag = False"
for _name, _fn, _sample in (
    ("abs", "torch.abs", "K.abs(x)"),
    ("exp", "torch.exp", "K.exp(x)"),
    ("log", "torch.log", "K.log(p)"),
    ("square", "torch.square", "K.square(x)"),
    ("sin", "torch.sin", "K.sin(x)"),
    ("cos", "torch.cos", "K.cos(x)"),
    ("tanh", "torch.tanh", "K.tanh(x)"),
    ("sigmoid", "torch.sigmoid", "K.sigmoid(x)"),
    ("sign", "torch.sign", "K.sign(x)"),
    ("round", "torch.round", "K.round(x * 3.0)"),
    ("softplus", "F.softplus", "K.softplus(x)"),
    ("softsign", "F.softsign", "K.softsign(x)"),
    ("stop_gradient", "{x}.detach()", "K.stop_gradient(x)"),
    ("cast_to_floatx", "{x}.to(torch.float32)", "K.cast_to_floatx(i)"),
):
    _x = "variables" if _name == "stop_gradient" else "x"
    unary(f"backend.{_name}", _fn.replace("{x}", "{%s}" % _x), _sample, x=_x, name=False)
unary("backend.sqrt", "torch.sqrt(torch.clamp({x}, min=0.0))", "K.sqrt(x)", name=False)
op(
    "backend.relu",
    "x, alpha: static = 0.0, max_value: static = None, threshold: static = 0.0",
    _k_relu,
    "K.relu(x)",
    "K.relu(x * 8.0, max_value=6)",
    "K.relu(x, max_value=0.5)",
    "K.relu(x, alpha=0.1)",
    shape=same,
    elementwise=True,
)
op(
    "backend.elu",
    "x, alpha: static = 1.0",
    "F.elu({x}, {alpha})",
    "K.elu(x)",
    "K.elu(x, 0.5)",
    shape=same,
    elementwise=True,
)
unary("backend.hard_sigmoid", "torch.clamp(0.2 * {x} + 0.5, 0.0, 1.0)", "K.hard_sigmoid(x * 4.0)", name=False)
op(
    "backend.softmax",
    "x, axis: axis = -1",
    _softmax("torch.softmax", "x"),
    "K.softmax(x)",
    "K.softmax(x, axis=1)",
    shape=same,
)
op(
    "backend.l2_normalize",
    "x, axis: axes = None",
    _l2_normalize("x", True),
    "K.l2_normalize(x, axis=-1)",
    "K.l2_normalize(x)",
    shape=same,
)
op(
    "backend.sum",
    _K_REDUCE,
    _reduce("torch.sum"),
    "K.sum(x, axis=-1)",
    "K.sum(x, axis=1, keepdims=True)",
    "K.sum(x)",
    shape=reduced(),
)
op(
    "backend.mean",
    _K_REDUCE,
    _k_mean("torch.mean"),
    "K.mean(x, axis=-1)",
    "K.mean(x, axis=[1, 2], keepdims=True)",
    "K.mean(x)",
    "K.mean(x > 0, axis=1)",
    shape=reduced(),
)
op(
    "backend.max",
    _K_REDUCE,
    _reduce("torch.amax"),
    "K.max(x, axis=1)",
    "K.max(x, axis=-1, keepdims=True)",
    shape=reduced(),
)
op("backend.min", _K_REDUCE, _reduce("torch.amin"), "K.min(x, axis=0)", "K.min(x)", shape=reduced())
op("backend.prod", _K_REDUCE, _reduce("torch.prod", single_axis=True), "K.prod(p, axis=-1)", shape=reduced())
op("backend.std", _K_REDUCE, _k_mean("torch.std", ", correction=0"), "K.std(x, axis=-1)", "K.std(x)", shape=reduced())
op("backend.var", _K_REDUCE, _k_mean("torch.var", ", correction=0"), "K.var(x, axis=1, keepdims=True)", shape=reduced())
op("backend.any", _K_REDUCE, _reduce("torch.any"), "K.any(c, axis=-1)", shape=reduced(), dtype="bool")
op("backend.all", _K_REDUCE, _reduce("torch.all"), "K.all(c, axis=1, keepdims=True)", shape=reduced(), dtype="bool")
op(
    "backend.argmax",
    "x, axis: axis = -1",
    _argmax("torch.argmax", "x", False, None),
    "K.argmax(x)",
    "K.argmax(x, axis=1)",
    shape=_arg_reduced("x", False),
)
op(
    "backend.argmin",
    "x, axis: axis = -1",
    _argmax("torch.argmin", "x", False, None),
    "K.argmin(x, axis=0)",
    shape=_arg_reduced("x", False),
)
op("backend.cumsum", "x, axis: axis = 0", "torch.cumsum({x}, dim={axis})", "K.cumsum(x, axis=1)", shape=same)
op("backend.cumprod", "x, axis: axis = 0", "torch.cumprod({x}, dim={axis})", "K.cumprod(p)", shape=same)
binary(
    "backend.maximum",
    _maximum("torch.maximum", "min"),
    "K.maximum(x, y)",
    "K.maximum(x, 0.0)",
    params="x: value, y: value",
    name=False,
)
binary("backend.minimum", _maximum("torch.minimum", "max"), "K.minimum(x, y)", params="x: value, y: value", name=False)
binary("backend.pow", "torch.pow({x}, {a})", "K.pow(p, 3)", "K.pow(p, 0.5)", params="x, a: value", name=False)
for _name, _fn in (
    ("equal", "eq"),
    ("not_equal", "ne"),
    ("greater", "gt"),
    ("greater_equal", "ge"),
    ("less", "lt"),
    ("less_equal", "le"),
):
    binary(
        f"backend.{_name}",
        f"torch.{_fn}({{x}}, {{y}})",
        f"K.{_name}(x, y)",
        f"K.{_name}(i, 1)",
        params="x, y: value",
        name=False,
        dtype="bool",
    )
op(
    "backend.clip",
    "x, min_value: value, max_value: value",
    _k_clip,
    "K.clip(x, 0.0, 1.0)",
    "K.clip(x, 0.5, 0.1)",
    "K.clip(x, None, 0.2)",
    "K.clip(x, -0.1, None)",
    "K.clip(x, y, p)",
    shape=same,
    elementwise=True,
)
op(
    "backend.switch",
    "condition, then_expression, else_expression",
    _switch,
    "K.switch(x > 0, x, y)",
    "K.switch(c, x * 2.0, -x)",
    shape=broadcast,
    elementwise=True,
)
op(
    "backend.cast",
    "x: value, dtype: dtype",
    _cast("x", "dtype"),
    "K.cast(x > 0, 'float32')",
    "K.cast(x * 4.0, K.floatx())",
    "K.cast(x * 4.0, 'int64')",
    shape=same,
    elementwise=True,
)
op(
    "backend.concatenate",
    "tensors: tensors, axis: axis = -1",
    "torch.cat({tensors}, dim={axis})",
    "K.concatenate([x, y])",
    "K.concatenate([x, y], axis=1)",
    shape=_concat_shape("tensors", "axis", False),
)
op(
    "backend.stack",
    "x: tensors, axis: axis = 0",
    "torch.stack({x}, dim={axis})",
    "K.stack([x, y], axis=1)",
    shape=_concat_shape("x", "axis", True),
)
op(
    "backend.expand_dims",
    "x, axis: axis = -1",
    "torch.unsqueeze({x}, {axis})",
    "K.expand_dims(x)",
    "K.expand_dims(x, 1)",
    shape=_expanded("x", "axis"),
)
op(
    "backend.squeeze",
    "x, axis: axis",
    _squeeze("x", "axis"),
    "K.squeeze(x[:, :1], 1)",
    "K.squeeze(x[..., :1], axis=-1)",
    shape=_squeezed("x", "axis"),
)
op(
    "backend.reshape",
    "x, shape: shape",
    "torch.reshape({x}, {shape})",
    "K.reshape(x, (-1, 4))",
    "K.reshape(x, (K.shape(x)[0], 12))",
    shape=_reshape_shape("x", "shape"),
)
op(
    "backend.permute_dimensions",
    "x, pattern: ints",
    _transpose("x", "pattern"),
    "K.permute_dimensions(x, (0, 2, 1))",
    shape=_permuted("x", "pattern"),
)
op("backend.transpose", "x", _transpose("x", None), "K.transpose(m)", "K.transpose(x)", shape=_permuted("x", None))
op(
    "backend.tile",
    "x, n: shape",
    "torch.tile({x}, {n})",
    "K.tile(x, [1, 1, 2])",
    "K.tile(x, (2, 1, 1))",
    shape=_tiled("x", "n"),
)
op("backend.repeat", "x, n: static", _repeat_rows, "K.repeat(x[:, 0], 3)", shape=_repeat_rows_shape)
op(
    "backend.repeat_elements",
    "x, rep: static, axis: axis",
    _repeat_interleave("x", "rep", "axis"),
    "K.repeat_elements(x, 2, axis=1)",
    "K.repeat_elements(x, 3, -1)",
    shape=_repeated("x", "rep", "axis"),
)
op(
    "backend.flatten",
    "x",
    "torch.reshape({x}, (-1,))",
    "K.flatten(x)",
    shape=lambda a: (_dim_product(*a.shape("x")),),
)
op(
    "backend.batch_flatten",
    "x",
    "torch.flatten({x}, 1)",
    "K.batch_flatten(x)",
    shape=lambda a: a.shape("x")[:1] + (_dim_product(*a.shape("x")[1:]),),
)
op(
    "backend.gather",
    "reference, indices: index",
    "{reference}[{indices}]",
    "K.gather(m, i)",
    "K.gather(x, [1, 0])",
    shape=_gathered("reference", "indices"),
)
op(
    "backend.one_hot",
    "indices, num_classes: static",
    _one_hot("indices", "num_classes", None),
    "K.one_hot(i, 4)",
    shape=_one_hot_shape("indices", "num_classes"),
)
op(
    "backend.reverse",
    "x, axes: axes",
    _flip("x", "axes", False),
    "K.reverse(x, 1)",
    "K.reverse(x, axes=[0, 2])",
    shape=same,
)
op("backend.dot", "x, y", _dot("x", "y"), "K.dot(x, m)", "K.dot(K.transpose(m), m)", shape=_matmul("x", "y"))
op(
    "backend.zeros_like",
    "x, dtype: dtype = None, name: ignore = None",
    _like("torch.zeros_like", "x"),
    "K.zeros_like(x)",
    shape=same,
    elementwise=True,
)
op(
    "backend.ones_like",
    "x, dtype: dtype = None, name: ignore = None",
    _like("torch.ones_like", "x"),
    "K.ones_like(x)",
    shape=same,
    elementwise=True,
)
op(
    "backend.zeros",
    "shape: shape, dtype: dtype = None, name: ignore = None",
    _filled("torch.zeros", "shape", "dtype"),
    "K.zeros((2, 3))",
    shape=_from_shape("shape"),
)
op(
    "backend.ones",
    "shape: shape, dtype: dtype = None, name: ignore = None",
    _filled("torch.ones", "shape", "dtype"),
    "K.ones((3,)) * v[:3]",
    shape=_from_shape("shape"),
)
op(
    "backend.eye",
    "size: value, dtype: dtype = None, name: ignore = None",
    _eye("size", None, "dtype"),
    "K.eye(3)",
    shape=lambda a: (a.value("size"), a.value("size")),
)
op(
    "backend.constant",
    "value: static, dtype: dtype = None, shape: static = None, name: ignore = None",
    _constant("value", "dtype", "float32"),
    "K.constant([1, 2, 3, 4]) * x",
    "K.constant(0.5)",
    shape=lambda a: _constant_shape(a.value("value")),
)
op(
    "backend.arange",
    "start: value, stop: value = None, step: value = 1, dtype: static = 'int32'",
    _arange("start", "stop", "step", "dtype"),
    "K.arange(4)",
    "K.arange(1, 7, 2, dtype='float32')",
    shape=_range_shape("start", "stop", "step"),
)
op("backend.epsilon", "", _number(1e-07), "K.epsilon()", "x + K.epsilon()")
op("backend.floatx", "", _floatx, "K.cast(i, K.floatx())")
op("backend.int_shape", "x", _shape("x", literal=True), "K.int_shape(x)[-1]", "K.int_shape(x)[1] * 2")
op("backend.shape", "x", _shape("x"), "K.shape(x)[0]", "K.shape(x)[-1] + 1")
op("backend.ndim", "x", _rank("x"), "K.ndim(x)")

op(
    "backend.batch_dot",
    "x, y, axes: static = None",
    _batch_dot,
    "K.batch_dot(x, tf.transpose(y, (0, 2, 1)))",
    "K.batch_dot(x, y, axes=[2, 2])",
    "K.batch_dot(x, y, axes=1)",
    "K.batch_dot(x[:, 0], y[:, 1])",
    shape=_batch_dot_shape,
)

# keras.ops (Keras 3)
for _name, _fn, _sample in (
    ("abs", "torch.abs", "ops.abs(x)"),
    ("absolute", "torch.abs", "ops.absolute(x)"),
    ("exp", "torch.exp", "ops.exp(x)"),
    ("log", "torch.log", "ops.log(p)"),
    ("log1p", "torch.log1p", "ops.log1p(p)"),
    ("expm1", "torch.expm1", "ops.expm1(x)"),
    ("sqrt", "torch.sqrt", "ops.sqrt(p)"),
    ("rsqrt", "torch.rsqrt", "ops.rsqrt(p)"),
    ("square", "torch.square", "ops.square(x)"),
    ("sin", "torch.sin", "ops.sin(x)"),
    ("cos", "torch.cos", "ops.cos(x)"),
    ("tan", "torch.tan", "ops.tan(u)"),
    ("arcsin", "torch.asin", "ops.arcsin(u)"),
    ("arccos", "torch.acos", "ops.arccos(u)"),
    ("arctan", "torch.atan", "ops.arctan(x)"),
    ("sinh", "torch.sinh", "ops.sinh(x)"),
    ("cosh", "torch.cosh", "ops.cosh(x)"),
    ("arctanh", "torch.atanh", "ops.arctanh(u)"),
    ("tanh", "torch.tanh", "ops.tanh(x)"),
    ("sigmoid", "torch.sigmoid", "ops.sigmoid(x)"),
    ("sign", "torch.sign", "ops.sign(x)"),
    ("floor", "torch.floor", "ops.floor(x * 3.0)"),
    ("ceil", "torch.ceil", "ops.ceil(x * 3.0)"),
    ("negative", "torch.neg", "ops.negative(x)"),
    ("reciprocal", "torch.reciprocal", "ops.reciprocal(p)"),
    ("erf", "torch.erf", "ops.erf(x)"),
    ("relu", "torch.relu", "ops.relu(x)"),
    ("relu6", "F.relu6", "ops.relu6(x * 5.0)"),
    ("selu", "F.selu", "ops.selu(x)"),
    ("silu", "F.silu", "ops.silu(x)"),
    ("swish", "F.silu", "ops.swish(x)"),
    ("softplus", "F.softplus", "ops.softplus(x)"),
    ("softsign", "F.softsign", "ops.softsign(x)"),
    ("log_sigmoid", "F.logsigmoid", "ops.log_sigmoid(x)"),
    ("hard_sigmoid", "F.hardsigmoid", "ops.hard_sigmoid(x * 4.0)"),
    ("hard_silu", "F.hardswish", "ops.hard_silu(x * 4.0)"),
    ("hard_swish", "F.hardswish", "ops.hard_swish(x * 4.0)"),
    ("stop_gradient", "{variable}.detach()", "ops.stop_gradient(x)"),
):
    unary(f"ops.{_name}", _fn, _sample, x="variable" if _name == "stop_gradient" else "x", name=False)
for _name, _fn, _sample in (
    ("isnan", "torch.isnan", "ops.isnan(ops.log(x))"),
    ("isinf", "torch.isinf", "ops.isinf(1.0 / (x * 0.0))"),
    ("isfinite", "torch.isfinite", "ops.isfinite(ops.log(x))"),
    ("logical_not", "torch.logical_not", "ops.logical_not(c)"),
):
    unary(f"ops.{_name}", _fn, _sample, name=False, dtype="bool")
op(
    "ops.round",
    "x, decimals: default = 0",
    "torch.round({x})",
    "ops.round(x * 3.0)",
    "ops.round(tf.constant([0.5, 1.5, 2.5, -0.5]))",
    shape=same,
    elementwise=True,
)
op(
    "ops.elu",
    "x, alpha: static = 1.0",
    "F.elu({x}, {alpha})",
    "ops.elu(x)",
    "ops.elu(x, alpha=0.5)",
    shape=same,
    elementwise=True,
)
op(
    "ops.gelu",
    "x, approximate: static = True",
    _gelu("x"),
    "ops.gelu(x)",
    "ops.gelu(x, approximate=False)",
    shape=same,
    elementwise=True,
)
op(
    "ops.leaky_relu",
    "x, negative_slope: static = 0.2",
    _leaky_relu("x", "negative_slope"),
    "ops.leaky_relu(x)",
    "ops.leaky_relu(x, negative_slope=0.05)",
    shape=same,
    elementwise=True,
)
op(
    "ops.softmax",
    "x, axis: axis = -1",
    _softmax("torch.softmax", "x"),
    "ops.softmax(x)",
    "ops.softmax(x, axis=1)",
    shape=same,
)
op(
    "ops.log_softmax",
    "x, axis: axis = -1",
    _softmax("torch.log_softmax", "x"),
    "ops.log_softmax(x, axis=-2)",
    shape=same,
)
op(
    "ops.normalize",
    "x, axis: axes = -1, order: static = 2, epsilon: static = None",
    _l2_normalize("x", False),
    "ops.normalize(x)",
    "ops.normalize(x * 1e-8, axis=1)",
    "ops.normalize(x, axis=None)",
    shape=same,
)
binary("ops.add", "{x1} + {x2}", "ops.add(x, y)", "ops.add(x, 2.0)", params="x1, x2", name=False)
binary("ops.subtract", "{x1} - {x2}", "ops.subtract(x, y)", params="x1, x2", name=False)
binary("ops.multiply", "{x1} * {x2}", "ops.multiply(x, y)", "ops.multiply(x, v)", params="x1, x2", name=False)
binary(
    "ops.divide ops.true_divide",
    "{x1} / {x2}",
    "ops.divide(x, p)",
    "ops.true_divide(x, 2.0)",
    params="x1, x2",
    name=False,
)
binary("ops.floor_divide", "{x1} // {x2}", "ops.floor_divide(x * 5.0, 2.0)", params="x1, x2", name=False)
binary("ops.mod", "{x1} % {x2}", "ops.mod(x * 5.0, 2.0)", params="x1, x2", name=False)
binary("ops.power", "torch.pow({x1}, {x2})", "ops.power(p, 2.0)", "ops.power(p, y)", params="x1, x2: value", name=False)
binary(
    "ops.maximum",
    _maximum("torch.maximum", "min", "x1", "x2"),
    "ops.maximum(x, y)",
    "ops.maximum(x, 0.0)",
    params="x1: value, x2: value",
    name=False,
)
binary(
    "ops.minimum",
    _maximum("torch.minimum", "max", "x1", "x2"),
    "ops.minimum(x, y)",
    "ops.minimum(0.2, x)",
    params="x1: value, x2: value",
    name=False,
)
for _name, _fn in (
    ("equal", "eq"),
    ("not_equal", "ne"),
    ("greater", "gt"),
    ("greater_equal", "ge"),
    ("less", "lt"),
    ("less_equal", "le"),
):
    binary(
        f"ops.{_name}",
        f"torch.{_fn}({{x1}}, {{x2}})",
        f"ops.{_name}(x, y)",
        f"ops.{_name}(i, 2)",
        params="x1, x2: value",
        name=False,
        dtype="bool",
    )
for _name in ("logical_and", "logical_or", "logical_xor"):
    binary(
        f"ops.{_name}",
        f"torch.{_name}({{x1}}, {{x2}})",
        f"ops.{_name}(c, d)",
        params="x1, x2",
        name=False,
        dtype="bool",
    )
_O_REDUCE = "x, axis: axes = None, keepdims: flag = False"
op(
    "ops.mean",
    _O_REDUCE,
    _reduce("torch.mean"),
    "ops.mean(x, axis=-1)",
    "ops.mean(x, axis=1, keepdims=True)",
    "ops.mean(x)",
    shape=reduced(),
)
op("ops.sum", _O_REDUCE, _reduce("torch.sum"), "ops.sum(x, axis=(0, 2))", "ops.sum(x, keepdims=True)", shape=reduced())
op(
    "ops.max",
    _O_REDUCE + ", initial: default = None",
    _reduce("torch.amax"),
    "ops.max(x, axis=-1)",
    "ops.max(x, axis=1, keepdims=True)",
    "ops.max(x)",
    shape=reduced(),
)
op("ops.min", _O_REDUCE + ", initial: default = None", _reduce("torch.amin"), "ops.min(x, axis=0)", shape=reduced())
op(
    "ops.prod",
    _O_REDUCE + ", dtype: default = None",
    _reduce("torch.prod", single_axis=True),
    "ops.prod(p, axis=1)",
    shape=reduced(),
)
op(
    "ops.std",
    _O_REDUCE,
    _reduce("torch.std", extra=", correction=0"),
    "ops.std(x, axis=-1)",
    "ops.std(x)",
    shape=reduced(),
)
op(
    "ops.var",
    _O_REDUCE,
    _reduce("torch.var", extra=", correction=0"),
    "ops.var(x, axis=1, keepdims=True)",
    shape=reduced(),
)
op("ops.logsumexp", _O_REDUCE, _logsumexp("x"), "ops.logsumexp(x, axis=-1)", "ops.logsumexp(x)", shape=reduced())
op("ops.all", _O_REDUCE, _reduce("torch.all"), "ops.all(c, axis=1)", shape=reduced(), dtype="bool")
op(
    "ops.any",
    _O_REDUCE,
    _reduce("torch.any"),
    "ops.any(c, axis=-1, keepdims=True)",
    "ops.any(c)",
    shape=reduced(),
    dtype="bool",
)
op(
    "ops.argmax",
    "x, axis: axis = None, keepdims: flag = False",
    _argmax("torch.argmax", "x", True, "int32"),
    "ops.argmax(x, axis=-1)",
    "ops.argmax(x)",
    "ops.argmax(x, axis=1, keepdims=True)",
    "ops.argmax(x, keepdims=True)",
    shape=_arg_reduced("x", True),
)
op(
    "ops.argmin",
    "x, axis: axis = None, keepdims: flag = False",
    _argmax("torch.argmin", "x", True, "int32"),
    "ops.argmin(x, axis=0)",
    shape=_arg_reduced("x", True),
)
op(
    "ops.cumsum",
    "x, axis: axis = None, dtype: static = None",
    _cumulative("torch.cumsum", "x"),
    "ops.cumsum(x, axis=1)",
    "ops.cumsum(x)",
    shape=lambda a: a.shape("x") if a.value("axis") is not None else None,
)
op(
    "ops.cumprod",
    "x, axis: axis = None, dtype: static = None",
    _cumulative("torch.cumprod", "x"),
    "ops.cumprod(p, axis=-1)",
    shape=lambda a: a.shape("x") if a.value("axis") is not None else None,
)
op(
    "ops.norm",
    "x, ord: static = None, axis: axes = None, keepdims: flag = False",
    _norm("x", "ord", None),
    "ops.norm(x, axis=-1)",
    "ops.norm(m)",
    "ops.norm(x, ord=1, axis=1, keepdims=True)",
    shape=reduced(),
)
op(
    "ops.clip",
    "x, x_min: value, x_max: value",
    _clamp("x", "x_min", "x_max"),
    "ops.clip(x, -0.5, 0.5)",
    shape=same,
    elementwise=True,
)
op(
    "ops.where",
    "condition, x1: value = None, x2: value = None",
    _where("condition", "x1", "x2"),
    "ops.where(x > 0, x, 0.0)",
    "ops.where(c, x, y)",
    shape=broadcast,
    elementwise=True,
)
op(
    "ops.cast",
    "x: value, dtype: dtype",
    _cast("x", "dtype"),
    "ops.cast(x * 3.0, 'int32')",
    "ops.cast(c, 'float32')",
    shape=same,
    elementwise=True,
)
op(
    "ops.convert_to_tensor",
    "x: value, dtype: dtype = None, sparse: default = None, ragged: default = None",
    _to_tensor,
    "ops.convert_to_tensor(x)",
    "ops.convert_to_tensor([1.0, 2.0, 3.0, 4.0]) * x",
    shape=same,
)
op(
    "ops.reshape",
    "x, newshape: shape",
    "torch.reshape({x}, {newshape})",
    "ops.reshape(x, (-1, 3, 4))",
    "ops.reshape(x, (ops.shape(x)[0], 12))",
    shape=_reshape_shape("x", "newshape"),
)
op(
    "ops.transpose",
    "x, axes: ints = None",
    _transpose("x", "axes"),
    "ops.transpose(x, axes=(0, 2, 1))",
    "ops.transpose(m)",
    shape=_permuted("x", "axes"),
)
op(
    "ops.expand_dims",
    "x, axis: axis",
    "torch.unsqueeze({x}, {axis})",
    "ops.expand_dims(x, -1)",
    "ops.expand_dims(x, 0)",
    shape=_expanded("x", "axis"),
)
op(
    "ops.squeeze",
    "x, axis: axes = None",
    _squeeze("x", "axis"),
    "ops.squeeze(x[:, :1], axis=1)",
    "ops.squeeze(x[:, :1])",
    shape=_squeezed("x", "axis"),
)
op(
    "ops.concatenate",
    "xs: tensors, axis: axis = 0",
    "torch.cat({xs}, dim={axis})",
    "ops.concatenate([x, y], axis=-1)",
    "ops.concatenate([x, y])",
    shape=_concat_shape("xs", "axis", False),
)
op(
    "ops.stack",
    "x: tensors, axis: axis = 0",
    "torch.stack({x}, dim={axis})",
    "ops.stack([x, y], axis=1)",
    shape=_concat_shape("x", "axis", True),
)
op(
    "ops.split",
    "x, indices_or_sections: static, axis: axis = 0",
    _chunks("x", "indices_or_sections", "axis", True),
    "ops.split(x, 2, axis=-1)[0]",
    "ops.split(x, [1], axis=1)[1]",
)
op(
    "ops.tile",
    "x, repeats: shape",
    "torch.tile({x}, {repeats})",
    "ops.tile(x, (1, 2, 1))",
    shape=_tiled("x", "repeats"),
)
op(
    "ops.repeat",
    "x, repeats: static, axis: axis = None",
    _repeat_interleave("x", "repeats", "axis"),
    "ops.repeat(x, 2, axis=-1)",
    "ops.repeat(x, 2)",
    shape=_repeated("x", "repeats", "axis"),
)
op(
    "ops.take",
    "x, indices: index, axis: axis = None",
    _gather("x", "indices", flat=True),
    "ops.take(x, [0, 2], axis=1)",
    "ops.take(x, i)",
    "ops.take(x, i, axis=-1)",
    shape=_gathered("x", "indices", flat=True),
)
op("ops.flip", "x, axis: axes = None", _flip("x", "axis", True), "ops.flip(x, axis=1)", "ops.flip(x)", shape=same)
op("ops.sort", "x, axis: axis = -1", _sort("x", True, None), "ops.sort(x)", "ops.sort(x, axis=0)", shape=same)
op(
    "ops.argsort",
    "x, axis: axis = -1",
    _sort("x", False, None, "int32"),
    "ops.argsort(x)",
    "ops.argsort(x, axis=1)",
    shape=same,
)
op(
    "ops.pad",
    "x, pad_width: static, mode: static = 'constant', constant_values: static = None",
    _pad("x", "pad_width", "constant_values", "mode"),
    "ops.pad(x, [[0, 0], [2, 0], [0, 1]])",
    "ops.pad(x, ((0, 0), (0, 0), (1, 1)), constant_values=-1.0)",
    shape=_padded("x", "pad_width"),
)
op(
    "ops.one_hot",
    "x, num_classes: static, axis: static = -1, dtype: dtype = None, sparse: static = False",
    _one_hot("x", "num_classes", "dtype"),
    "ops.one_hot(i, 4)",
    "ops.one_hot(i, 6, dtype='int32')",
    shape=_one_hot_shape("x", "num_classes"),
)
op(
    "ops.matmul",
    "x1, x2",
    "torch.matmul({x1}, {x2})",
    "ops.matmul(x, m)",
    "ops.matmul(x, v)",
    shape=_matmul("x1", "x2"),
)
op("ops.dot", "x1, x2", _dot("x1", "x2"), "ops.dot(x, m)", shape=_matmul("x1", "x2"))
op(
    "ops.einsum",
    "subscripts: static, *operands",
    "torch.einsum({subscripts}, *{operands})",
    "ops.einsum('bij,bkj->bik', x, y)",
    shape=_einsum_shape("subscripts", "operands"),
)
op(
    "ops.tensordot",
    "x1, x2, axes: static = 2",
    _tensordot("x1", "x2", "axes"),
    "ops.tensordot(x, ops.reshape(y, (3, 4, 2)))",
    "ops.tensordot(x, m, axes=1)",
    shape=_tensordot_shape("x1", "x2", "axes"),
)
op("ops.shape", "x", _shape("x"), "ops.shape(x)[-1]", "ops.shape(x)[0] * 2")
op(
    "ops.zeros",
    "shape: shape, dtype: dtype = None",
    _filled("torch.zeros", "shape", "dtype"),
    "ops.zeros((2, 3))",
    "ops.zeros((2,), dtype='int32')",
    shape=_from_shape("shape"),
)
op(
    "ops.ones",
    "shape: shape, dtype: dtype = None",
    _filled("torch.ones", "shape", "dtype"),
    "ops.ones((4,)) * x",
    shape=_from_shape("shape"),
)
op(
    "ops.zeros_like",
    "x, dtype: dtype = None",
    _like("torch.zeros_like", "x"),
    "ops.zeros_like(x)",
    shape=same,
    elementwise=True,
)
op(
    "ops.ones_like",
    "x, dtype: dtype = None",
    _like("torch.ones_like", "x"),
    "ops.ones_like(x, dtype='int32')",
    shape=same,
    elementwise=True,
)
op(
    "ops.full",
    "shape: shape, fill_value: value, dtype: dtype = None",
    _full("shape", "fill_value", "dtype", "float32"),
    "ops.full((2, 3), 0.5)",
    "ops.full((2,), 3)",
    shape=_from_shape("shape"),
)
op(
    "ops.full_like",
    "x, fill_value: value, dtype: dtype = None",
    lambda a: "torch.full_like({x}, {fill_value}"
    + (f", dtype={torch_dtype(a.value('dtype'))})" if a.value("dtype") else ")"),
    "ops.full_like(x, 2.0)",
    shape=same,
    elementwise=True,
)
op(
    "ops.arange",
    "start: value, stop: value = None, step: value = None, dtype: dtype = None",
    _arange("start", "stop", "step", "dtype", None),
    "ops.arange(4)",
    "ops.arange(1, 8, 3)",
    "ops.arange(0.0, 1.0, 0.5)",
    shape=_range_shape("start", "stop", "step"),
)
op(
    "ops.eye",
    "N: value, M: value = None, k: static = 0, dtype: dtype = None",
    _eye("N", "M", "dtype"),
    "ops.eye(3)",
    "ops.eye(2, 4)",
    shape=lambda a: (a.value("N"), a.value("M") or a.value("N")),
)

op(
    "ops.slice",
    "inputs, start_indices: static, shape: static",
    _slice("inputs", "start_indices", "shape"),
    "ops.slice(x, (0, 1, 1), (2, 2, 3))",
    shape=_sliced("inputs", "start_indices", "shape"),
)
op(
    "ops.broadcast_to",
    "x, shape: shape",
    "torch.broadcast_to({x}, {shape})",
    "ops.broadcast_to(v, (3, 4))",
    shape=_from_shape("shape"),
)
op(
    "ops.roll",
    "x, shift: static, axis: static = None",
    lambda a: "torch.roll({x}, {shift})" if a.value("axis") is None else "torch.roll({x}, {shift}, {axis})",
    "ops.roll(x, 2, axis=1)",
    "ops.roll(x, 3)",
    shape=same,
)
op(
    "ops.moveaxis",
    "x, source: ints, destination: ints",
    "torch.movedim({x}, {source}, {destination})",
    "ops.moveaxis(x, -1, 1)",
    "ops.moveaxis(x, [0, 1], [2, 0])",
    shape=_moved("x", "source", "destination"),
)


def _extract_patches(a: Args) -> str:
    """ops.image.extract_patches on channels-last (N, H, W, C) images. Keras convolves with an
    identity kernel, so a patch's values come in (row, column, channel) order: Tensor.unfold takes
    the same windows ((N, H', W', C, h, w)), the channels then move last before the flatten."""
    if a.rank("images") != 4:
        raise Refused(f"{a.what}: only a batch of images (rank 4) is translated")
    size, strides = a.value("size"), a.value("strides")

    def pair(value, what):
        pair = (value, value) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else ()
        if len(pair) != 2 or not all(_is_int(v) and v > 0 for v in pair):
            raise Refused(f"{a.what}: {what} must be one int or two (3-D patches are not translated)")
        return pair

    (h, w), (sh, sw) = pair(size, "size"), pair(strides or size, "strides")
    # One int size keeps its code (`self.patch_size`) for both axes and for the strides it defaults to.
    written = ast.unparse(a["size"].node) if isinstance(size, int) and a["size"].kind == NUMBER else None
    sizes = [written, written] if written is not None else [str(h), str(w)]
    steps = [str(sh), str(sw)] if strides else sizes
    return (
        f"{{images}}.unfold(1, {sizes[0]}, {steps[0]}).unfold(2, {sizes[1]}, {steps[1]})"
        ".permute(0, 1, 2, 4, 5, 3).flatten(3)"
    )


def _patches_shape(a: Args) -> tuple | None:
    n, height, width, channels = a.shape("images")
    size, strides = a.value("size"), a.value("strides")
    (h, w) = (size, size) if isinstance(size, int) else size
    (sh, sw) = (h, w) if not strides else (strides, strides) if isinstance(strides, int) else strides
    rows = (height - h) // sh + 1 if _is_int(height) else None
    columns = (width - w) // sw + 1 if _is_int(width) else None
    return (n, rows, columns, h * w * channels if _is_int(channels) else None)


op(
    "ops.image.extract_patches",
    "images, size: static, strides: static = None, dilation_rate: default = 1, padding: default = 'valid', "
    "data_format: default = None",
    _extract_patches,
    "ops.image.extract_patches(g, 2)",
    "ops.image.extract_patches(g, (3, 2), strides=(1, 2))",
    "ops.image.extract_patches(g, 2, 1)",
    shape=_patches_shape,
)

# keras.activations (Keras 3 signatures)
op(
    "activations.relu",
    "x, negative_slope: static = 0.0, max_value: static = None, threshold: static = 0.0",
    _activation_relu,
    "keras.activations.relu(x)",
    "keras.activations.relu(x * 8.0, max_value=6.0)",
    shape=same,
    elementwise=True,
)
for _name, _fn in (
    ("sigmoid", "torch.sigmoid"),
    ("tanh", "torch.tanh"),
    ("selu", "F.selu"),
    ("softplus", "F.softplus"),
    ("softsign", "F.softsign"),
    ("swish", "F.silu"),
    ("silu", "F.silu"),
    ("relu6", "F.relu6"),
    ("exponential", "torch.exp"),
    ("linear", "{x}"),
    ("mish", "F.mish"),
    ("hard_sigmoid", "F.hardsigmoid"),
    ("hard_silu", "F.hardswish"),
):
    unary(f"activations.{_name}", _fn, f"keras.activations.{_name}(x * 2.0)", name=False)
op(
    "activations.elu",
    "x, alpha: static = 1.0",
    "F.elu({x}, {alpha})",
    "keras.activations.elu(x, alpha=0.3)",
    shape=same,
    elementwise=True,
)
op(
    "activations.gelu",
    "x, approximate: static = False",
    _gelu("x"),
    "keras.activations.gelu(x)",
    "keras.activations.gelu(x, approximate=True)",
    shape=same,
    elementwise=True,
)
op(
    "activations.leaky_relu",
    "x, negative_slope: static = 0.2",
    _leaky_relu("x", "negative_slope"),
    "keras.activations.leaky_relu(x)",
    shape=same,
    elementwise=True,
)
op(
    "activations.softmax",
    "x, axis: axis = -1",
    _softmax("torch.softmax", "x"),
    "keras.activations.softmax(x)",
    "keras.activations.softmax(x, axis=1)",
    shape=same,
)
op(
    "activations.log_softmax",
    "x, axis: axis = -1",
    _softmax("torch.log_softmax", "x"),
    "keras.activations.log_softmax(x)",
    shape=same,
)
