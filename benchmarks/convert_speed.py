"""Convert speed beside its floor, check speed, start-up time and -j scaling, on real Keras code.

    .venv/bin/python benchmarks/convert_speed.py [--rounds 3] [--cli-rounds 2] [--no-cli]

Corpus: the project's Keras programs (fixtures/*/*.keras.py) and the Keras sources installed with the
keras package, keras/src/applications/*.py and keras/src/datasets/*.py (real Keras code: functional
models, layer calls, backend and file utilities; ``__init__.py`` files left out). Lines are lines of
the inputs.

In one process, per file and interleaved (best of --rounds for each file, so that a busy machine
disturbs both sides alike):

* convert: what `k2t convert` does per file (read, translate, format, list the Keras uses, encode);
* check: what `k2t check` does per file (the same without black where the answer does not need it);
* floor: what any libcst-based converter of the same files pays at least: libcst parse, qualified
  names and scopes resolved, code generation, and black on the source; floor*: the same with black
  on k2t's output as black gets it instead (larger where k2t writes model classes and loops).

Then, as commands: `k2t convert DIR -o OUT -j 1` and `-j 2` (scaling), `k2t check DIR`, the start-up
of `k2t --help` and of `k2t check` on one file without Keras, and `k2t check` on 200 such files.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def corpus() -> list[tuple[Path, str]]:
    """(path, group) of every corpus file."""
    files = [(p, "fixtures") for p in sorted((ROOT / "fixtures").glob("*/*.keras.py"))]
    spec = importlib.util.find_spec("keras")
    if spec is not None and spec.origin:
        keras_src = Path(spec.origin).parent / "src"
        for group in ("applications", "datasets"):
            files += [(p, f"keras/{group}") for p in sorted((keras_src / group).glob("*.py")) if p.name != "__init__.py"]
    return files


def _floor(source: str, output: str | None = None) -> float:
    import black
    import libcst as cst
    from libcst.metadata import QualifiedNameProvider, ScopeProvider

    start = time.perf_counter()
    module = cst.parse_module(source)
    cst.MetadataWrapper(module, unsafe_skip_copy=True).resolve_many([QualifiedNameProvider, ScopeProvider])
    code = module.code
    try:
        black.format_str(output if output is not None else code, mode=black.Mode())
    except Exception:  # noqa: BLE001 - black refuses some sources; the time spent still counts
        pass
    return time.perf_counter() - start


def _unformatted_output(source: str) -> str:
    """k2t's output as black receives it (black is slower on it than on its own result)."""
    from k2t.translate import Options, translate

    try:
        return translate(source, Options(formatted=False)).code
    except Exception:  # noqa: BLE001 - an older k2t, or bad input: black on the source instead
        return source


def _timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def in_process(files: list[tuple[Path, str]], rounds: int) -> dict:
    import dataclasses

    from k2t.cli import convert_file
    from k2t.translate import Options

    # What `k2t check` passes (older versions of k2t checked with convert's options).
    fields = {f.name for f in dataclasses.fields(Options)}
    check_options = Options(formatted=False) if "formatted" in fields else Options()
    sources = [p.read_text(encoding="utf-8") for p, _ in files]
    for path, _ in files:  # warm up imports and caches
        convert_file(str(path))
    outputs = [_unformatted_output(source) for source in sources]
    best = {name: [float("inf")] * len(files) for name in ("convert", "check", "floor", "floor_out")}
    for _ in range(rounds):
        for i, ((path, _), source) in enumerate(zip(files, sources)):
            times = {
                "floor": _floor(source),
                "convert": _timed(convert_file, str(path)),
                "check": _timed(convert_file, str(path), check_options),
                "floor_out": _floor(source, outputs[i]),
            }
            for name, value in times.items():
                best[name][i] = min(best[name][i], value)
    lines = [source.count("\n") + 1 for source in sources]
    groups = {}
    for i, (_, group) in enumerate(files):
        groups.setdefault(group, []).append(i)
    groups["all"] = list(range(len(files)))
    return {
        group: {name: (sum(lines[i] for i in idx), sum(best[name][i] for i in idx)) for name in best}
        for group, idx in groups.items()
    }


def _k2t() -> list[str]:
    script = Path(sys.executable).with_name("k2t")
    return [str(script)] if script.exists() else [sys.executable, "-m", "k2t.cli"]


