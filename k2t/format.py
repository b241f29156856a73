"""Format: black's API on the final text, with the project's black settings when given."""

from __future__ import annotations

import black


def format_code(code: str, line_length: int = 88, target_versions: tuple[str, ...] = ()) -> str:
    mode = black.Mode(
        line_length=line_length,
        target_versions={black.TargetVersion[v.upper()] for v in target_versions},
    )
    try:
        return black.format_str(code, mode=mode)
    except black.NothingChanged:
        return code
