"""keras.datasets loaders: the translation reads the same files into the same arrays as Keras.

No network here: synthetic files in the layout Keras downloads are put in a temporary cache, and
Keras's own loaders read the same files (its download step pointed at them)."""

from __future__ import annotations

import gzip
import os
import pickle
import tarfile

import numpy as np
import pytest

from k2t import snippets, translate


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    folder = tmp_path / ".keras" / "datasets"
    folder.mkdir(parents=True)
    return folder


def _loader(name: str):
    namespace: dict = {}
    imports = (
        "import gzip\nimport io\nimport os\nimport pickle\nimport tarfile\nimport urllib.request\nimport zipfile\n"
        "import numpy as np\n"
    )
    exec(imports + snippets.code({name}), namespace)  # noqa: S102 - the helpers the output copies
    return namespace[name]


def _same(ours, theirs):
    for a, b in zip(np.asarray(ours, dtype=object).ravel(), np.asarray(theirs, dtype=object).ravel()):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def _point_keras_at(monkeypatch, module, path):
    monkeypatch.setattr(module, "get_file", lambda *args, **kwargs: str(path))


def test_mnist(cache, monkeypatch):
    from keras.src.datasets import mnist

    rng = np.random.default_rng(0)
    arrays = {k: rng.integers(0, 255, size=s).astype("uint8") for k, s in
              [("x_train", (6, 28, 28)), ("y_train", (6,)), ("x_test", (4, 28, 28)), ("y_test", (4,))]}
    np.savez(cache / "mnist.npz", **arrays)
    _point_keras_at(monkeypatch, mnist, cache / "mnist.npz")
    ours = _loader("load_mnist")()
    _same([*ours[0], *ours[1]], [*mnist.load_data()[0], *mnist.load_data()[1]])


def test_fashion_mnist(cache, monkeypatch):
    from keras.src.datasets import fashion_mnist

    folder = cache / "fashion-mnist"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for split, count in (("train", 5), ("t10k", 3)):
        labels = rng.integers(0, 10, count).astype("uint8")
        images = rng.integers(0, 255, (count, 28, 28)).astype("uint8")
        (folder / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\0" * 8 + labels.tobytes()))
        (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\0" * 16 + images.tobytes()))
    monkeypatch.setattr(fashion_mnist, "get_file", lambda fname, **kwargs: str(folder / fname))
    ours, theirs = _loader("load_fashion_mnist")(), fashion_mnist.load_data()
    _same([*ours[0], *ours[1]], [*theirs[0], *theirs[1]])


def test_cifar10(cache, monkeypatch, tmp_path):
    from keras.src.datasets import cifar10

    source = tmp_path / "build" / "cifar-10-batches-py"
    source.mkdir(parents=True)
    rng = np.random.default_rng(2)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 255, (10000, 3072)).astype("uint8"),
                 b"labels": [int(v) for v in rng.integers(0, 10, 10000)]}
        (source / name).write_bytes(pickle.dumps(batch, protocol=3))
    with tarfile.open(cache / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(source, arcname="cifar-10-batches-py")
    _point_keras_at(monkeypatch, cifar10, source.parent)
    ours, theirs = _loader("load_cifar10")(), cifar10.load_data()
    _same([*ours[0], *ours[1]], [*theirs[0], *theirs[1]])


def test_cifar10_files_cannot_run_code(cache):
    folder = cache / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": print}))
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        _loader("load_cifar10")()


def test_boston_housing(cache, monkeypatch):
    from keras.src.datasets import boston_housing

    rng = np.random.default_rng(3)
    np.savez(cache / "boston_housing.npz", x=rng.normal(size=(50, 13)), y=rng.normal(size=(50,)))
    _point_keras_at(monkeypatch, boston_housing, cache / "boston_housing.npz")
    for options in ({}, {"test_split": 0.3, "seed": 7}):
        ours, theirs = _loader("load_boston_housing")(**options), boston_housing.load_data(**options)
        _same([*ours[0], *ours[1]], [*theirs[0], *theirs[1]])


def _ragged(rng, count, longest=30, vocabulary=60):
    out = np.empty(count, dtype=object)
    for i in range(count):
        out[i] = [int(w) for w in rng.integers(1, vocabulary, rng.integers(0, longest))]
    return out


@pytest.mark.parametrize(
    "options",
    [{}, {"num_words": 20}, {"num_words": 20, "skip_top": 5, "maxlen": 20}, {"oov_char": None, "num_words": 15},
     {"start_char": None, "index_from": 0, "seed": 4, "num_words": 30}],
)
def test_imdb(cache, monkeypatch, options):
    from keras.src.datasets import imdb

    rng = np.random.default_rng(4)
    np.savez(cache / "imdb.npz", x_train=_ragged(rng, 40), y_train=rng.integers(0, 2, 40),
             x_test=_ragged(rng, 30), y_test=rng.integers(0, 2, 30))
    _point_keras_at(monkeypatch, imdb, cache / "imdb.npz")
    ours, theirs = _loader("load_imdb")(**options), imdb.load_data(**options)
    for (x, y), (keras_x, keras_y) in zip(ours, theirs):
        assert x.dtype == keras_x.dtype == object and list(map(list, x)) == list(map(list, keras_x))
        assert np.array_equal(y, keras_y) and y.dtype == keras_y.dtype


@pytest.mark.parametrize(
    "options",
    [{}, {"maxlen": 10}, {"maxlen": 10, "padding": "post", "truncating": "post"}, {"value": -1, "dtype": "int64"},
     {"maxlen": 12, "truncating": "pre", "padding": "post", "dtype": "float32", "value": 0.5}],
)
def test_pad_sequences(options):
    import keras

    sequences = [list(s) for s in _ragged(np.random.default_rng(5), 25)]
    expected = keras.utils.pad_sequences(sequences, **options)
    actual = _loader("pad_sequences")(sequences, **options)
    assert actual.dtype == expected.dtype and np.array_equal(actual, expected)


def test_pad_sequences_is_translated():
    source = "from tensorflow.keras.preprocessing.sequence import pad_sequences\nx = pad_sequences([[1, 2]], maxlen=4)\n"
    result = translate(source)
    assert not result.diagnostics and "x = pad_sequences([[1, 2]], maxlen=4)" in result.code
    assert "def pad_sequences" in result.code and "keras" not in result.code.split("def ")[0]


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "boston_housing", "imdb"])
def test_load_data_is_translated(name):
    result = translate(f"from tensorflow import keras\n(x, y), (xt, yt) = keras.datasets.{name}.load_data()\n")
    assert not result.diagnostics
    assert f"(x, y), (xt, yt) = load_{name}()" in result.code and "keras" not in result.code.split("def ")[0]


