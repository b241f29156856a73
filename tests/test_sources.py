"""Tests for k2t.sources: safe reading, re-encoding and atomic writing."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from k2t import sources
from k2t.sources import (
    InputError,
    SourceFile,
    encode_source,
    iter_python_files,
    read_source,
    write_atomic,
)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- read_source / encode_source ---------------------------------------------


def test_utf8_default(tmp_path):
    f = write(tmp_path / "a.py", "s = 'héllo'\n".encode())
    sf = read_source(f)
    assert sf == SourceFile(
        path=f, text="s = 'héllo'\n", encoding="utf-8", newline="\n", bom=False
    )
    assert encode_source(sf, sf.text) == f.read_bytes()


def test_latin1_with_coding_line_round_trips(tmp_path):
    data = "# -*- coding: latin-1 -*-\ns = 'café'\r\n".encode("latin-1")
    f = write(tmp_path / "a.py", data)
    sf = read_source(f)
    assert sf.encoding == "iso-8859-1"
    assert sf.text == "# -*- coding: latin-1 -*-\ns = 'café'\r\n"
    assert sf.newline == "\n"
    assert encode_source(sf, sf.text) == data


def test_coding_line_on_second_line(tmp_path):
    data = "#!/usr/bin/env python\n# coding=cp1252\nx = '€'\n".encode("cp1252")
    sf = read_source(write(tmp_path / "a.py", data))
    assert sf.text.endswith("x = '€'\n")
    assert encode_source(sf, sf.text) == data


def test_crlf_preserved(tmp_path):
    data = b"import keras\r\nx = 1\r\n"
    sf = read_source(write(tmp_path / "a.py", data))
    assert sf.newline == "\r\n"
    assert sf.text == "import keras\r\nx = 1\r\n"  # not translated to \n
    assert encode_source(sf, sf.text) == data
    # New text with \n line endings takes the file's style.
    assert encode_source(sf, "import torch\nx = 1\n") == b"import torch\r\nx = 1\r\n"


def test_cr_only_newlines(tmp_path):
    sf = read_source(write(tmp_path / "a.py", b"x = 1\ry = 2\r"))
    assert sf.newline == "\r"
    assert encode_source(sf, "a = 1\nb = 2\n") == b"a = 1\rb = 2\r"


def test_mixed_newlines_round_trip(tmp_path):
    data = b"a = 1\r\nb = 2\nc = 3\r\n"
    sf = read_source(write(tmp_path / "a.py", data))
    assert sf.newline == "\r\n"
    assert encode_source(sf, sf.text) == data


def test_no_newline_defaults_to_lf(tmp_path):
    sf = read_source(write(tmp_path / "a.py", b"x = 1"))
    assert sf.newline == "\n"


def test_bom_preserved(tmp_path):
    data = b"\xef\xbb\xbfx = '\xc3\xa9'\n"
    sf = read_source(write(tmp_path / "a.py", data))
    assert sf.bom is True
    assert sf.encoding == "utf-8"
    assert sf.text == "x = 'é'\n"  # the BOM is not part of the text
    assert encode_source(sf, sf.text) == data
    assert encode_source(sf, "y = 2\n") == b"\xef\xbb\xbfy = 2\n"


def test_non_utf8_without_coding_line(tmp_path):
    f = write(tmp_path / "x.py", b"# comment\ns = 'caf\xe9'\n")
    with pytest.raises(InputError) as info:
        read_source(f)
    message = str(info.value)
    assert (
        message
        == f"{f}: cannot decode as utf-8 (no PEP 263 coding line): invalid continuation byte at byte 18"
    )
    assert "\n" not in message
    assert info.value.path == str(f)


def test_bad_bytes_for_declared_encoding(tmp_path):
    f = write(tmp_path / "x.py", b"# coding: ascii\ns = 'caf\xe9'\n")
    with pytest.raises(
        InputError, match=r"cannot decode as ascii \(from its coding line\)"
    ):
        read_source(f)


def test_non_utf8_in_first_line_without_coding(tmp_path):
    # detect_encoding itself rejects this; it must still be an InputError.
    f = write(tmp_path / "x.py", b"s = 'caf\xe9'\n")
    with pytest.raises(
        InputError,
        match=r"x\.py: cannot decode as utf-8 \(no PEP 263 coding line\): .* at byte 8$",
    ):
        read_source(f)


def test_unknown_encoding(tmp_path):
    f = write(tmp_path / "x.py", b"# coding: klingon\nx = 1\n")
    with pytest.raises(
        InputError, match=r"x\.py: bad encoding declaration: unknown encoding"
    ):
        read_source(f)


def test_binary_file(tmp_path):
    f = write(tmp_path / "x.py", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputError, match=r"x\.py: binary file \(NUL byte at byte 8\)"):
        read_source(f)


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as info:
        read_source(tmp_path / "nope.py")
    assert str(info.value) == f"{tmp_path / 'nope.py'}: no such file or directory"


def test_directory(tmp_path):
    with pytest.raises(InputError, match=r": is a directory$"):
        read_source(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_not_read(tmp_path):
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_source(fifo)  # would block forever if opened


def test_unreadable_file(tmp_path, monkeypatch):
    # Simulated: tests may run as root, for whom chmod 000 does not stop reading.
    f = write(tmp_path / "x.py", b"x = 1\n")

    def deny(self):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", deny)
    with pytest.raises(InputError) as info:
        read_source(f)
    assert str(info.value) == f"{f}: permission denied"


def test_file_vanishes_before_reading(tmp_path, monkeypatch):
    f = write(tmp_path / "x.py", b"x = 1\n")

    def vanish(self):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(self))

    monkeypatch.setattr(Path, "read_bytes", vanish)
    with pytest.raises(InputError, match=r"x\.py: no such file or directory"):
        read_source(f)


def test_other_os_error(tmp_path, monkeypatch):
    f = write(tmp_path / "x.py", b"x = 1\n")

    def broken(self):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(Path, "read_bytes", broken)
    with pytest.raises(InputError, match=r"x\.py: input/output error$"):
        read_source(f)


def test_encode_unrepresentable_character(tmp_path):
    sf = read_source(
        write(tmp_path / "a.py", "# coding: latin-1\nx = 'é'\n".encode("latin-1"))
    )
    with pytest.raises(
        InputError,
        match=r"a\.py: cannot encode .* as iso-8859-1: '€' \(U\+20AC\) on line 2",
    ):
        encode_source(sf, "# coding: latin-1\nx = '€'\n")


def test_encode_refuses_to_lose_the_coding_line(tmp_path):
    sf = read_source(
        write(tmp_path / "a.py", "# coding: latin-1\nx = 'é'\n".encode("latin-1"))
    )
    with pytest.raises(InputError, match="no longer declares its encoding"):
        encode_source(sf, "import torch\nimport numpy\n# coding: latin-1\nx = 'é'\n")


def test_input_error_is_one_line():
    error = InputError("a.py", "first\nsecond")
    assert str(error) == "a.py: first second"
    assert error.reason == "first second"


# --- write_atomic ------------------------------------------------------------


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".k2t-tmp"))


def test_write_atomic_replaces_and_keeps_mode(tmp_path):
    f = write(tmp_path / "a.py", b"old\n")
    f.chmod(0o751)
    write_atomic(f, b"new\n")
    assert f.read_bytes() == b"new\n"
    assert stat.S_IMODE(f.stat().st_mode) == 0o751
    assert leftovers(tmp_path) == []


def test_write_atomic_new_file_creates_parents(tmp_path):
    target = tmp_path / "out" / "deep" / "a.py"
    write_atomic(target, b"x = 1\n")
    assert target.read_bytes() == b"x = 1\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_write_atomic_through_symlink(tmp_path):
    real = write(tmp_path / "real.py", b"old\n")
    link = tmp_path / "link.py"
    link.symlink_to(real)
    write_atomic(link, b"new\n")
    assert link.is_symlink()
    assert real.read_bytes() == b"new\n"


@pytest.mark.parametrize("where", ["fsync", "replace", "chmod"])
@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
    ids=["ENOSPC", "Ctrl-C"],
)
def test_write_atomic_failure_leaves_original(tmp_path, monkeypatch, where, error):
    f = write(tmp_path / "a.py", b"original\n")

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(sources.os, where, fail)
    with pytest.raises(type(error)):
        write_atomic(f, b"new contents that must not appear\n")
    monkeypatch.undo()
    assert f.read_bytes() == b"original\n"
    assert leftovers(tmp_path) == []


def test_write_atomic_failure_during_write(tmp_path, monkeypatch):
    f = write(tmp_path / "a.py", b"original\n")
    real_open = open

    class FullDisk:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            self.handle.write(
                data[: len(data) // 2]
            )  # half written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(
        sources, "open", lambda *a, **k: FullDisk(real_open(*a, **k)), raising=False
    )
    with pytest.raises(OSError, match="No space left"):
        write_atomic(f, b"0123456789" * 100)
    assert f.read_bytes() == b"original\n"
    assert leftovers(tmp_path) == []


# --- iter_python_files -------------------------------------------------------


@pytest.fixture
def tree(tmp_path):
    for rel in [
        "pkg/__init__.py",
        "pkg/model.py",
        "pkg/notes.ipynb",
        "pkg/readme.md",
        "pkg/sub/train.py",
        "pkg/sub/generated_pb2.py",
        "pkg/__pycache__/model.cpython-311.py",
        "pkg/.hidden/x.py",
        "pkg/.venv/lib/y.py",
        "pkg/venv/lib/y.py",
        "pkg/node_modules/z.py",
        "pkg/build/out.py",
        "pkg/tests/test_model.py",
        "pkg/.hidden_file.py",
        "top.py",
    ]:
        write(tmp_path / rel, b"x = 1\n")
    return tmp_path


def rels(pairs, base):
    return [
        (root.relative_to(base).as_posix(), path.relative_to(root).as_posix())
        for root, path in pairs
    ]


def test_iter_directory(tree):
    assert rels(iter_python_files([tree / "pkg"]), tree) == [
        ("pkg", "__init__.py"),
        ("pkg", "model.py"),
        ("pkg", "notes.ipynb"),
        ("pkg", "build/out.py"),
        ("pkg", "sub/generated_pb2.py"),
        ("pkg", "sub/train.py"),
        ("pkg", "tests/test_model.py"),
    ]


def test_iter_excludes(tree):
    found = rels(
        iter_python_files(
            [tree / "pkg"], exclude=["build", "*_pb2.py", "tests/*", "sub/train.py"]
        ),
        tree,
    )
    assert found == [
        ("pkg", "__init__.py"),
        ("pkg", "model.py"),
        ("pkg", "notes.ipynb"),
    ]


def test_iter_exclude_matches_any_component(tree):
    found = rels(
        iter_python_files([tree], exclude=["sub", "*.ipynb", "pkg/build/"]), tree
    )
    assert found == [
        (".", "top.py"),
        (".", "pkg/__init__.py"),
        (".", "pkg/model.py"),
        (".", "pkg/tests/test_model.py"),
    ]


def test_iter_explicit_file_and_dedup(tree):
    pairs = list(
        iter_python_files(
            [tree / "pkg" / "readme.md", tree / "pkg" / "model.py", tree / "pkg"]
        )
    )
    assert rels(pairs, tree)[:2] == [("pkg", "readme.md"), ("pkg", "model.py")]
    assert [p.name for _, p in pairs].count("model.py") == 1


def test_iter_missing_path(tmp_path):
    with pytest.raises(InputError, match=r"nope: no such file or directory"):
        list(iter_python_files([tmp_path / "nope"]))


def test_iter_unlistable_directory(tree, monkeypatch):
    def walk(top, onerror=None, **kwargs):
        onerror(PermissionError(errno.EACCES, "Permission denied", str(top)))
        yield from ()

    monkeypatch.setattr(sources.os, "walk", walk)
    with pytest.raises(
        InputError, match=r"pkg: cannot list directory: permission denied"
    ):
        list(iter_python_files([tree / "pkg"]))
