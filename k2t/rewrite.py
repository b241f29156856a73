"""Rewrite: apply the planned edits to the module, keep everything else as written, fix imports.

Edits are keyed by the original libcst nodes: statements replaced or removed, call expressions
replaced, `# k2t:` markers above statements that keep something untranslated, and header code
(device, model classes, helpers) placed after the module's leading imports. Comments of removed
statements move to the next statement.

Imports are fixed in the same single pass over the statements that change (:func:`plan_imports`,
then :func:`apply`): a Keras/TensorFlow import goes when nothing references it any more, decided
from the original module's scope metadata (which references survive the edits, see
:meth:`Edits.copies`) and the names the new code uses; imports the new code needs (torch, nn, numpy,
...) are added after the module's leading import block. Where and how imports are added and
removed is what libcst's AddImportsVisitor and RemoveImportsVisitor did here before (the tests in
tests/test_imports_pass.py pin it), without their whole-module passes.
"""

from __future__ import annotations

import ast
import functools
import itertools
import re
import string
from dataclasses import dataclass, field

import libcst as cst
import libcst.helpers

from k2t import cstwalk

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
    (re.compile(r"(?<![\w.])gzip\."), ("gzip", None, None)),
    (re.compile(r"(?<![\w.])io\."), ("io", None, None)),
    (re.compile(r"(?<![\w.])zipfile\."), ("zipfile", None, None)),
    (re.compile(r"(?<![\w.])pickle\."), ("pickle", None, None)),
    (re.compile(r"(?<![\w.])tarfile\."), ("tarfile", None, None)),
    (re.compile(r"(?<![\w.])urllib\.request\."), ("urllib.request", None, None)),
    (re.compile(r"(?<![\w.])OrderedDict\("), ("collections", "OrderedDict", None)),
]


class Edits:
    def __init__(self) -> None:
        self.statements: dict[cst.CSTNode, list[str]] = {}  # original statement -> new lines
        self.before: dict[cst.CSTNode, list[str]] = {}  # lines inserted before a statement
        self.expressions: dict[cst.CSTNode, str] = {}
        self.statement_parts: dict[cst.CSTNode, tuple] = {}  # parts embedded in replacement lines
        self.markers: dict[cst.CSTNode, list[str]] = {}
        self.moved_comments: set[cst.CSTNode] = set()  # removed statements whose comments went elsewhere
        self.parts: set[cst.CSTNode] = set()  # nodes that replacement templates embed
        self.headers: list[str] = []
        self.generated: list[str] = []  # every piece of new code (to find the imports it needs)
        # The same, one entry per piece: (code, whether {{ }} are str.format escapes in it).
        self.blocks: list[tuple[str, bool]] = []

    def replace(self, statement: cst.CSTNode, lines: list[str], parts=()) -> None:
        """Replace a statement by lines; {arg0}, ... in them stand for `parts` (see replace_expression)."""
        self.statements[statement] = lines
        if parts:
            self.statement_parts[statement] = tuple(parts)
            self.parts.update(parts)
        self.generated.extend(lines)
        self.blocks.append(("\n".join(lines), False))

    def remove(self, statement: cst.CSTNode) -> None:
        self.statements[statement] = []

    def replace_expression(self, node: cst.CSTNode, code: str, before=None, lines=(), parts=()) -> None:
        """Replace an expression; {arg0}, {arg1}, ... in code stand for `parts`, original nodes
        inside it, written as they are after their own rewriting (nested translations survive)."""
        self.expressions[node] = (code, tuple(parts))
        self.parts.update(parts)
        self.generated.append(code)
        self.blocks.append((code, bool(parts)))
        if before is not None and lines:
            self.before.setdefault(before, []).extend(lines)
            self.generated.extend(lines)
            self.blocks.append(("\n".join(lines), False))

    def copies(self, node: cst.CSTNode, parents: dict) -> int:
        """How many times an original node's code is in the rewritten module: 0 when a replaced or
        removed statement or expression swallowed it, more than 1 when a template repeats the part
        holding it (what `_Rewriter` does, worked out from the edits alone)."""
        count = 1
        path: set[cst.CSTNode] = set()
        current = node
        while current is not None:
            if current in self.expressions:
                code, parts = self.expressions[current]
                fields = [f for _, f, _, _ in string.Formatter().parse(code) if f] if parts else []
                count *= sum(fields.count(f"arg{i}") for i, part in enumerate(parts) if part in path)
            elif current in self.statements:
                lines = self.statements[current]
                parts = self.statement_parts.get(current, ())
                count *= sum(
                    line.count("{arg%d}" % i) for i, part in enumerate(parts) if part in path for line in lines
                )
            if not count:
                return 0
            path.add(current)
            current = parents.get(current)
        return count

    def snapshot(self) -> tuple:
        return (
            dict(self.statements), {k: list(v) for k, v in self.before.items()}, dict(self.expressions),
            dict(self.statement_parts), {k: list(v) for k, v in self.markers.items()}, set(self.parts),
            list(self.headers), list(self.generated), list(self.blocks),
        )

    def restore(self, snapshot: tuple) -> None:
        (self.statements, self.before, self.expressions, self.statement_parts, self.markers, self.parts,
         self.headers, self.generated, self.blocks) = snapshot

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
    if any(comment.startswith(MARKER) for comment in existing):
        markers = []  # marked by an earlier run: converting k2t's output again leaves it as it is
    new_markers = [cst.EmptyLine(comment=cst.Comment(m)) for m in markers if m not in existing]
    if not comments and not new_markers:
        return statement
    return statement.with_changes(leading_lines=[*comments, *statement.leading_lines, *new_markers])


