"""Custom layers and subclassed models: translated construct by construct, one marker per missing
piece, and verify catches what a wrong translation would get wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import FIXTURES, run_torch_only
from k2t import translate
from k2t.cli import main
from k2t.verify import verify_sources

MARKER = "# k2t: "

LAZY_FIT = '''
import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

rng = np.random.default_rng(0)
x_train = rng.normal(size=(256, 20)).astype("float32")
y_train = (x_train[:, 0] > 0).astype("int64")


class Classifier(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(16, activation="relu")
        self.out = layers.Dense(2, activation="softmax")

    def call(self, inputs):
        return self.out(self.hidden(inputs))


model = Classifier()
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
history = model.fit(x_train, y_train, epochs=4, batch_size=32)
'''


def _fixture(name: str) -> tuple[str, str]:
    keras_path = FIXTURES / "classes" / f"{name}.keras.py"
    return keras_path.read_text(encoding="utf-8"), keras_path.with_name(f"{name}.torch.py").read_text(encoding="utf-8")


def test_one_missing_op_leaves_one_marker_and_the_rest_translated():
    source = '''
import tensorflow as tf
from tensorflow.keras import layers


class Block(layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(4)

    def call(self, x):
        x = self.dense(x)
        y = tf.signal.fft(x)
        return tf.nn.relu(x)
'''
    result = translate(source)
    assert [d.code for d in result.errors] == ["K2T501"]
    assert result.errors[0].line == 13
    assert result.code.count(MARKER) == 1
    marked = result.code.splitlines()[result.code.splitlines().index(next(l for l in result.code.splitlines() if MARKER in l)) + 1]
    assert "tf.signal.fft(x)" in marked
    assert "class Block(nn.Module):" in result.code
    assert "return torch.relu(x)" in result.code
    assert "self.dense = nn.LazyLinear(4)" in result.code


MODULE_FUNCTION = '''
import numpy as np
import tensorflow as tf
from tensorflow.keras import layers


def squash(x, axis=-1):
    norm = tf.reduce_sum(tf.square(x), axis=axis, keepdims=True)
    return norm / (1.0 + norm) * x / tf.sqrt(norm + 1e-7)


def noisy(x):
    y = tf.signal.fft(x)
    return tf.nn.relu(x)


class Capsule(layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(4)

    def call(self, x):
        return noisy(squash(self.dense(x)))
'''


def test_module_function_only_classes_call_is_translated_with_them():
    result = translate(MODULE_FUNCTION)
    code = result.code
    assert "def squash(x, axis=-1):" in code
    assert "torch.sum(torch.square(x), dim=-1, keepdim=True)" in code  # written for its call's axis
    assert "return noisy(squash(self.dense(x)))" in code
    # The op without a rule is one marker on its own line of the function; the rest is torch.
    assert [(d.code, d.line) for d in result.errors] == [("K2T501", 13)]
    assert code.count(MARKER) == 1
    assert "return torch.relu(x)" in code
    assert "tf.reduce_sum" not in code


def test_helper_called_with_arguments_that_need_other_code_is_marked():
    """The ops fold an axis into the code written for the first call: a call with another axis
    cannot share that code, and is marked rather than silently given the first call's axis."""
    source = MODULE_FUNCTION.replace(
        "return noisy(squash(self.dense(x)))", "return squash(squash(self.dense(x)), axis=1) + squash(x)"
    )
    result = translate(source)
    marked = [d for d in result.errors if d.line == 23]
    assert [d.code for d in marked] == ["K2T501"] and "this call's need other code" in marked[0].message
    assert "norm = torch.sum(torch.square(x), dim=-1, keepdim=True)" in result.code


def test_module_function_the_program_also_calls_on_arrays_stays():
    source = MODULE_FUNCTION + "\nprint(squash(np.ones((2, 3), dtype='float32')))\n"
    code = translate(source).code
    assert "tf.reduce_sum(tf.square(x), axis=axis, keepdims=True)" in code  # it may be given arrays
    assert "return noisy(squash(self.dense(x)))" in code
    assert "import tensorflow as tf" in code


def test_training_argument_reads_the_module_mode():
    source = '''
import tensorflow as tf
from tensorflow import keras


class Noisy(keras.layers.Layer):
    def call(self, inputs, training=None):
        if training:
            return inputs + tf.random.normal(tf.shape(inputs), stddev=0.1)
        return inputs
'''
    code = translate(source).code
    assert "def forward(self, inputs):" in code
    assert "if self.training:" in code
    assert "training" not in code.replace("self.training", "")


def test_keras_only_methods_and_keywords_are_dropped():
    source = '''
from tensorflow import keras


class Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
'''
    result = translate(source)
    assert not result.errors
    assert "def __init__(self, factor=2.0):" in result.code
    assert "super().__init__()" in result.code
    assert "get_config" not in result.code


