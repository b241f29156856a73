"""The pure core: name resolution across import styles, what is kept, what is reported."""

from __future__ import annotations

import pytest

from k2t import TranslationError, translate

DENSE_MODEL = """
{imports}
model = {seq}([{dense}(8, activation="relu", input_shape=(4,)), {dense}(2)])
"""

IMPORT_STYLES = {
    "tf": ("import tensorflow as tf", "tf.keras.Sequential", "tf.keras.layers.Dense"),
    "from_tensorflow_keras": ("from tensorflow import keras", "keras.Sequential", "keras.layers.Dense"),
    "keras3": ("import keras", "keras.Sequential", "keras.layers.Dense"),
    "from_keras_layers": ("import keras\nfrom keras import layers", "keras.Sequential", "layers.Dense"),
    "layers_models": (
        "from tensorflow.keras import layers, models",
        "models.Sequential",
        "layers.Dense",
    ),
    "names": (
        "from tensorflow.keras.models import Sequential\nfrom tensorflow.keras.layers import Dense",
        "Sequential",
        "Dense",
    ),
    "aliases": (
        "from tensorflow.keras import layers as L\nfrom tensorflow.keras.models import Sequential as Seq",
        "Seq",
        "L.Dense",
    ),
    "module_alias": ("import tensorflow.keras as K", "K.Sequential", "K.layers.Dense"),
    # Keras 2's submodules and a class by its defining module's path.
    "keras2_submodule": ("from keras.models import Sequential\nfrom keras.layers.core import Dense", "Sequential", "Dense"),
    "defining_module": ("import keras\nfrom keras.src.layers.core.dense import Dense", "keras.Sequential", "Dense"),
    "name_alias": ("import keras\nfrom keras.layers import Dense as D", "keras.Sequential", "D"),
}


@pytest.mark.parametrize("style", IMPORT_STYLES, ids=list(IMPORT_STYLES))
def test_every_import_style_reaches_the_same_model(style):
    imports, seq, dense = IMPORT_STYLES[style]
    result = translate(DENSE_MODEL.format(imports=imports, seq=seq, dense=dense))
    assert not result.errors, result.diagnostics
    assert "self.fc1 = nn.Linear(4, 8)" in result.code
    assert "self.fc2 = nn.Linear(8, 2)" in result.code
    assert "torch.relu(self.fc1(x))" in result.code
    assert "keras" not in result.code and "tensorflow" not in result.code


@pytest.mark.parametrize(
    "source",
    ["", "\n", "import numpy as np\nprint(np.ones(3))\n", "x = 1  # keras is mentioned only here\n",
     "# -*- coding: utf-8 -*-\r\nimport os\r\n"],
    ids=["empty", "newline", "numpy", "comment", "crlf"],
)
def test_files_without_keras_are_unchanged(source):
    result = translate(source)
    assert result.code == source
    assert not result.changed and result.status == "unchanged"


def test_syntax_error_is_one_line():
    with pytest.raises(TranslationError) as info:
        translate("import keras\nmodel = keras.Sequential([\n")
    assert "\n" not in str(info.value)
    assert "syntax error" in str(info.value)


def test_python2_is_named():
    with pytest.raises(TranslationError, match="Python 2"):
        translate('import keras\nprint "hello"\n')


def test_untranslatable_layer_is_kept_in_place_visibly_and_the_rest_is_translated():
    source = """import keras
from keras import layers

model = keras.Sequential([keras.Input(shape=(10, 4)), layers.Lambda(abs), layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=2)
"""
    result = translate(source)
    assert result.status == "partial"
    assert [(d.code, d.line, d.col) for d in result.errors] == [("K2T101", 4, 55)]
    # One marker where the module is made; the module raises until someone writes it.
    assert "# k2t: K2T101 layer Lambda has no translation yet" in result.code
    assert 'self.lambda_layer = UntranslatedLayer("layers.Lambda(abs)")' in result.code
    assert "self.fc = nn.LazyLinear(1)" in result.code  # its output's size is not known
    # The model around it, its compile and its fit are translated: no Keras left.
    assert "import keras" not in result.code and "train_one_epoch(" in result.code
    assert translate(result.code).code == result.code


