"""Shared helpers: the fixture corpus and a way to run generated programs without TensorFlow."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def fixture_cases() -> list[Path]:
    return sorted(FIXTURES.glob("*/*.keras.py"))


def expected_path(keras_path: Path, suffix: str = ".torch.py") -> Path:
    return keras_path.with_name(keras_path.name[: -len(".keras.py")] + suffix)


def verify_input_shape(keras_path: Path) -> tuple | None:
    """A fixture whose input shape comes from its data says it for verify, as a user passes
    --input-shape: a line `# k2t verify --input-shape 60,1`."""
    match = re.search(r"^# k2t verify --input-shape ([\d,]+)$", keras_path.read_text(encoding="utf-8"), re.MULTILINE)
    return tuple(int(d) for d in match.group(1).split(",")) if match else None


def case_id(keras_path: Path) -> str:
    return f"{keras_path.parent.name}/{keras_path.name[: -len('.keras.py')]}"


# Runs a script with tensorflow and keras made unimportable, then prints the loss of each epoch
# its fit() loops trained (recorded around the generated train_one_epoch, which the program
# calls whether or not it keeps a History), or null where it trains nothing.
_TORCH_ONLY = """
import ast, json, sys
import torch
torch.manual_seed(0)  # deterministic initialisation and shuffling: the loss check must not flake
sys.modules["tensorflow"] = None
sys.modules["keras"] = None
losses = []

def record(train_one_epoch):
    def recorded(*args, **kwargs):
        logs = train_one_epoch(*args, **kwargs)
        losses.append(float(logs["loss"]))
        return logs
    return recorded

path = sys.argv[1]
tree = ast.parse(open(path, encoding="utf-8").read())
for i, node in enumerate(tree.body):
    if isinstance(node, ast.FunctionDef) and node.name == "train_one_epoch":
        tree.body.insert(i + 1, ast.parse("train_one_epoch = __k2t_record(train_one_epoch)").body[0])
        break
exec(compile(tree, path, "exec"), {"__name__": "__main__", "__file__": path, "__k2t_record": record})
print("K2T-LOSSES " + json.dumps(losses or None))
"""


def run_torch_only(path: Path, cwd: Path) -> subprocess.CompletedProcess:
    # One thread: torch's default oversubscribes a 2-core CI machine running other tests.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", _TORCH_ONLY, str(path)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="session")
def update_fixtures() -> bool:
    """K2T_UPDATE_FIXTURES=1 rewrites expected outputs; read every rewritten file before committing."""
    return os.environ.get("K2T_UPDATE_FIXTURES") == "1"
