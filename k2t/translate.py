"""The pure core: translate(source) -> Result(code, diagnostics, models). No I/O, never runs user code.

    parse -> analyse (analyse.py) -> infer + lower models (lower.py) and training calls (training.py)
          -> rewrite statements, mark what is left, fix imports (rewrite.py) -> format (black)
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import ScopeProvider

from k2t import cstwalk, rewrite, snippets
from k2t.analyse import (
    BUILDER_VERB, KERAS_DEFAULTS, MODEL_METHODS, Analysis, ModelIR, Problem, analyse, builds_model, is_literal,
)
from k2t.classes import (
    ClassReport,
    ClassTranslator,
    FunctionTranslation,
    build_lines,
    built_shapes,
    callers_first,
    constructor_arguments,
    keras_classes,
    lower_custom,
)
from k2t.diagnostics import ERROR, WARNING, Diagnostic
from k2t.format import format_code
from k2t.lower import Failed, InputSpec, LoweredModel, lower_model, lower_nested
from k2t.names import resolver_for
from k2t.ops import consumed_definitions
from k2t.rules.losses import loss_rule
from k2t.rules.optimizers import optimizer_rule
from k2t.options import Options, TranslationError
from k2t.rules.callbacks import ALIASES as CALLBACK_ALIASES
from k2t.rules.callbacks import CALLBACKS
from k2t.rules.functions import FUNCTIONS, REFUSED, STATEMENTS
from k2t.rules.spec import FIRST, LAST, Unsupported
from k2t.loops import ModelLoops, OutputLoop
from k2t.training import Compiled, lower_compile, lower_usage, torch_weights_path
from k2t.values import Value, code_of, evaluate

DEVICE_LINE = (
    'device = torch.device("cuda" if torch.cuda.is_available() '
    'else "mps" if torch.backends.mps.is_available() else "cpu")'
)


@dataclass
class ModelReport:
    """A translated model, as the verifier needs it."""

    var: str
    class_name: str
    builder: str | None  # name of the function that builds and returns the model
    ctor_args: list[str]
    lowered: LoweredModel
    line: int
    ir: ModelIR = field(repr=False, default=None)
    # The training code written for the model (verify --train-steps runs it), if it was compiled.
    compiled: Compiled | None = field(repr=False, default=None)
    loops: ModelLoops | None = field(repr=False, default=None)
    # Models used as layers of this one and given to its constructor: argument -> their report.
    nested: dict[str, "ModelReport"] = field(repr=False, default_factory=dict)


@dataclass
class Result:
    code: str
    changed: bool
    has_keras: bool
    diagnostics: list[Diagnostic] = field(default_factory=list)
    models: list[ModelReport] = field(default_factory=list)
    untranslated: list[ModelIR] = field(default_factory=list)
    classes: list[ClassReport] = field(default_factory=list)  # custom layers and subclassed models
    # What `k2t check` needs from the translation, so that it reads the module only once.
    uses: "KerasUses | None" = field(default=None, repr=False, compare=False)
    # False when ``code`` was not run through black (Options.formatted=False).
    formatted: bool = field(default=True, repr=False, compare=False)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == ERROR]

    @property
    def status(self) -> str:
        if not self.has_keras:
            return "unchanged"
        return "partial" if self.errors else "translated"


def _path_argument(call: cst.Call) -> cst.BaseExpression | None:
    """The file path of a save()/load_model()/ModelCheckpoint call: its first argument or filepath=."""
    for arg in call.args:
        if (arg.keyword is None and not arg.star) or (arg.keyword is not None and arg.keyword.value == "filepath"):
            return arg.value
    return None


def _training_of(compiled: Compiled) -> tuple:
    """What the written loops depend on in a compile(): loss, metrics, outputs, clipping."""
    loss = re.sub(r',?\s*reduction="none"', "", compiled.loss.code)  # fit()'s sample weights add it to the first
    return (loss, compiled.loss.fused, compiled.loss_key, tuple(compiled.metrics), tuple(map(repr, compiled.outputs)),
            compiled.clipping, compiled.sparse_gradients, compiled.loss_name, compiled.optimizer_name)


def _path_key(node: cst.BaseExpression) -> str:
    """A path as compared between save and load: a string's value, else the expression's code."""
    if isinstance(node, cst.SimpleString):
        return repr(node.evaluated_value)
    return code_of(node)


def _name_count(nodes, name: str) -> int:
    return sum(1 for node in nodes for n in cstwalk.iter_nodes(node) if isinstance(n, cst.Name) and n.value == name)


_PY2 = re.compile(r"^\s*(print\s+[^\s(=.,)]|exec\s+['\"]|except\s+[\w.]+\s*,\s*\w+\s*:)", re.MULTILINE)
_PYTHON2_HINTS = (
    "Missing parentheses in call to",
    "multiple exception types must be parenthesized",
    "leading zeros in decimal integer literals",
)
_NESTING = ("too many nested parentheses", "too many levels of indentation", "too many statically nested blocks")


def parse(source: str) -> cst.Module:
    """libcst's module, behind CPython's parser as a guard.

    libcst's native parser crashes the process on deeply nested input (thousands of brackets);
    CPython's parser refuses that cleanly, so it runs first. Where both refuse the input, CPython's
    message (clearer, with the right line and column) is reported.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes and the like warn at parse time
        try:
            ast.parse(source)
            cpython_error = None
        except SyntaxError as exc:
            if any(m in str(exc.msg) for m in _NESTING):
                raise TranslationError(f"{exc.lineno or 1}:{exc.offset or 1}: nested too deeply to translate") from None
            cpython_error = exc
        except (RecursionError, MemoryError):
            raise TranslationError("1:1: nested too deeply to translate") from None
        except ValueError as exc:  # a NUL byte
            raise TranslationError(f"1:1: not Python source: {exc}") from None
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        line, col = exc.raw_line, exc.raw_column + 1
        message = str(exc.message).splitlines()[0]
        if cpython_error is not None:
            line, col = cpython_error.lineno or 1, cpython_error.offset or 1
            message = " ".join(str(cpython_error.msg).split())
        if _PY2.search(source) or message.startswith(_PYTHON2_HINTS):
            raise TranslationError(f"{line}:{col}: Python 2 code is not supported ({message})") from None
        raise TranslationError(f"{line}:{col}: syntax error: {message}") from None


def _is_keras_import(node: cst.CSTNode) -> bool:
    """An import of keras/tensorflow (an Import naming one, or a from-import of one), as `k2t check` counts it."""
    return rewrite._is_keras_import(node)


def _imports_keras(module: cst.Module) -> bool:
    """An import of keras/tensorflow anywhere: at the top, under `if`/`try`, or inside a function."""
    for node in cstwalk.imports(module):
        for alias in node.names if not isinstance(node.names, cst.ImportStar) else []:
            name = code_of(alias.name)
            full = name if isinstance(node, cst.Import) else f"{code_of(node.module) if node.module else ''}.{name}"
            root = full.split(".")[0]
            if root in ("keras", "tensorflow", "tf_keras"):
                return True
        if isinstance(node, cst.ImportFrom) and node.module is not None:
            if code_of(node.module).split(".")[0] in ("keras", "tensorflow", "tf_keras"):
                return True
    return False


def statement_of(node: cst.CSTNode, parents) -> cst.CSTNode | None:
    """The innermost statement (simple or compound) holding a node."""
    while node is not None and not isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
        node = parents.get(node)
    return node


def _is_print_of(statement: cst.SimpleStatementLine, call: cst.Call) -> bool:
    small = statement.body[0] if len(statement.body) == 1 else None
    return (
        isinstance(small, cst.Expr)
        and isinstance(small.value, cst.Call)
        and isinstance(small.value.func, cst.Name)
        and small.value.func.value == "print"
        and len(small.value.args) == 1
        and small.value.args[0].value is call
    )


_LR_CALLBACKS = re.compile(r"\b(ReduceLROnPlateau|LearningRateScheduler)\b")


def _with_keyword(call: str, keyword: str) -> str:
    """nn.MSELoss() -> nn.MSELoss(reduction="none"); nn.HuberLoss(delta=2.0) -> ...(delta=2.0, reduction=...)."""
    head, _, tail = call.rpartition(")")
    return f"{head}{', ' if not head.endswith('(') else ''}{keyword}){tail}"


