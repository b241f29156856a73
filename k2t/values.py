"""Static values of argument expressions, without executing anything.

`convert` never runs user code, but shape inference needs `Dense(num_classes)` to know that
num_classes is 10. A tiny evaluator folds literals, names bound to literals and simple arithmetic;
anything else is UNKNOWN. Integers that came from a name keep it (NamedInt), so the output can say
nn.Linear(128, num_classes) rather than a bare 10.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Callable

import libcst as cst


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()


class NamedInt(int):
    """An int that remembers the expression it was written as (for readable output)."""

    code: str

    def __new__(cls, value: int, code: str):
        obj = super().__new__(cls, value)
        obj.code = code
        return obj


class Symbol:
    """A size known only at run time (x_train.shape[1]), kept as the expression computing it."""

    def __init__(self, code: str):
        self.code = code

    def __repr__(self) -> str:
        return self.code

    # The same expression is the same size (`units` of a Dense and the `units` it is added to).
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Symbol) and other.code == self.code

    def __hash__(self) -> int:
        return hash(self.code)


def dim_code(dim: Any) -> str:
    """Source text for a dimension: its name when it has one, else the number."""
    if dim is None:
        return "None"
    return getattr(dim, "code", None) or repr(int(dim))


_EMPTY = cst.Module([])


def code_of(node: cst.CSTNode) -> str:
    return _EMPTY.code_for_node(node)


@dataclass(frozen=True)
class Value:
    """One argument: its source text, its static value (or UNKNOWN) and the local names it reads."""

    code: str
    value: Any = UNKNOWN
    local_names: frozenset[str] = field(default_factory=frozenset)

    @property
    def known(self) -> bool:
        return self.value is not UNKNOWN

    @classmethod
    def literal(cls, value: Any) -> "Value":
        return cls(repr(value), value)


_BINARY = {
    cst.Add: operator.add,
    cst.Subtract: operator.sub,
    cst.Multiply: operator.mul,
    cst.Divide: operator.truediv,
    cst.FloorDivide: operator.floordiv,
    cst.Modulo: operator.mod,
    cst.Power: operator.pow,
}


_COMPARE = {
    cst.Equal: operator.eq,
    cst.NotEqual: operator.ne,
    cst.LessThan: operator.lt,
    cst.LessThanEqual: operator.le,
    cst.GreaterThan: operator.gt,
    cst.GreaterThanEqual: operator.ge,
    cst.Is: lambda a, b: a is b if b is None or a is None else a == b and type(a) is type(b),
    cst.IsNot: lambda a, b: a is not b if b is None or a is None else not (a == b and type(a) is type(b)),
    cst.In: lambda a, b: a in b,
    cst.NotIn: lambda a, b: a not in b,
}


def _product(values) -> Any:
    if not isinstance(values, (tuple, list)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise TypeError("not a static shape")
    result = 1
    for v in values:
        result *= v
    return result


# Python and numpy functions of static sizes (`np.prod(self.img_shape)`, `int(units / 2)`); the names
# are read as written, the usual aliases.
_PURE: dict[str, Callable[..., Any]] = {
    "np.prod": _product, "numpy.prod": _product, "math.prod": _product, "int": int, "len": len,
    "min": min, "max": max, "abs": abs, "round": round,
    # Iteration over static lists (of sizes, or of a graph's tensors: `for skip in reversed(skips)`).
    "reversed": lambda items: list(reversed(items)), "zip": lambda *lists: list(zip(*lists)),
    "enumerate": lambda items: list(enumerate(items)), "list": list, "tuple": tuple,
}


class Env:
    """Names with static values in one scope; `local` marks names bound in a function body."""

    def __init__(self, parent: "Env | None" = None, named_locals: bool = False):
        self.parent = parent
        self.named_locals = named_locals  # code translated line by line: its locals stay defined
        self.values: dict[str, Any] = {}
        self.local: set[str] = set()
        # A function's parameters keep their names in sizes (they can become constructor arguments);
        # its other locals and loop variables (one name, several values) are written as numbers.
        self.params: set[str] = set()
        self.anonymous: set[str] = set()
        # The module's Env: the static value of a call (`K.image_data_format()`), or UNKNOWN.
        self.call_value: Callable[[cst.Call], Any] | None = None
        # ... and of `x.shape` where x is a graph tensor of a model being read (its Keras shape).
        self.tensor_shape: Callable[[str], Any] | None = None

    def binder(self, name: str) -> "Env | None":
        """The scope that binds name (None: no scope here does)."""
        env: Env | None = self
        while env is not None and name not in env.values and name not in env.local:
            env = env.parent
        return env

    def named(self, name: str) -> bool:
        """Whether a size read from this name may be written as the name."""
        env = self.binder(name)
        if env is None or name in env.anonymous:
            return False
        return env.parent is None or env.named_locals or name in env.params

    def lookup(self, name: str) -> tuple[Any, bool]:
        if name in self.values:
            return self.values[name], self.parent is not None and name in self.local
        if name in self.local:
            return UNKNOWN, True
        if self.parent is not None:
            return self.parent.lookup(name)
        return UNKNOWN, False

    def bind(self, target: cst.BaseExpression, value: Any, is_local: bool = False) -> None:
        if isinstance(target, cst.Name):
            self.params.discard(target.value)  # a parameter rebound is an ordinary local
            if is_local:
                self.local.add(target.value)
            if value is UNKNOWN:
                self.values.pop(target.value, None)
            else:
                self.values[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            items = [e.value for e in target.elements]
            if isinstance(value, (tuple, list)) and len(value) == len(items):
                for item, v in zip(items, value):
                    self.bind(item, v, is_local)
            else:
                for item in items:
                    self.bind(item, UNKNOWN, is_local)


def _too_big(op, left, right) -> bool:
    """Folds that would take a long time or much memory (`10 ** 10 ** 9`, `[0] * 10 ** 9`): not static."""
    if op is operator.pow:
        return isinstance(right, (int, float)) and abs(right) > 64 or isinstance(left, (tuple, list, str))
    if op is operator.mul:
        for sequence, count in ((left, right), (right, left)):
            if isinstance(sequence, (tuple, list, str, bytes)) and isinstance(count, int) and count > 4096:
                return True
        return isinstance(left, int) and isinstance(right, int) and (left.bit_length() + right.bit_length()) > 4096
    return False


def evaluate(node: cst.BaseExpression, env: Env) -> Value:
    names: set[str] = set()
    unnamed: set[str] = set()
    value = _eval(node, env, names, unnamed)
    # `filters * 2` in a loop over filters: the code is the value (the name means several values).
    code = code_of(node) if not unnamed or value is UNKNOWN else repr(value)
    return Value(code, value, frozenset(names))


def evaluate_value(node: cst.BaseExpression, env: Env) -> Any:
    """evaluate(node, env).value, without writing out the expression's code."""
    return _eval(node, env, set())


