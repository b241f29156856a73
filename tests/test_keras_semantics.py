"""Keras behaviour that translations keep: set_random_seed, Keras's fans in initialisers, the names of
saved files, CSVLogger's file, and documented differences written as comments, not markers."""

from __future__ import annotations

import os
import random
import re

import numpy as np
import pytest

from k2t import snippets, translate
from k2t.diagnostics import WARNING

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")


def _run(code: str, cwd=None) -> dict:
    """Execute a translation (imports, helpers, classes and the program) and return its namespace."""
    namespace = {"__name__": "__main__"}  # the program runs under its __main__ guard
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        exec(compile(code, "translated.py", "exec"), namespace)
    finally:
        os.chdir(old)
    return namespace


# -- 1. keras.utils.set_random_seed seeds Python's random, NumPy and the backend -----------------


@pytest.mark.parametrize(
    "source",
    [
        "import keras\nkeras.utils.set_random_seed(42)\n",
        "import tensorflow as tf\ntf.keras.utils.set_random_seed(42)\n",
        "from tensorflow.keras.utils import set_random_seed\nset_random_seed(42)\n",
    ],
    ids=["keras", "tf.keras", "from-import"],
)
def test_set_random_seed_seeds_python_numpy_and_torch(source):
    result = translate(source)
    assert not result.diagnostics
    code = result.code
    assert "keras" not in code.replace("keras.utils.set_random_seed:", "")  # only the docstring names it
    for line in ("import random", "import numpy as np", "import torch", "set_random_seed(42)"):
        assert re.search(rf"^{re.escape(line)}$", code, re.MULTILINE), line
    body = code[code.index("def set_random_seed") :]
    for call in ("random.seed(seed)", "np.random.seed(seed)", "torch.manual_seed(seed)"):
        assert call in body

    # The same streams as after Keras's own call.
    keras.utils.set_random_seed(42)
    expected = (random.random(), float(np.random.rand()))
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    _run(code)
    assert (random.random(), float(np.random.rand())) == expected
    drawn = torch.rand(3)
    torch.manual_seed(42)
    assert torch.equal(drawn, torch.rand(3))


def test_tf_random_set_seed_stays_torch_only():
    code = translate("import tensorflow as tf\ntf.random.set_seed(3)\n").code
    assert "torch.manual_seed(3)" in code
    assert "set_random_seed" not in code and "import random" not in code


# -- 2. Fan-scaled initialisers use Keras's fans, whatever torch's weight layout -----------------

# (model body, the Keras variable to compare, the torch parameter holding it)
_FAMILIES = {
    "Dense": ("keras.Input((512,)), layers.Dense(384, kernel_initializer={init!r})", 0, "fc.weight"),
    "Conv1D": ("keras.Input((50, 64)), layers.Conv1D(96, 5, kernel_initializer={init!r})", 0, "conv.weight"),
    "Conv2D": ("keras.Input((12, 12, 48)), layers.Conv2D(64, 3, kernel_initializer={init!r})", 0, "conv.weight"),
    "DepthwiseConv2D": (
        "keras.Input((12, 12, 256)), layers.DepthwiseConv2D(5, depth_multiplier=4, depthwise_initializer={init!r})",
        0,
        "conv.weight",
    ),
    "Conv2DTranspose": (
        "keras.Input((6, 6, 96)), layers.Conv2DTranspose(48, 5, kernel_initializer={init!r})",
        0,
        "deconv.weight",
    ),
    "Embedding": (
        "keras.Input((4,), dtype='int32'), layers.Embedding(3000, 40, embeddings_initializer={init!r})",
        0,
        "embedding.weight",
    ),
    "LSTM": ("keras.Input((5, 96)), layers.LSTM(64, kernel_initializer={init!r})", 0, "lstm.weight_ih_l0"),
}
_INITIALIZERS = [
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
    "normal", "truncated_normal", "random_uniform",
]


