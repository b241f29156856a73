"""keras.layers.Lambda: bodies of table ops inlined in forward() (rules/layers/lambda_layer.py)."""

from __future__ import annotations

import pytest

from k2t import translate

HEAD = """import numpy as np
import tensorflow as tf
import keras
from keras import layers, ops
from tensorflow.keras import backend as K

SCALE = 3.0
"""


def _sequential(*layer_code: str, shape: str = "(8, 3)") -> str:
    body = ", ".join(layer_code)
    return HEAD + f"model = keras.Sequential([keras.Input(shape={shape}), {body}, layers.Flatten(), layers.Dense(2)])\n"


def _forward(code: str) -> list[str]:
    body = code.split("    def forward(")[1].split('"""')[2]
    return [line.strip() for line in body.splitlines() if line.strip()]


@pytest.mark.parametrize(
    "layer, line",
    [
        ("layers.Lambda(lambda x: tf.reduce_mean(x, axis=1, keepdims=True))", "x = torch.mean(x, dim=1, keepdim=True)"),
        ("layers.Lambda(lambda t: K.sum(K.square(t), axis=-1))", "x = torch.sum(torch.square(x), dim=-1)"),
        ("layers.Lambda(lambda x: x * SCALE + np.pi)", "x = x * SCALE + np.pi"),
        ("layers.Lambda(lambda x: ops.softmax(x, axis=1))", "x = torch.softmax(x, dim=1)"),
        ("layers.Lambda(lambda x: tf.concat([x, x ** 2], axis=-1))", "x = torch.cat([x, x**2], dim=-1)"),
        ("layers.Lambda(lambda x: K.expand_dims(x, 1))", "x = torch.unsqueeze(x, 1)"),
        ("layers.Lambda(lambda x: x[:, -1])", "x = x[:, -1]"),
        ("layers.Lambda(lambda x: tf.reshape(x, (-1, 24)))", "x = torch.reshape(x, (-1, 24))"),
        # A range has a static length: the broadcast's shape is known.
        (
            "layers.Lambda(lambda x: x + tf.cast(tf.range(3), tf.float32))",
            "x = x + torch.arange(3, dtype=torch.int32, device=x.device).to(torch.float32)",
        ),
        ("layers.Lambda(lambda x: K.int_shape(x)[-1] * x)", "x = 3 * x"),
        ("layers.Lambda(K.square)", "x = torch.square(x)"),
        ("layers.Lambda(tf.nn.gelu)", "x = F.gelu(x)"),
        ("layers.Lambda(lambda x: x + K.epsilon())", "x = x + 1e-07"),
        (
            "layers.Lambda(lambda x: x + tf.cast(tf.range(3), tf.float32), output_shape=(8, 3))",
            "x = x + torch.arange(3, dtype=torch.int32, device=x.device).to(torch.float32)",
        ),
    ],
)
def test_lambda_forms_are_inlined(layer, line):
    result = translate(_sequential(layer))
    assert not result.errors, result.diagnostics
    assert line in _forward(result.code)
    assert "tensorflow" not in result.code and "keras" not in result.code


def test_pointwise_body_runs_channels_first_and_an_axis_takes_channels_last():
    source = _sequential(
        "layers.Conv2D(4, 3)",
        "layers.Lambda(lambda t: tf.nn.relu(t) * 2.0)",
        "layers.Conv2D(4, 3)",
        "layers.Lambda(lambda t: tf.reduce_max(t, axis=-1, keepdims=True))",
        shape="(8, 8, 3)",
    )
    result = translate(source)
    assert not result.errors, result.diagnostics
    assert _forward(result.code)[:5] == [
        "x = self.conv1(x)",
        "x = torch.relu(x) * 2.0",  # between two convolutions: no permute
        "x = self.conv2(x)",
        "x = x.permute(0, 2, 3, 1)",  # axis=-1 is Keras's channel axis
        "x = torch.amax(x, dim=-1, keepdim=True)",
    ]


def test_module_level_def_is_inlined_and_goes_with_the_model():
    source = HEAD + '''
def center(t):
    """Minus the mean over time."""
    return t - tf.reduce_mean(t, axis=1, keepdims=True)


model = keras.Sequential([keras.Input(shape=(8, 3)), layers.Lambda(center), layers.Flatten(), layers.Dense(2)])
'''
    result = translate(source)
    assert not result.errors, result.diagnostics
    assert "x = x - torch.mean(x, dim=1, keepdim=True)" in _forward(result.code)
    assert "def center" not in result.code


def test_def_used_elsewhere_stays():
    source = HEAD + """
def squash(x):
    return x / (1.0 + tf.abs(x))


model = keras.Sequential([keras.Input(shape=(8,)), layers.Lambda(squash), layers.Dense(2)])
print(squash(np.ones(3)))
"""
    result = translate(source)
    assert "x = x / (1.0 + torch.abs(x))" in _forward(result.code)
    assert "def squash(x):" in result.code
    assert [d.code for d in result.errors] == ["K2T501"]  # its own tf.abs, left for a human