def _dead_locals(model: ModelIR, read_by_creation: set[str], known_call) -> list[cst.CSTNode]:
    """In a builder function, the statements that only computed sizes for the model's layers
    (`if num_classes == 2: units = 1 ...`): what they assign is read by nothing left there."""
    function = model.builder
    if function is None or not isinstance(function.body, cst.IndentedBlock):
        return []
    gone = {id(s) for s in [model.creation, *model.build_statements]}
    body, dead = list(function.body.body), []
    names = {id(s): {n.value for n in cstwalk.iter_nodes(s) if isinstance(n, cst.Name)} for s in body}
    changed = True
    while changed:
        changed = False
        live = [s for s in body if id(s) not in gone]
        for statement in live:
            assigned = _pure_assignments(statement, known_call)
            if not assigned:
                continue
            read = set(read_by_creation).union(*(names[id(other)] for other in live if other is not statement))
            if not assigned & read:
                gone.add(id(statement))
                dead.append(statement)
                changed = True
    return dead


def _pure_assignments(statement: cst.CSTNode, known_call) -> set[str]:
    """The names a statement assigns when that is all it does (no call anywhere in it but those
    with a static value, `K.image_data_format()`), else none."""
    if any(
        isinstance(n, (cst.Await, cst.Yield, cst.NamedExpr)) or isinstance(n, cst.Call) and not known_call(n)
        for n in cstwalk.iter_nodes(statement)
    ):
        return set()
    if isinstance(statement, cst.SimpleStatementLine):
        names: set[str] = set()
        for small in statement.body:
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else (
                [small.target] if isinstance(small, (cst.AnnAssign, cst.AugAssign)) else None)
            if targets is None:
                return set()
            for target in targets:
                elements = [e.value for e in target.elements] if isinstance(target, (cst.Tuple, cst.List)) else [target]
                if not all(isinstance(e, cst.Name) for e in elements):
                    return set()
                names |= {e.value for e in elements}
        return names
    if isinstance(statement, cst.If):
        branches = [statement.body.body]
        orelse = statement.orelse
        if isinstance(orelse, cst.If):
            branches.append([orelse])
        elif isinstance(orelse, cst.Else):
            branches.append(orelse.body.body)
        names = set()
        for branch in branches:
            for inner in branch:
                found = _pure_assignments(inner, known_call)
                if not found:
                    return set()
                names |= found
        return names
    return set()


def _is_name_argument(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Arg) and node.keyword is not None and node.keyword.value == "name"


def _fixed_parameters(model: ModelIR, passed: set[str], env) -> list[str]:
    """`input_shape=(IMG, IMG, 1)`: the builder's parameters that its model reads but the torch class
    does not take, with the argument (or default) that k2t read the builder with. (An argument known
    only at run time, `x_train.shape[1:]`, fixes nothing: its sizes come from the data.)"""
    if model.builder is None:
        return []
    function = model.builder
    params = [p for p in [*function.params.params, *function.params.kwonly_params] if p.name.value not in passed]
    # Names the model's statements read, but not as a `name=` (keras.Model(..., name=name) fixes no size).
    read = {
        n.value for statement in [model.creation, *model.build_statements]
        for n in cstwalk.iter_nodes(statement, prune=_is_name_argument) if isinstance(n, cst.Name)
    }
    # The arguments the analysis read the builder with (none for a call that unpacks).
    given = (cstwalk.call_arguments(function, model.builder_call) or {}) if model.builder_call is not None else {}
    fixed = []
    for param in params:
        value = given.get(param.name.value, param.default)
        if param.name.value in read and value is not None and evaluate(value, env).known:
            fixed.append((param.name.value, code_of(value), evaluate(value, env).value))
    return fixed


def _fixed_guard(function: str, fixed: list[tuple]) -> list[str]:
    """The builder's first lines when its model is fixed for some arguments: a comment, and a check
    that fails loudly where a caller (in another file) asks for another model."""
    written = ", ".join(f"{name}={code}" for name, code, _ in fixed)
    checks, values = [], []
    for name, code, value in fixed:
        if isinstance(value, bool) or value is None:  # `if not use_batch_norm:`, not `!= True`
            checks.append({True: f"not {name}", False: name, None: f"{name} is not None"}[value])
            values.append(f"{name}={value!r}")
        elif isinstance(value, (tuple, list)) and is_literal(tuple(value)):
            checks.append(f"tuple({name}) != {tuple(value)!r}")  # a list of the same sizes is the same shape
            values.append(f"{name}={tuple(value)!r}")
        elif is_literal(value):
            checks.append(f"{name} != {value!r}")
            values.append(f"{name}={value!r}")
        else:
            checks.append(f"{name} != {code}")
            values.append(f"{name}={code}")
    message = f"{function}() was translated for {', '.join(values)} only"
    return [
        f"# The model's sizes are fixed for {written} (read at conversion).",
        f"if {' or '.join(checks)}:",
        f"    raise NotImplementedError({message!r})",
    ]


def _class_name(model: ModelIR, taken: set[str]) -> str:
    # Named for what it is: Keras's name=, else the builder function, else the variable.
    if isinstance(model.keras_name, str) and re.search(r"[A-Za-z]", model.keras_name):
        base = model.keras_name
    else:
        base = model.builder.name.value if model.builder is not None else model.var
        if model.builder is None and isinstance(model.scope, cst.FunctionDef) and model.var in ("model", "net"):
            # `model = Sequential()` inside build_generator(), which returns another model: GeneratorModel.
            base = f"{BUILDER_VERB.sub('', model.scope.name.value)}_{model.var}"
    base = BUILDER_VERB.sub("", base)
    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", base) if part) or "Model"
    if not name[0].isalpha():
        name = "Model" + name
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}{n}"
    taken.add(candidate)
    return candidate


@dataclass
class KerasUses:
    """The Keras uses of a translated module as `k2t check` lists them, from the translation's own pass."""

    module: cst.Module
    references: list  # outermost Keras/TensorFlow references, in order
    import_statements: list  # statements holding a Keras/TensorFlow import, in order
    positions: object  # node -> CodeRange
    parents: dict
    keras_left: bool  # the output still imports Keras/TensorFlow
    output_references: object  # () -> Counter of the reference texts left in the output


# What a Keras model has and an nn.Module has not (or has with another meaning, as trainable).
KERAS_MODEL_API = MODEL_METHODS | {
    "train_on_batch", "test_on_batch", "predict_on_batch", "fit_generator", "evaluate_generator",
    "predict_generator", "trainable", "get_layer", "layers", "get_weights", "set_weights", "count_params",
    "get_config", "metrics_names", "inputs", "outputs", "input", "output", "optimizer", "trainable_weights",
    "trainable_variables", "stop_training", "input_shape", "output_shape",
}


