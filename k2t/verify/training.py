"""verify --train-steps N: train both models N steps on the same batches and compare every step.

Keras side: the program's own compile() (and the optimizer/loss objects and literal constants it
reads), then per step Keras's train_step: model(x, training=True), model.compute_loss, the gradient
tape, optimizer.apply_gradients. Torch side: TORCH.py's own data path and training code, i.e. its
prepare_inputs/prepare_targets on the same Keras-format arrays, its optimizer and loss statements
and its train_one_epoch called on one batch (one optimizer step); where TORCH.py lacks one of
these, the translation's version is used and the report says so.

Compared per step: the loss, every gradient and every weight (and BatchNorm statistic), all through
the weight-transfer rules: Keras gradients and trained weights go through the same transfer as the
initial weights, so converter and verifier cannot disagree on which torch tensor is which Keras one.

Tolerances (elementwise; atol/rtol are verify's, 1e-5/1e-4 by default; both sides compute in float32):
  loss:      |t - k| <= atol + rtol * |k|.
  gradient:  |t - k| <= atol * G + rtol * |k|, G the largest |k| of the model's gradients: float32
             rounding in a backward pass is relative to the values flowing through it, not to each
             gradient, which may cancel to almost nothing (to nothing at all for a bias before
             BatchNorm, where both sides are left with rounding noise). Measured on the fixtures: at
             most 0.66 of this tolerance with G per tensor; 4x over it for a bias before BatchNorm.
             torch's gradients are taken at Keras's weights of the step (its training step run on a
             copy of the model with an optimizer that does not step), so the earlier steps'
             rounding does not enter them.
  weights:   |t - k| <= atol * max(P) + B + 2 * step * eps32 * |k|. The weights' own size says
             nothing about training: the updates are compared, relative to their size. Per element,
             P sums the sizes of the updates (the larger of Keras's and torch's, each step); B sums
             each step's update size times rtol, plus the tensor's largest update of the step times
             2r, r the largest relative difference of that element's gradients so far in the two
             runs (each at its own weights), at most 1: an optimizer that normalises (Adam) turns a
             gradient at rounding level into a full step, and where its momentum cancels, an
             element's update may differ by the drift of its gradient times a full step.
             The last term is the rounding of the stored float32 weights. An optimizer's epsilon
             changes updates by far more than rtol wherever gradients are small (torch's Adam in
             place of Keras's: 3e-3 of the update where gradients are 1e-3).
  BatchNorm running_var: torch updates it with the unbiased batch variance (n / (n - 1)), Keras with
             the biased one. The check predicts torch's value from Keras's exactly:
             t_s = m * t_(s-1) + (k_s - m * k_(s-1)) * n / (n - 1), m Keras's momentum, n the values
             per channel in the batch, and compares it with the weights' tolerance.
  A bias whose module feeds a BatchNorm directly has a zero gradient in exact arithmetic (the batch
             mean is subtracted): both sides hold rounding noise (9x the gradient tolerance on a
             keras.io-style CNN), which Adam turns into full steps. Its gradient is not compared,
             and each update may differ by its full size (a note names it); the BatchNorm's
             running_mean is predicted from Keras's with the biases' difference, as running_var is.
  Max pooling routes each window's gradient to its largest value. Where two values of a window
             differ by less than the forward tolerance (atol of the input's largest, found by a hook), either
             side may pick the other, and the gradients upstream differ by far more than rounding
             (1.6% to 5.7% in L2 on a keras.io-style CNN, 3 steps in 10). At such a step a tensor
             whose elements are off tolerance passes when its L2 difference is within ROUTED (10%)
             of its L2 size; a note names the steps.
Dropout is made deterministic: rate 0 on Keras's Dropout-like layers and RNN cells, p=0 on torch's
dropout modules and RNN dropout, and torch.randn_like returning zeros (GaussianNoise/Dropout).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import re

import numpy as np
import torch

from k2t.verify.compare import keras_layers, keras_weight_names, mapped_weights, sample_inputs

TRAIN_BATCH = 8
EPS32 = float(np.finfo(np.float32).eps)


SPARSE_NOTE = (
    "Keras's gradient of this weight is sparse (tf.IndexedSlices, as an Embedding's is) with rows repeated "
    "in the batch; Keras 3's Adam, AdamW, Nadam, RMSprop, Adagrad and Adamax (TensorFlow backend) then take "
    "the square (Adamax: the absolute value) of each repeated row, not of their sum, which a torch optimizer "
    "does only from a sparse gradient with the same rows (k2t's Keras* optimizers with nn.Embedding(sparse=True))"
)


class TrainingFailed(Exception):
    """A side could not train; args: (quantity, message)."""


# -- data ------------------------------------------------------------------------------------
def sample_labels(loss_key: str, out_shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """Labels in Keras's format for the loss: class indices (sparse), one-hot (categorical), 0/1
    (binary), floats (regression); a trailing output axis of 1 is left out, as programs do."""
    classes = int(out_shape[-1])
    if loss_key == "sparse_categorical_crossentropy":
        return rng.integers(0, classes, out_shape[:-1]).astype("int64")
    if loss_key == "categorical_crossentropy":
        return np.eye(classes, dtype="float32")[rng.integers(0, classes, out_shape[:-1])]
    shape = out_shape[:-1] if len(out_shape) >= 2 and classes == 1 else out_shape
    if loss_key == "binary_crossentropy":
        return rng.integers(0, 2, shape).astype("float32")
    return rng.standard_normal(shape).astype("float32")


# -- determinism -----------------------------------------------------------------------------
def keras_without_dropout(keras_model) -> list[str]:
    from keras import layers as L
    from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

    changed = []
    for layer in keras_model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, (L.Dropout, L.GaussianDropout, L.AlphaDropout)) and layer.rate:
            layer.rate = 0.0
            changed.append(layer.name)
        elif isinstance(layer, L.GaussianNoise) and layer.stddev:
            layer.stddev = 0.0
            changed.append(layer.name)
        elif isinstance(layer, (L.Attention, L.AdditiveAttention, L.MultiHeadAttention)) and layer.dropout:
            if isinstance(layer, L.MultiHeadAttention):  # a read-only property over its Dropout layer
                layer._dropout = layer._dropout_layer.rate = 0.0
            else:
                layer.dropout = 0.0  # on the attention weights
            changed.append(layer.name)
        elif isinstance(layer, DropoutRNNCell) and (layer.dropout or layer.recurrent_dropout):
            layer.dropout = layer.recurrent_dropout = 0.0
            changed.append(layer.name)
        elif isinstance(layer, _keras_augmentation()):  # the identity transform, drawn or not
            layer.transform_images = lambda images, transformation, training=True: images
            changed.append(layer.name)
        elif isinstance(layer, L.RandomCrop):  # the top-left window, as the torch side below
            layer.get_random_transformation = lambda data, training=True, seed=None: (0, 0)
            changed.append(layer.name)
    return changed


def _keras_augmentation() -> tuple:
    from keras import layers as L

    return (L.RandomFlip, L.RandomRotation, L.RandomZoom, L.RandomTranslation, L.RandomContrast, L.RandomBrightness)


# The output's augmentation helpers (rules/snippets.py), made the identity as Keras's are above.
_TORCH_AUGMENTATION = {
    **dict.fromkeys(
        ("random_flip", "random_rotation", "random_zoom", "random_translation", "random_contrast", "random_brightness"),
        lambda x, *args, **kwargs: x,
    ),
    "random_crop": lambda x, height, width: x[..., :height, :width],
}


# The output's attention modules (rules/snippets.py): dropout on the attention weights, F.dropout
# with their float `dropout`.
_TORCH_ATTENTION = ("MultiHeadAttention", "DotAttention", "AdditiveAttention")


def torch_without_dropout(torch_model) -> list[str]:
    changed = []
    for name, module in torch_model.named_modules():
        if isinstance(module, torch.nn.modules.dropout._DropoutNd) and module.p:
            module.p = 0.0
            changed.append(name)
        elif isinstance(module, torch.nn.RNNBase) and module.dropout:
            module.dropout = 0.0
            changed.append(name)
        elif type(module).__name__ in _TORCH_ATTENTION and module.dropout:  # rules/snippets.py's modules
            module.dropout = 0.0
            changed.append(name)
    names = type(torch_model).forward.__globals__  # the translated file's namespace
    for helper, identity in _TORCH_AUGMENTATION.items():
        if helper in names:
            names[helper] = identity
            changed.append(helper)
    return changed


@contextlib.contextmanager
def _noise_free():
    """GaussianNoise/GaussianDropout are written inline with torch.randn_like: draw zeros."""
    original = torch.randn_like
    torch.randn_like = lambda x, **kwargs: torch.zeros_like(x, dtype=kwargs.get("dtype"), device=kwargs.get("device"))
    try:
        yield
    finally:
        torch.randn_like = original


ROUTED = 0.1  # the relative L2 gradient difference allowed at a step with near-tied max pooling

# -- the torch side --------------------------------------------------------------------------
@contextlib.contextmanager
def _removed(hooks: list):
    try:
        yield
    finally:
        for handle in hooks:
            handle.remove()


class _NoStep:
    """The program's optimizer for a training step that only computes gradients."""

    def __init__(self, optimizer):
        self.param_groups = getattr(optimizer, "param_groups", [])

    def zero_grad(self, set_to_none: bool = True) -> None:
        pass

    def step(self, closure=None) -> None:
        pass


