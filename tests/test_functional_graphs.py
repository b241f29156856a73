"""Functional graphs as real code writes them: shared layers, builders that return models, inline calls."""

from __future__ import annotations

import re

import numpy as np
import pytest

from k2t.translate import translate
from k2t.verify import verify_sources

SHARED = """
import keras
from keras import layers

a = keras.Input(shape=(6,))
b = keras.Input(shape=(6,))
tower = layers.Dense(5, activation="tanh")
out = layers.Dense(1)(layers.concatenate([tower(a), tower(b)]))
model = keras.Model([a, b], out)
"""


def test_a_shared_layer_is_one_module_called_per_application():
    code = translate(SHARED).code
    assert code.count("nn.Linear(6, 5)") == 1
    assert code.count("self.tower(a)") == 1 and code.count("self.tower(b)") == 1
    (verdict,) = verify_sources(SHARED, code)
    assert verdict.status == "equivalent", verdict
    # Each application is compared with its own Keras output (the module's calls in order).
    assert [name for name, _ in verdict.layers][:2] == ["Dense (layer 0)", "Dense (layer 1)"]
    assert all(error is not None and error < 1e-5 for _, error in verdict.layers), verdict.layers


def test_a_shared_layer_on_inputs_of_another_shape_is_reported():
    source = SHARED.replace("b = keras.Input(shape=(6,))", "b = keras.Input(shape=(7,))")
    result = translate(source)
    assert [d.code for d in result.errors] == ["K2T301"]
    assert "shared Dense applied to inputs of another shape" in result.errors[0].message


BUILDERS = """
import keras
from keras import layers


def make_model(width, classes=4):
    inputs = keras.Input(shape=(9,))
    x = layers.Dense(width, activation="relu")(inputs)
    x = layers.Dense(width)(x)
    return keras.Model(inputs, layers.Dense(classes)(layers.Dense(width, activation="relu")(x)))


def build_small():
    return keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2)])


net = make_model(7)
small = build_small()
"""


def test_builders_that_return_models_directly():
    result = translate(BUILDERS)
    assert not result.errors, result.errors
    assert "return Model(width, classes).to(device)" in result.code
    assert "return Small().to(device)" in result.code
    verdicts = verify_sources(BUILDERS, result.code)
    assert [v.status for v in verdicts] == ["equivalent", "equivalent"], verdicts
    # The builder's sizes come from the program's own call, `make_model(7)`.
    assert "the builder's arguments" in verdicts[0].executed


def test_a_layer_applied_inline_runs_after_the_layers_it_reads():
    source = BUILDERS.replace("x = layers.Dense(width)(x)\n", "x = layers.Dense(width)(x)\n    x = layers.Dense(3)(layers.Dense(5)(x))\n")
    result = translate(source)
    assert not result.errors, result.errors
    (first, _) = verify_sources(source, result.code)
    assert first.status == "equivalent", first


HELPER = """
import keras
from keras import layers


def block(x, units, rate=0.1):
    x = layers.Dense(units, activation="relu")(x)
    return layers.Dropout(rate)(x)


inputs = keras.Input(shape=(8,))
x = inputs
for units in (16, 12):
    x = block(x, units)
shortcut = layers.Dense(12)(inputs)
outputs = layers.Dense(3)(x + shortcut)
model = keras.Model(inputs, outputs)
"""


def test_a_graph_built_by_a_helper_in_a_loop_is_one_model_and_the_helper_goes_with_it():
    result = translate(HELPER)
    assert not result.errors, result.diagnostics
    code = result.code
    assert "def block" not in code and "for units" not in code
    assert "nn.Linear(8, 16)" in code and "nn.Linear(16, 12)" in code and "nn.Linear(8, 12)" in code
    assert "nn.Dropout(0.1)" in code
    (verdict,) = verify_sources(HELPER, code)
    assert verdict.status == "equivalent", verdict


def test_a_missing_layer_inside_a_helper_is_reported_where_the_helper_is_called():
    source = HELPER.replace("return layers.Dropout(rate)(x)", "return layers.Masking(mask_value=rate)(x)")
    result = translate(source)
    # One marker, for the one missing piece: the helper's other layers are not "outside a model".
    assert [(d.line, d.message) for d in result.errors] == [(14, "in block(): layer Masking has no translation yet")]
    # The model is translated around it; the layer is a module that raises until someone writes it.
    assert 'self.masking1 = UntranslatedLayer("layers.Masking(mask_value=0.1)")' in result.code
    # A layer its rule refuses: one marker at the layer's line, with the rule's reason.
    source = HELPER.replace("return layers.Dropout(rate)(x)", "return layers.ActivityRegularization(l1=rate)(x)")
    result = translate(source)
    assert [(d.line, d.code) for d in result.errors] == [(8, "K2T102")]
    assert "penalty" in result.errors[0].message


CALLED_BUILDER = """
import keras
from keras import layers

IMAGE = 12


def make_model(input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for width in [4, 8]:
        x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)  # one block per width
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    if num_classes == 2:
        units = 1
    else:
        units = num_classes
    return keras.Model(inputs, layers.Dense(units)(x))


model = make_model((IMAGE, IMAGE, 3), 2)
"""