@pytest.mark.parametrize("init", _INITIALIZERS)
@pytest.mark.parametrize("family", list(_FAMILIES))
def test_initialiser_std_matches_keras(family, init):
    body, variable, parameter = _FAMILIES[family]
    source = f"import keras\nfrom keras import layers\n\nmodel = keras.Sequential([{body.format(init=init)}])\n"
    result = translate(source)
    assert not result.diagnostics, result.diagnostics
    namespace = {}
    exec(source, namespace)
    keras_weight = namespace["model"].layers[0].weights[variable].numpy()
    torch.manual_seed(0)
    module = _run(result.code)["model"]
    torch_weight = module.get_parameter(parameter).detach().numpy()
    assert torch_weight.size == keras_weight.size
    assert torch_weight.std() == pytest.approx(keras_weight.std(), rel=0.05), result.code
    # Uniform draws stay within Keras's limit; truncated normals within 2 std of theirs (a plain
    # normal has no bound: its largest draw differs from sample to sample).
    if init != "normal":
        assert np.abs(torch_weight).max() <= np.abs(keras_weight).max() * 1.05 + 1e-6


def test_depthwise_bounds_are_written_from_keras_fans():
    source = (
        "import keras\nfrom keras import layers\n\nmodel = keras.Sequential([keras.Input((8, 8, 32)), "
        "layers.DepthwiseConv2D(3, depth_multiplier=2), layers.Conv2D(8, 1)])\n"
    )
    code = translate(source).code
    # Keras's (3, 3, 32, 2) kernel: fan_in = 3 * 3 * 32, fan_out = 3 * 3 * 2.
    assert "# glorot_uniform with Keras's fans: fan_in=288, fan_out=18" in code
    limit = f"{(6 / (288 + 18)) ** 0.5:.8g}"
    assert f"nn.init.uniform_(self.conv1.weight, -{limit}, {limit})" in code
    # Where torch's fans are Keras's, torch's own initialiser is written.
    assert "nn.init.xavier_uniform_(self.conv2.weight)" in code


# -- 3. Saved files are named for what they hold: state_dicts as .pt --------------------------

_MODEL = """import os
from pathlib import Path
import keras
from keras import layers

model = keras.Sequential([keras.Input((4,)), layers.Dense(2)])
"""


@pytest.mark.parametrize(
    "statement, expected",
    [
        ('model.save("m.keras")', 'torch.save(model.state_dict(), "m.pt")'),
        ('model.save("m.h5")', 'torch.save(model.state_dict(), "m.pt")'),
        ('model.save("m.hdf5")', 'torch.save(model.state_dict(), "m.pt")'),
        ('model.save("saved_model")', 'torch.save(model.state_dict(), "saved_model.pt")'),
        ('model.save_weights("m.weights.h5")', 'torch.save(model.state_dict(), "m.weights.pt")'),
        ('model.load_weights("m.weights.h5")', 'model.load_state_dict(torch.load("m.weights.pt"))'),
        ('model.save(f"runs/{name}.keras")', 'torch.save(model.state_dict(), f"runs/{name}.pt")'),
        (
            'model.save_weights(os.path.join(out, "m.weights.h5"))',
            'torch.save(model.state_dict(), os.path.join(out, "m.weights.pt"))',
        ),
        ('model.save(Path(out) / "m.keras")', 'torch.save(model.state_dict(), Path(out) / "m.pt")'),
        ('model.save(filepath="m.keras", overwrite=True)', 'torch.save(model.state_dict(), "m.pt")'),
        ("model.save(path)", 'torch.save(model.state_dict(), os.path.splitext(path)[0] + ".pt")'),
        (
            "model.load_weights(os.path.join(out, name))",
            'model.load_state_dict(torch.load(os.path.splitext(os.path.join(out, name))[0] + ".pt"))',
        ),
    ],
)
def test_saved_paths_are_named_for_a_state_dict(statement, expected):
    result = translate(_MODEL + statement + "\n")
    assert not result.errors, result.diagnostics
    # Compared without whitespace: black wraps long lines under the __main__ guard.
    assert "".join(expected.split()) in "".join(result.code.split())


