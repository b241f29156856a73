"""Before parsing: a cheap look at a source that says when translating it cannot change anything.

Translation starts with a top-level import of keras, tensorflow or tf_keras; such an import names one
of these words. A source that never names them and that CPython parses is left byte-identical by
`convert` and has no Keras uses for `check`: neither libcst nor the translator needs to see it (nor be
imported). Anything else, syntax errors included, goes the full way, so the messages stay the same.
"""

from __future__ import annotations

import ast
import re
import warnings

_KERAS_WORD = re.compile(r"\b(?:keras|tensorflow|tf_keras)\b")


def may_use_keras(text: str) -> bool:
    """Whether the text names keras, tensorflow or tf_keras anywhere (comments and strings included)."""
    return _KERAS_WORD.search(text) is not None


def plain_python(text: str) -> bool:
    """True when translating ``text`` is known to change nothing: it names no Keras and it parses."""
    if may_use_keras(text):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes and the like warn at parse time
        try:
            ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
            return False  # the full way reports it, as it always has
    return True