def test_other_keras_api_is_reported_with_marker():
    source = """import tensorflow as tf

(x, y), _ = tf.keras.datasets.reuters.load_data()
tf.random.set_seed(1)
"""
    result = translate(source)
    (diagnostic,) = result.errors
    assert diagnostic.code == "K2T501" and diagnostic.line == 3
    assert "# k2t: K2T501 tf.keras.datasets.reuters.load_data has no translation yet" in result.code
    assert "torch.manual_seed(1)" in result.code


def test_comments_and_plain_code_are_kept():
    source = """# header comment
import numpy as np
from tensorflow import keras

x = np.zeros((2, 3))  # data stays numpy
# build the model
model = keras.Sequential([keras.layers.Dense(1, input_shape=(3,))])
model.add(keras.layers.Dense(2))  # second layer
print("done")
"""
    code = translate(source).code
    for kept in ["# header comment", "x = np.zeros((2, 3))  # data stays numpy", "# build the model",
                 "# second layer", 'print("done")']:
        assert kept in code


def test_add_form_and_function_builder():
    source = """from tensorflow import keras
from tensorflow.keras import layers


def build_model(units=16):
    model = keras.Sequential()
    model.add(layers.Dense(units, activation="relu", input_shape=(8,)))
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


model = build_model()
history = model.fit(x, y, epochs=3)
"""
    result = translate(source)
    assert not result.errors, result.diagnostics
    code = result.code
    assert "def __init__(self, units):" in code
    assert "model = Model(units).to(device)" in code
    # compile() inside the builder: the optimizer is made where the model is trained.
    assert "optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)" in code
    assert "loss_fn = nn.BCEWithLogitsLoss()" in code
    # 'accuracy' on one sigmoid unit is binary accuracy; the model returns logits, so > 0 is > 0.5.
    assert "accuracy_values = (outputs > 0) == (batch_targets > 0.5)" in code
    assert code.index("optimizer = torch.optim.SGD") > code.index("model = build_model()")


def test_keras_defaults_are_written_out():
    source = """from tensorflow import keras
from tensorflow.keras import layers
model = keras.Sequential([layers.Dense(4, input_shape=(3,)), layers.BatchNormalization(),
                          layers.LeakyReLU(), layers.Dense(2, activation="softmax")])
model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
"""
    code = translate(source).code
    assert "nn.BatchNorm1d(4, eps=0.001, momentum=0.01)" in code
    assert "F.leaky_relu(x, 0.3)" in code
    # Keras's RMSprop update (epsilon inside the square root), not torch's.
    assert "optimizer = KerasRMSprop(model.parameters(), lr=0.001)" in code
    assert "class KerasRMSprop(torch.optim.Optimizer):" in code
    assert "nn.CrossEntropyLoss()" in code
    assert "torch.softmax" not in code.split("def forward")[1].split("\n\n")[0]


def test_keras_calls_inside_translated_calls_are_translated_too():
    source = """import numpy as np
from tensorflow import keras
x, y = np.zeros((4, 3)), np.zeros(4)
model = keras.Sequential([keras.layers.Dense(2, activation="softmax", input_shape=(3,))])
model.compile(optimizer="sgd", loss="categorical_crossentropy")
model.fit(x, keras.utils.to_categorical(y, num_classes=2), epochs=1)
z = keras.utils.to_categorical(keras.ops.sum(x, axis=1) > 1, 2)
"""
    result = translate(source)
    assert "train_targets = prepare_targets(to_categorical(y, num_classes=2))" in result.code
    assert "keras.utils.to_categorical(" not in result.code
    (left,) = result.errors  # keras.ops.sum inside a translated call is still reported
    assert left.code == "K2T501" and left.line == 7 and "keras.ops.sum" in left.message


def test_an_unused_keras_import_is_removed():
    result = translate("import tensorflow as tf\nx = 1\n")
    assert result.code == "x = 1\n" and result.status == "translated"


def test_the_converter_needs_neither_numpy_nor_torch_nor_tensorflow():
    import subprocess
    import sys

    from conftest import FIXTURES

    script = (
        "import sys\n"
        "for name in ('numpy', 'torch', 'tensorflow', 'keras'):\n"
        "    sys.modules[name] = None\n"
        "from k2t import translate\n"
        "import pathlib\n"
        "for path in sorted(pathlib.Path(sys.argv[1]).glob('*/*.keras.py')):\n"
        "    translate(path.read_text())\n"
        "print('ok')\n"
    )
    completed = subprocess.run([sys.executable, "-c", script, str(FIXTURES)], capture_output=True, text=True)
    assert completed.stdout.strip() == "ok", completed.stderr[-2000:]


