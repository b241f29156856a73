"""`k2t check`: every Keras use left, translatable by convert (K2T001) or for a human, in three formats."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from k2t.check import analyse_source, github_escape
from k2t.cli import main

# Line 5: a model that converts; line 6: a function with a translation; line 7: an API with no
# translation (a made-up one, so that the engine's growth never translates it).
MIXED = """import tensorflow as tf
from tensorflow import keras
import numpy as np

model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
tf.random.set_seed(0)
total = tf.no_such_api(np.ones(3))
"""

CLEAN = "import numpy as np\n\nprint(np.ones(3))\n"


def run(*args, input=None):
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mixed.py").write_text(MIXED)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    return tmp_path


def test_lists_each_use_as_translatable_or_for_a_human(tree):
    path = tree / "pkg" / "mixed.py"
    result = run("check", str(path))
    assert result.exit_code == 1
    out = lines(result.stdout)
    p = str(path)
    assert out == [
        f"{p}:5:9: K2T001 translatable by k2t convert: keras.Sequential",
        f"{p}:5:27: K2T001 translatable by k2t convert: keras.layers.Dense",
        f"{p}:6:1: K2T001 translatable by k2t convert: tf.random.set_seed",
        f"{p}:7:9: K2T501 tf.no_such_api has no translation yet; left as is",
    ]
    # The imports stay (tf.no_such_api needs them), so they are not listed as translatable.
    assert "4 Keras uses left in 1 of 1 file: 3 translatable by k2t convert, 1 for a human" in result.stderr


def test_check_writes_nothing(tree):
    before = {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    run("check", str(tree))
    assert {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()} == before


def test_exit_0_when_no_keras_is_left(tree):
    result = run("check", str(tree / "pkg" / "clean.py"))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "0 Keras uses left in 0 of 1 file" in result.stderr


def test_translated_output_checks_clean(tree, tmp_path):
    out = tmp_path / "model_torch.py"
    source = tree / "model.py"
    source.write_text("import keras\n\nmodel = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])\n")
    assert run("check", str(source)).exit_code == 1
    assert run("convert", str(source), "-o", str(out)).exit_code == 0
    result = run("check", str(out))
    assert result.exit_code == 0, result.stdout


def test_imports_that_convert_removes_are_translatable(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import keras\n\nmodel = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])\n")
    out = lines(run("check", str(source)).stdout)
    assert out[0] == f"{source}:1:1: K2T001 translatable by k2t convert: import keras (removed)"


def test_a_directory_is_walked_and_excludes_apply(tree):
    result = run("check", str(tree))
    assert {line.split(":")[0] for line in lines(result.stdout)} == {str(tree / "pkg" / "mixed.py")}
    result = run("check", str(tree), "--exclude", "mixed.py")
    assert result.exit_code == 0 and result.stdout == ""


def test_select_and_ignore_by_code_prefix(tree):
    path = str(tree / "pkg" / "mixed.py")
    only_human = run("check", path, "--select", "K2T5")
    assert [line.split(": ")[1].split()[0] for line in lines(only_human.stdout)] == ["K2T501"]
    assert only_human.exit_code == 1
    no_translatable = run("check", path, "--ignore", "K2T001")
    assert all("K2T001" not in line for line in lines(no_translatable.stdout))
    assert no_translatable.exit_code == 1
    nothing = run("check", path, "--ignore", "K2T0,K2T5")
    assert nothing.stdout == "" and nothing.exit_code == 0


def test_json_format(tree):
    path = str(tree / "pkg" / "mixed.py")
    result = run("check", path, "--format", "json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1
    (entry,) = data["files"]
    assert entry["path"] == path and entry["error"] is None
    codes = [(u["line"], u["code"], u["translatable"]) for u in entry["uses"]]
    assert codes == [(5, "K2T001", True), (5, "K2T001", True), (6, "K2T001", True), (7, "K2T501", False)]
    assert data["summary"] == {
        "files": 1,
        "files_with_keras": 1,
        "failed": 0,
        "keras_uses": 4,
        "translatable": 3,
        "needs_human": 1,
    }


def test_github_format(tree):
    path = str(tree / "pkg" / "mixed.py")
    out = lines(run("check", path, "--format", "github").stdout)
    assert out[0] == f"::error file={path},line=5,col=9,title=K2T001::K2T001 translatable by k2t convert: keras.Sequential"
    assert out[-1] == (
        f"::error file={path},line=7,col=9,title=K2T501::K2T501 tf.no_such_api has no translation yet; left as is"
    )


def test_github_escaping():
    assert github_escape("50% a\nb") == "50%25 a%0Ab"
    assert github_escape("a:b,c", property_value=True) == "a%3Ab%2Cc"


def test_warnings_are_listed_but_do_not_fail(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "import keras\n\nmodel = keras.Sequential([keras.layers.Dense(2, input_shape=(3,)),\n"
        "                          keras.layers.BatchNormalization()])\n"
        'model.compile(optimizer="adam", loss="mse")\n'
    )
    result = run("check", str(source), "--select", "K2T104")
    assert lines(result.stdout) and all("K2T104" in line for line in lines(result.stdout))
    assert result.exit_code == 0
    github = run("check", str(source), "--select", "K2T104", "--format", "github")
    assert github.stdout.startswith("::warning ")


def test_stdin(tmp_path):
    result = run("check", "-", input=MIXED)
    assert result.exit_code == 1
    assert lines(result.stdout)[0] == "<stdin>:5:9: K2T001 translatable by k2t convert: keras.Sequential"


def test_a_layer_without_a_rule_is_the_one_statement_of_its_model_that_needs_a_human():
    source = """import keras