class _Rewriter(cst.CSTTransformer):
    """One pass over the statements and expressions that change (and their ancestors): everything
    else is left as the very same nodes. ``imports`` maps an import node to its new version, or to
    None where it goes (a line whose imports all go is dropped with its comments)."""

    def __init__(self, edits: Edits, imports: dict | None = None, dirty: set | None = None, kept_comments=None):
        super().__init__()
        self.edits = edits
        self.kept_comments = re.compile(kept_comments) if kept_comments else None
        self.imports = imports or {}
        self.dirty = dirty
        self.updated: dict[cst.CSTNode, cst.CSTNode] = {}  # template parts after rewriting

    def on_visit(self, node) -> bool:
        return self.dirty is None or node in self.dirty

    def on_leave(self, original_node, updated_node):
        if original_node in self.edits.expressions:
            code, parts = self.edits.expressions[original_node]
            fields = {f"arg{i}": _EMPTY.code_for_node(self.updated.get(p, p)) for i, p in enumerate(parts)}
            result = cst.parse_expression(code.format(**fields) if parts else code)
        elif self.imports.get(original_node) is not None:
            result = self.imports[original_node]
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
            dropped = False  # an import line whose imports all go (with its comments)
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
                else:  # only comments in place of the statement: they go above the next one
                    carried += [cst.EmptyLine(comment=cst.Comment(line.strip())) for line in lines if line.strip()]
            elif self.imports and isinstance(original, cst.SimpleStatementLine):
                gone = [small for small in original.body if small in self.imports and self.imports[small] is None]
                if gone:
                    kept = [u for o, u in zip(original.body, updated.body) if o not in gone]
                    if kept:
                        new = [updated.with_changes(body=kept)]
                    else:
                        dropped = True
            before = _parse_lines(self.edits.before.get(original, []))
            if before and new:
                before[0] = before[0].with_changes(
                    leading_lines=[*new[0].leading_lines, *before[0].leading_lines]
                )
                new[0] = new[0].with_changes(leading_lines=[])
            new = before + new
            markers = self.edits.markers.get(original, [])
            if not new:
                if original not in self.edits.moved_comments:
                    carried += [line for line in updated.leading_lines if line.comment is not None]
                    trailing = getattr(updated, "trailing_whitespace", None)
                    if trailing is not None and trailing.comment is not None:
                        carried.append(cst.EmptyLine(comment=trailing.comment))
                if markers:
                    carried += [cst.EmptyLine(comment=cst.Comment(m)) for m in markers]
                continue
            new[0] = _with_comments(new[0], carried, markers)
            carried = []
            if dropped:
                if self.kept_comments is not None:  # e.g. notebook cell markers: never dropped
                    carried = [  # with those carried onto this line from dropped lines above
                        line for line in new[0].leading_lines
                        if line.comment is not None and self.kept_comments.fullmatch(line.comment.value)
                    ]
                continue
            out.extend(new)
        if carried:
            out.append(cst.SimpleStatementLine([cst.Pass()], leading_lines=carried))
        return out

    def leave_IndentedBlock(self, original_node, updated_node):
        if self.dirty is not None and original_node not in self.dirty:
            return updated_node
        body = self._body(original_node.body, updated_node.body)
        return updated_node.with_changes(body=body or [cst.SimpleStatementLine([cst.Pass()])])

    def leave_Module(self, original_node, updated_node):
        return updated_node.with_changes(body=self._body(original_node.body, updated_node.body))


