"""verify --train-steps: both models trained on the same batches with the program's own loss and
optimizer must agree step by step (loss, every gradient, every weight), and a wrong data path,
class axis or optimizer in the torch code must show as a divergence, never as "equivalent"."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from k2t import translate
from k2t.cli import main
from k2t.verify import verify_sources

FIXTURES = Path(__file__).parent.parent / "fixtures"
STEPS = 4


def _convert(keras_text: str) -> str:
    return translate(keras_text).code


def _train(keras_text: str, torch_text: str | None = None, steps: int = STEPS):
    (verdict,) = verify_sources(keras_text, torch_text or _convert(keras_text), train_steps=steps)
    return verdict


def _mutate(code: str, old: str, new: str) -> str:
    assert old in code, old
    return code.replace(old, new, 1)


def _assert_trains_alike(verdict, steps: int = STEPS) -> None:
    training = verdict.training
    assert training is not None
    assert (verdict.status, training.status) == ("equivalent", "equivalent"), (
        training.first_divergence, training.reason, verdict.reason,
    )
    assert training.steps_run == steps and len(training.per_step) == steps
    assert training.first_divergence is None
    # float32 on both sides: far below the tolerances, and every figure is there.
    assert training.max_loss_diff < 1e-4 and training.max_grad_diff < 1e-4 and training.max_weight_diff < 1e-4
    assert all(ratio <= 1.0 for ratio in training.tolerance_used.values())


# -- converted fixtures train like Keras ---------------------------------------------------------
@pytest.mark.parametrize(
    "fixture",
    [
        "training/binary_crossentropy_class_logits_sgd",  # SGD with momentum, (N,) labels on (N, 1)
        "training/mse_class_adagrad_class",  # Adagrad, MSE, two outputs
        "training/sparse_from_logits_adam_class",  # Adam, sparse labels, logits
        "training/sequence_sparse_square",  # GRU sequence output (N, T, C), sparse (N, T) labels, RMSprop
        "functional/two_inputs",  # two inputs, channels-first conv tower, Adam
        "recurrent/embedding_lstm",  # Adam from nn.Embedding(sparse=True)'s per-token gradient rows
    ],
)
def test_converted_fixture_trains_like_keras(fixture):
    keras_text = (FIXTURES / f"{fixture}.keras.py").read_text()
    _assert_trains_alike(_train(keras_text))


def test_dense_embedding_gradient_names_keras_sparse_updates():
    # The same Adam from the embedding's dense (summed) gradient: its repeated tokens' rows differ.
    keras_text = (FIXTURES / "recurrent/embedding_lstm.keras.py").read_text()
    verdict = _train(keras_text, _mutate(_convert(keras_text), ", sparse=True)", ")"), steps=2)
    first = verdict.training.first_divergence
    assert verdict.status == "different"
    assert (first["step"], first["quantity"], first["torch"]) == (1, "weight", "embedding.weight")
    assert re.search(r"embedding(_\d+)?/embeddings$", first["keras"]), first["keras"]
    assert "IndexedSlices" in first["detail"]
    assert verdict.training.per_step[0]["loss_diff"] < 1e-5  # the loss and gradients still agree
    assert verdict.training.per_step[0]["max_grad_diff"] < 1e-5


# -- an integer input beside a float input -------------------------------------------------------
INT_AND_FLOAT = """
import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