def test_model_checkpoint_paths():
    source = _MODEL + (
        'best = keras.callbacks.ModelCheckpoint("ckpt/w.{epoch:02d}-{val_loss:.2f}.hdf5", save_best_only=True)\n'
        "every = keras.callbacks.ModelCheckpoint(filepath=checkpoint_path)\n"
        'joined = keras.callbacks.ModelCheckpoint(os.path.join("ckpt", "last.keras"))\n'
    )
    code = translate(source).code
    assert 'ModelCheckpoint("ckpt/w.{epoch:02d}-{val_loss:.2f}.pt", save_best_only=True)' in code
    assert 'ModelCheckpoint(filepath=os.path.splitext(checkpoint_path)[0] + ".pt")' in code
    assert 'ModelCheckpoint(os.path.join("ckpt", "last.pt"))' in code


def test_saved_files_exist_and_load(tmp_path):
    source = _MODEL + (
        'out = "runs"\n'
        "os.makedirs(out, exist_ok=True)\n"
        'path = os.path.join(out, "final.weights.h5")\n'
        'model.save("m.keras")\n'
        'model.save_weights(os.path.join(out, "w.weights.h5"))\n'
        "model.save_weights(path)\n"
        "model.load_weights(path)\n"
    )
    code = translate(source).code
    _run(code, cwd=tmp_path)
    saved = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert saved == ["m.pt", "runs/final.weights.pt", "runs/w.weights.pt"]
    assert set(torch.load(tmp_path / "m.pt")) == {"fc.weight", "fc.bias"}


# -- 4. CSVLogger writes the file Keras writes ----------------------------------------------------


def _snippet_csv_logger():
    namespace = {}
    exec("import csv\nimport os\nimport numpy as np\nimport torch\n" + snippets.code({"CSVLogger"}), namespace)
    return namespace["CSVLogger"]


_EPOCHS_VAL = [
    {"loss": 0.6931471824645996, "accuracy": 0.5, "val_loss": 0.7, "val_accuracy": 0.4375, "learning_rate": 0.001},
    {"loss": 0.5123, "accuracy": 0.71875, "val_loss": 0.65, "val_accuracy": 0.5, "learning_rate": 0.0005},
]
_EPOCHS_NO_VAL = [{"mae": 1.25, "loss": 2.5}, {"mae": 1.0, "loss": 2.0}, {"mae": 0.75, "loss": 1.5}]


@pytest.mark.parametrize(
    "epochs, separator, append, runs",
    [(_EPOCHS_VAL, ",", False, 1), (_EPOCHS_NO_VAL, ";", False, 1), (_EPOCHS_VAL, ",", True, 2)],
    ids=["validation", "no-validation-separator", "append-twice"],
)
def test_csv_logger_writes_what_keras_writes(tmp_path, epochs, separator, append, runs):
    snippet_class = _snippet_csv_logger()

    def write(path, logger):
        for _ in range(runs):  # fit() called `runs` times with the same logger
            logger.on_train_begin()
            for epoch, logs in enumerate(epochs):
                logger.on_epoch_end(epoch, dict(logs))
            logger.on_train_end()
        return path.read_bytes()

    keras_path, torch_path = tmp_path / "keras.csv", tmp_path / "torch.csv"
    expected = write(keras_path, keras.callbacks.CSVLogger(str(keras_path), separator=separator, append=append))
    written = write(torch_path, snippet_class(str(torch_path), separator=separator, append=append))
    assert written == expected  # byte for byte: columns, order, numbers, "NA", line endings
    assert expected.startswith(b"epoch" + separator.encode())
    assert expected.count(b"epoch") == 1  # appending writes the header once


def test_csv_logger_translation_imports_csv():
    source = _MODEL + 'logger = keras.callbacks.CSVLogger("log.csv")\n'
    code = translate(source).code
    assert re.search(r"^import csv$", code, re.MULTILINE)
    assert 'logger = CSVLogger("log.csv")' in code


