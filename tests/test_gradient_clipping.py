"""clipnorm, global_clipnorm and clipvalue: written into the training step, between backward() and step()."""

from __future__ import annotations

from pathlib import Path

import pytest

from k2t.translate import translate
from k2t.verify import verify_sources

FIXTURE = Path(__file__).parent.parent / "fixtures" / "training" / "gradient_clipping.keras.py"


@pytest.mark.parametrize(
    "option, line",
    [
        # Small enough that verify's batches are clipped.
        ("clipnorm=0.01", "nn.utils.clip_grad_norm_(parameter, 0.01)"),
        ("global_clipnorm=0.01", "nn.utils.clip_grad_norm_(model.parameters(), 0.01)"),
        ("clipvalue=0.001", "nn.utils.clip_grad_value_(model.parameters(), 0.001)"),
    ],
)
def test_each_option_trains_like_keras(option, line):
    keras_text = FIXTURE.read_text(encoding="utf-8").replace("clipnorm=1.0", option)
    torch_text = translate(keras_text).code
    assert line in torch_text
    (verdict,) = verify_sources(keras_text, torch_text, train_steps=3)
    assert verdict.training.status == "equivalent", verdict.training
    # Without the clipping the gradients (and SGD's weights) are not Keras's.
    unclipped = "\n".join(
        l for l in torch_text.splitlines() if "clip_grad" not in l and "for parameter in model.parameters()" not in l
    )
    (verdict,) = verify_sources(keras_text, unclipped, train_steps=3)
    assert verdict.training.status == "different"
    assert verdict.training.first_divergence["quantity"] == "gradient"


def test_two_clipping_options_are_refused_as_keras_does():
    keras_text = FIXTURE.read_text(encoding="utf-8").replace("clipnorm=1.0", "clipnorm=1.0, clipvalue=0.5")
    result = translate(keras_text)
    assert any("only one of clipnorm, clipvalue and global_clipnorm" in d.message for d in result.errors)
