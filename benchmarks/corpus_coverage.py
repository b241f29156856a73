"""How much of real public Keras code `k2t check` finds translatable, and why the rest is not.

    .venv/bin/python corpus/materialize.py            # once: writes corpus/files/ from git mirrors
    .venv/bin/python benchmarks/corpus_coverage.py [--repos] [-j N] [--cli] [--json OUT] [PATHS...]
    .venv/bin/python benchmarks/corpus_coverage.py --dump F ...; ... --load F   (report again, no k2t run)

Corpus: the files of corpus/manifest.tsv (about 200 .py and .ipynb files of public repositories with
Keras 2 and Keras 3 code of many styles, never keras-io nor keras/examples), under corpus/files/, or
the PATHS given (files or directories). Everything runs in one process: each file goes through what
`k2t check` does to it (k2t.cli.convert_file with formatted=False); --cli runs `k2t check --format
json` on all of them instead (one command).

Printed: files, lines (notebooks: their code cells), Keras uses found (findings that are not
warnings), the share translatable (K2T001 / all uses), files fully translatable, models translated,
Keras classes translated without a marker and files whose classes all are, files k2t sees no
Keras in (blind spots: Keras imported only under if/try, or only injected), files that fail (bad
input, internal errors) with their messages; the same per style tag of the manifest (and per
repository with --repos); the top 30 reasons a use is not translated, grouped by code and a message
with the program-specific names taken out (K2T501, an API without translation, also by the part of
the API it is in: keras.backend.*, tf.nn.*, tf.* ops, ...), with uses, files and an example
file:line; where those uses
sit (inside a custom layer class or a subclassed model that k2t leaves as is, on a model that was
not translated, elsewhere); and the 40 most frequent untranslated qualified names (aliases resolved
through the file's imports: K.cast -> keras.backend.cast, Conv2D -> keras.layers.Conv2D; tf.keras
and tensorflow.keras are written keras, tensorflow is written tf).
"""

from __future__ import annotations

import argparse
import ast
import csv
import dataclasses
import json
import re
import signal
import subprocess
import sys
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
FILES = CORPUS / "files"

TRANSLATABLE = "K2T001"
WARNING = "warning"


# --- the corpus ----------------------------------------------------------------------------------


def manifest_tags() -> dict[str, list[str]]:
    """corpus/files-relative path -> style tags, from corpus/manifest.tsv."""
    tags: dict[str, list[str]] = {}
    manifest = CORPUS / "manifest.tsv"
    if manifest.is_file():
        with open(manifest, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                rel = f"{row['repo'].replace('/', '+', 1)}/{row['path']}"
                tags[rel] = [t for t in row["tags"].split(",") if t]
    return tags


def corpus_files(paths: list[str]) -> list[Path]:
    if not paths:
        if not FILES.is_dir():
            sys.exit(f"no corpus in {FILES}: run corpus/materialize.py first")
        paths = [str(FILES)]
    found: list[Path] = []
    for given in paths:
        p = Path(given)
        if p.is_dir():
            found += sorted(q for q in p.rglob("*") if q.is_file() and q.suffix in (".py", ".ipynb"))
        elif p.is_file():
            found.append(p)
        else:
            sys.exit(f"{given}: no such file or directory")
    return found


def display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(FILES.resolve()))
    except ValueError:
        return str(path)


# --- one file: its program text, imports and classes ---------------------------------------------


@dataclasses.dataclass
class Source:
    """A file's Python program (a notebook's code cells joined), and what the findings need of it."""

    text: str = ""
    lines: int = 0
    cell_start: dict[int, int] = dataclasses.field(default_factory=dict)  # finding cell -> program line
    aliases: dict[str, str] = dataclasses.field(default_factory=dict)
    classes: list[tuple[int, int, int, str, list[str]]] = dataclasses.field(default_factory=list)
    star_keras: bool = False  # from keras... import *
    nested_keras_import: bool = False  # a keras import only under if/try/def
    top_keras_import: bool = False
    parsed: bool = False

    def program_line(self, cell: int | None, line: int) -> int:
        if cell is None:
            return line
        return self.cell_start.get(cell, 0) + line

    def enclosing_classes(self, line: int) -> list[int]:
        """The first lines of the classes whose body holds program line ``line``, innermost first."""
        return sorted((first for first, header, end, _, _ in self.classes if header < line <= end), reverse=True)

    def class_at(self, line: int):
        """(first line, name, base names) of the class whose statement (decorators to colon) holds ``line``."""
        for first, header, _end, name, bases in self.classes:
            if first <= line <= header:
                return first, name, bases
        return None


