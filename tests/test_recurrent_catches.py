"""Proposed additions to tests/test_verify_catches.py: the recurrent traps are caught."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from k2t import translate
from k2t.rules import layers as registry
from k2t.verify import verify_sources

RECURRENT = """
from tensorflow import keras
from tensorflow.keras import layers

model = keras.Sequential([
    keras.Input(shape=(9, 3)),
    layers.GRU(6, return_sequences=True, go_backwards=True),
    layers.Bidirectional(layers.LSTM(5)),
    layers.Dense(2),
])
"""


@pytest.fixture(scope="module")
def recurrent() -> str:
    return translate(RECURRENT).code


def _status(code: str) -> str:
    (verdict,) = verify_sources(RECURRENT, code)
    return verdict.status


def test_recurrent_translation_is_equivalent(recurrent):
    assert _status(recurrent) == "equivalent"


def test_bidirectional_last_output_step_is_caught(recurrent):
    # output[:, -1] holds the backward direction's output after one step, not its final one.
    old = "x = self.bilstm(x)[1][0]\n        x = torch.cat([x[0], x[1]], dim=1)"
    assert old in recurrent
    assert _status(recurrent.replace(old, "x = self.bilstm(x)[0][:, -1]")) == "different"


def test_go_backwards_without_flip_is_caught(recurrent):
    assert "self.gru(x.flip(1))" in recurrent
    assert _status(recurrent.replace("self.gru(x.flip(1))", "self.gru(x)")) == "different"


def test_gru_gates_in_keras_order_are_caught(recurrent, monkeypatch):
    rule = registry.LAYERS["GRU"]

    def keras_order(weights, info):  # kernels transposed, but z, r, h left as they are
        kernel, recurrent_kernel, bias = weights
        return {"weight_ih_l0": kernel.T, "weight_hh_l0": recurrent_kernel.T,
                "bias_ih_l0": bias[0], "bias_hh_l0": bias[1]}

    monkeypatch.setitem(registry.LAYERS, "GRU", dataclasses.replace(rule, transfer=keras_order))
    assert _status(recurrent) == "different"


def test_lstm_bias_in_both_torch_biases_is_caught(recurrent, monkeypatch):
    rule = registry.LAYERS["Bidirectional"]

    def doubled(weights, info):
        out = rule.transfer(weights, info)
        return {k: (out[k.replace("hh", "ih")] if k.startswith("bias_hh") else v) for k, v in out.items()}

    monkeypatch.setitem(registry.LAYERS, "Bidirectional", dataclasses.replace(rule, transfer=doubled))
    assert _status(recurrent) == "different"
