"""The ops table (rules/ops.py), entry by entry: every sample call is translated by the engine the
translator uses (k2t/ops.py), then evaluated with TensorFlow/Keras and with torch on the same inputs.
The results must agree (values, dtype, shape); a shape the table derives must be the real one; and a
result the engine calls pointwise must not depend on the order of axes."""

from __future__ import annotations

import ast
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import libcst as cst  # noqa: E402
from libcst.metadata import MetadataWrapper  # noqa: E402

from k2t.names import resolver_for  # noqa: E402
from k2t.ops import Expr, torch_code, translate_expression  # noqa: E402
from k2t.rules.ops import ENTRIES, OPS, TENSOR, Refused  # noqa: E402
from k2t.values import Env  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

_rng = np.random.default_rng(0)
INPUTS = {
    "x": _rng.normal(size=(2, 3, 4)).astype("float32"),
    "y": _rng.normal(size=(2, 3, 4)).astype("float32"),
    "p": _rng.uniform(0.5, 2.0, size=(2, 3, 4)).astype("float32"),  # positive
    "u": _rng.uniform(-0.9, 0.9, size=(2, 3, 4)).astype("float32"),  # inside (-1, 1)
    "t": _rng.uniform(0.0, 1.0, size=(2, 3, 4)).astype("float32"),  # targets
    "m": _rng.normal(size=(4, 5)).astype("float32"),
    "v": _rng.normal(size=(4,)).astype("float32"),
    "i": _rng.integers(0, 4, size=(2, 3)).astype("int32"),
    "c": _rng.uniform(size=(2, 3, 4)) > 0.5,
    "d": _rng.uniform(size=(2, 3, 4)) > 0.3,
    "g": _rng.normal(size=(2, 6, 4, 3)).astype("float32"),  # channels-last images
}
_HEADER = (
    "import tensorflow as tf\nimport keras\nfrom keras import ops\n"
    "from tensorflow.keras import backend as K\nimport numpy as np\n\n"
)
SAMPLES = [(entry.keys[0], sample) for entry in ENTRIES if not entry.random for sample in entry.samples]
# Random ops draw other numbers in torch than in TF: compared by shape, dtype and distribution.
RANDOM_SAMPLES = [(entry.keys[0], sample) for entry in ENTRIES if entry.random for sample in entry.samples]


def _translate(sample: str) -> Expr:
    wrapper = MetadataWrapper(cst.parse_module(_HEADER + f"result = {sample}\n"))
    resolver = resolver_for(wrapper)
    node = wrapper.module.body[-1].body[0].value
    # Pointwise inputs must share one shape (a Lambda's single input does).
    names = {
        name: Expr(_name(name), TENSOR, tuple(array.shape), pointwise=array.shape == (2, 3, 4))
        for name, array in INPUTS.items()
    }
    return translate_expression(node, resolver, Env(), names)


def _name(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def _numpy(value):
    if isinstance(value, (tf.Tensor, tf.Variable)):
        return value.numpy()
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    return np.asarray(value)


def _kind(array: np.ndarray) -> str:
    return array.dtype.name


@pytest.mark.parametrize("key, sample", SAMPLES, ids=[s for _, s in SAMPLES])
def test_entry_matches_tensorflow(key, sample):
    expr = _translate(sample)
    code = torch_code(expr)
    tf_namespace = {
        "tf": tf,
        "keras": keras,
        "ops": keras.ops,
        "K": tf.keras.backend,
        "np": np,
        **{name: tf.constant(array) for name, array in INPUTS.items()},
    }
    torch_namespace = {
        "torch": torch,
        "F": torch.nn.functional,
        **{name: torch.from_numpy(array.copy()) for name, array in INPUTS.items()},
    }
    expected = _numpy(eval(sample, tf_namespace))  # noqa: S307 - the table's own samples
    got = _numpy(eval(code, torch_namespace))  # noqa: S307
    assert got.shape == expected.shape, code
    if expr.kind == TENSOR:
        assert _kind(got) == _kind(expected), code
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=code)
    else:
        np.testing.assert_array_equal(got, expected, err_msg=code)
    if expr.kind == TENSOR and expr.shape is not None:
        assert tuple(expr.shape) == expected.shape, (code, expr.shape)
    if expr.kind == TENSOR and expr.pointwise and expected.ndim == 3:
        # Pointwise: the same code on inputs with their axes reversed gives the output reversed.
        flipped = {
            name: torch.from_numpy(array.copy()).permute(2, 1, 0) if array.ndim == 3 else torch.from_numpy(array.copy())
            for name, array in INPUTS.items()
        }
        again = _numpy(eval(code, {**torch_namespace, **flipped}))  # noqa: S307
        np.testing.assert_allclose(again, got.transpose(2, 1, 0), rtol=1e-6, atol=1e-6, err_msg=code)


def _namespaces() -> tuple[dict, dict]:
    tf_namespace = {
        "tf": tf,
        "keras": keras,
        "ops": keras.ops,
        "K": tf.keras.backend,
        "np": np,
        **{name: tf.constant(array) for name, array in INPUTS.items()},
    }
    torch_namespace = {
        "torch": torch,
        "F": torch.nn.functional,
        **{name: torch.from_numpy(array.copy()) for name, array in INPUTS.items()},
    }
    return tf_namespace, torch_namespace


