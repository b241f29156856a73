"""The program's own layer classes, used as layers of Sequential and functional models.

k2t/classes.py translates the class itself (it keeps Keras's channels-last layout inside, so the
engine brings its input to channels-last: wants=LAST); in the model it is one module, its
constructor call as the program writes it (`TransformerBlock(32, 2)`). The output shape is what
the class translation learnt for the input shape the model gives it; the translation binds the
rule's `lower` to that knowledge (classes.lower_custom), and until then the rule refuses.
"""

from __future__ import annotations

from k2t.rules.spec import LAST, LayerRule, Unsupported


def custom_layer_rule(name: str) -> LayerRule:
    def lower(ctx):
        raise Unsupported(f"custom layer {name} is not translated (see its class)", "K2T201")

    return LayerRule(f"Custom:{name}", (), lower, wants=LAST, inert=frozenset(), regularized=())
