"""Rewrite: apply the planned edits to the module, keep everything else as written, fix imports.

Edits are keyed by the original libcst nodes: statements replaced or removed, call expressions
replaced, `# k2t:` markers above statements that keep something untranslated, and header code
(device, model classes, helpers) placed after the module's leading imports. Comments of removed
statements move to the next statement. Imports are scheduled, not written by hand: libcst's
AddImportsVisitor and RemoveImportsVisitor add what the new code uses and drop Keras imports that
nothing references any more.
"""

from __future__ import annotations

import re

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

MARKER = "# k2t: "
_EMPTY = cst.Module([])
KERAS_ROOTS = ("keras", "tensorflow", "tf_keras")

# What generated code may use -> the import it needs (module, object, alias).
_NEEDED_IMPORTS = [
    (re.compile(r"\btorch\."), ("torch", None, None)),
    (re.compile(r"(?<![\w.])nn\."), ("torch", "nn", None)),
    (re.compile(r"(?<![\w.])F\."), ("torch.nn.functional", None, "F")),
    (re.compile(r"(?<![\w.])np\."), ("numpy", None, "np")),
    (re.compile(r"\bDataLoader\b"), ("torch.utils.data", "DataLoader", None)),
    (re.compile(r"\bTensorDataset\b"), ("torch.utils.data", "TensorDataset", None)),
    (re.compile(r"(?<![\w.])time\."), ("time", None, None)),
    (re.compile(r"(?<![\w.])os\."), ("os", None, None)),
    (re.compile(r"(?<![\w.])random\."), ("random", None, None)),
    (re.compile(r"(?<![\w.])csv\."), ("csv", None, None)),
]


class Edits:
    def __init__(self) -> None:
        self.statements: dict[cst.CSTNode, list[str]] = {}  # original statement -> new lines
        self.before: dict[cst.CSTNode, list[str]] = {}  # lines inserted before a statement
        self.expressions: dict[cst.CSTNode, str] = {}
        self.statement_parts: dict[cst.CSTNode, tuple] = {}  # parts embedded in replacement lines
        self.markers: dict[cst.CSTNode, list[str]] = {}
        self.parts: set[cst.CSTNode] = set()  # nodes that replacement templates embed
        self.headers: list[str] = []
        self.generated: list[str] = []  # every piece of new code (to find the imports it needs)

    def replace(self, statement: cst.CSTNode, lines: list[str], parts=()) -> None:
        """Replace a statement by lines; {arg0}, ... in them stand for `parts` (see replace_expression)."""
        self.statements[statement] = lines
        if parts:
            self.statement_parts[statement] = tuple(parts)
            self.parts.update(parts)
        self.generated.extend(lines)

    def remove(self, statement: cst.CSTNode) -> None:
        self.statements[statement] = []

    def replace_expression(self, node: cst.CSTNode, code: str, before=None, lines=(), parts=()) -> None:
        """Replace an expression; {arg0}, {arg1}, ... in code stand for `parts`, original nodes
        inside it, written as they are after their own rewriting (nested translations survive)."""
        self.expressions[node] = (code, tuple(parts))
        self.parts.update(parts)
        self.generated.append(code)
        if before is not None and lines:
            self.before.setdefault(before, []).extend(lines)
            self.generated.extend(lines)

    def mark(self, statement: cst.CSTNode, message: str) -> None:
        text = MARKER + " ".join(message.split())
        if text not in self.markers.setdefault(statement, []):
            self.markers[statement].append(text)

    def add_header(self, code: str) -> None:
        self.headers.append(code)


def import_statements(module: cst.Module):
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)):
                    yield small


def is_import_line(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body
    )


def _parse_lines(lines: list[str]) -> list[cst.BaseStatement]:
    if not lines:
        return []
    module = cst.parse_module("\n".join(lines) + "\n")
    body = list(module.body)
    if body and module.header:  # libcst files leading comments under the module, not the statement
        body[0] = body[0].with_changes(leading_lines=[*module.header, *body[0].leading_lines])
    return body


def _with_comments(statement: cst.BaseStatement, comments: list[cst.EmptyLine], markers: list[str]):
    existing = [line.comment.value for line in statement.leading_lines if line.comment is not None]
    new_markers = [cst.EmptyLine(comment=cst.Comment(m)) for m in markers if m not in existing]
    if not comments and not new_markers:
        return statement
    return statement.with_changes(leading_lines=[*comments, *statement.leading_lines, *new_markers])


