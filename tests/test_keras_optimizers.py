"""rules/keras_optimizers.py reproduces Keras 3's optimizer updates; torch's built-ins measurably do not.

Keras variables and torch parameters start from the same float32 values and get the same gradients
(magnitudes spread over 1e-8..1, where each optimizer's epsilon matters somewhere); the weights must
agree after every step. Also the lowering of Keras optimizers to these classes or torch's built-ins.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

from k2t import snippets  # noqa: E402
from k2t.rules.keras_optimizers import (  # noqa: E402
    KerasAdagrad,
    KerasAdagradSparse,
    KerasAdam,
    KerasAdamSparse,
    KerasAdamax,
    KerasAdamaxSparse,
    KerasRMSprop,
    KerasRMSpropSparse,
    KerasSGD,
)
from k2t.rules.optimizers import OPTIMIZERS, OptimizerLowering, lower_optimizer, optimizer_rule  # noqa: E402
from k2t.rules.spec import Unsupported  # noqa: E402
from k2t.values import Value  # noqa: E402

K = keras.optimizers
O = torch.optim
SHAPES = [(3, 4), (4,)]
STEPS = 10
TOLERANCE = dict(rtol=1e-6, atol=1e-6)


def run(keras_optimizer, *make_torch_optimizers, lr_change=None, scale=None, seed=0, device="cpu"):
    """Per step, the Keras weights and, per torch optimizer, its weights after the same gradients.

    lr_change=(step, lr): set the learning rate everywhere before that step. scale: gradients of that
    magnitude instead of magnitudes spread over 1e-8..1.
    """
    rng = np.random.default_rng(seed)
    initial = [rng.normal(size=shape).astype("float32") for shape in SHAPES]

    def gradient(shape):
        magnitude = scale if scale is not None else 10 ** rng.uniform(-8, 0, size=shape)
        return (magnitude * rng.normal(size=shape)).astype("float32")

    gradients = [[gradient(shape) for shape in SHAPES] for _ in range(STEPS)]
    variables = [keras.Variable(w) for w in initial]
    parameters = [[torch.nn.Parameter(torch.tensor(w, device=device)) for w in initial] for _ in make_torch_optimizers]
    optimizers = [make(ps) for make, ps in zip(make_torch_optimizers, parameters)]
    trajectory = []
    for step, grads in enumerate(gradients):
        if lr_change is not None and step == lr_change[0]:
            keras_optimizer.learning_rate.assign(lr_change[1])
            for group in (group for optimizer in optimizers for group in optimizer.param_groups):
                group["lr"] = lr_change[1]
        keras_optimizer.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], variables))
        for optimizer, ps in zip(optimizers, parameters):
            for parameter, grad in zip(ps, grads):
                parameter.grad = torch.tensor(grad, device=device)
            optimizer.step()
        trajectory.append(
            (
                [np.array(v.numpy()) for v in variables],
                [[p.detach().cpu().numpy().copy() for p in ps] for ps in parameters],
            )
        )
    return trajectory


def distance(trajectory, which: int = 0) -> float:
    """The largest weight difference over all steps, for the which-th torch optimizer."""
    return max(float(np.abs(k - t).max()) for ks, tss in trajectory for k, t in zip(ks, tss[which]))


# id -> (Keras optimizer, torch optimizer with Keras's update, lr change)
EXACT = {
    "sgd": (lambda: K.SGD(), lambda p: KerasSGD(p), None),
    "sgd-momentum-lr-change": (
        lambda: K.SGD(0.05, momentum=0.9),
        lambda p: KerasSGD(p, lr=0.05, momentum=0.9),
        (4, 0.005),
    ),
    "sgd-nesterov-lr-change": (
        lambda: K.SGD(0.05, momentum=0.8, nesterov=True),
        lambda p: KerasSGD(p, lr=0.05, momentum=0.8, nesterov=True),
        (4, 0.2),
    ),
    "sgd-momentum-weight-decay": (
        lambda: K.SGD(0.05, momentum=0.9, weight_decay=0.1),
        lambda p: KerasSGD(p, lr=0.05, momentum=0.9, weight_decay=0.1),
        (6, 0.01),
    ),
    "sgd-weight-decay-torch": (
        lambda: K.SGD(0.05, weight_decay=0.1),
        lambda p: O.SGD(p, lr=0.05, weight_decay=0.1),
        None,
    ),
    "sgd-momentum-torch": (lambda: K.SGD(0.05, momentum=0.9), lambda p: O.SGD(p, lr=0.05, momentum=0.9), None),
    "adam": (lambda: K.Adam(), lambda p: KerasAdam(p), None),
    "adam-options-lr-change": (
        lambda: K.Adam(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-5),
        lambda p: KerasAdam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-5),
        (5, 0.002),
    ),
    "adam-amsgrad": (lambda: K.Adam(0.01, amsgrad=True), lambda p: KerasAdam(p, lr=0.01, amsgrad=True), None),
    "adam-weight-decay": (
        lambda: K.Adam(0.01, weight_decay=0.1),
        lambda p: KerasAdam(p, lr=0.01, weight_decay=0.1),
        None,
    ),
    "adamw": (lambda: K.AdamW(), lambda p: KerasAdam(p, weight_decay=0.004), None),
    "adamw-lr-change": (
        lambda: K.AdamW(0.01, weight_decay=0.05),
        lambda p: KerasAdam(p, lr=0.01, weight_decay=0.05),
        (3, 0.03),
    ),
    "rmsprop": (lambda: K.RMSprop(), lambda p: KerasRMSprop(p), None),
    "rmsprop-options": (
        lambda: K.RMSprop(0.01, rho=0.8, epsilon=1e-4),
        lambda p: KerasRMSprop(p, lr=0.01, rho=0.8, eps=1e-4),
        None,
    ),
    "rmsprop-momentum-lr-change": (
        lambda: K.RMSprop(0.01, momentum=0.9),
        lambda p: KerasRMSprop(p, lr=0.01, momentum=0.9),
        (5, 0.001),
    ),
    "rmsprop-centered": (lambda: K.RMSprop(centered=True), lambda p: KerasRMSprop(p, centered=True), None),
    "rmsprop-centered-momentum-weight-decay": (
        lambda: K.RMSprop(0.01, momentum=0.5, centered=True, weight_decay=0.1),
        lambda p: KerasRMSprop(p, lr=0.01, momentum=0.5, centered=True, weight_decay=0.1),
        None,
    ),
    "adagrad": (lambda: K.Adagrad(), lambda p: KerasAdagrad(p), None),
    "adagrad-options-lr-change": (
        lambda: K.Adagrad(0.01, initial_accumulator_value=0.0, epsilon=1e-6),
        lambda p: KerasAdagrad(p, lr=0.01, initial_accumulator_value=0.0, eps=1e-6),
        (5, 0.05),
    ),
    "adagrad-weight-decay": (
        lambda: K.Adagrad(0.01, weight_decay=0.1),
        lambda p: KerasAdagrad(p, lr=0.01, weight_decay=0.1),
        None,
    ),
    "adagrad-torch": (
        lambda: K.Adagrad(),
        lambda p: O.Adagrad(p, lr=0.001, initial_accumulator_value=0.1, eps=1e-7),
        None,
    ),
    "adamax": (lambda: K.Adamax(), lambda p: KerasAdamax(p), None),
    "adamax-options-lr-change": (
        lambda: K.Adamax(0.01, beta_1=0.8, beta_2=0.9, epsilon=1e-5, weight_decay=0.1),
        lambda p: KerasAdamax(p, lr=0.01, betas=(0.8, 0.9), eps=1e-5, weight_decay=0.1),
        (5, 0.001),
    ),
    "nadam-torch": (lambda: K.Nadam(), lambda p: O.NAdam(p, lr=0.001, eps=1e-7, momentum_decay=1.0), None),
    "nadam-torch-options-lr-change": (
        lambda: K.Nadam(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-5, weight_decay=0.1),
        lambda p: O.NAdam(
            p, lr=0.01, betas=(0.8, 0.99), eps=1e-5, momentum_decay=1.0, weight_decay=0.1, decoupled_weight_decay=True
        ),
        (5, 0.002),
    ),
}


@pytest.mark.parametrize("case", list(EXACT))
def test_weights_match_keras_after_every_step(case):
    make_keras, make_torch, lr_change = EXACT[case]
    for step, (keras_weights, (torch_weights,)) in enumerate(run(make_keras(), make_torch, lr_change=lr_change)):
        for k, t in zip(keras_weights, torch_weights):
            np.testing.assert_allclose(t, k, **TOLERANCE, err_msg=f"{case}, step {step + 1}")


# id -> (Keras optimizer, torch's built-in with the same hyper-parameters, Keras's update, run options)
DIFFERING = {
    "adam": (lambda: K.Adam(), lambda p: O.Adam(p, lr=0.001, eps=1e-7), lambda p: KerasAdam(p), {}),
    "adamw": (
        lambda: K.AdamW(),
        lambda p: O.AdamW(p, lr=0.001, eps=1e-7, weight_decay=0.004),
        lambda p: KerasAdam(p, weight_decay=0.004),
        {},
    ),
    "rmsprop": (
        lambda: K.RMSprop(),
        lambda p: O.RMSprop(p, lr=0.001, alpha=0.9, eps=1e-7),
        lambda p: KerasRMSprop(p),
        {},
    ),
    "adagrad-from-zero": (
        lambda: K.Adagrad(initial_accumulator_value=0.0),
        lambda p: O.Adagrad(p, lr=0.001, eps=1e-7),
        lambda p: KerasAdagrad(p, initial_accumulator_value=0.0),
        {},
    ),
    "adamax-small-gradients": (
        lambda: K.Adamax(0.1),
        lambda p: O.Adamax(p, lr=0.1, eps=1e-7),
        lambda p: KerasAdamax(p, lr=0.1),
        {"scale": 1e-7},
    ),
    "nadam-torch-momentum-decay": (
        lambda: K.Nadam(),
        lambda p: O.NAdam(p, lr=0.001, eps=1e-7),
        lambda p: O.NAdam(p, lr=0.001, eps=1e-7, momentum_decay=1.0),
        {},
    ),
    "sgd-momentum-lr-change": (
        lambda: K.SGD(0.05, momentum=0.9),
        lambda p: O.SGD(p, lr=0.05, momentum=0.9),
        lambda p: KerasSGD(p, lr=0.05, momentum=0.9),
        {"lr_change": (4, 0.005)},
    ),
}


@pytest.mark.parametrize("case", list(DIFFERING))
def test_torch_builtin_is_measurably_farther(case):
    make_keras, builtin, exact, options = DIFFERING[case]
    trajectory = run(make_keras(), builtin, exact, **options)
    builtin_distance, exact_distance = distance(trajectory, 0), distance(trajectory, 1)
    assert exact_distance < 1e-6
    assert builtin_distance > 1e-5 and builtin_distance > 50 * exact_distance


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize(
    "case",
    [
        "sgd-momentum-lr-change",
        "adam-amsgrad",
        "rmsprop-centered-momentum-weight-decay",
        "adagrad-weight-decay",
        "adamax-options-lr-change",
    ],
)
def test_cuda(case):
    make_keras, make_torch, lr_change = EXACT[case]
    for keras_weights, (torch_weights,) in run(make_keras(), make_torch, lr_change=lr_change, device="cuda"):
        for k, t in zip(keras_weights, torch_weights):
            np.testing.assert_allclose(t, k, rtol=1e-5, atol=1e-5)


# -- sparse gradients: an Embedding's, with repeated rows ----------------------------------------
# Keras on TensorFlow gets a tf.IndexedSlices with one row per token; torch's nn.Embedding(sparse=True)
# an uncoalesced sparse gradient with the same rows. Each case updates an embedding table beside a
# dense weight (both paths of one optimizer).

SPARSE = {
    "adam": (lambda: K.Adam(0.01), lambda p: KerasAdamSparse(p, lr=0.01)),
    "adam-amsgrad-weight-decay": (
        lambda: K.Adam(0.01, beta_2=0.99, amsgrad=True, weight_decay=0.1),
        lambda p: KerasAdamSparse(p, lr=0.01, betas=(0.9, 0.99), amsgrad=True, weight_decay=0.1),
    ),
    "adamw": (lambda: K.AdamW(0.01), lambda p: KerasAdamSparse(p, lr=0.01, weight_decay=0.004)),
    "rmsprop": (lambda: K.RMSprop(0.01), lambda p: KerasRMSpropSparse(p, lr=0.01)),
    "rmsprop-centered-momentum-weight-decay": (
        lambda: K.RMSprop(0.01, momentum=0.5, centered=True, weight_decay=0.1),
        lambda p: KerasRMSpropSparse(p, lr=0.01, momentum=0.5, centered=True, weight_decay=0.1),
    ),
    "adagrad": (lambda: K.Adagrad(0.05), lambda p: KerasAdagradSparse(p, lr=0.05)),
    "adagrad-from-zero-weight-decay": (
        lambda: K.Adagrad(0.05, initial_accumulator_value=0.0, weight_decay=0.1),
        lambda p: KerasAdagradSparse(p, lr=0.05, initial_accumulator_value=0.0, weight_decay=0.1),
    ),
    "adamax": (lambda: K.Adamax(0.01), lambda p: KerasAdamaxSparse(p, lr=0.01)),
    "adamax-weight-decay": (
        lambda: K.Adamax(0.01, beta_2=0.9, weight_decay=0.1),
        lambda p: KerasAdamaxSparse(p, lr=0.01, betas=(0.9, 0.9), weight_decay=0.1),
    ),
}
ROWS, DIM, TOKENS = 7, 3, 6


def run_sparse(keras_optimizer, make_torch, dense_gradient=False, seed=0, device="cpu"):
    """Per step, (Keras's table and weight, torch's). Each step's 6 tokens from 5 rows repeat some
    rows and mostly leave one out; dense_gradient: torch gets the summed (coalesced) gradient instead."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    table, weight = rng.normal(size=(ROWS, DIM)).astype("float32"), rng.normal(size=(4,)).astype("float32")
    variables = [keras.Variable(table), keras.Variable(weight)]
    parameters = [torch.nn.Parameter(torch.tensor(w, device=device)) for w in (table, weight)]
    optimizer = make_torch(parameters)
    trajectory = []
    for _ in range(STEPS):
        tokens = rng.integers(0, ROWS - 2, size=TOKENS)  # the last two rows are never looked up
        rows = (10 ** rng.uniform(-8, 0, size=(TOKENS, 1)) * rng.normal(size=(TOKENS, DIM))).astype("float32")
        other = rng.normal(size=(4,)).astype("float32")
        keras_optimizer.apply_gradients(
            [(tf.IndexedSlices(tf.constant(rows), tf.constant(tokens), tf.constant([ROWS, DIM])), variables[0]),
             (keras.ops.convert_to_tensor(other), variables[1])]
        )
        sparse = torch.sparse_coo_tensor(
            torch.tensor(tokens)[None], torch.tensor(rows), (ROWS, DIM), check_invariants=True, device=device
        )
        parameters[0].grad = sparse.to_dense() if dense_gradient else sparse
        parameters[1].grad = torch.tensor(other, device=device)
        optimizer.step()
        trajectory.append(([v.numpy() for v in variables], [p.detach().cpu().numpy().copy() for p in parameters]))
    return trajectory


