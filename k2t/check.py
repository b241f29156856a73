"""What Keras/TensorFlow a program still uses, and whether `k2t convert` translates each use.

:func:`analyse_source` translates a program (never writing anything) and lists its Keras uses as
:class:`Finding` items:

* every error diagnostic of the translation is a use that needs a human (its own code, K2T1xx-5xx);
* every outermost Keras/TensorFlow reference (``keras.layers.Dense``, ``tf.random.set_seed``, an alias
  of one) outside the statements those diagnostics point into, and outside the statements of models
  that were not translated, is translatable: K2T001 "translatable by k2t convert: <reference>";
* an import of keras/tensorflow is translatable (K2T001) when the translation drops every such
  import; when the translation keeps it although nothing else is left for a human, it is K2T002;
* warnings of the translation (documented numerical differences) are listed with their own code and
  severity "warning".

Locations are the program's; in a notebook they are mapped to the cell (``cell`` counts all cells of
the notebook from 1, markdown included, as they appear top to bottom) and the line in that cell.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass

import libcst as cst

from k2t import cstwalk
from k2t.diagnostics import ERROR, WARNING
from k2t.findings import (  # noqa: F401 - re-exported: k2t.check is where callers find them
    CHECK_CODES,
    KEPT_IMPORT,
    TRANSLATABLE,
    Finding,
    _in_cell,
    dumps,
    findings_from_diagnostics,
    github_escape,
    render_github,
    render_github_error,
)
from k2t.names import resolver_for
from k2t.translate import Options, Result, TranslationError, parse, statement_of, translate_module  # noqa: F401 - TranslationError re-exported

__all__ = [
    "CHECK_CODES",
    "Finding",
    "Analysis",
    "analyse_source",
    "keras_uses",
    "render_github",
    "github_escape",
]

_KERAS_ROOTS = ("keras", "tensorflow", "tf_keras")
_STATEMENT = (cst.SimpleStatementLine, cst.BaseCompoundStatement)
_MENTIONS_KERAS = re.compile(r"\b(?:keras|tensorflow|tf_keras)\b")


@dataclass
class Analysis:
    """A translation of one program and the Keras uses found in it."""

    result: Result
    findings: list[Finding]

    @property
    def uses(self) -> list[Finding]:
        """Keras uses: the findings that are not warnings."""
        return [f for f in self.findings if f.severity != WARNING]

    @property
    def translatable(self) -> int:
        return sum(f.translatable for f in self.uses)


def _is_keras_module(name: str | None) -> bool:
    return bool(name) and name.split(".")[0] in _KERAS_ROOTS


def _dotted(node: cst.BaseExpression | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr.value}" if head else None
    return None


def _imports_keras(node: cst.CSTNode) -> bool:
    if isinstance(node, cst.Import):
        return any(_is_keras_module(_dotted(alias.name)) for alias in node.names)
    if isinstance(node, cst.ImportFrom) and not node.relative:
        return _is_keras_module(_dotted(node.module))
    return False


class _Collector(cst.CSTVisitor):
    """Outermost Keras references and Keras import statements of a module."""

    def __init__(self, resolver, parents):
        super().__init__()
        self.resolver = resolver
        self.parents = parents
        self.references: list[cst.CSTNode] = []
        self.imports: list[cst.SimpleStatementLine] = []

    def _import(self, node) -> bool:
        if _imports_keras(node):
            statement = self.parents.get(node)
            if isinstance(statement, cst.SimpleStatementLine) and statement not in self.imports:
                self.imports.append(statement)
        return False

    def visit_Import(self, node: cst.Import) -> bool:
        return self._import(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return self._import(node)

    def _reference(self, node) -> bool:
        if self.resolver.key(node) is None:
            return True
        parent = self.parents.get(node)
        if isinstance(parent, cst.Attribute) and parent.value is node:
            return True  # the outer attribute decides
        self.references.append(node)
        return False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        return self._reference(node)

    def visit_Name(self, node: cst.Name) -> bool:
        return self._reference(node)


def _innermost_statement_at(line: int, col: int, spans) -> cst.CSTNode | None:
    """The smallest statement whose span holds (line, 1-based col)."""
    best, best_size = None, None
    for node, (start, end) in spans:
        if start <= (line, col - 1) < end or (start == (line, col - 1)):
            size = (end[0] - start[0], end[1] - start[1])
            if best is None or size < best_size:
                best, best_size = node, size
    return best


class _Spans:
    """_innermost_statement_at for many points: statements nest, so the innermost statement holding a
    point is found among those starting last before it (not by trying every statement)."""

    def __init__(self, spans):
        self.spans = sorted(((start, i, end, node) for i, (node, (start, end)) in enumerate(spans)))
        self.starts = [span[0] for span in self.spans]

    def innermost(self, line: int, col: int) -> cst.CSTNode | None:
        point = (line, col - 1)
        best = None  # (size, index, node)
        found_start = None
        for k in range(bisect.bisect_right(self.starts, point) - 1, -1, -1):
            start, index, end, node = self.spans[k]
            if found_start is not None and start < found_start:
                break
            if point < end or start == point:
                size = (end[0] - start[0], end[1] - start[1])
                if best is None or (size, index) < best[:2]:
                    best = (size, index, node)
                found_start = start
        return best[2] if best else None


def _first_line(code: str) -> str:
    text = " ".join(code.strip().split())
    return text if len(text) <= 80 else text[:77] + "..."


def keras_uses(module: cst.Module, result: Result) -> list[Finding]:
    """The findings of a module that ``result`` is the translation of (``translate_module(module)``).

    Locations are lines and columns of ``module``; cells are left unset.
    """
    findings: list[Finding] = []
    for d in result.diagnostics:
        findings.append(Finding(None, d.line, d.col, d.code, d.message, d.severity, d.severity == WARNING))
    if not result.has_keras:
        return findings

    uses = result.uses if result.uses is not None and result.uses.module is module else None
    if uses is not None:  # what the translation's own pass found: the module is not read again
        positions, parents = uses.positions, uses.parents
        references, imports = uses.references, uses.import_statements
    else:
        wrapper = cst.MetadataWrapper(module, unsafe_skip_copy=True)
        positions = cstwalk.Positions(module)
        parents = cstwalk.parents_of(module)
        collector = _Collector(resolver_for(wrapper), parents)
        cstwalk.visit(module, collector)
        references, imports = collector.references, collector.imports

    human: set[cst.CSTNode] = set()
    if result.errors:
        spans = [
            (node, ((p.start.line, p.start.column), (p.end.line, p.end.column)))
            for node in list(positions.nodes())
            if isinstance(node, _STATEMENT)
            for p in (positions[node],)
        ]
        index = _Spans(spans)
        for d in result.errors:
            statement = index.innermost(d.line, d.col)
            if statement is not None:
                human.add(statement)
    # Every statement of a model that was not translated stays as it is, reported or not.
    for model in result.untranslated:
        human.add(model.creation)
        human.update(model.build_statements)
        human.update(usage.statement for usage in model.usages)

    def reported(node) -> bool:
        # A marked compound statement (a loop, a method kept as it is) covers the lines inside it.
        statement = statement_of(node, parents)
        while statement is not None:
            if statement in human:
                return True
            statement = statement_of(parents.get(statement), parents)
        return False

    translatable, kept = [], Counter()
    for node in references:
        if reported(node):
            kept[_key_text(module.code_for_node(node))] += 1
        else:
            translatable.append(node)

    # Safety net: a reference that the translation left in its output without reporting it is not
    # translatable, whatever the statements say. Counted per reference text.
    surplus = Counter()
    if uses is not None:
        output_imports = uses.keras_left if result.changed else bool(imports)
        if result.changed and uses.keras_left:
            surplus = uses.output_references() - kept
    else:
        output = _OutputScan(result.code) if result.changed else None
        output_imports = output.imports_keras if output is not None else bool(imports)
        if output is not None and output.imports_keras:
            surplus = output.references() - kept
    unreported = 0
    for node in translatable:
        start = positions[node].start
        text = module.code_for_node(node)
        what = _first_line(text)
        if surplus[_key_text(text)] > 0:
            surplus[_key_text(text)] -= 1
            unreported += 1
            findings.append(
                Finding(None, start.line, start.column + 1, "K2T501",
                        f"{what} is left as is by k2t convert (no translation yet)")
            )
            continue
        findings.append(
            Finding(None, start.line, start.column + 1, TRANSLATABLE, f"translatable by k2t convert: {what}",
                    ERROR, True)
        )

    if imports:
        for statement in imports:
            start = positions[statement].start
            what = _first_line(module.code_for_node(statement.body[0]) if statement.body else "import")
            if not output_imports:
                findings.append(
                    Finding(None, start.line, start.column + 1, TRANSLATABLE,
                            f"translatable by k2t convert: {what} (removed)", ERROR, True)
                )
            elif not result.errors and not result.untranslated and not unreported:
                findings.append(
                    Finding(None, start.line, start.column + 1, KEPT_IMPORT,
                            f"{what}: k2t convert keeps this import; remove it by hand if nothing uses it")
                )
    return sorted(set(findings))


def _key_text(code: str) -> str:
    return "".join(code.split())


class _OutputScan:
    """The translated code: does it import Keras, which Keras references are left in it."""

    def __init__(self, code: str):
        if not _MENTIONS_KERAS.search(code):
            self.module, self.imports_keras = None, False
            return
        try:
            self.module = cst.parse_module(code)
        except Exception:  # noqa: BLE001 - an unparsable output is reported elsewhere
            self.module = None
        self.imports_keras = self.module is None or any(
            _imports_keras(node) for node in _import_nodes(self.module)
        )

    def references(self) -> Counter:
        if self.module is None:
            return Counter()
        wrapper = cst.MetadataWrapper(self.module, unsafe_skip_copy=True)
        collector = _Collector(resolver_for(wrapper), cstwalk.parents_of(self.module))
        cstwalk.visit(self.module, collector)
        return Counter(_key_text(self.module.code_for_node(node)) for node in collector.references)


def _import_nodes(module: cst.Module) -> list[cst.CSTNode]:
    found: list[cst.CSTNode] = []

    class Finder(cst.CSTVisitor):
        def visit_Import(self, node) -> bool:
            found.append(node)
            return False

        def visit_ImportFrom(self, node) -> bool:
            found.append(node)
            return False

    cstwalk.visit(module, Finder())
    return found


def safe_parse(text: str) -> cst.Module:
    """The engine's parse (kept under this name for callers of check)."""
    return parse(text)


def analyse_source(text: str, options: Options = Options(), locate=None) -> Analysis:
    """Translate ``text`` and list its Keras uses; raises TranslationError for untranslatable input.

    ``locate`` maps a program line to ``(cell index, line in cell)`` (a notebook Program's locate):
    then every finding gets its 1-based cell number and line in the cell.
    """
    module = safe_parse(text)
    result = translate_module(text, module, options)
    findings = keras_uses(module, result)
    if locate is not None:
        findings = sorted(_in_cell(f, locate) for f in findings)
    return Analysis(result, findings)
