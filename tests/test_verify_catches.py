"""The verifier is only worth something if it catches wrong translations: each test breaks one
Keras semantic in a correct translation and expects "different"."""

from __future__ import annotations

import dataclasses

import pytest

from k2t import translate
from k2t.rules import layers as registry
from k2t.rules.layers import conv, core
from k2t.verify import verify_sources

KERAS = """
from tensorflow import keras
from tensorflow.keras import layers

model = keras.Sequential([
    keras.Input(shape=(16, 16, 3)),
    layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
    layers.BatchNormalization(),
    layers.Conv2D(8, 3, padding="same"),
    layers.Flatten(),
    layers.Dense(10, activation="relu"),
    layers.Dense(4, activation="softmax"),
])
model.compile(optimizer="adam", loss="categorical_crossentropy")
"""


@pytest.fixture(scope="module")
def translated() -> str:
    return translate(KERAS).code


def _verdict(torch_code: str):
    (verdict,) = verify_sources(KERAS, torch_code)
    return verdict


def test_correct_translation_is_equivalent(translated):
    verdict = _verdict(translated)
    assert verdict.status == "equivalent", verdict
    assert "nn.ZeroPad2d((0, 1, 0, 1))" in translated  # 16 -> 8 with stride 2: TF pads after only


def _mutate(code: str, old: str, new: str) -> str:
    assert old in code, old
    return code.replace(old, new, 1)


def test_changed_activation_is_caught(translated):
    verdict = _verdict(_mutate(translated, "torch.relu(self.fc1(x))", "torch.tanh(self.fc1(x))"))
    assert verdict.status == "different"
    assert verdict.first_divergent_layer is not None


def test_hwc_flatten_without_reordered_kernel_is_caught(translated):
    # Keras's (H, W, C) flatten in torch, while the Dense kernel is reordered for (C, H, W).
    mutated = _mutate(translated, "torch.flatten(x, 1)", "torch.flatten(x.permute(0, 2, 3, 1), 1)")
    assert _verdict(mutated).status == "different"


def test_chw_flatten_with_unreordered_kernel_is_caught(translated, monkeypatch):
    # The classic hand-translation bug: torch's (C, H, W) flatten with the Keras kernel as is.
    original = core._transfer_dense

    def plain_transfer(weights, info):
        return original(weights, {**info, "flat_from": None})

    dense = dataclasses.replace(registry.LAYERS["Dense"], transfer=plain_transfer)
    monkeypatch.setitem(registry.LAYERS, "Dense", dense)
    verdict = _verdict(translated)
    assert verdict.status == "different"
    assert verdict.first_divergent_layer == "Dense (layer 4)"


def test_wrong_batchnorm_epsilon_is_caught(translated):
    assert _verdict(_mutate(translated, "eps=0.001", "eps=1e-05")).status == "different"


def test_symmetric_padding_where_tf_pads_asymmetrically_is_caught(translated):
    kept = [line for line in translated.splitlines(keepends=True) if "self.pad" not in line and "TF pads" not in line]
    mutated = "".join(kept)
    mutated = _mutate(mutated, "nn.Conv2d(3, 8, 3, stride=2)", "nn.Conv2d(3, 8, 3, stride=2, padding=1)")
    verdict = _verdict(mutated)
    assert verdict.status == "different"
    assert verdict.first_divergent_layer == "Conv2D (layer 0)"


def test_missing_class_is_reported(translated):
    verdict = _verdict(translated.replace("class Model(", "class Renamed("))
    assert verdict.status == "different" and "Model" in verdict.reason


def test_runtime_shape_is_unverifiable():
    keras = """
import numpy as np
from tensorflow import keras
x_train = np.load("data.npy")
model = keras.Sequential([keras.layers.Dense(4, input_shape=x_train.shape[1:])])
"""
    (verdict,) = verify_sources(keras, "import torch\n")
    assert verdict.status == "unverifiable"
    assert verdict.reason


def test_a_keras_model_that_fails_to_build_is_unverifiable_not_a_crash():
    keras = """
from tensorflow import keras
model = keras.Sequential([keras.layers.Conv2D(2, 3, input_shape=(8, 8, 1)), keras.layers.AveragePooling2D()])
"""
    (verdict,) = verify_sources(keras, translate(keras).code)
    assert verdict.status == "unverifiable"
    assert "building the model failed" in verdict.reason


def test_imports_the_model_does_not_read_are_not_executed():
    keras = """
import numpy as np
import a_module_that_is_not_installed
from tensorflow import keras
data = a_module_that_is_not_installed.load()
model = keras.Sequential([keras.layers.Dense(3, input_shape=(4,))])
"""
    (verdict,) = verify_sources(keras, translate(keras).code)
    assert verdict.status == "equivalent", verdict
    assert "keras.py: imports (lines 4);" in verdict.executed  # neither numpy nor line 3