def _header_index(body) -> int:
    """Where header code goes: after the module's docstring and leading import lines."""
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
    return index


def _insert_header(module: cst.Module, header: list[str]) -> cst.Module:
    """Header code (device, model classes, helpers) after the module's docstring and imports."""
    body = list(module.body)
    index = _header_index(body)
    code = _parse_lines(["\n\n".join(header)])
    if code and index > 0:
        code[0] = code[0].with_changes(leading_lines=[cst.EmptyLine()])
    return module.with_changes(body=body[:index] + code + body[index:])


_HEADER_SENTINEL = "__k2t_header_goes_here__"
_LEADING_LINES = re.compile(r"(?:[ \t\f]*(?:#[^\r\n]*)?(?:\r\n|\r|\n))*")


def _code_with_header(module: cst.Module, header: list[str]) -> str:
    """``_insert_header(module, header).code``, without parsing the header: its text goes where a
    placeholder statement was written. Falls back to parsing for modules whose indentation or
    newlines differ from the header's (libcst would rewrite those in the header)."""
    if module.default_indent != "    " or module.default_newline != "\n":
        return _insert_header(module, header).code
    body = list(module.body)
    index = _header_index(body)
    placeholder = cst.SimpleStatementLine([cst.Expr(cst.Name(_HEADER_SENTINEL))])
    code = module.with_changes(body=body[:index] + [placeholder] + body[index:]).code
    text = "\n\n".join(header) + "\n"
    if index > 0:  # the header's first statement loses its leading lines to one empty line
        text = "\n" + text[_LEADING_LINES.match(text).end():]
    marker = _HEADER_SENTINEL + "\n"
    if code.count(_HEADER_SENTINEL) != 1 or marker not in code:
        return _insert_header(module, header).code
    return code.replace(marker, text, 1)


def _keras_library(root: str) -> bool:
    """Keras, TensorFlow, or a library built on them (keras_contrib, tensorflow_addons, ...)."""
    return root in KERAS_ROOTS or root.startswith(("keras_", "tensorflow_"))


def _keras_imports(module: cst.Module):
    """(module, obj, alias) triples of every top-level import of Keras, TensorFlow or a library built
    on them: the imports that go when nothing references them any more (a torch program cannot
    import them)."""
    for node in import_statements(module):
        if isinstance(node.names, cst.ImportStar):
            continue
        for alias in node.names:
            asname = alias.asname.name.value if alias.asname else None
            name = cst.Module([]).code_for_node(alias.name)
            if isinstance(node, cst.Import):
                if _keras_library(name.split(".")[0]):
                    yield name, None, asname
            elif node.module is not None and not node.relative:
                base = cst.Module([]).code_for_node(node.module)
                if _keras_library(base.split(".")[0]):
                    yield base, name, asname


@functools.lru_cache(maxsize=256)
def _defined_in(code: str) -> frozenset[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return frozenset(
            s.name.value for s in _parse_lines([code]) if isinstance(s, (cst.FunctionDef, cst.ClassDef))
        )
    return frozenset(
        s.name for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    )


def _defined_names(header: list[str]) -> set[str]:
    """Top-level functions and classes that the header defines (each piece is whole statements)."""
    names: set[str] = set()
    for code in header:
        names |= _defined_in(code)
    return names


def _filled(code: str, format_template: bool) -> str:
    """A generated piece with its {argN} parts as a plain name (the parts are original code, counted
    where they come from)."""
    text = _PART.sub("__k2t_part__", code)
    if format_template:
        text = text.replace("{{", "{").replace("}}", "}")
    return text


_PART = re.compile(r"\{arg\d+\}")


def _tree(code: str) -> ast.AST | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _generated_trees(pieces: list[tuple[str, bool]], words: set[str]):
    """(code, ast or None) of the generated pieces that mention one of ``words``."""
    if not words or not pieces:
        return
    pattern = re.compile(r"(?<![\w.])(?:" + "|".join(sorted(map(re.escape, words))) + r")\b")
    for code, format_template in pieces:
        if pattern.search(code):
            text = _filled(code, format_template)
            yield text, _tree(text)


def generated_names(pieces: list[tuple[str, bool]], words: set[str]) -> set[str]:
    """Of ``words``, those that generated code reads as a name (what libcst would see as a reference)."""
    found: set[str] = set()
    for text, tree in _generated_trees(pieces, words):
        if tree is None:  # not Python on its own: every word counts
            found |= set(re.findall(r"[A-Za-z_]\w*", text)) & words
            continue
        found |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)}
    return found & words