class _Rewriter(cst.CSTTransformer):
    def __init__(self, edits: Edits):
        super().__init__()
        self.edits = edits
        self.updated: dict[cst.CSTNode, cst.CSTNode] = {}  # template parts after rewriting

    def on_leave(self, original_node, updated_node):
        if original_node in self.edits.expressions:
            code, parts = self.edits.expressions[original_node]
            fields = {f"arg{i}": _EMPTY.code_for_node(self.updated.get(p, p)) for i, p in enumerate(parts)}
            result = cst.parse_expression(code.format(**fields) if parts else code)
        else:
            result = super().on_leave(original_node, updated_node)
        if original_node in self.edits.parts:
            self.updated[original_node] = result
        return result

    def _body(self, original_body, updated_body) -> list[cst.BaseStatement]:
        out: list[cst.BaseStatement] = []
        carried: list[cst.EmptyLine] = []  # comments of removed statements
        for original, updated in zip(original_body, updated_body):
            new = [updated]
            if original in self.edits.statements:
                lines = self.edits.statements[original]
                parts = self.edits.statement_parts.get(original)
                for i, part in enumerate(parts or ()):
                    # Plain replacement, not str.format: the lines hold dicts and f-strings.
                    code = _EMPTY.code_for_node(self.updated.get(part, part))
                    lines = [line.replace("{arg%d}" % i, code) for line in lines]
                new = _parse_lines(lines)
                if new:
                    new[0] = new[0].with_changes(
                        leading_lines=[*updated.leading_lines, *new[0].leading_lines]
                    )
            before = _parse_lines(self.edits.before.get(original, []))
            if before and new:
                before[0] = before[0].with_changes(
                    leading_lines=[*new[0].leading_lines, *before[0].leading_lines]
                )
                new[0] = new[0].with_changes(leading_lines=[])
            new = before + new
            markers = self.edits.markers.get(original, [])
            if not new:
                carried += [line for line in updated.leading_lines if line.comment is not None]
                trailing = getattr(updated, "trailing_whitespace", None)
                if trailing is not None and trailing.comment is not None:
                    carried.append(cst.EmptyLine(comment=trailing.comment))
                if markers:
                    carried += [cst.EmptyLine(comment=cst.Comment(m)) for m in markers]
                continue
            new[0] = _with_comments(new[0], carried, markers)
            carried = []
            out.extend(new)
        if carried:
            out.append(cst.SimpleStatementLine([cst.Pass()], leading_lines=carried))
        return out

    def leave_IndentedBlock(self, original_node, updated_node):
        body = self._body(original_node.body, updated_node.body)
        return updated_node.with_changes(body=body or [cst.SimpleStatementLine([cst.Pass()])])

    def leave_Module(self, original_node, updated_node):
        return updated_node.with_changes(body=self._body(original_node.body, updated_node.body))


def _insert_header(module: cst.Module, header: list[str]) -> cst.Module:
    """Header code (device, model classes, helpers) after the module's docstring and imports."""
    body = list(module.body)
    index = 0
    for i, statement in enumerate(body):
        is_docstring = (
            i == 0
            and isinstance(statement, cst.SimpleStatementLine)
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
        )
        if is_docstring or is_import_line(statement):
            index = i + 1
        else:
            break
    code = _parse_lines(["\n\n".join(header)])
    if code and index > 0:
        code[0] = code[0].with_changes(leading_lines=[cst.EmptyLine()])
    return module.with_changes(body=body[:index] + code + body[index:])


def _keras_imports(module: cst.Module):
    """(module, obj, alias) triples of every Keras/TensorFlow import, for RemoveImportsVisitor."""
    for node in import_statements(module):
        if isinstance(node.names, cst.ImportStar):
            continue
        for alias in node.names:
            asname = alias.asname.name.value if alias.asname else None
            name = cst.Module([]).code_for_node(alias.name)
            if isinstance(node, cst.Import):
                if name.split(".")[0] in KERAS_ROOTS:
                    yield name, None, asname
            elif node.module is not None and not node.relative:
                base = cst.Module([]).code_for_node(node.module)
                if base.split(".")[0] in KERAS_ROOTS:
                    yield base, name, asname


class _DropShadowedKerasImports(cst.CSTTransformer):
    """`from keras.callbacks import EarlyStopping` goes when the output defines its own EarlyStopping."""

    def __init__(self, defined: set[str]):
        super().__init__()
        self.defined = defined

    def leave_ImportFrom(self, original_node, updated_node):
        module = cst.Module([]).code_for_node(updated_node.module) if updated_node.module else ""
        if module.split(".")[0] not in KERAS_ROOTS or isinstance(updated_node.names, cst.ImportStar):
            return updated_node
        kept = [a for a in updated_node.names if (a.evaluated_alias or a.evaluated_name) not in self.defined]
        if len(kept) == len(updated_node.names):
            return updated_node
        if not kept:
            return cst.RemoveFromParent()
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(names=kept)

    def leave_SimpleStatementLine(self, original_node, updated_node):
        if not updated_node.body:
            return cst.RemoveFromParent()
        return updated_node