def test_functional_lambda_of_several_inputs():
    source = HEAD + """
a = keras.Input(shape=(6, 6, 3))
b = keras.Input(shape=(6, 6, 3))
x = layers.Conv2D(4, 3, padding="same")(a)
y = layers.Conv2D(4, 3, padding="same")(b)
z = layers.Lambda(lambda t: t[0] * tf.sigmoid(t[1]))([x, y])
z = layers.Lambda(lambda t: tf.reduce_mean(t, axis=[1, 2]) / SCALE)(z)
out = layers.Dense(3)(z)
model = keras.Model([a, b], out)
"""
    result = translate(source)
    assert not result.errors, result.diagnostics
    forward = _forward(result.code)
    assert "z = x.permute(0, 2, 3, 1) * torch.sigmoid(y.permute(0, 2, 3, 1))" in forward
    assert "z = torch.mean(z, dim=(1, 2)) / SCALE" in forward


@pytest.mark.parametrize(
    "layer, code, reason",
    [
        ("layers.Lambda(lambda x: tf.nn.dropout(x, 0.5))", "K2T101", "tf.nn.dropout has no translation yet"),
        ("layers.Lambda(lambda x: x * np.ones(3))", "K2T101", "cannot tell whether np.ones(3) is a number"),
        ("layers.Lambda(lambda x, y: x + y)", "K2T101", "several arguments"),
        ("layers.Lambda(abs)", "K2T101", "not a lambda, a module-level function"),
        ("layers.Lambda(lambda x: x.numpy())", "K2T101", ".numpy() has no translation"),
        ("layers.Lambda(lambda x: x + 1.0, mask=lambda i, m: m)", "K2T102", "Lambda(mask="),
        ("layers.Lambda(lambda x: tf.reduce_sum(x))", "K2T102", "does not keep the batch axis"),
        ("layers.Lambda(lambda x: tf.squeeze(x, axis=2))", "K2T101", "TF refuses to squeeze"),
    ],
)
def test_untranslatable_lambda_is_reported_with_its_reason(layer, code, reason):
    result = translate(_sequential(layer))
    (error,) = [d for d in result.errors if d.code != "K2T302"]
    assert error.code == code and reason in error.message, error
    assert f"# k2t: {code}" in result.code


def test_sizes_known_at_run_time_flow_through_as_expressions():
    source = HEAD + """
x_train = np.ones((10, 5))
model = keras.Sequential(
    [keras.Input(shape=(x_train.shape[1],)), layers.Lambda(lambda t: tf.concat([t, t * 2.0], axis=-1)), layers.Dense(2)]
)
"""
    result = translate(source)
    assert not result.errors, result.diagnostics
    assert "self.fc = nn.Linear(in_features + in_features, 2)" in result.code


def test_sizes_read_from_the_input_shape_are_static():
    result = translate(_sequential("layers.Lambda(lambda t: t[:, : tf.shape(t)[1] // 2])"))
    assert not result.errors, result.diagnostics
    assert "x = x[:, : x.shape[1] // 2]" in _forward(result.code)
    assert "nn.Linear(12, 2)" in result.code  # (4, 3) flattened


def test_lambda_reading_a_builder_variable_is_refused():
    source = HEAD + """
def build(k):
    return keras.Sequential([keras.Input(shape=(4,)), layers.Lambda(lambda t: t * k), layers.Dense(1)])


model = build(2)
"""
    (error,) = translate(source).errors
    assert error.code == "K2T101" and "k is a variable of the function that builds the model" in error.message


def test_lambda_model_verifies_against_keras_and_a_wrong_layout_is_caught():
    from k2t.verify import verify_sources

    # Every axis has size 4: computing the Lambdas on channels-first tensors would keep the shapes.
    source = HEAD + """
a = keras.Input(shape=(4, 4, 3))
b = keras.Input(shape=(4, 4, 3))
x = layers.Conv2D(4, 3, padding="same")(a)
y = layers.Lambda(lambda t: ops.leaky_relu(t) - 0.5)(layers.Conv2D(4, 3, padding="same")(b))
z = layers.Lambda(lambda t: K.l2_normalize(t[0] * t[1], axis=-1))([x, y])
z = layers.Lambda(lambda t: tf.concat([K.max(t, axis=[1, 2]), tf.reduce_mean(t, axis=(1, 2))], -1))(z)
out = layers.Dense(3, activation="softmax")(z)
model = keras.Model([a, b], out)
"""
    result = translate(source)
    assert not result.errors, result.diagnostics
    (verdict,) = verify_sources(source, result.code, "lambda.keras.py", "lambda.torch.py")
    assert verdict.status == "equivalent", verdict
    assert ".permute(0, 2, 3, 1)" in result.code
    wrong = result.code.replace(".permute(0, 2, 3, 1)", "")
    (verdict,) = verify_sources(source, wrong, "lambda.keras.py", "wrong.torch.py")
    assert verdict.status == "different", verdict
