"""The training loop k2t writes, timed against a hand-written torch loop and against Keras's fit.

    .venv/bin/python benchmarks/training_speed.py [--epochs 3] [--rounds 3] [--models mlp,cnn,rnn]

For an MLP, a CNN and an RNN (small Keras programs below, in-memory arrays, Adam, sparse
crossentropy, accuracy), in one process:

* generated: k2t converts the Keras program; its own `prepare_inputs`, `prepare_targets` and
  `train_one_epoch` run --epochs epochs, data conversion included;
* hand-written: the loop a PyTorch engineer writes for the same job (tensors converted once, one
  `randperm` per epoch, indexed batches, loss and accuracy summed on the device), with the same
  model class, optimizer and loss, so that only the loop differs;
* keras: Keras's own `model.fit` (TensorFlow backend, its defaults) on the same arrays, batch size
  and epochs, `verbose=0`.

Every side is warmed up by one epoch first (Keras traces its train step there); each round times the
three in turn, and the best round counts. Ratios above 1 mean faster than the reference:
generated/hand-written is the hand-written time over the generated time. Runs on CUDA when torch
sees a GPU (the generated code picks its device itself).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

BATCH_SIZE = 64

# name: (Keras program building `model`; its compile() sits in COMPILE, data comes from make_data)
PROGRAMS = {
    "mlp": """
import keras
from keras import layers

model = keras.Sequential([
    keras.Input(shape=(784,)),
    layers.Dense(256, activation="relu"),
    layers.Dense(256, activation="relu"),
    layers.Dense(10),
])
""",
    "cnn": """
import keras
from keras import layers

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(16, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(10),
])
""",
    "rnn": """
import keras
from keras import layers

model = keras.Sequential([
    keras.Input(shape=(40, 16)),
    layers.LSTM(64),
    layers.Dense(10),
])
""",
}
COMPILE = """
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
model.fit(x_train, y_train, batch_size=%d, epochs=1)
""" % BATCH_SIZE
SAMPLES = {"mlp": 16384, "cnn": 4096, "rnn": 4096}
SHAPES = {"mlp": (784,), "cnn": (28, 28, 1), "rnn": (40, 16)}


def make_data(name: str):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES[name], *SHAPES[name])).astype("float32")
    y = rng.integers(0, 10, size=SAMPLES[name])
    return x, y


def torch_namespace(name: str) -> dict:
    """The converted program's definitions (its script part stays under the __main__ guard)."""
    from k2t.translate import translate

    result = translate(PROGRAMS[name] + COMPILE)
    if result.errors:
        raise SystemExit(f"{name}: k2t left something untranslated: {result.errors}")
    namespace: dict = {"__name__": f"k2t_benchmark_{name}"}
    exec(compile(result.code, f"<k2t output: {name}>", "exec"), namespace)
    return namespace


def model_and_optimizer(namespace: dict):
    import torch

    model_classes = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, torch.nn.Module)
                     and v.__module__ == namespace["__name__"] and not v.__name__.startswith("Keras")]
    model = model_classes[0]().to(namespace["device"])
    return model, namespace["KerasAdam"](model.parameters(), lr=1e-3)


def generated_loop(namespace: dict, x, y, epochs: int) -> None:
    model, optimizer = model_and_optimizer(namespace)
    loss_fn = torch_loss()
    inputs, targets = namespace["prepare_inputs"](x), namespace["prepare_targets"](y)
    for _ in range(epochs):
        namespace["train_one_epoch"](model, optimizer, loss_fn, inputs, targets, BATCH_SIZE)


def hand_written_loop(namespace: dict, x, y, epochs: int) -> None:
    import torch

    device = namespace["device"]
    model, optimizer = model_and_optimizer(namespace)
    loss_fn = torch_loss()
    inputs = torch.from_numpy(x).to(device)
    if inputs.dim() == 4:  # channels-last arrays, NCHW model
        inputs = inputs.permute(0, 3, 1, 2).contiguous()
    targets = torch.from_numpy(y).to(device)
    for _ in range(epochs):
        model.train()
        total_loss = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        order = torch.randperm(len(targets), device=device)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            batch_targets = targets[batch]
            logits = model(inputs[batch])
            loss = loss_fn(logits, batch_targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.detach() * len(batch)
            correct += (logits.detach().argmax(1) == batch_targets).sum()
        _ = (total_loss.item() / len(order), correct.item() / len(order))


def torch_loss():
    from torch import nn

    return nn.CrossEntropyLoss()


def keras_fit(name: str, x, y, epochs: int) -> None:
    import keras

    namespace: dict = {}
    exec(PROGRAMS[name], namespace)
    model = namespace["model"]
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, verbose=0)  # traces the train step
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=epochs, verbose=0)
    return time.perf_counter() - start


def timed(function, *args) -> float:
    import torch

    start = time.perf_counter()
    function(*args)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", default=",".join(PROGRAMS))
    args = parser.parse_args()

    import tensorflow as tf
    import torch

    where = f"CUDA ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else f"CPU, {os.cpu_count()} cores"
    print(f"training speed, {args.epochs} epochs, batch {BATCH_SIZE}, best of {args.rounds} rounds; torch {torch.__version__}"
          f" and TensorFlow {tf.__version__} on {where}")
    print(f"{'model':<6} {'samples':>8} {'generated s':>12} {'hand s':>8} {'keras s':>8} {'gen/hand':>9} {'gen/keras':>10}")
    for name in args.models.split(","):
        namespace = torch_namespace(name)
        x, y = make_data(name)
        torch.manual_seed(0)
        generated_loop(namespace, x, y, 1)  # warm-up
        hand_written_loop(namespace, x, y, 1)
        best = {"generated": float("inf"), "hand": float("inf"), "keras": float("inf")}
        for _ in range(args.rounds):
            best["generated"] = min(best["generated"], timed(generated_loop, namespace, x, y, args.epochs))
            best["hand"] = min(best["hand"], timed(hand_written_loop, namespace, x, y, args.epochs))
            best["keras"] = min(best["keras"], keras_fit(name, x, y, args.epochs))
        print(
            f"{name:<6} {len(y):>8} {best['generated']:>12.3f} {best['hand']:>8.3f} {best['keras']:>8.3f}"
            f" {best['hand'] / best['generated']:>9.3f} {best['keras'] / best['generated']:>10.3f}"
        )
    print("gen/hand: hand-written time / generated time (goal >= 0.97); gen/keras: Keras fit time / generated"
          " time (goal > 1)")


if __name__ == "__main__":
    main()