def _dotted_ast(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted_ast(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def generated_references(pieces: list[tuple[str, bool]], bindings: dict[str, str]) -> list[str]:
    """Outermost Keras/TensorFlow references in generated code, as dotted text; ``bindings`` maps
    the local names of the output's Keras imports to what they import."""
    from k2t.names import canonical

    found = []
    for _, tree in _generated_trees(pieces, set(bindings)):
        if tree is None:
            continue
        inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Name, ast.Attribute)) or id(node) in inner:
                continue
            dotted = _dotted_ast(node)
            if dotted is None:
                continue
            root, _, rest = dotted.partition(".")
            if root in bindings and canonical(bindings[root] + ("." + rest if rest else "")) is not None:
                found.append(dotted)
    return found


@dataclass
class ImportPlan:
    """What happens to the module's imports: ``changes`` maps an import node to its new version or to
    None (it goes); ``keras_left`` says whether the output still imports Keras/TensorFlow, and
    ``bindings`` maps the local names those imports bind to the module path they import."""

    changes: dict = field(default_factory=dict)
    keras_left: bool = False
    bindings: dict = field(default_factory=dict)


def _is_keras_import(node) -> bool:
    """An import of keras/tensorflow (what `k2t check` counts as one)."""
    if isinstance(node, cst.Import):
        return any(_EMPTY.code_for_node(a.name).split(".")[0] in KERAS_ROOTS for a in node.names)
    if isinstance(node, cst.ImportFrom) and not node.relative and node.module is not None:
        return _EMPTY.code_for_node(node.module).split(".")[0] in KERAS_ROOTS
    return False


def _merge_whitespace_after(left, right):
    # As libcst's RemoveImportsVisitor: keep the comments of a removed name's line.
    if not isinstance(right, cst.ParenthesizedWhitespace):
        return left
    if not isinstance(left, cst.ParenthesizedWhitespace):
        return right
    return left.with_changes(empty_lines=tuple(line for line in right.empty_lines if line.comment is not None))


