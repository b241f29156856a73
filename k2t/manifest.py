"""Which output files k2t wrote: ``.k2t-manifest.json`` in the output root.

`k2t convert -o OUT` never overwrites a file it did not write. An existing output file is replaced only
when

* the manifest of its output root lists it with the sha256 of its current content (k2t wrote it, and
  nobody edited it since), or
* its content is already exactly what k2t would write, or
* ``--force`` is given.

Anything else (a hand-written file, an edited translation, an input file) is refused with a one-line
error for that file. The manifest itself is written atomically, after every batch of writes and on
the way out of an interrupted run.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from k2t.sources import write_atomic

__all__ = ["MANIFEST_NAME", "Manifest", "sha256"]

MANIFEST_NAME = ".k2t-manifest.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Manifest:
    """The files written under one output root, keyed by '/'-separated path relative to it."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.path = self.root / MANIFEST_NAME
        self.files: dict[str, str] = {}
        self.dirty = False
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            files = data.get("files", {}) if isinstance(data, dict) else {}
            self.files = {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)}
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            self.files = {}  # no manifest (or an unreadable one): nothing counts as k2t's

    def key(self, target: Path) -> str:
        try:
            return Path(os.path.abspath(target)).relative_to(os.path.abspath(self.root)).as_posix()
        except ValueError:
            return Path(os.path.abspath(target)).as_posix()

    def refusal(self, target: Path, data: bytes) -> str | None:
        """Why ``target`` must not be overwritten with ``data``, or None when it may be."""
        if not os.path.lexists(target):
            return None
        if target.is_dir():
            return "the output path is a directory"
        try:
            current = target.read_bytes()
        except OSError as exc:
            return f"the output exists and cannot be read ({exc.strerror or exc})"
        if current == data:
            return None
        if self.files.get(self.key(target)) == sha256(current):
            return None
        if self.key(target) in self.files:
            return "the output was edited since k2t wrote it; not overwritten (use --force to overwrite)"
        return "the output exists and is not an earlier k2t output; not overwritten (use --force to overwrite)"

    def record(self, target: Path, data: bytes) -> None:
        self.files[self.key(target)] = sha256(data)
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        body = {
            "about": "Files written by k2t convert; k2t overwrites only these (unless edited) or with --force.",
            "version": 1,
            "files": dict(sorted(self.files.items())),
        }
        write_atomic(self.path, (json.dumps(body, indent=2) + "\n").encode("utf-8"))
        self.dirty = False
