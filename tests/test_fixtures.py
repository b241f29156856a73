"""Every fixture: converted output equals the expected file, is stable, verifies against Keras,
and trains on torch alone (TensorFlow unimportable) with a falling loss."""

from __future__ import annotations

import ast
import json

import pytest

from conftest import case_id, expected_path, fixture_cases, run_torch_only, verify_input_shape
from k2t import translate
from k2t.verify import verify_sources

CASES = fixture_cases()


def test_corpus_is_large_enough():
    assert len(CASES) >= 25


def _imported_roots(code: str) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("keras_path", CASES, ids=case_id)
def test_convert_matches_expected(keras_path, update_fixtures):
    result = translate(keras_path.read_text(encoding="utf-8"))
    torch_path = expected_path(keras_path)
    diagnostics_path = expected_path(keras_path, ".diagnostics.txt")
    rendered = "".join(d.render(keras_path.name) + "\n" for d in result.diagnostics)
    if update_fixtures:
        torch_path.write_text(result.code, encoding="utf-8")
        if rendered:
            diagnostics_path.write_text(rendered, encoding="utf-8")
        elif diagnostics_path.exists():
            diagnostics_path.unlink()
    assert result.code == torch_path.read_text(encoding="utf-8")
    assert rendered == (diagnostics_path.read_text(encoding="utf-8") if diagnostics_path.exists() else "")
    # The output parses, and a second run changes nothing.
    ast.parse(result.code)
    again = translate(result.code)
    assert again.code == result.code
    if not result.errors:
        assert not _imported_roots(result.code) & {"tensorflow", "keras", "k2t"}


@pytest.mark.parametrize("keras_path", CASES, ids=case_id)
def test_verifies_against_keras(keras_path):
    keras_text = keras_path.read_text(encoding="utf-8")
    torch_text = expected_path(keras_path).read_text(encoding="utf-8")
    verdicts = verify_sources(
        keras_text, torch_text, str(keras_path), "expected.torch.py", input_shape=verify_input_shape(keras_path)
    )
    result = translate(keras_text)
    untranslated = {m.var for m in result.untranslated}
    # Models translated around a layer k2t could not translate: that module raises until written.
    kept = {m.var for m in result.models if m.lowered.untranslated}
    assert verdicts
    for verdict in verdicts:
        if verdict.name in untranslated:
            assert verdict.status == "unverifiable" and verdict.reason
        elif verdict.name in kept:
            assert verdict.status == "unverifiable" and "raise NotImplementedError" in verdict.reason
        else:
            assert verdict.status == "equivalent", verdict
            assert verdict.max_abs_error is not None and verdict.max_abs_error < 1e-4


@pytest.mark.parametrize("keras_path", CASES, ids=case_id)
def test_trains_on_torch_alone(keras_path, tmp_path):
    torch_path = expected_path(keras_path)
    if translate(keras_path.read_text(encoding="utf-8")).errors:
        # Partly translated on purpose: what is left is marked for a human, not run here.
        assert "# k2t: K2T" in torch_path.read_text(encoding="utf-8")
        return
    completed = run_torch_only(torch_path, tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    line = next(l for l in completed.stdout.splitlines() if l.startswith("K2T-LOSSES "))
    losses = json.loads(line.split(" ", 1)[1])
    if losses is not None:
        assert len(losses) >= 2 and losses[-1] < losses[0], losses


def _compiles_and_fits(keras_path) -> bool:
    text = keras_path.read_text(encoding="utf-8")
    return ".compile(" in text and ".fit(" in text


@pytest.mark.parametrize("keras_path", [c for c in CASES if _compiles_and_fits(c)], ids=case_id)
def test_trains_like_keras(keras_path):
    """verify --train-steps 10: the program's own data path, loss and optimizer give Keras's losses,
    gradients and weights step by step."""
    keras_text = keras_path.read_text(encoding="utf-8")
    torch_text = expected_path(keras_path).read_text(encoding="utf-8")
    result = translate(keras_text)
    for verdict in verify_sources(keras_text, torch_text, str(keras_path), "expected.torch.py", train_steps=10,
                                  input_shape=verify_input_shape(keras_path)):
        if verdict.name in {m.var for m in result.untranslated} | {m.var for m in result.models if m.lowered.untranslated}:
            assert verdict.status == "unverifiable", verdict  # checked by test_verifies_against_keras
            continue
        training = verdict.training
        assert training is not None, verdict  # an unverifiable model never reaches training
        if training.status == "skipped":
            continue
        # Embeddings included: their optimizers take nn.Embedding(sparse=True)'s gradient as Keras does.
        assert training.status == "equivalent" and training.steps_run == 10, training