_KERAS_ROOTS = ("keras", "tensorflow", "tf_keras")


def load_source(path: Path) -> Source:
    source = Source()
    try:
        raw = path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return source
    if path.suffix == ".ipynb":
        try:
            from k2t.notebook import notebook_to_program

            program = notebook_to_program(raw)
        except Exception:  # noqa: BLE001 - a notebook k2t refuses: its failure is reported elsewhere
            return source
        text = program.text
        marker = re.compile(rf"# k2t-cell: (\d+) {re.escape(program.nonce)}")
        for number, line in enumerate(text.splitlines(), start=1):
            found = marker.fullmatch(line)
            if found:
                source.cell_start[int(found.group(1)) + 1] = number
        source.lines = sum(1 for line in text.splitlines() if not marker.fullmatch(line))
    else:
        text = raw
        source.lines = len(text.splitlines())
    source.text = text
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return source
    source.parsed = True
    _read_tree(tree, source)
    return source


def _read_tree(tree: ast.AST, source: Source) -> None:
    top = set(map(id, getattr(tree, "body", [])))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    source.aliases[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    source.aliases.setdefault(head, head)
                if alias.name.split(".")[0] in _KERAS_ROOTS:
                    _note_keras_import(source, id(node) in top)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name == "*":
                    if node.module.split(".")[0] in _KERAS_ROOTS:
                        source.star_keras = True
                    continue
                source.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            if node.module.split(".")[0] in _KERAS_ROOTS:
                _note_keras_import(source, id(node) in top)
        elif isinstance(node, ast.ClassDef):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            header = node.body[0].lineno - 1 if node.body else node.lineno
            bases = [ast.unparse(b) for b in node.bases]
            source.classes.append((first, max(header, node.lineno), node.end_lineno or node.lineno, node.name, bases))
    if source.top_keras_import:
        source.nested_keras_import = False


def _note_keras_import(source: Source, top: bool) -> None:
    if top:
        source.top_keras_import = True
    elif not source.top_keras_import:
        source.nested_keras_import = True


# --- names ---------------------------------------------------------------------------------------

_LAYER_SUBMODULE = re.compile(r"^keras\.layers\.(?:[a-z_]+\.)+(?=[A-Za-z])")


def canonical(dotted: str) -> str:
    for prefix, short in (
        ("tensorflow.python.keras.", "keras."),
        ("tensorflow.keras.", "keras."),
        ("tf.keras.", "keras."),
        ("tf_keras.", "keras."),
        ("keras.api._v2.keras.", "keras."),
        ("tensorflow.", "tf."),
    ):
        if dotted.startswith(prefix):
            dotted = short + dotted[len(prefix):]
            break
    if dotted in ("tensorflow", "tensorflow.keras", "tf.keras"):
        dotted = {"tensorflow": "tf"}.get(dotted, "keras")
    # keras.layers.convolutional.Conv2D, keras.layers.core.Dense: the public name
    if not dotted.startswith("keras.layers.experimental"):
        dotted = _LAYER_SUBMODULE.sub("keras.layers.", dotted)
    return dotted


def qualify(expr: str, aliases: dict[str, str]) -> str:
    """The qualified name of a reference as written in the program (``K.cast``, ``layers.Dense``)."""
    expr = re.split(r"[(\[]", expr.strip(), maxsplit=1)[0].strip()
    if not re.fullmatch(r"[A-Za-z_][\w.]*", expr):
        return expr
    head, _, rest = expr.partition(".")
    full = aliases.get(head)
    if full is None:
        return canonical(expr)
    return canonical(f"{full}.{rest}" if rest else full)


_TF_SUBMODULES = {
    "audio", "autograph", "bitwise", "compat", "config", "data", "debugging", "distribute", "dtypes", "errors",
    "estimator", "experimental", "feature_column", "graph_util", "image", "io", "linalg", "lite", "lookup", "math",
    "nest", "nn", "queue", "ragged", "random", "saved_model", "signal", "sparse", "strings", "summary", "sysconfig",
    "test", "tpu", "train", "types", "xla", "metrics", "losses", "optimizers", "initializers", "layers", "logging",
}
_DTYPES = re.compile(r"^(u?int\d+|float\d+|bfloat16|complex\d+|bool|string|half|double|variant|resource|qint\d+)$")


def family(name: str) -> str:
    """The part of the API a qualified name belongs to: keras.backend.*, tf.nn.*, tf.* ops, tf.GradientTape."""
    parts = name.split(".")
    if parts[0] == "tf" and len(parts) > 1:
        second = parts[1]
        if second in _TF_SUBMODULES and len(parts) > 2:
            return f"tf.{second}.*"
        if _DTYPES.match(second):
            return "tf dtypes (tf.float32, ...)"
        if second[:1].isupper():
            return f"tf.{second}"
        if second.startswith("__"):
            return "tf.__version__ and the like"
        return "tf.* top-level ops (tf.reduce_mean, tf.cast, ...)"
    if parts[0] == "keras" and len(parts) > 2:
        return f"keras.{parts[1]}.*"
    if parts[0] == "keras" and len(parts) == 2:
        return name
    return "other (not a keras/tf name)"


def _is_keras_name(name: str) -> bool:
    return name.split(".")[0] in ("keras", "tf", "tf_keras")


# --- messages ------------------------------------------------------------------------------------

# (code or None, pattern, normalised message, which group names the untranslated API, kind of name)
_PATTERNS: list[tuple[str | None, re.Pattern, str, str | None, str]] = [
    (None, re.compile(r"^(?P<n>.+?) outside a Sequential model has no translation yet$"),
     "<layer> outside a Sequential model has no translation yet", "n", "api"),
    (None, re.compile(r"^(?P<n>[\w.]+) is not part of a model k2t can follow statically(?P<rest>.*)$"),
     "<name> is not part of a model k2t can follow statically\\g<rest>", "n", "api"),
    (None, re.compile(r"^layer (?P<n>\S+) has no translation yet$"), "layer <layer> has no translation yet", "n", "api"),
    # K2T501 comes in two wordings: reported by the translation, or found left in its output by check
    (None, re.compile(r"^(?P<n>.+?) has no translation yet; left as is$"), "<api> has no translation yet (left as is)", "n", "api"),
    (None, re.compile(r"^(?P<n>.+?) is left as is by k2t convert \(no translation yet\)$"),
     "<api> has no translation yet (left as is)", "n", "api"),
    (None, re.compile(r"^[\w.\[\]'\"]+\.(?P<m>\w+)\(\) left as is: the model was not translated$"),
     "<model>.<method>() left as is: the model was not translated", "m", "model-call"),
    (None, re.compile(r"^[\w.\[\]'\"]+\.(?P<m>\w+): Keras model attribute has no translation yet$"),
     "<model>.<attr>: Keras model attribute has no translation yet", "m", "model-attr"),
    (None, re.compile(r"^[\w.\[\]'\"]+\.(?P<m>\w+)\(\) has no translation yet$"),
     "<model>.<method>() has no translation yet", "m", "model-call"),
    (None, re.compile(r"^(?P<n>.+?): functional and subclassed models are not translated yet$"),
     "<Input/Model>: functional and subclassed models are not translated yet", "n", "api"),
    (None, re.compile(r"^model output .+ is not a tensor k2t can follow$"), "model output <expr> is not a tensor k2t can follow", None, ""),
    (None, re.compile(r"^model input .+ is not a keras\.Input$"), "model input <expr> is not a keras.Input", None, ""),
    (None, re.compile(r"^.+ is computed by code k2t cannot translate inside a model$"),
     "<var> is computed by code k2t cannot translate inside a model", None, ""),
    (None, re.compile(r"^.+ is not a tensor k2t can follow$"), "<expr> is not a tensor k2t can follow", None, ""),
    (None, re.compile(r"^subclassed model \w+ is not translated yet$"), "subclassed model <Name> is not translated yet", None, "class"),
    (None, re.compile(r"^custom layer class \w+ is not translated yet$"), "custom layer class <Name> is not translated yet", None, "class"),
    (None, re.compile(r"^(?P<n>.+?) is not a Keras layer k2t knows \(custom layers are not translated yet\)$"),
     "<Name> is not a Keras layer k2t knows (custom layers are not translated yet)", "n", "api"),
    (None, re.compile(r"^layer \S+ is applied twice \(shared weights\): not translated yet$"),
     "layer <name> is applied twice (shared weights): not translated yet", None, ""),
    (None, re.compile(r"^layer '.*' is not a layer call k2t can read$"), "layer '<name>' is not a layer call k2t can read", None, ""),
    ("K2T102", re.compile(r"^(?P<n>[\w.]+)\((?P<a>\w+)=[^)]*\): the value must be known statically$"),
     "<layer>(<arg>=...): the value must be known statically", "n", "api"),
    ("K2T102", re.compile(r"^(?P<n>[\w.]+)\((?P<a>\w+)=(?P<v>[^)]*)\)(?P<rest>.*)$"), "<layer>(\\g<a>=...)\\g<rest>", "n", "api-arg"),
    ("K2T102", re.compile(r"^(?P<n>[\w.]+): (?P<rest>missing argument) '\w+'$"), "<layer>: missing argument '<arg>'", "n", "api"),
    ("K2T102", re.compile(r"^(?P<n>[\w.]+)\((?P<inner>.*)\): (?P<rest>.*)$"), "<layer>(...): \\g<rest>", "n", "api"),
    ("K2T102", re.compile(r"^(?P<n>[\w.]+): (?P<rest>.*)$"), "<layer>: \\g<rest>", "n", "api"),
    ("K2T104", re.compile(r"^(?P<n>[\w.]+): (?P<rest>.*)$"), "\\g<n>: \\g<rest>", None, ""),
    ("K2T401", re.compile(r"^optimizer (?P<n>.+?) has no translation yet$"), "optimizer <optimizer> has no translation yet", "n", "api"),
    ("K2T401", re.compile(r"^metric (?P<n>.+?) has no translation yet(?P<rest>.*)$"), "metric <metric> has no translation yet\\g<rest>", "n", "api"),
    ("K2T401", re.compile(r"^(?P<n>[\w.]+)\((?P<inner>.*)\): (?P<rest>.*)$"), "<optimizer>(...): \\g<rest>", "n", "api"),
    ("K2T402", re.compile(r"^(?P<n>[A-Z][\w.]*)\((?P<a>\w+)=\.\.\.\) has no translation yet$"), "<callback>(\\g<a>=...) has no translation yet", "n", "api-arg"),
    ("K2T302", re.compile(r"^\w+\((?P<inner>.*)\): (?P<rest>.*)$"), "<model>(...): \\g<rest>", None, ""),
    ("K2T002", re.compile(r"^(?P<n>.+?): k2t convert keeps this import; (?P<rest>.*)$"), "<import>: k2t convert keeps this import; \\g<rest>", None, ""),
    ("K2T902", re.compile(r"^(?P<head>internal error while reading [^(]*?)\s*(?:model \S+ )?\((?P<inner>.*)\); left as is$"),
     "\\g<head> (...); left as is", None, ""),
]


_HEAD = re.compile(r"^(?P<n>[A-Za-z_][\w.]*)(?:\(\))? (?P<rest>(?:is|has|are|cannot|needs|must|outside)\b.+)$")


def specific(code: str, message: str):
    for only, pattern, template, group, kind in _PATTERNS:
        if only is not None and only != code:
            continue
        found = pattern.match(message)
        if found:
            name = found.group(group) if group else None
            if kind == "api-arg":
                name = f"{name}({found.group('a')}=)"
            return found.expand(template), name, kind
    return None


def normalise(code: str, message: str, generic: set | frozenset = frozenset()) -> tuple[str, str | None, str]:
    """(normalised message, the API it names or None, kind of that name).

    Known wordings first; then a message "<name> is/has ... rest" whose rest comes with several names
    (``generic``: the (code, rest) pairs seen so) is "<name> rest"; else quoted strings and numbers go.
    """
    found = specific(code, message)
    if found is not None:
        return found
    head = _HEAD.match(message)
    if head and (code, head.group("rest")) in generic:
        return f"<name> {head.group('rest')}", head.group("n"), "api"
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'...'", message)
    return re.sub(r"\b\d+(\.\d+)?\b", "N", text), None, ""


def generic_rests(results) -> set:
    """(code, rest) of the messages "<name> rest" that no known wording matches and that several names share."""
    heads: dict[tuple[str, str], set] = defaultdict(set)
    for checked in results:
        for f in checked.findings:
            if f.get("translatable") or specific(f["code"], f["message"]) is not None:
                continue
            head = _HEAD.match(f["message"])
            if head:
                heads[(f["code"], head.group("rest"))].add(head.group("n"))
    return {key for key, names in heads.items() if len(names) > 1}


# --- running k2t ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Checked:
    path: Path
    status: str
    findings: list[dict]
    error: str | None = None
    internal: bool = False
    seconds: float = 0.0
    # Models (Sequential, functional, subclassed instances) and Keras classes: found, translated.
    models: tuple[int, int] = (0, 0)
    classes: tuple[int, int] = (0, 0)
    # The translated program (a notebook's code cells joined) compiles as Python; None: not measured.
    compiles: bool | None = None


class _Timeout(Exception):
    pass


def _alarm(signum, frame):  # noqa: ARG001
    raise _Timeout()


def check_one(path: Path, timeout: int) -> Checked:
    """What `k2t check` finds in one file (k2t.cli.convert_file without black), in this process."""
    from k2t.cli import convert_file
    from k2t.options import Options

    use_alarm = hasattr(signal, "SIGALRM") and timeout > 0
    if use_alarm:
        signal.signal(signal.SIGALRM, _alarm)
    start = time.perf_counter()
    try:
        if use_alarm:
            signal.alarm(timeout)
        outcome = convert_file(str(path), Options(formatted=False))
        checked = Checked(path, outcome.status, [f.to_json() for f in outcome.findings], outcome.error,
                          outcome.internal)
        checked.models, checked.classes = outcome.counts[:2], outcome.counts[2:]
        checked.compiles = _compiles(path, outcome.text_after) if outcome.text_after else None
    except _Timeout:
        checked = Checked(path, "failed", [], f"{path}: timed out after {timeout} s", internal=True)
    finally:
        if use_alarm:
            signal.alarm(0)
    checked.seconds = time.perf_counter() - start
    return checked


def _compiles(path: Path, text: str) -> bool:
    """Whether the output compiles; a notebook's cells are joined into one program first (cells
    with IPython magics are that program's own business: they compile in neither case)."""
    if path.suffix == ".ipynb":
        from k2t.notebook import notebook_to_program

        try:
            text = notebook_to_program(text).text
        except ValueError:
            return False
    try:
        with warnings.catch_warnings():  # the program's own SyntaxWarnings (`x is "str"`)
            warnings.simplefilter("ignore")
            compile(text, str(path), "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def _check_star(args: tuple[Path, int]) -> Checked:
    return check_one(*args)


def check_in_process(files: list[Path], timeout: int, jobs: int = 1) -> list[Checked]:
    results = []
    if jobs > 1:
        import multiprocessing

        pool = multiprocessing.Pool(jobs)
        stream = pool.imap(_check_star, [(path, timeout) for path in files])
    else:
        pool, stream = None, (check_one(path, timeout) for path in files)
    for done, checked in enumerate(stream, start=1):
        path = checked.path
        results.append(checked)
        if sys.stderr.isatty():
            print(f"\r{done}/{len(files)} {display(path)[:60]:60}", end="", file=sys.stderr, flush=True)
    if pool is not None:
        pool.close()
        pool.join()
    if sys.stderr.isatty():
        print("\r" + " " * 80 + "\r", end="", file=sys.stderr)
    return results


def check_cli(files: list[Path]) -> list[Checked]:
    k2t = Path(sys.executable).parent / "k2t"
    command = [str(k2t) if k2t.exists() else "k2t", "check", "--format", "json", *map(str, files)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError:
        sys.exit(f"k2t check gave no JSON (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    by_path = {str(p): p for p in files}
    results = []
    for entry in data["files"]:
        error = entry.get("error")
        results.append(Checked(by_path.get(entry["path"], Path(entry["path"])), entry["status"], entry["uses"], error,
                               bool(error and "K2T901" in error), elapsed / max(len(files), 1)))
    return results


# --- the report ----------------------------------------------------------------------------------


def pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:5.1f}%" if whole else "   - "


def where(rel: str, finding: dict) -> str:
    if finding.get("cell") is not None:
        return f"{rel}:cell {finding['cell']}:{finding['line']}"
    return f"{rel}:{finding['line']}"


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclasses.dataclass
class Totals:
    files: int = 0
    lines: int = 0
    uses: int = 0
    translatable: int = 0
    full: int = 0
    none_found: int = 0
    failed: int = 0

    def add(self, lines: int, uses: int, translatable: int, failed: bool) -> None:
        self.files += 1
        self.lines += lines
        self.uses += uses
        self.translatable += translatable
        self.failed += failed
        if not failed:
            if uses and uses == translatable:
                self.full += 1
            if not uses:
                self.none_found += 1

    def row(self, label: str, width: int) -> str:
        return (f"{clip(label, width):{width}} {self.files:5} {self.lines:7} {self.uses:6} {self.translatable:6} "
                f"{pct(self.translatable, self.uses)} {self.full:5} {self.none_found:5} {self.failed:5}")

    @staticmethod
    def header(label: str, width: int) -> str:
        return (f"{label:{width}} {'files':>5} {'lines':>7} {'uses':>6} {'K2T001':>6} {'share':>6} {'full':>5} "
                f"{'none':>5} {'fail':>5}")


def report(results: list[Checked], tags: dict[str, list[str]], per_repo: bool, seconds: float) -> dict:
    total = Totals()
    by_tag: dict[str, Totals] = defaultdict(Totals)
    by_repo: dict[str, Totals] = defaultdict(Totals)
    reasons: dict[tuple[str, str], list] = {}
    names: dict[str, Counter] = defaultdict(Counter)
    name_example: dict[str, str] = {}
    contexts = Counter()
    shares = Counter()
    warnings = Counter()
    failures: list[tuple[str, str, bool]] = []
    internal_findings: list[str] = []
    unreported = 0  # K2T501 found by check in the output, not reported by the translation
    blind: list[tuple[str, str]] = []
    star_files: list[str] = []
    generic = generic_rests(results)

    for checked in results:
        rel = display(checked.path)
        source = load_source(checked.path)
        uses = [f for f in checked.findings if f.get("severity") != WARNING]
        translatable = sum(1 for f in uses if f.get("translatable"))
        failed = checked.status == "failed"
        total.add(source.lines, len(uses), translatable, failed)
        for tag in tags.get(rel, ["(not in manifest)"]):
            by_tag[tag].add(source.lines, len(uses), translatable, failed)
        by_repo[rel.split("/", 1)[0]].add(source.lines, len(uses), translatable, failed)
        if failed:
            error = checked.error or "failed"
            if error.startswith(str(checked.path)):
                error = rel + error[len(str(checked.path)):]
            failures.append((rel, error, checked.internal))
            continue
        if uses:
            share = translatable / len(uses)
            shares["0%" if share == 0 else "100%" if share == 1 else "(0, 25%)" if share < 0.25
                   else "[25, 50%)" if share < 0.5 else "[50, 100%)"] += 1
        if not uses:
            why = ("Keras imported only under if/try/def" if source.nested_keras_import
                   else "no keras/tensorflow import k2t can see (injected modules?)")
            blind.append((rel, why))
        if source.star_keras:
            star_files.append(rel)
        # which untranslated classes the findings report, by their first line
        untranslated_classes: dict[int, str] = {}
        for f in checked.findings:
            if f["code"] == "K2T201" and f["message"].startswith("custom layer class"):
                what = "custom layer class (K2T201)"
            elif f["code"] == "K2T301" and f["message"].startswith("subclassed model"):
                what = "subclassed model (K2T301)"
            else:
                continue
            found = source.class_at(source.program_line(f.get("cell"), f["line"]))
            if found is not None:
                untranslated_classes[found[0]] = what
        for f in checked.findings:
            code, message = f["code"], f["message"]
            if f.get("severity") == WARNING:
                warnings[(code, normalise(code, message, generic)[0])] += 1
                continue
            if code == "K2T902":
                internal_findings.append(f"{where(rel, f)}: {message}")
            if f.get("translatable"):
                continue
            if code == "K2T501" and message.endswith("is left as is by k2t convert (no translation yet)"):
                unreported += 1
            text, name, kind = normalise(code, message, generic)
            line = source.program_line(f.get("cell"), f["line"])
            key = text
            if code == "K2T501" and name:
                key = f"{text} [{family(qualify(name, source.aliases))}]"
            entry = reasons.setdefault((code, key), [0, set(), where(rel, f)])
            entry[0] += 1
            entry[1].add(rel)
            # where the use sits
            if code in ("K2T201", "K2T301") and text.startswith(("custom layer class", "subclassed model")):
                contexts["the class statement of an untranslated custom layer / subclassed model"] += 1
            else:
                kind_of = next((untranslated_classes[first] for first in source.enclosing_classes(line)
                                if first in untranslated_classes), None)
                if kind_of is not None:
                    contexts[f"inside an untranslated {kind_of}"] += 1
                elif kind in ("model-call", "model-attr") or code == "K2T302":
                    contexts["a method/attribute of a model that was not translated (K2T302)"] += 1
                else:
                    contexts["elsewhere (module level, functions, model-building code)"] += 1
            # the untranslated name
            qualified = None
            if kind in ("api", "api-arg") and name:
                qualified = qualify(name, source.aliases)
                if not _is_keras_name(qualified) and "." not in qualified:
                    # a bare name k2t reports (a layer imported by star, an injected module's attribute)
                    qualified = qualified if code in ("K2T101", "K2T102") else None
            elif kind in ("model-call", "model-attr") and name:
                qualified = f"Model.{name}()" if kind == "model-call" else f"Model.{name}"
            elif kind == "class":
                found = source.class_at(line)
                bases = [qualify(b, source.aliases) for b in found[2]] if found else []
                keras_bases = [b for b in bases if _is_keras_name(b)] or bases or ["?"]
                qualified = f"{keras_bases[0]} subclass"
            if qualified:
                names[qualified][code] += 1
                name_example.setdefault(qualified, where(rel, f))

    print(f"k2t on the corpus: {total.files} files, {total.lines} lines, in {seconds:.0f} s")
    print(f"  Keras uses found:            {total.uses}")
    print(f"  translatable (K2T001):       {total.translatable}  ({pct(total.translatable, total.uses).strip()} of uses)")
    print(f"  needing a human:             {total.uses - total.translatable}")
    print(f"  files fully translatable:    {total.full} of {total.files}  (every use K2T001)")
    print(f"  files with no Keras use found: {total.none_found}")
    print("  files by translatable share:  "
          + ", ".join(f"{k} {shares[k]}" for k in ("0%", "(0, 25%)", "[25, 50%)", "[50, 100%)", "100%")))
    print(f"  files that fail:             {total.failed}  "
          f"({sum(1 for f in failures if f[2])} internal errors, {sum(1 for f in failures if not f[2])} bad input)")
    print(f"  K2T501 not reported by the translation (left in its output, found by check): {unreported}")
    print(f"  K2T902 (internal error inside one model/statement): {len(internal_findings)}")
    models = [sum(c.models[i] for c in results) for i in (0, 1)]
    classes = [sum(c.classes[i] for c in results) for i in (0, 1)]
    with_classes = [c for c in results if c.classes[0]]
    all_classes = sum(1 for c in with_classes if c.classes[0] == c.classes[1])
    print(f"  models translated (Sequential, functional, subclassed instances): {models[1]} of {models[0]}"
          f"  ({pct(models[1], models[0]).strip()})")
    print(f"  Keras classes translated without a marker: {classes[1]} of {classes[0]}  ({pct(classes[1], classes[0]).strip()});"
          f" files with every class translated: {all_classes} of {len(with_classes)}")
    measured = [c for c in results if c.compiles is not None]
    broken = [display(c.path) for c in measured if not c.compiles]
    print(f"  outputs that compile:        {len(measured) - len(broken)} of {len(measured)}"
          + (f"  (not: {', '.join(broken[:5])}{' ...' if len(broken) > 5 else ''})" if broken else ""))
    print(f"  warnings (documented differences): {sum(warnings.values())}")
    if failures:
        print("\nFailures:")
        for rel, error, internal in failures:
            print(f"  [{'internal' if internal else 'bad input'}] {clip(error, 300)}")
    if internal_findings:
        print("\nK2T902 findings:")
        for line in internal_findings[:20]:
            print(f"  {clip(line, 200)}")
    if blind:
        print("\nFiles with Keras code in which k2t finds no Keras use (blind spots):")
        for rel, why in blind:
            print(f"  {rel}: {why}")
    if star_files:
        print(f"\nFiles importing Keras with * (the names they bring are invisible to k2t): {len(star_files)}")
        for rel in star_files:
            print(f"  {rel}")

    width = 16
    print("\nBy style tag (a file counts under each of its tags; full: every use K2T001; none: no use found):")
    print("  " + Totals.header("tag", width))
    for tag, totals in sorted(by_tag.items(), key=lambda kv: -kv[1].files):
        print("  " + totals.row(tag, width))
    if per_repo:
        width = 44
        print("\nBy repository:")
        print("  " + Totals.header("repository", width))
        for repo, totals in sorted(by_repo.items(), key=lambda kv: kv[1].translatable / max(kv[1].uses, 1)):
            print("  " + totals.row(repo.replace("+", "/", 1), width))

    needs_human = total.uses - total.translatable
    print(f"\nWhere the {needs_human} uses that need a human sit:")
    for context, count in contexts.most_common():
        print(f"  {count:6}  {pct(count, needs_human)}  {context}")

    print("\nTop 30 reasons a use is not translated (uses, files, code, message, example):")
    ranked = sorted(reasons.items(), key=lambda kv: (-kv[1][0], kv[0]))
    for (code, text), (count, files, example) in ranked[:30]:
        print(f"  {count:6} {len(files):4}  {code}  {clip(text, 100)}")
        print(f"  {'':12}  e.g. {example}")
    rest = sum(v[0] for _, v in ranked[30:])
    if rest:
        print(f"  ({len(ranked) - 30} more reasons, {rest} uses)")
    by_code = Counter()
    for (code, _), (count, _, _) in reasons.items():
        by_code[code] += count
    print("\nUses needing a human, by code: " + ", ".join(f"{code} {count}" for code, count in sorted(by_code.items())))

    print("\nTop 40 untranslated qualified names (uses by code, example):")
    ranked_names = sorted(names.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    for name, codes in ranked_names[:40]:
        split = " ".join(f"{c}:{n}" for c, n in codes.most_common())
        print(f"  {sum(codes.values()):6}  {clip(name, 48):48}  {split:24}  e.g. {name_example[name]}")

    if warnings:
        print("\nWarnings:")
        for (code, text), count in warnings.most_common(10):
            print(f"  {count:6}  {code}  {clip(text, 110)}")

    slow = sorted(results, key=lambda c: -c.seconds)[:5]
    print("\nSlowest files: " + ", ".join(f"{display(c.path)} {c.seconds:.1f} s" for c in slow))

    return {
        "files": total.files, "lines": total.lines, "uses": total.uses, "translatable": total.translatable,
        "outputs_compile": sum(1 for c in results if c.compiles), "outputs_measured": sum(1 for c in results if c.compiles is not None),
        "files_fully_translatable": total.full, "files_by_share": dict(shares), "files_no_use_found": total.none_found, "failed": total.failed,
        "failures": [{"path": r, "error": e, "internal": i} for r, e, i in failures],
        "by_tag": {t: dataclasses.asdict(v) for t, v in by_tag.items()},
        "by_repo": {r: dataclasses.asdict(v) for r, v in by_repo.items()},
        "contexts": dict(contexts),
        "reasons": [{"code": c, "message": t, "uses": n, "files": len(f), "example": e}
                    for (c, t), (n, f, e) in ranked],
        "names": [{"name": n, "uses": sum(c.values()), "codes": dict(c), "example": name_example[n]}
                  for n, c in ranked_names],
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="files or directories (default: corpus/files)")
    parser.add_argument("--cli", action="store_true", help="run `k2t check --format json` instead of in-process")
    parser.add_argument("--repos", action="store_true", help="also a table per repository")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per file in-process (0: none)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="worker processes in-process (default 1)")
    parser.add_argument("--json", metavar="OUT", help="also write the numbers to OUT as JSON")
    parser.add_argument("--dump", metavar="FILE", help="write every file's findings to FILE (JSON)")
    parser.add_argument("--load", metavar="FILE", help="report the findings of a --dump instead of running k2t")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    if args.load:
        dumped = json.loads(Path(args.load).read_text(encoding="utf-8"))
        results = [Checked(Path(r["path"]), r["status"], r["findings"], r["error"], r["internal"], r["seconds"],
                           tuple(r.get("models", (0, 0))), tuple(r.get("classes", (0, 0))), r.get("compiles"))
                   for r in dumped["files"]]
        seconds = dumped["seconds"]
    else:
        files = corpus_files(args.paths)
        start = time.perf_counter()
        results = check_cli(files) if args.cli else check_in_process(files, args.timeout, args.jobs)
        seconds = time.perf_counter() - start
    if args.dump:
        files_json = [dict(dataclasses.asdict(c), path=str(c.path)) for c in results]
        Path(args.dump).write_text(json.dumps({"seconds": seconds, "files": files_json}), encoding="utf-8")
    data = report(results, manifest_tags(), args.repos, seconds)
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