def plan_imports(
    module: cst.Module,
    edits: Edits,
    parents: dict,
    scopes,
    imports: list,
    header: list[str],
    exported=lambda: set(),
) -> ImportPlan:
    """Decide, for every import of the original module (``imports``: Import/ImportFrom nodes in
    order), what the rewritten module keeps of it.

    1. A Keras ``from ... import X`` loses X when the header defines its own X.
    2. A top-level Keras/TensorFlow import (and an import of the same thing elsewhere) loses each
       name that nothing in the rewritten module references: its references in the original
       (``scopes``, libcst's ScopeProvider of the original module) that survive the edits, or a use
       in generated code. Names in ``__all__`` (``exported()``) stay.
    """
    from libcst.metadata.scope_provider import ImportAssignment, _gen_dotted_names

    plan = ImportPlan()
    if not imports:
        return plan
    scheduled_modules: dict[str, str | None] = {}
    scheduled_objects: dict[str, set] = {}
    for mod, obj, alias in _keras_imports(module):
        if obj is None:
            scheduled_modules[mod] = alias
        else:
            scheduled_objects.setdefault(mod, set()).add((obj, alias))
    defined = _defined_names(header) if header else set()

    surviving = [node for node in imports if edits.copies(node, parents) > 0]
    after_shadowing: dict = {}  # import node -> its version after step 1 (None: gone)
    dropped_names: dict = {}  # import node -> local names step 1 took from it
    for node in surviving:
        after_shadowing[node] = node
        if not isinstance(node, cst.ImportFrom) or isinstance(node.names, cst.ImportStar):
            continue
        base = _EMPTY.code_for_node(node.module) if node.module else ""
        if base.split(".")[0] not in KERAS_ROOTS:
            continue
        kept = [a for a in node.names if (a.evaluated_alias or a.evaluated_name) not in defined]
        if len(kept) == len(node.names):
            continue
        dropped_names[node] = {a.evaluated_alias or a.evaluated_name for a in node.names} - {
            a.evaluated_alias or a.evaluated_name for a in kept
        }
        if not kept:
            after_shadowing[node] = None
            continue
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        after_shadowing[node] = node.with_changes(names=kept)

    words = set()
    for node in surviving:
        if isinstance(node.names, cst.ImportStar):
            continue
        for alias in node.names:
            target = alias.evaluated_alias or alias.evaluated_name
            words.add(target.split(".")[0])
    used_by_generated = generated_names(edits.blocks, words) if scheduled_modules or scheduled_objects else set()
    alive: dict = {}

    def assignment_alive(assignment) -> bool:
        found = alive.get(assignment)
        if found is None:
            node = assignment.node
            found = (
                node in after_shadowing
                and after_shadowing[node] is not None
                and assignment.name not in dropped_names.get(node, ())
                and (
                    assignment.name.split(".")[0] in used_by_generated
                    or any(edits.copies(access.node, parents) > 0 for access in assignment.references)
                )
            )
            alive[assignment] = found
        return found

    exports: list = []

    def in_use(node, alias) -> bool:
        scope = scopes.get(node)
        if scope is None:
            return True
        for name, _ in _gen_dotted_names(alias.asname.name if alias.asname else alias.name):
            if not exports:
                exports.append(exported())
            if name in exports[0]:
                return True
            for assignment in scope[name]:
                if isinstance(assignment, ImportAssignment) and assignment_alive(assignment):
                    return True
        return False

    for node in surviving:
        current = after_shadowing[node]
        if current is None:
            plan.changes[node] = None
            continue
        if isinstance(current, cst.Import):
            keep = [
                a for a in current.names
                if a.evaluated_name not in scheduled_modules
                or a.evaluated_alias != scheduled_modules[a.evaluated_name]
                or in_use(node, a)
            ]
            if len(keep) < len(current.names):
                if not keep:
                    current = None
                else:
                    if keep[-1] is not current.names[-1]:
                        keep[-1] = keep[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                    current = current.with_changes(names=keep)
        elif not isinstance(current.names, cst.ImportStar) and not current.relative and current.module is not None:
            module_name = cst.helpers.get_full_name_for_node(current.module)
            if module_name in scheduled_objects:
                current = _without_unused(current, scheduled_objects[module_name], lambda a: in_use(node, a))
        if current is not node:
            plan.changes[node] = current
    for node in surviving:
        current = plan.changes.get(node, node)
        if current is None or not _is_keras_import(current):
            continue
        plan.keras_left = True
        if isinstance(current.names, cst.ImportStar):
            continue
        if isinstance(parents.get(parents.get(node)), cst.Module):
            for alias in current.names:
                if isinstance(current, cst.Import):
                    local = alias.evaluated_alias or alias.evaluated_name.split(".")[0]
                    plan.bindings[local] = alias.evaluated_name if alias.asname else local
                else:
                    base = _EMPTY.code_for_node(current.module)
                    plan.bindings[alias.evaluated_alias or alias.evaluated_name] = f"{base}.{alias.evaluated_name}"
    return plan


class _Exports(cst.CSTVisitor):
    """The names a module lists in ``__all__`` (libcst's GatherExportsVisitor, read with cstwalk)."""

    def __init__(self):
        super().__init__()
        self.names: set[str] = set()
        self._assigned: set = set()
        self._inside: set = set()

    def _target(self, target, value) -> bool:
        if libcst.helpers.get_full_name_for_node(target) == "__all__":
            if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
                self._assigned.add(value)
                return True
        elif isinstance(target, cst.Tuple) and isinstance(value, cst.Tuple):
            for i, element in enumerate(target.elements):
                if libcst.helpers.get_full_name_for_node(element.value) == "__all__":
                    element_value = value.elements[i].value
                    if isinstance(element_value, (cst.List, cst.Tuple, cst.Set)):
                        self._assigned.add(value)
                        self._assigned.add(element_value)
                        return True
        return False

    def visit_AnnAssign(self, node) -> bool:
        return bool(node.value) and self._target(node.target, node.value)

    def visit_AugAssign(self, node) -> bool:
        if (
            isinstance(node.target, cst.Name)
            and node.target.value == "__all__"
            and isinstance(node.operator, cst.AddAssign)
            and isinstance(node.value, (cst.List, cst.Tuple))
        ):
            self._assigned.add(node.value)
            return True
        return False

    def visit_Assign(self, node) -> bool:
        return any(self._target(target.target, node.value) for target in node.targets)

    def _enter(self, node) -> bool:
        if node in self._assigned:
            self._inside.add(node)
            return True
        return False

    def _leave(self, node) -> None:
        self._assigned.discard(node)
        self._inside.discard(node)

    visit_List = visit_Tuple = visit_Set = _enter
    leave_List = leave_Tuple = leave_Set = _leave

    def _string(self, node) -> bool:
        if self._inside:
            name = node.evaluated_value
            if isinstance(name, str):
                self.names.add(name)
        return False

    visit_SimpleString = visit_ConcatenatedString = _string


def exported_names(module: cst.Module) -> set[str]:
    exports = _Exports()
    cstwalk.visit(module, exports)
    return exports.names


def _without_unused(node: cst.ImportFrom, scheduled: set, in_use):
    """RemoveImportsVisitor's leave_ImportFrom for one node: the names scheduled and unused go; the
    comments of their lines stay. Returns the node, its new version, or None."""
    names = node.names
    updates: dict = {}
    names_to_keep = []
    for import_alias in names:
        if (import_alias.evaluated_name, import_alias.evaluated_alias) not in scheduled or in_use(import_alias):
            names_to_keep.append(import_alias)
            continue
        comma = import_alias.comma
        if isinstance(comma, cst.Comma):
            if names_to_keep:
                prev = names_to_keep[-1]
                if isinstance(prev.comma, cst.Comma):
                    prev = prev.with_deep_changes(
                        prev.comma,
                        whitespace_after=_merge_whitespace_after(prev.comma.whitespace_after, comma.whitespace_after),
                    )
                else:
                    prev = prev.with_changes(comma=comma)
                names_to_keep[-1] = prev
            else:
                lpar = node.lpar
                if isinstance(lpar, cst.LeftParen):
                    updates["lpar"] = lpar.with_changes(
                        whitespace_after=_merge_whitespace_after(lpar.whitespace_after, comma.whitespace_after)
                    )
    if len(names_to_keep) == len(names) and all(a is b for a, b in zip(names_to_keep, names)):
        return node
    if not names_to_keep:
        return None
    if names_to_keep[-1] is not names[-1]:
        names_to_keep[-1] = names_to_keep[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    updates["names"] = names_to_keep
    return node.with_changes(**updates)


def _skip_first(body) -> bool:
    """A docstring or __strict__ flag first: AddImportsVisitor never puts imports above it."""
    if not body or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return False
    small = body[0].body[0]
    if isinstance(small, cst.Expr):
        return isinstance(small.value, cst.SimpleString)
    return (
        isinstance(small, cst.Assign)
        and len(small.targets) == 1
        and isinstance(small.targets[0].target, cst.Name)
        and small.targets[0].target.value == "__strict__"
    )


def _single_import(statement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], (cst.Import, cst.ImportFrom))
    )


