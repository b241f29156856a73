"""Keras losses -> torch losses, fusing the model's last activation where Keras semantics allow.

softmax + categorical_crossentropy must not become probabilities fed to CrossEntropyLoss (a double
softmax): the model returns logits, CrossEntropyLoss takes them (one-hot/soft float targets, or class
indices for the sparse loss) and predict() applies the softmax. sigmoid + binary_crossentropy ->
BCEWithLogitsLoss likewise. from_logits=True means there is no activation to fuse.
Keras averages per-sample losses over the batch, as torch's reduction='mean' does here.
"""

from __future__ import annotations

from dataclasses import dataclass

from k2t.rules.spec import Param, Unsupported, params


@dataclass(frozen=True)
class LossRule:
    name: str  # Keras function name, the key of the table
    params: tuple[Param, ...]
    torch: str  # torch class for the logits form (or the only form)
    fuses: str | None = None  # activation folded into the loss when the model ends with it
    on_probabilities: str | None = None  # torch class when outputs are probabilities
    accuracy: str = "categorical"  # what metrics=['accuracy'] means with this loss


_CROSSENTROPY = params(("from_logits", False), ("label_smoothing", 0.0), ("axis", -1))

LOSSES: dict[str, LossRule] = {
    rule.name: rule
    for rule in [
        LossRule(
            "categorical_crossentropy",
            _CROSSENTROPY,
            "nn.CrossEntropyLoss",
            fuses="softmax",
            on_probabilities="ProbabilityCrossentropy",  # e.g. sigmoid outputs: a snippet
        ),
        LossRule(
            "sparse_categorical_crossentropy",
            params(("from_logits", False), ("ignore_class", None), ("axis", -1)),
            "nn.CrossEntropyLoss",
            fuses="softmax",
            on_probabilities="SparseProbabilityCrossentropy",  # e.g. a subclassed model's softmax output
            accuracy="sparse_categorical",
        ),
        LossRule(
            "binary_crossentropy",
            _CROSSENTROPY,
            "nn.BCEWithLogitsLoss",
            fuses="sigmoid",
            on_probabilities="nn.BCELoss",
            accuracy="binary",
        ),
        LossRule("mean_squared_error", params(), "nn.MSELoss"),
        LossRule("mean_absolute_error", params(), "nn.L1Loss"),
        LossRule("huber", params(("delta", 1.0)), "nn.HuberLoss"),
    ]
}

# String spellings and class names of the same losses.
ALIASES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "huber_loss": "huber",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "BinaryCrossentropy": "binary_crossentropy",
    "MeanSquaredError": "mean_squared_error",
    "MeanAbsoluteError": "mean_absolute_error",
    "Huber": "huber",
}


def loss_rule(name: str) -> LossRule | None:
    name = name.removeprefix("losses.")
    return LOSSES.get(ALIASES.get(name, name))


@dataclass(frozen=True)
class LossLowering:
    code: str  # the torch loss constructor
    fused: str | None  # activation removed from the model's forward and applied in predict()
    logits: bool  # whether the model's output is logits (for accuracy thresholds)
    snippet: str | None = None  # a helper the loss needs in the output
    keras_function: bool = False  # code is a function of the program, called as fn(y_true, y_pred)


def lower_loss(rule: LossRule, args: dict, last_activation: str | None) -> LossLowering:
    """args: parameter name -> static value (Keras defaults filled in)."""
    options = []
    smoothing = args.get("label_smoothing", 0.0)
    if smoothing:
        if rule.name != "categorical_crossentropy":
            raise Unsupported(f"{rule.name}(label_smoothing=...) has no torch equivalent yet", "K2T401")
        options.append(f"label_smoothing={smoothing!r}")
    if args.get("ignore_class") is not None:
        options.append(f"ignore_index={args['ignore_class']!r}")
    if "delta" in args and args["delta"] != 1.0:
        options.append(f"delta={args['delta']!r}")
    from_logits = bool(args.get("from_logits", False))
    if rule.fuses is None:
        return LossLowering(f"{rule.torch}({', '.join(options)})", None, False)
    if from_logits:
        return LossLowering(f"{rule.torch}({', '.join(options)})", None, True)
    if last_activation == rule.fuses:
        return LossLowering(f"{rule.torch}({', '.join(options)})", rule.fuses, True)
    if rule.on_probabilities:
        snippet = None if rule.on_probabilities.startswith("nn.") else rule.on_probabilities
        if snippet and options:
            raise Unsupported(f"{rule.name} on probabilities with {', '.join(options)} has no translation yet", "K2T401")
        return LossLowering(f"{rule.on_probabilities}({', '.join(options)})", None, False, snippet)
    raise Unsupported(
        f"{rule.name} on outputs that do not end in {rule.fuses} (and from_logits=False) "
        "has no torch equivalent yet",
        "K2T401",
    )
