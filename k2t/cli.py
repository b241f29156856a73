"""k2t's command line: convert, check, verify and codes.

Exit status of convert and check: 0 everything translated (or nothing to do; check: no Keras left), 1
something is left (convert: for a human; check: any Keras use), each item listed as
``path:line:col: K2Tnnn message``; 2 bad input or usage: a one-line error naming the file, that file
untouched and without partial output, the other files still processed; 3 internal error (K2T901);
130 interrupted. The highest applicable status wins, in the order 3, 2, 1.
verify: 0 when every model is equivalent, 1 otherwise, 2 bad input.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import fnmatch
import json
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

# Light imports only: `k2t --help`, and files that name no Keras, never load libcst, black or the
# translator (k2t.check, imported where a file needs translating).
from k2t import prescan
from k2t.config import Config, ConfigError, code_filter, load_config
from k2t.diagnostics import CODES, WARNING
from k2t.findings import CHECK_CODES, Finding, dumps, findings_from_diagnostics, render_github, render_github_error
from k2t.manifest import Manifest
from k2t.options import Options, TranslationError
from k2t.sources import InputError, encode_source, iter_python_files, read_source, write_atomic

EXIT_OK, EXIT_LEFT, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

_LOCATED = re.compile(r"^(\d+):(\d+): (.*)$", re.DOTALL)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


@dataclass
class Outcome:
    """What converting (or checking) one file gave."""

    path: str
    status: str  # translated | partial | unchanged | failed
    diagnostics: list[Finding] = field(default_factory=list)  # the translation's, located
    findings: list[Finding] = field(default_factory=list)  # Keras uses, as `k2t check` lists them
    error: str | None = None  # one line, starting with the path
    internal: bool = False
    original: bytes | None = None
    converted: bytes | None = None
    text_before: str = ""
    text_after: str = ""
    # (models found, models translated, Keras classes found, classes translated without a marker)
    counts: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def changed(self) -> bool:
        return self.converted is not None and self.converted != self.original

    @property
    def uses(self) -> int:
        return sum(f.severity != WARNING for f in self.findings)

    @property
    def translatable(self) -> int:
        return sum(f.translatable and f.severity != WARNING for f in self.findings)


def _failed(path: str, message: str, internal: bool = False) -> Outcome:
    return Outcome(path, "failed", error=_one_line(message), internal=internal)


def analyse_source(text: str, options: Options = Options(), locate=None):
    """k2t.check.analyse_source, imported on first use."""
    from k2t.check import analyse_source as analyse

    return analyse(text, options, locate)


def convert_file(path: str, options: Options = Options()) -> Outcome:
    """Read, translate and encode one file, listing its Keras uses; never raises for bad input."""
    path = str(path)
    locate = None
    try:
        source = read_source(path)
        text = source.text
        is_notebook = path.endswith(".ipynb")
        if is_notebook:
            from k2t.notebook import notebook_to_program, program_to_notebook

            try:
                program = notebook_to_program(text)
            except ValueError as exc:
                raise InputError(path, str(exc)) from None
            text, locate = program.text, program.locate
            # Cells run top to bottom; the cells are written back from the formatted program.
            options = dataclasses.replace(
                options, main_guard=False, formatted=True, kept_comments=program.marker_pattern
            )
        if prescan.plain_python(text):  # no Keras: nothing to translate, nothing to list
            original = encode_source(source, source.text)
            return Outcome(path, "unchanged", original=original, converted=original, text_before=source.text,
                           text_after=source.text)
        analysis = analyse_source(text, options, locate)
        result = analysis.result
        code = result.code
        if is_notebook:
            try:
                code = program_to_notebook(source.text, code) if result.changed else source.text
            except ValueError as exc:
                raise InputError(path, f"cannot write the notebook back: {exc}") from None
        original = encode_source(source, source.text)
        converted = encode_source(source, code) if code != source.text else original
    except InputError as exc:
        return _failed(path, str(exc))
    except TranslationError as exc:
        message = str(exc)
        located = _LOCATED.match(message)
        if located and locate is not None:
            where = locate(int(located.group(1)))
            if where is not None:
                message = f"cell {where[0] + 1}:{where[1]}:{located.group(2)}: {located.group(3)}"
        return _failed(path, f"{path}:{message}")
    except RecursionError:
        return _failed(path, f"{path}: nested too deeply to translate")
    except Exception as exc:  # noqa: BLE001 - report internal errors per file, keep going
        return _failed(path, f"{path}:1:1: K2T901 internal error: {type(exc).__name__}: {exc}", internal=True)
    diagnostics = findings_from_diagnostics(result.diagnostics, locate)
    # Keras that the translation left in its output without reporting it (see k2t.check) is left for
    # a human all the same: listed, and the file is partly translated.
    reported = {(d.cell, d.line, d.col) for d in diagnostics}
    unreported = [
        f for f in analysis.findings
        if f.severity != WARNING and not f.translatable and f.code not in CHECK_CODES
        and (f.cell, f.line, f.col) not in reported
    ]
    diagnostics = sorted(diagnostics + unreported)
    status = result.status
    if status == "translated" and unreported:
        status = "partial"
    # (`check` skips black: every change k2t makes is one of tokens, which black never undoes, so
    # whether the file changes is known before formatting.)
    if status == "translated" and converted == original:
        status = "unchanged"
    return Outcome(
        path,
        status,
        diagnostics=diagnostics,
        findings=analysis.findings,
        original=original,
        converted=converted,
        text_before=source.text,
        text_after=code,
        counts=(
            len(result.models) + len(result.untranslated),
            len(result.models),
            len(result.classes) + sum(1 for d in result.diagnostics if d.code == "K2T902" and "class" in d.message),
            sum(1 for c in result.classes if c.complete),
        ),
    )


def _ignore_sigint() -> None:  # pragma: no cover - runs in worker processes
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _convert_files(paths: list[str], options: Options) -> list[Outcome]:  # pragma: no cover - in workers
    return [convert_file(path, options) for path in paths]


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _outcomes(files: list[str], options: Options, jobs: int):
    """Outcomes in the order of ``files``; with jobs > 1, computed by worker processes.

    Files go to the workers largest first, in small batches (a few large files do not end up
    together at the end), and come back in the order of ``files``.
    """
    if jobs > 1 and len(files) > 1:
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        pool = ProcessPoolExecutor(max_workers=min(jobs, len(files)), initializer=_ignore_sigint)
        try:
            order = sorted(range(len(files)), key=lambda i: -_size(files[i]))
            size = max(1, min(4, len(files) // (jobs * 16)))
            batches = [order[i : i + size] for i in range(0, len(order), size)]
            futures = {}
            for batch in batches:
                future = pool.submit(_convert_files, [files[i] for i in batch], options)
                for position, i in enumerate(batch):
                    futures[i] = (future, position)
            for i, path in enumerate(files):
                future, position = futures[i]
                try:
                    outcome = future.result()[position]
                except BrokenProcessPool:
                    # A worker died (killed, or crashed in native code): say so for every file not done.
                    outcome = _failed(path, f"{path}:1:1: K2T901 internal error: a worker process died", internal=True)
                yield outcome
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        for path in files:
            yield convert_file(path, options)


# --- progress and summary --------------------------------------------------------------------------


def progress_wanted(stream) -> bool:
    """A progress bar only on a terminal, never in CI (the CI variable set) or on a dumb terminal."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        return False
    return tty and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"


