"""The ops engine: rewrite an expression of TensorFlow / keras.backend / keras.ops calls into torch.

`translate_expression` walks a libcst expression: calls with an entry in the ops table
(rules/ops.py) are rendered from their templates, plain Python arithmetic, comparisons, subscripts
and literals are kept, names are kept. Any part without a faithful translation (a Keras/TF call with
no entry, an argument form the entry refuses, a call of unknown code on a tensor) raises
`Refused(reason)`: nothing is guessed. The result is an `Expr`: torch code (an ast node) with its
static shape where the table can derive it, and whether it is pointwise (independent of axis order).

`LambdaFunction` is a keras.layers.Lambda's function as the analysis reads it (a lambda, a
module-level `def f(x): return <expr>`, or a table function such as tf.nn.relu); the Lambda rule
(rules/layers/lambda_layer.py) translates it once the input shapes are known.
"""

from __future__ import annotations

import ast
import copy
import functools
import math
import operator
import re
from dataclasses import dataclass
from typing import Any

import libcst as cst

from k2t import cstwalk
from k2t.rules.ops import (
    BATCH,
    DTYPE,
    DTYPES,
    NUMBER,
    OBJECT,
    OMIT,
    OPS,
    REQUIRED,
    SEQ,
    TENSOR,
    Args,
    Expr,
    Op,
    Refused,
    broadcast_shapes,
    inferred_dtype,
    matmul_shape,
    static,
    torch_dtype,
)
from k2t.values import UNKNOWN, code_of

__all__ = ["Refused", "Expr", "translate_expression", "torch_code", "LambdaFunction", "lambda_function"]

_PLACEHOLDER = "__k2t_{}__"
_FIELD = re.compile(r"\{(\w+)(?:\[(\d+)\])?\}")
_ELLIPSIS = "ellipsis"

_BINARY = {
    cst.Add: (ast.Add, operator.add),
    cst.Subtract: (ast.Sub, operator.sub),
    cst.Multiply: (ast.Mult, operator.mul),
    cst.Divide: (ast.Div, operator.truediv),
    cst.FloorDivide: (ast.FloorDiv, operator.floordiv),
    cst.Modulo: (ast.Mod, operator.mod),
    cst.Power: (ast.Pow, operator.pow),
    cst.MatrixMultiply: (ast.MatMult, None),
    cst.BitAnd: (ast.BitAnd, operator.and_),
    cst.BitOr: (ast.BitOr, operator.or_),
    cst.BitXor: (ast.BitXor, operator.xor),
}
_COMPARE = {
    cst.LessThan: (ast.Lt, operator.lt),
    cst.GreaterThan: (ast.Gt, operator.gt),
    cst.LessThanEqual: (ast.LtE, operator.le),
    cst.GreaterThanEqual: (ast.GtE, operator.ge),
    cst.Equal: (ast.Eq, operator.eq),
    cst.NotEqual: (ast.NotEq, operator.ne),
}
_IDENTITY = {cst.Is: ast.Is, cst.IsNot: ast.IsNot}
# Builtins whose result k2t folds when their arguments are static (sizes computed in a Lambda).
_BUILTINS = {"int": int, "float": float, "abs": abs, "min": min, "max": max, "round": round, "len": len}
# math./np. constants and scalar functions, folded so that a tensor operand is known to be a number.
_MODULES = ("math", "np", "numpy")
_CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf}
_FUNCTIONS = {
    name: getattr(math, name) for name in ("sqrt", "exp", "log", "log2", "log10", "sin", "cos", "tan", "tanh")
}


def translate_expression(
    node: cst.BaseExpression, resolver, env, names: dict[str, Expr], device: ast.expr | None = None, hook=None
) -> Expr:
    """The torch translation of ``node``. ``names`` binds names to values (a Lambda's input tensor);
    ``device`` is the code of the inputs' device, for constructors (torch.zeros(..., device=...));
    ``hook(node, translate)`` may answer a subexpression first (a class's `self.dense(x)`), with
    ``translate`` translating its parts, or return None.
    Raises Refused(reason) where any part of the expression has no faithful translation."""
    if device is None:
        first = next((e for e in names.values() if e.kind == TENSOR), None)
        device = ast.Attribute(copy.deepcopy(first.node), "device", ast.Load()) if first is not None else None
    return _Translator(resolver, env, names, device, hook).expr(node)


def torch_code(expr: Expr) -> str:
    return ast.unparse(expr.node)


def _constant(value: Any) -> ast.expr:
    if isinstance(value, (tuple, list)):
        items = [_constant(v) for v in value]
        return ast.Tuple(items, ast.Load()) if isinstance(value, tuple) else ast.List(items, ast.Load())
    return ast.Constant(value)


def _static_expr(node: ast.expr, value: Any) -> Expr:
    if isinstance(value, (tuple, list)):
        items = tuple(_static_expr(_constant(v), v) for v in value)
        return Expr(node, SEQ, value=tuple(value) if isinstance(value, tuple) else list(value), items=items)
    if value is None or isinstance(value, (int, float, str, bool)):
        return Expr(node, NUMBER, value=value, dim=value if isinstance(value, int) else None)
    return Expr(node, OBJECT)