def test_a_builder_is_read_with_the_arguments_of_its_call():
    """keras.io's make_model(input_shape, num_classes): the sizes come from the call, the static
    `if` takes one branch, and a loop variable is written as each iteration's number."""
    result = translate(CALLED_BUILDER)
    assert not result.errors, result.errors
    code = result.code
    assert "nn.Conv2d(3, 4, 3, padding=1)" in code and "nn.Conv2d(4, 8, 3, padding=1)" in code
    assert "nn.Linear(8, 1)" in code and "width" not in code.split("def forward")[0]
    assert "if num_classes == 2" not in code  # the sizes it computed went into the class
    assert "# one block per width" in code.split("def forward")[1]  # the comment moved with its layer
    assert "sizes are fixed for input_shape=(IMAGE, IMAGE, 3), num_classes=2" in code
    assert "if tuple(input_shape) != (12, 12, 3) or num_classes != 2:" in code
    (verdict,) = verify_sources(CALLED_BUILDER, code)
    assert verdict.status == "equivalent", verdict


def test_a_builder_called_with_other_arguments_is_reported():
    source = CALLED_BUILDER + "bigger = make_model((IMAGE, IMAGE, 3), 10)\n"
    result = translate(source)
    assert [d.code for d in result.errors] == ["K2T301"]
    assert "called here with another num_classes than at its first call" in result.errors[0].message
    assert result.errors[0].line == source.count("\n")
    # A name is no size: a builder called again with another name= is still translated.
    named = CALLED_BUILDER.replace("def make_model(input_shape, num_classes):", "def make_model(input_shape, num_classes, name=None):")
    named = named.replace("keras.Model(inputs, layers.Dense(units)(x))", "keras.Model(inputs, layers.Dense(units)(x), name=name)")
    named += 'other = make_model((IMAGE, IMAGE, 3), 2, name="other")\n'
    assert not translate(named).errors


def test_a_builder_fixed_at_conversion_refuses_other_arguments_at_run_time():
    """A library builder never called in its file is read with its defaults. The torch builder
    must not then hand another caller a model of the default sizes: it raises instead."""
    source = (
        "from tensorflow import keras\nfrom tensorflow.keras import layers\n\n\n"
        "def build(blocks=2, width=4):\n"
        "    inputs = keras.Input(shape=(8,))\n    x = inputs\n"
        "    for _ in range(blocks):\n        x = layers.Dense(width)(x)\n"
        "    return keras.Model(inputs, x)\n"
    )
    result = translate(source)
    assert not result.errors, result.diagnostics
    namespace: dict = {}
    exec(compile(result.code, "<torch>", "exec"), namespace)
    assert namespace["build"]()(namespace["torch"].zeros(1, 8)).shape == (1, 4)
    # A size the class takes is still the caller's; a loop count the class was unrolled for is not.
    assert namespace["build"](width=6)(namespace["torch"].zeros(1, 8)).shape == (1, 6)
    with pytest.raises(NotImplementedError, match=r"build\(\) was translated for blocks=2 only"):
        namespace["build"](blocks=3)


APPLICATION_STYLE = """
from keras import backend as K
from keras.layers import Input, Conv2D, BatchNormalization, Activation, Flatten, Dense
from keras.models import Model


def small(input_shape=(8, 8, 3), classes=5):
    if K.image_data_format() == "channels_first":
        bn_axis = 1
    else:
        bn_axis = 3
    img_input = Input(shape=input_shape)
    inputs = img_input
    x = Conv2D(4, 3, padding="same")(img_input)
    x = BatchNormalization(axis=bn_axis, epsilon=K.epsilon())(x)
    x = Activation("relu")(x)
    x = Dense(classes, activation="softmax")(Flatten()(x))
    return Model(input=inputs, output=x, name="small")
"""


def test_a_keras_applications_style_builder():
    """Keras's defaults answer K.image_data_format() and K.epsilon(), an alias of the Input is the
    same input, and Keras 1's Model(input=, output=) is Model(inputs, outputs)."""
    result = translate(APPLICATION_STYLE)
    assert not result.errors, result.errors
    assert "image_data_format" not in result.code and "bn_axis" not in result.code
    assert "nn.BatchNorm2d(4, eps=1e-07, momentum=0.01)" in result.code
    (verdict,) = verify_sources(APPLICATION_STYLE.replace("input=inputs, output=x", "inputs, x"), result.code)
    assert verdict.status == "equivalent", verdict


NESTED = """
import keras
from keras import layers

encoder_inputs = keras.Input(shape=(10,))
encoder = keras.Model(encoder_inputs, layers.Dense(4)(encoder_inputs))
decoder = keras.Sequential([layers.Dense(10, activation="sigmoid")])

inputs = keras.Input(shape=(10,))
autoencoder = keras.Model(inputs, decoder(encoder(inputs)))
"""


def test_a_model_used_as_a_layer_is_its_own_module():
    result = translate(NESTED)
    assert not result.diagnostics
    code = result.code
    # Both are named nowhere else: the autoencoder creates them (the decoder's Sequential takes its
    # input shape from there), and their own lines go.
    assert "self.encoder = Encoder()" in code and "self.decoder = Decoder()" in code
    assert "autoencoder = Autoencoder().to(device)" in code and "Encoder().to(device)" not in code
    assert "return self.decoder(encoder_output)" in code
    verdicts = {v.name: v for v in verify_sources(NESTED, code)}
    assert {name: v.status for name, v in verdicts.items()} == dict.fromkeys(
        ["encoder", "decoder", "autoencoder"], "equivalent"
    )
    assert [name for name, _ in verdicts["autoencoder"].layers] == ["Model:encoder (layer 0)", "Model:decoder (layer 1)"]


