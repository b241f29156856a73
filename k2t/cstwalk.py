"""Fast reads of libcst trees: children in lexical order, a visitor driver, parents and positions.

libcst's own ``node.visit(visitor)`` rebuilds every node it passes (a transformer and a visitor share
one traversal), and its ParentNodeProvider and PositionProvider are full visits of their own. k2t only
reads the original tree, so it walks it directly:

* :func:`children` lists a node's children in the order libcst visits them (the order of
  ``_visit_and_replace_children``, read once from libcst's source into ``k2t/_cstfields.py``);
* :func:`visit` drives a ``cst.CSTVisitor`` (``visit_X`` / ``leave_X``, ``visit_X`` returning False
  skips the children) in that order without rebuilding anything, optionally recording every node's
  parent on the way;
* :class:`Positions` gives PositionProvider's ranges, computed from one code generation pass that
  records token indices only; lines and columns are worked out when a node's position is asked for.

``python -m k2t.cstwalk`` regenerates the field table for the installed libcst.
"""

from __future__ import annotations

import bisect
import inspect
import re
from contextlib import contextmanager
from itertools import accumulate

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst._position import CodePosition, CodeRange

from k2t import _cstfields

_CSTNode = cst.CSTNode
_SEQUENCES = (list, tuple)
_FIELD = re.compile(r'visit_\w+\(\s*self,\s*"(\w+)"')
_fields_by_class: dict[type, tuple[str, ...]] = {}


def _libcst_version() -> str:
    from importlib.metadata import version

    return version("libcst")


def derive_fields(cls: type) -> tuple[str, ...]:
    """The child fields of a libcst node class, in the order its _visit_and_replace_children visits them."""
    source = inspect.getsource(cls._visit_and_replace_children)
    return tuple(dict.fromkeys(_FIELD.findall(source)))


_table_matches: bool | None = None


def fields_of(cls: type) -> tuple[str, ...]:
    fields = _fields_by_class.get(cls)
    if fields is None:
        global _table_matches
        if _table_matches is None:
            _table_matches = _cstfields.LIBCST_VERSION == _libcst_version()
        fields = _cstfields.FIELDS.get(cls.__name__) if _table_matches and cls.__module__.startswith("libcst.") else None
        if fields is None:
            fields = derive_fields(cls)
        _fields_by_class[cls] = fields
    return fields


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """node.children, without rebuilding the node."""
    out = []
    for name in fields_of(type(node)):
        value = getattr(node, name)
        if isinstance(value, _CSTNode):
            out.append(value)
        elif isinstance(value, _SEQUENCES):
            out.extend(value)
    return out