from keras import layers

model = keras.Sequential()
model.add(layers.NoSuchLayer(8, input_shape=(3, 4)))
model.add(layers.Dense(1))
"""
    findings = analyse_source(source).findings
    # The model is translated around the layer, which stays a module that raises.
    assert [(f.line, f.code) for f in findings if not f.translatable] == [(5, "K2T101")], findings
    assert (6, "K2T001") in {(f.line, f.code) for f in findings}


def test_notebook_locations_point_into_cells(tmp_path):
    from test_cli import notebook

    nb = tmp_path / "nb.ipynb"
    nb.write_text(
        notebook(
            ("markdown", "# A title\n"),
            ("code", "%matplotlib inline\nimport tensorflow as tf\n"),
            ("code", "x = 1\n\ntotal = tf.no_such_api([1, 2])\ntf.random.set_seed(0)"),
        )
    )
    result = run("check", str(nb))
    assert lines(result.stdout) == [
        f"{nb}:cell 3:3:9: K2T501 tf.no_such_api has no translation yet; left as is",
        f"{nb}:cell 3:4:1: K2T001 translatable by k2t convert: tf.random.set_seed",
    ]
    github = lines(run("check", str(nb), "--format", "github").stdout)
    assert github[0] == f"::error file={nb},title=K2T501::cell 3:3:9: K2T501 tf.no_such_api has no translation yet; left as is"
    data = json.loads(run("check", str(nb), "--format", "json").stdout)
    assert data["files"][0]["uses"][0]["cell"] == 3


def test_bad_input_is_exit_2_and_the_rest_is_checked(tree):
    bad = tree / "pkg" / "broken.py"
    bad.write_text("import keras\nmodel = keras.Sequential([\n")
    result = run("check", str(tree))
    assert result.exit_code == 2
    assert re.search(rf"^error: {re.escape(str(bad))}:\d+:\d+: syntax error", result.stderr, re.MULTILINE)
    assert "Traceback" not in result.output
    assert any("mixed.py:5:9: K2T001" in line for line in lines(result.stdout))
    data = json.loads(run("check", str(tree), "--format", "json").stdout)
    assert [f["status"] for f in data["files"]] == ["failed", "unchanged", "partial"]
    github = run("check", str(tree), "--format", "github").stdout
    assert f"::error file={bad},title=k2t::{bad}:" in github


def test_jobs_give_the_same_listing(tree):
    for i in range(3):
        (tree / f"m{i}.py").write_text(MIXED)
    one = run("check", str(tree), "-j", "1")
    two = run("check", str(tree), "-j", "2")
    assert one.stdout == two.stdout and one.exit_code == two.exit_code == 1


def test_config_select_and_exclude(tree):
    (tree / "pyproject.toml").write_text('[tool.k2t]\nselect = ["K2T5"]\nexclude = ["clean.py"]\n')
    result = run("check", str(tree / "pkg"))
    assert [line.split(": ")[1].split()[0] for line in lines(result.stdout)] == ["K2T501"]
    # The command line replaces the file's select.
    result = run("check", str(tree / "pkg"), "--select", "K2T001")
    assert {line.split(": ")[1].split()[0] for line in lines(result.stdout)} == {"K2T001"}


def test_codes_lists_check_codes():
    out = run("codes").stdout
    assert "K2T001" in out and "K2T002" in out and "K2T501" in out


# --- the example CI workflow -------------------------------------------------------------------------

WORKFLOW = Path(__file__).resolve().parent.parent / "examples" / "ci" / "k2t-migration.yml"


def _steps(job: str) -> list[dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return workflow["jobs"][job]["steps"]


def test_ci_workflow_check_step_runs_as_written(tmp_path, monkeypatch):
    (run_step,) = [s["run"] for s in _steps("no-keras-left") if "k2t check" in s.get("run", "")]
    args = shlex.split(run_step)
    assert args[:2] == ["k2t", "check"]
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(MIXED)
    monkeypatch.chdir(tmp_path)
    result = run(*args[1:])
    assert result.exit_code == 1
    assert lines(result.stdout)[0].startswith("::error file=src/train.py,line=5,col=9,title=K2T001::")
    (tmp_path / "src" / "train.py").write_text(CLEAN)
    assert run(*args[1:]).exit_code == 0


SMALL_MODEL = """
import keras
model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="relu")])
"""


def test_ci_workflow_verify_step_runs_as_written(tmp_path, monkeypatch):
    """The workflow's verify step, run as written over a pairs file: one pair still matches, one
    translation was edited since (its activation changed) and is annotated."""
    from k2t.translate import translate

    (run_step,) = [s["run"] for s in _steps("translations-match") if "k2t verify" in s.get("run", "")]
    args = shlex.split(run_step)
    assert args[:2] == ["k2t", "verify"]
    translation = translate(SMALL_MODEL).code
    (tmp_path / "a.py").write_text(SMALL_MODEL)
    (tmp_path / "a_torch.py").write_text(translation)
    (tmp_path / "b.py").write_text(SMALL_MODEL)
    (tmp_path / "b_torch.py").write_text(translation.replace("torch.relu(", "torch.sigmoid("))
    (tmp_path / "k2t-pairs.txt").write_text("# keras torch\n\na.py a_torch.py\nb.py b_torch.py  # edited\n")
    monkeypatch.chdir(tmp_path)
    result = run(*args[1:])
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "== a.py -> a_torch.py" in out and "== b.py -> b_torch.py" in out
    assert "2 pairs, 2 models: 1 equivalent, 1 not" in out
    (annotation,) = [line for line in lines(out) if line.startswith("::error")]
    assert annotation.startswith("::error file=b_torch.py,title=k2t::k2t verify: model model is different")
    (tmp_path / "b_torch.py").write_text(translation)
    assert run(*args[1:]).exit_code == 0


def test_verify_pairs_on_the_command_line_and_bad_pairs(tmp_path, monkeypatch):
    from k2t.translate import translate

    (tmp_path / "a.py").write_text(SMALL_MODEL)
    (tmp_path / "a_torch.py").write_text(translate(SMALL_MODEL).code)
    monkeypatch.chdir(tmp_path)
    result = run("verify", "a.py", "a_torch.py", "a.py", "a_torch.py", "--json")
    assert result.exit_code == 0, result.output
    models = json.loads(result.stdout)["models"]
    assert [(m["keras_file"], m["torch_file"], m["status"]) for m in models] == [("a.py", "a_torch.py", "equivalent")] * 2
    odd = run("verify", "a.py")
    assert odd.exit_code == 2 and "an odd number" in odd.stderr
    (tmp_path / "pairs.txt").write_text("a.py a_torch.py extra.py\n")
    bad_line = run("verify", "--pairs", "pairs.txt")
    assert bad_line.exit_code == 2 and "pairs.txt:1: expected 'KERAS.py TORCH.py'" in bad_line.stderr
    # A missing file is bad input for its pair only: the others are still verified.
    (tmp_path / "pairs.txt").write_text("missing.py a_torch.py\na.py a_torch.py\n")
    missing = run("verify", "--pairs", "pairs.txt")
    assert missing.exit_code == 2
    assert "missing.py" in missing.stderr and "1 equivalent, 0 not, 1 not read" in missing.stdout


def test_keras_left_in_the_output_without_a_diagnostic_is_for_a_human():
    """A safety net: what the translation leaves in its output unreported is not 'translatable'."""
    from k2t.check import keras_uses
    from k2t.translate import Result, parse

    source = "import keras\n\nx = keras.ops.mystery(1)\ny = keras.ops.mystery(2)\n"
    # A translation that changed the file but silently kept one of the two calls.
    result = Result(
        code="import keras\n\nx = keras.ops.mystery(1)\ny = 2\n", changed=True, has_keras=True, diagnostics=[]
    )
    findings = keras_uses(parse(source), result)
    assert [(f.line, f.code, f.translatable) for f in findings] == [
        (3, "K2T501", False),  # counted per reference text: the first one is the one left
        (4, "K2T001", True),
    ]
    assert findings[0].message == "keras.ops.mystery is left as is by k2t convert (no translation yet)"
    # The import stays for the leftover: no K2T002 (and not translatable).
    assert all(f.line != 1 for f in findings)


def test_convert_lists_unreported_leftovers_and_calls_the_file_partial(tmp_path, monkeypatch):
    import k2t.check
    from k2t.translate import Result

    source = tmp_path / "m.py"
    source.write_text("import keras\n\nx = keras.ops.mystery(1)\ny = keras.ops.mystery(2)\n")

    def silently_partial(text, module, options):
        return Result(code="import keras\n\nx = keras.ops.mystery(1)\ny = 2\n", changed=True, has_keras=True)

    monkeypatch.setattr(k2t.check, "translate_module", silently_partial)
    result = run("convert", str(source), "-o", str(tmp_path / "out.py"), "--report", str(tmp_path / "r.json"))
    assert result.exit_code == 1
    assert result.stderr == f"{source}:3:5: K2T501 keras.ops.mystery is left as is by k2t convert (no translation yet)\n"
    assert json.loads((tmp_path / "r.json").read_text())["files"][0]["status"] == "partial"