def test_a_model_used_as_a_layer_shares_its_weights_with_the_program():
    # The program predicts with the encoder on its own: the autoencoder is given it (Keras shares
    # the weights), not a copy.
    source = NESTED + "codes = encoder.predict(inputs)\n"
    code = translate(source).code
    assert "self.encoder = encoder" in code and "autoencoder = Autoencoder(encoder).to(device)" in code
    namespace = {"__name__": "not_main"}
    exec(code, namespace)  # noqa: S102 - the translated program's definitions
    encoder = namespace["Encoder"]()
    autoencoder = namespace["Autoencoder"](encoder)
    assert autoencoder.encoder is encoder


def test_a_model_used_as_a_layer_that_is_not_translated_is_reported_once_per_model():
    source = NESTED.replace('layers.Dense(10, activation="sigmoid")', 'layers.Dense(10, activation="sigmoid"), layers.Foo()')
    result = translate(source)
    messages = sorted((d.line, d.code, d.message) for d in result.errors)
    # decoder is translated around its missing layer, and the autoencoder uses it.
    assert messages == [(7, "K2T101", "layer Foo has no translation yet")]
    assert "class Decoder(nn.Module)" in result.code and 'UntranslatedLayer("layers.Foo()")' in result.code


def test_a_model_applied_to_inputs_of_another_shape_is_reported():
    source = NESTED.replace("\ninputs = keras.Input(shape=(10,))", "\ninputs = keras.Input(shape=(12,))")
    result = translate(source)
    assert ("K2T301", "encoder takes inputs of shape (10,) but is applied to (12,)") in [
        (d.code, d.message) for d in result.errors
    ]


TF_OPS = """
import tensorflow as tf
from tensorflow import keras

inputs = keras.Input(shape=(8, 8, 4))
x = keras.layers.Conv2D(6, 3, padding="same")(inputs)
x = tf.nn.relu(x)
x = keras.layers.Dense(2)(tf.reduce_mean(x, axis=[1, 2]))
model = keras.Model(inputs, x)
"""


def test_tensorflow_ops_on_graph_tensors_are_steps_of_forward():
    # (Keras 3 refuses TensorFlow functions on its symbolic tensors, so this is not verified
    # here; the ops table's own test checks each op against TensorFlow.)
    result = translate(TF_OPS)
    assert not result.diagnostics, result.diagnostics
    assert "x = torch.relu(x)" in result.code  # pointwise: on the channels-first tensor as it is
    assert "torch.mean(x, dim=(1, 2))" in result.code  # Keras's axes, on channels-last


def test_an_op_without_a_translation_in_a_graph_is_one_marker_at_its_line():
    result = translate(TF_OPS.replace("tf.nn.relu(x)", "tf.nn.fancy_op(x)"))
    assert [(d.line, d.code) for d in result.errors] == [(7, "K2T101")]
    assert result.errors[0].message == "an op on the model's tensors has no translation yet: tf.nn.fancy_op has no translation yet"
    assert result.code.count("# k2t: K2T101") == 1


LAZY = """
import keras
from keras import layers

model = keras.Sequential([layers.Conv1D(8, 3, activation="relu"), layers.GlobalMaxPooling1D(), layers.Dense(2)])
"""


def test_a_model_without_an_input_shape_takes_its_first_sizes_from_the_first_batch():
    result = translate(LAZY)
    assert not result.errors
    assert "self.conv = nn.LazyConv1d(8, 3)" in result.code and "nn.Linear(8, 2)" in result.code
    (verdict,) = verify_sources(LAZY, result.code)
    assert verdict.status == "unverifiable" and "give it with --input-shape (2 sizes" in verdict.reason
    (verdict,) = verify_sources(LAZY, result.code, input_shape=(20, 3))
    assert verdict.status == "equivalent", verdict


def test_a_model_without_an_input_shape_whose_first_layer_says_no_rank_is_reported():
    result = translate(LAZY.replace('layers.Conv1D(8, 3, activation="relu")', "layers.BatchNormalization()"))
    assert [(d.code, d.message) for d in result.errors] == [(
        "K2T303",
        "the model has no input shape (input_shape=, keras.Input or model.build), and its first layer "
        "(BatchNormalization) does not say the input's rank",
    )]
    # A layer of any rank first (Dropout, an activation): the next one says it.
    result = translate(LAZY.replace("[layers.Conv1D", "[layers.Dropout(0.1), layers.Conv1D"))
    assert not result.errors and "self.conv = nn.LazyConv1d(8, 3)" in result.code


TWO_OUTPUTS = """
import keras
from keras import layers

features = keras.Input(shape=(6,))
h = layers.Dense(8, activation="relu")(features)
first = layers.Dense(3, name="first")(h)
second = layers.Dense(3, activation="tanh", name="second")(h)
model = keras.Model(features, [first, second])
"""


def test_a_model_with_several_outputs_returns_them_and_verifies_per_output():
    result = translate(TWO_OUTPUTS)
    assert not result.diagnostics
    assert "return first, second" in result.code and "-> ((N, 3), (N, 3))" in result.code
    (verdict,) = verify_sources(TWO_OUTPUTS, result.code)
    assert verdict.status == "equivalent", verdict
    # Outputs in the wrong order (same shapes) are caught.
    (verdict,) = verify_sources(TWO_OUTPUTS, result.code.replace("return first, second", "return second, first"))
    assert verdict.status == "different"


def test_a_model_with_several_outputs_trains_with_a_loss_per_output():
    source = TWO_OUTPUTS + 'model.compile(optimizer="adam", loss=["mse", "mse"])\nmodel.fit(x, [y1, y2])\n'
    result = translate(source)
    assert not result.errors, result.diagnostics
    code = result.code
    assert 'loss_fns = {"first": nn.MSELoss(), "second": nn.MSELoss()}' in code
    assert "first_out, second_out = model(inputs[batch])" in code and "loss = first_loss + second_loss" in code
    assert "train_targets = prepare_targets([y1, y2])" in code