def test_verify_catches_a_wrong_softmax_axis():
    keras_text, torch_text = _fixture("attention_ops")
    assert "torch.softmax(self.scores(q, k), dim=-1)" in torch_text
    wrong = torch_text.replace("torch.softmax(self.scores(q, k), dim=-1)", "torch.softmax(self.scores(q, k), dim=1)")
    (verdict,) = verify_sources(keras_text, wrong)
    assert verdict.status == "different"
    (verdict,) = verify_sources(keras_text, torch_text)
    assert verdict.status == "equivalent"


def test_verify_catches_a_weight_used_wrongly():
    keras_text, torch_text = _fixture("custom_dense_build")
    wrong = torch_text.replace("torch.matmul(inputs, self.w) + self.b", "torch.matmul(inputs, self.w) - self.b")
    assert wrong != torch_text
    (verdict,) = verify_sources(keras_text, wrong)
    assert verdict.status == "different"


def test_verify_reports_a_parameter_that_no_keras_weight_fills():
    keras_text, torch_text = _fixture("subclassed_cnn")
    extra = torch_text.replace(
        "        self.pool = nn.MaxPool2d(2)\n",
        "        self.pool = nn.MaxPool2d(2)\n        self.scale = nn.Parameter(torch.ones(1))\n",
    )
    assert extra != torch_text
    (verdict,) = verify_sources(keras_text, extra)
    assert verdict.status == "different" and "scale" in verdict.reason


