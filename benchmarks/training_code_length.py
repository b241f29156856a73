"""How long is the program k2t writes for a compile/fit script, against the Keras it replaces?

    .venv/bin/python benchmarks/training_code_length.py [--fixtures DIR] [--verbose] [FILE.py ...]

Files given on the command line (say examples/mnist_cnn.py) are measured instead of the fixtures.

For every fixture whose Keras source calls .compile( and .fit(, the script converts it and compares
the two programs line by line:

- The Keras program is formatted with black first (as k2t formats its output, line length 88), so
  that both sides are counted in the same layout: a Sequential([...]) written on one long line
  counts as the lines black gives it, as the model class does.
- Lines are compared as logical lines (a statement and its continuation lines) normalised so that
  black's rewrapping, quotes and trailing commas and the indentation of the `__main__` guard do not
  count as changes; difflib.SequenceMatcher pairs the input's and the output's normalised lines.
- Keras lines replaced: the input's non-blank, non-comment lines whose logical line has no unchanged
  counterpart in the output.
- Generated lines: the output's non-blank, non-comment lines (docstrings count) whose logical line
  is not one of the input's, split by where they stand:
    model     the nn.Module classes of the translated models
    training  the functions k2t/loops.py writes (prepare_inputs, prepare_targets, train_one_epoch,
              evaluate, predict, call_model) and every other new statement of the script: the
              compile lines (optimizer, loss), the epoch loop, the evaluate/predict calls
    helpers   other classes and functions copied into the output (exact Keras optimizers, History,
              callbacks, to_categorical, ...)
    other     imports, the device line, the __main__ guard line
- ratio = generated / replaced, with the helpers and without them.

Totals are ratios of the summed lines over all fixtures.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import io
import statistics
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOOP_FUNCTIONS = (
    "prepare_inputs",
    "prepare_targets",
    "train_one_epoch",
    "evaluate",
    "predict",
    "call_model",
)
CATEGORIES = ("model", "training", "helpers", "other")


@dataclass
class LogicalLine:
    first: int  # 1-based physical rows, inclusive
    last: int
    text: str  # normalised


def _normalised_string(token: str) -> str:
    try:
        return repr(ast.literal_eval(token))
    except (ValueError, SyntaxError):  # f-strings
        return token


def logical_lines(source: str) -> list[LogicalLine]:
    """The statements' logical lines, normalised: tokens joined by single spaces, strings in one
    quoting style, trailing commas before a closing bracket dropped, no comments or indentation."""
    out: list[LogicalLine] = []
    tokens: list[str] = []
    first = None
    skip = {
        tokenize.NL,
        tokenize.COMMENT,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENCODING,
        tokenize.ENDMARKER,
    }
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in skip:
            continue
        if token.type == tokenize.NEWLINE:
            if tokens:
                out.append(LogicalLine(first, token.start[0], " ".join(tokens)))
            tokens, first = [], None
            continue
        if first is None:
            first = token.start[0]
        text = _normalised_string(token.string) if token.type == tokenize.STRING else token.string
        if text in (")", "]", "}") and tokens and tokens[-1] == ",":
            tokens.pop()
        tokens.append(text)
    if tokens:
        out.append(LogicalLine(first, len(source.splitlines()), " ".join(tokens)))
    return out


def counted_rows(source: str, line: LogicalLine) -> list[int]:
    """The physical rows of a logical line that are neither blank nor comments."""
    rows = source.splitlines()
    return [
        r
        for r in range(line.first, line.last + 1)
        if rows[r - 1].strip() and not rows[r - 1].lstrip().startswith("#")
    ]


def unmatched(
    a: list[LogicalLine], b: list[LogicalLine]
) -> tuple[list[LogicalLine], list[LogicalLine]]:
    """(lines of a without an unchanged counterpart in b, lines of b without one in a)."""
    matcher = difflib.SequenceMatcher(
        None, [l.text for l in a], [l.text for l in b], autojunk=False
    )
    in_a, in_b = set(), set()
    for block in matcher.get_matching_blocks():
        in_a.update(range(block.a, block.a + block.size))
        in_b.update(range(block.b, block.b + block.size))
    return [l for i, l in enumerate(a) if i not in in_a], [
        l for i, l in enumerate(b) if i not in in_b
    ]


def categories_by_row(code: str, model_classes: set[str]) -> dict[int, str]:
    """Each physical row of the output -> the category of the top-level definition it lies in."""
    loop_names = set(LOOP_FUNCTIONS)
    by_row: dict[int, str] = {}

    def mark(node, category):
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        for row in range(start, node.end_lineno + 1):
            by_row[row] = category

    def visit(body):
        for node in body:
            if isinstance(node, ast.ClassDef):
                mark(node, "model" if node.name in model_classes else "helpers")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                base = next(
                    (n for n in loop_names if node.name == n or node.name.startswith(n + "_")), None
                )
                mark(node, "training" if base else "helpers")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                mark(node, "other")
            elif isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
                by_row[node.lineno] = "other"
                visit(node.body)
            elif isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "device":
                mark(node, "other")
            else:
                mark(node, "training")

    visit(ast.parse(code).body)
    return by_row


@dataclass
class Row:
    name: str
    status: str
    keras_lines: int
    replaced: int
    output_lines: int
    generated: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.generated.values())

    def ratio(self, helpers: bool = True) -> float:
        generated = self.total if helpers else self.total - self.generated["helpers"]
        return generated / self.replaced if self.replaced else float("nan")


def black_formatted(source: str) -> str:
    import black

    return black.format_str(source, mode=black.Mode(line_length=88))


def measure(path: Path, translate) -> Row:
    source = black_formatted(path.read_text(encoding="utf-8"))
    result = translate(source)
    code = result.code
    keras, torch_lines = logical_lines(source), logical_lines(code)
    replaced, generated = unmatched(keras, torch_lines)
    by_row = categories_by_row(code, {m.class_name for m in result.models})
    counts = dict.fromkeys(CATEGORIES, 0)
    for line in generated:
        for row in counted_rows(code, line):
            counts[by_row.get(row, "training")] += 1
    return Row(
        name=f"{path.parent.name}/{path.name.removesuffix('.py').removesuffix('.keras')}",
        status=result.status,
        keras_lines=sum(len(counted_rows(source, l)) for l in keras),
        replaced=sum(len(counted_rows(source, l)) for l in replaced),
        output_lines=sum(len(counted_rows(code, l)) for l in torch_lines),
        generated=counts,
    )


def fixtures_with_training(directory: Path) -> list[Path]:
    out = []
    for path in sorted(directory.glob("*/*.keras.py")):
        text = path.read_text(encoding="utf-8")
        if ".compile(" in text and ".fit(" in text:
            out.append(path)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=ROOT / "fixtures")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="print the replaced and generated lines of each fixture",
    )
    parser.add_argument(
        "files", nargs="*", type=Path, help="Keras programs to measure instead of the fixtures"
    )
    args = parser.parse_args()
    from k2t import translate

    paths = [p.resolve() for p in args.files] or fixtures_with_training(args.fixtures)
    rows = [measure(path, translate) for path in paths]
    header = (
        f"{'fixture':<48} {'status':<10} {'keras':>5} {'repl':>5} {'gen':>5} "
        f"{'model':>5} {'train':>5} {'helper':>6} {'other':>5} {'ratio':>6} {'w/o helpers':>11}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        g = row.generated
        print(
            f"{row.name:<48} {row.status:<10} {row.keras_lines:>5} {row.replaced:>5} {row.total:>5} "
            f"{g['model']:>5} {g['training']:>5} {g['helpers']:>6} {g['other']:>5} "
            f"{row.ratio():>6.2f} {row.ratio(helpers=False):>11.2f}"
        )
    print("-" * len(header))
    total = Row(
        "total",
        "",
        sum(r.keras_lines for r in rows),
        sum(r.replaced for r in rows),
        sum(r.output_lines for r in rows),
        {c: sum(r.generated[c] for r in rows) for c in CATEGORIES},
    )
    g = total.generated
    print(
        f"{'total (' + str(len(rows)) + ' fixtures)':<48} {'':<10} {total.keras_lines:>5} {total.replaced:>5} "
        f"{total.total:>5} {g['model']:>5} {g['training']:>5} {g['helpers']:>6} {g['other']:>5} "
        f"{total.ratio():>6.2f} {total.ratio(helpers=False):>11.2f}"
    )
    ratios = [r.ratio() for r in rows if r.replaced]
    without = [r.ratio(helpers=False) for r in rows if r.replaced]
    print(
        f"\nper fixture: median ratio {statistics.median(ratios):.2f} (without helpers "
        f"{statistics.median(without):.2f}), max {max(ratios):.2f} (without helpers {max(without):.2f})"
    )
    print(
        "keras = non-blank, non-comment lines of the Keras program (black-formatted); repl = those the output does not keep "
        "unchanged;\ngen = output lines that are not the input's (model classes, training code, copied helpers, "
        "other: imports, device, __main__ guard);\nratio = gen / repl."
    )
    if args.verbose:
        for path in paths:
            source = black_formatted(path.read_text(encoding="utf-8"))
            code = translate(source).code
            replaced, generated = unmatched(logical_lines(source), logical_lines(code))
            print(f"\n== {path}\n-- replaced:")
            for line in replaced:
                print("   ", line.text)
            print("-- generated (top-level definitions by name):")
            for line in generated:
                print("   ", line.text[:120])


if __name__ == "__main__":
    main()