def _eval(node: cst.BaseExpression, env: Env, local_names: set[str], unnamed: set[str] | None = None) -> Any:
    """The static value of node; names read are added to local_names (function locals that may be
    written as names) or to unnamed (names that must be written as their value)."""
    if unnamed is None:
        unnamed = set()
    if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary)):
        return node.evaluated_value
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        value = node.evaluated_value
        return value if isinstance(value, str) else UNKNOWN
    if isinstance(node, cst.Name):
        constants = {"True": True, "False": False, "None": None}
        if node.value in constants:
            return constants[node.value]
        value, is_local = env.lookup(node.value)
        named = env.named(node.value)
        if is_local and (named or (value is UNKNOWN and node.value not in env.binder(node.value).anonymous)):
            # A parameter, or a local computed at run time (`n = data.shape[1]`): the model is given it.
            local_names.add(node.value)
        if not named and value is not UNKNOWN:
            unnamed.add(node.value)
        if isinstance(value, int) and not isinstance(value, bool):
            return NamedInt(value, node.value if named else repr(int(value)))
        return value
    if isinstance(node, (cst.Tuple, cst.List)):
        items = []
        for element in node.elements:
            if isinstance(element, cst.StarredElement):
                inner = _eval(element.value, env, local_names, unnamed)
                if not isinstance(inner, (tuple, list)):
                    return UNKNOWN
                items.extend(inner)
                continue
            items.append(_eval(element.value, env, local_names, unnamed))
        if any(item is UNKNOWN for item in items):
            return UNKNOWN
        return tuple(items) if isinstance(node, cst.Tuple) else list(items)
    if isinstance(node, cst.UnaryOperation):
        operand = _eval(node.expression, env, local_names, unnamed)
        if isinstance(node.operator, cst.Not) and operand is not UNKNOWN:
            return not operand
        if operand is UNKNOWN or not isinstance(operand, (int, float)):
            return UNKNOWN
        if isinstance(node.operator, cst.Minus):
            return -operand
        if isinstance(node.operator, cst.Plus):
            return +operand
        return UNKNOWN
    if isinstance(node, cst.BinaryOperation):
        op = _BINARY.get(type(node.operator))
        inner: set[str] = set()
        left = _eval(node.left, env, local_names, inner)
        right = _eval(node.right, env, local_names, inner)
        unnamed |= inner
        if op is None or left is UNKNOWN or right is UNKNOWN or _too_big(op, left, right):
            return UNKNOWN
        try:
            result = op(left, right)
        except Exception:  # noqa: BLE001 - a failing fold is simply not static
            return UNKNOWN
        if isinstance(result, (tuple, list)) and len(result) > 64:
            return UNKNOWN
        if isinstance(result, int) and not isinstance(result, bool):
            return NamedInt(result, repr(int(result)) if inner else code_of(node))
        return result
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
        # `self.ratio`, where the class's __init__ makes it known (k2t/classes.py binds it).
        code = f"{node.value.value}.{node.attr.value}"
        value, _ = env.lookup(code)
        if value is UNKNOWN and node.attr.value == "shape":
            root = env
            while root.parent is not None:
                root = root.parent
            value = root.tensor_shape(node.value.value) if root.tensor_shape is not None else UNKNOWN
        if value is not UNKNOWN:
            unnamed.add(code)
        elif env.lookup(node.value.value)[1]:
            local_names.add(code)  # an attribute of a local object: a model cannot read it (lower.py says so)
        return value
    if isinstance(node, cst.Comparison):
        return _compare(node, env, local_names, unnamed)
    if isinstance(node, cst.IfExp):  # `1 if K.image_data_format() == "channels_first" else -1`
        test = _eval(node.test, env, local_names, unnamed)
        if test is UNKNOWN:
            return UNKNOWN
        return _eval(node.body if test else node.orelse, env, local_names, unnamed)
    if isinstance(node, cst.Call):
        root = env
        while root.parent is not None:
            root = root.parent
        value = root.call_value(node) if root.call_value is not None else UNKNOWN
        if value is not UNKNOWN:
            unnamed.add(code_of(node))  # written as its value: the output has no Keras to call
            return value
        # The names the call reads still count (`np.prod(data.shape)`: the model is given data).
        if not isinstance(node.func, cst.Name):
            _eval(node.func, env, local_names, unnamed)
        args = [_eval(a.value, env, local_names, unnamed) for a in node.args]
        pure = _PURE.get(code_of(node.func))
        if pure is None or any(a.keyword or a.star for a in node.args) or any(v is UNKNOWN for v in args):
            return UNKNOWN
        try:
            result = pure(*args)
        except Exception:  # noqa: BLE001 - a failing fold is simply not static
            return UNKNOWN
        return int(result) if isinstance(result, int) and not isinstance(result, bool) else result
    if isinstance(node, cst.BooleanOperation):
        left = _eval(node.left, env, local_names, unnamed)
        if left is UNKNOWN:
            return UNKNOWN
        if isinstance(node.operator, cst.And):
            return _eval(node.right, env, local_names, unnamed) if left else left
        return left if left else _eval(node.right, env, local_names, unnamed)
    if isinstance(node, cst.Subscript) and len(node.slice) == 1:
        base = _eval(node.value, env, local_names, unnamed)
        index = node.slice[0].slice
        if not isinstance(base, (tuple, list)):
            return UNKNOWN
        if isinstance(index, cst.Index):
            i = _eval(index.value, env, local_names, unnamed)
            if isinstance(i, int) and -len(base) <= i < len(base):
                return base[i]
            return UNKNOWN
        if isinstance(index, cst.Slice):
            parts = [
                None if part is None else _eval(part, env, local_names, unnamed)
                for part in (index.lower, index.upper, index.step)
            ]
            if any(p is UNKNOWN or (p is not None and not isinstance(p, int)) for p in parts):
                return UNKNOWN
            return base[slice(*parts)]
    return UNKNOWN


def _compare(node: cst.Comparison, env: Env, local_names: set[str], unnamed: set[str]) -> Any:
    """`num_classes == 2`, `pooling is None`, `0 < rate < 1`: known when every operand is."""
    left = _eval(node.left, env, local_names, unnamed)
    for target in node.comparisons:
        right = _eval(target.comparator, env, local_names, unnamed)
        op = _COMPARE.get(type(target.operator))
        if op is None or left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        try:
            if not op(left, right):
                return False
        except Exception:  # noqa: BLE001 - `1 in 2` is simply not static
            return UNKNOWN
        left = right
    return True
