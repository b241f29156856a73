"""Keras imported with `import *` or under `if`/`try`: its uses are seen, translated and listed."""

from __future__ import annotations

import importlib

import pytest

from k2t import _keras_exports
from k2t.check import analyse_source
from k2t.names import STAR_MODULES
from k2t.translate import translate
from k2t.verify import verify_sources

STAR = """
from keras.models import *
from keras.layers import *
from keras.optimizers import *

inputs = Input((8,))
x = Dense(4, activation="relu")(inputs)
model = Model(inputs, Dense(1)(x))
model.compile(optimizer=Adam(1e-3), loss="mse")
"""

CONDITIONAL = """
USE_TF = True
if USE_TF:
    from tensorflow.keras.layers import Dense, Input
    from tensorflow.keras.models import Model
else:
    from keras.layers import Dense, Input
    from keras.models import Model

inp = Input(shape=(4,))
model = Model(inp, Dense(2)(inp))
"""


def test_exports_table_matches_the_installed_keras():
    """k2t/_keras_exports.py (regenerate: python -m k2t.names) is what `import *` binds."""
    keras = importlib.import_module("keras")
    if _keras_exports.KERAS_VERSION != keras.__version__:
        pytest.skip("the table is for another Keras version")
    for key in STAR_MODULES:
        module = importlib.import_module(f"keras.{key}" if key else "keras")
        names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
        assert _keras_exports.EXPORTS[key] == frozenset(names), key


def test_names_from_a_star_import_are_keras_uses():
    listed = [(f.code, f.message) for f in analyse_source(STAR).findings if f.code == "K2T001"]
    assert [m.split(": ", 1)[1] for _, m in listed] == ["Input", "Dense", "Model", "Dense", "Adam"]


def test_a_model_built_from_star_imports_translates_and_verifies():
    result = translate(STAR)
    assert not result.errors
    kept = [f for f in analyse_source(STAR).findings if f.code == "K2T002"]
    assert len(kept) == 3  # the star imports stay, for a human
    assert "nn.Linear(8, 4)" in result.code and "KerasAdam(" in result.code
    (verdict,) = verify_sources(STAR, result.code)
    assert verdict.status == "equivalent", verdict


def test_keras_imported_under_if_is_seen():
    result = translate(CONDITIONAL)
    assert "nn.Linear(4, 2)" in result.code and not result.errors
    findings = analyse_source(CONDITIONAL).findings
    assert [f.code for f in findings].count("K2T002") == 4  # the conditional imports, for a human
    assert [f.code for f in findings].count("K2T001") == 3


def test_a_local_name_is_not_taken_for_a_star_export():
    source = STAR.replace("inputs = Input((8,))", "def Input(shape):\n    return shape\n\ninputs = Input((8,))")
    result = translate(source)
    assert "def Input(shape)" in result.code
