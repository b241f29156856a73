"""Build models from source without training them: run only the statements that construct them.

The verifier executes user code, and says which: the module's imports, assignments whose value is a
literal (num_classes = 10), and the statements that construct the model (the Sequential(...) call and
its .add() calls) on the Keras side; imports, literal assignments and class/function definitions on
the torch side. fit/evaluate/predict and data loading never run. A model whose construction reads a
name computed at run time (x_train.shape[1:]) is unverifiable, with that reason.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import re
import sys
import types
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from k2t import cstwalk
from k2t.analyse import static_attributes
from k2t.rewrite import is_import_line
from k2t.values import Env, evaluate


class Unverifiable(Exception):
    """The model cannot be built from the source alone; str() says why."""


@dataclass
class Plan:
    """Statements to execute, in source order, and their line numbers (for the report)."""

    statements: list[cst.CSTNode] = field(default_factory=list)
    lines: list[tuple[int, int, str]] = field(default_factory=list)  # (first, last, what)

    def describe(self) -> str:
        """"imports (lines 1-4); model construction (lines 10-18)": adjacent spans merged."""
        groups: dict[str, list[list[int]]] = {}
        for first, last, what in self.lines:
            spans = groups.setdefault(what, [])
            if spans and first <= spans[-1][1] + 1:
                spans[-1][1] = max(last, spans[-1][1])
            else:
                spans.append([first, last])
        return "; ".join(
            f"{what} (lines {', '.join(str(a) if a == b else f'{a}-{b}' for a, b in spans)})"
            for what, spans in groups.items()
        )


def _names_only(target: cst.BaseExpression) -> bool:
    """`a`, `a, b`, `(a, [b, c])`: names only, no subscript or attribute."""
    if isinstance(target, (cst.Tuple, cst.List)):
        return all(_names_only(e.value) for e in target.elements)
    return isinstance(target, cst.Name)


def _constant_assignment(statement: cst.CSTNode, env: Env) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    if isinstance(small, cst.Assign) and not all(_names_only(t.target) for t in small.targets):
        return False  # `images[mask] = 255.0` changes an array computed at run time
    if isinstance(small, cst.Assign):
        value = evaluate(small.value, env)
        for target in small.targets:
            env.bind(target.target, value.value)
        return value.known
    if isinstance(small, cst.AnnAssign) and small.value is not None:
        value = evaluate(small.value, env)
        env.bind(small.target, value.value)
        return value.known
    return False


class Source:
    """A parsed module with positions, and its top-level imports and literal assignments."""

    def __init__(self, text: str, path: str):
        from k2t.translate import TranslationError, parse

        self.path = path
        try:
            module = parse(text)
        except TranslationError as exc:
            raise TranslationError(f"{path}:{exc}") from None
        self.wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        self.module = self.wrapper.module
        self.positions = self.wrapper.resolve(PositionProvider)

    def span(self, node: cst.CSTNode) -> tuple[int, int]:
        position = self.positions[node]
        return position.start.line, position.end.line

    def prelude(self, with_definitions: bool = False) -> Plan:
        """Imports, literal assignments (and class/function definitions) at module level."""
        plan = Plan()
        env = Env()
        for statement in self.module.body:
            if is_import_line(statement) or _import_block(statement):
                what = "imports"
            elif _constant_assignment(statement, env):
                what = "literal assignments"
            elif with_definitions and isinstance(statement, (cst.ClassDef, cst.FunctionDef)):
                what = "definitions"
            else:
                continue
            plan.statements.append(statement)
            plan.lines.append((*self.span(statement), what))
        return plan

    def code(self, statements: list[cst.CSTNode]) -> str:
        return "".join(self.module.code_for_node(s) for s in statements)


def _import_block(statement: cst.CSTNode) -> bool:
    """`if TF: from tensorflow.keras import ... else: from keras import ...`, or the same in a
    try/except ImportError: a library's choice of where to import Keras from."""
    if not isinstance(statement, (cst.If, cst.Try)):
        return False
    lines = [
        n for n in cstwalk.iter_nodes(statement)
        if isinstance(n, cst.SimpleStatementLine) and not (isinstance(statement, cst.If) and n is statement.test)
    ]
    return bool(lines) and all(is_import_line(n) or all(isinstance(s, cst.Pass) for s in n.body) for n in lines)


def _bound_names(statement: cst.SimpleStatementLine) -> set[str] | None:
    """Names an import statement binds (None for `from m import *`)."""
    names: set[str] = set()
    for small in statement.body:
        if isinstance(small.names, cst.ImportStar):
            return None
        for alias in small.names:
            if alias.asname is not None:
                names.add(alias.asname.name.value)
            else:
                names.add(cst.Module([]).code_for_node(alias.name).split(".")[0])
    return names


