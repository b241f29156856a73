"""Print conversion speed (lines/s) over the fixtures and the time verify takes per model.

    .venv/bin/python benchmarks/bench.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from k2t import translate

    cases = sorted((ROOT / "fixtures").glob("*/*.keras.py"))
    sources = [p.read_text(encoding="utf-8") for p in cases]
    lines = sum(s.count("\n") + 1 for s in sources)
    translate(sources[0])  # warm up imports and caches
    timings = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        for source in sources:
            translate(source)
        timings.append(time.perf_counter() - start)
    best = min(timings)
    print(f"convert: {len(cases)} files, {lines} lines, best of {args.repeat}: {best:.3f} s "
          f"({lines / best:,.0f} lines/s, {1000 * best / len(cases):.1f} ms/file)")

    from k2t.verify import verify_sources

    start = time.perf_counter()
    verify_sources(sources[0], translate(sources[0]).code)
    print(f"verify: first call (imports TensorFlow and torch): {time.perf_counter() - start:.2f} s")
    per_model = []
    for path, source in zip(cases, sources):
        torch_path = path.with_name(path.name.replace(".keras.py", ".torch.py"))
        start = time.perf_counter()
        verdicts = verify_sources(source, torch_path.read_text(encoding="utf-8"))
        per_model.append((time.perf_counter() - start) / max(len(verdicts), 1))
    print(f"verify: {len(per_model)} fixtures, per model median {statistics.median(per_model):.3f} s, "
          f"max {max(per_model):.3f} s")


if __name__ == "__main__":
    main()