ADAPTED = """
import re

import numpy as np
import keras
from keras import layers

data = np.random.default_rng(0).normal(5.0, 3.0, size=(64, 3)).astype("float32")
normalizer = layers.Normalization()
normalizer.adapt(data)
inputs = keras.Input(shape=(3,))
outputs = layers.Dense(2)(normalizer(inputs))
model = keras.Model(inputs, outputs)
"""


def test_a_layer_object_the_program_uses_on_its_own_is_given_to_the_model():
    result = translate(ADAPTED)
    assert not result.diagnostics
    code = result.code
    assert "normalizer = Normalization(3)" in code and "normalizer.adapt(data)" in code
    assert "model = Model(normalizer).to(device)" in code and "self.normalizer = normalizer" in code
    namespace = {"__name__": "__main__"}
    exec(code, namespace)  # noqa: S102 - the translated program
    model, data = namespace["model"], namespace["data"]
    assert model.normalizer is namespace["normalizer"]
    import torch

    normalised = model.normalizer(torch.from_numpy(data).to(model.normalizer.mean.device)).cpu().numpy()
    assert np.allclose(normalised.mean(axis=0), 0, atol=1e-5) and np.allclose(normalised.std(axis=0), 1, atol=1e-4)


SUBMODEL = """
import keras
from keras import layers

inputs = keras.Input(shape=(6,))
hidden = layers.Dense(4, activation="relu")(inputs)
outputs = layers.Dense(2)(hidden)
model = keras.Model(inputs, outputs)
features = keras.Model(inputs, hidden)
"""


def test_a_model_over_another_models_layers_uses_its_modules():
    result = translate(SUBMODEL)
    assert not result.diagnostics
    assert "features = Features(model).to(device)" in result.code and "self.fc1 = model.fc1" in result.code
    namespace = {"__name__": "not_main"}
    exec(result.code, namespace)  # noqa: S102 - the translated definitions
    model = namespace["Model"]()
    features = namespace["Features"](model)
    assert features.fc1 is model.fc1 and not list(features.state_dict().keys() - {"fc1.weight", "fc1.bias"})
    verdicts = verify_sources(SUBMODEL, result.code)
    assert [v.status for v in verdicts] == ["equivalent", "equivalent"], verdicts


def test_a_layer_taken_from_a_model_by_name_or_index_is_that_models_module():
    source = SUBMODEL.replace("hidden = layers.Dense(4", 'hidden = layers.Dense(4, name="hidden"')
    source += (
        "codes = keras.Input(shape=(4,))\n"
        "head = keras.Model(codes, model.layers[-1](codes))\n"
        "again = keras.Model(inputs, model.get_layer('hidden')(inputs))\n"
    )
    result = translate(source)
    assert not result.diagnostics, result.diagnostics
    assert "self.fc1 = model.fc1" in result.code and "self.hidden = model.hidden" in result.code
    assert all(v.status == "equivalent" for v in verify_sources(source, result.code))


def test_a_model_over_intermediate_outputs_of_another():
    source = SUBMODEL.replace("hidden = layers.Dense(4", 'hidden = layers.Dense(4, name="hidden"') + (
        "extractor = keras.Model(inputs=model.input, outputs=model.get_layer('hidden').output)\n"
        "probe = keras.Model(model.inputs, model.output)\n"
    )
    result = translate(source)
    assert not result.diagnostics, result.diagnostics
    assert "extractor = Extractor(model).to(device)" in result.code and "probe = Probe(model)" in result.code
    assert all(v.status == "equivalent" for v in verify_sources(source, result.code))


def test_models_from_builders_that_all_call_their_model_model_keep_the_programs_names():
    # Both builders call their model `model`: the combined model is given `a` and `b`, the names
    # the program applies (it was given one `model` twice, undefined where it was made).
    source = '''import keras
from keras import layers


def make_a():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
    return model


def make_b():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    return model


a = make_a()
b = make_b()
a.compile(optimizer="adam", loss="mse")
inp = keras.Input((4,))
combined = keras.Model(inp, b(a(inp)))
'''
    result = translate(source)
    assert not result.errors, result.errors
    assert "def __init__(self, a, b):" in result.code and "self.a = a\n        self.b = b" in result.code
    assert "combined = Combined(a, b).to(device)" in result.code
    verdicts = verify_sources(source, result.code)
    assert [v.status for v in verdicts] == ["equivalent"] * 3, verdicts


def test_a_graph_tensor_read_after_its_model_is_marked_until_bound_again():
    source = '''import keras
from keras import layers

inputs = keras.Input((4,), name="x")
outputs = layers.Dense(2)(inputs)
model = keras.Model(inputs, outputs)
print(inputs.shape)
encoder = keras.Model(inputs, outputs)
inputs = 3
print(inputs)
'''
    result = translate(source)
    # print(inputs.shape) read a Keras tensor that went with the model; the second model's line
    # and the reads after `inputs = 3` are the program's own.
    assert [(d.code, d.line) for d in result.errors if d.code == "K2T302"] == [("K2T302", 7)]
    assert "inputs: a tensor of the Keras model model's graph" in result.errors[0].message