def keep_needed_imports(source: "Source", plan: Plan, more_code: str = "") -> Plan:
    """Only the imports the executed code reads: matplotlib or sklearn need not be installed."""
    used_code = source.code([s for s in plan.statements if not is_import_line(s)]) + more_code
    words = set(re.findall(r"[A-Za-z_]\w*", used_code))
    kept = Plan()
    for statement, line in zip(plan.statements, plan.lines):
        if is_import_line(statement):
            names = _bound_names(statement)
            if names is not None and not names & words:
                continue
        kept.statements.append(statement)
        kept.lines.append(line)
    return kept


def scope_constants(source: Source, scope: cst.CSTNode, before: cst.CSTNode) -> Plan:
    """Literal assignments in a function body before `before` (function-local constants)."""
    plan = Plan()
    if not isinstance(scope, cst.FunctionDef):
        return plan
    env = Env()
    given = _call_site_arguments(source, scope)
    owner = next((c for c in cstwalk.iter_nodes(source.module) if isinstance(c, cst.ClassDef)
                  and any(s is scope for s in c.body.body)), None)
    if owner is not None and scope.params.params:
        # A builder method of a plain class (a GAN's build_discriminator): self with the static
        # attributes that its __init__ sets, as the translation read them.
        me = scope.params.params[0].name.value
        lines = [f"{me} = type({owner.name.value!r}, (), {{}})()"]
        lines += [f"{me}.{key.split('.', 1)[1]} = {value!r}" for key, value in
                  static_attributes(owner, source.module, Env()).items() if key.startswith(f"{me}.")]
        init = next((f for f in owner.body.body if isinstance(f, cst.FunctionDef) and f.name.value == "__init__"), owner)
        for line in lines:
            plan.statements.append(cst.parse_statement(line + "\n"))
            plan.lines.append((*source.span(init), "the attributes __init__ sets"))
    for param in scope.params.params[1 if owner is not None else 0:] + scope.params.kwonly_params:
        name = param.name.value
        if name in given:
            call, value = given[name]
            statement = cst.parse_statement(f"{name} = {source.module.code_for_node(value)}\n")
            plan.lines.append((*source.span(call), "the builder's arguments"))
        elif param.default is not None and evaluate(param.default, env).known:
            statement = cst.parse_statement(f"{name} = {source.module.code_for_node(param.default)}\n")
            plan.lines.append((*source.span(param), "argument defaults"))
        else:
            continue
        plan.statements.append(statement)
        _constant_assignment(statement, env)
    for statement in _walk_block(scope.body):
        if statement is before:
            break
        if _constant_assignment(statement, env) or _constant_branch(statement, env):
            plan.statements.append(statement.with_changes(leading_lines=[]))
            plan.lines.append((*source.span(statement), "literal assignments"))
    return plan


def _constant_branch(statement: cst.CSTNode, env: Env) -> bool:
    """`if num_classes == 2: units = 1 else: units = num_classes`: a test on known values whose
    taken branch only assigns known values."""
    if not isinstance(statement, cst.If):
        return False
    test = evaluate(statement.test, env)
    if not test.known:
        return False
    branch = cstwalk.taken_branch(statement, test.value)
    if branch is None:
        return True
    if isinstance(branch, cst.If):
        return _constant_branch(branch, env)
    return all(_constant_assignment(s, env) or _constant_branch(s, env) for s in branch.body)


def _call_site_arguments(source: Source, function: cst.FunctionDef) -> dict:
    """param -> (call, value) from the first call of `function` in the module whose arguments are
    all literals (`model = build_model(10)`): a builder's sizes as the program passes them."""
    env = Env()
    for statement in source.module.body:
        _constant_assignment(statement, env)
    for call in _calls_of(source.module, function.name.value):
        given = cstwalk.call_arguments(function, call)
        if given is None or not all(evaluate(arg.value, env).known for arg in call.args):
            continue
        return {name: (call, value) for name, value in given.items()}
    return {}


def _calls_of(module: cst.Module, name: str) -> list[cst.Call]:
    return [
        node for node in cstwalk.iter_nodes(module)
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == name
    ]


def _walk_block(block):
    for statement in block.body:
        yield statement


# Keras 2 module paths that Keras 3 folded into keras.layers (`from keras.layers.convolutional
# import Conv2D`): while verify runs the program, each missing one names keras.layers.
_KERAS_2_PATHS = (
    "keras.layers.advanced_activations", "keras.layers.convolutional", "keras.layers.convolutional_recurrent",
    "keras.layers.core", "keras.layers.embeddings", "keras.layers.local", "keras.layers.merge",
    "keras.layers.noise", "keras.layers.normalization", "keras.layers.pooling", "keras.layers.recurrent",
    "keras.layers.wrappers", "keras.engine", "keras.engine.topology",
)


