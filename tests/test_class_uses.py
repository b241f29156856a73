"""The program's layer classes as the rest of the program uses them: callers' shapes over the
translation's passes, arguments in loops, the config API."""

from __future__ import annotations

from k2t.translate import translate
from k2t.verify import verify_sources

BLOCKS = '''
import numpy as np
import keras
from keras import layers


class ResidualBlock(layers.Layer):
    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.conv = layers.Conv2D(filters, 3, padding="same")
        self.bn = layers.BatchNormalization()
        self.project = layers.Conv2D(filters, 1)

    def call(self, inputs, training=False):
        x = self.bn(self.conv(inputs), training=training)
        return keras.ops.relu(x + self.project(inputs))


class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.stem = layers.Conv2D(8, 3, padding="same")
        self.block1 = ResidualBlock(16)
        self.block2 = ResidualBlock(16)
        self.pool = layers.GlobalAveragePooling2D()
        self.head = layers.Dense(3)

    def call(self, inputs, training=False):
        x = self.stem(inputs)
        x = self.block1(x, training=training)
        x = self.block2(x, training=training)
        return self.head(self.pool(x))


model = Net()
model.build((None, 10, 10, 3))
model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
x = np.random.rand(32, 10, 10, 3).astype("float32")
y = np.random.randint(0, 3, size=(32,))
model.fit(x, y, epochs=1, verbose=0)
'''


def test_callers_that_give_a_class_different_channels_leave_those_lazy():
    # block1 gets 8 channels, block2 16: one class cannot be specialised to either (before, the
    # passes alternated and the last one wrote nn.Conv2d(8, ...), which block2 fails on).
    result = translate(BLOCKS)
    assert "self.conv = nn.LazyConv2d(filters, 3, padding=1)" in result.code
    assert "nn.Conv2d(8, filters" not in result.code
    (verdict,) = verify_sources(BLOCKS, result.code)
    assert verdict.status == "equivalent", verdict


def test_a_layer_class_made_in_a_loop_takes_each_iterations_argument():
    source = """
import keras
from keras import layers


class Scale(layers.Layer):
    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor


inputs = keras.Input(shape=(4,))
x = inputs
for factor in (0.5, 2.0):
    x = Scale(factor)(x)
model = keras.Model(inputs, layers.Dense(2)(x))
"""
    result = translate(source)
    # Before: Scale(factor) twice, with a constructor parameter factor=2.0 (the loop's last value).
    assert "self.scale1 = Scale(0.5)" in result.code and "self.scale2 = Scale(2.0)" in result.code
    assert "model = Model().to(device)" in result.code
    (verdict,) = verify_sources(source, result.code)
    assert verdict.status == "equivalent", verdict


def test_callers_that_agree_on_no_size_still_give_the_rank():
    source = """
import keras
from keras import layers


class NormDense(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(units)
        self.norm = layers.LayerNormalization()

    def call(self, x):
        return self.norm(self.dense(x))


inputs = keras.Input(shape=(8,))
x = NormDense(24)(inputs)
x = NormDense(16)(x)
model = keras.Model(inputs, layers.Dense(1)(x))
"""
    result = translate(source)
    # (8,) and (24,): no size in common, but rank 1, so LayerNormalization knows its axis.
    assert not result.errors, result.errors
    assert "nn.LayerNorm(units, eps=0.001)" in result.code
    (verdict,) = verify_sources(source, result.code)
    assert verdict.status == "equivalent", verdict


def test_the_config_api_of_a_translated_class_is_reported_where_the_program_uses_it():
    source = """
import keras
from keras import layers


class Scale(layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


layer = Scale(3.0)
config = layer.get_config()
clone = Scale.from_config(config)
"""
    result = translate(source)
    # The torch class has no get_config/from_config: each use is marked, not left to fail at run time.
    assert [(d.line, d.code) for d in result.errors] == [(19, "K2T302"), (20, "K2T302")]
    assert result.code.count("# k2t: K2T302") == 2