def test_training_after_a_second_compile_is_left_for_a_human():
    source = """import numpy as np
from tensorflow import keras
x, y = np.zeros((6, 4)), np.zeros(6)
model = keras.Sequential([keras.layers.Dense(3, activation="softmax", input_shape=(4,))])
model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
model.fit(x, y)
model.compile(optimizer="adam", loss="categorical_crossentropy")
model.fit(x, keras.utils.to_categorical(y, 3))
"""
    result = translate(source)
    assert [(d.code, d.line) for d in result.errors] == [("K2T401", 7), ("K2T403", 8)]
    assert "model.fit(x, keras.utils.to_categorical(y, 3))" in result.code
    assert "train_inputs = prepare_inputs(x)" in result.code  # the first fit() is translated


def test_load_model_reads_back_only_a_file_the_program_saves_from_that_model():
    template = """import numpy as np
import keras
x, y = np.zeros((6, 4)), np.zeros(6)
model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
model.fit(x, y, callbacks=[keras.callbacks.ModelCheckpoint("best.keras")])
model.save("last.h5")
model = keras.models.load_model({path!r})
print(model.predict(x))
"""
    for saved, torch_path in (("best.keras", "best.pt"), ("last.h5", "last.pt")):
        result = translate(template.format(path=saved))
        assert not result.errors, result.diagnostics
        assert f'model.load_state_dict(torch.load("{torch_path}", map_location=device))' in result.code
    # A file saved elsewhere holds an architecture k2t cannot see: one marker, at that line.
    result = translate(template.format(path="pretrained.keras"))
    assert [(d.code, d.line) for d in result.errors] == [("K2T302", 8)]
    assert "does not save from `model`" in result.errors[0].message
    assert 'keras.models.load_model("pretrained.keras")' in result.code


def test_what_several_outputs_cannot_train_with_is_one_marker_each():
    template = """import numpy as np
import keras
x = np.zeros((8, 4), "float32")
inputs = keras.Input(shape=(4,))
a = keras.layers.Dense(1, {name_a})(inputs)
b = keras.layers.Dense(2, activation="softmax", name="b")(inputs)
model = keras.Model(inputs, [a, b])
model.compile(optimizer="adam", loss=["mse", "categorical_crossentropy"], metrics={metrics})
model.fit(x, [x[:, :1], x[:, :2]]{fit_extra})
print(model.predict(x))
"""
    def errors(**parts):
        result = translate(template.format(**parts))
        return [(d.code, d.line) for d in result.errors], result

    found, result = errors(name_a='name="a"', metrics='{"a": "mae", "b": "accuracy"}', fit_extra="")
    assert found == [], result.diagnostics
    assert "loss = a_loss + b_loss" in result.code and '"b_accuracy"' in result.code
    # Keras names the logs after the output layers: without a name=, compile() is the one marker.
    found, _ = errors(name_a="", metrics="None", fit_extra="")
    assert found == [("K2T401", 8), ("K2T403", 9)]
    # Metrics that Keras cannot match to the outputs: one marker, the training translated.
    found, result = errors(name_a='name="a"', metrics='["mae"]', fit_extra="")
    assert found == [("K2T401", 8)]
    assert "train_one_epoch(" in result.code
    # Sample weights of several outputs: one marker at fit().
    found, _ = errors(name_a='name="a"', metrics="None", fit_extra=", sample_weight=np.ones(8)")
    assert found == [("K2T402", 9)]


def test_a_second_compile_with_the_same_loss_is_a_new_optimizer():
    source = """import numpy as np
from tensorflow import keras
x, y = np.zeros((6, 4)), np.zeros(6)
model = keras.Sequential([keras.layers.Dense(3, activation="softmax", input_shape=(4,))])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x, y)
model.compile(optimizer=keras.optimizers.SGD(1e-4), loss="sparse_categorical_crossentropy")
model.fit(x, y)
"""
    result = translate(source)
    assert not result.errors, result.diagnostics
    assert "    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)\n" in result.code
    assert result.code.count("loss_fn = nn.CrossEntropyLoss()") == 1
    assert result.code.count("train_one_epoch(") == 3  # its def and two fits


