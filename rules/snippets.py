"""Helper code that translations copy into their output, each top-level definition on its own.

This file is real Python so that it is linted and tested like the rest, but nothing imports it at run
time: the engine copies the definitions a translation uses (and those they use, found by name) into
the generated file, so the output needs nothing from k2t. Keep every function short and readable:
users will read and own this code.
"""

import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def to_categorical(labels, num_classes=None):
    """One-hot float32 rows, as keras.utils.to_categorical."""
    labels = np.asarray(labels, dtype="int64")
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if num_classes is None:
        num_classes = int(labels.max()) + 1
    return np.eye(num_classes, dtype="float32")[labels]


def to_tensor(array, dtype=torch.float32, channels_first=False):
    """A numpy array as a tensor of dtype (Keras casts inputs to float32)."""
    tensor = torch.as_tensor(np.asarray(array)).to(dtype)
    if channels_first and tensor.dim() > 2:
        # Keras arrays are channels-last; the model takes (N, C, ...).
        tensor = tensor.movedim(-1, 1)
    return tensor


def align_target(loss_fn, target, output):
    """Shape labels like Keras: class indices for sparse crossentropy, the output's shape otherwise."""
    if isinstance(loss_fn, nn.CrossEntropyLoss) and target.shape != output.shape:
        return target.long().view(output.shape[:-1])
    return target.to(output.dtype).view(output.shape)


def categorical_accuracy(output, target):
    return (output.argmax(-1) == target.argmax(-1)).float()


def sparse_categorical_accuracy(output, target):
    return (output.argmax(-1) == target.view(output.shape[:-1])).float()


def binary_accuracy(output, target, threshold=0.5):
    return ((output > threshold).float() == target).float().mean(-1)


def mean_absolute_error(output, target):
    return (output - target).abs().mean(-1)


def mean_squared_error(output, target):
    return (output - target).square().mean(-1)


class History:
    """What Keras's fit() returns: .history maps 'loss', metric and 'val_' names to epoch values."""

    def __init__(self):
        self.history = {}
        self.epoch = []

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)


def as_list(x):
    """Keras takes one array or a list of arrays (one per model input)."""
    return list(x) if isinstance(x, (list, tuple)) else [x]


def make_loader(x, y, batch_size, shuffle, input_dtype, channels_first, device):
    inputs = [to_tensor(array, input_dtype, channels_first) for array in as_list(x)]
    dataset = TensorDataset(*inputs, to_tensor(y))
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, pin_memory=device.type == "cuda"
    )


def run_epoch(model, loader, loss_fn, metrics, device, optimizer=None):
    """One pass over the loader; trains when an optimizer is given. Returns averaged logs."""
    model.train(optimizer is not None)
    totals = {name: torch.zeros((), device=device) for name in ["loss", *metrics]}
    seen = 0
    with torch.set_grad_enabled(optimizer is not None):
        for *inputs, targets in loader:
            inputs = [tensor.to(device, non_blocking=True) for tensor in inputs]
            targets = targets.to(device, non_blocking=True)
            outputs = model(*inputs)
            targets = align_target(loss_fn, targets, outputs)
            loss = loss_fn(outputs, targets)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            # Keras weights each batch by its size; sums stay on the device (no per-batch sync).
            totals["loss"] += loss.detach() * len(targets)
            for name, metric in metrics.items():
                totals[name] += metric(outputs.detach(), targets).sum()
            seen += len(targets)
    return {name: total.item() / max(seen, 1) for name, total in totals.items()}


def format_logs(logs):
    return " - ".join(f"{name}: {value:.4f}" for name, value in logs.items())


def fit(
    model,
    x,
    y,
    *,
    optimizer,
    loss_fn,
    metrics=None,
    epochs=1,
    batch_size=32,
    verbose=1,
    validation_split=0.0,
    validation_data=None,
    shuffle=True,
    initial_epoch=0,
    input_dtype=torch.float32,
    channels_first=False,
):
    """Keras's model.fit(): train on numpy arrays and return a History."""
    device = next(model.parameters()).device
    metrics = metrics or {}
    if validation_split and validation_data is None:
        # Keras validates on the last fraction of the arrays, taken before any shuffling.
        split = int(len(y) * (1.0 - validation_split))
        validation_data = ([a[split:] for a in as_list(x)], y[split:])
        x, y = [a[:split] for a in as_list(x)], y[:split]
    train_loader = make_loader(x, y, batch_size, shuffle, input_dtype, channels_first, device)
    val_loader = None
    if validation_data is not None:
        val_x, val_y = validation_data[0], validation_data[1]
        val_loader = make_loader(val_x, val_y, batch_size, False, input_dtype, channels_first, device)
    history = History()
    for epoch in range(initial_epoch, epochs):
        start = time.perf_counter()
        logs = run_epoch(model, train_loader, loss_fn, metrics, device, optimizer)
        if val_loader is not None:
            val_logs = run_epoch(model, val_loader, loss_fn, metrics, device)
            logs.update({f"val_{name}": value for name, value in val_logs.items()})
        history.append(epoch, logs)
        if verbose:
            seconds = time.perf_counter() - start
            steps = len(train_loader)
            print(f"Epoch {epoch + 1}/{epochs}")
            print(f"{steps}/{steps} - {seconds:.0f}s - {format_logs(logs)}")
    return history


def evaluate(
    model,
    x,
    y,
    *,
    loss_fn,
    metrics=None,
    batch_size=32,
    verbose=1,
    input_dtype=torch.float32,
    channels_first=False,
):
    """Keras's model.evaluate(): the loss, or [loss, *metrics] when metrics were compiled."""
    device = next(model.parameters()).device
    metrics = metrics or {}
    loader = make_loader(x, y, batch_size, False, input_dtype, channels_first, device)
    logs = run_epoch(model, loader, loss_fn, metrics, device)
    if verbose:
        print(f"{len(loader)}/{len(loader)} - {format_logs(logs)}")
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


@torch.no_grad()
def predict(
    model,
    x,
    *,
    batch_size=32,
    output_activation=None,
    input_dtype=torch.float32,
    channels_first=False,
):
    """Keras's model.predict(): outputs as a numpy array, computed in eval mode in batches."""
    device = next(model.parameters()).device
    model.eval()
    inputs = [to_tensor(array, input_dtype, channels_first) for array in as_list(x)]
    outputs = []
    for batch in DataLoader(TensorDataset(*inputs), batch_size=batch_size):
        output = model(*[tensor.to(device, non_blocking=True) for tensor in batch])
        if output_activation is not None:
            output = output_activation(output)
        outputs.append(output.cpu())
    return torch.cat(outputs).numpy()