RUN_TIME_STRUCTURE = """
from tensorflow import keras
from tensorflow.keras import layers


def build_model(use_bn, depth):
    inputs = keras.Input(shape=(20,))
    x = layers.Dense(8)(inputs)
    if use_bn:
        x = layers.BatchNormalization()(x)
    else:
        x = layers.Dropout(0.5)(x)
    for _ in range(depth):
        x = layers.Dense(8)(x)
    return keras.Model(inputs, layers.Dense(3)(x))


def build_seq(use_dropout):
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8)])
    if use_dropout:
        model.add(layers.Dropout(0.5))
    model.add(layers.Dense(2))
    return model
"""


def test_layers_under_a_run_time_if_or_loop_leave_the_model_marked():
    """An if whose test or a loop whose count only the run knows: reading every branch (or the
    body once) would build a model Keras never builds. Each such statement is one marker."""
    result = translate(RUN_TIME_STRUCTURE)
    assert "class " not in result.code
    assert [(d.line, d.code, d.message) for d in result.errors] == [
        (9, "K2T301", "the model's layers depend on `if use_bn`, which only the run decides: not translated yet"),
        (13, "K2T301", "the model's layers depend on the loop over `range(depth)`, whose values only the run gives: "
         "not translated yet"),
        (20, "K2T301", "the model's layers depend on `if use_dropout`, which only the run decides: not translated yet"),
    ]


def test_a_size_set_in_a_run_time_branch_is_a_constructor_argument():
    source = """
from tensorflow import keras
from tensorflow.keras import layers


def build_model(big):
    if big:
        units = 128
    else:
        units = 64
    inputs = keras.Input(shape=(20,))
    return keras.Model(inputs, layers.Dense(units)(inputs))
"""
    result = translate(source)
    assert not result.errors, result.diagnostics
    assert "nn.Linear(20, units)" in result.code and "return Model(units).to(device)" in result.code
    namespace: dict = {}
    exec(compile(result.code, "<torch>", "exec"), namespace)
    assert namespace["build_model"](True)(namespace["torch"].zeros(1, 20)).shape == (1, 128)
    assert namespace["build_model"](False)(namespace["torch"].zeros(1, 20)).shape == (1, 64)


BRANCHING_HELPER = """
from tensorflow import keras
from tensorflow.keras import layers


def conv_block(x, filters, use_bn=True, dropout=0.0):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=not use_bn)(x)
    if use_bn:
        x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    if dropout > 0.0:
        x = layers.Dropout(dropout)(x)
    for _ in range(2):
        x = layers.Conv2D(filters, 3, padding="same")(x)
    return x


inputs = keras.Input(shape=(12, 12, 3))
x = conv_block(inputs, 4)
x = layers.MaxPooling2D()(x)
x = conv_block(x, 8, use_bn=False, dropout=0.2)
x = layers.GlobalAveragePooling2D()(x)
model = keras.Model(inputs, layers.Dense(3)(x))
"""


def test_a_helper_with_static_branches_and_loops_is_read_into_the_graph():
    """The U-Net conv2d_block style: `if use_batch_norm:` and a loop inside the helper, decided per
    call by its arguments. forward() reads as written by hand: one `x` through the block."""
    result = translate(BRANCHING_HELPER)
    assert not result.errors, result.diagnostics
    code = result.code
    assert "def conv_block" not in code
    assert code.count("nn.BatchNorm2d(") == 1 and code.count("nn.Dropout(0.2)") == 1
    assert "nn.Conv2d(3, 4, 3, padding=1, bias=False)" in code and "nn.Conv2d(4, 8, 3, padding=1)" in code
    assert code.count("nn.Conv2d(") == 6
    forward = code.split("def forward")[1].split("\n\n\n")[0]
    assert re.findall(r"^ +(\w+) = ", forward, re.M) == ["x"] * 12  # no x_2, x_3: the caller's x is dead
    (verdict,) = verify_sources(BRANCHING_HELPER, code)
    assert verdict.status == "equivalent", verdict


def test_a_helper_branch_on_a_run_time_value_is_one_marker_at_the_branch():
    source = BRANCHING_HELPER.replace("def conv_block(x, filters, use_bn=True", "def conv_block(x, filters, use_bn")
    source = source.replace("x = conv_block(inputs, 4)", "x = conv_block(inputs, 4, use_bn=USE_BN)")
    source = source.replace("inputs = keras.Input", "import os\nUSE_BN = bool(os.environ.get('BN'))\ninputs = keras.Input")
    result = translate(source)
    assert "class Model" not in result.code
    call_line = source.splitlines().index("x = conv_block(inputs, 4, use_bn=USE_BN)") + 1
    assert [(d.line, d.message) for d in result.errors] == [
        (call_line, "the model's layers depend on `if USE_BN`, which only the run decides: not translated yet")
    ]


def test_a_builder_option_the_class_does_not_read_is_fixed_not_passed():
    """`activation=output_activation` goes into forward() as torch.sigmoid: the class cannot take
    another activation through its constructor, so the builder checks the value instead of
    passing a parameter the class would ignore."""
    source = """
from tensorflow import keras
from tensorflow.keras import layers


def make(units=8, output_activation="sigmoid", use_bias=True):
    inputs = keras.Input(shape=(4,))
    x = layers.Dense(units, use_bias=use_bias)(inputs)
    return keras.Model(inputs, layers.Dense(1, activation=output_activation)(x))
"""
    result = translate(source)
    assert not result.errors, result.diagnostics
    assert "def __init__(self, units):" in result.code
    assert 'if output_activation != "sigmoid" or not use_bias:' in result.code
    namespace: dict = {}
    exec(compile(result.code, "<torch>", "exec"), namespace)
    assert namespace["make"](units=3).fc1.out_features == 3
    with pytest.raises(NotImplementedError):
        namespace["make"](output_activation="relu")


