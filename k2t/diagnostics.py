"""Diagnostics: what k2t could not translate (or translated approximately), with a stable code.

Code policy (documented in README.md): K2T0xx `check` findings, K2T1xx layers, K2T2xx custom layers, K2T3xx model graphs,
K2T4xx training (compile/fit/evaluate/predict), K2T5xx other TensorFlow/Keras APIs, K2T9xx internal.
Severity "error" means something was left for a human (exit status 1); "warning" means translated with a
documented difference (exit status unaffected).
"""

from __future__ import annotations

from dataclasses import dataclass, field

CODES: dict[str, str] = {
    "K2T001": "(check) a Keras use that `k2t convert` translates",
    "K2T002": "(check) a Keras import that `convert` keeps although nothing is left for a human",
    "K2T101": "layer has no translation yet",
    "K2T102": "layer argument has no translation",
    "K2T103": "input shape unknown: lazy module used",
    "K2T104": "layer translated with a documented numerical difference",
    "K2T201": "custom layer class (or a line of it) is not translated yet",
    "K2T301": "model construct is not translated yet (functional API, subclassed model)",
    "K2T302": "model attribute or method has no translation",
    "K2T303": "Sequential model without a known input shape",
    "K2T304": "layer list is not a literal list of layer calls",
    "K2T401": "compile argument has no translation",
    "K2T402": "fit/evaluate/predict argument has no translation",
    "K2T403": "training call without a compile() in reach",
    "K2T404": "optimizer or loss translated with a documented numerical difference",
    "K2T501": "TensorFlow/Keras API has no translation",
    "K2T901": "internal error",
    "K2T902": "internal error inside one model or statement: it is left as is, the rest is translated",
}

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, order=True)
class Diagnostic:
    line: int
    col: int
    code: str
    message: str
    severity: str = field(default=ERROR, compare=False)

    def render(self, path: str) -> str:
        return f"{path}:{self.line}:{self.col}: {self.code} {self.message}"

    def to_json(self) -> dict:
        return {
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
        }
