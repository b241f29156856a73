"""Jupyter notebooks (nbformat 4 JSON) as single Python programs.

A notebook is translated as one program, not cell by cell, because names
defined in one cell (``model = keras.Sequential(...)``) are used in later ones.
:func:`notebook_to_program` joins the code cells, each preceded by a marker
comment, and :func:`program_to_notebook` splits a translated program at those
markers and writes each cell back, leaving everything else untouched.

Anything that is not Python is hidden from the translator in placeholder
comments, which survive both the translator (it keeps comments) and black
(it never rewrites comment text):

* IPython syntax on a line (``%matplotlib inline``, ``!pip install x``,
  ``?obj``, ``obj?``, ``files = !ls``) becomes
  ``# k2t-magic: <nonce> "<the line, JSON-escaped>"`` at the line's indentation;
* a cell whose body is not Python (``%%bash``, ``%%html``) or that still does
  not parse after that is hidden whole, one placeholder per line.

Markers and placeholders carry a nonce derived from the notebook's text, so
code that happens to contain text like a marker is never mistaken for one.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import re
import tokenize
import warnings
from dataclasses import dataclass
from typing import Any

__all__ = ["Program", "notebook_to_program", "program_to_notebook"]

# Cell magics whose body is Python and so should be translated with the rest.
_PYTHON_BODY_CELL_MAGICS = frozenset(
    {"time", "timeit", "capture", "prun", "debug", "python", "python3"}
)
_PYTHON_LANGUAGES = frozenset(
    {"python", "python2", "python3", "ipython", "ipython2", "ipython3"}
)

# Cheap pre-check: could any line of this cell be IPython syntax?
_MAYBE_MAGIC_RE = re.compile(
    r"^[ \t]*[%!?]"  # %magic, !shell, ?help
    r"|\?[ \t]*\r?$"  # help?
    r"|^[ \t]*[A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*[ \t]*=[ \t]*[!%]",
    re.MULTILINE,
)
# `out = !ls`, `t = %timeit -o f()`: IPython's assign-from-magic forms.
_ASSIGN_MAGIC_RE = re.compile(r"^[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[!%]")
_LINE_RE = re.compile(r"[^\n]*\n|[^\n]+")
_EOL_RE = re.compile(r"\r?\n$")
_LEADING_BLANK_RE = re.compile(r"\A(?:[ \t\f]*(?:\r\n|\r|\n))+")
_JSON_STRING = r'"(?:[^"\\\n]|\\.)*"'


@dataclass(frozen=True)
class Program:
    """A notebook's code cells joined into one Python program.

    ``text`` is what to translate (``str(program)`` gives it too); ``cells``
    are the indices in the notebook's ``cells`` list of the code cells it
    holds, in order; ``verbatim`` those of them hidden whole because they are
    not Python.
    """

    text: str
    cells: tuple[int, ...]
    verbatim: tuple[int, ...]
    nonce: str

    def __str__(self) -> str:
        return self.text

    @property
    def marker_pattern(self) -> str:
        """A regex matching a whole cell marker of ``text`` (a translation must keep them); group 1 is
        the cell."""
        return _marker_pattern(self.nonce)

    def locate(self, line: int) -> tuple[int, int] | None:
        """Map a 1-based line of ``text`` to ``(cell index, 1-based line in it)``.

        Exact because masking replaces lines one for one. None for a marker
        line or a line outside the program. Meant for diagnostics reported
        against the untranslated program.
        """
        marker = re.compile(self.marker_pattern)
        cell, first = None, 0
        for number, text in enumerate(self.text.splitlines(), start=1):
            if number > line:
                break
            found = marker.fullmatch(text)
            if found:
                cell, first = int(found.group(1)), number
        if cell is None or line == first or line > self.text.count("\n"):
            return None
        return cell, line - first


def notebook_to_program(nb_text: str) -> Program:
    """Join the code cells of the notebook ``nb_text`` into one program.

    Raises ValueError (one-line message) if ``nb_text`` is not an nbformat 4
    notebook of a Python kernel.
    """
    nb = _load(nb_text)
    nonce = _nonce(nb_text)
    parts: list[str] = []
    cells: list[int] = []
    verbatim: list[int] = []
    for index, cell in _code_cells(nb):
        masked, whole = _mask_cell(_cell_text(cell), nonce)
        cells.append(index)
        if whole:
            verbatim.append(index)
        parts.append(_cell_marker(index, nonce) + "\n")
        parts.append(masked if not masked or masked.endswith("\n") else masked + "\n")
    return Program(
        text="".join(parts), cells=tuple(cells), verbatim=tuple(verbatim), nonce=nonce
    )


def program_to_notebook(nb_text: str, program: str) -> str:
    """Write the (translated) ``program`` back into the notebook ``nb_text``.

    ``program`` must come from ``notebook_to_program(nb_text)``, translated in
    any way that keeps the cell marker comments. Code before the first marker
    (say, added imports) goes to the first code cell. Cells whose code did not
    change keep their original source exactly; non-code cells, outputs and
    metadata are never touched; if nothing changed, ``nb_text`` is returned
    as is. Raises ValueError if the markers are missing or out of order.
    """
    nb = _load(nb_text)
    nonce = _nonce(nb_text)
    code_cells = list(_code_cells(nb))
    expected = [index for index, _ in code_cells]

    marker_re = re.compile(
        rf"^[ \t]*# k2t-cell: (\d+) {nonce}[ \t]*(?:\r\n|\r|\n|\Z)", re.MULTILINE
    )
    markers = list(marker_re.finditer(program))
    found = [int(m.group(1)) for m in markers]
    if found != expected:
        raise ValueError(
            f"the translated program does not have the notebook's cell markers in order "
            f"(expected cells {expected}, found {found})"
        )
    if not markers:
        if program.strip():
            raise ValueError(
                "the translated program has code but the notebook has no code cell"
            )
        return nb_text

    bounds = [m.end() for m in markers]
    ends = [m.start() for m in markers[1:]] + [len(program)]
    chunks = [program[start:end] for start, end in zip(bounds, ends)]
    head = program[: markers[0].start()]
    if head.strip():
        chunks[0] = head + chunks[0]

    changed = False
    for (index, cell), chunk in zip(code_cells, chunks):
        original = _cell_text(cell)
        masked, _ = _mask_cell(original, nonce)
        # Compare ignoring blank edges: black adds blank lines around markers.
        if _trim(chunk) == _trim(masked):
            continue
        # Trim before restoring: a restored magic may end in meaningful blanks.
        restored = _restore(_trim(chunk), nonce)
        # Keep the cell's own trailing line breaks (usually none) instead of
        # the newline the program needed after each cell.
        restored += re.sub(r"[^\r\n]", "", original[len(original.rstrip()) :])
        if restored == original:
            continue
        nb["cells"][index]["source"] = _LINE_RE.findall(restored)
        changed = True

    if not changed:
        return nb_text
    return _dump(nb, nb_text)


# --- Loading and dumping -----------------------------------------------------


def _load(nb_text: str) -> dict[str, Any]:
    """Parse and sanity-check notebook JSON, raising a one-line ValueError."""
    try:
        nb = json.loads(nb_text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"not a notebook: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise ValueError("not a notebook: JSON nested too deeply") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError('not a notebook: no "cells" list at the top level')
    version = nb.get("nbformat", 4)
    if version != 4:
        raise ValueError(
            f"unsupported notebook format version {version!r} (only nbformat 4 is supported)"
        )
    for position, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise ValueError(f"not a notebook: cell {position} has no cell_type")
        source = cell.get("source", "")
        if not isinstance(source, str) and not (
            isinstance(source, list) and all(isinstance(line, str) for line in source)
        ):
            raise ValueError(f"not a notebook: cell {position} has a malformed source")
    language = _language(nb.get("metadata"))
    if language is not None and language.lower() not in _PYTHON_LANGUAGES:
        raise ValueError(f"not a Python notebook (kernel language: {language})")
    return nb


def _language(metadata: Any) -> str | None:
    if not isinstance(metadata, dict):
        return None
    for key, field in (("kernelspec", "language"), ("language_info", "name")):
        section = metadata.get(key)
        if isinstance(section, dict) and isinstance(section.get(field), str):
            return section[field]
    return None


def _dump(nb: dict[str, Any], nb_text: str) -> str:
    """Serialise like nbformat, following the original file's own style."""
    # nbformat writes indent=1; follow whatever indentation the file used.
    match = re.search(r"\n( +)\S", nb_text)
    indent = len(match.group(1)) if match else 1
    # A pure-ASCII file with \u escapes was written with ensure_ascii=True.
    ensure_ascii = nb_text.isascii() and "\\u" in nb_text
    text = json.dumps(nb, indent=indent, ensure_ascii=ensure_ascii)
    return text + "\n" if nb_text.endswith("\n") else text