vocab_size, seq_len = 30, 10
token_input = keras.Input(shape=(seq_len,), dtype="int32", name="tokens")
feature_input = keras.Input(shape=(4,), name="features")
x = layers.Embedding(vocab_size, 8)(token_input)
x = layers.GlobalAveragePooling1D()(x)
f = layers.Dense(8, activation="relu")(feature_input)
f = layers.Dropout(0.3)(f)
merged = layers.concatenate([x, f])
output = layers.Dense(1, activation="sigmoid")(merged)
model = keras.Model([token_input, feature_input], output)
model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="binary_crossentropy")
model.fit([np.zeros((8, seq_len), "int32"), np.zeros((8, 4), "float32")], np.zeros(8), epochs=1)
"""
FEATURES_AS_FLOAT = 'torch.from_numpy(np.asarray(feature_input, dtype="float32"))'


@pytest.fixture(scope="module")
def int_and_float() -> str:
    code = _convert(INT_AND_FLOAT)
    assert 'np.asarray(token_input, dtype="int64")' in code and FEATURES_AS_FLOAT in code
    return code


def test_int_and_float_inputs_train_like_keras(int_and_float):
    verdict = _train(INT_AND_FLOAT, int_and_float)
    _assert_trains_alike(verdict)
    assert any("dropout off" in note for note in verdict.training.notes)
    line = INT_AND_FLOAT.splitlines().index(next(l for l in INT_AND_FLOAT.splitlines() if "compile(" in l)) + 1
    assert f"compile (lines {line})" in verdict.training.executed
    assert "prepare_inputs" in verdict.training.executed


def test_float_input_prepared_as_int64_is_caught(int_and_float):
    # (a) the float features prepared as int64: the torch step fails and the report says why.
    mutated = _mutate(int_and_float, FEATURES_AS_FLOAT, 'torch.from_numpy(np.asarray(feature_input, dtype="int64"))')
    verdict = _train(INT_AND_FLOAT, mutated)
    training = verdict.training
    assert (verdict.status, training.status) == ("different", "different")
    assert training.first_divergence["step"] == 1 and training.first_divergence["quantity"] == "torch step"
    assert "prepare_inputs gave (int64 (8, 10), int64 (8, 4))" in training.reason
    assert "prepare_inputs changed the values of feature_input (int64 from a Keras float32 array" in training.reason


def test_float_input_truncated_to_integers_is_caught(int_and_float):
    # (a') the same mistake that does not crash: int64, then back to float32 (values truncated).
    mutated = _mutate(
        int_and_float, FEATURES_AS_FLOAT, 'torch.from_numpy(np.asarray(feature_input, dtype="int64").astype("float32"))'
    )
    verdict = _train(INT_AND_FLOAT, mutated)
    first = verdict.training.first_divergence
    assert verdict.status == "different"
    assert (first["step"], first["quantity"]) == (1, "prepared inputs")
    assert first["detail"].startswith("prepare_inputs changed the values of feature_input (float32")
    assert verdict.training.per_step[0]["loss_diff"] > 1e-3  # and Keras and torch train on different data


# -- a sequence output whose class axis equals its time axis -------------------------------------
SEQUENCE = """
from tensorflow import keras
from tensorflow.keras import layers