class Progress:
    """A one-line progress bar on stderr, cleared before anything else is printed."""

    WIDTH = 24

    def __init__(self, total: int, enabled: bool | None = None):
        self.stream = sys.stderr
        self.total = total
        self.enabled = (progress_wanted(self.stream) if enabled is None else enabled) and total > 1
        self.shown = False

    def update(self, done: int, path: str) -> None:
        if not self.enabled:
            return
        filled = self.WIDTH * done // self.total
        name = path if len(path) <= 40 else "..." + path[-37:]
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{self.total} {name}\x1b[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False

    def echo(self, message: str, err: bool = True) -> None:
        self.clear()
        click.echo(message, err=err)


def summary(outcomes: list[Outcome]) -> str:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("translated", "partial", "failed", "unchanged")}
    uses = sum(o.uses for o in outcomes)
    translatable = sum(o.translatable for o in outcomes)
    share = f"{translatable} of {uses} Keras uses translated ({100 * translatable / uses:.0f}%)" if uses else "no Keras uses"
    return (
        f"k2t: {counts['translated']} translated, {counts['partial']} partly translated, "
        f"{counts['failed']} failed, {counts['unchanged']} unchanged; {share}"
    )


def _exit_code(outcomes: list[Outcome], keep) -> int:
    if any(o.internal for o in outcomes):
        return EXIT_INTERNAL
    if any(o.status == "failed" for o in outcomes):
        return EXIT_BAD_INPUT
    if any(d.severity != WARNING and keep(d.code) for o in outcomes for d in o.diagnostics):
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
                "keras_uses": o.uses,
                "translated_uses": o.translatable,
            }
            for o in outcomes
        ],
        "summary": summary(outcomes),
        "counts": {
            "translated": sum(o.status == "translated" for o in outcomes),
            "partial": sum(o.status == "partial" for o in outcomes),
            "failed": sum(o.status == "failed" for o in outcomes),
            "unchanged": sum(o.status == "unchanged" for o in outcomes),
            "keras_uses": sum(o.uses for o in outcomes),
            "translated_uses": sum(o.translatable for o in outcomes),
        },
    }
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode())