class TorchSide:
    """TORCH.py's training code bound to the torch model; `used` says where each piece came from."""

    def __init__(self, report, torch_source, torch_ns: dict, torch_model):
        self.model = torch_model
        # The generated functions read the module-level `device` (not a literal: never executed).
        self.ns = torch_ns
        self.ns["device"] = torch.device("cpu")
        self.used: list[str] = []
        loops, compiled = report.loops, report.compiled
        self.loops = loops
        own, fallback = [], []
        for base in ("prepare_inputs", "prepare_targets", "train_one_epoch"):
            name = base + loops.suffix
            if not callable(torch_ns.get(name)):
                self.ns.setdefault("np", np)  # what k2t's own functions need
                self.ns.setdefault("torch", torch)
                exec(compile(getattr(loops, base)(), f"<k2t's {name}>", "exec"), self.ns)  # noqa: S102
                fallback.append(name)
            else:
                own.append(name)
            setattr(self, base, self.ns[name])
        if own:
            self.used.append(f"{', '.join(own)} (its own)")
        if fallback:
            self.used.append(f"k2t's {', '.join(fallback)} (the file defines none)")
        self.optimizer = self._object(torch_source, compiled.optimizer_name, "optimizer",
                                      compiled.optimizer_code.replace("{parameters}", "__model__.parameters()"))
        self.loss_fn = self._object(torch_source, compiled.loss_name, "loss", compiled.loss.code)
        self.shuffle = "shuffle" in inspect.signature(self.train_one_epoch).parameters

    def _object(self, torch_source, name: str, what: str, fallback: str):
        found = _assignment(torch_source, name)
        namespace = dict(self.ns, __model__=self.model)
        if found is not None:
            code, line = found
            for receiver in set(re.findall(r"(\w+)\.parameters\(\)", code)):
                namespace[receiver] = self.model
            try:
                value = eval(code, namespace)  # noqa: S307 - verify runs the program's code by design
            except NameError as exc:
                self.used.append(f"k2t's {what} (line {line} reads {exc.name}, unknown before run time)")
            else:
                self.used.append(f"line {line} ({what})")
                return value
        else:
            self.used.append(f"k2t's {what} `{fallback.replace('__model__', 'model')}` (the file assigns no {name})")
        try:
            return eval(fallback, namespace)  # noqa: S307
        except NameError as exc:
            raise TrainingFailed("torch setup", f"the {what} needs {exc.name}, which {torch_source.path} does not define") from None

    def step(self, xs: list[np.ndarray], y: np.ndarray) -> float:
        try:
            inputs = self.prepare_inputs(xs if len(xs) > 1 else xs[0])
        except Exception as exc:  # noqa: BLE001
            raise TrainingFailed("torch step", f"prepare_inputs failed: {type(exc).__name__}: {exc}") from None
        self.input_problem = _changed_inputs(inputs, xs, self.loops.inputs)
        try:
            targets = self.prepare_targets(y)
        except Exception as exc:  # noqa: BLE001
            raise TrainingFailed("torch step", f"prepare_targets failed: {type(exc).__name__}: {exc}") from None
        # A model with several outputs: a list of labels, a tuple of tensors.
        pairs = zip(targets, y) if isinstance(y, list) and isinstance(targets, (tuple, list)) else [(targets, y)]
        for tensor, labels in pairs:
            if self.input_problem is not None or not isinstance(tensor, torch.Tensor):
                continue
            values = tensor.detach().cpu().numpy()
            if values.size != labels.size or np.abs(values.astype("float64").ravel() - labels.astype("float64").ravel()).max(initial=0.0):
                self.input_problem = (f"prepare_targets changed the labels ({_describe(tensor)} from Keras "
                                      f"{labels.dtype} {labels.shape}): they hold other values")
        extra = {"shuffle": False} if self.shuffle else {}
        try:
            with _noise_free():
                logs = self.train_one_epoch(self.model, self.optimizer, self.loss_fn, inputs, targets, _samples(y), **extra)
        except Exception as exc:  # noqa: BLE001
            raise TrainingFailed(
                "torch step",
                f"the training step failed: {type(exc).__name__}: {exc} (prepare_inputs gave {_describe(inputs)}; "
                f"prepare_targets gave {_describe(targets)})" + (f"; {self.input_problem}" if self.input_problem else ""),
            ) from None
        return float(logs["loss"])

    def gradients_at(self, state: dict[str, np.ndarray], xs: list[np.ndarray], y: np.ndarray,
                     tie_tolerance: float) -> tuple[dict[str, np.ndarray], int]:
        """The gradients the program's training step computes at the given weights (Keras's, this
        step) on the same batch: a copy of the model, an optimizer that does not step. With them,
        the max-pooling windows of that pass whose maxima tie within tie_tolerance (_tied)."""
        model = copy.deepcopy(self.model)
        tied, hooks = _near_tied_windows(model, tie_tolerance)
        tensors = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
        model.load_state_dict(tensors, strict=False)
        for parameter in model.parameters():
            parameter.grad = None
        extra = {"shuffle": False} if self.shuffle else {}
        with _noise_free(), _removed(hooks):
            self.train_one_epoch(model, _NoStep(self.optimizer), self.loss_fn, self.prepare_inputs(xs if len(xs) > 1 else xs[0]),
                                 self.prepare_targets(y), _samples(y), **extra)
        return self.gradients(model), sum(tied)

    def gradients(self, model=None) -> dict[str, np.ndarray]:
        out = {}
        for name, parameter in (model or self.model).named_parameters():
            grad = parameter.grad
            if grad is not None and grad.is_sparse:  # nn.Embedding(sparse=True): repeated rows add up
                grad = grad.to_dense()
            out[name] = np.zeros(tuple(parameter.shape), "float32") if grad is None else grad.detach().cpu().numpy()
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()}