# -- 5. Documented differences are comments at the layer, not markers --------------------------

_BN_MODEL = """import numpy as np
import keras
from keras import layers

x = np.random.normal(size=(64, 10)).astype("float32")
y = (x[:, 0] > 0).astype("int64")
model = keras.Sequential(
    [keras.Input(shape=(10,)), layers.Dense(16), layers.BatchNormalization(), layers.Dense(2, activation="softmax")]
)
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
history = model.fit(x, y, epochs=2)
"""


def test_layer_note_is_a_comment_above_the_layer():
    result = translate(_BN_MODEL)
    (note,) = result.diagnostics
    assert note.code == "K2T104" and note.severity == WARNING and note.line == 8
    assert result.status == "translated" and not result.errors
    assert "# k2t:" not in result.code
    lines = result.code.splitlines()
    bn = next(i for i, line in enumerate(lines) if line.strip().startswith("self.bn = nn.BatchNorm1d("))
    assert lines[bn - 1].strip() == "# torch's running_var averages unbiased batch variances (Keras: biased ones)."
    assert translate(result.code).code == result.code


def test_untranslated_initializer_note_is_a_comment_and_errors_keep_markers():
    source = """import keras
from keras import layers

model = keras.Sequential([keras.Input((4,)), layers.Dense(3, kernel_initializer="identity")])
other = keras.Sequential([keras.Input((4,)), layers.Lambda(abs)])
"""
    result = translate(source)
    warning = next(d for d in result.diagnostics if d.code == "K2T104")
    assert warning.severity == WARNING
    lines = result.code.splitlines()
    fc = next(i for i, line in enumerate(lines) if "self.fc = nn.Linear(4, 3)" in line)
    assert lines[fc - 2].strip().startswith("# initializer 'identity' has no translation")
    assert "# k2t: K2T104" not in result.code
    # An error is still marked where it stands.
    assert "# k2t: K2T101" in result.code


def test_rescaling_multiplies_by_the_scale_as_keras_does():
    """`x * 1.0 / 255` divides x (one rounding off Keras's x * float32(1/255) in a third of the
    pixels); the scale is parenthesised, and the result is Keras's to the bit."""
    import keras
    import torch

    source = "import keras\nfrom keras import layers\nmodel = keras.Sequential([keras.Input(shape=(8,)), layers.Rescaling(1.0 / 255)])\n"
    code = translate(source).code
    assert "x * (1.0 / 255)" in code
    namespace = {"__name__": "not_main"}
    exec(code, namespace)  # noqa: S102 - the translated definitions
    pixels = np.random.default_rng(0).uniform(0, 255, size=(64, 8)).astype("float32")
    expected = np.asarray(keras.layers.Rescaling(1.0 / 255)(pixels))
    actual = namespace["Model"]()(torch.from_numpy(pixels)).numpy()
    assert np.array_equal(actual, expected)