# --- shared option handling ------------------------------------------------------------------------


def _config(sources) -> Config:
    try:
        return load_config(sources[0] if sources else None)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)


def _options(
    config: Config, line_length: int | None, target_versions: tuple[str, ...], torch_optimizers: bool = False
) -> Options:
    return Options(
        line_length=line_length or config.line_length or 88,
        target_versions=tuple(v.lower() for v in target_versions) or config.target_versions,
        torch_optimizers=torch_optimizers or config.torch_optimizers,
    )


def _excluded(given: str, patterns) -> bool:
    """Whether a path given on the command line matches an exclude glob (itself, its name or a part)."""
    posix = Path(given).as_posix()
    parts = [part for part in posix.split("/") if part not in ("", ".")]
    return any(
        fnmatch.fnmatch(posix, pattern) or any(fnmatch.fnmatch(part, pattern) for part in parts)
        for pattern in (p.rstrip("/") or p for p in patterns)
    )


def _list_files(sources, exclude, force_exclude: bool = False) -> tuple[list[tuple[Path, Path]], list[Outcome]]:
    """Every file under ``sources`` once, and a failed outcome for each source that cannot be listed.

    Excludes apply inside directories; with ``force_exclude`` also to the paths given themselves (for
    pre-commit, which passes file names).
    """
    pairs, failures, seen = [], [], set()
    for given in sources:
        if force_exclude and _excluded(str(given), exclude):
            continue
        try:
            for root, path in iter_python_files([given], exclude):
                key = os.path.realpath(path)
                if key not in seen:
                    seen.add(key)
                    pairs.append((root, path))
        except InputError as exc:
            failures.append(_failed(str(given), str(exc)))
    return pairs, failures


def _target_versions_option(ctx, param, value):
    import black

    known = {v.name.lower() for v in black.TargetVersion}
    for version in value:
        if version.lower() not in known:
            raise click.BadParameter(f"{version!r} is not one of black's target versions ({', '.join(sorted(known))})")
    return tuple(value)


def _stdin_text() -> str:
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        click.echo(f"error: <stdin>: cannot decode as utf-8: {exc.reason} at byte {exc.start}", err=True)
        sys.exit(EXIT_BAD_INPUT)


# --- commands --------------------------------------------------------------------------------------


@click.group()
@click.version_option(package_name="k2t")
def main() -> None:
    """Translate Keras programs into standalone, idiomatic PyTorch."""