def _code_cells(nb: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return [
        (i, cell) for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
    ]


def _cell_text(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def _nonce(nb_text: str) -> str:
    # Derived from the notebook, so program_to_notebook finds it again, and
    # no cell can contain it (it would have to contain its own hash).
    return hashlib.sha256(nb_text.encode("utf-8", "surrogatepass")).hexdigest()[:10]


def _marker_pattern(nonce: str) -> str:
    return rf"# k2t-cell: (\d+) {nonce}"


def _cell_marker(index: int, nonce: str) -> str:
    return f"# k2t-cell: {index} {nonce}"


# --- Masking IPython syntax -------------------------------------------------


def _mask_cell(src: str, nonce: str) -> tuple[str, bool]:
    """Return ``(python_text, hidden_whole)`` for one cell's source."""
    if not src.strip():
        return src, False
    lines = _LINE_RE.findall(src)
    first = next(i for i, line in enumerate(lines) if line.strip())
    cell_magic = re.match(r"%%\s*(\w+)(.*)", lines[first])
    if cell_magic:
        name, args = cell_magic.group(1), cell_magic.group(2).split()
        writes_python = name == "writefile" and bool(args) and args[-1].endswith(".py")
        if name not in _PYTHON_BODY_CELL_MAGICS and not writes_python:
            return _mask_whole(lines, nonce), True
    elif not _MAYBE_MAGIC_RE.search(src):
        if _parses(src):
            return src, False
        return _mask_whole(lines, nonce), True

    magics = _find_magics(lines, first if cell_magic else None)
    masked = _mask_lines(lines, magics, nonce, use_pass=False)
    if _parses(masked):
        return masked, False
    # A magic alone in a block leaves the block empty; give it a `pass`.
    with_pass = _mask_lines(lines, magics, nonce, use_pass=True)
    if with_pass != masked and _parses(with_pass):
        return with_pass, False
    return _mask_whole(lines, nonce), True


def _split_eol(line: str) -> tuple[str, str]:
    match = _EOL_RE.search(line)
    eol = match.group() if match else ""
    return line[: len(line) - len(eol)], eol


def _find_magics(
    lines: list[str], cell_magic_line: int | None
) -> dict[int, int | None]:
    """Find IPython lines: ``{line number: None, or the line it continues}``.

    Only lines that start a logical line can be IPython syntax: a docstring
    line starting with ``%`` is not a magic. To know where logical lines
    start, the cell is tokenized once, lazily: ``readline`` decides about each
    line from the tokens produced so far, and hands the tokenizer a blank line
    in place of a magic so that it never sees non-Python text.
    """
    magics: dict[int, int | None] = {}
    depth = 0  # bracket nesting
    last: tokenize.TokenInfo | None = None
    numbered = enumerate(lines)
    continues: int | None = None  # line whose backslash continues onto this one

    def readline() -> str:
        nonlocal continues
        for number, line in numbered:
            body, _ = _split_eol(line)
            # A logical line starts here if the previous line ended one: its
            # last token is a NEWLINE/NL on that very line (inside a string
            # the tokenizer reads lines without producing tokens).
            at_start = number == 0 or (
                depth == 0
                and last is not None
                and last.type in (tokenize.NEWLINE, tokenize.NL)
                and last.start[0] == number
            )
            if continues is not None:
                magics[number] = continues
            elif number == cell_magic_line or (at_start and _is_magic(body)):
                magics[number] = None
            else:
                return line
            if body.endswith("\\"):
                continues = number if continues is None else continues
            else:
                continues = None
            return "\n"
        return ""

    try:
        for token in tokenize.generate_tokens(readline):
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in ")]}":
                depth = max(depth - 1, 0)
            last = token
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass  # not Python; the parse check will hide the whole cell
    return magics


def _mask_lines(
    lines: list[str], magics: dict[int, int | None], nonce: str, use_pass: bool
) -> str:
    """Replace the IPython lines found by _find_magics with placeholders."""
    out: list[str] = []
    for number, line in enumerate(lines):
        if number not in magics:
            out.append(line)
            continue
        body, eol = _split_eol(line)
        head = magics[number]
        if head is None:
            indent = body[: len(body) - len(body.lstrip())]
            statement = "pass  " if use_pass and indent else ""
            out.append(f"{indent}{statement}{_placeholder(body.lstrip(), nonce)}{eol}")
        else:
            # A continuation's indentation is part of the command, not block
            # structure: keep it in the placeholder, placed like the line it
            # continues.
            head_body = _split_eol(lines[head])[0]
            indent = head_body[: len(head_body) - len(head_body.lstrip())]
            content = body[len(indent) :] if body.startswith(indent) else body.lstrip()
            out.append(f"{indent}{_placeholder(content, nonce)}{eol}")
    return "".join(out)


def _mask_whole(lines: list[str], nonce: str) -> str:
    """Hide every line, indentation included, at column 0."""
    out = []
    for line in lines:
        body, eol = _split_eol(line)
        out.append(_placeholder(body, nonce) + eol)
    return "".join(out)


def _placeholder(content: str, nonce: str) -> str:
    # JSON with ensure_ascii: one line, no trailing blanks, plain ASCII, so
    # neither black nor a re-encoding of the program can alter it.
    return f"# k2t-magic: {nonce} {json.dumps(content)}"


def _restore(text: str, nonce: str) -> str:
    """Put the original lines back in place of placeholders."""
    pattern = re.compile(
        rf"^([ \t]*)(?:pass[ \t]*)?# k2t-magic: {nonce} ({_JSON_STRING})[ \t]*(\r?)$",
        re.MULTILINE,
    )
    return pattern.sub(lambda m: m.group(1) + json.loads(m.group(2)) + m.group(3), text)


def _is_magic(line: str) -> bool:
    """Whether a line starting a logical line is IPython syntax, not Python."""
    stripped = line.strip()
    if not stripped:
        return False
    if stripped[0] in "%!?" or _ASSIGN_MAGIC_RE.match(stripped):
        return True
    if stripped.endswith("?"):
        # `obj?` / `obj??` asks for help, but `x = 1  # why?` is Python.
        return not _has_comment_or_fails(stripped.rstrip("?"))
    return False


def _has_comment_or_fails(code: str) -> bool:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return True
    return any(token.type == tokenize.COMMENT for token in tokens)


def _parses(code: str) -> bool:
    with warnings.catch_warnings():
        # Invalid escapes etc. warn at parse time; that is not our business.
        warnings.simplefilter("ignore")
        try:
            ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    return True


def _trim(text: str) -> str:
    """Drop blank lines at both ends (black adds them around markers)."""
    return _LEADING_BLANK_RE.sub("", text).rstrip()
