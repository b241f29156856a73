"""tf.data pipelines over arrays given to fit/evaluate/predict (k2t/datasets.py)."""

from __future__ import annotations

import pytest

from k2t.translate import translate

PROGRAM = """
import numpy as np
import tensorflow as tf
import keras
from keras import layers

x = np.zeros((64, 4), "float32")
y = np.zeros((64,), "int64")
ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(64).batch(16)
model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(2, activation="softmax")])
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
model.fit(ds, epochs=2)
"""


def test_a_pipeline_over_arrays_is_fit_on_its_arrays_and_goes():
    result = translate(PROGRAM)
    assert not result.diagnostics, result.diagnostics
    assert "tf.data.Dataset" not in result.code
    assert "import tensorflow" not in result.code
    # Shuffled per epoch, in batches of 16, as the dataset was.
    assert "train_inputs, train_targets, 16\n" in result.code
    assert "torch.randperm" in result.code
    assert "# ds, a tf.data pipeline over (x, y) in batches of 16, shuffled each epoch" in result.code


@pytest.mark.parametrize(
    "pipeline, reason",
    [
        ("tf.data.Dataset.from_tensor_slices((x, y)).map(lambda a, b: (a * 2, b)).batch(16)",
         "ds: .map() on a dataset has no translation yet"),
        ("tf.data.Dataset.from_tensor_slices((x, y)).batch(16).shuffle(4)",
         "ds: shuffle() after batch() shuffles whole batches, which the loops do not"),
        ("tf.data.Dataset.from_tensor_slices((x, y)).batch(16, drop_remainder=True)",
         "ds: batch(drop_remainder=...) drops the last batch, which fit() on arrays keeps"),
        ("tf.data.Dataset.from_tensor_slices((x, y))",
         "ds is not batched: Keras would take each element as a batch"),
    ],
)
def test_a_pipeline_that_is_not_its_arrays_is_left_with_the_reason(pipeline, reason):
    result = translate(PROGRAM.replace("tf.data.Dataset.from_tensor_slices((x, y)).shuffle(64).batch(16)", pipeline))
    fit = [d for d in result.errors if d.line == 12]
    assert [(d.code, d.message) for d in fit] == [("K2T402", f"fit(): {reason}")]
    assert "model.fit(ds, epochs=2)" in result.code  # left as is, under its marker
    assert "tf.data.Dataset.from_tensor_slices((x, y))" in result.code


def test_arrays_assigned_again_after_the_pipeline_are_not_its_arrays():
    source = PROGRAM.replace("model = keras.Sequential", "x = x * 2\nmodel = keras.Sequential")
    result = translate(source)
    assert ("K2T402", "fit(): ds: x is assigned again after the pipeline is made") in [
        (d.code, d.message) for d in result.errors
    ]


def test_a_pipeline_used_elsewhere_too_stays():
    source = PROGRAM + "for batch in ds.take(1):\n    print(batch)\n"
    result = translate(source)
    assert "train_inputs, train_targets, 16\n" in result.code
    assert "ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(64).batch(16)" in result.code