_select_option = click.option(
    "--select", multiple=True, help="Report only codes starting with these prefixes (repeatable, or comma-separated)."
)
_ignore_option = click.option(
    "--ignore", multiple=True, help="Do not report codes starting with these prefixes (repeatable, or comma-separated)."
)
_exclude_option = click.option("--exclude", multiple=True, help="Glob of paths to skip (repeatable).")
_force_exclude_option = click.option(
    "--force-exclude", is_flag=True, help="Apply the excludes to paths given on the command line too (for pre-commit)."
)
_jobs_option = click.option("-j", "--jobs", default=1, show_default=True, help="Worker processes (0: one per CPU).")


def _jobs(jobs: int) -> int:
    if jobs < 0:
        raise click.BadParameter("must be 0 (one per CPU) or more", param_hint="-j/--jobs")
    return jobs or os.cpu_count() or 1


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(), help="Output file, or directory for a tree.")
@click.option("--in-place", is_flag=True, help="Rewrite the sources themselves.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff; write nothing.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if anything would change.")
@click.option("--report", type=click.Path(), help="Write diagnostics and per-file status as JSON.")
@click.option("--force", is_flag=True, help="Overwrite existing outputs that k2t did not write.")
@_exclude_option
@_force_exclude_option
@_jobs_option
@click.option("--line-length", type=click.IntRange(min=1), help="black's line length [default: the project's, or 88].")
@click.option(
    "--target-version",
    "target_versions",
    multiple=True,
    callback=_target_versions_option,
    help="black's target version, e.g. py310 (repeatable) [default: the project's].",
)
@click.option(
    "--torch-optimizers",
    is_flag=True,
    help="Use torch's built-in optimizers (with a note where their update differs) instead of Keras's exact ones.",
)
@_select_option
@_ignore_option
def convert(sources, output, in_place, show_diff, check, report, force, exclude, force_exclude, jobs, line_length,
            target_versions, torch_optimizers, select, ignore):
    """Convert Keras SOURCES (files, directories, or - for stdin) to PyTorch."""
    jobs = _jobs(jobs)
    if output and in_place:
        raise click.UsageError("give either -o/--output or --in-place, not both")
    config = _config([s for s in sources if s != "-"])
    options = _options(config, line_length, target_versions, torch_optimizers)
    keep = code_filter(select or config.select, ignore or config.ignore)
    if sources == ("-",):
        _convert_stdin(options, keep)
    if "-" in sources:
        raise click.UsageError("- (standard input) cannot be combined with other sources")

    writes = not (show_diff or check)
    single_file = len(sources) == 1 and Path(sources[0]).is_file()
    if writes and not output and not in_place and not single_file:
        raise click.UsageError("converting a directory or several files needs -o OUT (a mirror tree) or --in-place")
    out_root: Path | None = None
    if output and writes:
        out_path = Path(output)
        if single_file and not out_path.is_dir():
            out_root = out_path.parent
        else:
            if out_path.exists() and not out_path.is_dir():
                raise click.UsageError(f"{output} is not a directory: several sources need an output directory")
            out_root = out_path
        resolved = out_root.resolve()
        for given in sources:
            given_path = Path(given).resolve()
            if given_path.is_dir() and (resolved == given_path or given_path in resolved.parents):
                click.echo(f"error: {output}: the output directory is inside the input tree {given}", err=True)
                sys.exit(EXIT_BAD_INPUT)

    pairs, outcomes = _list_files(sources, tuple(config.exclude) + tuple(exclude), force_exclude)
    for failure in outcomes:
        click.echo(f"error: {failure.error}", err=True)
    manifest = Manifest(out_root) if out_root is not None else None
    progress = Progress(len(pairs))
    written: dict[Path, str] = {}
    interrupted = write_failed = False
    try:
        stream = _outcomes([str(p) for _, p in pairs], options, jobs)
        for done, ((root, path), outcome) in enumerate(zip(pairs, stream), start=1):
            outcomes.append(outcome)
            if outcome.error:
                progress.echo(f"error: {outcome.error}")
            else:
                for diagnostic in outcome.diagnostics:
                    if keep(diagnostic.code):
                        progress.echo(diagnostic.render(outcome.path))
                if show_diff and outcome.changed:
                    progress.clear()
                    sys.stdout.writelines(
                        difflib.unified_diff(
                            outcome.text_before.splitlines(keepends=True),
                            outcome.text_after.splitlines(keepends=True),
                            f"a/{outcome.path}",
                            f"b/{outcome.path}",
                        )
                    )
                    sys.stdout.flush()
                if writes:
                    _write(outcome, root, path, output, in_place, single_file, manifest, written, force, progress)
            progress.update(done, outcome.path)
            if manifest is not None and done % 50 == 0:
                manifest.save()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.clear()
        if manifest is not None:
            try:
                manifest.save()
            except OSError as exc:
                click.echo(f"error: {manifest.path}: cannot write the manifest: {exc.strerror or exc}", err=True)
                write_failed = True
    if interrupted:
        click.echo("k2t: interrupted; every file is either untouched or completely written", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if report:
        try:
            _report(report, outcomes)
        except OSError as exc:
            click.echo(f"error: {report}: cannot write the report: {exc.strerror or exc}", err=True)
            write_failed = True
    if len(outcomes) > 1 or not single_file:
        click.echo(summary(outcomes), err=True)
    code = _exit_code(outcomes, keep)
    if write_failed and code < EXIT_BAD_INPUT:
        code = EXIT_BAD_INPUT
    if check and code == EXIT_OK and any(o.changed for o in outcomes):
        code = EXIT_LEFT
    sys.exit(code)


def _convert_stdin(options: Options, keep) -> None:
    from k2t.check import safe_parse
    from k2t.translate import translate_module

    text = _stdin_text()
    try:
        result = translate_module(text, safe_parse(text), options)
    except TranslationError as exc:
        click.echo(f"error: <stdin>:{exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except RecursionError:
        click.echo("error: <stdin>: nested too deeply to translate", err=True)
        sys.exit(EXIT_BAD_INPUT)
    sys.stdout.write(result.code)
    sys.stdout.flush()
    for diagnostic in result.diagnostics:
        if keep(diagnostic.code):
            click.echo(diagnostic.render("<stdin>"), err=True)
    sys.exit(EXIT_LEFT if any(keep(d.code) for d in result.errors) else EXIT_OK)


def _write(outcome, root, path, output, in_place, single_file, manifest, written, force, progress) -> None:
    """Write one outcome where it belongs; a failure marks the outcome failed, with a one-line error."""
    try:
        if in_place:
            if outcome.changed:
                write_atomic(path, outcome.converted)
            return
        if not output:
            progress.clear()
            sys.stdout.buffer.write(outcome.converted)
            sys.stdout.flush()
            return
        target = Path(output)
        if single_file:
            target = target / path.name if target.is_dir() else target
        else:
            target = target / path.relative_to(root)
        key = Path(os.path.abspath(target))
        if key in written:
            raise _Refused(f"{path}: its output {target} was already written for {written[key]}; not overwritten")
        if not force:
            refusal = manifest.refusal(target, outcome.converted)
            if refusal is not None:
                raise _Refused(f"{target}: {refusal}")
        write_atomic(target, outcome.converted)
        manifest.record(target, outcome.converted)
        written[key] = str(path)
    except _Refused as exc:
        progress.echo(f"error: {exc}")
        outcome.status, outcome.error = "failed", str(exc)
    except OSError as exc:
        message = f"{path}: cannot write the output: {exc.strerror or exc}"
        progress.echo(f"error: {message}")
        outcome.status, outcome.error = "failed", message


class _Refused(Exception):
    pass


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text", show_default=True,
    help="text: path:line:col: K2Tnnn message; json: one document; github: GitHub Actions annotations.",
)
@_select_option
@_ignore_option
@_exclude_option
@_force_exclude_option
@_jobs_option
def check(paths, fmt, select, ignore, exclude, force_exclude, jobs):
    """List every Keras/TensorFlow use left in PATHS (files, directories, or - for stdin).

    Each use is K2T001 (translatable by `k2t convert`) or a diagnostic for what needs a human. Nothing
    is written. Exit 0 when no Keras is left, 1 when some is, 2 for bad input, 3 on internal errors.
    """
    jobs = _jobs(jobs)
    config = _config([p for p in paths if p != "-"])
    keep = code_filter(select or config.select, ignore or config.ignore)
    # Nothing is written: black runs only where it decides whether a file would change.
    options = dataclasses.replace(_options(config, None, ()), formatted=False)
    outcomes: list[Outcome] = []
    if "-" in paths:
        if paths != ("-",):
            raise click.UsageError("- (standard input) cannot be combined with other paths")
        outcomes.append(_check_text(_stdin_text(), options))
        total = 1
    else:
        pairs, failures = _list_files(paths, tuple(config.exclude) + tuple(exclude), force_exclude)
        outcomes += failures
        total = len(pairs)
    progress = Progress(total) if fmt == "text" else Progress(total, enabled=False)

    def emit(outcome: Outcome) -> None:
        if outcome.error:
            if fmt == "github":
                progress.echo(render_github_error(outcome.path, outcome.error), err=False)
            progress.echo(f"error: {outcome.error}")
            return
        for finding in outcome.findings:
            if not keep(finding.code):
                continue
            if fmt == "text":
                progress.echo(finding.render(outcome.path), err=False)
            elif fmt == "github":
                progress.echo(render_github(outcome.path, finding), err=False)

    for outcome in list(outcomes):
        emit(outcome)
    if "-" not in paths:
        try:
            stream = _outcomes([str(p) for _, p in pairs], options, jobs)
            for done, outcome in enumerate(stream, start=1):
                outcomes.append(outcome)
                emit(outcome)
                progress.update(done, outcome.path)
        except KeyboardInterrupt:
            progress.clear()
            click.echo("k2t: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        finally:
            progress.clear()

    selected = [[f for f in o.findings if keep(f.code)] for o in outcomes]
    left = sum(f.severity != WARNING for found in selected for f in found)
    translatable = sum(f.translatable and f.severity != WARNING for found in selected for f in found)
    files_with_keras = sum(any(f.severity != WARNING for f in found) for found in selected)
    if fmt == "json":
        click.echo(
            dumps(
                {
                    "version": 1,
                    "files": [
                        {
                            "path": o.path,
                            "status": o.status,
                            "error": o.error,
                            "uses": [f.to_json() for f in found],
                        }
                        for o, found in zip(outcomes, selected)
                    ],
                    "summary": {
                        "files": len(outcomes),
                        "files_with_keras": files_with_keras,
                        "failed": sum(o.status == "failed" for o in outcomes),
                        "keras_uses": left,
                        "translatable": translatable,
                        "needs_human": left - translatable,
                    },
                }
            )
        )
    else:
        click.echo(
            f"k2t check: {left} Keras use{'s' * (left != 1)} left in {files_with_keras} of {len(outcomes)} "
            f"file{'s' * (len(outcomes) != 1)}: {translatable} translatable by k2t convert, "
            f"{left - translatable} for a human"
            + (f"; {sum(o.status == 'failed' for o in outcomes)} failed" if any(o.error for o in outcomes) else ""),
            err=True,
        )
    if any(o.internal for o in outcomes):
        sys.exit(EXIT_INTERNAL)
    if any(o.status == "failed" for o in outcomes):
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(EXIT_LEFT if left else EXIT_OK)


def _check_text(text: str, options: Options) -> Outcome:
    try:
        analysis = analyse_source(text, options)
    except TranslationError as exc:
        return _failed("<stdin>", f"<stdin>:{exc}")
    except RecursionError:
        return _failed("<stdin>", "<stdin>: nested too deeply to translate")
    except Exception as exc:  # noqa: BLE001
        return _failed("<stdin>", f"<stdin>:1:1: K2T901 internal error: {type(exc).__name__}: {exc}", internal=True)
    result = analysis.result
    return Outcome("<stdin>", result.status, findings_from_diagnostics(result.diagnostics), analysis.findings)


def _input_shape(text: str) -> tuple:
    try:
        return tuple(None if part.strip() in ("None", "") else int(part) for part in text.strip("()").split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r}: sizes separated by commas, e.g. 28,28,1", param_hint="--input-shape") from None


def _setting(text: str) -> tuple[str, object]:
    name, equals, value = text.partition("=")
    try:
        if not (equals and name.strip().isidentifier()):
            raise ValueError
        return name.strip(), ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        raise click.BadParameter(f"{text!r}: NAME=VALUE with a Python literal, e.g. num_classes=10",
                                 param_hint="--set") from None


@main.command()
@click.argument("files", nargs=-1, type=click.Path())
@click.option(
    "--pairs", "pairs_file", type=click.Path(),
    help="A file listing KERAS.py TORCH.py pairs, one per line ('#' comments; paths relative to it).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text", show_default=True,
    help="text: a report per model; json: one document; github: the text report with an annotation "
    "per pair that is not equivalent.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--atol", default=1e-5, show_default=True, help="Absolute tolerance.")
@click.option("--rtol", default=1e-4, show_default=True, help="Relative tolerance.")
@click.option("--seed", default=0, show_default=True, help="Seed for weights and sample inputs.")
@click.option(
    "--train-steps", default=0, show_default=True, type=click.IntRange(min=0),
    help="Also train both models N steps on the same batches with the program's loss and optimizer "
    "and compare loss, gradients and weights per step (0: forward pass only).",
)
@click.option(
    "--input-shape", "input_shape", metavar="D1,D2,...",
    help="The input shape without the batch (e.g. 28,28,1) for subclassed models whose input shape the "
    "program only gets from its data; 'None' for a variable size.",
)
@click.option(
    "--set", "settings", metavar="NAME=VALUE", multiple=True,
    help="A module-level value the program computes from its data (e.g. num_classes=10), bound before "
    "the models are built; VALUE is a Python literal. Repeatable.",
)
def verify(files, pairs_file, fmt, as_json, atol, rtol, seed, train_steps, input_shape, settings):
    """Check numerically that each TORCH.py computes what its KERAS.py's models compute.

    FILES are KERAS.py TORCH.py pairs (one or more); --pairs reads them from a file. All pairs run in
    one process, so TensorFlow and torch are imported once.

    This executes code from both files: their imports, literal assignments and the statements that
    construct each model (never fit/evaluate/predict or data loading); with --train-steps also the
    model's compile() and TORCH.py's optimizer, loss and training functions, on generated batches.
    """
    from k2t.verify import verify_files

    fmt = "json" if as_json else fmt
    shape = _input_shape(input_shape) if input_shape else None
    values = dict(_setting(text) for text in settings)
    pairs = _verify_pairs(files, pairs_file)
    reports, code = [], EXIT_OK
    for keras_file, torch_file in pairs:
        try:
            verdicts = verify_files(
                keras_file, torch_file, atol=atol, rtol=rtol, seed=seed, train_steps=train_steps, input_shape=shape,
                values=values,
            )
        except (InputError, TranslationError) as exc:
            click.echo(f"error: {exc}", err=True)
            code = EXIT_BAD_INPUT
            continue
        if not (verdicts and all(v.status == "equivalent" for v in verdicts)):
            code = max(code, EXIT_LEFT)
        reports.append((keras_file, torch_file, verdicts))
    if fmt == "json":
        models = [
            {"keras_file": keras, "torch_file": torch, **v.to_json()} for keras, torch, verdicts in reports for v in verdicts
        ]
        click.echo(json.dumps({"models": models}, indent=2))
    else:
        for i, (keras_file, torch_file, verdicts) in enumerate(reports):
            if len(pairs) > 1:
                if i:
                    click.echo()
                click.echo(f"== {keras_file} -> {torch_file}")
            click.echo(render_verdicts(verdicts, atol, rtol))
            if fmt == "github":
                for v in verdicts:
                    if v.status != "equivalent":
                        reason = f"k2t verify: model {v.name} is {v.status} (Keras original: {keras_file})"
                        detail = v.first_divergent_layer or v.reason
                        if v.training is not None and v.training.status not in ("equivalent", "skipped"):
                            detail = detail or v.training.reason or "training diverges"
                        click.echo(render_github_error(torch_file, f"{reason}{': ' + detail if detail else ''}"))
        if len(pairs) > 1:
            failed = sum(1 for _, _, verdicts in reports for v in verdicts if v.status != "equivalent")
            total = sum(len(verdicts) for _, _, verdicts in reports)
            bad = len(pairs) - len(reports)
            click.echo(
                f"\n{len(pairs)} pairs, {total} models: {total - failed} equivalent, {failed} not"
                + (f", {bad} not read" if bad else "")
            )
    sys.exit(code)


def _verify_pairs(files: tuple[str, ...], pairs_file: str | None) -> list[tuple[str, str]]:
    """(KERAS.py, TORCH.py) pairs from the arguments, then from --pairs; a usage error exits 2."""
    if len(files) % 2:
        _usage_error(f"verify takes KERAS.py TORCH.py pairs; got {len(files)} paths (an odd number)")
    pairs = list(zip(files[::2], files[1::2]))
    if pairs_file is not None:
        try:
            text = read_source(pairs_file).text
        except InputError as exc:
            _usage_error(str(exc))
        base = os.path.dirname(pairs_file)
        for number, line in enumerate(text.splitlines(), 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) != 2:
                _usage_error(f"{pairs_file}:{number}: expected 'KERAS.py TORCH.py', got {line.strip()!r}")
            pairs.append(tuple(os.path.join(base, f) for f in fields))
    if not pairs:
        _usage_error("verify needs KERAS.py TORCH.py (or --pairs FILE)")
    return pairs


def _usage_error(message: str):
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


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
        if v.training is not None:
            lines += _render_training(v.training)
    return "\n".join(lines)


def _render_training(t) -> list[str]:
    lines = [f"  training ({t.steps_run} of {t.steps} steps): {t.status.upper()}"]
    if t.steps_run:
        lines.append(
            f"    max loss diff {_number(t.max_loss_diff)}  max gradient diff {_number(t.max_grad_diff)}"
            f"  max weight diff {_number(t.max_weight_diff)}"
        )
    first = t.first_divergence
    if first:
        if first["torch"]:
            what = f"{first['quantity']} of {first['keras']} (torch {first['torch']})"
        else:
            what = first["quantity"]
        figure = ""
        if first["max_abs_diff"] not in (None, float("inf")):
            figure = f": max abs diff {_number(first['max_abs_diff'])} where {_number(first['allowed'])} is allowed"
        lines.append(f"    first divergence: step {first['step']}, {what}{figure}")
        if first.get("detail"):
            lines.append(f"      {first['detail']}")
    if t.reason and not (first and first.get("detail") == t.reason):
        lines.append(f"    reason: {t.reason}")
    for note in t.notes:
        lines.append(f"    note: {note}")
    if t.executed:
        lines.append(f"    executed: {t.executed}")
    if t.per_step:
        lines.append("    step  Keras loss     torch loss     loss diff  grad diff  weight diff")
        for r in t.per_step:
            lines.append(
                f"    {r['step']:>4}  {r['keras_loss']:<13.7g}  {r['torch_loss']:<13.7g}  {_number(r['loss_diff'])}"
                f"   {_number(r['max_grad_diff'])}   {_number(r['max_weight_diff'])}"
            )
    return lines


@main.command(name="codes")
def codes() -> None:
    """List the diagnostic codes."""
    for code, meaning in {**CHECK_CODES, **CODES}.items():
        click.echo(f"{code}  {meaning}")


if __name__ == "__main__":  # pragma: no cover
    main()