@functools.lru_cache(maxsize=None)
def _template(text: str) -> ast.expr:
    source = _FIELD.sub(lambda m: _PLACEHOLDER.format(m.group(1) + ("_" + m.group(2) if m.group(2) else "")), text)
    return ast.parse(source, mode="eval").body


class _Fill(ast.NodeTransformer):
    """Puts the argument nodes into a template; keywords whose field is OMIT are dropped."""

    def __init__(self, fields: dict[str, Any]):
        self.fields = fields

    def _field(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Name) and node.id.startswith("__k2t_") and node.id.endswith("__"):
            name = node.id[len("__k2t_") : -2]
            if name not in self.fields:
                raise KeyError(f"template field {name!r} is not a parameter")
            return self.fields[name]
        return None

    def visit_Name(self, node: ast.Name):
        found = self._field(node)
        if found is None:
            return node
        if found is OMIT or isinstance(found, list):
            raise ValueError(f"field {node.id} cannot be left out here")
        return copy.deepcopy(found)

    def visit_keyword(self, node: ast.keyword):
        if self._field(node.value) is OMIT:
            return None
        return self.generic_visit(node)

    def visit_Starred(self, node: ast.Starred):
        found = self._field(node.value)
        if isinstance(found, list):
            return [copy.deepcopy(n) for n in found]
        return self.generic_visit(node)


class _Translator:
    def __init__(self, resolver, env, names: dict[str, Expr], device: ast.expr | None, hook=None):
        self.resolver = resolver
        self.env = env
        self.names = names
        self.device = device
        self.hook = hook

    def expr(self, node: cst.BaseExpression) -> Expr:
        if self.hook is not None:
            found = self.hook(node, self.expr)
            if found is not None:
                return found
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise Refused(f"{_short(node)}: this kind of expression is not translated")
        return method(node)

    # -- leaves ------------------------------------------------------------------------------
    def _Integer(self, node: cst.Integer) -> Expr:
        return _static_expr(ast.Constant(node.evaluated_value), node.evaluated_value)

    def _Float(self, node: cst.Float) -> Expr:
        return _static_expr(ast.Constant(node.evaluated_value), node.evaluated_value)

    def _SimpleString(self, node: cst.SimpleString) -> Expr:
        value = node.evaluated_value
        if not isinstance(value, str):
            raise Refused(f"{_short(node)}: bytes are not translated")
        return _static_expr(ast.Constant(value), value)

    def _ConcatenatedString(self, node: cst.ConcatenatedString) -> Expr:
        value = node.evaluated_value
        if not isinstance(value, str):
            raise Refused(f"{_short(node)}: bytes are not translated")
        return _static_expr(ast.Constant(value), value)

    def _Ellipsis(self, node: cst.Ellipsis) -> Expr:
        return Expr(ast.Constant(...), _ELLIPSIS)

    def _Name(self, node: cst.Name) -> Expr:
        name = node.value
        if name in self.names:
            return self.names[name]
        if name in ("True", "False", "None"):
            value = {"True": True, "False": False, "None": None}[name]
            return _static_expr(ast.Constant(value), value)
        key = self.resolver.key(node)
        if key is not None:
            return self._keras_object(node, key)
        value, is_local = self.env.lookup(name)
        if is_local:
            raise Refused(f"{name} is a variable of the function that builds the model; forward() cannot read it")
        if value is UNKNOWN:
            return Expr(ast.Name(name, ast.Load()), OBJECT)  # a module, function or value known at run time
        return _static_expr(ast.Name(name, ast.Load()), value)

    def _keras_object(self, node: cst.CSTNode, key: str) -> Expr:
        """A TensorFlow/Keras name used as a value, not called: dtypes, tf.newaxis."""
        name = key.rsplit(".", 1)[-1]
        if key in (f"tf.{name}", f"tf.dtypes.{name}") and name in DTYPES:
            return Expr(ast.Constant(name), DTYPE, value=name)
        if key == "tf.newaxis":
            return _static_expr(ast.Constant(None), None)
        raise Refused(f"{_short(node)} has no translation yet")

    def _Attribute(self, node: cst.Attribute) -> Expr:
        key = self.resolver.key(node)
        if key is not None:
            return self._keras_object(node, key)
        base = self.expr(node.value)
        attr = node.attr.value
        if base.kind == TENSOR:
            if attr == "shape":
                return _sizes(base, ast.Attribute(base.node, "shape", ast.Load()))
            if attr == "ndim":
                value = len(base.shape) if base.shape is not None else UNKNOWN
                return Expr(ast.Attribute(base.node, "ndim", ast.Load()), NUMBER, value=value)
            if attr == "dtype":  # `dtype=x.dtype`: the torch dtype, read at run time where not known
                if base.dtype is not None:
                    return Expr(ast.Constant(base.dtype), DTYPE, value=base.dtype)
                return Expr(ast.Attribute(base.node, "dtype", ast.Load()), DTYPE)
            raise Refused(f"{_short(node)}: the tensor attribute .{attr} has no translation yet")
        if base.kind == OBJECT:
            module = base.node.id if isinstance(base.node, ast.Name) else None
            if module in ("np", "numpy") and attr in DTYPES:
                return Expr(ast.Constant(attr), DTYPE, value=attr)
            code = ast.Attribute(base.node, attr, ast.Load())
            if module in _MODULES and attr in _CONSTANTS:
                return Expr(code, NUMBER, value=_CONSTANTS[attr])
            return Expr(code, OBJECT)
        raise Refused(f"{_short(node)}: .{attr} of a {base.kind} is not translated")

    # -- calls -------------------------------------------------------------------------------
    def _Call(self, node: cst.Call) -> Expr:
        key = self.resolver.key(node.func)
        if key is not None:
            entry = OPS.get(key)
            if entry is None:
                raise Refused(f"{code_of(node.func)} has no translation yet")
            return self._apply(entry, node)
        if isinstance(node.func, cst.Attribute):
            base = self.expr(node.func.value)
            method = node.func.attr.value
            if base.kind == TENSOR and method == "get_shape" and not node.args:  # TF 1's x.get_shape()
                return _sizes(base, ast.Attribute(base.node, "shape", ast.Load()))
            if base.kind == SEQ and method == "as_list" and not node.args:  # x.shape.as_list()
                return Expr(ast.Call(ast.Name("list", ast.Load()), [base.node], []), SEQ, items=base.items, value=base.value, sizes=base.sizes)
            if base.kind == TENSOR:
                raise Refused(f"{_short(node)}: the tensor method .{method}() has no translation yet")
        func = self.expr(node.func)
        if func.kind != OBJECT:
            raise Refused(f"{_short(node)}: a call of a {func.kind}")
        args, keywords, values, exprs = [], [], [], []
        for arg in node.args:
            if arg.star:
                raise Refused(f"{_short(node)}: *args/**kwargs are not translated")
            value = self.expr(arg.value)
            exprs.append(value)
            if _holds_tensor(value):
                raise Refused(
                    f"{_short(node)}: {code_of(node.func)}() is not a TensorFlow/Keras function; "
                    "k2t cannot tell what it does with a tensor"
                )
            self._check_value(value)
            values.append(static(value))
            if arg.keyword is None:
                args.append(value.node)
            else:
                keywords.append(ast.keyword(arg.keyword.value, value.node))
        call = ast.Call(func.node, args, keywords)
        builtin = _BUILTINS.get(func.node.id) if isinstance(func.node, ast.Name) else None
        if (
            isinstance(func.node, ast.Attribute)
            and isinstance(func.node.value, ast.Name)
            and func.node.value.id in _MODULES
            and func.node.attr in _FUNCTIONS
        ):
            builtin = _FUNCTIONS[func.node.attr]
        if builtin is len and not keywords and len(exprs) == 1 and _items(exprs[0]) is not None:
            size = len(_items(exprs[0]))  # len(x.shape): the rank, where it is known
            return Expr(call, NUMBER, value=size, dim=size)
        if builtin is not None and not keywords and values and all(v is not UNKNOWN for v in values):
            try:
                result = builtin(*values)
            except Exception:  # noqa: BLE001 - a failing fold is not static
                result = UNKNOWN
            if result is not UNKNOWN:
                return Expr(call, NUMBER, value=result, dim=result if isinstance(result, int) else None)
        return Expr(call, OBJECT)

    def _apply(self, entry: Op, node: cst.Call) -> Expr:
        what = _short(node)
        positional = []
        for param in entry.params:
            if param.varargs:
                break
            positional.append(param)
        varargs = next((p for p in entry.params if p.varargs), None)
        by_name = {p.name: p for p in entry.params if not p.varargs}
        given: dict[str, cst.BaseExpression] = {}
        extra: list[cst.BaseExpression] = []
        index = 0
        for arg in node.args:
            if arg.star:
                raise Refused(f"{what}: *args/**kwargs are not translated")
            if arg.keyword is None:
                if index < len(positional):
                    name = positional[index].name
                    index += 1
                elif varargs is not None:
                    extra.append(arg.value)
                    continue
                else:
                    raise Refused(f"{what}: too many positional arguments")
            else:
                name = arg.keyword.value
                if name not in by_name:
                    raise Refused(f"{what}: the argument {name}= has no translation")
            if name in given:
                raise Refused(f"{what}: {name} given twice")
            given[name] = arg.value
        values: dict[str, Expr] = {}
        for param in entry.params:
            if param.varargs:
                items = tuple(self.expr(e) for e in extra)
                values[param.name] = Expr(ast.List([i.node for i in items], ast.Load()), SEQ, items=items)
                continue
            if param.kind == "ignore":
                values[param.name] = _static_expr(ast.Constant(None), None)
                continue
            if param.name in given:
                value = self.expr(given[param.name])
            elif param.default is REQUIRED:
                raise Refused(f"{what}: the argument {param.name} is missing")
            else:
                value = _static_expr(_constant(param.default), param.default)
            if param.kind == "dtype":
                value = self._dtype(value, what)
            if param.kind == "default" and static(value) != param.default:
                shown = code_of(given[param.name]) if param.name in given else repr(static(value))
                raise Refused(f"{what}: {param.name}={shown} has no translation (only {param.default!r})")
            values[param.name] = value
        fields_cache: dict[str, Any] = {}

        def fields() -> dict[str, Any]:
            if not fields_cache:
                for param in entry.params:
                    fields_cache[param.name] = self._field(param, values[param.name], what)
                    if param.kind in ("tensors", "tensor") and values[param.name].kind == SEQ:
                        for i, item in enumerate(values[param.name].items):
                            fields_cache[f"{param.name}_{i}"] = self._as_tensor(item, what).node
                fields_cache["device"] = self.device if self.device is not None else OMIT
            return fields_cache

        def fill(template: str) -> ast.expr:
            return _Fill(fields()).visit(copy.deepcopy(_template(template)))

        args = Args(what, entry, values, set(given) | ({varargs.name} if varargs and extra else set()), fill)
        rendered = entry.torch(args) if callable(entry.torch) else entry.torch
        if isinstance(rendered, Expr):
            return rendered
        result = fill(rendered)
        shape = None
        if entry.shape is not None:
            try:
                shape = entry.shape(args)
            except (Refused, TypeError, ValueError, IndexError, KeyError, AttributeError):
                shape = None
        operands = [
            values[p.name] for p in entry.params if p.kind in ("tensor", "value", "tensors", "index") or p.varargs
        ]
        flat = [i for o in operands for i in (o.items if o.kind == SEQ else (o,))]
        pointwise = entry.elementwise and all(
            (o.kind == TENSOR and (o.pointwise or o.shape == ())) or o.kind == NUMBER for o in flat
        )
        return Expr(result, TENSOR, shape=shape, pointwise=pointwise, dtype=entry.dtype)

    def _dtype(self, value: Expr, what: str) -> Expr:
        if value.kind == DTYPE:
            return value
        found = static(value)
        if found is None:
            return value
        if isinstance(found, str) and found in DTYPES:
            return Expr(ast.Constant(found), DTYPE, value=found)
        raise Refused(f"{what}: the dtype must be a TensorFlow, NumPy or string dtype known statically")

    def _field(self, param, value: Expr, what: str) -> Any:
        kind = param.kind
        if param.varargs:
            return [self._as_tensor(item, what).node for item in value.items]
        if kind in ("ignore", "default"):
            return OMIT
        if kind == "tensor":
            return self._as_tensor(value, what).node
        if kind == "value":
            if value.kind == SEQ:
                return self._as_tensor(value, what).node
            if value.kind == NUMBER and value.value is None:
                return OMIT
            if value.kind == OBJECT:
                raise Refused(f"{what}: k2t cannot tell whether {ast.unparse(value.node)} is a number")
            return value.node
        if kind == "index":
            if value.kind == TENSOR:
                return value.node
            found = static(value)
            if isinstance(found, int) or (isinstance(found, (tuple, list)) and all(isinstance(i, int) for i in found)):
                return _constant(list(found) if isinstance(found, tuple) else found)
            raise Refused(f"{what}: {param.name} must be a tensor or ints")
        if kind == "tensors":
            if value.kind != SEQ:
                raise Refused(f"{what}: {param.name} must be a list of tensors written out")
            return ast.List([self._as_tensor(i, what).node for i in value.items], ast.Load())
        if kind == "shape":
            if value.kind == SEQ:
                if any(i.kind != NUMBER for i in value.items) and isinstance(value.node, (ast.List, ast.Tuple)):
                    raise Refused(f"{what}: {param.name} must be sizes")
                if isinstance(value.node, (ast.List, ast.Tuple)):
                    return ast.Tuple([i.node for i in value.items], ast.Load())
                return value.node
            if value.kind == NUMBER and isinstance(value.value, int):
                return ast.Tuple([value.node], ast.Load())
            raise Refused(f"{what}: {param.name} must be a shape")
        if kind == "dtype":
            found = static(value)
            if found is None:
                return OMIT
            if found is UNKNOWN and value.kind == DTYPE:  # x.dtype
                return value.node
            return ast.parse(torch_dtype(found, what), mode="eval").body
        found = static(value)
        if found is UNKNOWN:
            raise Refused(f"{what}: {param.name} must be known statically")
        if kind in ("axis", "axes", "ints"):
            if found is None:
                return OMIT
            items = found if isinstance(found, (tuple, list)) else (found,)
            if kind == "axis" and isinstance(found, (tuple, list)):
                raise Refused(f"{what}: {param.name} must be one int")
            if not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
                raise Refused(f"{what}: {param.name} must be ints")
            return _constant(tuple(found) if isinstance(found, (tuple, list)) else found)
        if kind == "flag":
            return ast.Constant(True) if found else OMIT
        return _constant(found)  # static

    def _as_tensor(self, value: Expr, what: str) -> Expr:
        """TF converts Python numbers and lists to tensors (floats to float32, ints to int32)."""
        if value.kind == TENSOR:
            return value
        found = static(value)
        if found is UNKNOWN and value.kind == NUMBER and value.dim is not None:
            dtype = "int32"  # a size read from a shape
        else:
            dtype = inferred_dtype(found) if found is not UNKNOWN else None
        if dtype is None:
            raise Refused(f"{what}: {ast.unparse(value.node)} must be a tensor or numbers")
        keywords = [ast.keyword("dtype", ast.parse(torch_dtype(dtype), mode="eval").body)]
        if self.device is not None:
            keywords.append(ast.keyword("device", copy.deepcopy(self.device)))
        node = ast.Call(ast.parse("torch.tensor", mode="eval").body, [value.node], keywords)
        return Expr(node, TENSOR, shape=_nested_shape(found), pointwise=value.kind == NUMBER)

    def _check_value(self, value: Expr) -> None:
        """A module-level name with a run-time value; a parameter or local (in `names`) is the
        caller's value, which the checks beside tensors judge."""
        if (value.kind == OBJECT and isinstance(value.node, ast.Name) and value.node.id not in _BUILTINS
                and value.node.id not in self.names):
            raise Refused(
                f"{value.node.id} is computed at run time; forward() reads module constants with literal values only"
            )

    # -- operators ---------------------------------------------------------------------------
    def _operand(self, node: cst.BaseExpression) -> Expr:
        value = self.expr(node)
        if value.kind in (DTYPE, _ELLIPSIS):
            raise Refused(f"{_short(node)} is not a value")
        self._check_value(value)
        return value

    def _beside_tensor(self, operands: tuple[Expr, ...], node: cst.CSTNode) -> None:
        """A Python value beside a tensor must be a number: a NumPy array would broadcast (and cast) itself."""
        if any(o.kind == TENSOR for o in operands):
            for o in operands:
                if o.kind == OBJECT:
                    raise Refused(f"{_short(node)}: k2t cannot tell whether {ast.unparse(o.node)} is a number")

    def _BinaryOperation(self, node: cst.BinaryOperation) -> Expr:
        ast_op, fold = _BINARY.get(type(node.operator), (None, None))
        if ast_op is None:
            raise Refused(f"{_short(node)}: the operator is not translated")
        left, right = self._operand(node.left), self._operand(node.right)
        self._beside_tensor((left, right), node)
        code = ast.BinOp(left.node, ast_op(), right.node)
        if left.kind == TENSOR or right.kind == TENSOR:
            if SEQ in (left.kind, right.kind):
                raise Refused(f"{_short(node)}: a tensor with a Python list")
            if ast_op is ast.MatMult:
                return Expr(code, TENSOR, shape=matmul_shape(_shape(left), _shape(right)))
            pointwise = all(o.kind == NUMBER or o.pointwise or o.shape == () for o in (left, right))
            return Expr(code, TENSOR, shape=broadcast_shapes(_shape(left), _shape(right)), pointwise=pointwise)
        if SEQ in (left.kind, right.kind):
            return self._sequence_arithmetic(node, ast_op, left, right, code)
        a, b = static(left), static(right)
        if fold is not None and a is not UNKNOWN and b is not UNKNOWN:
            try:
                value = fold(a, b)
            except Exception:  # noqa: BLE001 - not static
                return Expr(code, OBJECT)
            return Expr(code, NUMBER, value=value, dim=value if isinstance(value, int) else None)
        if left.kind == NUMBER and right.kind == NUMBER:  # `1 - self.rate`: a number known at run time
            return Expr(code, NUMBER)
        return Expr(code, OBJECT)

    @staticmethod
    def _sequence_arithmetic(node, ast_op, left: Expr, right: Expr, code: ast.expr) -> Expr:
        """Shapes built as Python tuples: `(n,) + (1,) * (rank - 1)`, the items followed (the code
        is kept: tuple arithmetic is the same on torch's sizes)."""
        if ast_op is ast.Add and left.kind == right.kind == SEQ and None not in (_items(left), _items(right)):
            try:
                value = left.value + right.value if UNKNOWN not in (left.value, right.value) else UNKNOWN
            except TypeError:  # a tuple and a list
                raise Refused(f"{_short(node)}: a tuple and a list added") from None
            return Expr(code, SEQ, value=value, items=_items(left) + _items(right))
        if ast_op is ast.Mult and {left.kind, right.kind} == {SEQ, NUMBER}:
            sequence, count = (left, right) if left.kind == SEQ else (right, left)
            times, items = static(count), _items(sequence)
            if isinstance(times, int) and not isinstance(times, bool) and items is not None:
                value = sequence.value * times if sequence.value is not UNKNOWN else UNKNOWN
                return Expr(code, SEQ, value=value, items=items * times)
        raise Refused(f"{_short(node)}: arithmetic on Python sequences is not translated")

    def _BooleanOperation(self, node: cst.BooleanOperation) -> Expr:
        """`a and b`, `not training or rate == 0`: Python's, on values that are not tensors (a
        tensor's truth value is a run-time error in torch and a graph error in TensorFlow)."""
        left, right = self.expr(node.left), self.expr(node.right)
        if _holds_tensor(left) or _holds_tensor(right):
            raise Refused(f"{_short(node)}: `and`/`or` of a tensor is not translated")
        ast_op = ast.And() if isinstance(node.operator, cst.And) else ast.Or()
        code = ast.BoolOp(ast_op, [left.node, right.node])
        a, b = static(left), static(right)
        if a is not UNKNOWN and b is not UNKNOWN:
            return _static_expr(code, (a and b) if isinstance(ast_op, ast.And) else (a or b))
        return Expr(code, OBJECT)

    def _UnaryOperation(self, node: cst.UnaryOperation) -> Expr:
        operand = self._operand(node.expression)
        ops = {
            cst.Minus: (ast.USub, operator.neg),
            cst.Plus: (ast.UAdd, operator.pos),
            cst.BitInvert: (ast.Invert, operator.invert),
        }
        if type(node.operator) not in ops:
            if operand.kind == TENSOR:
                raise Refused(f"{_short(node)}: `not` of a tensor is not translated")
            ast_op, fold = ast.Not, operator.not_
        else:
            ast_op, fold = ops[type(node.operator)]
        code = ast.UnaryOp(ast_op(), operand.node)
        if operand.kind == TENSOR:
            return Expr(code, TENSOR, shape=operand.shape, pointwise=operand.pointwise, dtype=operand.dtype)
        value = static(operand)
        if value is UNKNOWN and operand.kind == NUMBER:  # `-self.rate`
            return Expr(code, NUMBER)
        if value is UNKNOWN or operand.kind != NUMBER:
            return Expr(code, OBJECT)
        try:
            return _static_expr(code, fold(value))
        except Exception:  # noqa: BLE001
            return Expr(code, OBJECT)

    def _Comparison(self, node: cst.Comparison) -> Expr:
        if len(node.comparisons) == 1 and type(node.comparisons[0].operator) in _IDENTITY:
            # `mask is not None`: identity is Python's, the same for tensors in both frameworks.
            target = node.comparisons[0]
            left, right = self.expr(node.left), self.expr(target.comparator)
            code = ast.Compare(left.node, [_IDENTITY[type(target.operator)]()], [right.node])
            return Expr(code, OBJECT)
        if len(node.comparisons) != 1 or type(node.comparisons[0].operator) not in _COMPARE:
            raise Refused(f"{_short(node)}: chained comparisons and `in` are not translated")
        target = node.comparisons[0]
        ast_op, fold = _COMPARE[type(target.operator)]
        left, right = self._operand(node.left), self._operand(target.comparator)
        self._beside_tensor((left, right), node)
        code = ast.Compare(left.node, [ast_op()], [right.node])
        if left.kind == TENSOR or right.kind == TENSOR:
            pointwise = all(o.kind == NUMBER or o.pointwise or o.shape == () for o in (left, right))
            return Expr(
                code, TENSOR, shape=broadcast_shapes(_shape(left), _shape(right)), pointwise=pointwise, dtype="bool"
            )
        a, b = static(left), static(right)
        if a is not UNKNOWN and b is not UNKNOWN:
            return _static_expr(code, fold(a, b))
        return Expr(code, OBJECT)

    # -- subscripts and literals -------------------------------------------------------------
    def _Subscript(self, node: cst.Subscript) -> Expr:
        base = self.expr(node.value)
        if base.kind == TENSOR:
            return self._tensor_subscript(base, node)
        if base.kind == SEQ:
            if len(node.slice) != 1:
                raise Refused(f"{_short(node)}: a sequence indexed by several indices")
            element = node.slice[0].slice
            if isinstance(element, cst.Index):
                index = static(self.expr(element.value))
                if isinstance(index, int) and base.sizes and not base.items:  # x.shape[i], rank unknown
                    return Expr(ast.Subscript(base.node, ast.Constant(index), ast.Load()), NUMBER)
                if not isinstance(index, int) or base.items == () or not -len(base.items) <= index < len(base.items):
                    raise Refused(f"{_short(node)}: the index must be a static int within the sequence")
                return base.items[index]
            parts = [None if p is None else static(self.expr(p)) for p in (element.lower, element.upper, element.step)]
            if any(p is UNKNOWN for p in parts):
                raise Refused(f"{_short(node)}: the slice must be static")
            sub = ast.Subscript(
                base.node, ast.Slice(*[None if p is None else ast.Constant(p) for p in parts]), ast.Load()
            )
            items = base.items[slice(*parts)]
            value = base.value[slice(*parts)] if isinstance(base.value, (tuple, list)) else UNKNOWN
            return Expr(sub, SEQ, items=items, value=value, sizes=base.sizes)
        if base.kind == OBJECT:
            raise Refused(f"{_short(node)}: indexing a run-time value is not translated")
        raise Refused(f"{_short(node)}: indexing a {base.kind}")

    def _tensor_subscript(self, base: Expr, node: cst.Subscript) -> Expr:
        elements, shapes = [], []
        for element in node.slice:
            part = element.slice
            if isinstance(part, cst.Index):
                value = self.expr(part.value)
                if value.kind == _ELLIPSIS:
                    elements.append(ast.Constant(...))
                    shapes.append(("...",))
                    continue
                found = static(value)
                if value.kind == NUMBER and found is None:
                    elements.append(ast.Constant(None))
                    shapes.append(("new",))
                    continue
                if value.kind == NUMBER and (isinstance(found, int) or value.dim is not None):
                    elements.append(value.node)
                    shapes.append(("int",))
                    continue
                raise Refused(f"{_short(node)}: indexing a tensor with {code_of(part.value)} is not translated")
            bounds = []
            for bound in (part.lower, part.upper, part.step):
                if bound is None:
                    bounds.append((None, None))
                    continue
                value = self.expr(bound)
                if value.kind != NUMBER:
                    raise Refused(f"{_short(node)}: slice bounds must be ints")
                bounds.append((value.node, static(value)))
            step = bounds[2][1]
            if bounds[2][0] is not None and not (isinstance(step, int) and step > 0):
                raise Refused(f"{_short(node)}: a negative or run-time slice step has no torch form")
            elements.append(ast.Slice(*[b[0] for b in bounds]))
            shapes.append(("slice",) + tuple(b[1] if b[0] is not None else None for b in bounds))
        index = elements[0] if len(elements) == 1 else ast.Tuple(elements, ast.Load())
        code = ast.Subscript(base.node, index, ast.Load())
        return Expr(code, TENSOR, shape=_subscript_shape(base.shape, shapes), dtype=base.dtype)

    def _sequence(self, node, list_node) -> Expr:
        items = []
        for element in node.elements:
            if isinstance(element, cst.StarredElement):
                raise Refused(f"{_short(node)}: starred elements are not translated")
            items.append(self.expr(element.value))
        nodes = [i.node for i in items]
        code = ast.List(nodes, ast.Load()) if list_node else ast.Tuple(nodes, ast.Load())
        value = tuple(static(i) for i in items)
        if any(v is UNKNOWN for v in value):
            value = UNKNOWN
        elif list_node:
            value = list(value)
        return Expr(code, SEQ, items=tuple(items), value=value)

    def _Tuple(self, node: cst.Tuple) -> Expr:
        return self._sequence(node, False)

    def _List(self, node: cst.List) -> Expr:
        return self._sequence(node, True)


def _short(node: cst.CSTNode) -> str:
    text = " ".join(code_of(node).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _shape(e: Expr) -> tuple | None:
    if e.kind == NUMBER:
        return ()
    return e.shape


def _nested_shape(value: Any) -> tuple:
    if isinstance(value, (tuple, list)):
        return (len(value),) + (_nested_shape(value[0]) if value else ())
    return ()


def _items(e: Expr) -> tuple | None:
    """A sequence's items where its length is known (x.shape of a tensor of unknown rank: None)."""
    if e.kind != SEQ or (not e.items and (e.value is UNKNOWN or len(e.value) != 0)):
        return None
    return e.items


def _holds_tensor(e: Expr) -> bool:
    return e.kind == TENSOR or (e.kind == SEQ and any(_holds_tensor(i) for i in e.items))


def _sizes(tensor: Expr, node: ast.expr) -> Expr:
    """x.shape: a sequence of Python ints (static where the size is)."""
    if tensor.shape is None:
        return Expr(node, SEQ, sizes=True)
    items = tuple(
        Expr(
            ast.Subscript(node, ast.Constant(i), ast.Load()),
            NUMBER,
            value=d if isinstance(d, int) else UNKNOWN,
            dim=d,
        )
        for i, d in enumerate(tensor.shape)
    )
    return Expr(node, SEQ, items=items)


def _subscript_shape(shape: tuple | None, parts: list) -> tuple | None:
    if shape is None:
        return None
    consuming = sum(1 for p in parts if p[0] in ("int", "slice"))
    dims, out, position = list(shape), [], 0
    if consuming > len(dims):
        raise Refused(f"too many indices for a rank-{len(dims)} tensor")
    for part in parts:
        if part[0] == "new":
            out.append(1)
        elif part[0] == "...":
            count = len(dims) - consuming
            out.extend(dims[position : position + count])
            position += count
        elif part[0] == "int":
            position += 1
        else:
            _, lower, upper, step = part
            size = dims[position]
            position += 1
            if lower is None and upper is None and step in (None, 1):
                out.append(size)
            elif isinstance(size, int) and all(b is None or isinstance(b, int) for b in (lower, upper, step)):
                out.append(len(range(*slice(lower, upper, step).indices(size))))
            else:
                out.append(None)
    out.extend(dims[position:])
    return tuple(out)


# -- Lambda layers -----------------------------------------------------------------------------


@dataclass(eq=False)
class LambdaFunction:
    """A Lambda layer's function as the analysis read it; translated when the layer is lowered."""

    code: str
    param: str | None = None
    body: cst.BaseExpression | None = None
    resolver: Any = None
    env: Any = None
    definition: cst.FunctionDef | None = None  # Lambda(f) with a module-level def f
    reference: cst.Name | None = None  # the `f` in Lambda(f)
    problem: str | None = None  # why the function cannot be read
    # An op expression on graph tensors (`x = ops.relu(x)`, `tf.concat([a, b], -1)`): the names
    # that are its inputs, in order, each bound to its own tensor (not to one list argument).
    names: tuple[str, ...] = ()

    def translate(self, in_shapes: list | tuple | None) -> tuple[str, Expr]:
        """(forward code with {x} or {x0}, {x1}, ... for the inputs, the translated expression).

        in_shapes: each input's Keras shape without the batch axis; None when only the structure
        is asked (whether the body is pointwise)."""
        if self.problem is not None:
            raise Refused(self.problem)
        if in_shapes is not None and len(in_shapes) > 1:
            tensors = tuple(
                Expr(ast.Name(_PLACEHOLDER.format(f"x{i}"), ast.Load()), TENSOR, (BATCH, *shape), pointwise=True)
                for i, shape in enumerate(in_shapes)
            )
            value = Expr(ast.List([t.node for t in tensors], ast.Load()), SEQ, items=tensors)
            device = ast.Attribute(tensors[0].node, "device", ast.Load())
            bound = dict(zip(self.names, tensors)) if self.names else {self.param: value}
        elif in_shapes is None and len(self.names) > 1:  # the structure only: shapes unknown
            tensors = tuple(
                Expr(ast.Name(_PLACEHOLDER.format(f"x{i}"), ast.Load()), TENSOR, None, pointwise=True)
                for i in range(len(self.names))
            )
            device = ast.Attribute(tensors[0].node, "device", ast.Load())
            bound = dict(zip(self.names, tensors))
        else:
            shape = (BATCH, *in_shapes[0]) if in_shapes is not None else None
            value = Expr(ast.Name(_PLACEHOLDER.format("x"), ast.Load()), TENSOR, shape, pointwise=True)
            device = ast.Attribute(value.node, "device", ast.Load())
            bound = {self.param: value}
        result = translate_expression(self.body, self.resolver, self.env, bound, device)
        if result.kind != TENSOR:
            raise Refused(f"{_short(self.body)} is not a tensor")
        code = torch_code(result).replace("{", "{{").replace("}", "}}")
        code = re.sub(r"__k2t_(x\d*)__", r"{\1}", code)
        return code, result

    @functools.cached_property
    def pointwise(self) -> bool:
        """Whether the body computes position by position (any axis order): it needs no layout."""
        try:
            return self.translate(None)[1].pointwise
        except Refused:
            return False


def lambda_function(call: cst.Call, env, resolver, functions: dict) -> LambdaFunction:
    """Read the function argument of a keras.layers.Lambda(...) call."""
    node = next(
        (
            a.value
            for a in call.args
            if (a.keyword is None and not a.star) or (a.keyword and a.keyword.value == "function")
        ),
        None,
    )
    if node is None:
        return LambdaFunction("", problem="Lambda() without a function")
    code = _short(node)
    if isinstance(node, cst.Lambda):
        param = _single_parameter(node.params)
        if param is None:
            return LambdaFunction(code, problem=f"{code}: a function of several arguments is not translated")
        return LambdaFunction(code, param, node.body, resolver, env)
    key = resolver.key(node)
    if key is not None:
        if key not in OPS:
            return LambdaFunction(code, problem=f"{code} has no translation yet")
        call_node = cst.Call(node, [cst.Arg(cst.Name("x"))])
        return LambdaFunction(code, "x", call_node, resolver, env)
    if isinstance(node, cst.Name) and node.value in functions:
        definition = functions[node.value]
        param = _single_parameter(definition.params)
        body = _returned_expression(definition)
        if param is None or body is None:
            reason = "of several arguments" if param is None else "whose body is more than a return statement"
            return LambdaFunction(code, problem=f"{code}: a function {reason} is not translated")
        module_env = env
        while module_env.parent is not None:  # a module-level def reads module names
            module_env = module_env.parent
        return LambdaFunction(code, param, body, resolver, module_env, definition=definition, reference=node)
    return LambdaFunction(
        code,
        problem=f"{code} is not a lambda, a module-level function or a TensorFlow/Keras function k2t can read",
    )


def _single_parameter(params: cst.Parameters) -> str | None:
    if params.star_arg not in (cst.MaybeSentinel.DEFAULT, None) or params.kwonly_params or params.star_kwarg:
        return None
    names = list(params.posonly_params) + list(params.params)
    if len(names) != 1:
        return None
    return names[0].name.value


def _returned_expression(function: cst.FunctionDef) -> cst.BaseExpression | None:
    """The expression of a body that is (a docstring and) one return statement."""
    if not isinstance(function.body, cst.IndentedBlock) or function.decorators:
        return None
    statements = list(function.body.body)
    while statements and cstwalk.is_docstring(statements[0]) and len(statements) > 1:
        statements = statements[1:]
    if len(statements) != 1 or not isinstance(statements[0], cst.SimpleStatementLine):
        return None
    small = statements[0].body
    if len(small) != 1 or not isinstance(small[0], cst.Return) or small[0].value is None:
        return None
    return small[0].value


def consumed_definitions(model, module: cst.Module) -> list[cst.FunctionDef]:
    """Module-level defs that only this model's Lambda layers name: their bodies are inlined in
    forward(), so the def goes with the model's other statements (and verify runs it with them)."""
    wanted: dict[str, tuple[cst.FunctionDef, set]] = {}
    for layer in model.layers:
        value = layer.args.get("function")
        fn = value.value if value is not None else None
        if isinstance(fn, LambdaFunction) and fn.definition is not None:
            entry = wanted.setdefault(fn.definition.name.value, (fn.definition, set()))
            entry[1].add(fn.reference)
    if not wanted:
        return []
    uses: dict[str, int] = {name: 0 for name in wanted}
    for node in cstwalk.iter_nodes(module):
        if isinstance(node, cst.Name) and node.value in uses:
            uses[node.value] += 1
    consumed = []
    for name, (definition, references) in wanted.items():
        # The def's own name, and the references from this model's Lambda layers: nothing else.
        if uses[name] == 1 + len(references):
            consumed.append(definition)
    return consumed