@pytest.mark.parametrize("size", [(5, 7), (8, 8), (9, 12), (15, 13)])
def test_same_padding_computed_at_run_time_matches_keras(size):
    """pad_same (rules/snippets.py): TF's asymmetric 'same' padding of a strided convolution for an
    input size known only at run time, against Keras's Conv2D with the same kernel."""
    import keras
    import torch
    import torch.nn.functional as F

    namespace: dict = {"F": F}
    exec(snippets.code({"pad_same"}), namespace)  # noqa: S102 - the helper outputs copy
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, *size, 3)).astype("float32")
    for kernel, strides, dilation in (((3, 3), (2, 2), (1, 1)), ((4, 5), (2, 3), (1, 1)), ((3, 3), (1, 1), (2, 2))):
        layer = keras.layers.Conv2D(4, kernel, strides=strides, dilation_rate=dilation, padding="same")
        expected = np.asarray(layer(x))
        kernel_weights, bias = (np.asarray(w) for w in layer.weights)
        padded = namespace["pad_same"](torch.from_numpy(x).permute(0, 3, 1, 2), kernel, strides, dilation)
        weight = torch.from_numpy(kernel_weights).permute(3, 2, 0, 1)
        actual = F.conv2d(padded, weight, torch.from_numpy(bias), stride=strides, dilation=dilation)
        np.testing.assert_allclose(actual.permute(0, 2, 3, 1).numpy(), expected, atol=1e-5)
    # Max pooling pads with -inf (the padding never wins).
    for pool, strides in (((2, 2), (2, 2)), ((3, 3), (2, 2)), ((3, 2), (2, 1))):
        expected = np.asarray(keras.layers.MaxPooling2D(pool, strides, padding="same")(x - 10.0))
        padded = namespace["pad_same"](torch.from_numpy(x - 10.0).permute(0, 3, 1, 2), pool, strides, (1, 1), float("-inf"))
        actual = F.max_pool2d(padded, pool, strides)
        np.testing.assert_allclose(actual.permute(0, 2, 3, 1).numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("init", ["glorot_normal", "he_normal", "lecun_normal", "he_uniform"])
@pytest.mark.parametrize("layer", ["layers.Dense(units, kernel_initializer={init!r})",
                                   "layers.Conv1D(units, 5, kernel_initializer={init!r})"])
def test_initialiser_std_matches_keras_for_sizes_known_at_run_time(layer, init):
    # units is computed when the program runs: the fans are read from the torch weight.
    source = (
        "import numpy as np\nimport keras\nfrom keras import layers\n\nunits = len(np.zeros(96))\n"
        f"model = keras.Sequential([keras.Input((50, 64)), {layer.format(init=init)}])\n"
    )
    result = translate(source)
    assert not result.diagnostics, result.diagnostics
    namespace = {}
    exec(source, namespace)
    keras_weight = namespace["model"].layers[0].weights[0].numpy()
    torch.manual_seed(0)
    module = _run(result.code)["model"]
    torch_weight = next(module.parameters()).detach().numpy()
    assert torch_weight.size == keras_weight.size
    assert torch_weight.std() == pytest.approx(keras_weight.std(), rel=0.05), result.code
    assert np.abs(torch_weight).max() <= np.abs(keras_weight).max() * 1.05 + 1e-6


@pytest.mark.parametrize("name", [
    None, "linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "softsign", "swish", "silu",
    "gelu", "relu6", "leaky_relu", "hard_sigmoid", "exponential",
])
def test_keras_activation_helper_is_keras_activations_get(name):
    import keras

    namespace: dict = {}
    exec("import torch\nimport torch.nn.functional as F\nfrom torch import nn\n" + snippets.code({"keras_activation"}), namespace)
    x = np.linspace(-4, 4, 24, dtype="float32").reshape(3, 8)
    ours = namespace["keras_activation"](name)(torch.from_numpy(x)).numpy()
    theirs = keras.ops.convert_to_numpy(keras.activations.get(name)(x))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [
    None, "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
    "random_uniform", "random_normal", "truncated_normal", "zeros", "ones", "GlorotNormal", "HeUniform",
])
@pytest.mark.parametrize("shape", [(40, 30), (3, 3, 16, 8), (4000,)])
def test_keras_init_helper_draws_like_keras_initializers_get(name, shape):
    """keras_init_ (a run-time initializer name given to add_weight) against Keras's initializer:
    the same spread and bounds for Keras's kernel layout and fans."""
    import keras

    namespace: dict = {}
    exec("import torch\nfrom torch import nn\n" + snippets.code({"keras_init_"}), namespace)
    torch.manual_seed(0)
    keras.utils.set_random_seed(0)
    ours = namespace["keras_init_"](torch.empty(shape), name).numpy()
    theirs = keras.ops.convert_to_numpy(keras.initializers.get(name or "glorot_uniform")(shape))
    if theirs.std() == 0:
        np.testing.assert_array_equal(ours, theirs)
        return
    assert ours.std() == pytest.approx(theirs.std(), rel=0.2)
    if name != "random_normal":  # bounded draws (uniform, or truncated at 2 std): the same bound
        assert np.abs(ours).max() <= np.abs(theirs).max() * 1.2 and np.abs(ours).max() >= np.abs(theirs).max() * 0.7


