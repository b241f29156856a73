"""Input shapes of the program's layer classes, learnt from their callers over the translation's passes."""

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
