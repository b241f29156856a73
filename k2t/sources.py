"""Reading and writing Python source files without losing anything.

k2t rewrites users' files in place, so this module is deliberately paranoid:

* a file is decoded in the encoding Python itself would use (UTF-8 BOM or a
  PEP 263 coding line, else UTF-8), keeping its newlines and BOM, so an
  untranslated file is written back byte for byte;
* every problem with an input becomes an :class:`InputError` whose message is
  one line naming the file and the reason, fit to print to a user;
* files are replaced atomically, so an interrupted run never leaves a
  half-written source behind.
"""

from __future__ import annotations

import codecs
import contextlib
import fnmatch
import io
import os
import re
import stat
import tempfile
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "InputError",
    "SourceFile",
    "read_source",
    "encode_source",
    "write_atomic",
    "iter_python_files",
    "PYTHON_SUFFIXES",
    "SKIPPED_DIRS",
]

#: File name suffixes picked up when walking directories.
PYTHON_SUFFIXES = (".py", ".ipynb")

#: Directory names never descended into (on top of hidden ones).
SKIPPED_DIRS = frozenset({"__pycache__", ".venv", "venv", "node_modules"})

# Only the head of a file is checked for NUL bytes: enough to catch binaries
# (and UTF-16, which Python cannot run anyway) without scanning huge files.
_BINARY_SNIFF_BYTES = 8192

_UTF8_BOM = codecs.BOM_UTF8
_NEWLINE_RE = re.compile(r"\r\n|\r|\n")
# The same patterns tokenize uses for PEP 263 declarations.
_COOKIE_RE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+", re.ASCII)
_BLANK_RE = re.compile(rb"^[ \t\f]*(?:[#\r\n]|$)", re.ASCII)


class InputError(Exception):
    """A problem with an input file, explained in one line for the user.

    ``str(error)`` is ``"<path>: <reason>"``; ``path`` and ``reason`` are kept
    as attributes so callers can report or group them differently.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        # The message must stay on one line: it is printed as a list item.
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}")

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class SourceFile:
    """A decoded source file plus what is needed to write it back identically.

    ``text`` has the BOM removed but newlines untouched; ``newline`` is the
    first line ending in the file (``"\\n"`` if it has none).
    """

    path: Path
    text: str
    encoding: str
    newline: str
    bom: bool


def _os_reason(exc: OSError) -> str:
    """A short, lower-case reason for an OSError (no repeated file name)."""
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    reason = exc.strerror or str(exc) or type(exc).__name__
    return reason[:1].lower() + reason[1:]


def _first_newline(text: str) -> str:
    match = _NEWLINE_RE.search(text)
    return match.group() if match else "\n"


def read_source(path: str | os.PathLike[str]) -> SourceFile:
    """Read and decode ``path`` the way Python would; raise InputError if unusable."""
    path = Path(path)
    try:
        # stat first: opening a FIFO or device would block or never end.
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise InputError(path, "is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise InputError(path, "not a regular file")
        # The file may vanish or change type between stat() and here;
        # read_bytes() then raises an OSError that is reported the same way.
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, _os_reason(exc)) from exc

    nul = data.find(b"\0", 0, _BINARY_SNIFF_BYTES)
    if nul != -1:
        raise InputError(
            path, f"binary file (NUL byte at byte {nul}), not Python source"
        )

    try:
        detected, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if not exc.msg.startswith("invalid or missing encoding declaration"):
            # Unknown codec, or a BOM contradicting the coding line.
            raise InputError(path, f"bad encoding declaration: {exc.msg}") from exc
        # Non-UTF-8 bytes in the first two lines and no usable coding line:
        # decoding as UTF-8 below fails with a message naming the byte.
        detected = "utf-8"

    bom = data.startswith(_UTF8_BOM)
    if bom:
        encoding, origin, body = "utf-8", "from its BOM", data[len(_UTF8_BOM) :]
    else:
        encoding, body = detected, data
        origin = (
            "no PEP 263 coding line" if _has_no_cookie(data) else "from its coding line"
        )

    try:
        # bytes.decode never translates newlines, unlike text-mode open().
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        offset = exc.start + (len(_UTF8_BOM) if bom else 0)
        raise InputError(
            path,
            f"cannot decode as {encoding} ({origin}): {exc.reason} at byte {offset}",
        ) from exc

    return SourceFile(
        path=path, text=text, encoding=encoding, newline=_first_newline(text), bom=bom
    )


def _has_no_cookie(data: bytes) -> bool:
    """True if the first two lines carry no PEP 263 coding declaration."""
    # detect_encoding() answers "utf-8" both for an explicit "coding: utf-8"
    # and for no declaration; the error message tells which, so redo its
    # (PEP 263) test here.
    head = io.BytesIO(data)
    for _ in range(2):
        line = head.readline()
        if not line:
            break
        if _COOKIE_RE.match(line):
            return False
        if not _BLANK_RE.match(line):
            break  # PEP 263: the cookie must be on line 1, or 2 after a comment.
    return True


def encode_source(sf: SourceFile, text: str) -> bytes:
    """Encode ``text`` as a new version of ``sf``: same encoding, BOM and newlines.

    Bare ``"\\n"`` line endings in ``text`` become ``sf.newline``; endings that
    are already ``"\\r\\n"`` or ``"\\r"`` are left alone. Encoding ``sf.text``
    itself gives back the original bytes, even with mixed newlines.
    Raises InputError if ``text`` cannot be represented in the encoding or no
    longer declares it where Python looks for it.
    """
    # Unchanged text keeps its newlines as they are, mixed ones included.
    if sf.newline != "\n" and text != sf.text:
        text = re.sub(r"(?<!\r)\n", sf.newline, text)
    try:
        data = text.encode(sf.encoding)
    except UnicodeEncodeError as exc:
        char = exc.object[exc.start]
        line = exc.object.count("\n", 0, exc.start) + 1
        raise InputError(
            sf.path,
            f"cannot encode the translated source as {sf.encoding}: "
            f"{char!r} (U+{ord(char):04X}) on line {line}",
        ) from exc

    if not sf.bom and codecs.lookup(sf.encoding).name != "utf-8":
        # If the translation moved or dropped the coding line, Python would
        # read the file as UTF-8 and choke (or silently misread it).
        try:
            found, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError:
            found = "utf-8"
        if codecs.lookup(found).name != codecs.lookup(sf.encoding).name:
            raise InputError(
                sf.path,
                f"the translated source no longer declares its encoding "
                f"({sf.encoding}) in its first two lines",
            )
    return _UTF8_BOM + data if sf.bom else data


def _default_file_mode() -> int:
    """Permission bits a newly created file gets under the current umask."""
    # os.umask can only be read by setting it; restore it at once.
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see old or new, never half.

    The data goes to a temporary file in the same directory (os.replace is only
    atomic within one file system), is fsynced, gets the original file's
    permission bits, then replaces the target. On any exception, including
    KeyboardInterrupt, the temporary file is removed and the exception
    re-raised. A symlink is written through: its target is replaced and the
    link kept. Missing parent directories are created.
    """
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    target.parent.mkdir(parents=True, exist_ok=True)

    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".k2t-tmp"
    )
    try:
        with open(fd, "wb", closefd=True) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            st = os.stat(target)
        except FileNotFoundError:
            # mkstemp creates 0600; a new file should look like any other.
            os.chmod(tmp_name, _default_file_mode())
        else:
            os.chmod(tmp_name, stat.S_IMODE(st.st_mode))
            if hasattr(os, "chown") and (st.st_uid, st.st_gid) != _owner(tmp_name):
                # Only root can give files away; elsewhere keep our ownership.
                with contextlib.suppress(OSError):
                    os.chown(tmp_name, st.st_uid, st.st_gid)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(target.parent)