@pytest.mark.parametrize("name", ["glorot_uniform", "he_normal", "lecun_uniform", "orthogonal"])
def test_lazy_modules_start_from_keras_initializers(name):
    """keras_init_lazy: once the first batch sizes a lazy Linear, Conv2d or ConvTranspose2d, its
    weight is drawn as Keras draws the kernel (Keras's layout and fans), its bias as asked."""
    import keras
    from torch import nn

    namespace: dict = {}
    exec("import torch\nfrom torch import nn\n" + snippets.code({"keras_init_lazy"}), namespace)
    torch.manual_seed(0)
    cases = [
        (nn.LazyLinear(300), torch.zeros(2, 200), (200, 300)),
        (nn.LazyConv2d(64, 3), torch.zeros(1, 32, 8, 8), (3, 3, 32, 64)),
        (nn.LazyConvTranspose2d(64, 3), torch.zeros(1, 32, 8, 8), (3, 3, 64, 32)),
    ]
    for module, batch, keras_shape in cases:
        namespace["keras_init_lazy"](module, name, "ones")
        module(batch)
        theirs = keras.ops.convert_to_numpy(keras.initializers.get(name)(keras_shape))
        assert module.weight.detach().std().item() == pytest.approx(float(theirs.std()), rel=0.05), module
        assert bool((module.bias == 1).all())
        assert not module._forward_pre_hooks  # it ran once and left


@pytest.mark.parametrize("init", [
    "keras.initializers.RandomNormal(stddev=0.02)",
    "keras.initializers.RandomNormal(0.5, 0.1)",
    "keras.initializers.TruncatedNormal(mean=0.1, stddev=0.02)",
    "keras.initializers.RandomUniform(-0.2, 0.3)",
    "keras.initializers.Constant(0.25)",
    "keras.initializers.VarianceScaling(scale=2.0, mode='fan_out', distribution='uniform')",
    "keras.initializers.VarianceScaling(mode='fan_avg', distribution='untruncated_normal')",
    "keras.initializers.Orthogonal(gain=2.0)",
    "tf.random_normal_initializer(stddev=0.3)",
    "tf.constant_initializer(-1.5)",
])
@pytest.mark.parametrize("layer", ["layers.Dense(96, kernel_initializer={init})",
                                   "layers.Conv1D(96, 5, kernel_initializer={init})"])
def test_initializer_objects_with_arguments_draw_like_keras(layer, init):
    """An initializer made with arguments keeps them (a RandomNormal(stddev=0.02) once came out
    as Keras's default std, 0.05): mean, spread and bounds as Keras's draw."""
    source = (
        "import tensorflow as tf\nimport keras\nfrom keras import layers\n\n"
        f"model = keras.Sequential([keras.Input((50, 64)), {layer.format(init=init)}])\n"
    )
    result = translate(source)
    assert not result.diagnostics, result.diagnostics
    namespace = {}
    exec(source, namespace)
    keras_weight = namespace["model"].layers[0].weights[0].numpy()
    torch.manual_seed(0)
    module = _run(result.code)["model"]
    torch_weight = next(module.parameters()).detach().numpy()
    assert torch_weight.size == keras_weight.size
    assert torch_weight.mean() == pytest.approx(keras_weight.mean(), abs=0.01), result.code
    assert torch_weight.std() == pytest.approx(keras_weight.std(), rel=0.05, abs=1e-7), result.code
    if any(bounded in init for bounded in ("Uniform", "'uniform'", "Truncated", "onstant")):
        assert np.abs(torch_weight).max() <= np.abs(keras_weight).max() * 1.05 + 1e-6