def test_keras_session_and_drawing_calls_become_what_torch_has():
    source = """import keras
model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2)])
keras.utils.plot_model(model, to_file="model.png", show_shapes=True)
"""
    result = translate(source)
    assert not result.errors, result.diagnostics
    assert "    print(model)\n" in result.code and "keras" not in result.code.replace("# keras", "")
    # plot_model of anything else than a translated model stays, marked.
    result = translate(source.replace("plot_model(model", "plot_model(other"))
    assert [(d.code, d.line) for d in result.errors] == [("K2T501", 3)]
    # clear_session() reset Keras's global state: torch has none, a comment stands in its place.
    result = translate(source + "keras.backend.clear_session()\n")
    assert not result.errors and "clear_session() reset Keras's global state" in result.code
    assert "clear_session()\n" not in result.code.replace("# keras.backend.clear_session() reset", "")


def test_an_unknown_input_size_is_reported_not_written_as_an_invalid_lazy_module():
    for layer in ("keras.layers.Dense(3)", "keras.layers.Conv1D(4, 3)"):
        source = f"import keras\nm = keras.Sequential([keras.Input(shape=(5, None)), {layer}])\n"
        result = translate(source)
        assert [d.code for d in result.errors] == ["K2T303"], result.diagnostics
        assert "Lazy" not in result.code


def test_keras_configuration_queries_answer_with_keras_defaults():
    """K.image_data_format() and the like are written as the values the translation assumes
    (keras.json unchanged), wherever they are: the output needs no Keras to ask."""
    source = (
        "from keras import backend as K\n"
        "if K.image_data_format() == 'channels_first':\n"
        "    shape = (3, 32, 32)\n"
        "else:\n"
        "    shape = (32, 32, 3)\n"
        "print(K.backend(), K.epsilon(), K.floatx())\n"
    )
    result = translate(source)
    assert not result.diagnostics
    assert "if \"channels_last\" == \"channels_first\":" in result.code
    assert 'print("tensorflow", 1e-07, "float32")' in result.code
    assert "import" not in result.code


def test_a_name_rebound_from_a_keras_model_no_longer_means_it():
    # The first Sequential stays Keras (no input shape); the builder returns the second one.
    source = """from tensorflow.keras import layers, models


def build_model():
    model = models.Sequential()
    model = models.Sequential()
    model.add(layers.Dense(1, input_shape=(8,)))
    model.compile(optimizer="adam", loss="mse")
    return model


model = build_model()
model.fit(x, y, verbose=0)
model.save_weights("regressor.weights.h5")
"""
    once = translate(source)
    assert [d.code for d in once.errors] == ["K2T303"]
    assert 'torch.save(model.state_dict(), "regressor.weights.pt")' in once.code
    # Converting the output again leaves it as it is: `model = Model2().to(device)` rebinds model.
    assert translate(once.code).code == once.code
    # A Keras model wrapped by an unknown function is not trained as if it were the original.
    wrapped = translate(
        "import keras\nimport tfmot\n\nmodel = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])\n"
        "model = tfmot.quantize_model(model)\nmodel.compile(optimizer='adam', loss='mse')\nmodel.fit(x, y)\n"
    )
    assert [(d.code, d.line) for d in wrapped.errors] == [("K2T302", 6), ("K2T302", 7)]


def test_a_line_marked_by_an_earlier_run_keeps_its_one_marker():
    # model.add() after compile() is a Keras call the first run marks; in its output model is a
    # torch module, and the same line would be marked again for another reason.
    source = (
        "from tensorflow.keras import layers, models\n\n\ndef build_model():\n    model = models.Sequential()\n"
        "    model.add(layers.Dense(1, input_shape=(8,)))\n    model.compile(loss='mse')\n    return model\n"
        "    model.add(layers.Dense(32))\n\n\nmodel = build_model()\n"
    )
    once = translate(source)
    assert [d.code for d in once.errors] == ["K2T302"] and once.code.count("# k2t:") == 1
    again = translate(once.code)
    assert again.errors and again.code == once.code


