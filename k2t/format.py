"""Format: black's API on the final text, with the project's black settings when given."""

from __future__ import annotations



def format_code(code: str, line_length: int = 88, target_versions: tuple[str, ...] = ()) -> str:
    import black  # here, not at the top: `k2t check` and `--help` never format

    mode = black.Mode(
        line_length=line_length,
        target_versions={black.TargetVersion[v.upper()] for v in target_versions},
    )
    try:
        return black.format_str(code, mode=mode)
    except black.NothingChanged:
        return code
