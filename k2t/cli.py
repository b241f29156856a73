"""k2t's command line: convert, check and verify.

Exit status (convert, check): 0 everything translated (or nothing to do), 1 something is left for a
human (each item listed as path:line:col: K2Tnnn message), 2 bad input or usage (one-line error; the
input untouched and no partial output). Internal errors exit 3 with K2T901.
verify: 0 when every model is equivalent, 1 otherwise, 2 bad input.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import click

from k2t.diagnostics import CODES, Diagnostic
from k2t.sources import InputError, encode_source, iter_python_files, read_source, write_atomic
from k2t.translate import Options, TranslationError, translate

EXIT_OK, EXIT_LEFT, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


@dataclass
class Outcome:
    """What converting one file gave."""

    path: str
    status: str  # translated | partial | unchanged | failed
    diagnostics: list[Diagnostic] = field(default_factory=list)
    error: str | None = None
    original: bytes | None = None
    converted: bytes | None = None
    text_before: str = ""
    text_after: str = ""

    @property
    def changed(self) -> bool:
        return self.converted is not None and self.converted != self.original


def _translate_text(text: str, is_notebook: bool, options: Options):
    if not is_notebook:
        return translate(text, options)
    from k2t.notebook import notebook_to_program, program_to_notebook

    program = notebook_to_program(text)
    result = translate(program.text, options)
    result.code = program_to_notebook(text, result.code) if result.changed else text
    return result


def convert_file(path: str, options: Options) -> Outcome:
    """Read, translate and encode one file; never raises for bad input."""
    try:
        source = read_source(path)
        is_notebook = str(path).endswith(".ipynb")
        result = _translate_text(source.text, is_notebook, options)
        converted = encode_source(source, result.code) if result.changed else None
        original = encode_source(source, source.text)
    except (InputError, TranslationError, ValueError) as exc:
        message = str(exc) if isinstance(exc, InputError) else f"{path}:{exc}"
        return Outcome(str(path), "failed", error=message)
    except Exception as exc:  # noqa: BLE001 - report internal errors per file, keep going
        return Outcome(str(path), "failed", error=f"{path}:1:1: K2T901 internal error: {type(exc).__name__}: {exc}")
    return Outcome(
        str(path),
        result.status,
        result.diagnostics,
        original=original,
        converted=converted if converted is not None else original,
        text_before=source.text,
        text_after=result.code,
    )


def _outcomes(files: list[str], options: Options, jobs: int):
    if jobs > 1 and len(files) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            yield from pool.map(convert_file, files, [options] * len(files))
    else:
        for path in files:
            yield convert_file(path, options)


def _print_diagnostics(outcome: Outcome, shown_path: str) -> None:
    for diagnostic in outcome.diagnostics:
        click.echo(diagnostic.render(shown_path), err=True)


def _summary(outcomes: list[Outcome]) -> str:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("translated", "partial", "failed", "unchanged")}
    return (
        f"k2t: {counts['translated']} translated, {counts['partial']} partly translated, "
        f"{counts['failed']} failed, {counts['unchanged']} unchanged"
    )


def _exit_code(outcomes: list[Outcome]) -> int:
    if any(o.status == "failed" and "K2T901" in (o.error or "") for o in outcomes):
        return EXIT_INTERNAL
    if any(o.status == "failed" for o in outcomes):
        return EXIT_BAD_INPUT
    if any(o.status == "partial" for o in outcomes):
        return EXIT_LEFT
    return EXIT_OK


def _report(path: str, outcomes: list[Outcome]) -> None:
    data = {
        "files": [
            {
                "path": o.path,
                "status": o.status,
                "error": o.error,
                "diagnostics": [d.to_json() for d in o.diagnostics],
            }
            for o in outcomes
        ],
        "summary": _summary(outcomes),
    }
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode())


@click.group()
@click.version_option(package_name="k2t")
def main() -> None:
    """Translate Keras programs into standalone, idiomatic PyTorch."""


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(), help="Output file, or directory for a tree.")
@click.option("--in-place", is_flag=True, help="Rewrite the sources themselves.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff; write nothing.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if anything would change.")
@click.option("--report", type=click.Path(), help="Write diagnostics and per-file status as JSON.")
@click.option("--exclude", multiple=True, help="Glob of paths to skip (repeatable).")
@click.option("-j", "--jobs", default=1, show_default=True, help="Worker processes.")
@click.option("--line-length", default=88, show_default=True, help="black's line length.")
def convert(sources, output, in_place, show_diff, check, report, exclude, jobs, line_length):
    """Convert Keras SOURCES (files, directories, or - for stdin) to PyTorch."""
    options = Options(line_length=line_length)
    if output and in_place:
        raise click.UsageError("give either -o/--output or --in-place, not both")
    if sources == ("-",):
        text = sys.stdin.read()
        try:
            result = translate(text, options)
        except TranslationError as exc:
            click.echo(f"<stdin>:{exc}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        sys.stdout.write(result.code)
        for diagnostic in result.diagnostics:
            click.echo(diagnostic.render("<stdin>"), err=True)
        sys.exit(EXIT_LEFT if result.errors else EXIT_OK)
    try:
        pairs = list(iter_python_files(sources, exclude))
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    writes = not (show_diff or check)
    single_file = len(sources) == 1 and Path(sources[0]).is_file()
    if writes and not output and not in_place and not single_file:
        raise click.UsageError("converting a directory needs -o OUT (a mirror tree) or --in-place")
    if output and writes:
        out_root = Path(output).resolve()
        for given in sources:
            given_path = Path(given).resolve()
            if given_path.is_dir() and (out_root == given_path or given_path in out_root.parents):
                click.echo(f"error: {output}: the output directory is inside the input tree {given}", err=True)
                sys.exit(EXIT_BAD_INPUT)
    outcomes = []
    for (root, path), outcome in zip(pairs, _outcomes([str(p) for _, p in pairs], options, jobs)):
        outcomes.append(outcome)
        if outcome.error:
            click.echo(f"error: {outcome.error}", err=True)
            continue
        _print_diagnostics(outcome, outcome.path)
        if show_diff and outcome.changed:
            diff = difflib.unified_diff(
                outcome.text_before.splitlines(keepends=True),
                outcome.text_after.splitlines(keepends=True),
                f"a/{outcome.path}",
                f"b/{outcome.path}",
            )
            sys.stdout.writelines(diff)
        if not writes:
            continue
        try:
            if in_place:
                if outcome.changed:
                    write_atomic(path, outcome.converted)
            elif output:
                target = Path(output)
                if single_file:
                    target = target / path.name if target.is_dir() else target
                else:
                    target = target / path.relative_to(root)
                write_atomic(target, outcome.converted)
            else:
                sys.stdout.buffer.write(outcome.converted)
        except OSError as exc:
            click.echo(f"error: {path}: cannot write the output: {exc.strerror or exc}", err=True)
            outcome.status, outcome.error = "failed", str(exc)
    if report:
        _report(report, outcomes)
    if len(outcomes) > 1 or not single_file:
        click.echo(_summary(outcomes), err=True)
    code = _exit_code(outcomes)
    if check and code == EXIT_OK and any(o.changed for o in outcomes):
        code = EXIT_LEFT
    sys.exit(code)


@main.command()
@click.argument("keras_file", type=click.Path())
@click.argument("torch_file", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
@click.option("--atol", default=1e-5, show_default=True, help="Absolute tolerance.")
@click.option("--rtol", default=1e-4, show_default=True, help="Relative tolerance.")
@click.option("--seed", default=0, show_default=True, help="Seed for weights and sample inputs.")
def verify(keras_file, torch_file, as_json, atol, rtol, seed):
    """Check numerically that TORCH_FILE computes what KERAS_FILE's models compute.

    This executes code from both files: their imports, literal assignments and the statements that
    construct each model (never fit/evaluate/predict or data loading).
    """
    from k2t.verify import verify_files

    try:
        verdicts = verify_files(keras_file, torch_file, atol=atol, rtol=rtol, seed=seed)
    except (InputError, TranslationError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if as_json:
        click.echo(json.dumps({"models": [v.to_json() for v in verdicts]}, indent=2))
    else:
        click.echo(render_verdicts(verdicts, atol, rtol))
    sys.exit(EXIT_OK if verdicts and all(v.status == "equivalent" for v in verdicts) else EXIT_LEFT)


def _number(value) -> str:
    return "-" if value is None else f"{value:.2e}"


def render_verdicts(verdicts, atol: float, rtol: float) -> str:
    lines = [f"k2t verify (atol={atol:g}, rtol={rtol:g})"]
    for v in verdicts:
        lines.append("")
        lines.append(
            f"model {v.name}: {v.status.upper()}  max abs error {_number(v.max_abs_error)}"
            f"  max rel error {_number(v.max_rel_error)}"
        )
        if v.first_divergent_layer:
            lines.append(f"  first divergent layer: {v.first_divergent_layer}")
        if v.reason:
            lines.append(f"  reason: {v.reason}")
        if v.executed:
            lines.append(f"  executed: {v.executed}")
        if v.layers:
            width = max(len(name) for name, _ in v.layers)
            lines.append(f"  {'layer'.ljust(width)}  max abs error")
            for name, error in v.layers:
                lines.append(f"  {name.ljust(width)}  {_number(error)}")
    return "\n".join(lines)


@main.command(name="codes")
def codes() -> None:
    """List the diagnostic codes."""
    for code, meaning in CODES.items():
        click.echo(f"{code}  {meaning}")


if __name__ == "__main__":  # pragma: no cover
    main()