class _Translation:
    """State of one translation: replacements, markers and diagnostics, keyed by original nodes."""

    def __init__(
        self, wrapper: cst.MetadataWrapper, analysis: Analysis, resolver, options: Options = Options(), parents=None
    ):
        self.wrapper = wrapper
        self.options = options
        self.analysis_resolver = resolver
        self.analysis = analysis
        self.positions = cstwalk.Positions(wrapper.module)
        self.parents = parents if parents is not None else cstwalk.parents_of(wrapper.module)
        # Found by the pass over names (functions_and_leftovers), for the import plan and `k2t check`.
        self.import_nodes: list[cst.CSTNode] = []
        self.keras_import_statements: list[cst.CSTNode] = []
        self.references: list[cst.CSTNode] = []
        self.edits = rewrite.Edits()
        self.diagnostics: list[Diagnostic] = []
        self.covered: set[cst.CSTNode] = set()  # replaced, or reported: no leftover report inside
        self.snippets: set[str] = set()
        self.reports: list[ModelReport] = []
        self.model_names: set[str] = set()  # variables bound to translated models
        self.untranslated: list[ModelIR] = []
        self.loops: list[ModelLoops] = []  # per translated model, in order
        self.loops_by_var: dict[str, tuple[ModelLoops, cst.CSTNode]] = {}  # model var -> (loops, scope)
        self.class_reports: list[ClassReport] = []
        self.sparse_embeddings = False  # the classes' Embeddings give sparse gradients (see classes())
        self.consumed_datasets: Counter = Counter()  # id(Dataset) -> uses of its name given as arrays
        self.class_call_shapes: dict[str, set] = {}  # layer class -> its callers' input shapes, all passes

    # -- reporting ------------------------------------------------------------------------
    def report(self, problem: Problem, severity: str = ERROR, mark: bool = True) -> None:
        # A node of a helper function read with its arguments substituted: where it is written.
        position = self.positions.get(self.analysis_resolver.copies.get(problem.node, problem.node))
        line, col = (position.start.line, position.start.column + 1) if position else (1, 1)
        self.diagnostics.append(Diagnostic(line, col, problem.code, problem.message, severity))
        self.covered.add(problem.node)
        if mark:
            statement = self.statement_of(problem.node)
            if statement is not None:
                self.edits.mark(statement, f"{problem.code} {problem.message}")

    def statement_of(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return statement_of(node, self.parents)

    def is_covered(self, node: cst.CSTNode) -> bool:
        while node is not None:
            if node in self.covered:
                return True
            node = self.parents.get(node)
        return False

    # -- models ---------------------------------------------------------------------------
    def models(self) -> None:
        taken = set(self.analysis.names_in_use)
        for model in self.analysis.models:
            if model.kind != "class":  # a subclassed model keeps its own class
                model.class_name = _class_name(model, taken)
            saved = self.snapshot()
            try:
                self.model(model)
                if model.kind == "functional" and not any(m is model for m in self.untranslated):
                    self.graph_tensors_read_later(model)
            except Exception as exc:  # noqa: BLE001 - one model's internal error stays that model's
                self.restore(saved)
                message = " ".join(f"{type(exc).__name__}: {exc}".split())
                problem = Problem(
                    model.call, "K2T902", f"internal error while translating model {model.var} ({message}); left as is"
                )
                self.leave_untranslated(model, [problem])

    def snapshot(self) -> tuple:
        return (
            self.edits.snapshot(), list(self.diagnostics), set(self.covered), set(self.snippets),
            list(self.reports), set(self.model_names), list(self.untranslated), list(self.loops),
            dict(self.loops_by_var),
        )

    def restore(self, saved: tuple) -> None:
        (edits, self.diagnostics, self.covered, self.snippets, self.reports, self.model_names, self.untranslated,
         self.loops, self.loops_by_var) = saved
        self.edits.restore(edits)

    def graph_tensors_read_later(self, model: ModelIR) -> None:
        """`inputs = keras.Input(...)` went with the model: a later statement that reads `inputs`
        (`agent = DDPGAgent(critic_action_input=action_input)`) reads a Keras tensor that the torch
        program has not, and is marked (until the name is bound again)."""
        removed = [s for s in (model.creation, *model.build_statements) if isinstance(s, cst.SimpleStatementLine)]
        watched = {
            n.value for s in removed for small in s.body if isinstance(small, cst.Assign)
            for t in small.targets for n in cstwalk.iter_nodes(t.target) if isinstance(n, cst.Name)
        } - {model.var, "_"}
        body = model.scope.body.body if isinstance(model.scope, cst.FunctionDef) else getattr(model.scope, "body", [])
        if not watched or model.creation not in body:
            return
        models_statements = {id(s) for m in self.analysis.models for s in (m.creation, *m.build_statements)}
        for statement in list(body)[list(body).index(model.creation) + 1:]:
            if not watched:
                return
            if id(statement) in models_statements or self.is_covered(statement):
                continue  # another model's statements (`encoder = keras.Model(inputs, encoded)`)
            stores = rewrite.bound_names([statement])
            local = set()  # a function's own variables shadow the module's
            if isinstance(statement, cst.FunctionDef):
                params = statement.params
                local = rewrite.bound_names(statement.body.body, augmented=True) | {
                    p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)
                }
            read = sorted({
                n.value for n in cstwalk.iter_nodes(statement)
                if isinstance(n, cst.Name) and n.value in watched and n.value not in stores | local
                and not (isinstance(self.parents.get(n), cst.Attribute) and self.parents[n].attr is n)
                and not (isinstance(self.parents.get(n), cst.Arg) and self.parents[n].keyword is n)
            })
            if read:
                self.report(Problem(statement, "K2T302", (
                    f"{', '.join(read)}: a tensor of the Keras model {model.var}'s graph, which the torch "
                    "program does not have (it went with the model); not translated")))
            watched -= stores

    def models_in_attributes(self) -> None:
        """`self.discriminator = self.build_discriminator()` in a plain class (a GAN's trainer): the
        method returns the torch model now, so its Keras model API (`self.discriminator.compile(...)`,
        `.trainable = False`, `.train_on_batch`) is one marker per line, never Keras called on a module."""
        builders = {}  # class -> names of its methods that return a translated model
        for model in self.analysis.models:
            if model.builder is None or any(m is model for m in self.untranslated):
                continue
            owner = self.parents.get(self.parents.get(model.builder))
            if isinstance(owner, cst.ClassDef):
                builders.setdefault(owner, set()).add(model.builder.name.value)
        for owner, methods in builders.items():
            held = set()  # attributes assigned a built model: `self.discriminator`
            for node in cstwalk.iter_nodes(owner):
                if (isinstance(node, cst.Assign) and isinstance(node.value, cst.Call)
                        and isinstance(node.value.func, cst.Attribute) and node.value.func.attr.value in methods):
                    held.update(t.target.attr.value for t in node.targets if isinstance(t.target, cst.Attribute))
            for node in cstwalk.iter_nodes(owner):
                if not (isinstance(node, cst.Attribute) and isinstance(node.value, cst.Attribute)
                        and node.value.attr.value in held and node.attr.value in KERAS_MODEL_API):
                    continue
                statement = self.statement_of(node)
                if statement is None or self.is_covered(statement):
                    continue
                what = f"{code_of(node.value)}.{node.attr.value}"
                self.report(Problem(node, "K2T302", f"{what}: {node.value.attr.value} holds the torch model now; "
                                    "Keras's model API on it is not translated yet"))
                self.covered.add(statement)

    def leave_untranslated(self, model: ModelIR, problems: list[Problem]) -> None:
        for problem in problems:
            self.report(problem)
        for usage in model.usages:
            self.report(
                Problem(usage.call, "K2T302", f"{model.var}.{usage.method}() left as is: the model was not translated")
            )
        # The model's own statements stay as they are, reported once (above), not line by line;
        # so do the helpers its graph was read from (their layers are the model's).
        self.covered.add(model.creation)
        self.covered.update(model.build_statements)
        self.covered.update(
            s for s in self.wrapper.module.body if isinstance(s, cst.FunctionDef) and s.name.value in model.inlined
        )
        self.untranslated.append(model)

    def model(self, model: ModelIR) -> None:
        if model.kind == "class":
            self.class_model(model)
            return
        owned, injected = self.bind_nested_models(model)
        # Models that use this model's modules name its layer objects too (`decoder_lstm(...)`).
        sharers = [m for m in self.analysis.models if any(owner is model for owner, _ in m.borrowed.values())]
        for layer in model.graph_nodes:  # `normalizer.adapt(x)`: the program's module, given
            layer.injected = layer.defined_by is not None and not self.named_only_inside(layer.binding, [model, *sharers])
        if model.kind == "sequential" and model.input_shape is None:
            model.input_shape = self.shape_from_outer_models(model)
        env = self.analysis.module_env
        compile_usage = model.compile
        compiled: Compiled | None = None
        compile_problems: list[Problem] = []
        output_units = None
        if model.layers and "units" in model.layers[-1].args:
            output_units = model.layers[-1].args["units"].value
        custom = {n.key.removeprefix("Custom:") for n in model.graph_nodes if n.key.startswith("Custom:")}
        compile_of = functools.partial(
            lower_compile, model=model, analysis=self.analysis, resolver=self.analysis_resolver, env=env,
            output_units=output_units, exact_optimizers=not self.options.torch_optimizers,
            changing_lr=self.changes_learning_rate(model),
            class_embeddings=self.sparse_embeddings and any(c.embeddings for c in self.class_reports if c.name in custom),
        )
        if compile_usage is not None:
            compiled, compile_problems = compile_of(compile_usage)
        try:
            if model.problems:
                raise Failed(model.problems)
            self.keep_marked_comments(model)
            borrowed = self.borrowed_modules(model, injected)
            lowered = lower_model(
                model, compiled.loss.fused if compiled else None, env.values,
                sparse_gradients=compiled is not None and compiled.sparse_gradients, borrowed=borrowed,
                runtime_names=self.module_variables - set(env.values),
            )
        except (Failed, Unsupported) as exc:
            problems = exc.problems if isinstance(exc, Failed) else [Problem(model.call, exc.code, str(exc))]
            self.leave_untranslated(model, problems)
            return
        # The program's layer classes with lazy sizes: one pass on a batch before the optimizer.
        lowered.materialize = lowered.materialize or any(
            report.lazy for report in self.class_reports
            if f"Custom:{report.name}" in {layer.key for layer in model.graph_nodes}
        )
        ctor_args = ", ".join([*lowered.ctor_args, *(f"{name}={name}" for name in lowered.ctor_keywords)])
        # The statements in a builder that only computed sizes for the layers go with the model.
        model.build_statements += _dead_locals(model, set(re.findall(r"\w+", ctor_args)), self.known_call)
        fixed_arguments = _fixed_parameters(model, {*lowered.ctor_args, *lowered.ctor_keywords}, env)
        fixed = {name for name, _, _ in fixed_arguments}
        other_arguments = [
            Problem(call, "K2T301", (
                f"{model.builder.name.value}() is called here with another {', '.join(sorted(changed & fixed))} than at "
                "its first call: the torch model's sizes are fixed for one set of arguments"))
            for call, changed in model.builder_other_calls if changed & fixed
        ]
        if other_arguments:
            self.leave_untranslated(model, other_arguments)
            return
        for note in lowered.notes:
            # A documented difference: a comment at the layer's line in the class, no marker.
            self.report(note, WARNING, mark=False)
        for problem in lowered.untranslated:  # marked in the class, where the module is made
            self.report(problem, mark=False)
        for inner in owned:  # the outer model creates it: its own line goes
            self.edits.remove(inner.creation)
        self.model_names.add(model.var)
        self.model_names.update(u.call.func.value.value for u in model.usages)
        created = f"{model.class_name}({ctor_args}).to(device)"
        self.edits.replace(model.creation, [
            *(_fixed_guard(model.builder.name.value, fixed_arguments) if fixed_arguments else []),
            f"return {created}" if model.returned else f"{model.var} = {created}",
        ])
        self.covered.add(model.creation)
        # A def used only as this model's Lambda function is inlined in forward(): it goes with the model.
        model.build_statements += [d for d in consumed_definitions(model, self.wrapper.module) if d not in model.build_statements]
        # A helper function read into the graph (`x = block(x, 64)`) and used nowhere else goes too.
        model.build_statements += [d for d in self.inlined_definitions(model) if d not in model.build_statements]
        given = {layer.defined_by: layer.binding for layer in model.graph_nodes if layer.binding in lowered.injected}
        for statement in model.build_statements:
            if statement in given:  # the layer object the model is given: made here, in torch
                self.edits.replace(statement, [f"{given[statement]} = {lowered.injected[given[statement]]}"])
            else:
                self.edits.remove(statement)
            self.covered.add(statement)
        self.edits.moved_comments.update(layer.commented for layer in model.graph_nodes if layer.commented is not None)
        self.edits.add_header(lowered.code)
        self.snippets |= lowered.snippets
        self.reports.append(
            ModelReport(
                var=model.var,
                class_name=model.class_name,
                builder=model.builder.name.value if model.builder is not None else None,
                ctor_args=list(lowered.ctor_args),
                lowered=lowered,
                line=self.positions[model.creation].start.line,
                ir=model,
                nested=injected,
            )
        )
        self.training(model, lowered, compiled, compile_problems, compile_of)
        self.reports[-1].compiled = compiled
        self.reports[-1].loops = self.loops_by_var[model.var][0]

    def class_model(self, model: ModelIR) -> None:
        """`model = MyModel(...)` of a translated subclassed model: moved to the device, built, and
        trained by the same loops as Sequential models."""
        report = next((c for c in self.class_reports if c.name == model.class_name), None)
        if report is None or not report.complete:
            problem = Problem(model.call, "K2T301", f"{model.class_name} is not fully translated (see the markers in it)")
            self.leave_untranslated(model, [problem])
            return
        if report.custom_steps:
            # fit() would run Keras's own train_step, not the program's: nothing generic is written.
            steps = ", ".join(report.custom_steps)
            problem = Problem(model.call, "K2T302", f"{model.class_name} overrides {steps}: its training is not translated yet")
            self.leave_untranslated(model, [problem])
            return
        env = self.analysis.module_env
        output_shape = report.output_shape
        compiled, compile_problems = None, []
        compile_of = functools.partial(
            lower_compile, model=model, analysis=self.analysis, resolver=self.analysis_resolver, env=env,
            output_units=output_shape[-1] if output_shape else None,
            exact_optimizers=not self.options.torch_optimizers, changing_lr=self.changes_learning_rate(model),
            class_embeddings=report.embeddings and self.sparse_embeddings,
        )
        if model.compile is not None:
            compiled, compile_problems = compile_of(model.compile)
            if compiled is not None and output_shape is None and not compiled.loss_spec().classes_axis:
                compile_problems.append(Problem(model.compile.call, "K2T303", (
                    f"the output shape of {model.class_name} is not known statically and {compiled.loss_key} needs it "
                    "(give model.build(input_shape) before compile())")))
                compiled = None
        rank = len(report.input_shape) if report.input_shape is not None else 1
        dtype = "int64" if report.token_input else "float32"
        lowered = LoweredModel(
            class_name=model.class_name, code="", layers=[], input_shape=report.input_shape or (), input_dtype=dtype,
            channels_first=False, fused_activation=None, output_units=output_shape[-1] if output_shape else None,
            ctor_params=[], ctor_args=[], inputs=[InputSpec(report.input_name, None, dtype, rank, False)],
            output_shape=output_shape, materialize=report.lazy and not model.build_statements,
        )
        self.model_names.add(model.var)
        self.model_names.update(u.call.func.value.value for u in model.usages)
        self.edits.replace(model.creation, [f"{model.var} = {code_of(model.call)}.to(device)"])
        self.covered.add(model.creation)
        for statement in model.build_statements:
            call = statement.body[0].value
            report.built = code_of(call.args[0].value) if call.args else None
            self.edits.replace(statement, build_lines(model.var, call, report.lazy, report.token_input, device=True))
            self.covered.add(statement)
        self.reports.append(ModelReport(
            var=model.var, class_name=model.class_name, builder=None, ctor_args=[], lowered=lowered,
            line=self.positions[model.creation].start.line, ir=model,
        ))
        self.training(model, lowered, compiled, compile_problems, compile_of)
        self.reports[-1].compiled = compiled
        self.reports[-1].loops = self.loops_by_var[model.var][0]

    def known_call(self, call: cst.Call) -> bool:
        """A call whose value k2t knows statically (`K.image_data_format()`, Keras's defaults)."""
        return not call.args and self.analysis_resolver.key(call.func) in KERAS_DEFAULTS

    def keep_marked_comments(self, model: ModelIR) -> None:
        """Comments that must stay where they are (a notebook's cell markers) keep their statement's
        comments out of forward(): the rewriter carries them on, as for any removed statement."""
        if not self.options.kept_comments:
            return
        kept = re.compile(self.options.kept_comments)
        for layer in model.graph_nodes:
            if any(kept.fullmatch(comment) for comment in layer.comments):
                layer.comments, layer.commented = [], None

    def bind_nested_models(self, model: ModelIR) -> tuple[list[ModelIR], dict[str, ModelReport]]:
        """Models used as layers of this one (`decoder(encoder(x))`): each is its translated class,
        created by this model where the program uses it nowhere else, else given to its
        constructor (Keras shares the weights). Returns the models this one creates, and the
        reports of those it is given, by constructor argument."""
        owned, injected = [], {}
        for layer in model.graph_nodes:
            if not layer.key.startswith("Model:"):
                continue
            inner = layer.args["model"].value
            report = next((r for r in self.reports if r.ir is inner), None)
            if report is None:  # the rule refuses: the inner model's own report says why
                continue
            given = not self.only_inside(inner, model)
            if given:  # a constructor parameter named after the program's variable
                layer.args["model"] = Value(layer.binding, inner, frozenset({layer.binding}))
                injected[layer.binding] = report
            elif inner not in owned:
                owned.append(inner)
            wants = FIRST if report.lowered.channels_first else LAST
            layer.rule = dataclasses.replace(layer.rule, wants=wants, lower=functools.partial(lower_nested, report, given))
            layer.token_input = any(spec.dtype == "int64" for spec in report.lowered.inputs)
        return owned, injected

    def borrowed_modules(self, model: ModelIR, given: dict) -> dict:
        """Layers this model has with a model made before it (`encoder = keras.Model(inputs,
        encoded)` after the autoencoder): that model's modules, the model given to the constructor
        (`given`: its report, by argument). id(LayerCall) -> (argument, module attribute)."""
        borrowed = {}
        for layer in model.graph_nodes:
            owner, owner_layer = model.borrowed.get(id(layer), (None, None))
            if owner is None:
                continue
            report = next((r for r in self.reports if r.ir is owner), None)
            if report is None:
                raise Failed([Problem(model.call, "K2T301", (
                    f"its layers are {owner.var}'s, which is not translated (see its report)"))])
            index = next(i for i, node in enumerate(owner.graph_nodes) if node is owner_layer)
            layer_map = next((m for m in report.lowered.layers if m.index == index), None)
            borrowed[id(layer)] = (owner.var, layer_map.module if layer_map is not None else None)
            given[owner.var] = report
        return borrowed

    def shape_from_outer_models(self, inner: ModelIR) -> tuple | None:
        """The input shape of a Sequential model built without one and used as a layer
        (`x = data_augmentation(inputs)`): the shape the models using it give it, where they agree."""
        given = set()

        def record(ctx):
            given.add(tuple(ctx.in_shape))
            raise Unsupported("only the input shape was wanted")

        for outer in self.analysis.models:
            applications = [n for n in outer.graph_nodes if n.key.startswith("Model:") and n.args["model"].value is inner]
            if not applications or outer is inner:
                continue
            self.bind_nested_models(outer)  # the models it uses before this one
            rules = [layer.rule for layer in applications]
            for layer in applications:
                layer.rule = dataclasses.replace(layer.rule, lower=record)
            try:
                lower_model(outer, None, self.analysis.module_env.values)
            except Exception:  # noqa: BLE001 - a probe: the outer model's own lowering reports its problems
                pass
            for layer, rule in zip(applications, rules):
                layer.rule = rule
        return given.pop() if len(given) == 1 else None

    def only_inside(self, inner: ModelIR, outer: ModelIR) -> bool:
        """Whether the program names the inner model only where it is built and in the outer model."""
        if inner.usages or inner.builder is not None or inner.scope is not outer.scope:
            return False
        return self.named_only_inside(inner.var, [inner, outer])

    def named_only_inside(self, name: str, models: list[ModelIR]) -> bool:
        """Whether the program names `name` only in these models' statements."""
        inside = {id(s): s for m in models for s in [m.creation, *m.build_statements]}
        return _name_count([self.wrapper.module], name) == _name_count(inside.values(), name)

    def inlined_definitions(self, model: ModelIR) -> list[cst.FunctionDef]:
        """The module-level defs of the helpers read into this model's graph that nothing else
        calls: every reference is in the model's statements or in another such def."""
        if not model.inlined:
            return []
        defs = {
            s.name.value: s for s in self.wrapper.module.body if isinstance(s, cst.FunctionDef) and s.name.value in model.inlined
        }
        references = Counter(
            n.value for n in cstwalk.iter_nodes(self.wrapper.module) if isinstance(n, cst.Name) and n.value in defs
        )
        consumed: dict[str, cst.FunctionDef] = {}
        changed = True
        while changed:
            changed = False
            for name, definition in defs.items():
                if name in consumed:
                    continue
                allowed = _name_count([*model.build_statements, *consumed.values()], name)
                if references[name] == 1 + allowed:  # the def's own name, and the calls inside
                    consumed[name] = definition
                    changed = True
        return list(consumed.values())

    def training(self, model, lowered, compiled, compile_problems, compile_of) -> None:
        """compile_of(usage): a compile() of this model lowered (another compile than the first)."""
        env = self.analysis.module_env
        materialized: set[cst.CSTNode] = set()
        compile_usage = model.compile
        for problem in compile_problems:
            self.report(problem)
        # First: the loops decide the loss's reduction (per sample where fit() weighs samples).
        loops = self.loops_for(model, lowered, compiled)
        if compile_usage is not None:
            if compiled is not None:
                for note in compiled.notes:
                    self.report(Problem(compile_usage.call, "K2T404", note), WARNING, mark=False)
                self.snippets |= compiled.snippets
                trainings = [u for u in model.usages if u.method in ("fit", "evaluate")]
                # Write the optimizer where compile() was, unless only other scopes train the
                # model (compile() inside a builder function): then it is made where it is used.
                trains_here = not trainings or any(u.scope is compile_usage.scope for u in trainings)
                # Lazy modules: the optimizer takes their parameters after one pass on a batch.
                trains_here = trains_here and not (lowered.materialize and trainings)
                var = compile_usage.call.func.value.value
                if trains_here:
                    self.edits.replace(compile_usage.statement, compiled.lines(var))
                    materialized.add(compile_usage.scope)
                else:
                    self.edits.remove(compile_usage.statement)
                for statement in compiled.consumed:
                    self.edits.remove(statement)
                    self.covered.add(statement)
                for function in compiled.functions:  # `def rmse(y_true, y_pred)`, in torch
                    self.edits.replace(function.definition, function.code.splitlines())
                    self.covered.add(function.definition)
                self.covered.add(compile_usage.statement)
        compiles = [u for u in model.usages if u.method == "compile"]
        recompiled = False
        for usage in model.usages:
            if usage.method == "load_model":
                self.load_model(model, usage)
                continue
            if usage.method == "compile":
                if usage is not compiles[0] and not recompiled:
                    recompiled = not self.compile_again(usage, compiled, compile_of, lowered)
                elif usage is not compiles[0]:
                    self.report(Problem(usage.call, "K2T401", "a compile() after an untranslated one is not translated"))
                continue
            if recompiled and usage.method in ("fit", "evaluate", "predict"):
                # Translating these with the first compile()'s loss and optimizer would be wrong.
                self.report(
                    Problem(usage.call, "K2T403", f"model.{usage.method}() after a second compile() is not translated yet")
                )
                continue
            var = usage.call.func.value.value
            if usage.method == "summary" and _is_print_of(usage.statement, usage.call):
                # print(model.summary()) printed the summary, then None: print(model) is meant.
                self.edits.replace(usage.statement, [f"print({var})"])
                self.covered.add(usage.statement)
                continue
            code, needed, problems, embedded = lower_usage(usage, compiled, var, env, loops, self.fresh)
            for problem in problems:
                self.report(problem)
            if code is None:
                self.covered.add(usage.call.func)  # reported above, not again as an unknown attribute
                continue
            for node, dataset in usage.datasets.items():  # given as its arrays: one use of its name less
                self.consumed_datasets[id(dataset)] += _name_count([usage.call], dataset.var) if dataset.var else 0
                if not dataset.var:
                    self.covered.add(node)  # an inline pipeline: only its arrays live on
            self.snippets |= needed
            prefix = []
            if usage.method in ("fit", "evaluate") and usage.scope not in materialized:
                prefix = compiled.lines(var)
                materialized.add(usage.scope)
                data = next((a.value for a in usage.call.args if a.keyword is None or a.keyword.value == "x"), None)
                if data in usage.datasets:
                    data = usage.datasets[data].x
                if lowered.materialize and data is not None:
                    x = code_of(data)
                    prefix = [
                        "# One pass on a batch sets the sizes of the lazy modules before the optimizer takes them.",
                        "with torch.no_grad():",
                        f"    {var}.eval()({loops.fn('prepare_inputs')}({x}[:2]))",
                        *([f"{var}.reset_parameters()"] if lowered.reset_after_materialize else []),
                    ] + prefix
            if isinstance(code, list):  # fit(): the loop replaces the statement
                self.edits.replace(usage.statement, prefix + code, parts=embedded)
                self.covered.add(usage.call.func)
                continue
            self.edits.replace_expression(
                usage.call, code, before=usage.statement, lines=prefix, parts=embedded
            )
            # The arguments live on inside the new call: Keras calls in them are still translated.
            self.covered.add(usage.call.func if embedded else usage.call)

    def load_model(self, model: ModelIR, usage) -> None:
        """`model = keras.models.load_model(path)` of a file this program saves from `model` (its
        save()/save_weights() or a ModelCheckpoint): the saved state_dict goes into the model."""
        path = _path_argument(usage.call)
        saved = {_path_key(p) for u in model.usages if u.method in ("save", "save_weights") if (p := _path_argument(u.call))}
        saved |= {
            _path_key(p)
            for n in cstwalk.iter_nodes(self.wrapper.module)
            if isinstance(n, cst.Call) and self.analysis_resolver.key(n.func) == "callbacks.ModelCheckpoint"
            if (p := _path_argument(n))
        }
        if path is None or _path_key(path) not in saved:
            self.report(Problem(usage.call, "K2T302", (
                f"load_model() of a file this program does not save from `{model.var}`: "
                "the architecture it holds is not known here")))
            return
        self.edits.replace(usage.statement, [
            f"# Keras rebuilt `{model.var}` from the file; the class is the same, so its saved state_dict is enough.",
            f"{model.var}.load_state_dict(torch.load({torch_weights_path(code_of(path))}, map_location=device))",
        ])
        self.covered.add(usage.statement)

    def datasets(self) -> None:
        """A tf.data pipeline whose every use became its arrays (k2t/datasets.py) goes; a comment
        says where it went. One used elsewhere stays, reported as the leftover it is."""
        for dataset in self.analysis.datasets:
            consumed = self.consumed_datasets[id(dataset)]
            if not consumed:
                continue
            statements = list({id(s): s for s in dataset.statements}.values())
            bound = {n.value for s in statements for a in s.body if isinstance(a, cst.Assign)
                     for t in a.targets for n in cstwalk.iter_nodes(t.target) if isinstance(n, cst.Name)}
            if any(
                _name_count([self.wrapper.module], var)
                != _name_count(statements, var) + (consumed if var == dataset.var else 0)
                for var in bound
            ):
                continue
            self.edits.replace(statements[0], dataset.comment())
            for statement in statements[1:]:
                self.edits.remove(statement)
            self.covered.update(statements)

    def compile_again(self, usage, compiled: Compiled | None, compile_of, lowered: LoweredModel) -> bool:
        """A later compile() of the model (fine-tuning with a new learning rate, a model built
        again): a new optimizer where it stands. The loops are written for the first compile's loss
        and metrics, so another loss, metrics or gradient clipping stays for a human."""
        again, problems = compile_of(usage)
        if compiled is None or again is None or problems:
            reason = "the first compile() is not translated" if compiled is None else "it is not translatable"
        elif lowered.materialize:
            reason = "the model's sizes are set by its first batch (lazy modules), which k2t does not redo here"
        elif _training_of(again) != _training_of(compiled):
            reason = "its loss, metrics or gradient clipping differ from the first compile()'s, for which the loops are written"
        else:
            for note in again.notes:
                self.report(Problem(usage.call, "K2T404", note), WARNING, mark=False)
            self.snippets |= again.snippets
            var = usage.call.func.value.value
            self.edits.replace(usage.statement, [
                "# compile() again: a new optimizer; the loss and metrics are the first compile()'s.",
                *again.optimizer_lines(var),
            ])
            for statement in again.consumed:
                self.edits.remove(statement)
                self.covered.add(statement)
            self.covered.add(usage.statement)
            return True
        for problem in problems:
            self.report(problem)
        self.report(Problem(usage.call, "K2T401", f"a second compile() of the model is not translated: {reason}"))
        return False

    def loops_for(self, model: ModelIR, lowered: LoweredModel, compiled: Compiled | None) -> ModelLoops:
        """The model's specialised loop code; its functions are written after all call sites."""
        keywords = {
            arg.keyword.value
            for usage in model.usages
            if usage.method in ("fit", "evaluate")
            for arg in usage.call.args
            if arg.keyword is not None
        }
        triples = any(
            isinstance(arg.value, (cst.Tuple, cst.List)) and len(arg.value.elements) == 3
            for usage in model.usages
            if usage.method == "fit"
            for arg in usage.call.args
            if arg.keyword is not None and arg.keyword.value == "validation_data"
        )
        loops = ModelLoops(
            var=model.var,
            lowered=lowered,
            loss=compiled.loss_spec() if compiled else None,
            optimizer=compiled.optimizer_name if compiled else None,
            metrics=list(compiled.metrics) if compiled else [],
            suffix=f"_{model.var}" if len(self.analysis.models) > 1 else "",
            weighted=bool(keywords & {"sample_weight", "class_weight"}) or triples,
            shuffle_param="shuffle" in keywords,
            steps_param="steps_per_epoch" in keywords,
            clipping=compiled.clipping if compiled else (),
            outputs=[
                OutputLoop(o.name, o.loss_spec(compiled.loss_name), tuple(shape), tuple(o.metrics), o.weight)
                for o, shape in zip(compiled.outputs, lowered.output_shapes)
            ] if compiled else [],
        )
        if loops.outputs:
            loops.weighted = False  # weighted samples of several outputs are refused (training.lower_usage)
        if compiled is not None and loops.weighted:
            # Per-sample losses: the loop weighs them as Keras does.
            compiled.loss = dataclasses.replace(compiled.loss, code=_with_keyword(compiled.loss.code, 'reduction="none"'))
        self.loops.append(loops)
        self.loops_by_var[model.var] = (loops, model.scope)
        return loops

    def fresh(self, name: str) -> str:
        """A name for generated code that no user name shadows."""
        candidate = name
        while candidate in self.analysis.names_in_use:
            candidate += "_"
        return candidate

    # -- classes ------------------------------------------------------------------------------
    def classes(self) -> None:
        """Custom layers and subclassed models, construct by construct (k2t/classes.py). Shapes
        settle over a few passes: each pass learns each class's input shape (from the program's
        build(), from the classes that call it, from the models that use it as a layer) and its
        output shape, until nothing new is learnt; the last pass writes the classes."""
        found = keras_classes(self.wrapper.module, self.analysis_resolver)
        if not found:
            return
        learnt: dict[str, ClassReport] = {}
        graph_shapes: dict[str, set] = {}  # class -> input shapes the Sequential/functional models give it
        self.sparse_embeddings = self.optimizers_take_rows()
        def shapes_learnt() -> dict:
            return {name: (r.input_shape, r.output_shape, r.same_shape) for name, r in learnt.items()}

        for _ in range(4):
            learnt_before = shapes_learnt()
            saved = self.snapshot()
            self.translate_classes(found, learnt, graph_shapes)
            self.restore(saved)
            before = {name: set(shapes) for name, shapes in graph_shapes.items()}
            self.probe_models(learnt, graph_shapes)
            if graph_shapes == before and shapes_learnt() == learnt_before:
                break
        translated = self.translate_classes(found, learnt, graph_shapes)
        for report in translated.values():  # a class holding a lazy class is lazy
            report.lazy = report.lazy or any(translated.get(c, report).lazy for _, c in report.custom)
        self.class_reports = list(translated.values())
        self.bind_custom_layers(translated, {})
        if translated:
            self.class_instances(translated)

    def optimizers_take_rows(self) -> bool:
        """Whether the program compiles models with optimizers that Keras feeds Embedding gradients
        as rows (Adam, RMSprop, ...): then the classes' Embeddings give torch sparse gradients too."""
        wanted = []
        for model in self.analysis.models:
            if model.compile is None:
                continue
            compiled, _ = lower_compile(
                model.compile, model, self.analysis, self.analysis_resolver, self.analysis.module_env, None,
                exact_optimizers=not self.options.torch_optimizers, class_embeddings=True,
            )
            wanted.append(compiled is not None and compiled.sparse_gradients)
        return bool(wanted) and all(wanted)

    def bind_custom_layers(self, reports: dict, seen: dict) -> None:
        """Layers of the program's classes in Sequential/functional models: lowered from what the
        class translation learnt (rules/layers/custom.py)."""
        for model in self.analysis.models:
            for layer in model.graph_nodes:
                if layer.key.startswith("Custom:"):
                    report = reports.get(layer.key.removeprefix("Custom:"))
                    if report is not None:
                        layer.rule = dataclasses.replace(layer.rule, lower=functools.partial(lower_custom, report, reports, seen))
                        layer.token_input = report.token_input

    def probe_models(self, learnt: dict, graph_shapes: dict) -> None:
        """Lower the models that use the program's layer classes, only to learn their input shapes."""
        self.bind_custom_layers(learnt, graph_shapes)
        for model in self.analysis.models:
            if model.kind != "class" and any(n.key.startswith("Custom:") for n in model.graph_nodes):
                try:
                    lower_model(model, None, self.analysis.module_env.values)
                except Exception:  # noqa: BLE001 - a probe: the model's real lowering reports its problems
                    pass

    def translate_classes(self, found: dict, outputs: dict, graph_shapes: dict) -> dict[str, ClassReport]:
        translated: dict[str, ClassReport] = {}
        shapes = built_shapes(self.wrapper.module, found)
        arguments = constructor_arguments(self.wrapper.module, found, self.analysis.module_env)
        call_shapes: dict[str, list] = {}  # a class used as a sub-layer: its inputs' shapes
        functions = {  # module-level functions only the classes call: torch once the classes are
            name: definition for name, definition in self.analysis.functions.items()
            if self.analysis.only_in_classes(name, found)
        }
        translated_functions: dict[str, FunctionTranslation] = {}
        for name in callers_first(found):
            node, kind = found[name]
            saved = self.snapshot()
            # The callers' known input shapes, over every pass so far (a caller's shape may be
            # known in one pass only): sizes they agree on; the others stay lazy.
            sites = self.class_call_shapes.setdefault(name, set())
            sites |= {shape for shape in call_shapes.get(name, []) if shape is not None}
            sites |= {shape for shape in graph_shapes.get(name, ()) if None not in shape}
            if name not in shapes and len(sites) == 1:
                shapes[name] = next(iter(sites))
            elif name not in shapes and len({(type(s), len(s)) for s in sites}) == 1 and type(next(iter(sites))) is tuple:
                # e.g. (10, 10, None): the channels stay lazy; the rank is known either way.
                shapes[name] = tuple(dims[0] if len(set(dims)) == 1 else None for dims in zip(*sites))
            translator = ClassTranslator(
                node, kind, self.analysis_resolver, self.analysis.module_env, found, self.positions,
                lambda problem: self.report(problem, mark=False), shapes.get(name), call_shapes, outputs,
                arguments.get(name), self.sparse_embeddings, functions, dict(translated_functions),
            )
            try:
                code = translator.code()
            except Exception as exc:  # noqa: BLE001 - one class's internal error stays that class's
                self.restore(saved)
                message = " ".join(f"{type(exc).__name__}: {exc}".split())
                self.report(Problem(node, "K2T902", f"internal error while translating class {name} ({message}); left as is"))
                continue
            self.edits.replace(node, [*translator.extra_classes, code])
            self.covered.add(node)
            self.snippets |= translator.snippets
            translated[name] = translator.result
            outputs[name] = translator.result
            translated_functions.update(translator.translated_functions)
        for function in translated_functions.values():  # `def gelu_(x)`, in torch
            self.edits.replace(function.definition, function.lines)
            self.covered.add(function.definition)
        return translated

    def class_instances(self, translated: dict) -> None:
        """`model = MyModel(...)` at module level: its Keras model methods."""
        instances: dict[str, ClassReport] = {}
        for statement in self.wrapper.module.body:
            if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
                small = statement.body[0]
                if (
                    isinstance(small, cst.Assign) and len(small.targets) == 1
                    and isinstance(small.targets[0].target, cst.Name) and isinstance(small.value, cst.Call)
                    and isinstance(small.value.func, cst.Name) and small.value.func.value in translated
                ):
                    instances[small.targets[0].target.value] = translated[small.value.func.value]
                    translated[small.value.func.value].instance = small.targets[0].target.value
        class_models = {m.var for m in self.analysis.models if m.kind == "class"}  # trained like Sequential ones
        instances = {var: report for var, report in instances.items() if var not in class_models}
        self.class_instance_names = instances
        for node in cstwalk.iter_nodes(self.wrapper.module):
            if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)):
                continue
            owner = node.func.value
            if (
                isinstance(owner, cst.Name) and owner.value in translated and node.func.attr.value == "from_config"
                and not self.is_covered(node)
            ):  # the class drops Keras's config API
                self.report(Problem(node, "K2T302", f"{owner.value}.from_config(): Keras's config API is not translated"))
                continue
            if not (isinstance(owner, cst.Name) and owner.value in instances) or self.is_covered(node):
                continue
            method, var = node.func.attr.value, owner.value
            statement = self.statement_of(node)
            if method == "build" and isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
                instances[var].built = code_of(node.args[0].value) if node.args else None
                self.edits.replace(statement, build_lines(var, node, instances[var].lazy, instances[var].token_input))
                self.covered.add(statement)
            elif method == "summary" and isinstance(statement, cst.SimpleStatementLine):
                self.edits.replace_expression(node, f"print({var})")
                self.covered.add(node)
            elif method in MODEL_METHODS or method in ("get_weights", "set_weights", "count_params", "get_config"):
                what = "subclassed model" if instances[var].kind == "model" else "custom layer"
                self.report(Problem(node, "K2T302", f"{var}.{method}() on a {what} is not translated yet"))

    # -- functions and leftovers ----------------------------------------------------------
    def functions_and_leftovers(self) -> None:
        translation = self

        class Visitor(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                if isinstance(node.func, cst.Name) and node.func.value in translation.loops_by_var:
                    translation.direct_call(node)
                    return
                key = translation.analysis_resolver.key(node.func)
                key = CALLBACK_ALIASES.get(key, key)
                if key in CALLBACKS and not translation.is_covered(node):
                    translation.callback(node, key)
                    return
                if key in STATEMENTS and not translation.is_covered(node):
                    translation.side_effect_statement(node, key)
                    return
                if key in FUNCTIONS and not translation.is_covered(node):
                    refused, positional = REFUSED.get(key, ({}, len(node.args)))
                    reasons = [
                        f"{a.keyword.value}=... ({refused[a.keyword.value]})" for a in node.args
                        if a.keyword is not None and a.keyword.value in refused
                        and evaluate(a.value, translation.analysis.module_env).value not in (False, None)
                    ]
                    if sum(a.keyword is None for a in node.args) > positional:
                        reasons.append(f"more than {positional} positional arguments")
                    if reasons:
                        translation.report(Problem(node, "K2T501", f"{code_of(node.func)}: {', '.join(reasons)}; left as is"))
                        translation.covered.add(node.func)
                        return
                    template, snippet = FUNCTIONS[key]
                    args = ", ".join(
                        ("{arg%d}" % i if a.keyword is None else f"{a.keyword.value}={{arg{i}}}")
                        for i, a in enumerate(node.args)
                    )
                    parts = [a.value for a in node.args]
                    translation.edits.replace_expression(node, template.format(args=args), parts=parts)
                    translation.covered.add(node.func)
                    if snippet:
                        translation.snippets.add(snippet)

            def visit_Import(self, node) -> bool:
                translation.import_node(node)
                return False

            def visit_ImportFrom(self, node) -> bool:
                translation.import_node(node)
                return False

            def visit_Attribute(self, node: cst.Attribute) -> bool:
                translation.model_attribute(node)
                return translation.leftover(node)

            def visit_Name(self, node: cst.Name) -> None:
                translation.leftover(node)

        cstwalk.visit(self.wrapper.module, Visitor())

    def side_effect_statement(self, node: cst.Call, key: str) -> None:
        """keras.backend.clear_session(), keras.utils.plot_model(model): on a line of their own,
        what stands in their place (rules/functions.py STATEMENTS)."""
        statement = self.statement_of(node)
        alone = (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
                 and isinstance(statement.body[0], cst.Expr) and statement.body[0].value is node)
        lines = STATEMENTS[key]
        first = node.args[0].value if node.args and node.args[0].keyword is None else None
        needs_model = any("{0}" in line for line in lines)
        if needs_model and not (isinstance(first, cst.Name) and first.value in self.model_names):
            self.report(Problem(node, "K2T501", f"{code_of(node.func)} of something else than a translated model; left as is"))
        elif not alone:
            self.report(Problem(node, "K2T501", f"{code_of(node.func)} inside an expression; left as is"))
        else:
            self.edits.replace(statement, [line.format(code_of(first) if first is not None else "") for line in lines])
            self.covered.add(statement)
            return
        self.covered.add(node.func)

    def import_node(self, node: cst.CSTNode) -> None:
        self.import_nodes.append(node)
        if _is_keras_import(node):
            statement = self.parents.get(node)
            if isinstance(statement, cst.SimpleStatementLine) and statement not in self.keras_import_statements:
                self.keras_import_statements.append(statement)

    @functools.cached_property
    def module_code(self) -> str:
        return self.wrapper.module.code

    @functools.cached_property
    def module_variables(self) -> frozenset:
        """The names the program's module-level code assigns (in any block, not in defs or classes)."""
        code = [s for s in self.wrapper.module.body if not isinstance(s, (cst.FunctionDef, cst.ClassDef))]
        return frozenset(rewrite.bound_names(code, augmented=True))

    def changes_learning_rate(self, model: ModelIR) -> bool:
        """Whether a callback may change the learning rate while the model trains (Keras's SGD
        momentum then differs from torch's)."""
        uses_callbacks = any(
            arg.keyword is not None and arg.keyword.value == "callbacks"
            for usage in model.usages
            if usage.method == "fit"
            for arg in usage.call.args
        )
        return uses_callbacks and bool(_LR_CALLBACKS.search(self.module_code))

    def uncalled_helper(self, node: cst.CSTNode) -> str | None:
        """The module-level function around node, if no code of the file names it (a library's
        helper, called from other files): None otherwise."""
        scope = self.scope_of(node)
        if not isinstance(scope, cst.FunctionDef) or self.parents.get(scope) is not self.wrapper.module:
            return None
        name = scope.name.value
        # A builder is read with its defaults: its own markers say why its model failed.
        if name in self.named_functions or builds_model(scope.body, self.analysis_resolver):
            return None
        return name

    @functools.cached_property
    def named_functions(self) -> frozenset:
        """The names that the module's code reads (a function named anywhere may be called)."""
        return frozenset(
            n.value for n in cstwalk.iter_nodes(self.wrapper.module)
            if isinstance(n, cst.Name) and not isinstance(self.parents.get(n), (cst.FunctionDef, cst.Attribute))
        )

    def scope_of(self, node: cst.CSTNode) -> cst.CSTNode:
        while node is not None and not isinstance(node, (cst.FunctionDef, cst.Module)):
            node = self.parents.get(node)
        return node

    def direct_call(self, node: cst.Call) -> None:
        """model(x) on a translated model: Keras converts x, runs in inference mode
        (training=False by default) and returns what the last layer returns."""
        loops, scope = self.loops_by_var[node.func.value]
        if self.is_covered(node) or self.scope_of(node) is not scope:
            return
        args = [a for a in node.args if not (a.keyword and a.keyword.value == "training")]
        training = [a for a in node.args if a.keyword and a.keyword.value == "training"]
        if len(args) != 1 or args[0].keyword is not None or args[0].star:
            self.report(Problem(node, "K2T302", f"{code_of(node)}: a direct call with these arguments has no translation yet"))
            return
        if training and code_of(training[0].value) != "False":
            self.report(Problem(node, "K2T302", f"{code_of(node)}: a call in training mode has no translation yet"))
            return
        if not isinstance(args[0].value, (cst.List, cst.Tuple)):
            loops.dict_inputs = True
        target = node
        parent = self.parents.get(node)
        grandparent = self.parents.get(parent)
        if (
            isinstance(parent, cst.Attribute) and parent.attr.value == "numpy"
            and isinstance(grandparent, cst.Call) and grandparent.func is parent and not grandparent.args
        ):
            target = grandparent  # model(x).numpy(): call_model already returns numpy
        self.edits.replace_expression(target, f"{loops.fn('call_model')}({node.func.value}, {{arg0}})", parts=[args[0].value])
        self.covered.add(node.func)

    def callback(self, node: cst.Call, key: str) -> None:
        """keras.callbacks.X(...) -> X(...), the callback class written into the output."""
        name, params = CALLBACKS[key]
        position = 0
        args = []
        for arg in node.args:
            keyword = arg.keyword.value if arg.keyword else None
            if keyword is None and not arg.star:
                keyword = params[position] if position < len(params) else None
                position += 1
            if keyword not in params:
                self.report(Problem(arg, "K2T402", f"{name}({keyword or '*'}=...) has no translation yet"))
                return
            if keyword == "save_freq" and code_of(arg.value) not in ('"epoch"', "'epoch'"):
                self.report(Problem(arg, "K2T402", f"{name}(save_freq=...) other than 'epoch' has no translation yet"))
                return
            code = code_of(arg.value)
            if keyword == "filepath":
                code = torch_weights_path(code)
            args.append(f"{arg.keyword.value}={code}" if arg.keyword else code)
        self.edits.replace_expression(node, f"{name}({', '.join(args)})")
        self.covered.add(node)
        self.snippets.add(name)

    def leftover(self, node: cst.CSTNode) -> bool:
        """Report an outermost Keras/TF reference that nothing translated. Returns: visit children?"""
        key = self.analysis_resolver.key(node)
        if key is None:
            return True
        parent = self.parents.get(node)
        if isinstance(parent, cst.Attribute) and parent.value is node:
            return True  # the outer attribute decides
        self.references.append(node)
        if self.is_covered(node):
            return False
        call = self.parents.get(node)
        if key in KERAS_DEFAULTS and isinstance(call, cst.Call) and call.func is node and not call.args:
            # K.image_data_format() and the like: Keras's defaults, which the translation assumes.
            self.edits.replace_expression(call, repr(KERAS_DEFAULTS[key]))
            self.covered.add(call)
            return False
        what = code_of(node)
        if key in ("Model", "Input"):
            problem = Problem(
                node, "K2T301",
                f"{what} is not part of a model k2t can follow statically (a graph whose shapes, helpers or "
                "loops depend on values known only at run time): not translated yet",
            )
        elif key.startswith("layers.") and (helper := self.uncalled_helper(node)) is not None:
            problem = Problem(node, "K2T101", (
                f"{what} in {helper}(), which nothing in this file calls: a helper's layers are translated "
                "where a model of the file uses it, with the sizes it is given there"))
        elif key.startswith("layers."):
            problem = Problem(
                node, "K2T101",
                f"{what} is not part of a model k2t can follow statically (a layer used outside a model graph, "
                "or a helper or loop over values known only at run time): not translated yet",
            )
        elif (key.startswith("optimizers.") and optimizer_rule(key)) or (key.startswith("losses.") and loss_rule(key)):
            # Translated as part of a compile() that k2t translates; this one is used elsewhere.
            problem = Problem(node, "K2T501", (
                f"{what} is translated where a translated compile() uses it; here it serves code k2t does not "
                "translate (a custom training loop, a model left in Keras): left as is"))
        else:
            problem = Problem(node, "K2T501", f"{what} has no translation yet; left as is")
        self.report(problem)
        return False

    def model_attribute(self, node: cst.Attribute) -> None:
        """model.layers, model.trainable, ...: Keras model attributes that nothing translated."""
        if not (isinstance(node.value, cst.Name) and node.value.value in self.model_names):
            return
        if self.is_covered(node):
            return
        loops = self.loops_by_var.get(node.value.value, (None,))[0]
        if node.attr.value == "metrics_names" and loops is not None and loops.loss is not None and not loops.outputs:
            names = ["loss", *(metric.name for metric in loops.metrics)]
            self.edits.replace_expression(node, repr(names))  # what evaluate() returns, in order
            self.covered.add(node)
            return
        what = code_of(node)
        self.report(Problem(node, "K2T302", f"{what}: Keras model attribute has no translation yet"))


def translate(source: str, options: Options = Options()) -> Result:
    return translate_module(source, parse(source), options)


def translate_module(source: str, module: cst.Module, options: Options = Options()) -> Result:
    """translate() for a module already parsed from source (the verifier reuses its nodes).

    The module's metadata (qualified names and scopes) is resolved once; the analysis walk records
    every node's parent, positions come from one code generation pass when a diagnostic needs them,
    and the rewrite touches only the statements that change.
    """
    if not _imports_keras(module):
        return Result(source, False, False)
    wrapper = cst.MetadataWrapper(module, unsafe_skip_copy=True)
    resolver = resolver_for(wrapper)
    parents: dict = {}
    analysis = analyse(wrapper, resolver, parents)
    state = _Translation(wrapper, analysis, resolver, options, parents)
    for problem in analysis.problems:
        state.report(problem)
    state.classes()
    state.models()
    state.models_in_attributes()
    state.datasets()
    state.functions_and_leftovers()
    for loops in state.loops:
        if loops.used:
            state.edits.add_header("\n\n\n".join(loops.functions()))
    header = []
    if state.reports:
        header.append(DEVICE_LINE)
    header += state.edits.headers
    if state.snippets:
        header.append(snippets.code(state.snippets))
    plan = rewrite.plan_imports(
        module,
        state.edits,
        parents,
        wrapper.resolve(ScopeProvider),
        state.import_nodes,
        header,
        exported=lambda: rewrite.exported_names(module) if "__all__" in analysis.names_in_use else set(),
    )
    # A file that defines model classes keeps its script under a __main__ guard (importable classes).
    code = rewrite.apply(
        module, state.edits, header, main_guard=options.main_guard and bool(state.reports), plan=plan, parents=parents,
        kept_comments=options.kept_comments,
    )
    if code is None:
        code = source
    if code != source and options.formatted:
        code = format_code(code, options.line_length, options.target_versions)
    diagnostics = sorted(set(state.diagnostics))

    def output_references() -> Counter:
        counts: Counter = Counter()
        for node in state.references:
            copies = state.edits.copies(node, parents)
            if copies:
                counts["".join(code_of(node).split())] += copies
        pieces = state.edits.blocks + [(piece, False) for piece in header]
        for text in rewrite.generated_references(pieces, plan.bindings):
            counts["".join(text.split())] += 1
        return counts

    return Result(
        code=code,
        changed=code != source,
        has_keras=True,
        diagnostics=diagnostics,
        models=state.reports,
        untranslated=state.untranslated,
        classes=state.class_reports,
        uses=KerasUses(
            module=module,
            references=state.references,
            import_statements=state.keras_import_statements,
            positions=state.positions,
            parents=parents,
            keras_left=plan.keras_left if code != source else bool(state.keras_import_statements),
            output_references=output_references,
        ),
        formatted=options.formatted,
    )