# Layers whose wrong translations look plausible: causal padding, the depthwise channel order of
# a separable conv with depth_multiplier > 1, GroupNorm's epsilon, the axis of a unit norm after
# the layout change, and tf.image.resize's half-pixel sampling.
KERAS_SEQUENCE = """
from tensorflow import keras
from tensorflow.keras import layers

model = keras.Sequential([
    keras.Input(shape=(12, 3)),
    layers.Conv1D(4, 3, padding="causal", dilation_rate=2),
    layers.Flatten(),
    layers.Dense(2),
])
"""

KERAS_IMAGES = """
from tensorflow import keras
from tensorflow.keras import layers

model = keras.Sequential([
    keras.Input(shape=(10, 10, 4)),
    layers.SeparableConv2D(8, 3, padding="same", depth_multiplier=2),
    layers.GroupNormalization(groups=2),
    layers.UnitNormalization(),
    layers.Resizing(7, 7, interpolation="nearest"),
    layers.Resizing(9, 9),
    layers.Flatten(),
    layers.Dense(3),
])
"""


@pytest.fixture(scope="module")
def translated_images() -> str:
    return translate(KERAS_IMAGES).code


def _verdict_of(keras_code: str, torch_code: str):
    (verdict,) = verify_sources(keras_code, torch_code)
    return verdict


def test_causal_padding_on_both_sides_is_caught():
    translated = translate(KERAS_SEQUENCE).code
    assert _verdict_of(KERAS_SEQUENCE, translated).status == "equivalent"
    # Same length, but the output at step t now sees inputs after t.
    mutated = _mutate(translated, "nn.ZeroPad1d((4, 0))", "nn.ZeroPad1d((2, 2))")
    verdict = _verdict_of(KERAS_SEQUENCE, mutated)
    assert verdict.status == "different"
    assert verdict.first_divergent_layer == "Conv1D (layer 0)"


def test_new_image_layers_translate_equivalently(translated_images):
    assert _verdict_of(KERAS_IMAGES, translated_images).status == "equivalent"


def test_separable_depthwise_channel_order_is_caught(translated_images, monkeypatch):
    # Keras's depthwise output channel c * multiplier + m, transferred multiplier-major instead.
    original = conv._transfer_separable

    def multiplier_major(weights, info):
        out = original(weights, info)
        kh, kw, channels, multiplier = weights[0].shape
        depthwise = weights[0].transpose(3, 2, 0, 1)  # (multiplier, in, kh, kw)
        out["depthwise.weight"] = depthwise.reshape(channels * multiplier, 1, kh, kw)
        return out

    rule = dataclasses.replace(registry.LAYERS["SeparableConv2D"], transfer=multiplier_major)
    monkeypatch.setitem(registry.LAYERS, "SeparableConv2D", rule)
    verdict = _verdict_of(KERAS_IMAGES, translated_images)
    assert verdict.status == "different"
    assert verdict.first_divergent_layer == "SeparableConv2D (layer 0)"


def test_torch_default_group_norm_epsilon_is_caught(translated_images):
    mutated = _mutate(translated_images, "nn.GroupNorm(2, 8, eps=0.001)", "nn.GroupNorm(2, 8)")
    assert _verdict_of(KERAS_IMAGES, mutated).status == "different"


def test_unit_norm_over_the_wrong_axis_is_caught(translated_images):
    # Keras's axis=-1 is the channels: dim 1 of the channels-first tensor, not its width.
    mutated = _mutate(translated_images, "F.normalize(x, dim=1)", "F.normalize(x, dim=-1)")
    assert _verdict_of(KERAS_IMAGES, mutated).status == "different"


def test_torch_nearest_instead_of_half_pixel_nearest_is_caught(translated_images):
    mutated = _mutate(translated_images, 'mode="nearest-exact"', 'mode="nearest"')
    assert _verdict_of(KERAS_IMAGES, mutated).status == "different"


def test_bilinear_with_aligned_corners_is_caught(translated_images):
    mutated = _mutate(translated_images, "align_corners=False", "align_corners=True")
    assert _verdict_of(KERAS_IMAGES, mutated).status == "different"


def test_verify_runs_keras_2_programs_with_modules_it_does_not_need():
    """Keras 2 layer submodules (folded into keras.layers in Keras 3) and modules the model does
    not need that are not installed here (a plotting library) do not stop verify; a use of such a
    module fails naming it."""
    import sys

    from k2t import translate

    source = '''
import numpy as np
import k2t_absent_plotting.pyplot as plt
from keras.layers.advanced_activations import LeakyReLU
from keras.layers.core import Dense
from keras.models import Sequential

model = Sequential([Dense(8, input_shape=(4,)), LeakyReLU(0.2), Dense(1)])


def show(images):
    plt.imshow(images)
'''
    result = translate(source)
    (verdict,) = verify_sources(source, result.code)
    assert verdict.status == "equivalent", verdict
    assert "k2t_absent_plotting" not in sys.modules and "keras.layers.core" not in sys.modules
    from k2t.verify.build import Unverifiable, execute

    with pytest.raises(Unverifiable, match="k2t_absent_plotting.pyplot.figure is used, and its module is not installed"):
        execute("import k2t_absent_plotting.pyplot as plt\nplt.figure()\n", {}, "program.py")