def _samples(y) -> int:
    """The batch's size: y is the labels, or a list of them for a model with several outputs."""
    return len(y[0]) if isinstance(y, list) else len(y)


def _changed_inputs(prepared, arrays, specs) -> str | None:
    """What prepare_inputs changed besides the layout: Keras's model reads the arrays as they are."""
    tensors = list(prepared) if isinstance(prepared, (tuple, list)) else [prepared]
    if len(tensors) != len(arrays) or not all(isinstance(t, torch.Tensor) for t in tensors):
        return None
    for tensor, array, spec in zip(tensors, arrays, specs):
        value = tensor.detach().cpu().numpy()
        if spec.channels_first and value.ndim >= 3:
            value = np.moveaxis(value, 1, -1)
        if value.shape != array.shape:
            return f"prepare_inputs gave {spec.var} the shape {value.shape} for a Keras array {array.shape}"
        differs = np.abs(value.astype("float64") - array.astype("float64")).max(initial=0.0)
        if differs:
            return (f"prepare_inputs changed the values of {spec.var} ({str(tensor.dtype).removeprefix('torch.')} "
                    f"from a Keras {array.dtype} array; max change {differs:.3g})")
    return None


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"{str(value.dtype).removeprefix('torch.')} {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    return type(value).__name__


def _assignment(source, name: str):
    """(value code, line) of the first `name = ...` outside classes (at module level or in a
    function: compile() may sit in a builder function), or None."""
    import libcst as cst

    found = []

    class Finder(cst.CSTVisitor):
        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False  # a class attribute of the same name (Callback.optimizer = None)

        def visit_Assign(self, node: cst.Assign) -> None:
            if not found and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
                if node.targets[0].target.value == name:
                    found.append((source.module.code_for_node(node.value), source.span(node)[0]))

    source.wrapper.visit(Finder())
    return found[0] if found else None