def add_imports(module: cst.Module, needed: list[tuple[str, str | None, str | None]]) -> cst.Module:
    """AddImportsVisitor's placement: each (module, obj, alias) that the module's leading import
    block does not give yet is added after that block (or merged into a `from module import` in it)."""
    if not needed:
        return module
    module_imports = {m for m, obj, alias in needed if obj is None and alias is None}
    module_mapping = {
        m: {obj for mm, obj, alias in needed if mm == m and obj is not None and alias is None}
        for m in sorted({m for m, obj, alias in needed if obj is not None and alias is None})
    }
    module_aliases = {m: alias for m, obj, alias in needed if obj is None and alias is not None}
    body = list(module.body)
    start = 1 if _skip_first(body) else 0
    block_end = start
    while block_end < len(body) and _single_import(body[block_end]):
        block_end += 1
    have_modules, have_aliases, have_objects = set(), {}, {}
    for statement in body[start:block_end]:
        node = statement.body[0]
        if isinstance(node, cst.Import):
            for name in node.names:
                if name.evaluated_alias is not None:
                    have_aliases[name.evaluated_name] = name.evaluated_alias
                else:
                    have_modules.add(name.evaluated_name)
            continue
        if node.relative or node.module is None:
            continue
        base = cst.helpers.get_full_name_for_node(node.module)
        if isinstance(node.names, cst.ImportStar):
            have_objects[base] = {"*"}
            continue
        objects = {a.evaluated_name for a in node.names if a.asname is None}
        if objects:
            have_objects.setdefault(base, set())
            if "*" in have_objects[base]:
                have_objects[base] = {"*"}
                continue
            have_objects[base] |= objects
    module_imports -= have_modules
    for m, alias in have_aliases.items():
        if module_aliases.get(m) == alias:
            del module_aliases[m]
    for m, objects in have_objects.items():
        if m not in module_mapping:
            continue
        if "*" in objects:
            del module_mapping[m]
        else:
            module_mapping[m] -= objects
            if not module_mapping[m]:
                del module_mapping[m]
    # A `from m import ...` in the block takes the new names of m (the first one only).
    for i in range(start, block_end):
        node = body[i].body[0]
        if not isinstance(node, cst.ImportFrom) or isinstance(node.names, cst.ImportStar) or node.relative:
            continue
        base = cst.helpers.get_full_name_for_node(node.module) if node.module is not None else None
        if base is None or base not in module_mapping:
            continue
        new = [cst.ImportAlias(name=cst.Name(obj)) for obj in sorted(module_mapping.pop(base))]
        body[i] = body[i].with_changes(body=[node.with_changes(names=[*new, *node.names])])
    if not (module_imports or module_mapping or module_aliases):
        return module.with_changes(body=body)
    config = module.config_for_parsing
    added = [cst.parse_statement(f"import {m}", config=config) for m in sorted(module_imports)]
    added += [cst.parse_statement(f"import {m} as {alias}", config=config) for m, alias in module_aliases.items()]
    added += [
        cst.parse_statement(f"from {m} import " + ", ".join(sorted(objects)), config=config)
        for m, objects in module_mapping.items()
        if m != "__future__"
    ]
    after = body[block_end:]
    if after:
        first = after[0]
        if not first.leading_lines:
            after[0] = first.with_changes(leading_lines=(cst.EmptyLine(),))
        elif first.leading_lines[0].comment is not None:
            after[0] = first.with_changes(leading_lines=(cst.EmptyLine(), *first.leading_lines))
    return module.with_changes(body=[*body[:block_end], *added, *after])