def test_embedding_gradient_is_one_row_per_token():
    # What the sparse updates rely on: torch keeps a repeated token's rows apart, as TensorFlow does.
    embedding = torch.nn.Embedding(ROWS, DIM, sparse=True)
    tokens = torch.tensor([[1, 3, 1], [1, 4, 0]])
    embedding(tokens).square().sum().backward()
    grad = embedding.weight.grad
    assert grad.is_sparse and not grad.is_coalesced()
    assert grad._indices()[0].tolist() == tokens.flatten().tolist() and grad._values().shape == (6, DIM)


@pytest.mark.parametrize("case", list(SPARSE))
def test_sparse_gradients_match_keras_indexed_slices(case):
    make_keras, make_torch = SPARSE[case]
    for step, (keras_weights, torch_weights) in enumerate(run_sparse(make_keras(), make_torch)):
        for k, t in zip(keras_weights, torch_weights):
            np.testing.assert_allclose(t, k, **TOLERANCE, err_msg=f"{case}, step {step + 1}")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize(
    "case", ["adam-amsgrad-weight-decay", "rmsprop-centered-momentum-weight-decay", "adagrad", "adamax"]
)
def test_sparse_cuda(case):
    make_keras, make_torch = SPARSE[case]
    for keras_weights, torch_weights in run_sparse(make_keras(), make_torch, device="cuda"):
        for k, t in zip(keras_weights, torch_weights):
            np.testing.assert_allclose(t, k, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", ["adam", "rmsprop", "adagrad", "adamax"])
def test_summed_sparse_gradient_is_measurably_farther(case):
    # Why an Embedding is sparse=True under these optimizers: the dense (summed) gradient drifts.
    make_keras, make_torch = SPARSE[case]
    trajectory = run_sparse(make_keras(), make_torch, dense_gradient=True)
    assert max(float(np.abs(k[0] - t[0]).max()) for k, t in trajectory) > 1e-4


def test_sparse_closure_and_state_dict():
    embedding = torch.nn.Embedding(ROWS, DIM, sparse=True)
    optimizer = KerasAdamSparse(embedding.parameters(), lr=0.01)

    def closure():
        optimizer.zero_grad()
        loss = embedding(torch.tensor([2, 2, 5])).sum()
        loss.backward()
        return loss

    before = embedding.weight.detach().clone()
    optimizer.step(closure)
    moved = (embedding.weight != before).any(1)
    assert moved.tolist() == [False, False, True, False, False, True, False]
    assert embedding.weight.grad.is_sparse  # the gradient is back where it was
    clone = KerasAdamSparse(torch.nn.Embedding(ROWS, DIM, sparse=True).parameters())
    clone.load_state_dict(optimizer.state_dict())
    assert int(next(iter(clone.state.values()))["step"]) == 1


def test_closure_state_dict_and_param_groups():
    weight = torch.nn.Parameter(torch.ones(3))
    bias = torch.nn.Parameter(torch.zeros(2))
    optimizer = KerasAdam([{"params": [weight]}, {"params": [bias], "lr": 0.1}], lr=0.01)

    def closure():
        optimizer.zero_grad()
        loss = (weight**2).sum() + (bias - 1).abs().sum()
        loss.backward()
        return loss

    assert optimizer.step(closure).item() == 5.0
    assert torch.allclose(weight, torch.full((3,), 0.99)) and torch.allclose(bias, torch.full((2,), 0.1))
    clone = KerasAdam(
        [
            {"params": [torch.nn.Parameter(weight.detach().clone())]},
            {"params": [torch.nn.Parameter(bias.detach().clone())]},
        ]
    )
    clone.load_state_dict(optimizer.state_dict())
    assert clone.param_groups[1]["lr"] == 0.1 and clone.param_groups[0]["keras_step"] == 1
    assert torch.equal(clone.state[clone.param_groups[0]["params"][0]]["exp_avg"], optimizer.state[weight]["exp_avg"])


def test_classes_are_self_contained_snippets():
    namespace = {"torch": torch}
    exec(snippets.code({"KerasSGD", "KerasAdam", "KerasRMSprop", "KerasAdagrad", "KerasAdamax"}), namespace)
    for name in ("KerasSGD", "KerasAdam", "KerasRMSprop", "KerasAdagrad", "KerasAdamax"):
        parameter = torch.nn.Parameter(torch.ones(2))
        parameter.grad = torch.ones(2)
        namespace[name]([parameter], lr=0.1).step()
        assert (parameter < 1).all(), name
    sparse = ("KerasAdamSparse", "KerasRMSpropSparse", "KerasAdagradSparse", "KerasAdamaxSparse")
    namespace = {"torch": torch}
    exec(snippets.code(set(sparse)), namespace)  # their bases, SparseRows and sparse_row_sum come along
    for name in sparse:
        table = torch.nn.Parameter(torch.ones(3, 2))
        table.grad = torch.sparse_coo_tensor(torch.tensor([[0, 0]]), torch.ones(2, 2), (3, 2), check_invariants=True)
        namespace[name]([table], lr=0.1).step()
        assert (table[0] < 1).all() and (table[1:] == 1).all(), name


# -- lowering -------------------------------------------------------------------------------------


def lower(name, exact=True, changing_lr=False, embeddings=False, **given) -> OptimizerLowering:
    rule = optimizer_rule(name)
    args = {p.name: Value.literal(p.default) for p in rule.params}
    args.update({key: Value.literal(value) for key, value in given.items()})
    return lower_optimizer(rule, args, "params", exact=exact, changing_lr=changing_lr, embeddings=embeddings)


@pytest.mark.parametrize(
    "name, given, exact_code, torch_code",
    [
        ("adam", {}, "KerasAdam(params, lr=0.001)", "torch.optim.Adam(params, lr=0.001, eps=1e-07)"),
        (
            "Adam",
            {"learning_rate": 0.01, "beta_1": 0.8, "epsilon": 1e-5, "amsgrad": True},
            "KerasAdam(params, lr=0.01, eps=1e-05, betas=(0.8, 0.999), amsgrad=True)",
            "torch.optim.Adam(params, lr=0.01, eps=1e-05, betas=(0.8, 0.999), amsgrad=True)",
        ),
        (
            "Adam",
            {"weight_decay": 0.1},
            "KerasAdam(params, lr=0.001, weight_decay=0.1)",
            "torch.optim.AdamW(params, lr=0.001, eps=1e-07, weight_decay=0.1)",
        ),
        (
            "adamw",
            {},
            "KerasAdam(params, lr=0.001, weight_decay=0.004)",
            "torch.optim.AdamW(params, lr=0.001, eps=1e-07, weight_decay=0.004)",
        ),
        (
            "rmsprop",
            {"rho": 0.8, "centered": True},
            "KerasRMSprop(params, lr=0.001, rho=0.8, centered=True)",
            "torch.optim.RMSprop(params, lr=0.001, alpha=0.8, eps=1e-07, centered=True)",
        ),
        (
            "adagrad",
            {"initial_accumulator_value": 0.0},
            "KerasAdagrad(params, lr=0.001, initial_accumulator_value=0.0)",
            "torch.optim.Adagrad(params, lr=0.001, initial_accumulator_value=0.0, eps=1e-07)",
        ),
        ("adamax", {}, "KerasAdamax(params, lr=0.001)", "torch.optim.Adamax(params, lr=0.001, eps=1e-07)"),
    ],
)
def test_lowering_where_torch_differs(name, given, exact_code, torch_code):
    exact = lower(name, **given)
    assert (exact.code, exact.snippet, exact.note) == (exact_code, exact_code.split("(")[0], None)
    builtin = lower(name, exact=False, **given)
    assert (builtin.code, builtin.snippet) == (torch_code, None)
    assert builtin.note.startswith("torch.optim.") and "*lr" in builtin.note


@pytest.mark.parametrize(
    "name, given, code",
    [
        ("sgd", {}, "torch.optim.SGD(params, lr=0.01)"),
        ("SGD", {"momentum": 0.9, "nesterov": True}, "torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True)"),
        ("SGD", {"weight_decay": 0.1}, "torch.optim.SGD(params, lr=0.01, weight_decay=0.1)"),
        ("adagrad", {}, "torch.optim.Adagrad(params, lr=0.001, initial_accumulator_value=0.1, eps=1e-07)"),
        ("nadam", {}, "torch.optim.NAdam(params, lr=0.001, eps=1e-07, momentum_decay=1.0)"),
        (
            "Nadam",
            {"beta_2": 0.99, "weight_decay": 0.1},
            "torch.optim.NAdam(params, lr=0.001, eps=1e-07, betas=(0.9, 0.99), momentum_decay=1.0, "
            "weight_decay=0.1, decoupled_weight_decay=True)",
        ),
    ],
)
def test_lowering_where_torch_is_exact(name, given, code):
    for exact in (True, False):
        assert lower(name, exact, **given) == OptimizerLowering(code, None, None)


def test_sgd_momentum_with_a_changing_learning_rate():
    assert lower("SGD", changing_lr=True, momentum=0.9) == OptimizerLowering(
        "KerasSGD(params, lr=0.01, momentum=0.9)", "KerasSGD", None
    )
    builtin = lower("SGD", exact=False, changing_lr=True, momentum=0.9)
    assert builtin.code == "torch.optim.SGD(params, lr=0.01, momentum=0.9)" and "6*lr" in builtin.note
    assert lower("SGD", changing_lr=True).code == "torch.optim.SGD(params, lr=0.01)"


def test_decoupled_weight_decay_without_a_torch_equivalent():
    assert (
        lower("SGD", momentum=0.9, weight_decay=0.1).code == "KerasSGD(params, lr=0.01, momentum=0.9, weight_decay=0.1)"
    )
    assert lower("rmsprop", weight_decay=0.1).code == "KerasRMSprop(params, lr=0.001, weight_decay=0.1)"
    assert lower("adagrad", weight_decay=0.1).snippet == "KerasAdagrad"
    for name, given in [("SGD", {"momentum": 0.9}), ("rmsprop", {}), ("adagrad", {}), ("adamax", {})]:
        with pytest.raises(Unsupported, match="decoupled.*--torch-optimizers"):
            lower(name, exact=False, weight_decay=0.1, **given)


@pytest.mark.parametrize("exact", [True, False])
def test_clipping_becomes_lines_of_the_training_step(exact):
    for name, call in [
        ("clipnorm", "nn.utils.clip_grad_norm_(parameter, 1.0)"),
        ("clipvalue", "nn.utils.clip_grad_value_(model.parameters(), 1.0)"),
        ("global_clipnorm", "nn.utils.clip_grad_norm_(model.parameters(), 1.0)"),
    ]:
        lowering = lower("adam", exact, **{name: 1.0})
        assert any(call in line for line in lowering.clipping), lowering.clipping
        assert "clip" not in lowering.code  # not an optimizer argument in torch
    with pytest.raises(Unsupported, match="sparse gradient"):
        lower("adam", exact=True, embeddings=True, clipnorm=1.0)


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_lowered_code_constructs_an_optimizer(name, exact):
    parameter = torch.nn.Parameter(torch.ones(2))
    classes = (KerasSGD, KerasAdam, KerasRMSprop, KerasAdagrad, KerasAdamax)
    namespace = {"torch": torch, "params": [parameter], **{c.__name__: c for c in classes}}
    given = {"momentum": 0.5} if any(p.name == "momentum" for p in OPTIMIZERS[name].params) else {}
    optimizer = eval(lower(name, exact, **given).code, namespace)
    parameter.grad = torch.ones(2)
    optimizer.step()
    assert (parameter < 1).all()


@pytest.mark.parametrize(
    "name, code",
    [
        ("adam", "KerasAdamSparse(params, lr=0.001)"),
        ("adamw", "KerasAdamSparse(params, lr=0.001, weight_decay=0.004)"),
        ("rmsprop", "KerasRMSpropSparse(params, lr=0.001)"),
        ("adagrad", "KerasAdagradSparse(params, lr=0.001)"),  # torch's Adagrad would do without an Embedding
        ("adamax", "KerasAdamaxSparse(params, lr=0.001)"),
    ],
)
def test_an_embedding_gets_the_keras_class_with_sparse_gradients(name, code):
    assert lower(name, embeddings=True) == OptimizerLowering(code, code.split("(")[0], None, True)
    builtin = lower(name, exact=False, embeddings=True)
    assert not builtin.sparse_gradients and builtin.code.startswith("torch.optim.")
    term = "absolute value" if name == "adamax" else "square"
    assert f"taking the {term} of each gradient row" in builtin.embedding_note
    assert f"where {builtin.code.split('(')[0]} takes the {term} of their sum" in builtin.embedding_note


def test_an_embedding_under_sgd_or_nadam():
    # SGD's update is linear in the gradient: the summed rows are Keras's. Nadam is torch's NAdam,
    # which refuses sparse gradients: the dense embedding and the note stay.
    assert lower("SGD", momentum=0.9, embeddings=True) == lower("SGD", momentum=0.9)
    nadam = lower("nadam", embeddings=True)
    assert nadam.code == "torch.optim.NAdam(params, lr=0.001, eps=1e-07, momentum_decay=1.0)"
    assert not nadam.sparse_gradients
    assert "torch.optim.NAdam takes the square of their sum" in nadam.embedding_note and nadam.note is None


# -- the option -----------------------------------------------------------------------------------

PROGRAM = """import keras

model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
"""


def test_translation_writes_keras_adam_unless_torch_optimizers_are_asked_for():
    from k2t.translate import Options, translate

    exact = translate(PROGRAM)
    assert "optimizer = KerasAdam(model.parameters(), lr=0.01)" in exact.code
    assert "class KerasAdam(torch.optim.AdamW):" in exact.code
    assert not [d for d in exact.diagnostics if d.code == "K2T404"]
    builtin = translate(PROGRAM, Options(torch_optimizers=True))
    assert "optimizer = torch.optim.Adam(model.parameters(), lr=0.01, eps=1e-07)" in builtin.code
    assert "KerasAdam" not in builtin.code
    assert [d.code for d in builtin.diagnostics if d.code == "K2T404"] == ["K2T404"]


EMBEDDING_PROGRAM = """import keras

model = keras.Sequential(
    [keras.Input((5,)), keras.layers.Embedding(10, 4), keras.layers.Flatten(), keras.layers.Dense(1)]
)
model.compile(optimizer=OPTIMIZER, loss="mse")
"""


@pytest.mark.parametrize(
    "optimizer, sparse, note",
    [
        ('"adam"', True, False),
        ('"adagrad"', True, False),
        ("keras.optimizers.SGD(0.1, momentum=0.9)", False, False),
        ('"nadam"', False, True),
    ],
)
def test_translation_writes_a_sparse_embedding_where_the_optimizer_takes_it(optimizer, sparse, note):
    from k2t.translate import translate

    result = translate(EMBEDDING_PROGRAM.replace("OPTIMIZER", optimizer))
    assert ("nn.Embedding(10, 4, sparse=True)" in result.code) is sparse
    assert ("def sparse_row_sum(" in result.code) is sparse
    notes = [d for d in result.diagnostics if d.code == "K2T404" and "sparse gradients" in d.message]
    assert bool(notes) is note


def test_a_regularized_embedding_stays_dense():
    # The penalty's gradient is dense, so Keras's (the sum with the per-token rows) is dense too.
    from k2t.translate import translate

    regularized = "Embedding(10, 4, embeddings_regularizer=keras.regularizers.l2(0.01))"
    program = EMBEDDING_PROGRAM.replace("Embedding(10, 4)", regularized)
    for optimizer in ('"adam"', '"nadam"'):
        result = translate(program.replace("OPTIMIZER", optimizer))
        assert "nn.Embedding(10, 4)\n" in result.code
        assert not [d for d in result.diagnostics if "sparse gradients" in d.message]


def test_torch_optimizers_keep_a_dense_embedding_with_the_note():
    from k2t.translate import Options, translate

    result = translate(EMBEDDING_PROGRAM.replace("OPTIMIZER", '"rmsprop"'), Options(torch_optimizers=True))
    assert "nn.Embedding(10, 4)\n" in result.code and "torch.optim.RMSprop(" in result.code
    assert [d for d in result.diagnostics if "torch.optim.RMSprop takes the square of their sum" in d.message]


def test_torch_optimizers_option_and_config_key(tmp_path):
    from click.testing import CliRunner

    from k2t.cli import main
    from k2t.config import ConfigError, load_config

    (tmp_path / ".git").mkdir()
    source = tmp_path / "m.py"
    source.write_text(PROGRAM)
    flag = CliRunner().invoke(main, ["convert", "--torch-optimizers", str(source)])
    assert "torch.optim.Adam(" in flag.stdout and "KerasAdam" not in flag.stdout
    assert "KerasAdam(" in CliRunner().invoke(main, ["convert", str(source)]).stdout
    (tmp_path / "pyproject.toml").write_text("[tool.k2t]\ntorch-optimizers = true\n")
    assert load_config(source).torch_optimizers is True
    assert "torch.optim.Adam(" in CliRunner().invoke(main, ["convert", str(source)]).stdout
    (tmp_path / "pyproject.toml").write_text('[tool.k2t]\ntorch-optimizers = "yes"\n')
    with pytest.raises(ConfigError, match="torch-optimizers"):
        load_config(source)