# -- the Keras side --------------------------------------------------------------------------
def _refill(grads: list, clipped: list) -> list:
    """`grads` with its non-None entries replaced, in order, by `clipped`."""
    it = iter(clipped)
    return [None if g is None else next(it) for g in grads]


def keras_step(keras_model, x, y) -> tuple[float, dict[int, np.ndarray], set[str]]:
    """One step of Keras's train_step; the loss, the gradients (by id of the variable) and the
    paths of the variables whose gradient is sparse with repeated rows."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        y_pred = keras_model(x, training=True)
        loss = keras_model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
        scaled = keras_model.optimizer.scale_loss(loss)
    trainable = keras_model.trainable_weights
    grads = tape.gradient(scaled, trainable)
    keras_model.optimizer.apply_gradients([(g, v) for g, v in zip(grads, trainable) if g is not None])
    # The gradients the update used: after clipnorm/clipvalue/global_clipnorm (torch's are clipped in
    # place before optimizer.step(), and read after it).
    clipped = keras_model.optimizer._clip_gradients([g for g in grads if g is not None])
    values = {id(v): tf.convert_to_tensor(g).numpy() for g, v in zip(_refill(grads, clipped), trainable) if g is not None}
    repeated = {
        v.path for g, v in zip(grads, trainable)
        if isinstance(g, tf.IndexedSlices) and len(np.unique(g.indices.numpy())) < len(g.indices)
    }
    return float(loss), values, repeated


# -- comparison ------------------------------------------------------------------------------
def _worst(actual: np.ndarray, expected: np.ndarray, allowed: np.ndarray) -> tuple[float, float, float]:
    """(max |a - e|, the worst ratio |a - e| / allowed, the allowed difference at that element)."""
    diff = np.abs(actual.astype("float64") - expected.astype("float64"))
    if diff.size == 0:
        return 0.0, 0.0, 0.0
    ratio = np.where(diff == 0, 0.0, diff / np.maximum(allowed, 1e-300))
    worst = int(np.argmax(ratio))
    return float(diff.max()), float(ratio.flat[worst]), float(np.broadcast_to(allowed, diff.shape).flat[worst])


class Run:
    """The state of the comparison: figures, the first divergence, per-step records."""

    def __init__(self, names: dict, parameters: set, atol: float, rtol: float):
        self.names = names  # torch key -> (Keras weight path, Keras layer)
        self.parameters = parameters  # the torch keys that are parameters (the others are buffers)
        self.atol, self.rtol = atol, rtol
        self.max_loss = self.max_grad = self.max_weight = 0.0
        self.first: dict | None = None
        self.steps: list[dict] = []
        self.ratio = {"loss": 0.0, "gradient": 0.0, "weight": 0.0}  # worst |diff| / allowed
        self.cancelled: dict[str, str] = {}  # biases before BatchNorm -> the BatchNorm (_cancelled_biases)
        self.routed_steps: list[tuple[int, int]] = []  # (step, near-tied max-pooling windows)
        self.grad_rel: dict[str, np.ndarray] = {}  # per torch key: the largest relative gradient difference
        self.sparse: set[str] = set()  # Keras weights whose gradient had repeated rows (IndexedSlices)
        self.path: dict[str, np.ndarray] = {}  # per torch key: the sum of |update| over the steps
        self.budget: dict[str, np.ndarray] = {}  # per torch key: what the updates may differ by

    def diverged(self, step: int, quantity: str, key: str | None, diff: float, allowed: float, detail: str = "") -> None:
        if self.first is not None:
            return
        keras = self.names.get(key, (None,))[0] if key else None
        self.first = {"step": step, "quantity": quantity, "keras": keras, "torch": key,
                      "max_abs_diff": diff, "allowed": allowed, "detail": detail or None}

    def loss(self, step: int, keras: float, torch_loss: float) -> float:
        diff = abs(torch_loss - keras)
        allowed = self.atol + self.rtol * abs(keras)
        self.ratio["loss"] = max(self.ratio["loss"], diff / allowed)
        if not np.isfinite(torch_loss) or diff > allowed:
            self.diverged(step, "loss", None, diff, allowed, f"Keras {keras:.7g}, torch {torch_loss:.7g}")
        self.max_loss = max(self.max_loss, diff)
        return diff

    def drift(self, keras: dict, torch_grads: dict) -> None:
        """The gradients each side's own run took (at weights that drift apart within the weights'
        tolerance): how much their updates may differ, per element (see weights())."""
        for key, actual in torch_grads.items():
            if key in keras and actual.shape == keras[key].shape:
                relative = np.abs(actual.astype("float64") - keras[key]) / np.maximum(np.abs(keras[key]), 1e-30)
                if key in self.cancelled:
                    relative = np.ones_like(relative)
                self.grad_rel[key] = np.maximum(self.grad_rel.get(key, 0.0), np.minimum(relative, 1.0))

    def gradients(self, step: int, keras: dict, torch_grads: dict, tied: int = 0) -> float:
        """torch's gradients at Keras's weights of this step against Keras's; with `tied` max-pooling
        windows, per tensor by the relative L2 difference, within ROUTED (see the module doc)."""
        scale = max((float(np.abs(g).max(initial=0.0)) for g in keras.values()), default=0.0)
        worst_step = 0.0
        for key, actual in torch_grads.items():
            if key not in keras:
                continue  # a torch parameter without a Keras weight: the forward check reports it
            expected = keras[key]
            if actual.shape != expected.shape:
                self.diverged(step, "gradient", key, None, None, f"torch shape {actual.shape}, Keras {expected.shape}")
                continue
            if key in self.cancelled:  # rounding noise on both sides (see drift())
                continue
            allowed = self.atol * scale + self.rtol * np.abs(expected)
            diff, ratio, at = _worst(actual, expected, allowed)
            if tied and ratio > 1.0:
                norm = float(np.linalg.norm(expected.astype("float64")))
                relative = float(np.linalg.norm(actual.astype("float64") - expected)) / max(norm, 1e-30)
                ratio, at = relative / ROUTED, ROUTED * norm
                if not self.routed_steps or self.routed_steps[-1][0] != step:
                    self.routed_steps.append((step, tied))
            worst_step = max(worst_step, diff)
            self.ratio["gradient"] = max(self.ratio["gradient"], ratio)
            if ratio > 1.0 or not np.all(np.isfinite(actual)):
                self.diverged(step, "gradient", key, diff, at)
        self.max_grad = max(self.max_grad, worst_step)
        return worst_step

    def weights(self, step: int, keras: dict, torch_state: dict, before: dict, torch_before: dict,
                expected_override: dict) -> float:
        """Weights after the step. Each step's update may differ by (rtol + 2 * the relative
        difference of the gradients it came from, so far) of its size: summed over the steps, per
        element, into `self.budget`; `self.path` sums the sizes of the updates."""
        worst_step = 0.0
        for key, expected in keras.items():
            if key not in torch_state:
                continue
            actual = torch_state[key]
            quantity = "weight" if key in self.parameters else "running statistic"
            reference = expected
            if key in expected_override:
                reference = expected_override[key]
            if actual.shape != reference.shape:
                self.diverged(step, quantity, key, None, None, f"torch shape {actual.shape}, Keras {reference.shape}")
                continue
            update = np.maximum(np.abs(expected.astype("float64") - before[key].astype("float64")),
                                np.abs(actual.astype("float64") - torch_before[key].astype("float64")))
            self.path[key] = self.path.get(key, 0.0) + update
            # An optimizer that normalises (Adam) moves every element by about its learning rate
            # whatever its gradient: where a momentum cancels, a drifted gradient changes the
            # update by up to the tensor's largest update times the drift, not the element's own.
            largest = float(update.max(initial=0.0)) if isinstance(update, np.ndarray) else update
            self.budget[key] = self.budget.get(key, 0.0) + update * self.rtol + largest * 2 * self.grad_rel.get(key, 0.0)
            path = self.path[key]
            allowed = self.atol * float(path.max(initial=0.0)) + self.budget[key] + 2 * step * EPS32 * np.abs(reference)
            diff, ratio, at = _worst(actual, reference, allowed)
            worst_step = max(worst_step, diff)
            self.ratio["weight"] = max(self.ratio["weight"], ratio)
            if ratio > 1.0 or not np.all(np.isfinite(actual)):
                detail = ""
                if self.names.get(key, (None,))[0] in self.sparse:
                    detail = SPARSE_NOTE
                self.diverged(step, quantity, key, diff, at, detail)
        self.max_weight = max(self.max_weight, worst_step)
        return worst_step


def _batchnorm_counts(torch_model) -> tuple[dict, list]:
    """Per torch BatchNorm module, the values per channel in its last training batch."""
    counts: dict[str, int] = {}
    hooks = []
    for name, module in torch_model.named_modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            def hook(module, inputs, output, name=name):
                counts[name] = inputs[0].numel() // inputs[0].shape[1]

            hooks.append(module.register_forward_hook(hook))
    return counts, hooks


def _cancelled_biases(torch_model) -> tuple[dict, list]:
    """torch names of biases whose module's output goes straight into a BatchNorm -> that BatchNorm
    module's name (found in the
    training passes): BatchNorm subtracts the batch mean, so their gradient is zero in exact
    arithmetic and both sides are left with rounding noise (see the module doc)."""
    produced: dict[int, tuple] = {}  # id(output) -> (module name, output held so its id stays its own)
    cancelled: dict[str, str] = {}
    hooks = [torch_model.register_forward_pre_hook(lambda module, inputs: produced.clear())]
    for name, module in torch_model.named_modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            def normalised(module, inputs, name=name):
                source = produced.get(id(inputs[0]))
                if module.training and source is not None and source[1] is inputs[0]:
                    cancelled[f"{source[0]}.bias"] = name
            hooks.append(module.register_forward_pre_hook(normalised))
        elif isinstance(getattr(module, "bias", None), torch.nn.Parameter) and not list(module.children()):
            def made(module, inputs, output, name=name):
                if isinstance(output, torch.Tensor):
                    produced[id(output)] = (name, output)
            hooks.append(module.register_forward_hook(made))
    return cancelled, hooks


def _near_tied_windows(model, tolerance: float) -> tuple[list, list]:
    """Forward hooks counting max-pooling windows whose two largest values differ by at most
    `tolerance` of the input's largest value: there float32 rounding on either side may pick the
    other maximum, and the gradient goes to another element (see the module doc)."""
    found: list[int] = []
    hooks = []
    for module in model.modules():
        if isinstance(module, (torch.nn.MaxPool1d, torch.nn.MaxPool2d)):
            hooks.append(module.register_forward_hook(
                lambda module, inputs, output: found.append(_tied(module, inputs[0], output, tolerance))
            ))
    return found, hooks


def _tied(module, x: torch.Tensor, output: torch.Tensor, tolerance: float) -> int:
    with torch.no_grad():
        spatial = x.dim() - 2
        as_tuple = (lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,) * spatial)
        kernel, stride, padding = as_tuple(module.kernel_size), as_tuple(module.stride or module.kernel_size), as_tuple(module.padding)
        if any(d != 1 for d in as_tuple(module.dilation)):
            return 0
        pads = []
        for axis in reversed(range(spatial)):  # F.pad takes the last axis first
            size, out = x.shape[2 + axis], output.shape[2 + axis]
            extra = max(0, (out - 1) * stride[axis] + kernel[axis] - size - 2 * padding[axis])
            pads += [padding[axis], padding[axis] + extra]
        windows = torch.nn.functional.pad(x, pads, value=float("-inf"))
        for axis in range(spatial):
            windows = windows.unfold(2 + axis, kernel[axis], stride[axis])
        out_shape = output.shape[2:]
        windows = windows[(..., *(slice(0, n) for n in out_shape), *([slice(None)] * spatial))]
        windows = windows.flatten(-spatial)
        if windows.shape[-1] < 2:
            return 0
        top = windows.topk(2, dim=-1).values
        scale = float(x.abs().max())
        # A maximum of exactly 0 is a ReLU's: the gradient that reaches it stops there either way.
        return int((((top[..., 0] - top[..., 1]) <= tolerance * scale) & (top[..., 0] != 0)).sum())


def _running_mean_expected(keras_now, keras_before, torch_before, cancelled, names) -> dict:
    """torch's running_mean after the step as Keras's moving mean predicts it, where a bias before
    the BatchNorm differs (it is not compared, see the module doc): the batch means differ by the
    biases' difference at the step, and the running mean takes (1 - momentum) of it."""
    out = {}
    for bias, module in cancelled.items():
        key = f"{module}.running_mean"
        layer = names.get(key, (None, None))[1]
        momentum = getattr(layer, "momentum", None)
        if momentum is None or key not in keras_now or bias not in torch_before or bias not in keras_before:
            continue
        shift = torch_before[bias].astype("float64") - keras_before[bias].astype("float64")
        batch_part = keras_now[key].astype("float64") - momentum * keras_before[key].astype("float64")
        out[key] = (momentum * torch_before[key].astype("float64") + batch_part + (1 - momentum) * shift).astype("float32")
    return out


