"""Keras optimizers -> torch.optim, with Keras defaults written out where torch's differ.

Keras: epsilon 1e-7 (torch 1e-8); SGD learning rate 0.01 (torch has no default); RMSprop rho 0.9
(torch alpha 0.99); Adagrad initial accumulator 0.1 (torch 0); AdamW weight decay 0.004 (torch 0.01).
Keras 3 `weight_decay` on any optimizer is decoupled (torch AdamW semantics).
Differences torch cannot express are returned as notes: Keras Adam adds epsilon to sqrt(v) before
bias correction ("epsilon hat"); RMSprop and Adagrad put epsilon inside the square root.
SGD momentum is written velocity = momentum * velocity - lr * g in Keras: equal to torch's form for a
constant learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from k2t.rules.spec import Param, Unsupported, params

_LR = ("learning_rate", 0.001, ("lr",))
_COMMON = (("weight_decay", None), ("clipnorm", None), ("clipvalue", None), ("global_clipnorm", None))


@dataclass(frozen=True)
class OptimizerRule:
    name: str
    params: tuple[Param, ...]
    torch: str
    # Keras parameter -> torch keyword; always written (the defaults differ or must be visible).
    always: dict
    # Keras parameter -> torch keyword; written when not the Keras default.
    optional: dict
    note: str | None = None


OPTIMIZERS: dict[str, OptimizerRule] = {
    rule.name: rule
    for rule in [
        OptimizerRule(
            "SGD",
            params(("learning_rate", 0.01, ("lr",)), ("momentum", 0.0), ("nesterov", False), *_COMMON),
            "torch.optim.SGD",
            {"learning_rate": "lr"},
            {"momentum": "momentum", "nesterov": "nesterov"},
        ),
        OptimizerRule(
            "Adam",
            params(_LR, ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7), ("amsgrad", False), *_COMMON),
            "torch.optim.Adam",
            {"learning_rate": "lr", "epsilon": "eps"},
            {"amsgrad": "amsgrad"},
            note="Keras Adam adds epsilon before bias correction (torch after): early updates of weights with small gradients differ",
        ),
        OptimizerRule(
            "AdamW",
            params(_LR, ("weight_decay", 0.004), ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7),
                   ("amsgrad", False), ("clipnorm", None), ("clipvalue", None), ("global_clipnorm", None)),
            "torch.optim.AdamW",
            {"learning_rate": "lr", "epsilon": "eps", "weight_decay": "weight_decay"},
            {"amsgrad": "amsgrad"},
            note="Keras AdamW adds epsilon before bias correction (torch after): early updates of weights with small gradients differ",
        ),
        OptimizerRule(
            "RMSprop",
            params(_LR, ("rho", 0.9), ("momentum", 0.0), ("epsilon", 1e-7), ("centered", False), *_COMMON),
            "torch.optim.RMSprop",
            {"learning_rate": "lr", "rho": "alpha", "epsilon": "eps"},
            {"momentum": "momentum", "centered": "centered"},
            note="Keras RMSprop puts epsilon inside the square root; torch adds it outside",
        ),
        OptimizerRule(
            "Adagrad",
            params(_LR, ("initial_accumulator_value", 0.1), ("epsilon", 1e-7), *_COMMON),
            "torch.optim.Adagrad",
            {"learning_rate": "lr", "initial_accumulator_value": "initial_accumulator_value", "epsilon": "eps"},
            {},
            note="Keras Adagrad puts epsilon inside the square root; torch adds it outside",
        ),
    ]
}

ALIASES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}


def optimizer_rule(name: str) -> OptimizerRule | None:
    name = name.removeprefix("optimizers.")
    return OPTIMIZERS.get(ALIASES.get(name, name))


def lower_optimizer(rule: OptimizerRule, args: dict, parameters: str) -> str:
    """args: parameter name -> Value. Returns the torch constructor call."""
    for name in ("clipnorm", "clipvalue", "global_clipnorm"):
        if name in args and args[name].value is not None:
            raise Unsupported(f"{rule.name}({name}=...) has no translation yet: clip in the loop", "K2T401")
    torch_class = rule.torch
    options = []
    for keras_name, torch_name in rule.always.items():
        options.append(f"{torch_name}={args[keras_name].code}")
    if "beta_1" in args and not (args["beta_1"].value == 0.9 and args["beta_2"].value == 0.999):
        options.append(f"betas=({args['beta_1'].code}, {args['beta_2'].code})")
    for keras_name, torch_name in rule.optional.items():
        arg = args[keras_name]
        default = next(p.default for p in rule.params if p.name == keras_name)
        if not (arg.known and arg.value == default):
            options.append(f"{torch_name}={arg.code}")
    decay = args.get("weight_decay")
    if rule.name != "AdamW" and decay is not None and decay.value is not None:
        if rule.name != "Adam":
            raise Unsupported(
                f"{rule.name}(weight_decay=...) is decoupled in Keras 3; torch's is an L2 term", "K2T401"
            )
        torch_class = "torch.optim.AdamW"  # Keras 3 decouples weight decay: AdamW's update
        options.append(f"weight_decay={decay.code}")
    return f"{torch_class}({', '.join([parameters, *options])})"