@pytest.mark.parametrize("key, sample", RANDOM_SAMPLES, ids=[s for _, s in RANDOM_SAMPLES])
def test_random_entry_draws_like_tensorflow(key, sample):
    """Same shape and dtype as TF's draw; over many samples (the large shapes), the same
    distribution: mean, standard deviation, range and quantiles within a few standard errors."""
    expr = _translate(sample)
    code = torch_code(expr)
    assert expr.kind == TENSOR and not expr.pointwise, code
    tf_namespace, torch_namespace = _namespaces()
    keras.utils.set_random_seed(0)
    torch.manual_seed(0)
    expected = _numpy(eval(sample, tf_namespace))  # noqa: S307 - the table's own samples
    got = _numpy(eval(code, torch_namespace))  # noqa: S307
    again = _numpy(eval(code, torch_namespace))  # noqa: S307
    assert got.shape == expected.shape, code
    assert _kind(got) == _kind(expected), code
    if expr.shape is not None:
        assert tuple(expr.shape) == expected.shape, (code, expr.shape)
    assert not np.array_equal(got, again), code  # a new draw at each call
    if expected.size < 10_000:
        return
    want, have = expected.astype("float64").ravel(), got.astype("float64").ravel()
    scale = want.std()
    error = 6 * scale / np.sqrt(want.size)  # six standard errors of a mean
    assert abs(have.mean() - want.mean()) < error, (code, have.mean(), want.mean())
    assert abs(have.std() - want.std()) < 0.02 * scale, (code, have.std(), want.std())
    if expected.dtype.kind in "iu":  # the same integers, each about as often
        values, counts = np.unique(want, return_counts=True)
        assert set(np.unique(have)) == set(values), code
        frequencies = counts / want.size
        got_frequencies = np.array([(have == v).mean() for v in values])
        assert np.all(abs(got_frequencies - frequencies) < 6 * np.sqrt(frequencies / want.size)), code
        return
    quantiles = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]
    np.testing.assert_allclose(
        np.quantile(have, quantiles), np.quantile(want, quantiles), atol=0.05 * scale, err_msg=code
    )
    if "normal" not in key:  # uniform: inside the same half-open range
        assert want.min() - 0.01 * scale <= have.min() and have.max() <= want.max() + 0.01 * scale, code


@pytest.mark.parametrize(
    "sample, reason",
    [
        ("keras.random.normal((2, 3), seed=1337)", "seed=1337 has no translation"),
        ("tf.random.uniform((2, 3), seed=4)", "torch cannot draw Keras's random stream"),
        ("tf.random.uniform((2, 3), dtype=tf.int32)", "needs maxval"),
        ("keras.random.uniform((2, 3), dtype='int32')", "floating point dtypes only"),
        ("tf.random.normal((2, 3), dtype=tf.int32)", "only floating point"),
    ],
)
def test_random_refused_forms_say_why(sample, reason):
    with pytest.raises(Refused, match=reason):
        _translate(sample)


def test_random_seed_none_and_device():
    code = torch_code(_translate("keras.random.normal((2, 3), seed=None)"))
    assert code == "torch.randn((2, 3), device=x.device)"
    code = torch_code(_translate("tf.random.uniform((2, 3), minval=-1.0, maxval=1.0)"))
    assert code == "torch.empty((2, 3), device=x.device).uniform_(-1.0, 1.0)"


def _resolve(key: str):
    if key.startswith("tf."):
        found = tf
        parts = key.split(".")[1:]
    elif key.startswith("backend."):
        found, parts = tf.keras.backend, key.split(".")[1:]
    else:
        found, parts = keras, key.split(".")
    for part in parts:
        found = getattr(found, part)
    return found


def test_every_key_names_an_installed_function_and_has_samples():
    assert len(ENTRIES) >= 150
    for key, entry in OPS.items():
        assert callable(_resolve(key)), key
        assert entry.samples, key


@pytest.mark.parametrize(
    "sample, reason",
    [
        ("tf.nn.dropout(x, 0.5)", "tf.nn.dropout has no translation"),
        ("tf.reduce_sum(x, axis=[])", "empty axis list"),
        ("tf.squeeze(x, axis=1)", "size 3"),
        ("tf.where(x > 0)", "indices"),
        ("tf.pad(x, [[0, 0], [1, 1], [0, 0]], mode='SYMMETRIC')", "constant padding"),
        ("tf.math.cumsum(x, exclusive=True)", "exclusive=True"),
        ("tf.split(x, 2, axis=1)[0]", "does not split"),
        ("x[:, ::-1]", "negative"),
        ("np.mean(x)", "not a TensorFlow/Keras function"),
        ("tf.one_hot(i, 4, on_value=2.0)", "on_value"),
        ("tf.nn.leaky_relu(x, alpha=2.0)", "above 1"),
    ],
)
def test_refused_forms_say_why(sample, reason):
    with pytest.raises(Refused, match=reason):
        _translate(sample)