@contextlib.contextmanager
def _lent_modules():
    """sys.modules entries added for one run of the program (name -> module), removed afterwards."""
    lent: dict[str, types.ModuleType] = {}
    try:
        yield lent
    finally:
        for name, module in lent.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def _lend(lent: dict, name: str, module: types.ModuleType) -> None:
    sys.modules[name] = lent[name] = module


def _lend_keras_2_paths(lent: dict) -> None:
    """Keras 2 programs import layers from submodules that Keras 3 no longer has."""
    if "keras" not in sys.modules and importlib.util.find_spec("keras") is None:
        return
    import keras

    for path in _KERAS_2_PATHS:
        if path in sys.modules:
            continue
        try:
            importlib.import_module(path)
        except ImportError:
            _lend(lent, path, keras.layers)


class _Missing(types.ModuleType):
    """A module the program imports that is not installed here (matplotlib for its plots): the
    import succeeds, and only a use of it fails, naming the module."""

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Missing(f"{self.__name__}.{attr}")

    def __call__(self, *args, **kwargs):
        raise ImportError(f"{self.__name__} is used, and its module is not installed")


# Modules whose absence verify reports rather than stubs: the frameworks the models are built with.
_NEEDED = ("keras", "tensorflow", "tf_keras", "torch", "numpy")


def execute(code: str, namespace: dict, what: str) -> None:
    try:
        program = compile(code, what, "exec")
        with _lent_modules() as lent:
            _lend_keras_2_paths(lent)
            while True:  # again after each module that is not installed, stubbed
                try:
                    exec(program, namespace)  # noqa: S102 - verify runs user code by design
                    break
                except ModuleNotFoundError as exc:
                    name = exc.name or ""
                    stubs = sum(isinstance(module, _Missing) for module in lent.values())
                    if not name or name.split(".")[0] in _NEEDED or name in lent or stubs > 20:
                        raise
                    parts = name.split(".")
                    for i in range(1, len(parts) + 1):  # the package and its parents
                        prefix = ".".join(parts[:i])
                        if prefix not in sys.modules:
                            _lend(lent, prefix, _Missing(prefix))
    except NameError as exc:
        raise Unverifiable(
            f"{exc.args[0]}: the model's construction depends on values computed at run time" + set_hint(exc.args[0])
        ) from None
    except ImportError as exc:
        raise Unverifiable(f"import failed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the model's own construction failed
        raise Unverifiable(f"building the model failed: {type(exc).__name__}: {exc}") from None


@dataclass
class CompilePlan(Plan):
    """What verify --train-steps executes on the Keras side: compile() and what it reads."""

    code: str = ""
    path: str = ""


def set_hint(error: str) -> str:
    """` (give it with --set NAME=VALUE)` for a NameError's `name 'NAME' is not defined`."""
    found = re.match(r"name '(\w+)'", error)
    return f" (give it with --set {found.group(1)}=VALUE)" if found else ""


def compile_plan(source: Source, model) -> CompilePlan | None:
    """The model's compile() call, after the literal constants of its scope and the optimizer/loss
    objects it names (`opt = keras.optimizers.Adam(1e-3)`: the statements the translation consumed);
    None when the program never compiles the model."""
    usage = model.ir.compile
    if usage is None:
        return None
    plan = CompilePlan(path=source.path)
    local = scope_constants(source, usage.scope, usage.statement)
    # The optimizer/loss objects the translation consumed, and the loss/metric defs it rewrote.
    objects = model.compiled.consumed + [f.definition for f in model.compiled.functions] if model.compiled else []
    objects = sorted(objects, key=source.span)
    code = source.code(local.statements)
    code += "".join(source.module.code_for_node(s.with_changes(leading_lines=[])) for s in objects)
    receiver = usage.call.func.value if isinstance(usage.call.func, cst.Attribute) else None
    if isinstance(receiver, cst.Name) and receiver.value != model.ir.var:
        code += f"{receiver.value} = {model.ir.var}\n"
    code += source.module.code_for_node(usage.call) + "\n"
    plan.code = code
    plan.lines = local.lines + [(*source.span(s), "optimizer/loss objects and functions") for s in objects]
    plan.lines.append((*source.span(usage.statement), "compile"))
    return plan


def run_compile(plan: CompilePlan, namespace: dict) -> None:
    try:
        exec(compile(plan.code, plan.path, "exec"), namespace)  # noqa: S102 - verify runs user code by design
    except NameError as exc:
        name = getattr(exc, "name", None) or exc.args[0]
        raise Unverifiable(f"compile() reads {name}, a value computed at run time") from None
    except Exception as exc:  # noqa: BLE001 - the program's own compile() failed
        raise Unverifiable(f"compile() failed: {type(exc).__name__}: {exc}") from None
