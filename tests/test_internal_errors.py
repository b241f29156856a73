"""An internal error inside one model is that model's diagnostic (K2T902 at its line), not the file's:
the model stays as written and marked, everything else is translated. And over the fixtures and
mutations of them, translate() never fails with anything but bad input."""

from __future__ import annotations

import ast
import dataclasses
import random
import warnings

import pytest

from conftest import fixture_cases
from k2t import TranslationError, translate
from k2t.rules import layers as layer_rules

TWO_MODELS = """\
import keras

first = keras.Sequential([keras.layers.Dense(4, input_shape=(3,)), keras.layers.Dropout(0.5)])
first.compile(optimizer="adam", loss="mse")
first.fit(x, y, epochs=2)

second = keras.Sequential([keras.layers.Dense(2, input_shape=(5,))])
second.summary()
"""


def _boom(*args, **kwargs):
    raise ZeroDivisionError("a bug in a layer rule")


def test_an_exception_in_a_layer_rule_is_that_models_diagnostic(monkeypatch):
    rule = layer_rules.LAYERS["Dropout"]
    monkeypatch.setitem(layer_rules.LAYERS, "Dropout", dataclasses.replace(rule, lower=_boom))
    result = translate(TWO_MODELS)
    (internal,) = [d for d in result.diagnostics if d.code == "K2T902"]
    assert (internal.line, internal.col) == (3, 9)  # the model's Sequential( call
    assert "model first" in internal.message and "ZeroDivisionError: a bug in a layer rule" in internal.message
    assert internal.severity == "error"
    # The failing model is left as written (with its training calls, reported), the other translated.
    assert "first = keras.Sequential(" in result.code
    assert "# k2t: K2T902 internal error while translating model first" in result.code
    assert [m.var for m in result.models] == ["second"] and [m.var for m in result.untranslated] == ["first"]
    assert "class Second(nn.Module):" in result.code and "second = Second().to(device)" in result.code
    assert {d.code for d in result.diagnostics} == {"K2T902", "K2T302"}
    ast.parse(result.code)


def test_an_exception_while_reading_a_model_is_that_models_diagnostic(monkeypatch):
    import k2t.analyse

    real = k2t.analyse.Analyzer._layer

    def layer(self, model, node):
        if model.var == "first":
            raise KeyError("reading went wrong")
        return real(self, model, node)

    monkeypatch.setattr(k2t.analyse.Analyzer, "_layer", layer)
    result = translate(TWO_MODELS)
    internal = [d for d in result.diagnostics if d.code == "K2T902"]
    assert [(d.line, d.col) for d in internal] == [(3, 9)]
    assert "KeyError" in internal[0].message
    assert [m.var for m in result.models] == ["second"]
    ast.parse(result.code)


def test_an_exception_in_a_statement_outside_models_marks_that_statement(monkeypatch):
    import k2t.analyse

    real = k2t.analyse.Analyzer._assign

    def assign(self, line, statement):
        if getattr(statement.targets[0].target, "value", None) == "odd":
            raise RuntimeError("boom")
        return real(self, line, statement)

    monkeypatch.setattr(k2t.analyse.Analyzer, "_assign", assign)
    result = translate("import keras\n\nodd = 1\n" + TWO_MODELS.split("\n", 1)[1])
    internal = [d for d in result.diagnostics if d.code == "K2T902"]
    assert [(d.line, d.col) for d in internal] == [(3, 1)]
    assert sorted(m.var for m in result.models) == ["first", "second"]
    ast.parse(result.code)


def test_the_cli_reports_it_as_left_for_a_human_not_as_a_crash(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from k2t.cli import main

    rule = layer_rules.LAYERS["Dropout"]
    monkeypatch.setitem(layer_rules.LAYERS, "Dropout", dataclasses.replace(rule, lower=_boom))
    source = tmp_path / "two.py"
    source.write_text(TWO_MODELS)
    result = CliRunner().invoke(main, ["convert", str(source), "-o", str(tmp_path / "out.py")])
    assert result.exit_code == 1, result.output  # something left for a human, not 3
    assert f"{source}:3:9: K2T902 internal error while translating model first" in result.output
    assert "class Second(nn.Module)" in (tmp_path / "out.py").read_text()


def _mutations(source: str, rng: random.Random, count: int) -> list[str]:
    lines = source.splitlines(keepends=True)
    pool = [line for path in fixture_cases() for line in path.read_text(encoding="utf-8").splitlines(keepends=True)]
    out = []
    for _ in range(count):
        mutated = list(lines)
        for _ in range(rng.randint(1, 3)):
            if not mutated:
                break
            i = rng.randrange(len(mutated))
            operation = rng.choice(["delete", "duplicate", "swap", "replace", "insert", "number"])
            if operation == "delete":
                del mutated[i]
            elif operation == "duplicate":
                mutated.insert(i, mutated[i])
            elif operation == "swap":
                j = rng.randrange(len(mutated))
                mutated[i], mutated[j] = mutated[j], mutated[i]
            elif operation == "replace":
                mutated[i] = rng.choice(pool)
            elif operation == "insert":
                mutated.insert(i, rng.choice(pool))
            else:  # a size becomes something only known at run time, or odd
                replacement = rng.choice(["n", "len(x)", "x.shape[1]", "None", "2.5", "'a'", "(3, 4)", "-1", "0"])
                mutated[i] = "".join(replacement if c.isdigit() and rng.random() < 0.3 else c for c in mutated[i])
        out.append("".join(mutated))
    return out


CASES = fixture_cases()


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixtures_and_their_mutations_never_fail_inside(path):
    """Bad input (TranslationError) is fine; any other exception is a bug that escaped the per-model
    and per-statement isolation. Every output parses; a complete translation is stable (a partial one
    may gain markers on a second run, as it always has: what the first run left is read anew)."""
    rng = random.Random(path.name)
    source = path.read_text(encoding="utf-8")
    for text in [source, *_mutations(source, rng, 4)]:
        try:
            result = translate(text)
        except TranslationError:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(result.code)
        if not result.errors:
            assert translate(result.code).code == result.code


def test_an_input_length_known_only_at_run_time_is_not_an_internal_error():
    """The real file of issue 9: `int()` of an unknown size while writing the model's docstring."""
    source = (
        "import keras\nimport numpy as np\n\nx = np.load('x.npy')\nmaxlen = x.shape[1]\n"
        "model = keras.Sequential([keras.layers.Embedding(1000, 16, input_length=maxlen),"
        " keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])\n"
    )
    result = translate(source)
    assert not result.errors, result.diagnostics
    assert "self.embedding = nn.Embedding(1000, 16)" in result.code
    # The sequence length sizes no torch module: the class does not take it.
    assert "def __init__(self):" in result.code and "model = Model().to(device)" in result.code


@pytest.mark.parametrize("shape", ["('a',)", "(4.5,)", "(True,)"])
def test_an_input_shape_that_holds_no_sizes_is_reported(shape):
    result = translate(f"import keras\n\nmodel = keras.Sequential([keras.layers.Dense(8, input_shape={shape})])\n")
    assert [d.code for d in result.diagnostics] == ["K2T303"]
    assert "which is not a size" in result.diagnostics[0].message