def _running_var_expected(keras_now, keras_before, torch_before, counts, names) -> dict:
    """torch's running_var after the step as Keras's moving variance predicts it (see the module doc)."""
    out = {}
    for key, value in keras_now.items():
        module = key.rsplit(".", 1)[0]
        if not key.endswith(".running_var") or module not in counts or key not in torch_before:
            continue
        layer = names.get(key, (None, None))[1]
        momentum = getattr(layer, "momentum", None)
        n = counts[module]
        if momentum is None or n < 2:
            continue
        batch_part = value.astype("float64") - momentum * keras_before[key].astype("float64")
        out[key] = (momentum * torch_before[key].astype("float64") + batch_part * n / (n - 1)).astype("float32")
    return out


def train_and_compare(report, keras_model, torch_side: TorchSide, steps: int, atol: float, rtol: float, seed: int,
                      mapping=None) -> dict:
    """Run `steps` steps on both sides; returns the figures for the verdict. mapping: (Keras
    layers, an object whose .layers are the LayerMaps, a function rng -> sample inputs) where the
    model is not a graph of layers (a subclassed model, verify/classes.py)."""
    lowered, ir = report.lowered, report.ir
    if mapping is None:
        layers, _ = keras_layers(keras_model, ir)

        def make_inputs(rng):
            return sample_inputs(keras_model, lowered, ir, rng, TRAIN_BATCH)
    else:
        layers, lowered, make_inputs = mapping
    names = keras_weight_names(layers, lowered)
    rng = np.random.default_rng([seed, 1])
    keras_off = keras_without_dropout(keras_model)
    torch_off = torch_without_dropout(torch_side.model)
    torch.manual_seed(seed)
    start = mapped_weights(layers, lowered)
    keras_before, torch_before = start, torch_side.state()
    run = Run(names, {name for name, _ in torch_side.model.named_parameters()}, atol, rtol)
    counts, hooks = _batchnorm_counts(torch_side.model)
    run.cancelled, more_hooks = _cancelled_biases(torch_side.model)
    hooks += more_hooks
    # One loss per output for a model with several (in output order), else the model's loss.
    loss_keys = [o.loss_key for o in report.compiled.outputs] or [report.compiled.loss_key]
    steps_run = 0
    try:
        for step in range(1, steps + 1):
            xs = make_inputs(rng)
            keras_x = xs if len(xs) > 1 else xs[0]
            predicted = keras_model(keras_x, training=False)
            predicted = list(predicted) if isinstance(predicted, (list, tuple)) else [predicted]
            labels = [sample_labels(key, tuple(np.asarray(p).shape), rng) for key, p in zip(loss_keys, predicted)]
            y = labels if len(labels) > 1 else labels[0]
            try:
                keras_loss, keras_grads, repeated = keras_step(keras_model, keras_x, y)
                run.sparse |= repeated
            except Exception as exc:  # noqa: BLE001
                raise TrainingFailed("keras step", f"Keras's training step failed: {type(exc).__name__}: {exc}") from None
            try:  # before torch's own step, which moves its weights and optimizer state
                # Values closer than the forward tolerance (atol) may be ordered either way.
                at_keras_weights, tied = torch_side.gradients_at(keras_before, xs, y, atol)
            except Exception:  # noqa: BLE001 - the step below reports what fails
                at_keras_weights, tied = None, 0
            torch_loss = torch_side.step(xs, y)
            if at_keras_weights is None:
                at_keras_weights = torch_side.gradients()
            steps_run = step
            if torch_side.input_problem:
                what = "prepared targets" if torch_side.input_problem.startswith("prepare_targets") else "prepared inputs"
                run.diverged(step, what, None, None, None, torch_side.input_problem)

            def grads_of(layer):
                return [keras_grads.get(id(w), np.zeros(tuple(w.shape), "float32")) if w.trainable
                        else np.zeros(tuple(w.shape), "float32") for w in layer.weights]

            keras_now = mapped_weights(layers, lowered)
            torch_now = torch_side.state()
            record = {"step": step, "keras_loss": keras_loss, "torch_loss": torch_loss}
            record["loss_diff"] = run.loss(step, keras_loss, torch_loss)
            keras_gradients = mapped_weights(layers, lowered, grads_of)
            run.drift(keras_gradients, torch_side.gradients())
            record["max_grad_diff"] = run.gradients(step, keras_gradients, at_keras_weights, tied)
            expected_var = _running_var_expected(keras_now, keras_before, torch_before, counts, names)
            expected_var |= _running_mean_expected(keras_now, keras_before, torch_before, run.cancelled, names)
            record["max_weight_diff"] = run.weights(step, keras_now, torch_now, keras_before, torch_before, expected_var)
            run.steps.append(record)
            keras_before, torch_before = keras_now, torch_now
    except TrainingFailed as exc:
        quantity, message = exc.args
        run.diverged(steps_run + 1, quantity, None, None, None, message)
        return _figures(run, steps_run, keras_off, torch_off, failure=(quantity, message))
    finally:
        for handle in hooks:
            handle.remove()
    return _figures(run, steps_run, keras_off, torch_off)


def _figures(run: Run, steps_run: int, keras_off, torch_off, failure=None) -> dict:
    notes = []
    if keras_off or torch_off:
        notes.append("dropout off: Keras " + (", ".join(keras_off) or "-") + "; torch " + (", ".join(torch_off) or "-"))
    if run.routed_steps:
        notes.append(
            "max pooling with near-tied windows (step: windows): "
            + ", ".join(f"{step}: {count}" for step, count in run.routed_steps)
            + f"; at those steps, gradients off the elementwise tolerance were compared per tensor, within {ROUTED:.0%} in L2"
        )
    if run.cancelled:
        notes.append(
            f"bias before BatchNorm ({', '.join(sorted(run.cancelled))}): its gradient is zero in exact arithmetic, "
            "rounding noise on both sides, so it is not compared and its updates may differ fully"
        )
    return {
        "steps_run": steps_run,
        "max_loss_diff": run.max_loss if steps_run else None,
        "max_grad_diff": run.max_grad if steps_run else None,
        "max_weight_diff": run.max_weight if steps_run else None,
        "first_divergence": run.first,
        "worst_ratio": run.ratio,
        "failure": failure,
        "steps": run.steps,
        "notes": notes,
    }