def test_lazy_model_is_materialised_before_its_optimizer(tmp_path):
    result = translate(LAZY_FIT)
    assert not result.errors
    code = result.code
    dry_run = code.index("model.eval()(prepare_inputs(x_train[:2]))")
    assert dry_run < code.index("optimizer = KerasAdam(model.parameters()")
    assert "nn.LazyLinear(16)" in code
    torch_path = tmp_path / "out.py"
    torch_path.write_text(code, encoding="utf-8")
    completed = run_torch_only(torch_path, tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    losses = json.loads(next(l for l in completed.stdout.splitlines() if l.startswith("K2T-LOSSES ")).split(" ", 1)[1])
    assert losses[-1] < losses[0]


def test_verify_needs_the_input_shape_of_a_model_built_from_data():
    code = translate(LAZY_FIT).code
    (verdict,) = verify_sources(LAZY_FIT, code)
    assert verdict.status == "unverifiable" and "--input-shape" in verdict.reason
    (verdict,) = verify_sources(LAZY_FIT, code, input_shape=(20,), train_steps=5)
    assert verdict.status == "equivalent", verdict
    assert verdict.training.status == "equivalent" and verdict.training.steps_run == 5


def test_cli_input_shape(tmp_path: Path):
    keras_path, torch_path = tmp_path / "k.py", tmp_path / "t.py"
    keras_path.write_text(LAZY_FIT, encoding="utf-8")
    torch_path.write_text(translate(LAZY_FIT).code, encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(main, ["verify", str(keras_path), str(torch_path), "--input-shape", "20", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["models"][0]["status"] == "equivalent"
    bad = runner.invoke(main, ["verify", str(keras_path), str(torch_path), "--input-shape", "20x"])
    assert bad.exit_code == 2 and "--input-shape" in bad.output


def test_sizes_follow_the_callers_into_a_custom_layer():
    _, torch_text = _fixture("residual_block")
    # FeedForward's input size comes from TextClassifier's Embedding; its output size sets `out`.
    assert "self.expand = nn.Linear(16, hidden)" in torch_text
    assert "self.norm = nn.LayerNorm(16, eps=1e-6)" in torch_text
    assert "self.out = nn.Linear(16, num_classes)" in torch_text
    assert "Lazy" not in torch_text


def test_helper_methods_read_their_parameters_and_lose_tf_annotations():
    source = '''
import tensorflow as tf


class Block(tf.keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = tf.keras.layers.Dense(4)

    @tf.function
    def activate(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.relu(x)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return self.activate(self.dense(inputs) * 2.0)
'''
    result = translate(source)
    assert not result.errors
    assert "def activate(self, x: torch.Tensor) -> torch.Tensor:\n        return torch.relu(x)" in result.code
    assert "tf." not in result.code and "@" not in result.code


def test_a_model_with_its_own_train_step_is_not_trained_by_generic_loops():
    source = '''
import tensorflow as tf
from tensorflow import keras


class Autoencoder(keras.Model):
    def __init__(self):
        super().__init__()
        self.code = keras.layers.Dense(4)

    def call(self, x):
        z = self.code(x)
        self.add_loss(tf.reduce_mean(z ** 2))
        return z

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(self(data))
        return {"loss": loss}


model = Autoencoder()
model.compile(optimizer="adam")
model.fit(x, epochs=2)
'''
    result = translate(source)
    messages = {(d.line, d.code): d.message for d in result.errors}
    assert "add_loss" in messages[(13, "K2T501")]
    assert "train_step" in messages[(16, "K2T501")]
    assert (23, "K2T302") in messages and (24, "K2T302") in messages
    assert "def train_one_epoch" not in result.code


SQUEEZE = '''
from tensorflow import keras
from tensorflow.keras import layers


class SqueezeExcite(layers.Layer):
    def __init__(self, ratio=4, **kwargs):
        super().__init__(**kwargs)
        self.ratio = ratio

    def build(self, input_shape):
        channels = input_shape[-1]
        self.squeeze = layers.Dense(channels // self.ratio, activation="relu")
        self.excite = layers.Dense(channels, activation="sigmoid")

    def call(self, inputs):
        return inputs * self.excite(self.squeeze(inputs))
'''


def test_sizes_that_build_computes_need_a_callers_shape():
    """A sub-layer made in build() moves to __init__, where build()'s names do not exist: with a
    caller's input shape its sizes are numbers, without one the line is marked (never a NameError)."""
    alone = translate(SQUEEZE)
    assert [d.code for d in alone.errors][:1] == ["K2T303"]
    assert "channels // self.ratio: a size that build() computes from the input's shape" in alone.errors[0].message
    assert "nn.LazyLinear(channels" not in alone.code
    used = SQUEEZE + "\ninputs = keras.Input(shape=(6, 6, 8))\nmodel = keras.Model(inputs, SqueezeExcite(4)(inputs))\n"
    result = translate(used)
    assert not result.errors, result.errors
    assert "self.squeeze = nn.Linear(8, 2)" in result.code and "self.excite = nn.Linear(2, 8)" in result.code
    (verdict,) = verify_sources(used, result.code)
    assert verdict.status == "equivalent", verdict


def test_build_shape_made_of_module_constants_gives_explicit_sizes():
    source = '''
import keras
from keras import layers

maxlen = 12
features = 5


class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(8)

    def call(self, x):
        return self.hidden(x)


model = Net()
model.build((None, maxlen, features))
'''
    code = translate(source).code
    assert "self.hidden = nn.Linear(features, 8)" in code
    assert "Lazy" not in code and "torch.zeros(" not in code
    # A constant rebound in a compound statement has no one value: the sizes stay lazy.
    rebound = source.replace("\n\nmodel = Net()", "\nif maxlen > 10:\n    features = 6\n\nmodel = Net()")
    assert "nn.LazyLinear(8)" in translate(rebound).code


def test_number_attributes_that_every_instance_sets_give_dtypes_and_shapes():
    source = '''
import keras
from keras import layers, ops


class PositionEmbedding(layers.Layer):
    def __init__(self, length, dim):
        super().__init__()
        self.length = length
        self.embedding = layers.Embedding(input_dim=length, output_dim=dim)

    def call(self, x):
        positions = ops.expand_dims(ops.arange(start=0, stop=self.length, step=1), axis=0)
        return x + self.embedding(positions)


class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.positions = PositionEmbedding(6, 8)
        self.head = layers.Dense(2)

    def call(self, x):
        return self.head(self.positions(x))


model = Net()
model.build((None, 6, 8))
'''
    result = translate(source)
    assert not result.errors, result.diagnostics
    # ops.arange over an int attribute makes int32 positions, as Keras does; the code reads the attribute.
    assert "torch.arange(0, self.length, dtype=torch.int32, device=x.device)" in result.code
    assert "self.head = nn.Linear(8, 2)" in result.code


def test_a_shape_kept_in_a_variable_is_read_from_it():
    source = '''
import keras
from keras import layers, ops


class Fold(layers.Layer):
    def call(self, x):
        shape = ops.shape(x)
        return ops.reshape(x, (shape[0], shape[1] * shape[2]))


class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.fold = Fold()
        self.head = layers.Dense(2)

    def call(self, x):
        return self.head(self.fold(x))


model = Net()
model.build((None, 4, 3))
'''
    code = translate(source).code
    assert "shape = x.shape" in code
    assert "torch.reshape(x, (shape[0], shape[1] * shape[2]))" in code
    assert "self.head = nn.Linear(12, 2)" in code  # the sizes still follow


def test_class_instances_in_a_graph_get_readable_attribute_names():
    from k2t.classes import snake_case

    assert snake_case("RMSNorm") == "rms_norm"
    assert snake_case("AttentionPooling1D") == "attention_pooling1d"
    assert snake_case("SmallSENet") == "small_se_net"
    assert snake_case("TransformerBlock") == "transformer_block"
    assert snake_case("Conv2DBlock") == "conv2d_block"
    assert snake_case("MLP") == "mlp"


INHERITED = '''
import keras
from keras import layers


class Block(layers.Layer):
    def __init__(self, units, activation="relu"):
        super().__init__()
        self.dense = layers.Dense(units, activation=activation)

    def call(self, x):
        return self.dense(x)


class Residual(Block):
    def call(self, x):
        return x + super().call(x)


class Stack(layers.Layer):
    def __init__(self, units, depth):
        super().__init__()
        self.blocks = []
        for _ in range(depth):
            self.blocks.append(Residual(units))

    def call(self, x):
        for block in self.blocks:
            x = block(x)
        return x


class Net(keras.Model):
    def __init__(self, width=8):
        super().__init__()
        self.stack = Stack(width, 2)
        self.head = layers.Dense(1)

    def call(self, x):
        return self.head(self.stack(x))


model = Net()
model.build((None, 8))
'''


def test_super_call_runs_the_base_forward_with_the_callers_shapes():
    result = translate(INHERITED)
    assert not result.errors, result.diagnostics
    assert "return x + super().forward(x)" in result.code
    # The base learns its input from the subclass's callers, its activation from their arguments.
    assert "self.dense = nn.Linear(8, units)" in result.code
    assert "return torch.relu(self.dense(x))" in result.code
    # ... and the sizes go on through the loop of residual blocks into the model's head.
    assert "self.head = nn.Linear(8, 1)" in result.code


def test_a_list_filled_by_a_loop_of_appends_is_a_module_list():
    code = translate(INHERITED).code
    assert "self.blocks = nn.ModuleList([Residual(units) for _ in range(depth)])" in code
    assert ".append(" not in code
    assert "for block in self.blocks:\n            x = block(x)" in code


def test_verify_maps_the_weights_a_subclass_inherits_from_its_base():
    torch_text = translate(INHERITED).code
    (verdict,) = verify_sources(INHERITED, torch_text)
    assert verdict.status == "equivalent", verdict


def test_constructor_arguments_follow_nested_constructors_and_parameters_hide_module_names():
    from k2t.classes import constructor_arguments, keras_classes
    from k2t.names import resolver_for
    from libcst.metadata import MetadataWrapper
    import libcst as cst
    from k2t.values import Env

    source = INHERITED.replace("class Net(", "width = 32\n\n\nclass Net(")
    wrapper = MetadataWrapper(cst.parse_module(source))
    module_env = Env()
    module_env.values["width"] = 32
    found = constructor_arguments(wrapper.module, keras_classes(wrapper.module, resolver_for(wrapper)), module_env)
    # Net() -> Stack(width=8, 2) -> Residual(8) runs Block's __init__: units 8, not the module's width.
    assert found["Stack"] == {"units": 8, "depth": 2}
    assert found["Block"] == {"units": 8, "activation": "relu"}
    # A parameter assigned in the body has no one value there.
    source = source.replace("        self.blocks = []\n", "        units = units * 2\n        self.blocks = []\n")
    wrapper = MetadataWrapper(cst.parse_module(source))
    found = constructor_arguments(wrapper.module, keras_classes(wrapper.module, resolver_for(wrapper)), module_env)
    assert found["Block"] == {"activation": "relu"}


def test_a_list_changed_after_its_loop_of_appends_is_not_read_as_one_kind_of_layer():
    source = INHERITED.replace(
        "            self.blocks.append(Residual(units))\n",
        "            self.blocks.append(Residual(units))\n        self.blocks.append(Block(4))\n",
    )
    assert "nn.ModuleList([" not in translate(source).code


def _torch_namespace(code: str) -> dict:
    """The translated program's definitions (its __main__ block not run)."""
    namespace: dict = {"__name__": "translated"}
    exec(compile(code, "translated.py", "exec"), namespace)  # noqa: S102 - k2t's own output
    return namespace


def test_random_draws_in_a_training_branch_run_on_torch():
    """keras.io's StochasticDepth: `1 - self.drop_prob` is a number, the shape a tuple sum, the
    draw keras.random.uniform on the input's device; kept samples are scaled, at inference the
    branch passes unchanged."""
    import torch

    keras_text, torch_text = _fixture("stochastic_depth")
    result = translate(keras_text)
    assert not result.errors and MARKER not in result.code
    assert "random_tensor = keep_prob + torch.rand(shape, device=x.device)" in result.code
    layer = _torch_namespace(torch_text)["StochasticDepth"](0.25).train()
    torch.manual_seed(0)
    x = torch.ones(4000, 3, 2)
    y = layer(x)
    kept = y[:, 0, 0] != 0
    assert 0.72 < kept.float().mean().item() < 0.78
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.75))
    assert torch.equal(y[~kept], torch.zeros_like(y[~kept]))
    assert torch.equal(layer.eval()(x), x)


VAE_SAMPLING = '''
import keras
from keras import layers, ops


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim))
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


inputs = keras.Input(shape=(6,))
z_mean = layers.Dense(2)(inputs)
z_log_var = layers.Dense(2)(inputs)
encoder = keras.Model(inputs, Sampling()([z_mean, z_log_var]))
'''


def test_vae_sampling_draws_z_with_the_mean_and_variance_given():
    """keras.io's VAE Sampling layer: translated whole (torch.randn on z_mean's device). Its draws
    are not Keras's, so verify cannot compare it: the distribution is checked here."""
    import math

    import torch

    result = translate(VAE_SAMPLING)
    assert not result.errors and MARKER not in result.code
    assert "epsilon = torch.randn((batch, dim), device=z_mean.device)" in result.code
    sampling = _torch_namespace(result.code)["Sampling"]()
    torch.manual_seed(0)
    z = sampling([torch.full((20000, 2), 1.5), torch.full((20000, 2), math.log(4.0))])
    assert z.shape == (20000, 2)
    assert abs(z.mean().item() - 1.5) < 0.05 and abs(z.std().item() - 2.0) < 0.05


def test_a_seeded_draw_is_marked_not_translated():
    source = VAE_SAMPLING.replace(
        '"""Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""',
        "def __init__(self, **kwargs):\n        super().__init__(**kwargs)\n"
        "        self.seed_generator = keras.random.SeedGenerator(1337)",
    ).replace("shape=(batch, dim))", "shape=(batch, dim), seed=self.seed_generator)")
    result = translate(source)
    messages = [d.message for d in result.errors]
    reason = "seed=self.seed_generator has no translation: torch cannot draw Keras's random stream"
    assert any(reason in m for m in messages)


ACTIVATION_GET = '''
import keras
from keras import activations, layers, ops


class SimpleDense(layers.Layer):
    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units))

    def call(self, inputs):
        return self.activation(ops.matmul(inputs, self.kernel))

    def get_config(self):
        return {"units": self.units, "activation": activations.serialize(self.activation)}


model = keras.Sequential([keras.Input(shape=(4,)), SimpleDense(8, FIRST), SimpleDense(2, SECOND)])
'''


def test_activations_get_with_a_known_activation_becomes_the_function():
    def code(first: str, second: str) -> str:
        return translate(ACTIVATION_GET.replace("FIRST", first).replace("SECOND", second)).code

    assert "return torch.relu(torch.matmul(inputs, self.kernel))" in code('"relu"', '"relu"')
    defaulted = ACTIVATION_GET.replace("activation=None", 'activation="gelu"')
    defaulted = defaulted.replace("FIRST", '"gelu"').replace(", SECOND", "")  # one given, one by default
    assert "return F.gelu(torch.matmul(inputs, self.kernel))" in translate(defaulted).code
    for text in (code('"relu"', '"relu"'), code("None", "activation=None")):
        assert MARKER not in text and "activations.get" not in text and "self.activation" not in text
    assert "return torch.matmul(inputs, self.kernel)" in code("None", "activation=None")  # linear


def test_activations_get_with_instances_that_disagree_picks_the_function_by_name():
    source = ACTIVATION_GET.replace("FIRST", '"relu"').replace("SECOND", '"tanh"')
    result = translate(source)
    assert not result.errors, result.errors
    # Each module picks its activation by the name its instance passes, as keras.activations.get.
    assert "self.activation = keras_activation(activation)" in result.code
    assert "return self.activation(torch.matmul(inputs, self.kernel))" in result.code
    assert "def keras_activation(name):" in result.code
    (verdict,) = verify_sources(source, result.code)
    assert verdict.status == "equivalent", verdict
    # Passed anything but a parameter (a call, a computed name), it stays marked.
    marked = translate(source.replace("activations.get(activation)", "activations.get(activation or 'relu')"))
    assert {10, 16} <= {d.line for d in marked.errors if d.code == "K2T501"}


def test_each_instance_of_a_class_follows_its_own_sizes():
    source = '''
import keras
from keras import layers, ops


class Linear(layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units))
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


model = keras.Sequential([keras.Input(shape=(12,)), Linear(), layers.ReLU(), Linear(1), layers.Dense(3)])
'''
    result = translate(source)
    assert not result.errors
    # Linear() keeps its default 32 and gets (12,); Linear(1) gets (32,): the Dense after it has 1 input.
    assert "self.fc = nn.Linear(1, 3)" in result.code
    (verdict,) = verify_sources(source, result.code)
    assert verdict.status == "equivalent", verdict


def test_assign_to_a_weight_is_an_in_place_update_without_gradient():
    keras_text, _ = _fixture("running_mean_state")
    source = keras_text.replace(
        "            self.moving_mean.assign(self.momentum * self.moving_mean + (1.0 - self.momentum) * mean)\n",
        "            self.moving_mean.assign(self.momentum * self.moving_mean + (1.0 - self.momentum) * mean)\n"
        "            self.moving_mean.assign_add(mean)\n            self.moving_mean.assign_sub(mean)\n",
    )
    result = translate(source)
    assert not result.errors
    assert (
        "            with torch.no_grad():\n                self.moving_mean.add_(mean)\n"
        "            with torch.no_grad():\n                self.moving_mean.sub_(mean)\n"
    ) in result.code
    assert "self.moving_mean.copy_(" in result.code and ".assign" not in result.code


def test_helper_methods_pass_on_the_shapes_they_return_and_their_keywords():
    source = '''
import keras
from keras import layers, ops


class Net(keras.Model):
    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale
        self.first = layers.Dense(6)
        self.second = layers.Dense(2)

    def encode(self, x, factor=1.0):
        return self.first(x) * factor

    def call(self, inputs):
        return self.second(self.encode(inputs, factor=self.scale))


model = Net()
model.build((None, 4))
'''
    result = translate(source)
    assert not result.errors
    assert "self.second = nn.Linear(6, 2)" in result.code and "Lazy" not in result.code
    assert "return self.second(self.encode(inputs, factor=self.scale))" in result.code
    (verdict,) = verify_sources(source, result.code)
    assert verdict.status == "equivalent", verdict


def test_weight_shapes_read_the_constructor_arguments():
    source = '''
import keras
from keras import layers


class Standardize(layers.Layer):
    def __init__(self, features, **kwargs):
        super().__init__(**kwargs)
        self.mean = self.add_weight(shape=(features,), initializer="zeros", trainable=False)

    def call(self, inputs):
        return inputs - self.mean


class Regressor(keras.Model):
    def __init__(self, features):
        super().__init__()
        self.standardize = Standardize(features)
        self.out = layers.Dense(1)

    def call(self, inputs):
        return self.out(self.standardize(inputs))


model = Regressor(5)
model.build((None, 5))
'''
    result = translate(source)
    assert not result.errors
    # Standardize(5)'s mean is (5,): the output keeps its input's 5 features, Dense knows its size.
    assert "self.out = nn.Linear(5, 1)" in result.code
    assert "self.mean = nn.Parameter(torch.empty((features,)), requires_grad=False)" in result.code


def test_kwargs_that_init_reads_stay_in_its_signature():
    source = '''
import keras
from keras import layers


class Scale(layers.Layer):
    def __init__(self, **kwargs):
        self.factor = kwargs.pop("factor", 2.0)
        super().__init__(**kwargs)

    def call(self, inputs):
        return inputs * self.factor


class Plain(layers.Layer):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def call(self, inputs):
        return inputs * self.units
'''
    code = translate(source).code
    # Read by the body: kept (it was dropped, and kwargs.pop failed at run time); only given to Keras: dropped.
    assert "def __init__(self, **kwargs):" in code and 'self.factor = kwargs.pop("factor", 2.0)' in code
    assert "def __init__(self, units=2):" in code


def test_build_takes_one_shape_per_call_tensor_by_name():
    source = '''
import keras
from keras import layers, ops


class Mix(layers.Layer):
    def build(self, query_shape, context_shape=None):
        self.wq = self.add_weight(shape=(query_shape[-1], 4))
        self.wc = self.add_weight(shape=(context_shape[-1], 4))

    def call(self, query, context=None):
        return ops.matmul(query, self.wq) + ops.matmul(context, self.wc)


q = keras.Input((5,))
c = keras.Input((3,))
model = keras.Model([q, c], Mix()(q, context=c))
'''
    code = translate(source).code
    # Keras names build()'s shapes after call()'s tensors: context_shape is context's shape.
    assert "context_shape = context.shape if context is not None else None" in code


def test_layer_normalization_of_unknown_size_is_lazy_and_verifies():
    """Keras sizes a LayerNormalization from its first input; torch has no lazy LayerNorm, so the
    output carries a small one (LazyLayerNorm) that becomes an nn.LayerNorm after the first batch."""
    source = '''
import keras
from keras import layers


class Block(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.norm = layers.LayerNormalization()
        self.plain = layers.LayerNormalization(center=False, scale=False, epsilon=1e-6)
        self.dense = layers.Dense(units)

    def call(self, x):
        return self.dense(self.plain(self.norm(x)))


class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.block = Block(8)

    def call(self, x):
        return self.block(x)


net = Net()
'''
    result = translate(source)
    assert not result.errors
    assert "self.norm = LazyLayerNorm(eps=0.001)" in result.code
    assert "self.plain = LazyLayerNorm(eps=1e-6, elementwise_affine=False)" in result.code
    assert "class LazyLayerNorm(nn.modules.lazy.LazyModuleMixin, nn.LayerNorm):" in result.code
    (verdict,) = verify_sources(source, result.code, input_shape=(5,))
    assert verdict.status == "equivalent", verdict


def test_weight_options_chosen_at_run_time_are_kept_or_fail_loudly():
    """A library layer nobody instantiates in its file: the initializer stays the caller's choice
    (keras_init_ applies Keras's initializer of that name); a regularizer or constraint, which the
    class cannot apply, raises for any value but the default instead of being dropped."""
    source = '''
from tensorflow import keras
from tensorflow.keras import initializers, regularizers, constraints


class Scale(keras.layers.Layer):
    def __init__(self, kernel_initializer="he_normal", kernel_regularizer=None, kernel_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 4), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)

    def call(self, x):
        return keras.backend.dot(x, self.kernel)
'''
    result = translate(source)
    assert not result.errors, [d.message for d in result.errors]
    code = result.code
    assert "self.kernel_initializer = kernel_initializer" in code
    assert "keras_init_(self.kernel, self.kernel_initializer)" in code and "def keras_init_(weight, name):" in code
    assert '"Scale(kernel_regularizer=...) has no translation"' in code
    assert '"Scale(kernel_constraint=...) has no translation"' in code
    namespace: dict = {}
    exec(code, namespace)
    layer = namespace["Scale"](kernel_initializer="zeros")
    import torch

    assert layer(torch.ones(2, 3)).abs().sum().item() == 0.0  # the caller's initializer, applied
    with pytest.raises(NotImplementedError):
        namespace["Scale"](kernel_regularizer="l2")


def test_batch_normalization_of_unknown_rank_normalises_the_last_axis():
    """Inside a class the tensors keep Keras's channels-last layout; where the rank is unknown a
    BatchNormalization still normalises the last axis, over every other one, at any rank."""
    source = '''
import keras
from keras import layers


class NormDense(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.bn = layers.BatchNormalization()
        self.dense = layers.Dense(units)

    def call(self, x, training=None):
        return self.dense(self.bn(x, training=training))


class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.block = NormDense(8)

    def call(self, x):
        return self.block(x)


net = Net()
'''
    result = translate(source)
    assert not result.errors, [d.message for d in result.errors]
    assert "return self.dense(batch_norm_last(self.bn, x))" in result.code
    for shape in [(5,), (3, 4, 5)]:
        (verdict,) = verify_sources(source, result.code, input_shape=shape)
        assert verdict.status == "equivalent", (shape, verdict)


def test_concatenate_of_unknown_rank_on_the_last_axis_only():
    source = '''
import keras
from keras import layers


class Pair(layers.Layer):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.a = layers.Dense(3)
        self.b = layers.Dense(2)
        self.join = layers.Concatenate(axis=AXIS)

    def call(self, x):
        return self.join([self.a(x), self.b(x)])


class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.pair = Pair()

    def call(self, x):
        return self.pair(x)


net = Net()
'''
    result = translate(source.replace("AXIS", "-1"))
    assert not result.errors, [d.message for d in result.errors]
    assert "torch.cat([self.a(x), self.b(x)], dim=-1)" in result.code
    for shape in [(5,), (4, 5)]:
        (verdict,) = verify_sources(source.replace("AXIS", "-1"), result.code, input_shape=shape)
        assert verdict.status == "equivalent", (shape, verdict)
    # axis=1 is the last axis only for rank-2 tensors: the rank must be known.
    assert any("needs the rank of its input" in d.message for d in translate(source.replace("AXIS", "1")).errors)


def test_docstrings_stay_as_written_and_sub_layer_builds_are_dropped():
    source = '''
import keras
from keras import layers
from elsewhere import Positional


class Token(layers.Layer):
    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = size

    def build(self, input_shape):
        """Make the kernel."""
        self.kernel = self.add_weight(shape=(input_shape[-1], self.size))

    def call(self, x):
        return keras.ops.matmul(x, self.kernel)


class Embed(layers.Layer):
    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.token = Token(size)
        self.dense = layers.Dense(size)
        self.position = Positional()

    def build(self, input_shape):
        self.token.build(input_shape)
        self.dense.build(input_shape)
        self.position.build(input_shape)

    def call(self, x):
        """Embed x.

        Two lines."""
        return self.dense(x) + self.token(x)
'''
    result = translate(source)
    code = result.code
    assert '        """Embed x.\n\n        Two lines."""' in code  # not an escaped one-line string
    assert '        """Make the kernel."""\n        input_shape = x.shape' in code  # build()'s own docstring
    assert "self.token.build" not in code and "self.dense.build" not in code  # torch sizes them at their first call
    # A layer k2t does not know: its build() may be Keras's, so the line is marked.
    assert [(d.code, d.line) for d in result.errors] == [("K2T501", 30)]
    assert "self.position.build(input_shape)" in code


def test_keras_only_method_that_call_uses_is_kept():
    """compute_mask serves Keras's masking and is dropped, unless call() itself calls it."""
    source = '''
from tensorflow import keras
from tensorflow.keras import backend as K


class Masked(keras.layers.Layer):
    def compute_mask(self, inputs, mask=None):
        return K.not_equal(inputs, 0)

    def call(self, inputs):
        return inputs * K.cast(self.compute_mask(inputs), K.floatx())
'''
    result = translate(source)
    assert not result.errors
    assert "def compute_mask(self, inputs, mask=None):\n        return torch.ne(inputs, 0)" in result.code
    namespace: dict = {}
    exec(result.code, namespace)
    import torch

    out = namespace["Masked"]()(torch.tensor([[0.0, 2.0]]))
    assert out.tolist() == [[0.0, 2.0]]


def test_add_weight_initializer_objects_keep_their_arguments():
    source = '''
import keras
from keras import layers, initializers


class W(layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 2), initializer=initializers.TruncatedNormal(stddev=0.02))
        self.b = self.add_weight(shape=(2,), initializer=keras.initializers.Constant(0.5))

    def call(self, x):
        return keras.ops.matmul(x, self.w) + self.b
'''
    code = translate(source).code
    assert "nn.init.trunc_normal_(self.w, mean=0.0, std=0.02, a=-0.04, b=0.04)" in code
    assert "nn.init.constant_(self.b, 0.5)" in code


ENCODER_DECODER = '''
import tensorflow as tf


class Encoder(tf.keras.Model):
    def __init__(self, vocab_size, embedding_dim, enc_units):
        super().__init__()
        self.enc_units = enc_units
        self.embedding = tf.keras.layers.Embedding(vocab_size, embedding_dim)
        self.gru = tf.keras.layers.GRU(self.enc_units, return_sequences=True, return_state=True)

    def call(self, x, hidden):
        x = self.embedding(x)
        output, state = self.gru(x, initial_state=hidden)
        return output, state


class Decoder(tf.keras.Model):
    def __init__(self, vocab_size, embedding_dim, dec_units):
        super().__init__()
        self.embedding = tf.keras.layers.Embedding(vocab_size, embedding_dim)
        self.lstm = tf.keras.layers.LSTM(dec_units, return_sequences=True, return_state=True)
        self.fc = tf.keras.layers.Dense(vocab_size)

    def call(self, x, states):
        x = self.embedding(x)
        x, h, c = self.lstm(x, initial_state=states)
        return self.fc(x), [h, c]
'''


def test_recurrent_states_in_a_subclassed_model_are_unpacked_and_given_in_torch_s_form():
    result = translate(ENCODER_DECODER)
    assert result.errors == [], result.diagnostics
    code = result.code
    # Sizes as the constructor has them; the Embedding gives the recurrent layer its input size.
    assert "self.gru = nn.GRU(embedding_dim, self.enc_units, batch_first=True)" in code
    assert "output, state = self.gru(x, hidden.unsqueeze(0))" in code and "state = state[0]" in code
    assert "x, (h, c) = self.lstm(x, (states[0].unsqueeze(0), states[1].unsqueeze(0)))" in code
    assert "self.fc = nn.Linear(dec_units, vocab_size)" in code
    # Run as Keras runs them: states (N, units) in and out.
    import torch

    namespace = {"__name__": "not_main"}
    exec(code, namespace)  # noqa: S102 - the translated classes
    encoder, decoder = namespace["Encoder"](20, 4, 6), namespace["Decoder"](30, 4, 6)
    tokens = torch.randint(0, 20, (3, 5))
    output, state = encoder(tokens, torch.zeros(3, 6))
    assert output.shape == (3, 5, 6) and state.shape == (3, 6)
    assert torch.allclose(output[:, -1], state)
    logits, (h, c) = decoder(tokens, [state, torch.zeros(3, 6)])
    assert logits.shape == (3, 5, 30) and h.shape == c.shape == (3, 6)


def test_a_recurrent_layer_s_outputs_used_without_unpacking_are_marked():
    source = ENCODER_DECODER.replace("output, state = self.gru(x, initial_state=hidden)\n        return output, state",
                                     "return self.gru(x, initial_state=hidden)")
    result = translate(source)
    assert [(d.code, d.line) for d in result.errors][:1] == [("K2T501", 14)], result.diagnostics
    assert "GRU returns 2 tensors, which k2t follows only unpacked into 2 names" in result.errors[0].message


def test_a_layer_class_called_with_separate_tensors_gets_them_as_separate_arguments():
    source = '''
import keras
from keras import layers


class Gate(layers.Layer):
    def __init__(self, units):
        super().__init__()
        self.dense = layers.Dense(units, activation="sigmoid")

    def call(self, inputs, context):
        return inputs * self.dense(context)


x_in = keras.Input(shape=(8,))
c_in = keras.Input(shape=(4,))
model = keras.Model([x_in, c_in], layers.Dense(2)(Gate(8)(x_in, c_in)))
'''
    result = translate(source)
    assert result.errors == [], result.diagnostics
    assert "self.gate(x_in, c_in)" in result.code
    assert "self.dense = nn.Linear(4, units)" in result.code  # the context's size, not the first input's
    (verdict,) = verify_sources(source, result.code)
    assert verdict.status == "equivalent", verdict
