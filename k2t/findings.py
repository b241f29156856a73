"""What `k2t check` reports, without the translator: findings, their codes and output formats.

Kept apart from k2t.check (which translates, with libcst) so that the command line can start, list
codes and report files without Keras without importing the translator.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from k2t.diagnostics import ERROR, WARNING, Diagnostic

TRANSLATABLE = "K2T001"
KEPT_IMPORT = "K2T002"

#: Codes of `k2t check` itself (0xx): the other codes come from the translation.
CHECK_CODES = {
    TRANSLATABLE: "Keras/TensorFlow use translatable by k2t convert",
    KEPT_IMPORT: "Keras/TensorFlow import that k2t convert keeps although nothing uses it: remove it",
}


@dataclass(frozen=True, order=True)
class Finding:
    """One Keras use (or diagnostic) at a place in a file; ``cell`` is set for notebooks."""

    cell: int | None
    line: int
    col: int
    code: str
    message: str
    severity: str = ERROR
    translatable: bool = False

    def location(self, path: str) -> str:
        if self.cell is not None:
            return f"{path}:cell {self.cell}:{self.line}:{self.col}"
        return f"{path}:{self.line}:{self.col}"

    def render(self, path: str) -> str:
        return f"{self.location(path)}: {self.code} {self.message}"

    def to_json(self) -> dict:
        data = asdict(self)
        if self.cell is None:
            del data["cell"]
        return data


def _in_cell(finding: Finding, locate) -> Finding:
    where = locate(finding.line)
    if where is None:
        return finding
    cell, line = where
    return Finding(cell + 1, line, finding.col, finding.code, finding.message, finding.severity,
                   finding.translatable)


def findings_from_diagnostics(diagnostics: list[Diagnostic], locate=None) -> list[Finding]:
    findings = [Finding(None, d.line, d.col, d.code, d.message, d.severity, d.severity == WARNING)
                for d in diagnostics]
    if locate is not None:
        findings = [_in_cell(f, locate) for f in findings]
    return sorted(findings)


# --- output formats ------------------------------------------------------------------------------


def github_escape(text: str, property_value: bool = False) -> str:
    """Escape for a GitHub Actions workflow command (data, or a property value)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(path: str, finding: Finding) -> str:
    """``::error file=…,line=…,col=…,title=K2Tnnn::K2Tnnn message``, a GitHub annotation."""
    level = "warning" if finding.severity == WARNING else "error"
    props = [f"file={github_escape(path, True)}"]
    message = f"{finding.code} {finding.message}"
    if finding.cell is None:
        props += [f"line={finding.line}", f"col={finding.col}"]
    else:  # a notebook: GitHub cannot point into a cell, say where in the message
        message = f"cell {finding.cell}:{finding.line}:{finding.col}: {message}"
    props.append(f"title={github_escape(finding.code, True)}")
    return f"::{level} {','.join(props)}::{github_escape(message)}"


def render_github_error(path: str, reason: str) -> str:
    return f"::error file={github_escape(path, True)},title=k2t::{github_escape(reason)}"


def dumps(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