def _run(args: list[str], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        best = min(best, time.perf_counter() - start)
    return best


def commands(files: list[tuple[Path, str]], rounds: int) -> dict:
    k2t = _k2t()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "corpus"
        for path, group in files:
            target = tree / group.replace("/", "_") / (path.parent.name + "__" + path.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)

        def convert(jobs: int) -> float:
            best = float("inf")
            for i in range(rounds):
                out = Path(tmp) / f"out{jobs}_{i}"
                best = min(best, _run([*k2t, "convert", str(tree), "-o", str(out), "-j", str(jobs)], 1))
                shutil.rmtree(out, ignore_errors=True)
            return best

        results["convert -j 1"] = convert(1)
        results["convert -j 2"] = convert(2)
        results["check -j 1"] = _run([*k2t, "check", str(tree)], rounds)

        plain = Path(tmp) / "plain"
        plain.mkdir()
        for i in range(200):
            (plain / f"module_{i:03d}.py").write_text(
                f'"""Module {i}: no Keras here."""\n\nimport os\nimport numpy as np\n\n\n'
                f"def f_{i}(x):\n    return np.asarray(x) * {i} + len(os.sep)\n\n\n"
                f"class C{i}:\n    value = {i}\n\n    def method(self, y):\n        return [f_{i}(v) for v in y]\n",
                encoding="utf-8",
            )
        results["--help"] = _run([*k2t, "--help"], 5)
        results["check one plain file"] = _run([*k2t, "check", str(plain / "module_000.py")], 5)
        results["check 200 plain files"] = _run([*k2t, "check", str(plain)], rounds)
        results["python -c pass"] = _run([sys.executable, "-c", "pass"], 5)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3, help="in-process rounds (best per file)")
    parser.add_argument("--cli-rounds", type=int, default=2, help="runs of each command (best)")
    parser.add_argument("--no-cli", action="store_true", help="in-process numbers only")
    args = parser.parse_args()
    files = corpus()
    total = sum(p.read_text(encoding="utf-8").count("\n") + 1 for p, _ in files)
    groups = sorted({g for _, g in files})
    print(f"corpus: {len(files)} files, {total} lines ({', '.join(groups)}); {os.cpu_count()} CPUs")

    numbers = in_process(files, args.rounds)
    print("\nin one process (lines/s, best of %d per file):" % args.rounds)
    print(f"  {'files':<20} {'convert':>9} {'check':>9} {'floor':>9} {'ratio':>6} {'floor*':>9} {'ratio*':>6}")
    for group in [*groups, "all"]:
        row = numbers[group]
        speed = {name: lines / seconds for name, (lines, seconds) in row.items()}
        print(
            f"  {group:<20} {speed['convert']:>9,.0f} {speed['check']:>9,.0f} {speed['floor']:>9,.0f}"
            f" {speed['convert'] / speed['floor']:>6.2f} {speed['floor_out']:>9,.0f}"
            f" {speed['convert'] / speed['floor_out']:>6.2f}"
        )
    print("  floor: parse + qualified names/scopes + codegen + black on the source; ratio: convert/floor")
    print("  floor*: the same with black on k2t's (unformatted) output instead; ratio*: convert/floor*")

    if args.no_cli:
        return
    results = commands(files, args.cli_rounds)
    print("\ncommands (wall clock, best of runs):")
    one, two = results["convert -j 1"], results["convert -j 2"]
    print(f"  k2t convert DIR -o OUT -j 1   {one:7.2f} s  ({total / one:,.0f} lines/s)")
    print(f"  k2t convert DIR -o OUT -j 2   {two:7.2f} s  (x{one / two:.2f})")
    check = results["check -j 1"]
    print(f"  k2t check DIR                 {check:7.2f} s  ({total / check:,.0f} lines/s; x{one / check:.2f} convert's speed)")
    print(f"  k2t --help                    {results['--help']:7.3f} s  (python -c pass: {results['python -c pass']:.3f} s)")
    print(f"  k2t check one_plain_file.py   {results['check one plain file']:7.3f} s")
    print(f"  k2t check (200 plain files)   {results['check 200 plain files']:7.3f} s")


if __name__ == "__main__":
    main()
