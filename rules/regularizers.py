"""Keras weight regularizers as penalty terms (Keras 3 semantics; the same formulas as Keras 2).

Keras adds every layer's `<weight>_regularizer(weight)` to the loss it trains on and reports, in
fit() and in evaluate():  l1 * sum(|w|) + l2 * sum(w**2)  (no 1/2, unlike some L2 conventions; not
torch's `weight_decay`, which changes the update instead of the loss).
Defaults: the strings "l1"/"l2" and l1()/l2() without a factor use 0.01. L1L2()/l1_l2() default
to 0.0 in Keras 3 but to 0.01 in Keras 2's l1_l2(): an omitted factor there is refused.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Penalty:
    l1: float = 0.0
    l2: float = 0.0

    def terms(self, weight: str) -> list[str]:
        """Code of the penalty on the tensor `weight` (one term per non-zero factor)."""
        terms = []
        if self.l1:
            terms.append(f"{self.l1!r} * {weight}.abs().sum()")
        if self.l2:
            terms.append(f"{self.l2!r} * {weight}.square().sum()")
        return terms


# Regularizer key (k2t.names canonical) -> (positional parameter names, Keras 3 defaults).
CLASSES = {
    "regularizers.L1": (("l1",), {"l1": 0.01}),
    "regularizers.l1": (("l1",), {"l1": 0.01}),
    "regularizers.L2": (("l2",), {"l2": 0.01}),
    "regularizers.l2": (("l2",), {"l2": 0.01}),
    "regularizers.L1L2": (("l1", "l2"), {}),  # no defaults: Keras 2 and 3 disagree
    "regularizers.l1_l2": (("l1", "l2"), {}),
}
STRINGS = {"l1": Penalty(l1=0.01), "l2": Penalty(l2=0.01), "L1": Penalty(l1=0.01), "L2": Penalty(l2=0.01)}


def penalty(key: str | None, positional: list, keywords: dict) -> Penalty | None:
    """The Penalty of `key(*positional, **keywords)` with known float values, or None."""
    if key not in CLASSES:
        return None
    names, defaults = CLASSES[key]
    if len(positional) > len(names):
        return None
    given = {**defaults, **dict(zip(names, positional)), **keywords}
    if set(given) != set(names) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in given.values()):
        return None
    return Penalty(l1=float(given.get("l1", 0.0)), l2=float(given.get("l2", 0.0)))