def test_get_file_caches_where_keras_does(tmp_path, cache):
    import keras

    source = tmp_path / "remote" / "table.csv"
    source.parent.mkdir()
    source.write_text("a,b\n1,2\n", encoding="utf-8")
    get_file = _loader("get_file")
    ours = get_file("table.csv", origin=source.as_uri())
    assert ours == str(cache / "table.csv") and open(ours, encoding="utf-8").read() == "a,b\n1,2\n"
    # Keras reads its home folder once, when it is imported: compare both under one cache_dir.
    keras_home = str(tmp_path / "keras_home")
    os.mkdir(keras_home)  # Keras falls back to /tmp/.keras for a cache_dir it cannot write to
    theirs = keras.utils.get_file("table.csv", origin=source.as_uri(), cache_dir=keras_home)
    assert get_file("table.csv", origin=source.as_uri(), cache_dir=keras_home) == theirs
    # The name from the URL where fname is not given; another cache folder.
    source.write_text("x", encoding="utf-8")
    theirs = keras.utils.get_file(origin=source.as_uri(), cache_subdir="other", cache_dir=keras_home)
    assert get_file(origin=source.as_uri(), cache_subdir="other", cache_dir=keras_home) == theirs
    assert theirs == str(tmp_path / "keras_home" / "other" / "table.csv")


def test_get_file_honours_keras_home(tmp_path, cache, monkeypatch):
    source = tmp_path / "table.csv"
    source.write_text("a", encoding="utf-8")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "shared"))
    assert _loader("get_file")(origin=source.as_uri()) == str(tmp_path / "shared" / "datasets" / "table.csv")


def test_get_file_that_extracts_or_checks_a_hash_is_left_for_a_human():
    source = 'import keras\npath = keras.utils.get_file("a.csv", "https://e.org/a.csv")\n'
    result = translate(source)
    assert not result.errors and 'path = get_file("a.csv", "https://e.org/a.csv")' in result.code
    for extra in ("extract=True", "file_hash='0' * 64", "untar=True"):
        result = translate(source.replace('a.csv")', f'a.csv", {extra})'))
        assert [(d.code, d.line) for d in result.errors] == [("K2T501", 2)], extra
        assert "keras.utils.get_file(" in result.code