def _defined_names(header: list[str]) -> set[str]:
    names = set()
    for statement in _parse_lines(header):
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            names.add(statement.name.value)
    return names


_MAIN = "if __name__ == \"__main__\":"


def _has_main_guard(module: cst.Module) -> bool:
    return any(
        isinstance(statement, cst.If) and "__name__" in _EMPTY.code_for_node(statement.test)
        for statement in module.body
    )


def _is_constant(statement: cst.CSTNode, env) -> bool:
    """`num_classes = 10`, `input_shape = (28, 28, 1)`: a module constant, kept at the top level."""
    from k2t.values import evaluate

    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    if not isinstance(small, cst.Assign) or len(small.targets) != 1:
        return False
    value = evaluate(small.value, env)
    env.bind(small.targets[0].target, value.value)
    return value.known


def _definition_time_names(statement: cst.CSTNode) -> set[str]:
    """Names a def or class reads when it is defined: decorators, defaults, bases, class bodies."""
    class Reads(cst.CSTVisitor):
        def __init__(self):
            self.names: set[str] = set()

        def visit_Name(self, node: cst.Name) -> None:
            self.names.add(node.value)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            for decorator in node.decorators:
                decorator.visit(self)
            node.params.visit(self)
            return False  # the body runs when called, not when defined

    reads = Reads()
    if isinstance(statement, cst.FunctionDef):
        reads.visit_FunctionDef(statement)
    else:
        statement.visit(reads)
    return reads.names


def _bound_names(statements) -> set[str]:
    class Binds(cst.CSTVisitor):
        def __init__(self):
            self.names: set[str] = set()

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            for name in _names_in(node.target):
                self.names.add(name)

        def visit_For(self, node: cst.For) -> None:
            self.names |= _names_in(node.target)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

    binds = Binds()
    for statement in statements:
        statement.visit(binds)
    return binds.names


def _names_in(target: cst.CSTNode) -> set[str]:
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return set().union(*(_names_in(e.value) for e in target.elements)) if target.elements else set()
    return set()


def guard_script(module: cst.Module) -> cst.Module:
    """Module-level script code -> under `if __name__ == "__main__":`, so that the model classes
    can be imported without training. Imports, definitions and constants stay at the top level;
    nothing moves when a definition reads, while it is defined, a name the script binds."""
    from k2t.values import Env

    if _has_main_guard(module):
        return module
    env = Env()
    top, script = [], []
    for i, statement in enumerate(module.body):
        docstring = (
            i == 0
            and isinstance(statement, cst.SimpleStatementLine)
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
        )
        definition = isinstance(statement, (cst.FunctionDef, cst.ClassDef)) or is_import_line(statement)
        if docstring or definition or (not script and _is_constant(statement, env)):
            top.append(statement)
        else:
            script.append(statement)
    if not script:
        return module
    bound = _bound_names(script)
    moved = [s for s in top if module.body.index(s) > module.body.index(script[0])]
    for statement in moved:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            if statement.name.value in bound or _definition_time_names(statement) & bound:
                return module
    first = script[0].with_changes(leading_lines=[line for line in script[0].leading_lines if line.comment])
    body = cst.IndentedBlock([first, *script[1:]])
    guard = cst.If(test=cst.parse_expression('__name__ == "__main__"'), body=body,
                   leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
    return module.with_changes(body=[*top, guard])


def apply(module: cst.Module, edits: Edits, header: list[str], main_guard: bool = False) -> cst.Module:
    if not (edits.statements or edits.expressions or edits.markers or header or any(_keras_imports(module))):
        return module
    new = module.visit(_Rewriter(edits))
    new = new.visit(_DropShadowedKerasImports(_defined_names(["\n\n".join(header)] if header else [])))
    context = CodemodContext()
    generated = "\n".join(edits.generated + header)
    for pattern, (mod, obj, alias) in _NEEDED_IMPORTS:
        if pattern.search(generated):
            AddImportsVisitor.add_needed_import(context, mod, obj, alias)
    for mod, obj, alias in _keras_imports(module):
        RemoveImportsVisitor.remove_unused_import(context, mod, obj, alias)
    # Imports are fixed before the (long) header goes in: the codemods' cost grows with the module.
    new = RemoveImportsVisitor(context).transform_module(new)
    new = AddImportsVisitor(context).transform_module(new)
    if main_guard:
        new = guard_script(new)
    return _insert_header(new, header) if header else new