def test_verify_runs_a_library_s_conditional_keras_imports():
    """keras-unet's `if TF: from tensorflow.keras... else: from keras...` (or try/except ImportError):
    the imports the construction needs sit in a block, which verify runs as imports."""
    source = BRANCHING_HELPER.replace(
        "from tensorflow import keras\nfrom tensorflow.keras import layers\n",
        "try:\n    from tensorflow import keras\n    from tensorflow.keras import layers\n"
        "except ImportError:\n    import keras\n    from keras import layers\n",
    )
    result = translate(source)
    assert not result.errors, result.diagnostics
    (verdict,) = verify_sources(source, result.code)
    assert verdict.status == "equivalent", verdict


SQUEEZE_EXCITE = """
from tensorflow import keras
from tensorflow.keras import layers
from tensorflow.keras import backend as K


def squeeze_excite_block(x, ratio=4):
    channel_axis = 1 if K.image_data_format() == "channels_first" else -1
    filters = K.int_shape(x)[channel_axis]
    se = layers.GlobalAveragePooling2D()(x)
    se = layers.Reshape((1, 1, filters))(se)
    se = layers.Dense(filters // ratio, activation="relu", use_bias=False)(se)
    se = layers.Dense(filters, activation="sigmoid", use_bias=False)(se)
    return layers.multiply([x, se])


def widen(x, filters):
    x = layers.Conv2D(filters, 3, padding="same")(x)
    return layers.Conv2D(x.shape[-1] * 2, 1)(x)


inputs = keras.Input(shape=(16, 16, 3))
x = widen(inputs, 8)
x = squeeze_excite_block(x)
x = layers.GlobalAveragePooling2D()(x)
model = keras.Model(inputs, layers.Dense(2)(x))
"""


def test_a_graph_tensor_s_static_shape_is_a_size():
    """`K.int_shape(x)[channel_axis]`, `x.shape[-1]`: the Keras shape of a tensor of the graph,
    which the layers' rules give, so the squeeze-excite block's sizes are numbers."""
    result = translate(SQUEEZE_EXCITE)
    assert not result.errors, result.diagnostics
    code = result.code
    assert "nn.Conv2d(8, 16, 1)" in code and "nn.Linear(16, 4, bias=False)" in code
    assert "def __init__(self):" in code  # sizes read from shapes are the layers' own, not parameters
    (verdict,) = verify_sources(SQUEEZE_EXCITE, code)
    assert verdict.status == "equivalent", verdict


def test_a_loop_that_makes_a_model_per_value_stays_a_loop():
    """A hyper-parameter sweep: one Sequential per value of the loop. Unrolled, the loop body's one
    line would be read as two models and the torch loop would build the last one every time."""
    source = """
from tensorflow import keras
from tensorflow.keras import layers

model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(1)])
sweep = []
for units in [8, 16]:
    model = keras.Sequential()
    model.add(keras.Input(shape=(4,)))
    model.add(layers.Dense(units, activation="relu"))
    model.add(layers.Dense(1))
    sweep.append(model)
"""
    result = translate(source)
    assert not result.errors, result.diagnostics
    assert result.code.count("(nn.Module)") == 2 and "for units in [8, 16]:" in result.code
    namespace: dict = {"__name__": "k2t_test"}
    exec(compile(result.code.replace('if __name__ == "__main__":', "if True:"), "<torch>", "exec"), namespace)
    assert [m.fc1.out_features for m in namespace["sweep"]] == [8, 16]  # one model per value, as in Keras


def test_keras_3_config_queries_answer_with_keras_defaults():
    source = """
import keras
from keras import layers

axis = -1 if keras.config.image_data_format() == "channels_last" else 1
inputs = keras.Input(shape=(8, 8, 3))
x = layers.Conv2D(4, 3)(inputs)
model = keras.Model(inputs, layers.BatchNormalization(axis=axis)(x))
"""
    result = translate(source)
    assert not result.errors, result.diagnostics
    assert "nn.BatchNorm2d(4" in result.code and "keras" not in result.code


def test_a_size_the_program_computes_at_module_level_is_a_constructor_argument():
    """`hidden = int(np.sqrt(n)) * 8` at module level: the class takes it instead of reading a global,
    so it can be imported and built with other sizes."""
    source = """
import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

x = np.random.rand(32, 4).astype("float32")
hidden = int(np.sqrt(x.shape[1])) * 8
model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(hidden), layers.Dense(1)])
"""
    result = translate(source)
    assert not result.errors, result.diagnostics
    assert "def __init__(self, hidden):" in result.code and "model = Model(hidden).to(device)" in result.code
    namespace: dict = {"__name__": "k2t_test"}
    exec(compile(result.code, "<torch>", "exec"), namespace)
    assert namespace["Model"](5).fc1.out_features == 5


def test_verify_names_a_library_builder_s_argument_without_a_default():
    source = """
from tensorflow import keras
from tensorflow.keras import layers


def build(input_shape, units=4):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, layers.Dense(units)(inputs))
"""
    result = translate(source)
    assert not result.errors, result.diagnostics
    (verdict,) = verify_sources(source, result.code)
    assert verdict.status == "unverifiable"
    assert verdict.reason == (
        "input_shape: build()'s argument has no default, and nothing in the file calls it "
        "(if it is the input's shape, give it with --input-shape)"
    )
    (verdict,) = verify_sources(source, result.code, input_shape=(6,))
    assert verdict.status == "equivalent", verdict


