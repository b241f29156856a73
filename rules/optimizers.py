"""Keras optimizers -> torch optimizers: Keras's exact update, or torch's built-in where it is the same.

With exact=True (the default) an optimizer whose torch built-in computes a different update becomes the
Keras* class of rules/keras_optimizers.py, which the output copies; with exact=False it becomes torch's
built-in and a note says how far it drifts (measured by tests/test_keras_optimizers.py's harness).
Keras: epsilon 1e-7 (torch 1e-8); SGD learning rate 0.01 (torch has no default); RMSprop rho 0.9
(torch alpha 0.99), epsilon inside the square root; Adagrad initial accumulator 0.1 (torch 0), epsilon
inside the square root; AdamW weight decay 0.004 (torch 0.01); Adam adds epsilon to sqrt(v) before
bias correction; Adamax adds epsilon outside its running max; Adamax and Nadam lr 0.001 (torch 0.002);
Nadam's momentum schedule is torch's NAdam with momentum_decay=1.0. Keras 3 `weight_decay` on any
optimizer is decoupled (torch AdamW semantics); for plain SGD that equals torch's L2 weight_decay.
SGD momentum is written velocity = momentum * velocity - lr * g in Keras: equal to torch's form for a
constant learning rate only.
An Embedding's gradient on TensorFlow has one row per token; each optimizer here but SGD squares (Adamax:
takes the absolute value of) each row before a repeated token's rows add up. Under those the Keras*
class takes nn.Embedding(sparse=True)'s gradient, which has the same rows; torch's built-ins (Nadam,
--torch-optimizers) take the summed dense gradient, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from k2t.rules.spec import Param, Unsupported, params

_LR = ("learning_rate", 0.001, ("lr",))
_COMMON = (("weight_decay", None), ("clipnorm", None), ("clipvalue", None), ("global_clipnorm", None))


@dataclass(frozen=True)
class OptimizerRule:
    name: str
    params: tuple[Param, ...]
    torch: str
    # Keras parameter -> torch keyword; always written for torch's class (the defaults differ or must
    # be visible); for the Keras class (whose defaults are Keras's) only the learning rate always is.
    always: dict
    # Keras parameter -> torch keyword; written when not the Keras default.
    optional: dict
    # How torch's built-in differs from Keras, measured (weights N(0, 1), gradients of magnitudes
    # 1e-8..1, Keras's defaults): the warning written with exact=False.
    note: str | None = None
    # The class in rules/keras_optimizers.py with Keras's exact update, where torch's differs.
    keras: str | None = None
    # torch keyword -> the Keras class's keyword, where they differ.
    keras_names: dict = field(default_factory=dict)
    # Keywords written as they are for torch's class.
    extra: tuple[str, ...] = ()
    # What Keras (TensorFlow) applies to each row of an Embedding's sparse gradient before a repeated
    # token's rows add up ("square", "absolute value"); None where the update is linear (SGD).
    per_row: str | None = "square"


_ADAM_NOTE = (
    "torch.optim.Adam and AdamW add eps to sqrt(v) after the bias correction, Keras before: weights with "
    "small gradients (|g| ~ 1e-6) differ by up to 0.7*lr after one step, 1.9*lr after 10"
)


OPTIMIZERS: dict[str, OptimizerRule] = {
    rule.name: rule
    for rule in [
        OptimizerRule(
            "SGD",
            params(("learning_rate", 0.01, ("lr",)), ("momentum", 0.0), ("nesterov", False), *_COMMON),
            "torch.optim.SGD",
            {"learning_rate": "lr"},
            {"momentum": "momentum", "nesterov": "nesterov"},
            note="torch.optim.SGD applies the current lr to its whole momentum buffer, Keras only to new "
            "gradients: five steps after a tenfold lr drop weights differ by about 6*lr (the lr before the drop)",
            keras="KerasSGD",
            per_row=None,
        ),
        OptimizerRule(
            "Adam",
            params(_LR, ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7), ("amsgrad", False), *_COMMON),
            "torch.optim.Adam",
            {"learning_rate": "lr", "epsilon": "eps"},
            {"amsgrad": "amsgrad"},
            note=_ADAM_NOTE,
            keras="KerasAdam",
        ),
        OptimizerRule(
            "AdamW",
            params(_LR, ("weight_decay", 0.004), ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7),
                   ("amsgrad", False), ("clipnorm", None), ("clipvalue", None), ("global_clipnorm", None)),
            "torch.optim.AdamW",
            {"learning_rate": "lr", "epsilon": "eps"},
            {"amsgrad": "amsgrad"},
            note=_ADAM_NOTE,
            keras="KerasAdam",
        ),
        OptimizerRule(
            "RMSprop",
            params(_LR, ("rho", 0.9), ("momentum", 0.0), ("epsilon", 1e-7), ("centered", False), *_COMMON),
            "torch.optim.RMSprop",
            {"learning_rate": "lr", "rho": "alpha", "epsilon": "eps"},
            {"momentum": "momentum", "centered": "centered"},
            note="torch.optim.RMSprop adds eps outside the square root, Keras inside (sqrt(v) is floored at "
            "3e-4): weights with small gradients differ by up to 3*lr after one step, 12*lr after 10",
            keras="KerasRMSprop",
            keras_names={"alpha": "rho"},
        ),
        OptimizerRule(
            "Adagrad",
            params(_LR, ("initial_accumulator_value", 0.1), ("epsilon", 1e-7), *_COMMON),
            "torch.optim.Adagrad",
            {"learning_rate": "lr", "initial_accumulator_value": "initial_accumulator_value", "epsilon": "eps"},
            {},
            note="torch.optim.Adagrad adds eps outside the square root, Keras inside: with an accumulator "
            "starting below 0.1, weights with small gradients differ by up to 1*lr after one step, 4*lr after 10",
            keras="KerasAdagrad",
        ),
        OptimizerRule(
            "Adamax",
            params(_LR, ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7), *_COMMON),
            "torch.optim.Adamax",
            {"learning_rate": "lr", "epsilon": "eps"},
            {},
            note="torch.optim.Adamax adds eps inside its running max, Keras after it: weights with gradients "
            "near eps differ by up to 0.004*lr after 10 steps",
            keras="KerasAdamax",
            per_row="absolute value",
        ),
        OptimizerRule(
            "Nadam",
            params(_LR, ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7), *_COMMON),
            "torch.optim.NAdam",
            {"learning_rate": "lr", "epsilon": "eps"},
            {},
            # Keras's momentum schedule beta_1 * (1 - 0.5 * 0.96**t) is torch's with momentum_decay=1.0
            # (torch's default 4e-3 differs by about 1*lr after 10 steps); the rest is the same update.
            extra=("momentum_decay=1.0",),
        ),
    ]
}

ALIASES = {
    "sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad",
    "adamax": "Adamax", "nadam": "Nadam",
}


@dataclass(frozen=True)
class OptimizerLowering:
    code: str  # the constructor call, with the parameters' expression in it
    snippet: str | None  # the class of rules/keras_optimizers.py the code uses, for the output to copy
    note: str | None  # a warning: how torch's built-in differs from Keras here (exact=False)
    # The optimizer takes an Embedding's gradient sparse (nn.Embedding(sparse=True)), as Keras does.
    sparse_gradients: bool = False
    # A warning: torch's built-in updates an Embedding from its summed (dense) gradient.
    embedding_note: str | None = None
    # Lines of the training step between loss.backward() and optimizer.step(): gradient clipping.
    clipping: tuple[str, ...] = ()


def optimizer_rule(name: str) -> OptimizerRule | None:
    name = name.removeprefix("optimizers.")
    return OPTIMIZERS.get(ALIASES.get(name, name))


def _torch_differs(rule: OptimizerRule, args: dict, decay, moving: bool, changing_lr: bool) -> bool:
    """Whether torch's built-in computes another update than Keras for these arguments."""
    if rule.name == "SGD":
        # Keras's velocity form is torch's for a constant lr, and without momentum torch's L2
        # weight_decay is Keras's decoupled one.
        return moving and (changing_lr or decay is not None)
    if rule.name == "Adagrad":
        # eps outside the root changes sqrt(s) by under 1e-6 relative once s >= 0.1.
        initial = args["initial_accumulator_value"]
        small = not (initial.known and isinstance(initial.value, (int, float)) and initial.value >= 0.1)
        return small or decay is not None
    return rule.keras is not None


