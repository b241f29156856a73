"""Weight regularizers become explicit penalty terms that the generated training adds to the loss."""

from __future__ import annotations

from pathlib import Path

from k2t.translate import translate
from k2t.verify import verify_sources

FIXTURE = Path(__file__).parent.parent / "fixtures" / "training" / "regularizers.keras.py"

SMALL = """
import keras
from keras import layers, regularizers
model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(2, {args})])
"""


def _errors(args: str) -> list[str]:
    return [d.message for d in translate(SMALL.format(args=args)).errors]


def test_the_training_without_the_penalty_is_caught():
    keras_text = FIXTURE.read_text(encoding="utf-8")
    torch_text = translate(keras_text).code
    assert torch_text.count("+ model.regularization_loss()") == 2  # train_one_epoch and evaluate
    (verdict,) = verify_sources(keras_text, torch_text, train_steps=3)
    assert verdict.training.status == "equivalent", verdict.training
    broken = torch_text.replace(" + model.regularization_loss()", "")
    (verdict,) = verify_sources(keras_text, broken, train_steps=3)
    assert verdict.training.status == "different"
    assert verdict.training.first_divergence["step"] == 1
    assert verdict.training.first_divergence["quantity"] == "loss"


def test_penalty_terms_follow_keras_formulas():
    code = translate(SMALL.format(args='kernel_regularizer=regularizers.L1L2(l1=0.1, l2=0.2), bias_regularizer="l2"')).code
    assert "0.1 * self.fc.weight.abs().sum()" in code
    assert "0.2 * self.fc.weight.square().sum()" in code
    assert "0.01 * self.fc.bias.square().sum()" in code


def test_what_is_not_read_is_reported_not_dropped():
    # l1_l2() without factors: 0.0 in Keras 3, 0.01 in Keras 2's function.
    assert "is not a regularizer k2t can read" in _errors("kernel_regularizer=regularizers.l1_l2()")[0]
    assert "is not a regularizer k2t can read" in _errors("kernel_regularizer=lambda w: w.sum()")[0]
    assert "the constraint is not translated yet" in _errors("kernel_constraint=keras.constraints.max_norm(2)")[0]
    assert "penalty added to the loss" in _errors("activity_regularizer=regularizers.l2(0.1)")[0]


def test_no_bias_no_bias_penalty():
    code = translate(SMALL.format(args="use_bias=False, bias_regularizer=regularizers.l2(0.5)")).code
    assert "regularization_loss" not in code