def test_a_size_computed_in_the_builder_is_given_to_the_model():
    source = """import numpy as np
from keras import Input, Sequential, layers


def build(data, shape=(2, 3)):
    n = data.shape[1]
    return Sequential([Input((4,)), layers.Dense(n), layers.Dense(int(np.prod(shape)))])


def build_wide(data):
    return Sequential([Input((4,)), layers.Dense(data.shape[1] * 2)])
"""
    result = translate(source)
    # n is computed at run time: the model takes it (before, the class read an undefined n).
    assert "def __init__(self, n, shape):" in result.code
    assert "nn.Linear(n, int(np.prod(shape)))" in result.code and "Build(n, shape).to(device)" in result.code
    # An attribute of a run-time object is given to the model under the attribute's name.
    assert not result.errors
    assert "nn.Linear(4, shape[1] * 2)" in result.code and "return Wide(data.shape).to(device)" in result.code
    # ... unless the model already takes a parameter of that name: one marker.
    clash = translate(source.replace("def build_wide(data):", "def build_wide(data, shape=2):").replace(
        "layers.Dense(data.shape[1] * 2)", "layers.Dense(shape), layers.Dense(data.shape[1] * 2)"))
    assert [(d.code, d.line) for d in clash.errors] == [("K2T102", 11)]
    assert "data.shape is read from an object" in clash.errors[0].message


def test_a_plain_class_builds_its_models_from_the_sizes_its_init_sets():
    source = """import numpy as np
from keras import Input, Model, layers


class Trainer:
    def __init__(self):
        self.img_shape = (4, 4, 1)
        self.latent_dim = 8
        self.critic = self.build_critic()
        self.critic.compile(loss="mse", optimizer="adam")

    def build_critic(self):
        img = Input(shape=self.img_shape)
        h = layers.Dense(self.latent_dim)(layers.Flatten()(img))
        return Model(img, layers.Dense(int(np.prod(self.img_shape)))(h))
"""
    result = translate(source)
    assert "nn.Linear(16, 8)" in result.code and "nn.Linear(8, 16)" in result.code
    assert "return Critic().to(device)" in result.code
    # Keras's compile() is never called on the torch module without a marker.
    assert [(d.code, d.line) for d in result.errors] == [("K2T302", 10)]
    # An attribute assigned again elsewhere is not a static size.
    again = translate(source.replace("        self.critic.compile", "        self.latent_dim = 3\n        self.critic.compile"))
    assert "nn.Linear(16, 8)" not in again.code


def test_a_loss_function_of_the_program_is_rewritten_only_where_compile_alone_uses_it():
    source = """import tensorflow as tf
import keras


def loss(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)


model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss=loss)
model.fit(x, y)
"""
    result = translate(source)
    assert not result.errors
    assert "return torch.mean(torch.square(y_true - y_pred), dim=-1)" in result.code
    assert "loss = loss_fn(batch_targets, outputs).mean()" in result.code
    # Called on arrays elsewhere too: rewriting it for tensors would break that call.
    elsewhere = translate(source + "print(loss(y, model.predict(x)))\n")
    assert ("K2T401", 10) in [(d.code, d.line) for d in elsewhere.errors]
    assert "outside compile()" in next(d.message for d in elsewhere.errors if d.code == "K2T401")
    assert "tf.reduce_mean(tf.square" in elsewhere.code
    # A body with a branch is not read: the reason is given, the def stays.
    branchy = translate(source.replace("    return tf.reduce_mean", "    if True:\n        pass\n    return tf.reduce_mean"))
    assert any("only assignments and a return" in d.message for d in branchy.errors)
    # A metric function next to a sparse crossentropy (integer labels) is left, the loss kept.
    sparse = translate(source.replace('loss=loss)', 'loss="sparse_categorical_crossentropy", metrics=[loss])')
                       .replace("Dense(1)", "Dense(3)"))
    assert [(d.code, d.line) for d in sparse.errors if d.code != "K2T501"] == [("K2T401", 10)]
    assert "integer class labels" in next(d.message for d in sparse.errors if d.code == "K2T401")
    assert "loss = loss_fn(outputs, batch_targets)" in sparse.code