def test_an_augmented_assignment_on_a_graph_tensor_is_a_step_of_the_graph():
    """`x += shortcut`: Keras adds the tensors (an operation of the model); dropping the line would
    leave the residual out of forward() without a word."""
    source = """
from tensorflow import keras
from tensorflow.keras import layers

inputs = keras.Input(shape=(8,))
x = layers.Dense(8)(inputs)
shortcut = x
x = layers.Dense(8)(x)
x += shortcut
model = keras.Model(inputs, layers.Dense(1)(x))
"""
    result = translate(source)
    assert not result.errors, result.diagnostics
    assert "x = x + shortcut" in result.code
    (verdict,) = verify_sources(source, result.code)
    assert verdict.status == "equivalent", verdict


def test_reused_names_leave_the_program_s_comments_as_written():
    from k2t.lower import _reuse_names

    forward = ["x_2 = self.bn(x)", "# x_2 = x after the norm", "x = torch.relu(x_2)"]
    assert _reuse_names(forward, {"inputs"}) == ["x = self.bn(x)", "# x_2 = x after the norm", "x = torch.relu(x)"]
    # The older x is read after the numbered one is made: both stay.
    kept = ["x_2 = self.bn(x)", "y = x + x_2"]
    assert _reuse_names(kept, set()) == kept


def test_a_library_helper_that_nothing_calls_says_so():
    source = """
from tensorflow.keras import layers


def residual(x, filters):
    y = layers.Conv2D(filters, 3, padding="same")(x)
    return layers.add([x, y])
"""
    result = translate(source)
    assert {d.message for d in result.errors} == {
        f"{what} in residual(), which nothing in this file calls: a helper's layers are translated where a "
        "model of the file uses it, with the sizes it is given there"
        for what in ("layers.Conv2D", "layers.add")
    }


ENCODER = """
import keras
from keras import layers

tokens = keras.Input(shape=(None, 6))
out, h, c = layers.LSTM(8, return_state=True)(tokens)
states = [h, c]
"""


def test_recurrent_states_kept_for_another_layer_stay_in_torch_s_form():
    source = ENCODER + """
targets = keras.Input(shape=(None, 5))
seq = layers.LSTM(8, return_sequences=True)(targets, initial_state=states)
model = keras.Model([tokens, targets], layers.Dense(5)(seq))
"""
    code = translate(source).code
    assert "_, (h, c) = self.lstm1(tokens)" in code
    assert "seq = self.lstm2(targets, (h, c))[0]" in code  # no squeeze and unsqueeze between them
    (verdict,) = verify_sources(source, code)
    assert verdict.status == "equivalent", verdict


def test_recurrent_states_returned_by_a_model_have_keras_s_shape():
    source = ENCODER + "model = keras.Model(tokens, [out] + states)\n"
    code = translate(source).code
    assert "out, h, c = out[:, -1], h[0], c[0]" in code
    assert "-> ((N, 8), (N, 8), (N, 8))" in code
    (verdict,) = verify_sources(source, code)
    assert verdict.status == "equivalent", verdict


def test_a_tensor_list_whose_name_is_rebound_is_not_followed():
    # `h` means another tensor when the list is read: forward() would read the new one.
    source = ENCODER + "h = layers.Dense(8)(h)\nmodel = keras.Model(tokens, states + [h])\n"
    result = translate(source)
    assert [d.code for d in result.errors] == ["K2T301"]
    assert "h is assigned again after it was put in a list" in result.errors[0].message


@pytest.mark.parametrize(
    "call, message",
    [
        ("out, h = layers.LSTM(8, return_state=True)(tokens)", "LSTM returns 3 tensors, unpacked here into 2"),
        ("out = layers.GRU(8, return_state=True)(tokens)", "GRU returns 2 tensors, which k2t follows only unpacked"),
        ("out, f, b = layers.Bidirectional(layers.GRU(8, return_state=True))(tokens, initial_state=[tokens])",
         "Bidirectional(GRU) with initial states is not translated yet"),
        ("out = layers.GRU(8)(tokens, initial_state=[tokens])", "GRU's initial states must be (batch, 8) tensors"),
    ],
)
def test_recurrent_outputs_and_states_k2t_cannot_follow_leave_one_marker(call, message):
    source = f"""
import keras
from keras import layers

tokens = keras.Input(shape=(4, 6))
{call}
model = keras.Model(tokens, out)
"""
    result = translate(source)
    assert [d.code for d in result.errors][:1] in (["K2T301"], ["K2T102"]), result.errors
    assert len(result.errors) == 1, result.errors
    assert message in result.errors[0].message


def test_predict_of_a_model_with_two_outputs_that_is_not_compiled_gives_an_array_per_output():
    source = """
import numpy as np
import keras
from keras import layers

inputs = keras.Input(shape=(4,))
hidden = layers.Dense(3)(inputs)
model = keras.Model(inputs, [hidden, layers.Dense(2)(hidden)])
first, second = model.predict(np.ones((5, 4), dtype="float32"))
"""
    code = translate(source).code
    namespace = {"__name__": "__main__"}
    exec(code, namespace)  # noqa: S102 - the translated program
    assert namespace["first"].shape == (5, 3) and namespace["second"].shape == (5, 2)