def _keywords(rule: OptimizerRule, args: dict, keras_class: bool) -> list[str]:
    """The keywords of torch's class, or of the Keras class (whose defaults are Keras's)."""
    options = []
    for keras_name, torch_name in rule.always.items():
        arg = args[keras_name]
        if keras_class:
            if keras_name != "learning_rate" and arg.known and arg.value == _default(rule, keras_name):
                continue
            torch_name = rule.keras_names.get(torch_name, torch_name)
        options.append(f"{torch_name}={arg.code}")
    if "beta_1" in args and not (args["beta_1"].value == 0.9 and args["beta_2"].value == 0.999):
        options.append(f"betas=({args['beta_1'].code}, {args['beta_2'].code})")
    for keras_name, torch_name in rule.optional.items():
        arg = args[keras_name]
        if not (arg.known and arg.value == _default(rule, keras_name)):
            options.append(f"{torch_name}={arg.code}")
    return options


def _default(rule: OptimizerRule, name: str):
    return next(p.default for p in rule.params if p.name == name)


def sparse_embedding_note(rule: OptimizerRule, torch_class: str) -> str:
    """The K2T404 note where torch's built-in updates an Embedding from its summed dense gradient."""
    return (
        f"Keras on TensorFlow updates an Embedding from sparse gradients, taking the {rule.per_row} of each "
        f"gradient row of a token repeated in a batch where {torch_class} takes the {rule.per_row} of their "
        "sum: the embedding rows of repeated tokens train slightly differently"
    )