steps = classes = 6
model = keras.Sequential([
    keras.Input(shape=(steps, 3)),
    layers.LSTM(16, return_sequences=True),
    layers.Dense(classes, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=1)
"""


@pytest.fixture(scope="module")
def sequence() -> str:
    return _convert(SEQUENCE)


def test_sequence_output_trains_like_keras(sequence):
    _assert_trains_alike(_train(SEQUENCE, sequence))


def test_wrong_class_axis_is_caught(sequence):
    # (b) CrossEntropyLoss over (N, T, C) without moving the classes to dim 1: with T == C it runs,
    # reading the time axis as classes.
    call = "loss_fn(outputs.movedim(-1, 1), batch_targets)"
    verdict = _train(SEQUENCE, _mutate(sequence, call, "loss_fn(outputs, batch_targets)"))
    first = verdict.training.first_divergence
    assert verdict.status == "different"
    assert (first["step"], first["quantity"]) == (1, "loss")


# -- several outputs: a loss per output, summed with loss_weights --------------------------------
TWO_OUTPUTS = """
import numpy as np
import keras

inputs = keras.Input(shape=(6,))
hidden = keras.layers.Dense(8, activation="relu")(inputs)
score = keras.layers.Dense(1, name="score")(hidden)
kind = keras.layers.Dense(3, activation="softmax", name="kind")(hidden)
model = keras.Model(inputs, [score, kind])
model.compile(optimizer="adam", loss={"score": "mse", "kind": "categorical_crossentropy"},
              loss_weights={"score": 0.3, "kind": 1.0})
x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
model.fit(x, {"score": x[:, :1], "kind": np.eye(3, dtype="float32")[np.arange(64) % 3]}, epochs=2)
"""


def test_two_outputs_train_like_keras():
    _assert_trains_alike(_train(TWO_OUTPUTS))


def test_a_lost_loss_weight_is_caught():
    torch_text = _mutate(_convert(TWO_OUTPUTS), "loss = 0.3 * score_loss + kind_loss", "loss = score_loss + kind_loss")
    verdict = _train(TWO_OUTPUTS, torch_text)
    first = verdict.training.first_divergence
    assert verdict.status == "different"
    assert (first["step"], first["quantity"]) == (1, "loss")


# -- dropout inside attention layers is switched off on both sides ---------------------------------
ATTENTION_DROPOUT = """
import keras
from keras import layers

inputs = keras.Input(shape=(6, 8))
x = layers.MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.3)(inputs, inputs)
x = layers.Attention(dropout=0.2)([x, inputs])
x = layers.AdditiveAttention(dropout=0.1)([x, inputs])
outputs = layers.Dense(2, activation="softmax")(layers.GlobalAveragePooling1D()(x))
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
"""


def test_attention_dropout_is_off_on_both_sides():
    verdict = _train(ATTENTION_DROPOUT)
    _assert_trains_alike(verdict)


# -- torch's Adam in place of Keras's ------------------------------------------------------------
ADAM = """
from tensorflow import keras
from tensorflow.keras import layers

model = keras.Sequential([
    keras.Input(shape=(12,)),
    layers.Dense(16, activation="relu"),
    layers.BatchNormalization(),
    layers.Dense(3, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy")
"""


@pytest.fixture(scope="module")
def adam() -> str:
    return _convert(ADAM)


def test_keras_adam_and_batchnorm_train_like_keras(adam):
    assert "KerasAdam(model.parameters(), lr=0.01)" in adam  # Keras's exact update, not torch's Adam
    verdict = _train(ADAM, adam)
    _assert_trains_alike(verdict)


def test_torch_adam_is_caught(adam):
    # (c) torch.optim.Adam adds epsilon after the bias correction: the gradients agree, the
    # weights after the first step do not.
    mutated = re.sub(r"KerasAdam\(model\.parameters\(\), lr=0\.01\)",
                     "torch.optim.Adam(model.parameters(), lr=0.01, eps=1e-07)", adam)
    assert mutated != adam
    verdict = _train(ADAM, mutated)
    first = verdict.training.first_divergence
    assert verdict.status == "different"
    assert (first["step"], first["quantity"]) == (1, "weight")
    assert verdict.training.per_step[0]["loss_diff"] < 1e-5 and first["torch"] in {
        "fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight", "fc2.bias",
    }


def test_batchnorm_momentum_mistake_is_caught(adam):
    # torch's momentum is 1 - Keras's: 0.99 in torch keeps the running statistics almost fixed.
    mutated = _mutate(adam, "momentum=0.01", "momentum=0.99")
    verdict = _train(ADAM, mutated)
    first = verdict.training.first_divergence
    assert verdict.status == "different"
    assert (first["step"], first["quantity"], first["torch"]) == (1, "running statistic", "bn.running_mean")


# -- what cannot be trained, and the command line ------------------------------------------------
def test_model_without_compile_is_skipped():
    keras_text = "from tensorflow import keras\nmodel = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])\n"
    verdict = _train(keras_text)
    assert verdict.status == "equivalent"
    assert verdict.training.status == "skipped" and "never compiles" in verdict.training.reason


def test_compile_reading_runtime_values_is_not_equivalent(adam):
    # The custom metric is left for a human; compile() itself cannot run without it.
    keras_text = ADAM.replace('loss="categorical_crossentropy")', 'loss="categorical_crossentropy", metrics=[my_metric])')
    verdict = _train(keras_text, adam)
    assert verdict.status == "unverifiable"
    assert verdict.training.status == "unverifiable"
    assert verdict.training.reason == "compile() reads my_metric, a value computed at run time"


def test_untranslated_compile_is_not_equivalent():
    keras_text = ADAM.replace("learning_rate=0.01", "learning_rate=schedule")
    verdict = _train(keras_text)
    assert verdict.status == "unverifiable"
    assert "could not translate this model's compile()" in verdict.training.reason


def test_cli_train_steps_json(tmp_path, adam):
    keras_path, torch_path = tmp_path / "model.keras.py", tmp_path / "model.torch.py"
    keras_path.write_text(ADAM)
    torch_path.write_text(adam)
    result = CliRunner().invoke(main, ["verify", str(keras_path), str(torch_path), "--train-steps", "2", "--json"])
    assert result.exit_code == 0, result.output
    (model,) = json.loads(result.output)["models"]
    training = model["training"]
    assert model["status"] == "equivalent" and training["status"] == "equivalent"
    assert training["steps"] == training["steps_run"] == 2
    assert {"max_loss_diff", "max_grad_diff", "max_weight_diff", "first_divergence"} <= set(training)
    text = CliRunner().invoke(main, ["verify", str(keras_path), str(torch_path), "--train-steps", "2"]).output
    assert "training (2 of 2 steps): EQUIVALENT" in text and "max gradient diff" in text


def test_cli_without_train_steps_has_no_training(tmp_path, adam):
    keras_path, torch_path = tmp_path / "model.keras.py", tmp_path / "model.torch.py"
    keras_path.write_text(ADAM)
    torch_path.write_text(adam)
    result = CliRunner().invoke(main, ["verify", str(keras_path), str(torch_path), "--json"])
    assert result.exit_code == 0, result.output
    assert "training" not in json.loads(result.output)["models"][0]


DICE = '''
import numpy as np
from tensorflow import keras
from tensorflow.keras import backend as K
from tensorflow.keras import layers


def dice_coef(y_true, y_pred, smooth=1.0):
    y_true_f = K.flatten(y_true)
    y_pred_f = K.flatten(y_pred)
    intersection = K.sum(y_true_f * y_pred_f)
    return (2.0 * intersection + smooth) / (K.sum(y_true_f) + K.sum(y_pred_f) + smooth)


def dice_coef_loss(y_true, y_pred):
    return 1 - dice_coef(y_true, y_pred)


inputs = keras.Input((16, 16, 1))
h = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
outputs = layers.Conv2D(1, 1, activation="sigmoid")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss=dice_coef_loss, metrics=[dice_coef])
model.fit(x, y, batch_size=16, epochs=2)
'''


def test_a_segmentation_dice_loss_calling_another_function_trains_like_keras():
    torch_text = _convert(DICE)
    # dice_coef_loss calls dice_coef (a parameter with a constant default): both are rewritten.
    assert "def dice_coef(y_true, y_pred, smooth=1.0):" in torch_text
    assert "return 1 - dice_coef(y_true, y_pred)" in torch_text
    assert "y_true_f = torch.reshape(y_true, (-1,))" in torch_text
    _assert_trains_alike(_train(DICE, torch_text))
    # dice_coef also called on arrays: neither is rewritten, and the loss says why.
    result = translate(DICE + "print(dice_coef(y, model.predict(x)))\n")
    assert "K.flatten(y_true)" in result.code
    assert any(d.code == "K2T401" and "dice_coef" in d.message for d in result.errors)
