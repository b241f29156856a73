"""Options of a translation and its one error, apart from the translator (the command line imports
these without libcst; k2t.translate re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass


class TranslationError(Exception):
    """Input that cannot be translated at all (syntax errors, Python 2); str() is one line."""


@dataclass(frozen=True)
class Options:
    line_length: int = 88
    target_versions: tuple[str, ...] = ()
    torch_optimizers: bool = False  # torch's built-in optimizers, with a note where Keras's update differs
    main_guard: bool = True  # script code under `if __name__ == "__main__":` (not for notebooks)
    formatted: bool = True  # black on the output (`k2t check` only needs to know what changes)
    # Comments that stay in the output even where the statement under them goes (a regex matching
    # the whole comment; notebooks' cell markers).
    kept_comments: str | None = None