def test_a_function_s_own_variable_named_like_a_graph_tensor_is_not_the_graph_s():
    source = """
import keras
from keras import layers

inputs = keras.Input(shape=(4,))
x = layers.Dense(3)(inputs)
model = keras.Model(inputs, x)


def scale(x, factor=2.0):
    for _ in range(2):
        x = x * factor
    return x
"""
    result = translate(source)
    assert result.errors == []
    # The module's own reads of the graph's tensors are still marked.
    result = translate(source + "print(x)\n")
    assert [(d.code, d.line) for d in result.errors] == [("K2T302", 14)]


DATA_SIZES = """
import numpy as np
import keras

x_train = np.random.rand(40, 12, 1).astype("float32")
y_train = np.random.randint(0, 3, 40)
num_classes = len(np.unique(y_train))


def make_model(input_shape):
    inputs = keras.layers.Input(input_shape)
    x = keras.layers.Conv1D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.models.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))


model = make_model(input_shape=x_train.shape[1:])
"""


def test_verify_says_which_sizes_only_the_data_gives_and_takes_them_given(tmp_path):
    from click.testing import CliRunner

    from k2t.cli import main

    code = translate(DATA_SIZES).code
    (verdict,) = verify_sources(DATA_SIZES, code)
    assert verdict.reason == (
        "input_shape: make_model() is called with input_shape=x_train.shape[1:], which only the run computes "
        "(if it is the input's shape, give it with --input-shape)"
    )
    (verdict,) = verify_sources(DATA_SIZES, code, input_shape=(12, 1))
    assert verdict.reason.endswith("depends on values computed at run time (give it with --set num_classes=VALUE)")
    keras_path, torch_path = tmp_path / "k.py", tmp_path / "t.py"
    keras_path.write_text(DATA_SIZES, encoding="utf-8")
    torch_path.write_text(code, encoding="utf-8")
    given = ["verify", str(keras_path), str(torch_path), "--input-shape", "12,1", "--json"]
    ok = CliRunner().invoke(main, [*given, "--set", "num_classes=3"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(main, [*given, "--set", "num_classes"])
    assert bad.exit_code == 2 and "NAME=VALUE" in bad.output


BIDIRECTIONAL_STATES = """
import keras
from keras import layers

tokens = keras.Input(shape=(7,), dtype="int32")
x = layers.Embedding(40, 8)(tokens)
seq, fh, fc, bh, bc = layers.Bidirectional(layers.LSTM(6, return_sequences=True, return_state=True))(x)
state_h = layers.Concatenate()([fh, bh])
state_c = layers.Concatenate()([fc, bc])
last, gh, gb = layers.Bidirectional(layers.GRU(5, return_state=True), merge_mode="sum")(seq)
dec = layers.LSTM(12, return_sequences=True)(seq, initial_state=[state_h, state_c])
pooled = layers.GlobalAveragePooling1D()(dec)
model = keras.Model(tokens, layers.Dense(3)(layers.Concatenate()([pooled, last, gh, gb])))
"""


def test_a_bidirectional_layer_s_states_are_each_direction_s():
    result = translate(BIDIRECTIONAL_STATES)
    assert result.errors == [], result.diagnostics
    assert "fh, fc, bh, bc = h_n[0], c_n[0], h_n[1], c_n[1]" in result.code
    assert "last, gh, gb = h_n[0] + h_n[1], h_n[0], h_n[1]" in result.code  # merge_mode="sum"
    (verdict,) = verify_sources(BIDIRECTIONAL_STATES, result.code)
    assert verdict.status == "equivalent", verdict


def test_a_layer_object_of_another_library_is_kept_in_place_and_other_objects_are_left_alone():
    source = """
import numpy as np
import keras
from keras import layers
from sklearn.preprocessing import StandardScaler
from keras_contrib.layers import InstanceNormalization

scaler = StandardScaler()
data = scaler(np.ones((3, 4)))
norm = InstanceNormalization(axis=-1)
inputs = keras.Input(shape=(8, 8, 3))
x = norm(layers.Conv2D(4, 3)(inputs))
model = keras.Model(inputs, layers.Flatten()(x))
"""
    result = translate(source)
    assert [(d.code, d.line) for d in result.errors] == [("K2T201", 10)]
    assert 'self.norm = UntranslatedLayer("InstanceNormalization(axis=-1)")' in result.code
    assert "x = self.norm(x)" in result.code
    # The scaler is applied to data, not to a graph tensor: the program's own code, as written.
    assert "data = scaler(np.ones((3, 4)))" in result.code
    assert "keras_contrib" not in result.code


ATTENTION_OPTIONS = """
import keras
from keras import layers

tokens = keras.Input(shape=(6, 8))
memory = keras.Input(shape=(5, 8))
mask = keras.Input(shape=(6, 5))
x = layers.MultiHeadAttention(num_heads=2, key_dim=4)(query=tokens, value=tokens, key=tokens, use_causal_mask=True)
x = layers.LayerNormalization()(tokens + x)
cross, scores = layers.MultiHeadAttention(num_heads=2, key_dim=4)(
    x, memory, attention_mask=mask, return_attention_scores=True
)
model = keras.Model([tokens, memory, mask], [layers.Dense(3)(cross), scores])
"""


def test_multi_head_attention_call_options_are_keras_s():
    result = translate(ATTENTION_OPTIONS)
    assert result.errors == [], result.diagnostics
    assert "self.attention1(tokens, tokens, key=tokens, use_causal_mask=True)" in result.code
    assert "x, memory, attention_mask=mask, return_attention_scores=True" in result.code
    assert "cross, scores = self.attention2(" in result.code
    (verdict,) = verify_sources(ATTENTION_OPTIONS, result.code)
    assert verdict.status == "equivalent", verdict
