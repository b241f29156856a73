"""The program's own layer classes and models, used as layers of Sequential and functional models.

k2t/classes.py translates the class itself (it keeps Keras's channels-last layout inside, so the
engine brings its input to channels-last: wants=LAST); in the model it is one module, its
constructor call as the program writes it (`TransformerBlock(32, 2)`). The output shape is what
the class translation learnt for the input shape the model gives it; the translation binds the
rule's `lower` to that knowledge (classes.lower_custom), and until then the rule refuses.

A Sequential or functional model of the program applied to a tensor (`x = data_augmentation(inputs)`,
`decoder(encoder(x))`) is one module too: the inner model's own class, bound to the inner model's
lowering by the translation (lower.lower_nested) once the inner model is translated.
"""

from __future__ import annotations

from k2t.rules.spec import LAST, LayerRule, Unsupported


def custom_layer_rule(name: str) -> LayerRule:
    def lower(ctx):
        raise Unsupported(f"custom layer {name} is not translated (see its class)", "K2T201")

    return LayerRule(f"Custom:{name}", (), lower, wants=LAST, inert=frozenset(), regularized=())


def nested_model_rule(var: str) -> LayerRule:
    def lower(ctx):
        raise Unsupported(f"the model {var} used here as a layer is not translated (see its report)", "K2T301")

    return LayerRule(f"Model:{var}", (), lower, wants=None, inert=frozenset(), regularized=())