def test_tensorflow_2_top_level_aliases_of_keras_modules_are_keras():
    # tf.optimizers is tf.keras.optimizers (and tf.losses, tf.metrics, tf.initializers).
    source = """import tensorflow as tf

model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3, kernel_initializer=tf.initializers.HeUniform())])
model.compile(optimizer=tf.optimizers.SGD(0.1), loss=tf.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=[tf.metrics.SparseCategoricalAccuracy()])
model.fit(x, y)
"""
    result = translate(source)
    assert not result.errors, result.errors
    assert "torch.optim.SGD(model.parameters(), lr=0.1)" in result.code
    assert "sparse_categorical_accuracy" in result.code and 'nonlinearity="relu"' in result.code


def test_a_direct_call_of_a_model_never_compiled_brings_its_input_conversion():
    source = (
        "import numpy as np\nimport keras\n\nmodel = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])\n"
        "y = model(np.ones((3, 4), 'float32'))\n"
    )
    result = translate(source)
    assert not result.errors and "def prepare_inputs(x):" in result.code
    namespace = {"__name__": "__main__"}
    exec(compile(result.code, "translated.py", "exec"), namespace)  # noqa: S102 - our own output
    assert namespace["y"].shape == (3, 2)


_UNREAD_HISTORY = '''
import numpy as np
from tensorflow import keras

x = np.random.rand(100, 4).astype("float32")
y = x.sum(axis=1)
model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
history = model.fit(x, y, epochs=3, validation_split=0.2, verbose=0)
'''


def test_history_and_validation_that_nothing_reads_are_left_out():
    code = translate(_UNREAD_HISTORY).code
    assert "History" not in code and "history" not in code
    assert "evaluate" not in code  # Keras's validation pass: its logs go nowhere
    # The held-out share still trains no one: the loop sees the first 80% only.
    assert "train_inputs = train_inputs[:split]" in code and "train_targets = train_targets[:split]" in code
    assert "        train_one_epoch(model, optimizer, loss_fn, train_inputs, train_targets, 32)" in code


def test_history_the_program_reads_is_kept_with_its_validation():
    code = translate(_UNREAD_HISTORY + "print(history.history['val_loss'])\n").code
    assert "history = History()" in code and "history.append(epoch, logs)" in code
    assert "val_logs = evaluate(model, loss_fn, val_inputs, val_targets, 32)" in code


_PREDICT_IN_FUNCTION = '''
import numpy as np
from tensorflow import keras

model = keras.Sequential([keras.layers.Dense(8, activation="elu", input_shape=(4,)), keras.layers.Dense(2)])


def policy(state):
    q_values = model.predict(state[np.newaxis], verbose=0)[0]
    return q_values.argmax()


print(policy(np.ones(4, dtype="float32")))
'''


def test_predict_in_a_function_that_reads_the_module_model():
    result = translate(_PREDICT_IN_FUNCTION)
    assert not result.errors
    assert "q_values = predict(model, prepare_inputs(state[np.newaxis]))[0]" in result.code


def test_predict_in_a_function_on_a_name_bound_twice_is_marked():
    """The function reads the name when it runs: after the second binding it is another model,
    whose input conversion may differ."""
    source = _PREDICT_IN_FUNCTION + "model = keras.Sequential([keras.layers.Dense(3, input_shape=(5,))])\n"
    result = translate(source)
    assert [(d.code, d.line) for d in result.errors] == [("K2T302", 9)]


def test_a_layer_kept_in_place_is_one_comment_line_whatever_its_code_spans():
    source = """import keras
from keras import layers

model = keras.Sequential([
    keras.Input(shape=(4,)),
    layers.Dense(3, activation=make_activation(
        "swish", beta=2.0,
    )),
    layers.Dense(1),
])
"""
    result = translate(source)
    assert [(d.code, d.line) for d in result.errors] == [("K2T102", 6)]
    marker = next(line for line in result.code.splitlines() if "# k2t:" in line)
    assert 'activation=make_activation( "swish", beta=2.0, )' in marker
    compile(result.code, "out.py", "exec")
    assert translate(result.code).code == result.code


def test_a_model_made_mostly_of_layers_without_rules_stays_as_it_is():
    source = """import keras
from keras import layers

model = keras.Sequential([keras.Input(shape=(4,)), layers.Foo(), layers.Bar(), layers.Dense(1)])
"""
    result = translate(source)
    assert [(d.code, d.line) for d in result.errors] == [("K2T101", 4), ("K2T101", 4)]
    assert "UntranslatedLayer" not in result.code and "keras.Sequential" in result.code
