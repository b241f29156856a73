"""Bad input: a one-line error naming the file, exit 2 for it, the other files still processed, no
traceback, nothing half-written, inputs never lost."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import k2t.cli
import k2t.sources
from k2t.cli import main

TINY = "import keras\n\nmodel = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])\n"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def tree_with(tmp_path: Path, name: str, data: bytes) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.py").write_text(TINY)
    (src / name).write_bytes(data)
    return src


def assert_one_error_and_good_converted(result, out: Path, bad: Path, reason: str):
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    (line,) = errors(result)
    assert line.startswith(f"error: {bad}")
    assert re.search(reason, line), line
    assert b"nn.Module" in (out / "good.py").read_bytes()  # the other file is still converted
    assert not (out / bad.name).exists()  # no partial output for the bad one
    assert "1 failed" in result.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("syntax.py", b"import keras\nx = (1,\ny = 2\n", r"syntax\.py:\d+:\d+: syntax error"),
        ("py2.py", b'import keras\nprint "hello"\n', r"py2\.py:2:\d+: Python 2 code is not supported"),
        ("latin.py", "import keras\ns = 'caf\u00e9'\n".encode("latin-1"),
         r"latin\.py: cannot decode as utf-8 \(no PEP 263 coding line\)"),
        ("binary.py", b"\x7fELF\x02\x01\x01\x00\x00\x00import keras", r"binary\.py: binary file"),
        ("wrong_cookie.py", b"# coding: klingon\nimport keras\n", r"wrong_cookie\.py: bad encoding declaration"),
        ("bad.ipynb", b'{"cells": [', r"bad\.ipynb: not a notebook: invalid JSON"),
    ],
    ids=["syntax", "python2", "non-utf8", "binary", "unknown-coding", "broken-notebook"],
)
def test_bad_file_in_a_tree(tmp_path, name, data, reason):
    src = tree_with(tmp_path, name, data)
    out = tmp_path / "out"
    result = run("convert", src, "-o", out)
    assert_one_error_and_good_converted(result, out, src / name, reason)
    assert (src / name).read_bytes() == data
    # check reports it the same way.
    checked = run("check", src)
    assert checked.exit_code == 2 and [e for e in errors(checked)] == errors(result)


def test_in_place_leaves_a_bad_file_untouched(tmp_path):
    data = b"import keras\nx = (1,\n"
    src = tree_with(tmp_path, "syntax.py", data)
    result = run("convert", src, "--in-place")
    assert result.exit_code == 2
    assert (src / "syntax.py").read_bytes() == data
    assert b"nn.Module" in (src / "good.py").read_bytes()


def test_coding_line_file_is_read_and_written_in_its_encoding(tmp_path):
    source = tmp_path / "latin.py"
    data = ("# -*- coding: latin-1 -*-\n" + TINY + "s = 'caf\u00e9'\n").encode("latin-1")
    source.write_bytes(data)
    out = tmp_path / "out.py"
    assert run("convert", source, "-o", out).exit_code == 0
    written = out.read_bytes()
    assert written.startswith(b"# -*- coding: latin-1 -*-\n")
    assert b"s = \"caf\xe9\"" in written or b"s = 'caf\xe9'" in written
    with pytest.raises(UnicodeDecodeError):
        written.decode("utf-8")
    compile(written, str(out), "exec")  # Python reads it back through the coding line
    assert run("convert", source, "--in-place").exit_code == 0
    assert source.read_bytes() == written


@pytest.mark.parametrize(
    "data",
    [b"", b"\n", b"import numpy as np\r\nx = np.ones(3)\r\n", "\ufeffx = 'é'\n".encode("utf-8"),
     "# coding: latin-1\nx = '\u00e9'\n".encode("latin-1"), b"x = 1  # keras\n"],
    ids=["empty", "newline", "crlf", "bom", "latin1", "keras-in-comment"],
)
def test_files_without_keras_are_byte_identical_and_not_errors(tmp_path, data):
    source = tmp_path / "src" / "plain.py"
    source.parent.mkdir()
    source.write_bytes(data)
    mtime = source.stat().st_mtime_ns
    out = tmp_path / "out"
    result = run("convert", source.parent, "-o", out)
    assert result.exit_code == 0 and not errors(result)
    assert (out / "plain.py").read_bytes() == data
    assert run("convert", source.parent, "--in-place").exit_code == 0
    assert source.read_bytes() == data and source.stat().st_mtime_ns == mtime
    assert run("check", source).exit_code == 0


def test_unreadable_file(tmp_path, monkeypatch):
    src = tree_with(tmp_path, "secret.py", TINY.encode())
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "secret.py":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    out = tmp_path / "out"
    result = run("convert", src, "-o", out)
    assert_one_error_and_good_converted(result, out, src / "secret.py", r"secret\.py: permission denied$")


def test_file_that_disappears_mid_run(tmp_path, monkeypatch):
    src = tree_with(tmp_path, "gone.py", TINY.encode())
    real = k2t.cli.iter_python_files

    def listing_then_delete(paths, exclude=()):
        found = list(real(paths, exclude))
        (src / "gone.py").unlink()  # after the listing, before the reading
        return iter(found)

    monkeypatch.setattr(k2t.cli, "iter_python_files", listing_then_delete)
    out = tmp_path / "out"
    result = run("convert", src, "-o", out)
    assert_one_error_and_good_converted(result, out, src / "gone.py", r"gone\.py: no such file or directory$")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_not_read(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.py").write_text(TINY)
    os.mkfifo(src / "pipe.py")
    out = tmp_path / "out"
    result = run("convert", src, "-o", out)
    assert_one_error_and_good_converted(result, out, src / "pipe.py", r"pipe\.py: not a regular file")


def test_missing_source_among_others(tmp_path):
    (tmp_path / "good.py").write_text(TINY)
    out = tmp_path / "out"
    result = run("convert", tmp_path / "missing.py", tmp_path / "good.py", "-o", out)
    assert result.exit_code == 2
    assert errors(result) == [f"error: {tmp_path / 'missing.py'}: no such file or directory"]
    assert b"nn.Module" in (out / "good.py").read_bytes()


def test_internal_error_is_k2t901_and_the_rest_goes_on(tmp_path, monkeypatch):
    src = tree_with(tmp_path, "boom.py", TINY.replace("Dense(2", "Dense(9").encode())
    real = k2t.cli.analyse_source

    def analyse(text, options, locate=None):
        if "Dense(9" in text:
            raise AssertionError("engine bug\nwith a second line")
        return real(text, options, locate)

    monkeypatch.setattr(k2t.cli, "analyse_source", analyse)
    out = tmp_path / "out"
    result = run("convert", src, "-o", out)
    assert result.exit_code == 3
    (line,) = errors(result)
    assert line == f"error: {src / 'boom.py'}:1:1: K2T901 internal error: AssertionError: engine bug with a second line"
    assert b"nn.Module" in (out / "good.py").read_bytes()


def test_deeply_nested_input_is_bad_input_not_a_crash(tmp_path):
    source = tmp_path / "deep.py"
    source.write_text("import keras\nx = " + "(" * 5000 + "1" + ")" * 5000 + "\n")
    result = run("check", source)
    assert result.exit_code in (2, 3) and "Traceback" not in result.output
    assert errors(result)[0].startswith(f"error: {source}")


# --- writes that fail: the original is never lost --------------------------------------------------


def test_in_place_disk_full_keeps_the_original(tmp_path, monkeypatch):
    source = tmp_path / "m.py"
    source.write_text(TINY)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(k2t.sources.os, "fsync", full)
    result = run("convert", source, "--in-place")
    assert result.exit_code == 2
    assert errors(result) == [f"error: {source}: cannot write the output: No space left on device"]
    assert source.read_text() == TINY
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]  # no temporary file left behind


def test_in_place_interrupted_keeps_the_original(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.py", "b.py"):
        (src / name).write_text(TINY)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(k2t.sources.os, "replace", interrupt)
    result = run("convert", src, "--in-place")
    assert result.exit_code == 130
    assert "interrupted" in result.stderr and "Traceback" not in result.output
    assert sorted(p.name for p in src.iterdir()) == ["a.py", "b.py"]
    assert all((src / name).read_text() == TINY for name in ("a.py", "b.py"))


def test_interrupted_tree_keeps_the_manifest_of_what_was_written(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.py", "b.py"):
        (src / name).write_text(TINY)
    out = tmp_path / "out"
    real = k2t.cli.write_atomic
    calls = []

    def write_then_interrupt(path, data):
        calls.append(path)
        if Path(path).name == "b.py":
            raise KeyboardInterrupt
        real(path, data)

    monkeypatch.setattr(k2t.cli, "write_atomic", write_then_interrupt)
    result = run("convert", src, "-o", out)
    assert result.exit_code == 130
    assert not (out / "b.py").exists()
    monkeypatch.setattr(k2t.cli, "write_atomic", real)
    # a.py is recorded as k2t's, so the rerun may replace it even after a change of the source.
    (src / "a.py").write_text(TINY.replace("Dense(2", "Dense(4"))
    rerun = run("convert", src, "-o", out)
    assert rerun.exit_code == 0, rerun.stderr
    assert b"nn.Linear(3, 4)" in (out / "a.py").read_bytes()
