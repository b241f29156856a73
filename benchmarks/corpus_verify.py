"""Whether the models k2t translates in real code verify: `k2t verify` on the corpus.

    .venv/bin/python benchmarks/corpus_verify.py [--timeout 300] [PATHS...]

For every .py file of the corpus (corpus/files, see corpus/README.md; or the PATHS given) in which
k2t translates at least one model, the file is converted (in memory) and `k2t verify` compares
each translated model with the Keras one (randomised weights, sample inputs). Each file runs in its
own process, as a user runs `k2t verify` (the program's imports and constants execute there).
Printed: one line per model (verdict, largest error or the reason it could not be verified),
then the counts: equivalent, different, unverifiable (by reason). A different verdict is a
translation bug; unverifiable ones are programs whose construction needs run-time data, a Keras 3
incompatibility of the program itself, or a model k2t did not translate.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ROOT / "corpus" / "files"

_ONE_FILE = """
import json, sys
from k2t import translate
from k2t.sources import read_source
from k2t.verify import verify_sources

path = sys.argv[1]
text = read_source(path).text
result = translate(text)
if not any(model.lowered is not None for model in result.models):
    print(json.dumps([]))
    sys.exit(0)
verdicts = verify_sources(text, result.code, path, "translated.py")
print(json.dumps([{"name": v.name, "status": v.status, "error": v.max_abs_error, "reason": v.reason}
                  for v in verdicts]))
"""


def files(paths: list[str]) -> list[Path]:
    roots = [Path(p) for p in paths] or [FILES]
    found = []
    for root in roots:
        found += sorted(root.rglob("*.py")) if root.is_dir() else [root]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per file")
    args = parser.parse_args(argv)
    counts: Counter = Counter()
    reasons: Counter = Counter()
    for path in files(args.paths):
        try:
            done = subprocess.run([sys.executable, "-c", _ONE_FILE, str(path)], capture_output=True, text=True,
                                  timeout=args.timeout, cwd=path.parent)
        except subprocess.TimeoutExpired:
            print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: timed out")
            continue
        lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
        if not lines:
            print(f"{path}: verify failed: {done.stderr.strip().splitlines()[-1:] or ['?']}")
            continue
        shown = path.relative_to(FILES) if path.is_relative_to(FILES) else path
        for verdict in json.loads(lines[-1]):
            counts[verdict["status"]] += 1
            if verdict["status"] == "unverifiable":
                reasons[(verdict["reason"] or "").split(":")[0][:70]] += 1
            detail = f"{verdict['error']:.2e}" if verdict["error"] is not None else verdict["reason"]
            print(f"{shown}: {verdict['name']}: {verdict['status'].upper()}  {detail}")
    total = sum(counts.values())
    print(f"\nmodels verified: {total}: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    for reason, count in reasons.most_common():
        print(f"  unverifiable {count:3}  {reason}")
    return 1 if counts["different"] else 0


if __name__ == "__main__":
    sys.exit(main())
