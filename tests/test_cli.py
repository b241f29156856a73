"""`k2t convert` on trees: workers, progress, summary, project configuration, notebooks, outputs."""

from __future__ import annotations

import ast
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import k2t.cli
from k2t.cli import Progress, main, progress_wanted
from k2t.manifest import MANIFEST_NAME

TINY = "import keras\n\nmodel = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])\n"
PARTIAL = (
    "import keras\n\nmodel = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])\n"
    "total = keras.ops.no_such_api([1, 2])\n"
)
CLEAN = "import numpy as np\n\nprint(np.ones(3))\n"
DEVICE_ONE_LINE = 'device = torch.device("cuda" if torch.cuda.is_available() else "mps"'
K2T = [sys.executable, "-m", "k2t.cli"]


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


def notebook(*cells: tuple[str, str]) -> str:
    """An nbformat 4 notebook from (cell_type, source) pairs, as nbformat writes it."""
    nb_cells = []
    for kind, source in cells:
        cell = {"cell_type": kind, "metadata": {}, "source": source.splitlines(True)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        nb_cells.append(cell)
    nb = {
        "cells": nb_cells,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def make_tree(root: Path) -> Path:
    src = root / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "a.py").write_text(TINY)
    (src / "pkg" / "b.py").write_text(PARTIAL)
    (src / "pkg" / "clean.py").write_text(CLEAN)
    (src / "pkg" / "empty.py").write_text("")
    return src


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- trees -------------------------------------------------------------------------------------------


def test_tree_converts_into_a_mirror_with_a_summary(tmp_path):
    src = make_tree(tmp_path)
    before = snapshot(src)
    out = tmp_path / "out"
    result = run("convert", src, "-o", out)
    assert result.exit_code == 1  # keras.ops.no_such_api is left for a human
    assert snapshot(src) == before  # inputs untouched
    written = snapshot(out)
    assert set(written) == {MANIFEST_NAME, "a.py", "pkg/b.py", "pkg/clean.py", "pkg/empty.py"}
    assert written["pkg/clean.py"] == CLEAN.encode() and written["pkg/empty.py"] == b""
    for name in ("a.py", "pkg/b.py"):
        ast.parse(written[name])
        assert b"class Model(nn.Module)" in written[name]
    assert f"{src / 'pkg' / 'b.py'}:4:9: K2T501" in result.stderr
    # a.py: import, Sequential, Dense; b.py: Sequential, Dense and keras.ops.no_such_api, which stays (and
    # so does its import, which is then not counted).
    assert result.stderr.splitlines()[-1] == (
        "k2t: 1 translated, 1 partly translated, 0 failed, 2 unchanged; 5 of 6 Keras uses translated (83%)"
    )


def test_jobs_give_the_same_outputs(tmp_path):
    src = make_tree(tmp_path)
    for i in range(3):
        (src / f"m{i}.py").write_text(TINY)
    one = run("convert", src, "-o", tmp_path / "one", "-j", "1")
    two = run("convert", src, "-o", tmp_path / "two", "-j", "2")
    assert one.exit_code == two.exit_code == 1
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")
    assert one.stderr == two.stderr.replace(str(tmp_path / "two"), str(tmp_path / "one"))


def test_exclude_globs(tmp_path):
    src = make_tree(tmp_path)
    result = run("convert", src, "-o", tmp_path / "out", "--exclude", "pkg")
    assert result.exit_code == 0
    assert set(snapshot(tmp_path / "out")) == {MANIFEST_NAME, "a.py"}
    result = run("convert", src, "--check", "--exclude", "*.py")
    assert result.exit_code == 0 and "0 translated" in result.stderr


def test_force_exclude_applies_to_given_files(tmp_path, monkeypatch):
    src = make_tree(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.k2t]\nexclude = ["pkg"]\n')
    monkeypatch.chdir(tmp_path)
    given = ["src/a.py", "src/pkg/b.py"]
    plain = run("convert", *given, "--check")
    assert "2 translated" not in plain.stderr and "1 partly translated" in plain.stderr
    forced = run("convert", *given, "--check", "--force-exclude")
    assert "1 translated, 0 partly translated" in forced.stderr
    checked = run("check", *given, "--force-exclude")
    assert "pkg/b.py" not in checked.stdout and "src/a.py:1:1: K2T001" in checked.stdout


def test_in_place_rewrites_only_what_changes(tmp_path):
    src = make_tree(tmp_path)
    clean_stat = (src / "pkg" / "clean.py").stat()
    result = run("convert", src, "--in-place")
    assert result.exit_code == 1
    assert b"nn.Module" in (src / "a.py").read_bytes()
    assert (src / "pkg" / "clean.py").read_bytes() == CLEAN.encode()
    assert (src / "pkg" / "clean.py").stat().st_mtime_ns == clean_stat.st_mtime_ns
    # A second run changes nothing.
    after = snapshot(src)
    run("convert", src, "--in-place")
    assert snapshot(src) == after


def test_check_and_diff_write_nothing(tmp_path):
    src = make_tree(tmp_path)
    before = snapshot(tmp_path)
    check = run("convert", src, "--check")
    diff = run("convert", src, "--diff")
    assert check.exit_code == 1 and diff.exit_code == 1
    assert f"+++ b/{src / 'a.py'}" in diff.stdout
    assert snapshot(tmp_path) == before
    clean = run("convert", src / "pkg" / "clean.py", "--check")
    assert clean.exit_code == 0


def test_report(tmp_path):
    src = make_tree(tmp_path)
    report = tmp_path / "report.json"
    run("convert", src, "-o", tmp_path / "out", "--report", report)
    data = json.loads(report.read_text())
    status = {Path(f["path"]).name: f["status"] for f in data["files"]}
    assert status == {"a.py": "translated", "b.py": "partial", "clean.py": "unchanged", "empty.py": "unchanged"}
    assert data["counts"]["keras_uses"] == 6 and data["counts"]["translated_uses"] == 5


def test_stdin_to_stdout(tmp_path):
    result = run("convert", "-", input=TINY)
    assert result.exit_code == 0
    assert "class Model(nn.Module)" in result.stdout
    result = run("convert", "-", input="import keras\nmodel = keras.Sequential([\n")
    assert result.exit_code == 2
    assert re.match(r"error: <stdin>:\d+:\d+: syntax error", result.stderr)
    assert len(result.stderr.splitlines()) == 1


def test_single_file_to_stdout(tmp_path):
    (tmp_path / "m.py").write_text(TINY)
    result = run("convert", tmp_path / "m.py")
    assert result.exit_code == 0 and "class Model(nn.Module)" in result.stdout
    assert "k2t:" not in result.stderr  # no summary for one file


# --- progress bar ------------------------------------------------------------------------------------


def _run_on_a_terminal(args, env) -> str:
    """Run k2t with stderr on a pseudo-terminal; return what the terminal showed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(K2T + args, stdout=subprocess.DEVNULL, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_bar_on_a_terminal_only(tmp_path):
    src = make_tree(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["TERM"] = "xterm"
    shown = _run_on_a_terminal(["convert", str(src), "--check"], env)
    assert "] 4/4 " in shown and "\r" in shown
    # The bar is cleared before the summary.
    assert shown.rstrip().splitlines()[-1].replace("\x1b[K", "").startswith("k2t: 1 translated")
    # CI set: no bar.
    quiet = _run_on_a_terminal(["convert", str(src), "--check"], {**env, "CI": "true"})
    assert "] 4/4" not in quiet and "k2t: 1 translated" in quiet
    # Not a terminal (piped): no bar.
    piped = subprocess.run(K2T + ["convert", str(src), "--check"], capture_output=True, text=True, env=env)
    assert "] 4/4" not in piped.stderr and "\r" not in piped.stderr


def test_progress_wanted(monkeypatch):
    class Terminal:
        def isatty(self):
            return True

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert progress_wanted(Terminal())
    monkeypatch.setenv("CI", "1")
    assert not progress_wanted(Terminal())
    assert Progress(1, enabled=True).enabled is False  # one file: no bar


# --- configuration -----------------------------------------------------------------------------------


def test_black_line_length_from_the_project(tmp_path):
    (tmp_path / "m.py").write_text(TINY)
    default = run("convert", tmp_path / "m.py").stdout
    assert DEVICE_ONE_LINE not in default
    (tmp_path / "pyproject.toml").write_text("[tool.black]\nline-length = 120\n")
    wide = run("convert", tmp_path / "m.py").stdout
    assert DEVICE_ONE_LINE in wide
    # [tool.k2t] wins over [tool.black], and the command line over both.
    (tmp_path / "pyproject.toml").write_text("[tool.black]\nline-length = 120\n[tool.k2t]\nline-length = 88\n")
    assert DEVICE_ONE_LINE not in run("convert", tmp_path / "m.py").stdout
    assert DEVICE_ONE_LINE in run("convert", tmp_path / "m.py", "--line-length", "120").stdout


def test_config_is_found_from_the_first_source_upward(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.k2t]\nexclude = ["skip_*"]\nignore = ["K2T5"]\n[tool.black]\ntarget-version = ["py310", "py311"]\n'
    )
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "m.py").write_text(PARTIAL)
    (deep / "skip_me.py").write_text(TINY)
    seen = []
    real = k2t.cli.analyse_source

    def spy(text, options, locate=None):
        seen.append(options)
        return real(text, options, locate)

    monkeypatch.setattr(k2t.cli, "analyse_source", spy)
    result = run("convert", deep, "--check")
    assert [o.target_versions for o in seen] == [("py310", "py311")]  # skip_me.py excluded
    # K2T501 is ignored: not listed, and it no longer fails the run (but the file would change).
    assert "K2T501" not in result.stderr
    assert result.exit_code == 1
    assert run("convert", deep / "m.py", "-o", tmp_path / "out.py").exit_code == 0


@pytest.mark.parametrize(
    "text, message",
    [
        ("[tool.k2t\n", "invalid TOML"),
        ("[tool.k2t]\nline-length = 'long'\n", "line-length must be a positive integer"),
        ("[tool.k2t]\nexclud = ['x']\n", "unknown [tool.k2t] key 'exclud'"),
        ("[tool.black]\ntarget-version = ['py27']\n", "not one of black's versions"),
    ],
)
def test_bad_config_is_a_one_line_error(tmp_path, text, message):
    (tmp_path / "pyproject.toml").write_text(text)
    (tmp_path / "m.py").write_text(TINY)
    result = run("convert", tmp_path / "m.py")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path / 'pyproject.toml'}: ")
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_target_version_option_is_validated(tmp_path):
    (tmp_path / "m.py").write_text(TINY)
    result = CliRunner().invoke(main, ["convert", str(tmp_path / "m.py"), "--target-version", "py99"])
    assert result.exit_code == 2 and "py99" in result.output


# --- notebooks ---------------------------------------------------------------------------------------


def test_notebook_converts_and_diagnostics_point_into_cells(tmp_path):
    nb = tmp_path / "nb.ipynb"
    nb.write_text(
        notebook(
            ("markdown", "# Training\n"),
            ("code", "%matplotlib inline\nimport keras\n"),
            ("code", "model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])"),
            ("markdown", "Then:"),
            ("code", "x = 1\ntotal = keras.ops.no_such_api([1, 2])"),
        )
    )
    out = tmp_path / "out.ipynb"
    result = run("convert", nb, "-o", out)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"{nb}:cell 5:2:9: K2T501 keras.ops.no_such_api has no translation yet; left as is"]
    converted = json.loads(out.read_text())
    original = json.loads(nb.read_text())
    assert converted["metadata"] == original["metadata"]
    assert converted["cells"][0] == original["cells"][0] and converted["cells"][3] == original["cells"][3]
    cell2 = "".join(converted["cells"][1]["source"])
    assert cell2.startswith("%matplotlib inline")
    assert "nn.Module" in "".join("".join(c["source"]) for c in converted["cells"])
    for cell in converted["cells"]:
        if cell["cell_type"] == "code" and not "".join(cell["source"]).startswith("%"):
            ast.parse("".join(cell["source"]))


def test_notebook_syntax_error_names_the_cell(tmp_path):
    nb = tmp_path / "nb.ipynb"
    nb.write_text(notebook(("code", "import keras"), ("code", "x = 1\ny = (")))
    result = run("convert", nb, "--check")
    # A cell that does not parse is kept verbatim; the notebook itself is fine.
    assert result.exit_code in (0, 1) and "Traceback" not in result.output


# --- outputs and the manifest ------------------------------------------------------------------------


def test_rerun_overwrites_earlier_outputs(tmp_path):
    src = make_tree(tmp_path)
    out = tmp_path / "out"
    run("convert", src, "-o", out)
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert set(manifest["files"]) == {"a.py", "pkg/b.py", "pkg/clean.py", "pkg/empty.py"}
    (src / "a.py").write_text(TINY.replace("Dense(2", "Dense(5"))
    result = run("convert", src, "-o", out)
    assert result.exit_code == 1 and "error" not in result.stderr
    assert b"nn.Linear(3, 5)" in (out / "a.py").read_bytes()


def test_existing_foreign_output_is_refused_and_the_rest_written(tmp_path):
    src = make_tree(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.py").write_text("# my own work\n")
    result = run("convert", src, "-o", out)
    assert result.exit_code == 2
    assert f"error: {out / 'a.py'}: the output exists and is not an earlier k2t output" in result.stderr
    assert (out / "a.py").read_text() == "# my own work\n"
    assert (out / "pkg" / "b.py").exists()
    assert "1 failed" in result.stderr.splitlines()[-1]
    forced = run("convert", src, "-o", out, "--force")
    assert forced.exit_code == 1 and b"nn.Module" in (out / "a.py").read_bytes()


def test_edited_output_is_refused(tmp_path):
    (tmp_path / "m.py").write_text(TINY)
    out = tmp_path / "out" / "m.py"
    assert run("convert", tmp_path / "m.py", "-o", out).exit_code == 0
    assert (tmp_path / "out" / MANIFEST_NAME).exists()
    assert run("convert", tmp_path / "m.py", "-o", out).exit_code == 0  # unchanged rerun
    out.write_text(out.read_text() + "\n# tuned by hand\n")
    result = run("convert", tmp_path / "m.py", "-o", out)
    assert result.exit_code == 2 and "edited since k2t wrote it" in result.stderr
    assert out.read_text().endswith("# tuned by hand\n")


def test_output_onto_the_input_is_refused(tmp_path):
    (tmp_path / "m.py").write_text(TINY)
    result = run("convert", tmp_path / "m.py", "-o", tmp_path / "m.py")
    assert result.exit_code == 2 and (tmp_path / "m.py").read_text() == TINY


def test_two_inputs_with_one_output_path_collide(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    (tmp_path / "x" / "m.py").write_text(TINY)
    (tmp_path / "y" / "m.py").write_text(TINY.replace("Dense(2", "Dense(7"))
    out = tmp_path / "out"
    result = run("convert", tmp_path / "x" / "m.py", tmp_path / "y" / "m.py", "-o", out)
    assert result.exit_code == 2
    assert "already written for" in result.stderr
    assert b"nn.Linear(3, 2)" in (out / "m.py").read_bytes()


def test_output_directory_inside_the_input_tree(tmp_path):
    src = make_tree(tmp_path)
    before = snapshot(src)
    result = run("convert", src, "-o", src / "converted")
    assert result.exit_code == 2
    assert result.stderr == f"error: {src / 'converted'}: the output directory is inside the input tree {src}\n"
    assert snapshot(src) == before


def test_usage_errors(tmp_path):
    src = make_tree(tmp_path)
    assert CliRunner().invoke(main, ["convert", str(src)]).exit_code == 2
    assert CliRunner().invoke(main, ["convert", str(src), "-o", "x", "--in-place"]).exit_code == 2
    (tmp_path / "file.py").write_text("")
    result = CliRunner().invoke(main, ["convert", str(src), "-o", str(tmp_path / "file.py")])
    assert result.exit_code == 2 and "not a directory" in result.output
