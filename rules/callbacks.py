"""Keras callbacks -> the small callback classes copied from snippets.py into the output.

Each keeps the Keras semantics that matter to training: EarlyStopping's patience, min_delta, baseline
and restore_best_weights (restored at the end of training, as Keras 3 does); ReduceLROnPlateau's
factor, patience, cooldown and min_lr (and the learning rate it logs into the History);
LearningRateScheduler's schedule(epoch, lr); ModelCheckpoint's filepath template and save_best_only
(it saves the state_dict); CSVLogger.
"""

from __future__ import annotations

# canonical key -> (snippet class, the Keras parameters it takes, in order)
CALLBACKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "callbacks.EarlyStopping": (
        "EarlyStopping",
        ("monitor", "min_delta", "patience", "verbose", "mode", "baseline", "restore_best_weights",
         "start_from_epoch"),
    ),
    "callbacks.ReduceLROnPlateau": (
        "ReduceLROnPlateau",
        ("monitor", "factor", "patience", "verbose", "mode", "min_delta", "cooldown", "min_lr"),
    ),
    "callbacks.LearningRateScheduler": ("LearningRateScheduler", ("schedule", "verbose")),
    "callbacks.ModelCheckpoint": (
        "ModelCheckpoint",
        ("filepath", "monitor", "verbose", "save_best_only", "save_weights_only", "mode", "save_freq",
         "initial_value_threshold"),
    ),
    "callbacks.CSVLogger": ("CSVLogger", ("filename", "separator", "append")),
}

ALIASES = {"callbacks.LRScheduler": "callbacks.LearningRateScheduler"}
