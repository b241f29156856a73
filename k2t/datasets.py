"""tf.data pipelines over arrays, read as the arrays they batch.

`ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1024).batch(32)` followed by `model.fit(ds)`
is, for Keras, `model.fit(x, y, batch_size=32, shuffle=True)`: the dataset yields the same batches
(tf.data keeps the last, smaller batch, as fit does). The translation reads such a pipeline
statically and gives the model methods its arrays, so that the loops k2t writes for arrays serve it
(nothing of tf.data is left in the output). Read: from_tensor_slices of x, (x, y) or
(x, y, sample_weight), in one expression or over several assignments (`ds = ds.batch(32)`), then
shuffle() before batch(), batch() without drop_remainder, and prefetch()/cache(), which change no
value. Anything else (map, repeat, a shuffle of batches, ...) leaves the pipeline, and the calls
given it, to a human with the reason.

Documented difference: tf.data shuffles through a buffer of buffer_size elements; the loops draw a
full permutation each epoch (the same when the buffer holds the whole dataset, the usual case).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import libcst as cst

from k2t import cstwalk
from k2t.values import code_of

FROM_ARRAYS = "tf.data.Dataset.from_tensor_slices"
_NO_VALUE_CHANGE = ("prefetch", "cache")


@dataclass
class Dataset:
    """What a tf.data pipeline of arrays is, as fit/evaluate/predict arguments."""

    var: str
    statements: list[cst.SimpleStatementLine] = field(default_factory=list)
    x: cst.BaseExpression | None = None
    y: cst.BaseExpression | None = None
    sample_weight: cst.BaseExpression | None = None
    batch_size: cst.BaseExpression | None = None
    shuffle_buffer: cst.BaseExpression | None = None  # shuffle(buffer_size) before batch()
    problem: str | None = None  # why the pipeline is not read as arrays

    @property
    def names(self) -> set[str]:
        """The names its arrays read (rebinding one of them changes the dataset's meaning)."""
        found = set()
        for node in (self.x, self.y, self.sample_weight):
            if node is not None:
                found |= {n.value for n in cstwalk.iter_nodes(node) if isinstance(n, cst.Name)}
        return found

    def refuse(self, reason: str) -> "Dataset":
        self.problem = self.problem or reason
        return self

    def comment(self) -> list[str]:
        """Where the pipeline went, as comment lines for the place it was made."""
        arrays = ", ".join(code_of(n) for n in (self.x, self.y, self.sample_weight) if n is not None)
        order = "shuffled each epoch" if self.shuffle_buffer is not None else "in order"
        text = (
            f"{self.var}, a tf.data pipeline over ({arrays}) in batches of {code_of(self.batch_size)}, {order}: "
            "the loops below take these arrays."
        )
        if self.shuffle_buffer is not None:
            text += (
                f" (tf.data shuffled through a buffer of {code_of(self.shuffle_buffer)} elements; the loops"
                " draw a full permutation.)"
            )
        return ["# " + line for line in textwrap.wrap(text, 96)]


def read_pipeline(value: cst.BaseExpression, key_of, known: dict[str, Dataset], var: str) -> Dataset | None:
    """The Dataset an assignment's value builds, or None when it is no tf.data pipeline of arrays
    (key_of: the resolver's canonical key of a function; known: pipelines bound to names so far)."""
    methods: list[cst.Call] = []
    node = value
    while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and key_of(node.func) != FROM_ARRAYS:
        methods.append(node)
        node = node.func.value
    if isinstance(node, cst.Name) and node.value in known and methods:
        base = known[node.value]
        dataset = Dataset(var, list(base.statements), base.x, base.y, base.sample_weight, base.batch_size,
                          base.shuffle_buffer, base.problem)
    elif isinstance(node, cst.Call) and key_of(node.func) == FROM_ARRAYS:
        dataset = Dataset(var)
        _read_arrays(dataset, node)
    else:
        return None
    for call in reversed(methods):
        _apply(dataset, call)
    return dataset


def _read_arrays(dataset: Dataset, call: cst.Call) -> None:
    if len(call.args) != 1 or call.args[0].keyword is not None or call.args[0].star:
        dataset.refuse("from_tensor_slices() with other arguments than the arrays")
        return
    tensors = call.args[0].value
    if isinstance(tensors, cst.Tuple) and 1 <= len(tensors.elements) <= 3:
        parts = [e.value for e in tensors.elements]
        if any(isinstance(e, cst.StarredElement) for e in tensors.elements):
            dataset.refuse("a starred element in from_tensor_slices()")
            return
        dataset.x, dataset.y, dataset.sample_weight = (parts + [None, None])[:3]
    else:  # one array, or a dict of named inputs
        dataset.x = tensors


def _apply(dataset: Dataset, call: cst.Call) -> None:
    method = call.func.attr.value
    arguments = {a.keyword.value if a.keyword else i: a.value for i, a in enumerate(call.args)}
    if method in _NO_VALUE_CHANGE:
        return
    if method == "shuffle":
        dataset.shuffle_buffer = arguments.get(0, arguments.get("buffer_size"))
        if dataset.batch_size is not None:
            dataset.refuse("shuffle() after batch() shuffles whole batches, which the loops do not")
        elif dataset.shuffle_buffer is None or set(arguments) - {0, "buffer_size"}:
            dataset.refuse("shuffle() with other arguments than buffer_size (a seed, ...) is not read")
        return
    if method == "batch" and (0 in arguments or "batch_size" in arguments):
        if dataset.batch_size is not None:
            dataset.refuse("a dataset batched twice")
            return
        dataset.batch_size = arguments.get(0, arguments.get("batch_size"))
        remainder = arguments.get(1, arguments.get("drop_remainder"))
        if remainder is not None and not (isinstance(remainder, cst.Name) and remainder.value == "False"):
            dataset.refuse("batch(drop_remainder=...) drops the last batch, which fit() on arrays keeps")
        if set(arguments) - {0, 1, "batch_size", "drop_remainder"}:
            dataset.refuse("batch() with more arguments than batch_size and drop_remainder")
        return
    dataset.refuse(f".{method}() on a dataset has no translation yet")


def expand(method: str, args: dict, datasets: dict[cst.BaseExpression, Dataset]) -> tuple[dict, str | None]:
    """fit/evaluate/predict arguments with each dataset (keyed by the argument node) given as its
    arrays, or the reason a dataset argument cannot be."""
    args = dict(args)
    x = args.get("x")
    if x in datasets:
        dataset = datasets[x]
        what = dataset.var or "the dataset"
        if dataset.problem:
            return args, f"{what}: {dataset.problem}"
        if dataset.batch_size is None:
            return args, f"{what} is not batched: Keras would take each element as a batch"
        if "y" in args or "batch_size" in args:
            return args, f"{method}() given a dataset and y= or batch_size= (Keras refuses it)"
        args["x"] = dataset.x
        if dataset.y is not None and method != "predict":
            args["y"] = dataset.y
        if dataset.sample_weight is not None and method != "predict":
            args["sample_weight"] = dataset.sample_weight
        args["batch_size"] = dataset.batch_size
        if method == "fit":  # Keras ignores fit(shuffle=) for a dataset: the pipeline decides
            args["shuffle"] = cst.Name("True" if dataset.shuffle_buffer is not None else "False")
    validation = args.get("validation_data")
    if validation in datasets:
        dataset = datasets[validation]
        if dataset.problem or dataset.y is None:
            return args, f"{dataset.var or 'the dataset'}: {dataset.problem or 'a validation dataset without targets'}"
        arrays = [dataset.x, dataset.y] + ([dataset.sample_weight] if dataset.sample_weight is not None else [])
        args["validation_data"] = cst.Tuple([cst.Element(a) for a in arrays])
    return args, None