def needed_imports(generated: str) -> list[tuple[str, str | None, str | None]]:
    return [spec for pattern, spec in _NEEDED_IMPORTS if pattern.search(generated)]


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
                cstwalk.visit(decorator, self)
            cstwalk.visit(node.params, self)
            return False  # the body runs when called, not when defined

    reads = Reads()
    if isinstance(statement, cst.FunctionDef):
        reads.visit_FunctionDef(statement)
    else:
        cstwalk.visit(statement, reads)
    return reads.names


def bound_names(statements, augmented: bool = False) -> set[str]:
    """Names the statements assign (targets and for-loop variables; not inside nested defs);
    with augmented, also those of `x += ...` and `x: int = ...`."""
    class Binds(cst.CSTVisitor):
        def __init__(self):
            self.names: set[str] = set()

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            for name in _names_in(node.target):
                self.names.add(name)

        def visit_For(self, node: cst.For) -> None:
            self.names |= _names_in(node.target)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            if augmented:
                self.names |= _names_in(node.target)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            if augmented:
                self.names |= _names_in(node.target)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

    binds = Binds()
    for statement in statements:
        cstwalk.visit(statement, binds)
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
    bound = bound_names(script)
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


def apply(
    module: cst.Module,
    edits: Edits,
    header: list[str],
    main_guard: bool = False,
    plan: ImportPlan | None = None,
    parents: dict | None = None,
    kept_comments: str | None = None,
) -> str | None:
    """The rewritten module's code, header included; None when nothing changes.

    One pass over the statements and expressions that change (``plan``: what happens to the
    imports, see :func:`plan_imports`), then the imports the new code needs, the __main__ guard and
    the header, all at the top level.
    """
    if not (edits.statements or edits.expressions or edits.markers or header or any(_keras_imports(module))):
        return None
    plan = plan or ImportPlan()
    if parents is None:
        parents = cstwalk.parents_of(module)
    dirty: set[cst.CSTNode] = set()
    for node in itertools.chain(edits.statements, edits.before, edits.expressions, edits.markers, plan.changes):
        while node is not None and node not in dirty:
            dirty.add(node)
            node = parents.get(node)
    new = module.visit(_Rewriter(edits, plan.changes, dirty, kept_comments))
    new = add_imports(new, needed_imports("\n".join(edits.generated + header)))
    if main_guard:
        new = guard_script(new)
    return _code_with_header(new, header) if header else new.code
