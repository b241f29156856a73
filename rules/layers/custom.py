"""The program's own layer classes and models, used as layers of Sequential and functional models.

k2t/classes.py translates the class itself (it keeps Keras's channels-last layout inside, so the
engine brings its input to channels-last: wants=LAST); in the model it is one module, its
constructor call as the program writes it (`TransformerBlock(32, 2)`). The output shape is what
the class translation learnt for the input shape the model gives it; the translation binds the
rule's `lower` to that knowledge (classes.lower_custom), and until then the rule refuses.

A Sequential or functional model of the program applied to a tensor (`x = data_augmentation(inputs)`,
`decoder(encoder(x))`) is one module too: the inner model's own class, bound to the inner model's
lowering by the translation (lower.lower_nested) once the inner model is translated.

A layer k2t cannot translate (no rule, an argument without one) stays in its place as an
UntranslatedLayer module that raises NotImplementedError naming the Keras construct: the model around
it is translated, the line is marked, and a run fails loudly where it reaches the layer. Its output
is taken to have its input's rank; the sizes after it are set by the first batch (lazy modules).
"""

from __future__ import annotations

import keyword
import re

from k2t.rules.spec import LAST, LayerRule, Lowering, Step, Unsupported


def custom_layer_rule(name: str) -> LayerRule:
    def lower(ctx):
        raise Unsupported(f"custom layer {name} is not translated (see its class)", "K2T201")

    return LayerRule(f"Custom:{name}", (), lower, wants=LAST, inert=frozenset(), regularized=())


def nested_model_rule(var: str) -> LayerRule:
    def lower(ctx):
        raise Unsupported(f"the model {var} used here as a layer is not translated (see its report)", "K2T301")

    return LayerRule(f"Model:{var}", (), lower, wants=None, inert=frozenset(), regularized=())


def snake_case(name: str) -> str:
    """The attribute name of a class's instance: RMSNorm -> rms_norm, AttentionPooling1D ->
    attention_pooling1d, SmallSENet -> small_se_net (acronyms and digits stay in one word)."""
    words = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", words).lower()


def untranslated_layer_rule(construct: str) -> LayerRule:
    """construct: the Keras code of the layer (`InstanceNormalization(axis=-1)`), named in the error."""
    name = re.match(r"[\w.]*", construct).group().split(".")[-1] or "layer"
    attr = snake_case(name)
    attr += "_layer" if keyword.iskeyword(attr) else ""  # Lambda: self.lambda_layer

    def lower(ctx):
        shapes = ctx.in_shapes or (ctx.in_shape,)
        inputs = "{x}" if len(shapes) == 1 else ", ".join(f"{{x{i}}}" for i in range(len(shapes)))
        module = f"UntranslatedLayer({construct!r})"
        return Lowering(
            steps=[Step("{m}(" + inputs + ")", module, attr=attr)],
            out_shape=tuple(None for _ in shapes[0]) or (None,),  # a string per sample in: features out
            out_layout=LAST,
            snippets={"UntranslatedLayer"},
        )

    return LayerRule(f"Untranslated:{name}", (), lower, wants=LAST, inert=frozenset(), regularized=())