def _owner(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_uid, st.st_gid


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable; best effort, not every platform allows it."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _is_excluded(rel: str, name: str, patterns: list[str]) -> bool:
    """Whether a path (relative to its root, '/'-separated) matches an exclude glob."""
    parts = rel.split("/")
    for pattern in patterns:
        if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(name, pattern):
            return True
        if any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


def iter_python_files(
    paths: Iterable[str | os.PathLike[str]], exclude: Iterable[str] = ()
) -> Iterator[tuple[Path, Path]]:
    """Yield ``(root, path)`` for every Python file or notebook under ``paths``.

    Directories are walked recursively in sorted order, picking ``.py`` and
    ``.ipynb`` files and skipping hidden entries, ``__pycache__``, virtual
    environments, ``node_modules`` and anything matching an ``exclude`` glob
    (matched against the path relative to the root and against each of its
    components). ``root`` is the directory given (for a file given directly,
    its parent), so ``path.relative_to(root)`` is where an output belongs.
    Files given directly are always yielded, whatever their name. Each file is
    yielded once. A missing path or an unlistable directory raises InputError.
    """
    patterns = [p.rstrip("/") or p for p in exclude]
    seen: set[Path] = set()

    def once(path: Path) -> bool:
        key = Path(os.path.realpath(path))
        if key in seen:
            return False
        seen.add(key)
        return True

    def walk_error(exc: OSError) -> None:
        raise InputError(
            exc.filename or "?", f"cannot list directory: {_os_reason(exc)}"
        ) from exc

    for given in paths:
        root = Path(given)
        if not root.exists():
            raise InputError(root, "no such file or directory")
        if not root.is_dir():
            if once(root):
                yield root.parent, root
            continue
        for dirpath, dirnames, filenames in os.walk(root, onerror=walk_error):
            here = Path(dirpath)
            rel_dir = here.relative_to(root).as_posix()
            prefix = "" if rel_dir == "." else rel_dir + "/"
            # Pruning dirnames in place stops os.walk descending into them.
            dirnames[:] = sorted(
                d
                for d in dirnames
                if not d.startswith(".")
                and d not in SKIPPED_DIRS
                and not _is_excluded(prefix + d, d, patterns)
            )
            for name in sorted(filenames):
                if name.startswith(".") or not name.endswith(PYTHON_SUFFIXES):
                    continue
                if _is_excluded(prefix + name, name, patterns):
                    continue
                path = here / name
                if once(path):
                    yield root, path
