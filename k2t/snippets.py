"""Copy helper definitions from the rules' snippet files into an output, with the helpers they use."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import libcst as cst

from k2t import cstwalk


# Real Python files whose top-level definitions outputs copy; their order is the output's order.
SNIPPET_MODULES = ("k2t.rules.snippets", "k2t.rules.keras_optimizers")


@functools.cache
def _read() -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    # Read, never import: the snippets import torch, which the converter must not need.
    code, names = {}, {}
    for name in SNIPPET_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        module = cst.parse_module(Path(spec.origin).read_text(encoding="utf-8"))
        for statement in module.body:
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                code[statement.name.value] = module.code_for_node(statement.with_changes(leading_lines=[]))
                names[statement.name.value] = frozenset(node.value for node in _walk_names(statement))
    return code, names


def _definitions() -> dict[str, str]:
    return _read()[0]


@functools.cache
def _uses(name: str) -> frozenset[str]:
    used = _read()[1][name]
    return frozenset(other for other in _definitions() if other != name and other in used)


def _walk_names(tree: cst.CSTNode):
    return (node for node in cstwalk.iter_nodes(tree) if isinstance(node, cst.Name))


def closure(names: set[str]) -> list[str]:
    """The helpers named and those they use, in the order of the snippet files."""
    wanted = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        todo.extend(_uses(name))
    return [name for name in _definitions() if name in wanted]


def code(names: set[str]) -> str:
    return "\n\n".join(_definitions()[name] for name in closure(names))