def iter_nodes(node: cst.CSTNode, prune=None):
    """Every node below ``node`` (itself included), parents before children; ``prune(n)`` true: n's
    children are skipped."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if prune is not None and prune(current):
            continue
        found = children(current)
        found.reverse()
        stack.extend(found)


def imports(module: cst.Module):
    """Every import statement of the module, wherever it stands (top, under if/try, in functions)."""
    for node in iter_nodes(module, prune=lambda n: isinstance(n, cst.BaseExpression)):
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            yield node


def parents_of(node: cst.CSTNode, into: dict | None = None) -> dict:
    """child -> parent for every node below ``node`` (ParentNodeProvider's mapping)."""
    parents = {} if into is None else into
    stack = [node]
    while stack:
        current = stack.pop()
        for name in fields_of(type(current)):
            value = getattr(current, name)
            if isinstance(value, _CSTNode):
                parents[value] = current
                stack.append(value)
            elif isinstance(value, _SEQUENCES):
                for child in value:
                    parents[child] = current
                stack.extend(value)
    return parents


def visit(node: cst.CSTNode, visitor: cst.CSTVisitor, parents: dict | None = None) -> None:
    """``node.visit(visitor)`` for a read-only visitor, in the same order, without rebuilding nodes.

    With ``parents``, every node's parent is recorded (also below nodes whose children are skipped).
    """
    methods: dict[type, tuple] = {}

    def entry(cls):
        name = cls.__name__
        found = (getattr(visitor, "visit_" + name, None), getattr(visitor, "leave_" + name, None), fields_of(cls))
        methods[cls] = found
        return found

    def walk(current):
        cls = current.__class__
        visit_method, leave_method, fields = methods.get(cls) or entry(cls)
        if visit_method is None or visit_method(current) is not False:
            for name in fields:
                value = getattr(current, name)
                if isinstance(value, _CSTNode):
                    if parents is not None:
                        parents[value] = current
                    walk(value)
                elif isinstance(value, _SEQUENCES):
                    for child in value:
                        if parents is not None:
                            parents[child] = current
                        walk(child)
        elif parents is not None:
            parents_of(current, parents)
        if leave_method is not None:
            leave_method(current)

    walk(node)


# --- positions -------------------------------------------------------------------------------------

_NEWLINE = re.compile(r"\r\n?|\n")


class _RangeState(CodegenState):
    """Code generation that records, per node, the token indices PositionProvider would turn into
    line/column ranges (syntactic where libcst records them so, whitespace-inclusive otherwise)."""

    def __init__(self, default_indent: str, default_newline: str):
        super().__init__(default_indent=default_indent, default_newline=default_newline)
        self.starts: list[int] = []
        self.ranges: dict[cst.CSTNode, tuple[int, int]] = {}

    def before_codegen(self, node) -> None:
        self.starts.append(len(self.tokens))

    def after_codegen(self, node) -> None:
        start = self.starts.pop()
        if node not in self.ranges:
            self.ranges[node] = (start, len(self.tokens))

    @contextmanager
    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        start = len(self.tokens)
        try:
            yield
        finally:
            end = len(self.tokens)
            if start_node is not None:
                start = self.ranges[start_node][0]
            if end_node is not None:
                end = self.ranges[end_node][1]
            self.ranges[node] = (start, end)

    def pop_trailing_newline(self) -> None:
        # PositionProvider counts the module's last newline before dropping it: keep it.
        pass


class Positions:
    """PositionProvider's mapping (node -> CodeRange) for one module, computed on first use."""

    def __init__(self, module: cst.Module):
        self._module = module
        self._ranges: dict | None = None

    def _compute(self) -> None:
        state = _RangeState(self._module.default_indent, self._module.default_newline)
        self._module._codegen(state)
        tokens = state.tokens
        self._offsets = [0, *accumulate(map(len, tokens))]
        text = "".join(tokens)
        self._line_ends = [m.end() for m in _NEWLINE.finditer(text)]
        self._ranges = state.ranges
        self._cache: dict = {}

    def _position(self, index: int) -> CodePosition:
        offset = self._offsets[index]
        line = bisect.bisect_right(self._line_ends, offset)
        return CodePosition(line + 1, offset - (self._line_ends[line - 1] if line else 0))

    def get(self, node, default=None):
        if self._ranges is None:
            self._compute()
        found = self._cache.get(node)
        if found is None:
            indices = self._ranges.get(node)
            if indices is None:
                return default
            found = self._cache[node] = CodeRange(self._position(indices[0]), self._position(indices[1]))
        return found

    def __getitem__(self, node) -> CodeRange:
        found = self.get(node)
        if found is None:
            raise KeyError(node)
        return found

    def __contains__(self, node) -> bool:
        if self._ranges is None:
            self._compute()
        return node in self._ranges

    def nodes(self):
        if self._ranges is None:
            self._compute()
        return self._ranges.keys()

    def items(self):
        return ((node, self[node]) for node in list(self.nodes()))


def _generate_table() -> str:
    classes: set[type] = set()

    def collect(cls):
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("libcst._nodes"):
                classes.add(sub)
            collect(sub)

    collect(cst.CSTNode)
    lines = [
        '"""Generated by `python -m k2t.cstwalk` for the libcst version below: the child fields of every libcst',
        'node class in the order libcst visits them (tests/test_imports_pass.py checks it against libcst)."""',
        "",
        f"LIBCST_VERSION = {_libcst_version()!r}",
        "",
        "FIELDS = {",
    ]
    table: dict[str, tuple[str, ...]] = {}
    for cls in sorted(classes, key=lambda c: c.__name__):
        if inspect.isabstract(cls) or "_visit_and_replace_children" not in dir(cls):
            continue
        try:
            table[cls.__name__] = derive_fields(cls)
        except (OSError, TypeError):
            continue
    lines += [f"    {name!r}: {fields!r}," for name, fields in table.items()]
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    from pathlib import Path

    Path(__file__).with_name("_cstfields.py").write_text(_generate_table(), encoding="utf-8")


def call_arguments(function: cst.FunctionDef, call: cst.Call) -> dict[str, cst.BaseExpression] | None:
    """Parameter name -> the expression a call of `function` gives it (positional arguments past the
    named parameters go to its *args and are left out); None when the call unpacks (*x, **x) or
    passes more positional arguments than a def without *args takes."""
    positional = [p.name.value for p in function.params.params]
    takes_more = isinstance(function.params.star_arg, cst.Param)
    given: dict[str, cst.BaseExpression] = {}
    for i, arg in enumerate(call.args):
        if arg.star:
            return None
        if arg.keyword is not None:
            given[arg.keyword.value] = arg.value
        elif i < len(positional):
            given[positional[i]] = arg.value
        elif not takes_more:
            return None
    return given


def taken_branch(node: cst.If, test: object):
    """The block Python runs for an `if` whose test has the value `test`: its body, the `else`
    block, the `elif` (an If), or None."""
    branch = node.body if test else node.orelse
    return branch.body if isinstance(branch, cst.Else) else branch


def is_docstring(statement: cst.CSTNode) -> bool:
    """A statement that is only a string literal (a docstring)."""
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )
