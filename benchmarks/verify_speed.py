"""How long `k2t verify` takes per model once TensorFlow and torch are imported.

    .venv/bin/python benchmarks/verify_speed.py [--train-steps 10]

Verifies every fixture pair (fixtures/*/NAME.keras.py against NAME.torch.py) in one process, as
`k2t verify --pairs` does: prints the import cost paid once, then the time per model (median and
worst) for the forward comparison, and with --train-steps also for the training comparison. Then
the whole `k2t verify --pairs FILE` command over the same pairs, wall clock, as CI runs it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pairs() -> list[tuple[Path, Path]]:
    cases = sorted((ROOT / "fixtures").glob("*/*.keras.py"))
    return [(p, p.with_name(p.name.replace(".keras.py", ".torch.py"))) for p in cases]


def per_model(train_steps: int) -> list[float]:
    from k2t.verify import verify_sources

    times = []
    for keras_path, torch_path in pairs():
        keras_text, torch_text = keras_path.read_text(encoding="utf-8"), torch_path.read_text(encoding="utf-8")
        start = time.perf_counter()
        verdicts = verify_sources(keras_text, torch_text, str(keras_path), str(torch_path), train_steps=train_steps)
        times.append((time.perf_counter() - start) / max(len(verdicts), 1))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-steps", type=int, default=10)
    args = parser.parse_args()

    start = time.perf_counter()
    from k2t.verify import compare  # noqa: F401 - imports TensorFlow and torch

    print(f"imports (TensorFlow, torch), paid once per process: {time.perf_counter() - start:.2f} s")
    count = len(pairs())
    per_model(0)  # first use of each layer type traces and caches; the figures below are steady
    for steps in sorted({0, args.train_steps}):
        times = per_model(steps)
        what = "forward only" if steps == 0 else f"with --train-steps {steps}"
        print(f"verify per model, {what}: median {statistics.median(times):.3f} s, worst {max(times):.3f} s"
              f" ({count} fixture pairs)")

    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "pairs.txt"
        listing.write_text("".join(f"{k} {t}\n" for k, t in pairs()))
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("k2t")), "verify", "--pairs", str(listing)], capture_output=True)
        elapsed = time.perf_counter() - start
    print(f"`k2t verify --pairs` over the {count} pairs: {elapsed:.1f} s wall, {elapsed / count:.2f} s per pair"
          " including the imports")


if __name__ == "__main__":
    main()