def _clipping(rule: OptimizerRule, args: dict, sparse) -> tuple[str, ...]:
    """Keras clips the gradients before the update: by each weight's own norm (clipnorm), by their
    global norm (global_clipnorm) or elementwise (clipvalue); Keras allows one of them."""
    given = [name for name in ("clipnorm", "global_clipnorm", "clipvalue") if name in args and args[name].value is not None]
    if not given:
        return ()
    if len(given) > 1:
        raise Unsupported(f"{rule.name}: Keras accepts only one of clipnorm, clipvalue and global_clipnorm", "K2T401")
    name, code = given[0], args[given[0]].code
    if sparse:
        raise Unsupported(f"{rule.name}({name}=...) with an Embedding's sparse gradient has no translation yet", "K2T401")
    if name == "clipnorm":
        return (
            f"# Keras's clipnorm={code}: each weight's gradient is clipped to that norm on its own.",
            "for parameter in model.parameters():",
            f"    nn.utils.clip_grad_norm_(parameter, {code})",
        )
    if name == "global_clipnorm":
        return (f"nn.utils.clip_grad_norm_(model.parameters(), {code})  # Keras's global_clipnorm",)
    return (f"nn.utils.clip_grad_value_(model.parameters(), {code})  # Keras's clipvalue",)


def lower_optimizer(
    rule: OptimizerRule, args: dict, parameters: str, exact: bool = True, changing_lr: bool = False,
    embeddings: bool = False,
) -> OptimizerLowering:
    """args: parameter name -> Value. exact: write Keras's update where torch's built-in differs;
    changing_lr: the program changes the learning rate while training (callbacks); embeddings: the
    model has an Embedding (under a per-row rule the Keras class then takes sparse gradients)."""
    clipping = _clipping(rule, args, sparse=embeddings and rule.per_row is not None and exact and rule.keras)
    decay = args.get("weight_decay")
    decay = decay if decay is not None and decay.value is not None else None
    momentum = args.get("momentum")
    moving = momentum is not None and not (momentum.known and not momentum.value)
    differs = _torch_differs(rule, args, decay, moving, changing_lr)
    sparse = embeddings and rule.per_row is not None
    if (differs or sparse) and exact and rule.keras:
        options = _keywords(rule, args, keras_class=True)
        if decay is not None:
            options.append(f"weight_decay={decay.code}")
        name = f"{rule.keras}Sparse" if sparse else rule.keras  # the sparse-row branch only where used
        return OptimizerLowering(f"{name}({', '.join([parameters, *options])})", name, None, sparse, clipping=clipping)
    torch_class = rule.torch
    options = [*_keywords(rule, args, keras_class=False), *rule.extra]
    if decay is not None or rule.name == "AdamW":
        # Keras 3 decouples weight decay: torch's AdamW, NAdam(decoupled_weight_decay=True) and, being
        # an L2 term that goes nowhere but the gradient, plain SGD's weight_decay.
        if rule.name == "Adam":
            torch_class = "torch.optim.AdamW"
        elif rule.name not in ("AdamW", "Nadam") and (rule.name != "SGD" or moving):
            hint = "" if exact else " (k2t writes Keras's exact update without --torch-optimizers)"
            raise Unsupported(
                f"{rule.name}(weight_decay=...) is decoupled in Keras 3; torch's is an L2 term{hint}", "K2T401"
            )
        options.append(f"weight_decay={decay.code if decay is not None else 0.0}")
        if rule.name == "Nadam":
            options.append("decoupled_weight_decay=True")
    note = rule.note if differs else None
    embedding_note = sparse_embedding_note(rule, torch_class) if sparse else None
    return OptimizerLowering(
        f"{torch_class}({', '.join([parameters, *options])})", None, note, False, embedding_note, clipping
    )
