"""Keras's random image augmentation layers: in training the translation computes what Keras
computes from the same random numbers (pinned on both sides, or fixed by factor ranges), at
inference it passes the images through, and its draws are per image as in Keras."""

from __future__ import annotations

import keras.src.backend.tensorflow.random as keras_tf_random
import numpy as np
import pytest
import tensorflow as tf
import torch

from k2t import translate

SHAPE = (9, 12, 3)  # odd and even sizes, not square: the aspect ratio and the centre matter


def _models(layer: str, shape: tuple = SHAPE):
    """The Keras model Sequential([Input(shape), layers.<layer>]) and its translation's module."""
    source = (
        "import keras\nfrom keras import layers\n\n"
        f"model = keras.Sequential([keras.Input({shape}), layers.{layer}])\n"
    )
    result = translate(source)
    assert not result.errors, result.diagnostics
    namespace = {"__name__": "translated"}
    exec(compile(result.code, "translated.py", "exec"), namespace)
    keras_namespace = {}
    exec(source, keras_namespace)
    return keras_namespace["model"], namespace["Model"](), result.code


def _images(n: int = 6, shape: tuple = SHAPE, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


def _torch(module, images: np.ndarray, channels_first: bool = True) -> np.ndarray:
    """The translated module on Keras's images; its output comes back channels-last."""
    x = torch.from_numpy(images)
    with torch.no_grad():
        return module(x.permute(0, 3, 1, 2) if channels_first else x).numpy()


def _pin(monkeypatch, draws: list) -> None:
    """Keras's uniform(shape, minval, maxval) and torch.rand(*size) return the same numbers, draw
    by draw (each a list of numbers in [0, 1), one per image)."""
    queues = {"keras": list(draws), "torch": list(draws)}

    def keras_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        u = tf.constant(np.reshape(queues["keras"].pop(0), shape), "float32")
        return tf.cast(minval + (maxval - minval) * u, dtype or "float32")

    def torch_rand(*size, device=None, dtype=None):
        return torch.tensor(queues["torch"].pop(0), dtype=dtype or torch.float32).reshape(size)

    monkeypatch.setattr(keras_tf_random, "uniform", keras_uniform)
    monkeypatch.setattr(torch, "rand", torch_rand)


# (layer, number of uniform draws per call, channels-first model input)
PINNED = [
    ('RandomFlip("horizontal")', 1, True),
    ('RandomFlip("vertical")', 1, True),
    ("RandomFlip()", 1, True),
    ("RandomRotation(0.2)", 1, True),
    ('RandomRotation((-0.3, 0.1), fill_mode="constant")', 1, True),
    ('RandomRotation(0.2, fill_mode="nearest", interpolation="nearest")', 1, True),
    ("RandomZoom(0.3)", 1, True),
    ('RandomZoom((-0.4, 0.2), (0.1, 0.5), fill_mode="constant")', 2, True),
    ("RandomTranslation(0.2, 0.3)", 2, True),
    ("RandomTranslation(0.9, 0.9)", 2, True),  # reflected beyond the image's first mirror
    ('RandomTranslation((-0.5, 0.9), 0.9, fill_mode="nearest", interpolation="nearest")', 2, True),
    ("RandomContrast(0.4, value_range=(0, 1))", 1, True),
    ("RandomContrast((0.5, 0.8), value_range=(0.2, 0.8))", 1, True),
    ("RandomBrightness(0.3, value_range=(0, 1))", 1, False),
    ("RandomBrightness((-0.6, 0.2), value_range=(1, 0))", 1, False),
]


@pytest.mark.parametrize("layer, n_draws, channels_first", PINNED, ids=[case[0] for case in PINNED])
def test_training_matches_keras_with_pinned_draws(monkeypatch, layer, n_draws, channels_first):
    keras_model, module, _ = _models(layer)
    images = _images()
    rng = np.random.default_rng(1)
    _pin(monkeypatch, [rng.random(len(images)) for _ in range(n_draws)])
    expected = np.asarray(keras_model(images, training=True))
    got = _torch(module.train(), images, channels_first)
    # Both sample at the same pixel centres; the coordinates differ in float32 rounding only.
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    assert not np.allclose(got, images, atol=1e-3)  # the draws did transform the images


# Factor ranges with low == high: Keras's own random numbers cannot change the transform.
FIXED = [
    "RandomRotation((0.125, 0.125))",
    'RandomRotation((-0.3, -0.3), fill_mode="constant")',
    "RandomZoom((0.2, 0.2))",
    'RandomZoom((-0.3, -0.3), (0.4, 0.4), fill_mode="nearest")',
    "RandomTranslation((0.1, 0.1), (-0.2, -0.2))",
    'RandomTranslation((0.25, 0.25), (0.6, 0.6), fill_mode="constant")',
    # Keras 3 draws the contrast factor in [1 - low, 1 + high]: (-0.5, 0.5) is always 1.5.
    "RandomContrast((-0.5, 0.5), value_range=(0, 1))",
]


@pytest.mark.parametrize("layer", FIXED)
def test_fixed_transform_matches_keras(layer):
    keras_model, module, _ = _models(layer)
    images = _images()
    expected = np.asarray(keras_model(images, training=True))
    np.testing.assert_allclose(_torch(module.train(), images), expected, rtol=0, atol=1e-5)


def test_rotation_direction_on_a_marked_pixel():
    """A quarter turn (0.25 of 2 pi) moves the top-left pixel as Keras moves it."""
    keras_model, module, _ = _models("RandomRotation((0.25, 0.25))", (5, 5, 1))
    images = np.zeros((1, 5, 5, 1), np.float32)
    images[0, 0, 0, 0] = 1.0
    expected = np.asarray(keras_model(images, training=True))
    got = _torch(module.train(), images)
    assert np.unravel_index(expected.argmax(), expected.shape) == np.unravel_index(
        got.argmax(), got.shape
    )
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize(
    "layer", [case[0] for case in PINNED] + ["RandomCrop(5, 7)", "RandomCrop(9, 8)"]
)
def test_identity_at_inference(layer):
    keras_model, module, _ = _models(layer)
    images = _images()
    channels_first = "Brightness" not in layer
    np.testing.assert_array_equal(_torch(module.eval(), images, channels_first), images)
    np.testing.assert_array_equal(np.asarray(keras_model(images, training=False)), images)


def test_crop_with_one_side_equal_matches_keras():
    """Keras takes a fixed centred window when one side already has the target size."""
    for layer in ("RandomCrop(9, 8)", "RandomCrop(6, 12)"):
        keras_model, module, _ = _models(layer)
        images = _images()
        expected = np.asarray(keras_model(images, training=True))
        np.testing.assert_array_equal(_torch(module.train(), images), expected)


def test_random_crop_is_one_window_per_batch_like_keras():
    keras_model, module, _ = _models("RandomCrop(5, 7)")
    images = _images(n=3)
    windows = {
        (top, left): images[:, top : top + 5, left : left + 7]
        for top in range(5)
        for left in range(6)
    }

    def offsets(output):
        found = [key for key, window in windows.items() if np.array_equal(window, output)]
        assert len(found) == 1  # the whole batch is one window of the images
        return found[0]

    torch.manual_seed(0)
    seen_torch = {offsets(_torch(module.train(), images)) for _ in range(300)}
    seen_keras = {offsets(np.asarray(keras_model(images, training=True))) for _ in range(300)}
    assert seen_torch == seen_keras == set(windows)  # every offset can be drawn, on both sides


def test_flip_statistics():
    """About half of 2000 images flipped, each image on its own draw; with both axes, an image
    is flipped on both or on neither (Keras 3 uses one draw for the two axes)."""
    torch.manual_seed(0)
    images = _images(n=2000, shape=(3, 4, 1))
    _, module, _ = _models('RandomFlip("horizontal")', (3, 4, 1))
    out = _torch(module.train(), images)
    flipped = np.all(out == images[:, :, ::-1], axis=(1, 2, 3))
    kept = np.all(out == images, axis=(1, 2, 3))
    assert np.all(flipped | kept) and 0.45 < flipped.mean() < 0.55
    _, module, _ = _models("RandomFlip()", (3, 4, 1))
    out = _torch(module.train(), images)
    both = np.all(out == images[:, ::-1, ::-1], axis=(1, 2, 3))
    assert np.all(both | np.all(out == images, axis=(1, 2, 3))) and 0.45 < both.mean() < 0.55


def test_transforms_are_drawn_per_image():
    """One image repeated over the batch comes out differently transformed, as in Keras."""
    torch.manual_seed(0)
    images = np.repeat(_images(n=1), 16, axis=0)
    for layer in (
        "RandomRotation(0.2)",
        "RandomZoom(0.3)",
        "RandomTranslation(0.2, 0.2)",
        "RandomContrast(0.5)",
    ):
        _, module, _ = _models(layer)
        out = _torch(module.train(), images * 255)
        assert len({out[i].tobytes() for i in range(len(out))}) == len(out), layer


def _diagnostics(layer: str, shape: tuple = SHAPE) -> list[str]:
    source = (
        "import keras\nfrom keras import layers\n\n"
        f"model = keras.Sequential([keras.Input({shape}), layers.{layer}])\n"
    )
    return [f"{d.code} {d.message}" for d in translate(source).diagnostics]


@pytest.mark.parametrize(
    "layer, reason",
    [
        ('RandomRotation(0.1, fill_mode="wrap")', "no grid_sample equivalent"),
        ('RandomZoom(0.1, fill_mode="constant", fill_value=1.0)', "pads with zeros only"),
        ('RandomTranslation((0.05, 0.05), 0.1, interpolation="nearest")', "half-way pixels"),
        ('RandomFlip(data_format="channels_first")', "data_format"),
        ("RandomContrast(0.2, value_range=(1, 0))", "reversed range"),
        ("RandomCrop(10, 7)", "Keras resizes"),
    ],
)
def test_refused(layer, reason):
    found = _diagnostics(layer)
    assert len(found) == 1 and found[0].startswith("K2T102") and reason in found[0], found


def test_seed_is_a_note():
    found = _diagnostics("RandomRotation(0.1, seed=42)")
    assert len(found) == 1 and found[0].startswith("K2T104") and "torch.manual_seed" in found[0]
