"""Analyse: find Keras constructs by their resolved names and lift them into a small model IR.

Nothing here writes code. The IR says which statements build each Sequential model (its layers with
arguments bound to Keras parameter names, Keras defaults filled in), which statements use the model
(compile, fit, evaluate, predict, ...), and which functions build and return a model.
"""

from __future__ import annotations

import contextlib
import keyword
import re
from collections import Counter
from ast import literal_eval as ast_literal
from dataclasses import dataclass, field

import libcst as cst

from k2t import cstwalk, rewrite
from k2t.datasets import Dataset, read_pipeline
from k2t.names import Resolver
from k2t.ops import LambdaFunction, lambda_function
from k2t.rules import initializers, regularizers
from k2t.rules.activations import activation_name
from k2t.rules.layers import LAYER_FUNCTIONS, custom_layer_rule, layer_rule, nested_model_rule, untranslated_layer_rule
from k2t.rules.spec import REQUIRED, LayerRule, Param
from k2t.values import UNKNOWN, Env, Symbol, Value, code_of, evaluate, evaluate_value

# `build_model`, `make_generator`: the verb a builder function's name starts with (names drop it).
BUILDER_VERB = re.compile(r"^(build|create|make|get|define|construct)_")

# Methods of a Keras model that k2t translates (anything else is reported).
MODEL_METHODS = {
    "add",
    "build",
    "compile",
    "fit",
    "evaluate",
    "predict",
    "summary",
    "save",
    "save_weights",
    "load_weights",
}


@dataclass
class Problem:
    node: cst.CSTNode
    code: str
    message: str


@dataclass
class LayerCall:
    key: str  # canonical layer name, e.g. "Dense"
    rule: LayerRule | None
    node: cst.Call
    args: dict[str, Value]
    name: str | None = None  # the Keras name= argument
    inputs: list[str] = field(default_factory=lambda: ["x"])  # tensors it is applied to
    output: str = "x"  # the tensor it produces
    # `out, h, c = lstm(x)`: every tensor it produces, unpacked (`_` for one the program drops).
    outputs: list[str] = field(default_factory=list)
    extra: dict[str, Value] = field(default_factory=dict)  # inert keywords (input_shape=, name=)
    shared_with: "LayerCall | None" = None  # a layer object applied again: its first application
    binding: str | None = None  # `encoder = layers.Dense(16)`: the variable holding the layer object
    defined_by: cst.SimpleStatementLine | None = None  # that variable's statement
    # The program uses the layer object on its own too (`normalizer.adapt(x)`): the model is given
    # the module the program makes there, instead of making its own (set by the translation).
    injected: bool = False
    borrowed_from: tuple | None = None  # (model, its LayerCall) for `model.layers[-1]` applied again
    token_input: bool = False  # reads token ids: an Embedding, or a layer class that starts with one
    # The comments of the statement that applies it (its first layer only), for forward().
    comments: list[str] = field(default_factory=list)
    commented: cst.SimpleStatementLine | None = None  # that statement
    # A layer k2t cannot translate, kept in the model as a module that raises (rules/layers/custom.py):
    # the problem to report at its line.
    untranslated: "Problem | None" = None
    # Rules with call_inputs/call_options: the argument each input was given as, the call's options.
    input_names: list = field(default_factory=list)
    call_options: dict = field(default_factory=dict)
    separate_inputs: bool = False  # `Gate(8)(x, context)`: its tensors as separate arguments

    def __post_init__(self) -> None:
        self.token_input = self.token_input or self.key == "Embedding"


@dataclass
class FunctionalInput:
    var: str
    shape: tuple | None
    statement: cst.SimpleStatementLine
    call: cst.Call
    name: str | None = None  # keras.Input(name=...)


@dataclass
class FunctionalNode:
    layer: "LayerCall | None"
    producers: list
    statement: cst.SimpleStatementLine
    var: str
    problems: list
    order: int = 0
    # The if/for/while statements around its creation whose branch or count only the run decides.
    blocks: tuple = ()
    # `out, h, c = lstm(x)`: h is output 1 of the node that applies lstm (layer None here).
    part: "tuple[FunctionalNode, int] | None" = None


@dataclass(frozen=True)
class LayerAlias:
    """A name for a layer class or a layer factory (`DO = SpatialDropout2D`, `upsample =
    upsample_conv`): calling it makes that layer."""

    node: cst.BaseExpression


@dataclass
class UnknownTensor:
    var: str
    statement: cst.SimpleStatementLine


@dataclass
class Usage:
    """A statement that calls a method of a model: model.fit(...), h = model.fit(...), ..."""

    method: str
    call: cst.Call
    statement: cst.SimpleStatementLine
    scope: cst.CSTNode
    datasets: dict[cst.BaseExpression, Dataset] = field(default_factory=dict)  # arguments that are tf.data pipelines


@dataclass
class ModelIR:
    var: str  # variable the model is bound to in its scope
    scope: cst.CSTNode  # cst.Module or cst.FunctionDef
    creation: cst.SimpleStatementLine
    call: cst.Call  # the Sequential(...) call
    layers: list[LayerCall] = field(default_factory=list)
    build_statements: list[cst.SimpleStatementLine] = field(default_factory=list)
    input_shape: tuple | None = None
    problems: list[Problem] = field(default_factory=list)
    usages: list[Usage] = field(default_factory=list)
    keras_name: str | None = None
    builder: cst.FunctionDef | None = None  # the function that returns this model, if any
    builder_call: cst.Call | None = None  # the call whose arguments the builder was read with
    # Later calls of the builder with other arguments: (call, the parameters that differ).
    builder_other_calls: list[tuple[cst.Call, set[str]]] = field(default_factory=list)
    class_name: str = "Model"
    kind: str = "sequential"  # or "functional"
    blocks: tuple = ()  # the run-time if/for/while statements around its creation (see FunctionalNode)
    inputs: list[tuple[str, tuple | None]] = field(default_factory=list)  # functional: (var, shape)
    outputs: list[str] = field(default_factory=list)  # functional: output tensors
    input_names: dict[str, str] = field(default_factory=dict)  # input var -> keras.Input(name=...)
    returned: bool = False  # created in a return statement: `return keras.Sequential([...])`
    inlined: set[str] = field(default_factory=set)  # helper functions read into the graph (`block(x, 64)`)
    # id(LayerCall) -> (the model made first with that layer, the layer's call there)
    borrowed: dict = field(default_factory=dict)

    # The model as a graph; a Sequential model is the chain x -> layer -> x -> ...
    @property
    def graph_inputs(self) -> list[tuple[str, tuple | None]]:
        return self.inputs if self.kind == "functional" else [("x", self.input_shape)]

    @property
    def graph_nodes(self) -> list[LayerCall]:
        return self.layers

    @property
    def graph_outputs(self) -> list[str]:
        return self.outputs if self.kind == "functional" else ["x"]

    @property
    def compile(self) -> Usage | None:
        return next((u for u in self.usages if u.method == "compile"), None)


@dataclass
class KerasObject:
    """`opt = keras.optimizers.Adam(1e-3)`: a Keras object bound to a name, used by compile()."""

    key: str
    call: cst.Call
    statement: cst.SimpleStatementLine


@dataclass
class Analysis:
    datasets: list[Dataset] = field(default_factory=list)  # tf.data pipelines of arrays (k2t/datasets.py)
    models: list[ModelIR] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    objects: dict[str, KerasObject] = field(default_factory=dict)
    names_in_use: set[str] = field(default_factory=set)
    module_env: Env = field(default_factory=Env)
    keras_classes: dict[str, str] = field(default_factory=dict)  # class name -> "layer" or "model"
    functions: dict[str, cst.FunctionDef] = field(default_factory=dict)  # module-level defs by name
    # Where each name is read outside the arguments of compile() calls: the module-level function
    # or class whose body reads it, or None for any other code (`print(rmse(y, p))`).
    readers: dict[str, set] = field(default_factory=dict)

    def only_in_compile(self, name: str) -> bool:
        """A function the program uses only as compile()'s loss or metric, directly or through other
        such functions (`dice_loss` calling `dice_coef`): it can be rewritten for tensors."""
        return self._only_read_by(name, ())

    def only_in_classes(self, name: str, classes) -> bool:
        """A function that only the program's Keras classes read, directly or through other such
        functions (`gelu_` called in a GELU layer's call()): once the classes are torch, it is given
        torch tensors, so it is translated with them."""
        return bool(self.readers.get(name)) and self._only_read_by(name, classes)

    def _only_read_by(self, name: str, owners, seen: tuple = ()) -> bool:
        """Every reader of `name` is one of `owners` (compile()'s arguments are no reads), or a
        module-level function that only they read in turn."""
        return all(
            reader in owners or (
                reader is not None and reader != name and reader not in seen and reader in self.functions
                and self._only_read_by(reader, owners, (*seen, name))
            )
            for reader in self.readers.get(name, ())
        )


def _returned_layer(function: cst.FunctionDef, resolver: Resolver) -> cst.Call | None:
    """The layer constructor call a function only returns (a layer factory), or None."""
    body = list(function.body.body) if isinstance(function.body, cst.IndentedBlock) else []
    while body and cstwalk.is_docstring(body[0]):
        body = body[1:]
    if (
        len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1
        or not isinstance(body[0].body[0], cst.Return) or not isinstance(body[0].body[0].value, cst.Call)
        or function.params.star_arg not in (cst.MaybeSentinel.DEFAULT, None) or function.params.star_kwarg
        or function.params.kwonly_params
    ):
        return None
    made = body[0].body[0].value
    key = resolver.key(made.func)
    return made if key and key.startswith("layers.") and layer_rule(key) else None


def unpacked_names(target: cst.BaseExpression) -> list[str] | None:
    """`a, b, c = ...`: the names, where the target is a tuple or list of plain names."""
    if not isinstance(target, (cst.Tuple, cst.List)) or not all(
        isinstance(e, cst.Element) and isinstance(e.value, cst.Name) for e in target.elements
    ):
        return None
    return [e.value.value for e in target.elements]


def _untranslated(node: cst.Call, problem: Problem) -> LayerCall:
    """A layer without a rule: a module that raises, so that the model around it is translated."""
    rule = untranslated_layer_rule(code_of(node))
    return LayerCall(rule.keras, rule, node, {}, untranslated=problem)


def _identity(producer, node: cst.CSTNode, line, name: str) -> "FunctionalNode":
    """`shortcut = x`, `skips.append(x)`: the same tensor under a name of its own in forward()."""
    alias = LayerCall("Identity", layer_rule("layers.Identity"), node, {}, None, [producer.var], name)
    return FunctionalNode(alias, [producer], line, name, [])


def builds_model(node: cst.CSTNode, resolver: Resolver) -> bool:
    """Whether code makes a Keras model (calls keras.Input, keras.Model or Sequential)."""
    return any(
        isinstance(n, cst.Call) and resolver.key(n.func) in ("Input", "Model", "Sequential")
        for n in cstwalk.iter_nodes(node)
    )


def _reads_shape(node: cst.BaseExpression) -> bool:
    """Whether an expression reads a tensor's static shape (`x.shape`, `K.int_shape(x)`, `x.get_shape()`)."""
    return any(
        isinstance(n, cst.Attribute) and n.attr.value in ("shape", "get_shape", "int_shape")
        for n in cstwalk.iter_nodes(node)
    )


def _plain_target(target: cst.BaseExpression) -> bool:
    """A loop target of names: `i`, `up, skip`."""
    if isinstance(target, (cst.Tuple, cst.List)):
        return all(_plain_target(e.value) for e in target.elements)
    return isinstance(target, cst.Name)


def _bound_once(module: cst.Module, name: str) -> bool:
    """Whether the module's own code (not its functions' or classes') binds ``name`` once."""
    count = 0
    todo = list(module.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            continue
        if isinstance(node, (cst.AssignTarget, cst.AnnAssign, cst.AugAssign, cst.For, cst.AsName)):
            place = node.name if isinstance(node, cst.AsName) else node.target
            count += any(isinstance(n, cst.Name) and n.value == name for n in cstwalk.iter_nodes(place))
        todo.extend(node.children)
    return count == 1


def bind_arguments(
    call: cst.Call,
    signature: tuple[Param, ...],
    env: Env,
    resolver: Resolver,
    what: str,
    inert: frozenset[str] = frozenset(),
) -> tuple[dict[str, Value], dict[str, Value], list[Problem]]:
    """Bind positional then keyword arguments to Keras parameter names; fill Keras defaults.

    Returns (bound, extra, problems): extra holds inert keywords (name=, input_shape=, ...).
    """
    by_name = {p.name: p for p in signature}
    aliases = {alias: p.name for p in signature for alias in p.aliases}
    bound: dict[str, Value] = {}
    extra: dict[str, Value] = {}
    problems: list[Problem] = []
    position = 0
    for arg in call.args:
        if arg.star:
            problems.append(Problem(arg, "K2T102", f"{what}: *args/**kwargs cannot be translated statically"))
            continue
        if arg.keyword is None:
            if position >= len(signature):
                problems.append(Problem(arg, "K2T102", f"{what}: too many positional arguments"))
                continue
            name = signature[position].name
            position += 1
        else:
            name = aliases.get(arg.keyword.value, arg.keyword.value)
        if name in by_name:
            bound[name] = argument_value(name, arg.value, env, resolver)
        elif name in inert:
            extra[name] = evaluate(arg.value, env)
        else:
            problems.append(Problem(arg, "K2T102", f"{what}({name}=...) has no translation"))
    for param in signature:
        if param.name not in bound:
            if param.default is REQUIRED:
                problems.append(Problem(call, "K2T102", f"{what}: missing argument {param.name!r}"))
                bound[param.name] = Value("None", UNKNOWN)
            else:
                bound[param.name] = Value.literal(param.default)
    return bound, extra, problems


def argument_value(name: str, node: cst.BaseExpression, env: Env, resolver: Resolver) -> Value:
    """Evaluate an argument; activations and initializers may be functions or objects."""
    value = evaluate(node, env)
    if name in ("activation", "recurrent_activation"):
        if isinstance(value.value, str) or value.value is None:
            act = activation_name(value.value)
            return Value(value.code, act if act else UNKNOWN, value.local_names)
        key = resolver.key(node)
        act = activation_name(key) if key else None
        return Value(value.code, act if act else UNKNOWN, value.local_names)
    if name.endswith("_regularizer") and value.value is not None:
        return Value(value.code, _penalty(node, value, env, resolver), value.local_names)
    if name.endswith("_initializer") and not value.known:
        return Value(value.code, initializer_value(node, env, resolver), value.local_names)
    return value


def initializer_value(node: cst.BaseExpression, env: Env, resolver: Resolver):
    """What an initializer argument is: a Keras name ("he_normal"), an initializers.Initializer
    for an object made with arguments (`RandomNormal(stddev=0.02)`), or UNKNOWN."""
    value = evaluate(node, env)
    if value.known:
        return value.value
    call = node if isinstance(node, cst.Call) else None
    key = resolver.key(call.func if call is not None else node)
    if key is None or not (key.startswith("initializers.") or key.removeprefix("tf.") in initializers.TF_FUNCTIONS):
        return UNKNOWN
    name = key.rsplit(".", 1)[-1]
    if call is None:  # the class or function itself, not called
        return name if key.startswith("initializers.") else UNKNOWN
    if any(arg.star for arg in call.args):
        return UNKNOWN
    positional = [evaluate(a.value, env).value for a in call.args if a.keyword is None]
    keywords = {a.keyword.value: evaluate(a.value, env).value for a in call.args if a.keyword is not None}
    found = initializers.from_call(name, positional, keywords)
    return UNKNOWN if found is None else found


def _penalty(node: cst.BaseExpression, value: Value, env: Env, resolver: Resolver):
    """regularizers.l2(1e-4), L1L2(l1=..., l2=...), "l2": a Penalty; UNKNOWN for anything else."""
    if isinstance(value.value, str):
        return regularizers.STRINGS.get(value.value, UNKNOWN)
    if not isinstance(node, cst.Call) or any(arg.star for arg in node.args):
        return UNKNOWN
    positional = [evaluate(a.value, env).value for a in node.args if a.keyword is None]
    keywords = {a.keyword.value: evaluate(a.value, env).value for a in node.args if a.keyword is not None}
    found = regularizers.penalty(resolver.key(node.func), positional, keywords)
    return UNKNOWN if found is None else found


def _unused(base: str, taken: set[str], separator: str) -> str:
    """base, else base2, base3, ... (with the separator between) that is not taken."""
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}{separator}{n}"
    return name


def is_literal(value) -> bool:
    """Whether repr(value) is Python source that gives the value back."""
    try:
        return ast_literal(repr(value)) == value
    except (ValueError, SyntaxError):
        return False



class _Substitute(cst.CSTTransformer):
    """A function body with its non-tensor parameters replaced by the caller's values; each copied
    node resolves like the node it copies (Resolver.copies)."""

    def __init__(self, values: dict[str, cst.BaseExpression], copies: dict):
        super().__init__()
        self.values = values
        self.copies = copies
        self.kept: set[int] = set()  # ids of Names that are keywords or attribute names

    def visit_Arg(self, node) -> None:  # `filters=filters`: the keyword stays
        if node.keyword is not None:
            self.kept.add(id(node.keyword))

    def visit_Attribute(self, node) -> None:  # `layers.Dense`: the attribute name stays
        self.kept.add(id(node.attr))

    def on_leave(self, original, updated):
        if isinstance(original, cst.Name) and id(original) not in self.kept and original.value in self.values:
            return self.values[original.value]
        result = super().on_leave(original, updated)
        if result is not original and isinstance(result, cst.CSTNode):
            self.copies[result] = self.copies.get(original, original)
        return result


KERAS_DEFAULTS = {
    "backend.image_data_format": "channels_last",
    "backend.image_dim_ordering": "tf",  # Keras 1's name for it
    "backend.floatx": "float32",
    "backend.epsilon": 1e-7,
    "backend.backend": "tensorflow",
    # Keras 3's keras.config: the same settings.
    "config.image_data_format": "channels_last",
    "config.floatx": "float32",
    "config.epsilon": 1e-7,
    "config.backend": "tensorflow",
}


class Analyzer(cst.CSTVisitor):
    # Driven by cstwalk.visit (read-only, in libcst's order); names come from the Resolver.

    def __init__(self, resolver: Resolver):
        super().__init__()
        self.resolver = resolver
        self.result = Analysis()
        self.env = self.result.module_env
        self.env.call_value = self._call_value
        self.env.tensor_shape = self._tensor_shape
        self.scopes: list[cst.CSTNode] = []
        # model variables visible in the current scope: name -> ModelIR
        self.models_in_scope: list[dict[str, ModelIR]] = [{}]
        self.builders: dict[str, ModelIR] = {}  # function name -> model it returns
        self.line: cst.SimpleStatementLine | None = None  # the statement being visited
        # Functional API, per scope: tensor variables (current definition) and unapplied layers.
        self.tensors: list[dict[str, object]] = [{}]
        self.layer_objects: list[dict[str, tuple]] = [{}]
        self.foreign_objects: set[int] = set()  # id() of layer_objects calls of classes k2t does not know
        self.datasets: list[dict[str, Dataset]] = [{}]
        self.applied_objects: dict[int, LayerCall] = {}  # id(layer object's call) -> its first application
        # id(a model layer's constructor call) -> (the model, its LayerCall): `model.layers[-1]`
        self.borrowed_objects: dict[int, tuple] = {}
        self.functional_statements: dict[int, list] = {}
        # Lists of graph tensors (`skips = []; skips.append(x)`), by (scope, name): the statements
        # that build each, which go with a model that reads its tensors.
        self.tensor_lists: dict[tuple, list] = {}
        self.synthetic: list[str] = []
        # Graph items given to a model, by id, with the first model that has them (kept alive here,
        # so that no later item takes an id).
        self.claimed: dict[int, tuple] = {}
        self.order = 0
        self.attribute_names: set[cst.Name] = set()
        self.seen_calls: set[cst.Call] = set()
        self.touched: list[ModelIR] = []  # models the statement being read builds or uses
        self.functions = self.result.functions  # module-level defs by name, for Lambda(f) and losses
        self.nodes: list[FunctionalNode] = []  # every graph node, in creation order
        self.inlined: dict[int, set[str]] = {}  # id(statement) -> functions read into its graph
        # Functions that build a model, read at their first call (see _read_builders).
        self.deferred: dict[str, cst.FunctionDef] = {}
        self.builder_calls: dict[str, tuple] = {}  # name -> (the call read, its values, the def)
        self.bindings: dict = {}  # parameter values for the function about to be read
        self.read_later: set[cst.FunctionDef] = set()  # every deferred def
        self.reading: cst.FunctionDef | None = None  # the deferred def being read now
        # The if/for/while statements being read whose branch or count only the run decides: a
        # model built across one would be read with every branch taken, or the loop run once.
        self.dynamic: list[cst.CSTNode] = []

    def _call_value(self, call: cst.Call) -> object:
        """`K.image_data_format()` and the like: Keras's defaults (keras.json unchanged), which
        the translation assumes throughout (channels-last tensors, float32, TensorFlow); and the
        static shape of a graph tensor (`K.int_shape(x)`, `x.get_shape().as_list()`)."""
        func = call.func
        if self.resolver.key(func) == "backend.int_shape" and len(call.args) == 1:
            argument = call.args[0].value
            return self._tensor_shape(argument.value) if isinstance(argument, cst.Name) else UNKNOWN
        if isinstance(func, cst.Attribute) and not call.args and func.attr.value in ("get_shape", "as_list"):
            if func.attr.value == "get_shape" and isinstance(func.value, cst.Name):
                return self._tensor_shape(func.value.value)
            shape = evaluate_value(func.value, self.env)  # `x.shape.as_list()`
            return list(shape) if isinstance(shape, tuple) else UNKNOWN
        return KERAS_DEFAULTS.get(self.resolver.key(func), UNKNOWN) if not call.args else UNKNOWN

    def _tensor_shape(self, name: str) -> object:
        """The Keras shape (batch axis first, None) of the graph tensor a name holds, from the rules
        of the layers that compute it: `filters = K.int_shape(x)[-1]` in a squeeze-excite block."""
        tensor = self.tensors[-1].get(name) if self.tensors else None
        if isinstance(tensor, FunctionalInput):
            shape = tensor.shape
        elif isinstance(tensor, FunctionalNode):
            shape = self._node_shape(tensor)
        else:
            return UNKNOWN
        if shape is None:
            return UNKNOWN
        return (None, *(d if isinstance(d, int) and not isinstance(d, bool) else UNKNOWN for d in shape))

    def _node_shape(self, tensor: "FunctionalNode") -> tuple | None:
        from k2t.lower import lower_model  # the rules that know each layer's output shape

        seen: dict[int, object] = {}
        stack = [tensor]
        while stack:
            item = stack.pop()
            if id(item) in seen:
                continue
            seen[id(item)] = item
            if isinstance(item, FunctionalNode):
                if item.layer is None or item.problems:
                    return None
                stack.extend(item.producers)
            elif not isinstance(item, FunctionalInput) or item.shape is None:
                return None
        nodes = sorted((i for i in seen.values() if isinstance(i, FunctionalNode)), key=lambda n: n.order)
        inputs = [i for i in seen.values() if isinstance(i, FunctionalInput)]
        graph = ModelIR(
            var="shape", scope=self.scopes[-1], creation=self.line, call=None, kind="functional",
            layers=[n.layer for n in nodes], inputs=[(i.var, i.shape) for i in inputs], outputs=[tensor.var],
        )
        try:
            return tuple(lower_model(graph).output_shape)
        except Exception:  # noqa: BLE001 - a shape the rules cannot give is simply not static
            return None

    # -- scopes ---------------------------------------------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        self.scopes.append(node)
        in_compile = {
            id(n) for c in cstwalk.iter_nodes(node)
            if isinstance(c, cst.Call) and isinstance(c.func, cst.Attribute) and c.func.attr.value == "compile"
            for a in c.args for n in cstwalk.iter_nodes(a.value)
        }
        # Names that are not reads: a def's own name, keywords (`loss=`), attributes (`model.loss`).
        definitions = {
            id(name) for n in cstwalk.iter_nodes(node)
            for name in ([n.name] if isinstance(n, cst.FunctionDef) else [n.keyword] if isinstance(n, cst.Arg)
                         else [n.attr] if isinstance(n, cst.Attribute) else [])
        }
        readers = self.result.readers
        for statement in node.body:
            reader = statement.name.value if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) else None
            for n in cstwalk.iter_nodes(statement):
                if isinstance(n, cst.Name) and id(n) not in in_compile and id(n) not in definitions:
                    readers.setdefault(n.value, set()).add(reader)
        called = {n.func.value for n in cstwalk.iter_nodes(node) if isinstance(n, cst.Call) and isinstance(n.func, cst.Name)}
        self.deferred = {
            f.name.value: f for f in node.body
            if isinstance(f, cst.FunctionDef) and f.name.value in called and builds_model(f.body, self.resolver)
        }
        self.read_later = set(self.deferred.values())

    def leave_Module(self, original_node: cst.Module) -> None:
        for name in list(self.deferred):  # builders called only where k2t does not look: read as defined
            self._read_builder(name, None)

    def _read_builders(self, line: cst.SimpleStatementLine) -> None:
        """`model = make_model((28, 28, 1), NUM_CLASSES)`: a function that builds a model is read at
        its first call, its parameters bound to that call's arguments (evaluated where it is made),
        so that the sizes it passes to keras.Input and the layers are known. Later calls with other
        arguments make the model a problem: its translation is written for one set of them."""
        for call in cstwalk.iter_nodes(line):
            if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Name)):
                continue
            name = call.func.value
            if name in self.deferred:
                self._read_builder(name, call)
            elif name in self.builder_calls:
                first, values, function = self.builder_calls[name]
                if call is not first and (model := self.builders.get(name)) is not None:
                    other = self._call_values(function, call)
                    changed = {p for p in {*values, *other} if values.get(p, UNKNOWN) != other.get(p, UNKNOWN)}
                    if changed:  # translate.py reports those the torch model does not take
                        model.builder_other_calls.append((call, changed))

    def _read_builder(self, name: str, call: cst.Call | None) -> None:
        function = self.deferred.pop(name)
        values = self._call_values(function, call) if call is not None else {}
        if call is not None:
            self.builder_calls[name] = (call, values, function)
        saved = self.env, self.line, self.touched, self.reading, self.dynamic
        self.env, self.bindings, self.reading, self.dynamic = self.result.module_env, values, function, []
        try:
            cstwalk.visit(function, self)
        finally:
            self.env, self.line, self.touched, self.reading, self.dynamic = saved
        if (model := self.builders.get(name)) is not None:
            model.builder_call = call

    def _read_later(self, node: cst.FunctionDef) -> bool:
        """A builder met at its def: it is read at its first call instead (_read_builders)."""
        return node in self.read_later and node is not self.reading

    def _call_values(self, function: cst.FunctionDef, call: cst.Call) -> dict:
        """Parameter name -> the static value the call gives it (the ones it can know)."""
        values = {}
        for name, node in (cstwalk.call_arguments(function, call) or {}).items():
            value = evaluate_value(node, self.env)
            if value is not UNKNOWN:
                values[name] = value
        return values

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        if len(self.scopes) == 1 and any(s is node for s in self.scopes[0].body):
            self.functions[node.name.value] = node
        if self._read_later(node):
            return False
        self.scopes.append(node)
        self.env = Env(self.env)
        self.models_in_scope.append({})
        self.tensors.append({})
        self.layer_objects.append({})
        self.datasets.append({})
        bindings, self.bindings = self.bindings, {}
        # A parameter the body assigns again (`filters = filters * 2` per block) is no one size: its
        # uses are written as numbers, and the builder is fixed for its value.
        rebound = rewrite.bound_names([node.body], augmented=True)
        for param in node.params.params + node.params.kwonly_params:
            default = evaluate_value(param.default, self.env.parent) if param.default else UNKNOWN
            self.env.bind(param.name, bindings.get(param.name.value, default), is_local=True)
            if param.name.value not in rebound:
                self.env.params.add(param.name.value)
            else:
                self.env.anonymous.add(param.name.value)
        return True

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        if self._read_later(original_node):  # its visit pushed nothing
            return
        self.scopes.pop()
        self.env = self.env.parent
        self.models_in_scope.pop()
        self.tensors.pop()
        self.layer_objects.pop()
        self.datasets.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        """Keras classes are translated construct by construct (k2t/classes.py), not read here."""
        keras_bases = ("layers.Layer", "Layer", "Model")
        kinds = [
            "model" if key == "Model" else "layer"
            for base in node.bases
            if (key := self.resolver.key(base.value)) in keras_bases
        ] + [self.result.keras_classes[b.value.value] for b in node.bases
             if isinstance(b.value, cst.Name) and b.value.value in self.result.keras_classes]
        if kinds:
            self.result.keras_classes[node.name.value] = kinds[0]
            self.result.names_in_use.update(n.value for n in cstwalk.iter_nodes(node) if isinstance(n, cst.Name))
            return False
        # A plain class (a GAN's trainer): its methods may build models from attributes set in __init__.
        self.env = Env(self.env)
        self.env.values.update(static_attributes(node, self.scopes[0], self.env))
        return True

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        if original_node.name.value not in self.result.keras_classes:
            self.env = self.env.parent

    def visit_For(self, node: cst.For) -> bool:
        """`for filters in (32, 64): x = block(x, filters)`: a graph built in a loop over static
        values is read once per value (unrolled); the loop statement belongs to the model."""
        values = self._static_iterable(node.iter)
        body = list(node.body.body) if isinstance(node.body, cst.IndentedBlock) else []
        if (
            values is None or node.orelse is not None or not _plain_target(node.target) or not body
            or not all(isinstance(s, (cst.SimpleStatementLine, cst.If, cst.For)) for s in body)
            or any(isinstance(n, (cst.Break, cst.Continue, cst.Return)) for s in body for n in cstwalk.iter_nodes(s))
            # A loop that makes a whole model per value (`for units in (8, 16): model = Sequential()`)
            # runs the program's code per value: it stays a loop, read once.
            or builds_model(node.body, self.resolver)
            or not any(
                isinstance(n, cst.Name) and n.value in self.tensors[-1] or self._adds_layer(n)
                for s in body for n in cstwalk.iter_nodes(s)
            )
        ):
            self.dynamic.append(node)  # its body is read once
            return True
        first_node = len(self.nodes)
        models = list(self.models_in_scope[-1].values())
        built = [len(model.build_statements) for model in models]
        targets = [n.value for n in cstwalk.iter_nodes(node.target) if isinstance(n, cst.Name)]
        self.env.anonymous.update(targets)  # one name, several values: sizes are numbers
        self.functional_statements.setdefault(id(node), []).extend(self._list_statements(node.iter))
        for value in values:
            self._bind_loop_target(node.target, value)
            for statement in body:
                if not isinstance(statement, cst.SimpleStatementLine):  # an if or a loop: read as anywhere
                    cstwalk.visit(statement, self)
                    continue
                self.line = statement
                made = len(self.nodes)
                with self._guard(statement):
                    self._statement(statement)
                self._comment_first_layer(made, statement)
                self.line = None
        for made in self.nodes[first_node:]:
            made.statement = node
        inside = {id(n) for n in cstwalk.iter_nodes(node.body)}
        for key, lines in self.tensor_lists.items():  # `skips.append(x)` in the loop: the loop builds the list
            if any(id(line) in inside for line in lines):
                self.tensor_lists[key] = [*dict.fromkeys(node if id(line) in inside else line for line in lines)]
        for model, before in zip(models, built):  # `for rate in (1, 2, 4): model.add(Conv1D(...))`
            if len(model.build_statements) > before:
                model.build_statements[before:] = [node]
        for statement in cstwalk.iter_nodes(node.body):  # helpers read into the loop's graph
            if isinstance(statement, cst.SimpleStatementLine):
                self.inlined.setdefault(id(node), set()).update(self.inlined.get(id(statement), ()))
        return False

    def visit_If(self, node: cst.If) -> bool:
        """`if num_classes == 2:` on values known statically: only the branch Python would take is
        read; a graph built in it belongs to the if statement, as one built in a loop does."""
        test = evaluate_value(node.test, self.env)
        if test is UNKNOWN:
            self.dynamic.append(node)  # every branch is read
            return True
        branch = cstwalk.taken_branch(node, test)
        self.result.names_in_use.update(n.value for n in cstwalk.iter_nodes(node) if isinstance(n, cst.Name))
        if branch is None:
            return False
        first_node = len(self.nodes)
        cstwalk.visit(branch, self)
        inner = self._statements(branch)
        for statement in inner:
            if isinstance(statement, cst.SimpleStatementLine):
                self._comment_first_layer(first_node, statement)
        for made in self.nodes[first_node:]:
            if any(made.statement is s for s in inner):
                made.statement = node
        return False

    def _bind_loop_target(self, target: cst.BaseExpression, value) -> None:
        """`for skip in reversed(skips)`, `for up, skip in zip(ups, skips)`: a graph tensor is the
        tensor that name holds for this iteration; any other value is a static value."""
        if isinstance(target, cst.Name) and isinstance(value, (FunctionalNode, FunctionalInput)):
            self.env.bind(target, UNKNOWN, self._local)
            self.tensors[-1][target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (tuple, list)) and len(value) == len(target.elements):
            for element, item in zip(target.elements, value):
                self._bind_loop_target(element.value, item)
        else:
            if isinstance(target, cst.Name) and target.value in self.tensors[-1]:
                del self.tensors[-1][target.value]
            self.env.bind(target, value, self._local)

    def _list_statements(self, node: cst.BaseExpression) -> list:
        """The statements that built the tensor lists an expression reads."""
        return [
            line for n in cstwalk.iter_nodes(node) if isinstance(n, cst.Name)
            for line in self.tensor_lists.get((id(self.scopes[-1]), n.value), [])
        ]

    def _append_tensor(self, line: cst.SimpleStatementLine, call: cst.Call) -> bool:
        """`skips.append(x)`: a graph tensor added to a static list."""
        func = call.func
        if not (
            isinstance(func, cst.Attribute) and func.attr.value == "append" and isinstance(func.value, cst.Name)
            and len(call.args) == 1 and not call.args[0].keyword and isinstance(call.args[0].value, cst.Name)
        ):
            return False
        items = evaluate_value(func.value, self.env)
        tensor = self.tensors[-1].get(call.args[0].value.value)
        if not isinstance(items, list) or not isinstance(tensor, (FunctionalNode, FunctionalInput)):
            return False
        # The tensor keeps a name of its own in forward(): `x` goes on to mean later tensors.
        name = self._fresh_tensor_name(f"{func.value.value}{len(items)}")
        item = self._made(_identity(tensor, call, line, name))
        self.synthetic.append(name)
        self.env.bind(func.value, [*items, item], self._local)
        self.tensor_lists.setdefault((id(self.scopes[-1]), func.value.value), []).append(line)
        return True

    def _names_layer(self, node: cst.BaseExpression) -> bool:
        """A layer class k2t translates, or a module function that returns one."""
        key = self.resolver.key(node)
        if key and key.startswith("layers.") and layer_rule(key):
            return True
        function = self.functions.get(node.value) if isinstance(node, cst.Name) else None
        return function is not None and _returned_layer(function, self.resolver) is not None

    def _adds_layer(self, node: cst.CSTNode) -> bool:
        """`model.add(...)` on a Sequential model of this scope."""
        return (
            isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "add"
            and isinstance(node.func.value, cst.Name) and node.func.value.value in self.models_in_scope[-1]
        )

    def visit_While(self, node: cst.While) -> bool:
        self.dynamic.append(node)
        return True

    def leave_For(self, original_node: cst.For) -> None:
        self._leave_block(original_node)

    def leave_If(self, original_node: cst.If) -> None:
        self._leave_block(original_node)

    def leave_While(self, original_node: cst.While) -> None:
        self._leave_block(original_node)

    def _leave_block(self, node: cst.CSTNode) -> None:
        if not (self.dynamic and self.dynamic[-1] is node):
            return
        self.dynamic.pop()
        # A value set in one branch, or in a loop that may run any number of times, is known after
        # the statement only to the run (`if big: units = 128 else: units = 64`).
        for name in rewrite.bound_names([node], augmented=True):
            self.env.bind(cst.Name(name), UNKNOWN, self._local)

    def _across_blocks(self, blocks, inside: tuple) -> list[Problem]:
        """A model made outside a run-time if/for/while but holding layers made inside it: k2t
        would take every branch, or run the loop once. One problem per such statement."""
        problems = []
        for block in blocks:
            if block in inside:
                continue
            if isinstance(block, cst.If):
                what = f"on `if {code_of(block.test)}`, which only the run decides"
                where = block.test
            elif isinstance(block, cst.For):
                what = f"on the loop over `{code_of(block.iter)}`, whose values only the run gives"
                where = block.iter
            else:
                what = f"on `while {code_of(block.test)}`"
                where = block.test
            problems.append(Problem(where, "K2T301", f"the model's layers depend {what}: not translated yet"))
        return problems

    def _comment_first_layer(self, since: int, statement: cst.SimpleStatementLine) -> None:
        """A statement read into a loop's or an if's graph: its comments go with its first layer."""
        made = [n for n in self.nodes[since:] if n.statement is statement and n.layer is not None]
        if made and not made[0].layer.comments:
            made[0].layer.comments = statement_comments(statement)

    @staticmethod
    def _statements(block) -> list:
        if isinstance(block, cst.If):
            return [block]
        return list(block.body) if isinstance(block, cst.IndentedBlock) else []

    def _static_iterable(self, node: cst.BaseExpression) -> list | None:
        if (
            isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "range"
            and not any(a.keyword or a.star for a in node.args)
        ):
            bounds = [evaluate(a.value, self.env).value for a in node.args]
            if bounds and all(isinstance(b, int) and not isinstance(b, bool) for b in bounds):
                values = list(range(*bounds))
                return values if len(values) <= 64 else None
            return None
        value = evaluate(node, self.env).value
        if isinstance(value, (tuple, list)) and len(value) <= 64:
            return list(value)
        return None

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.attribute_names.add(node.attr)

    def visit_Name(self, node: cst.Name) -> None:
        if node not in self.attribute_names:  # `keras.Model` does not take the name Model
            self.result.names_in_use.add(node.value)

    # -- statements -----------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        """A model method called inside an expression: print(model.evaluate(x, y))."""
        if node not in self.seen_calls and self.line is not None:
            with self._guard(self.line):
                self._model_call(self.line, node)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self.line = None

    @contextlib.contextmanager
    def _guard(self, line: cst.SimpleStatementLine):
        """An internal error while reading one statement is a K2T902 problem of the models it touches
        (or of the statement), never the file's: the rest is still analysed and translated."""
        self.touched = []
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - see the docstring
            message = " ".join(f"{type(exc).__name__}: {exc}".split())
            for model in self.touched:
                model.problems.append(
                    Problem(model.call, "K2T902", f"internal error while reading model {model.var} ({message}); left as is")
                )
            if not self.touched:
                self.result.problems.append(
                    Problem(line, "K2T902", f"internal error while reading this statement ({message}); left as is")
                )
            # Tensors this statement binds are not followed into a model.
            for small in line.body:
                if isinstance(small, cst.Assign):
                    for target in small.targets:
                        if isinstance(target.target, cst.Name) and self.tensors:
                            self.tensors[-1][target.target.value] = UnknownTensor(target.target.value, line)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.line = node
        with self._guard(node):
            self._statement(node)

    def _statement(self, node: cst.SimpleStatementLine) -> None:
        if self.deferred or self.builder_calls:
            self._read_builders(node)
        for statement in node.body:
            if isinstance(statement, cst.Assign):
                self._assign(node, statement)
            elif isinstance(statement, cst.AnnAssign) and statement.value is not None:
                self.env.bind(statement.target, evaluate_value(statement.value, self.env), self._local)
            elif isinstance(statement, cst.AugAssign):  # `filters //= 2`, `x += shortcut`
                operator = getattr(cst, type(statement.operator).__name__.removesuffix("Assign"), None)
                if operator is None:
                    self.env.bind(statement.target, UNKNOWN, self._local)
                    continue
                operation = cst.BinaryOperation(statement.target, operator(), statement.value)
                self.resolver.copies[operation] = statement  # reported at the statement's line
                self._assign(node, cst.Assign([cst.AssignTarget(statement.target)], operation))
            elif isinstance(statement, cst.Expr) and isinstance(statement.value, cst.Call):
                if not self._append_tensor(node, statement.value):
                    self._model_call(node, statement.value)
            elif isinstance(statement, cst.Return) and statement.value is not None:
                self._return(node, statement.value)

    @property
    def _local(self) -> bool:
        return len(self.scopes) > 1

    def _lookup_model(self, name: str) -> ModelIR | None:
        return self.models_in_scope[-1].get(name)

    def _visible_model(self, name: str) -> ModelIR | None:
        """The model a name means here, also from an enclosing scope (`data_augmentation(inputs)`
        in a builder, with data_augmentation made at module level) unless a local hides it."""
        env: Env | None = self.env
        for models in reversed(self.models_in_scope):
            if name in models:
                return models[name]
            if env is None or name in env.local or name in env.values:
                return None
            env = env.parent
        return None

    def _assign(self, line: cst.SimpleStatementLine, assign: cst.Assign) -> None:
        value = assign.value
        target = assign.targets[0].target if len(assign.targets) == 1 else None
        name = target.value if isinstance(target, cst.Name) else None
        bound = {n.value for t in assign.targets for n in cstwalk.iter_nodes(t.target) if isinstance(n, cst.Name)}
        for dataset in self.datasets[-1].values():
            if dataset.names & bound and line not in dataset.statements:
                dataset.refuse(f"{', '.join(sorted(dataset.names & bound))} is assigned again after the pipeline is made")
        if name and isinstance(value, cst.Call):
            dataset = read_pipeline(value, self.resolver.key, self.datasets[-1], name)
            if dataset is not None:  # `ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)`
                dataset.statements.append(line)
                self.datasets[-1][name] = dataset
                self.result.datasets.append(dataset)
                self.env.bind(target, UNKNOWN, self._local)
                return
        if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, cst.Call) and self._unpack(line, value, target):
            return
        if name and isinstance(value, (cst.List, cst.Tuple)) and self._tensor_list(line, target, value):
            return
        if isinstance(value, cst.Call):
            key = self.resolver.key(value.func)
            if name and key == "Sequential":
                self._sequential(line, value, name)
                return
            if name and key == "Input":
                self._functional_input(line, value, name)
                return
            if name and key == "Model":
                self._functional_model(line, value, name)
                return
            if name and key in ("models.load_model", "saving.load_model") and (model := self._lookup_model(name)):
                # `model = keras.models.load_model(path)` after the program built `model`: whether the
                # file is one this model saved is decided where the saves are known (translate.py).
                model.usages.append(Usage("load_model", value, line, self.scopes[-1]))
                self.touched.append(model)
                return
            if name and ((key and key.startswith("layers.") and layer_rule(key)) or self._custom_class(value)):
                self.layer_objects[-1][name] = (value, line)
            elif name and key is None and self._foreign_constructor(value):
                # `norm = InstanceNormalization()` from another library: a layer if applied to graph tensors
                self.layer_objects[-1][name] = (value, line)
                self.foreign_objects.add(id(value))
            if name and self._model_layer(line, value, name):  # `layer = model.get_layer("dense")`
                return
            if name and self._tensor_node(name, self._apply(line, value, name, [])):
                return
            if name and key and key.split(".")[0] in ("optimizers", "losses"):
                self.result.objects[name] = KerasObject(key, value, line)
            if name and isinstance(value.func, cst.Name) and self.result.keras_classes.get(value.func.value) == "model":
                # `model = MyModel(...)`: a subclassed model, translated by k2t/classes.py; its
                # compile/fit/evaluate/predict are read here like a Sequential model's.
                model = ModelIR(var=name, scope=self.scopes[-1], creation=line, call=value, kind="class",
                                class_name=value.func.value)
                self.models_in_scope[-1][name] = model
                self.result.models.append(model)
                self.touched.append(model)
                return
            if name and self._tensor_node(name, self._inline(line, value, name)):
                return
            if name and isinstance(value.func, cst.Name) and value.func.value in self.builders:
                self.models_in_scope[-1][name] = self.builders[value.func.value]
                return
            if self._model_call(line, value):
                for t in assign.targets:
                    self.env.bind(t.target, UNKNOWN, self._local)
                return
        if name and isinstance(value, cst.Subscript) and self._model_layer(line, value, name):  # `model.layers[-1]`
            return
        if name and isinstance(value, cst.BinaryOperation) and self._tensor_node(
            name, self._operator(line, value, name, [])
        ):
            return
        if name and isinstance(value, cst.Name) and isinstance(self.tensors[-1].get(value.value), FunctionalInput):
            # `inputs = img_input`: the same model input; the line goes with the Input's.
            producer = self.tensors[-1][value.value]
            self.tensors[-1][name] = producer
            self.functional_statements.setdefault(id(producer.statement), []).append(line)
            return
        if name and isinstance(value, cst.Name) and value.value in self.tensors[-1]:
            # `shortcut = x`: forward() keeps the alias, since x is rebound later.
            producer = self.tensors[-1][value.value]
            if not isinstance(producer, UnknownTensor):
                self._tensor_node(name, _identity(producer, value, line, name))
                return
        if name and _reads_shape(value) and (size := evaluate_value(value, self.env)) is not UNKNOWN:
            self.env.bind(target, size, self._local)  # `filters = K.int_shape(x)[-1]`: a size, not a tensor
            self.env.anonymous.add(name)  # the layers' own sizes: written as numbers, never a parameter
            return
        if name and self._tensor_node(name, self._op_expression(line, value, name)):
            return
        chosen = value
        if isinstance(value, cst.IfExp) and (test := evaluate_value(value.test, self.env)) is not UNKNOWN:
            chosen = value.body if test else value.orelse  # `upsample_conv if mode == "deconv" else ...`
        if name and isinstance(chosen, (cst.Name, cst.Attribute)) and self._names_layer(chosen):
            self.env.bind(target, LayerAlias(chosen), self._local)  # `DO = SpatialDropout2D`
            return
        if name and isinstance(value, cst.List) and not value.elements:  # perhaps a list of tensors to be
            self.tensor_lists[(id(self.scopes[-1]), name)] = [line]
        for t in assign.targets:
            self.env.bind(t.target, evaluate_value(value, self.env), self._local)
            if isinstance(t.target, cst.Name) and t.target.value in self.models_in_scope[-1]:
                # `model = Model2().to(device)`: the name no longer means the Keras model made before.
                del self.models_in_scope[-1][t.target.value]
            if isinstance(t.target, cst.Name) and t.target.value in self.tensors[-1]:
                # A tensor variable rebound by code that is not a layer (tf.nn.relu(x), x + 1).
                self.tensors[-1][t.target.value] = UnknownTensor(t.target.value, line)

    def _unpack(self, line, call: cst.Call, target: cst.Tuple | cst.List) -> bool:
        """`out, h, c = lstm(x)`: a layer application with several outputs (an RNN's return_state)."""
        names = unpacked_names(target)
        if names is None:
            return False
        first = names[0] if names[0] != "_" else self._fresh_tensor_name("output")
        node = self._apply(line, call, first, [])
        if node is None:
            return False
        self._tensor_node(first, node)
        if node.layer is not None:
            node.layer.outputs = [first, *names[1:]]
        for index, name in enumerate(names[1:], 1):
            if name != "_":
                part = FunctionalNode(None, [node], line, name, [], part=(node, index))
                self.tensors[-1][name] = self._made(part)
        return True

    def _tensor_list(self, line, target: cst.Name, value: cst.List | cst.Tuple) -> bool:
        """`states = [h, c]`: a static list of graph tensors, read where it is given to a layer or a model."""
        if not value.elements or not all(isinstance(e, cst.Element) and isinstance(e.value, cst.Name) for e in value.elements):
            return False
        items = [self.tensors[-1].get(e.value.value) for e in value.elements]
        if not all(isinstance(item, (FunctionalNode, FunctionalInput)) for item in items):
            return False
        self.tensors[-1].pop(target.value, None)
        self.env.bind(target, items, self._local)
        self.tensor_lists[(id(self.scopes[-1]), target.value)] = [line]
        return True

    def _listed_tensors(self, node: cst.BaseExpression) -> list | None:
        """The items of a tensor list expression (`states`, `[inputs] + states`): graph tensors, or
        expressions to read as tensors; None when the expression is not such a list."""
        if isinstance(node, (cst.List, cst.Tuple)) and all(isinstance(e, cst.Element) for e in node.elements):
            return [e.value for e in node.elements]
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            left, right = self._listed_tensors(node.left), self._listed_tensors(node.right)
            return left + right if left is not None and right is not None else None
        if isinstance(node, cst.Name) and node.value not in self.tensors[-1]:
            value = evaluate_value(node, self.env)
            if isinstance(value, list) and value and all(isinstance(i, (FunctionalNode, FunctionalInput)) for i in value):
                return list(value)
        return None

    def _still_held(self, item, node: cst.CSTNode, problems: list[Problem]) -> bool:
        """A tensor taken from a list: forward() reads it by its name, which must still hold it."""
        if self.tensors[-1].get(item.var, item) is item:
            return True
        problems.append(Problem(node, "K2T301", f"{item.var} is assigned again after it was put in a list; "
                                "k2t follows a list's tensors only while their names hold them"))
        return False

    def _tensor_node(self, name: str, node: "FunctionalNode | None") -> bool:
        if node is None:
            return False
        self.tensors[-1][name] = self._made(node)
        return True

    def _made(self, node: "FunctionalNode") -> "FunctionalNode":
        """A node of the graph, in creation order, with the run-time blocks around it."""
        self.order += 1
        node.order = self.order
        node.blocks = tuple(self.dynamic)
        self.nodes.append(node)
        return node

    def _model_call(self, line: cst.SimpleStatementLine, call: cst.Call) -> bool:
        self.seen_calls.add(call)
        func = call.func
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
            return False
        model = self._lookup_model(func.value.value)
        if model is None and func.attr.value == "predict" and _bound_once(self.scopes[0], func.value.value):
            # A function that reads the module's model (`def policy(state): model.predict(...)`):
            # predict() is an expression, the same wherever it stands. (A name the module binds
            # again could mean another model when the function runs.)
            model = self._visible_model(func.value.value)
        if model is None:
            return False
        self.touched.append(model)
        method = func.attr.value
        if method == "add" and model.scope is self.scopes[-1] and not model.usages:
            self._add_layer(model, line, call)
            return True
        if method == "build" and model.input_shape is None and call.args:
            shape = evaluate(call.args[0].value, self.env).value
            if isinstance(shape, (tuple, list)) and len(shape) > 1:
                model.input_shape = tuple(shape[1:])
                model.build_statements.append(line)
                return True
        datasets = {}  # argument node -> the tf.data pipeline it is (a name bound to one, or one inline)
        for arg in call.args:
            if isinstance(arg.value, cst.Name) and arg.value.value in self.datasets[-1]:
                datasets[arg.value] = self.datasets[-1][arg.value.value]
            elif isinstance(arg.value, cst.Call):
                inline = read_pipeline(arg.value, self.resolver.key, self.datasets[-1], "")
                if inline is not None:
                    datasets[arg.value] = inline
        model.usages.append(Usage(method, call, line, self.scopes[-1], datasets))
        return True

    def _return(self, line: cst.SimpleStatementLine, value: cst.BaseExpression) -> None:
        if len(self.scopes) < 2 or not isinstance(self.scopes[-1], cst.FunctionDef):
            return
        function = self.scopes[-1]
        if isinstance(value, cst.Call) and (key := self.resolver.key(value.func)) in ("Sequential", "Model"):
            # `return keras.Sequential([...])`: a model without a variable, named for its builder.
            var = self._returned_model_var(function)
            if key == "Sequential":
                self._sequential(line, value, var)
            else:
                self._functional_model(line, value, var)
            self.models_in_scope[-1][var].returned = True
            value = cst.Name(var)
        if isinstance(value, cst.Name) and (model := self._lookup_model(value.value)):
            model.builder = function
            self.builders[function.name.value] = model

    def _returned_model_var(self, function: cst.FunctionDef) -> str:
        base = BUILDER_VERB.sub("", function.name.value) or "model"
        base = base if base.isidentifier() and not keyword.iskeyword(base) else "model"
        return _unused(base, {m.var for m in self.result.models} | set(self.env.values) | self.env.local, "")

    def _fresh_tensor_name(self, base: str) -> str:
        return _unused(base, set(self.tensors[-1]) | set(self.synthetic) | set(self.env.values) | self.env.local, "_")

    # -- Sequential -----------------------------------------------------------------------
    def _sequential(self, line: cst.SimpleStatementLine, call: cst.Call, var: str) -> None:
        model = ModelIR(var=var, scope=self.scopes[-1], creation=line, call=call, blocks=tuple(self.dynamic))
        self.models_in_scope[-1][var] = model
        self.result.models.append(model)
        self.touched.append(model)
        layers_arg = None
        for i, arg in enumerate(call.args):
            keyword = arg.keyword.value if arg.keyword else None
            if keyword == "layers" or (keyword is None and i == 0):
                layers_arg = arg.value
            elif keyword == "name":
                model.keras_name = evaluate(arg.value, self.env).value or None
            elif keyword not in ("trainable",):
                model.problems.append(Problem(arg, "K2T304", f"Sequential({keyword}=...) has no translation"))
        if layers_arg is None or (isinstance(layers_arg, cst.Name) and layers_arg.value == "None"):
            return
        if not isinstance(layers_arg, (cst.List, cst.Tuple)):
            model.problems.append(
                Problem(layers_arg, "K2T304", "the layers of a Sequential must be a literal list to translate")
            )
            return
        for element in layers_arg.elements:
            if isinstance(element, cst.StarredElement):
                model.problems.append(Problem(element, "K2T304", "a starred layer list cannot be translated"))
                continue
            self._layer(model, element.value)

    def _add_layer(self, model: ModelIR, line: cst.SimpleStatementLine, call: cst.Call) -> None:
        model.build_statements.append(line)
        model.problems += [p for p in self._across_blocks(self.dynamic, model.blocks) if p not in model.problems]
        if len(call.args) != 1:
            model.problems.append(Problem(call, "K2T304", "model.add() takes one layer"))
            return
        self._layer(model, call.args[0].value)

    def _constructor(self, call: cst.Call, line) -> cst.Call:
        """The layer constructor that `call` is: `DO(rate)` after `DO = SpatialDropout2D` resolves
        like SpatialDropout2D(rate); `upsample(filters, 2)` of a function that returns a layer made
        from its parameters is that layer's call, with the arguments put in."""
        func = call.func
        if isinstance(func, cst.Name) and isinstance(alias := evaluate_value(func, self.env), LayerAlias):
            self.resolver.copies[func] = self.resolver.copies.get(alias.node, alias.node)
            func = alias.node
        if isinstance(func, cst.Name) and (made := self._factory_call(func.value, call)) is not None:
            self.inlined.setdefault(id(line), set()).add(func.value)  # goes with the model if nothing else uses it
            return made
        return call

    def _factory_call(self, name: str, call: cst.Call) -> cst.Call | None:
        """`def upsample_conv(filters, size): return Conv2DTranspose(filters, size, strides=2)`
        called as `upsample_conv(16, 2)`: Conv2DTranspose(16, 2, strides=2)."""
        function = self.functions.get(name)
        made = _returned_layer(function, self.resolver) if function is not None else None
        given = cstwalk.call_arguments(function, call) if made is not None else None
        if given is None:
            return None
        values = {}
        for param in function.params.params:
            node = given.get(param.name.value, param.default)
            if node is None:
                return None
            values[param.name.value] = self._argument_code(node)
        return made.visit(_Substitute(values, self.resolver.copies))

    def _argument_code(self, node: cst.BaseExpression) -> cst.BaseExpression:
        """What a helper's parameter is replaced by: the argument's static value, written out, or
        the argument as the caller wrote it."""
        value = evaluate(node, self.env)
        return cst.parse_expression(repr(value.value)) if value.known and is_literal(value.value) else node

    def _custom_class(self, node) -> str | None:
        """The name of the custom layer class this call constructs (`TransformerBlock(32, 2)`)."""
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name):
            if self.result.keras_classes.get(node.func.value) == "layer":
                return node.func.value
        return None

    def _layer_call(self, node: cst.Call, problems: list[Problem], key: str | None = None) -> LayerCall | None:
        """A LayerCall for a layer constructor call, or None (with the problem recorded)."""
        custom = self._custom_class(node)
        if custom is not None:  # a class translated by k2t/classes.py: a module of its own
            local_names, parts = set(), []
            for arg in node.args:
                value = evaluate(arg.value, self.env)
                local_names |= value.local_names
                # As a Keras layer's arguments: a loop variable is written as this iteration's number.
                keyword = f"{arg.keyword.value}=" if arg.keyword else ""
                parts.append(f"{arg.star}{keyword}{value.code}")
            args = {"constructor": Value(f"{code_of(node.func)}({', '.join(parts)})", custom, frozenset(local_names))}
            return LayerCall(f"Custom:{custom}", custom_layer_rule(custom), node, args)
        key = key or self.resolver.key(node.func)
        rule = layer_rule(key) if key else None
        if rule is None:
            what = key.removeprefix("layers.") if key else code_of(node.func)
            code = "K2T101" if key and key.startswith("layers.") else "K2T201"
            message = (
                f"layer {what} has no translation yet"
                if code == "K2T101"
                else f"{what} is not a Keras layer k2t knows (a layer of another library?)"
            )
            return _untranslated(node, Problem(node, code, message))
        args, extra, bind_problems = bind_arguments(node, rule.params, self.env, self.resolver, rule.keras, rule.inert)
        problems.extend(bind_problems)
        if rule.keras == "Lambda" and "function" in args:  # read here, translated when the model is lowered
            function = lambda_function(node, self.env, self.resolver, self.functions)
            args["function"] = Value(args["function"].code, function, args["function"].local_names)
        # A layer given to a layer (Bidirectional(LSTM(8))): its value is the inner LayerCall.
        position = 0
        for arg in node.args:
            if arg.star:
                continue
            if arg.keyword is None:
                name = rule.params[position].name if position < len(rule.params) else None
                position += 1
            else:
                name = arg.keyword.value
            if not isinstance(arg.value, cst.Call):
                continue
            inner_key = self.resolver.key(arg.value.func)
            if name in args and inner_key and layer_rule(inner_key):
                inner = self._layer_call(arg.value, problems, inner_key)
                if inner is not None and inner.untranslated is None:
                    args[name] = Value(args[name].code, inner, args[name].local_names)
        name = extra.get("name")
        return LayerCall(rule.keras, rule, node, args, name.value if name and name.known else None, extra=extra)

    def _layer(self, model: ModelIR, node: cst.BaseExpression) -> None:
        inner = self._visible_model(node.value) if isinstance(node, cst.Name) else None
        if inner is not None and inner.kind != "class" and inner is not model:
            # `keras.Sequential([data_augmentation, layers.Conv2D(...)])`: a model used as a layer.
            if not model.layers and model.input_shape is None:
                model.input_shape = inner.graph_inputs[0][1] if len(inner.graph_inputs) == 1 else None
            model.layers.append(nested_model_call(inner, node, node.value))
            return
        binding = defined_by = None
        if isinstance(node, cst.Name) and node.value in self.layer_objects[-1]:
            # `normalizer = layers.Normalization()` ... `Sequential([normalizer, ...])`
            binding = node.value
            node, defined_by = self.layer_objects[-1][binding]
            if defined_by not in model.build_statements:
                model.build_statements.append(defined_by)
        if not isinstance(node, cst.Call):
            model.problems.append(
                Problem(node, "K2T304", f"layer {code_of(node)!r} is not a layer call k2t can read")
            )
            return
        key = self.resolver.key(node.func)
        if key in ("Input", "layers.InputLayer"):
            self._input(model, node, key)
            return
        layer = self._layer_call(node, model.problems, key)
        if layer is None:
            return
        if not model.layers and model.input_shape is None:
            given = {arg.keyword.value: arg.value for arg in node.args if arg.keyword}
            if "input_shape" in given:
                model.input_shape = shape_of(given["input_shape"], self.env)
            elif "batch_input_shape" in given:
                shape = shape_of(given["batch_input_shape"], self.env)
                model.input_shape = shape[1:] if shape else None
            elif "input_dim" in given and "input_dim" not in layer.args:  # Keras 2's Dense(input_dim=)
                model.input_shape = shape_of(cst.Tuple([cst.Element(given["input_dim"])]), self.env)
            elif "input_length" in layer.args and layer.args["input_length"].value is not None:
                length = layer.args["input_length"]
                # A length known only at run time stays its expression (a constructor parameter).
                model.input_shape = (length.value if length.known else Symbol(length.code),)
        layer.binding, layer.defined_by = binding, defined_by
        model.layers.append(layer)

    # -- functional API -------------------------------------------------------------------
    def _functional_input(self, line, call: cst.Call, var: str) -> None:
        shape = name = None
        for i, arg in enumerate(call.args):
            keyword = arg.keyword.value if arg.keyword else None
            if keyword in ("shape", "input_shape") or (keyword is None and i == 0):
                shape = shape_of(arg.value, self.env)
            elif keyword in ("batch_shape", "batch_input_shape"):
                shape = shape_of(arg.value, self.env)
                shape = shape[1:] if shape else None
            elif keyword == "name":
                name = evaluate(arg.value, self.env).value
        self.tensors[-1][var] = FunctionalInput(var, shape, line, call, name if isinstance(name, str) else None)

    def _apply(self, line, call: cst.Call, target: str, problems: list[Problem]):
        """Layer application `Layer(...)(tensors)`, `layer_object(tensors)` or `layers.add([a, b])`.

        Returns the FunctionalNode, or None when the call is not a layer application.
        """
        func = call.func
        layer = None
        tensor_args = call.args
        taken = self._layer_of_model(func) if isinstance(func, (cst.Call, cst.Subscript)) else None
        if taken is not None:  # `model.layers[-1](codes)`: that model's layer, applied again
            layer = self._layer_call(taken[1].node, problems)
            if layer is not None:
                layer.borrowed_from = taken
        elif isinstance(func, cst.Call):
            func = self._constructor(func, line)
            key = self.resolver.key(func.func)
            if key is None and self._custom_class(func) is None and self._unknown_layer(func, call):
                # `InstanceNormalization(axis=-1)(x)` from another library: kept as a module that raises
                message = f"{code_of(func.func)} is not a Keras layer k2t knows (a layer of another library?)"
                layer = _untranslated(func, Problem(func, "K2T201", message))
            elif not (key and key.startswith("layers.")) and self._custom_class(func) is None:
                return None
            else:
                layer = self._layer_call(func, problems, key)
        elif isinstance(func, cst.Name) and (inner := self._nested_model(call)) is not None:
            layer = nested_model_call(inner, call, func.value)
        elif isinstance(func, cst.Name) and func.value in self.layer_objects[-1] and (
            id(self.layer_objects[-1][func.value][0]) not in self.foreign_objects
            or (call.args and self._graph_tensor(call.args[0].value))
        ):
            obj_call, obj_line = self.layer_objects[-1][func.value]
            layer = self._layer_call(obj_call, problems)
            if layer is not None:
                layer.binding, layer.defined_by = func.value, obj_line
                layer.borrowed_from = self.borrowed_objects.get(id(obj_call))
                # Applied again: the same module (shared weights), called once per application.
                layer.shared_with = self.applied_objects.setdefault(id(obj_call), layer)
                if layer.shared_with is layer:
                    layer.shared_with = None
            self.functional_statements.setdefault(id(line), []).append(obj_line)
        else:
            key = self.resolver.key(func)
            name = key.removeprefix("layers.") if key and key.startswith("layers.") else None
            if name not in LAYER_FUNCTIONS:
                return None
            if not call.args:
                return None
            tensor_args = call.args[:1]
            rest = cst.Call(func, [a for a in call.args[1:]])
            layer = self._layer_call(rest, problems, "layers." + LAYER_FUNCTIONS[name])
        producers = []
        call_inputs = layer.rule.call_inputs if layer is not None and layer.rule is not None else ()
        call_options = layer.rule.call_options if layer is not None and layer.rule is not None else ()
        positional = 0
        for arg in tensor_args:
            keyword = arg.keyword.value if arg.keyword is not None else None
            if keyword in call_options:  # `use_causal_mask=True`: an option of the call, not a tensor
                layer.call_options[keyword] = evaluate(arg.value, self.env)
                continue
            if keyword in ("training", "mask"):
                problems.append(Problem(arg, "K2T301", f"{arg.keyword.value}= on a layer call is not translated yet"))
                continue
            if call_inputs:  # which of the call's tensors this is (query, value, key, ...)
                name = keyword or (call_inputs[positional] if positional < len(call_inputs) else None)
                positional += keyword is None
                layer.input_names.append(name)
            values = self._listed_tensors(arg.value) or [arg.value]
            self.functional_statements.setdefault(id(line), []).extend(self._list_statements(arg.value))
            for element in values:
                if isinstance(element, (FunctionalNode, FunctionalInput)):  # from `states = [h, c]`
                    if self._still_held(element, arg.value, problems):
                        producers.append(element)
                    continue
                producer = self._tensor(line, element, f"{target}_{len(self.synthetic) + 1}", problems)
                if producer is None:
                    problems.append(Problem(element, "K2T301", f"{code_of(element)} is not a tensor k2t can follow"))
                    continue
                producers.append(producer)
        node = FunctionalNode(layer, producers, line, target, list(problems))
        if layer is not None:
            layer.inputs = [p.var for p in producers]
            layer.separate_inputs = sum(a.keyword is None and not a.star for a in tensor_args) > 1
            layer.output = target
        return node

    def _foreign_constructor(self, call: cst.Call) -> bool:
        """`Name(...)` or `module.Name(...)` with a capitalised name that is neither Keras nor the
        program's: perhaps a layer class of another library."""
        func = call.func
        name = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else ""
        return name[:1].isupper() and name not in self.functions and name not in self.result.keras_classes

    def _unknown_layer(self, constructor: cst.Call, call: cst.Call) -> bool:
        """`Name(...)(tensors)`: a class k2t does not know, applied to graph tensors as a layer is."""
        if not isinstance(constructor.func, (cst.Name, cst.Attribute)) or not call.args:
            return False
        if isinstance(constructor.func, cst.Name) and constructor.func.value in self.functions:
            return False  # the program's own function: a factory (_constructor), or not a layer
        values = self._listed_tensors(call.args[0].value) or [call.args[0].value]
        return all(
            isinstance(v, (FunctionalNode, FunctionalInput)) or (isinstance(v, cst.Name) and self._graph_tensor(v))
            for v in values
        )

    def _op_expression(self, line, expression: cst.BaseExpression, target: str) -> "FunctionalNode | None":
        """`x = ops.relu(x)`, `h = tf.concat([a, b], -1)`, `y = x[:, 0] * 0.5`: TensorFlow, keras.ops or
        backend code on graph tensors (Keras makes it a layer of the model) is read as a Lambda
        layer whose body is that expression, translated through the ops table when it is lowered."""
        if isinstance(expression, cst.Call):
            key = self.resolver.key(expression.func)
            if key is None or key.startswith("layers.") or key in ("Sequential", "Model", "Input"):
                return None  # a call of the program's own function, or a layer: not an op expression
        elif not isinstance(expression, (cst.BinaryOperation, cst.UnaryOperation, cst.Subscript)):
            return None
        names: list[str] = []
        for node in cstwalk.iter_nodes(expression):
            if isinstance(node, cst.Name) and node.value in self.tensors[-1] and node.value not in names:
                names.append(node.value)
        producers = [self.tensors[-1][n] for n in names]
        if not producers or not all(isinstance(p, (FunctionalInput, FunctionalNode)) for p in producers):
            return None
        function = LambdaFunction(code_of(expression), names[0] if len(names) == 1 else None, expression,
                                  self.resolver, self.env, names=tuple(names))
        rule = layer_rule("layers.Lambda")
        args, _, _ = bind_arguments(cst.Call(cst.Name("Lambda"), [cst.Arg(cst.Name("f"))]), rule.params, self.env,
                                    self.resolver, rule.keras, rule.inert)
        args["function"] = Value(function.code, function)
        layer = LayerCall("Lambda", rule, expression, args, inputs=[p.var for p in producers], output=target)
        return FunctionalNode(layer, producers, line, target, [])

    def _model_layer(self, line, value: cst.BaseExpression, name: str) -> bool:
        """`decoder_layer = autoencoder.layers[-1]`: a layer object of a model (_layer_of_model)."""
        found = self._layer_of_model(value)
        if found is None:
            return False
        self.layer_objects[-1][name] = (found[1].node, line)
        self.borrowed_objects[id(found[1].node)] = found
        return True

    def _layer_of_model(self, value: cst.BaseExpression) -> tuple | None:
        """(model, LayerCall) for `autoencoder.layers[-1]` or `model.get_layer("dense")`, a layer of
        a model whose applications use that model's module. Sequential: any static index;
        functional: the last layer, or a layer by its name=."""
        owner = layer = None
        if isinstance(value, cst.Subscript) and isinstance(value.value, cst.Attribute) and value.value.attr.value == "layers":
            owner = self._model_of(value.value.value)
            index = evaluate(value.slice[0].slice.value, self.env).value if len(value.slice) == 1 and isinstance(
                value.slice[0].slice, cst.Index) else None
            if owner is not None and isinstance(index, int):
                real = [n for n in owner.graph_nodes if n.key != "Identity" and not n.key.startswith("Model:")
                        and not getattr(n.args.get("function", Value("", None)).value, "names", ())]
                if (owner.kind == "sequential" or index == -1) and -len(real) <= index < len(real):
                    layer = real[index]
        elif isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "get_layer":
            owner = self._model_of(value.func.value)
            wanted = evaluate(value.args[0].value, self.env).value if len(value.args) == 1 else None
            if owner is not None and isinstance(wanted, str):
                layer = next((n for n in owner.graph_nodes if n.name == wanted), None)
        if layer is None or layer.rule is None:
            return None
        if isinstance(value, cst.Call):
            self.seen_calls.add(value)  # a layer of the model, not a model method for the translation
        return owner, layer

    def _model_tensors(self, node: cst.BaseExpression, attributes: tuple) -> list:
        """The graph items `model.input(s)`, `model.output` or `model.get_layer(...).output` /
        `model.layers[i].output` stand for (a model over another's graph), or []."""
        if not (isinstance(node, cst.Attribute) and node.attr.value in attributes):
            return []
        owner = self._model_of(node.value)
        if owner is not None and owner.kind == "functional":
            if node.attr.value in ("input", "inputs"):
                found = [self.tensors[-1].get(var) for var, _ in owner.inputs]
                return found if all(isinstance(t, FunctionalInput) for t in found) else []
            if len(owner.outputs) == 1:  # `model.output`
                return [n for n in self.nodes if n.var == owner.outputs[0] and n.layer in owner.layers][-1:]
            return []
        taken = self._layer_of_model(node.value)
        if taken is None:
            return []
        return [n for n in self.nodes if n.layer is taken[1]][:1]

    def _model_of(self, node: cst.BaseExpression) -> ModelIR | None:
        model = self._lookup_model(node.value) if isinstance(node, cst.Name) else None
        return model if model is not None and model.kind in ("sequential", "functional") else None

    def _nested_model(self, call: cst.Call) -> ModelIR | None:
        """The Sequential/functional model that `encoder(x)` applies to a tensor of the graph (a
        model used as a layer), or None: `model(x_test)` on data is a direct call, not a layer."""
        if not isinstance(call.func, cst.Name) or not call.args or call.args[0].keyword is not None:
            return None
        inner = self._visible_model(call.func.value)
        if inner is None or inner.kind == "class" or not self._graph_tensor(call.args[0].value):
            return None
        return inner

    def _graph_tensor(self, expression: cst.BaseExpression) -> bool:
        """Whether an expression is a tensor of the graph being built (or a list of them)."""
        if isinstance(expression, (cst.List, cst.Tuple)):
            return bool(expression.elements) and all(self._graph_tensor(e.value) for e in expression.elements)
        if isinstance(expression, cst.Name):
            return isinstance(self.tensors[-1].get(expression.value), (FunctionalInput, FunctionalNode))
        if isinstance(expression, cst.BinaryOperation) and isinstance(expression.operator, (cst.Add, cst.Subtract, cst.Multiply)):
            return self._graph_tensor(expression.left) and self._graph_tensor(expression.right)
        if isinstance(expression, cst.Call) and expression.args:
            inner = expression.func
            if isinstance(inner, cst.Call) or (isinstance(inner, cst.Name) and inner.value in self.layer_objects[-1]):
                return self._graph_tensor(expression.args[0].value)
            return self._nested_model(expression) is not None
        return False

    def _operator(self, line, expression: cst.BinaryOperation, target: str, problems):
        """`x + shortcut` of two tensors (Keras 3 makes it an Add layer): Add, Subtract, Multiply."""
        key = {cst.Add: "layers.Add", cst.Subtract: "layers.Subtract", cst.Multiply: "layers.Multiply"}.get(
            type(expression.operator)
        )
        if key is None or not (self._graph_tensor(expression.left) and self._graph_tensor(expression.right)):
            return None  # `x * 0.5`, `x[:, :2] * x[:, 2:]`: an op expression (_op_expression)
        producers = []
        for side in (expression.left, expression.right):
            producer = self._tensor(line, side, f"{target}_{len(self.synthetic) + 1}", problems)
            if producer is None or isinstance(producer, UnknownTensor):
                return None
            producers.append(producer)
        layer = self._layer_call(cst.Call(cst.Name(key.removeprefix("layers."))), problems, key)
        if layer is None:
            return None
        layer.node = expression
        layer.inputs = [p.var for p in producers]
        layer.output = target
        return FunctionalNode(layer, producers, line, target, list(problems))

    def _inline(self, line, call: cst.Call, target: str) -> "FunctionalNode | None":
        """`x = block(x, 64)`: a module-level function that applies layers to the tensors it is
        given, read as part of the caller's graph (its other arguments bound to their values)."""
        func = call.func
        if not (isinstance(func, cst.Name) and func.value in self.functions) or func.value in self.builders:
            return None
        function = self.functions[func.value]
        body = list(function.body.body) if isinstance(function.body, cst.IndentedBlock) else []
        while body and cstwalk.is_docstring(body[0]):
            body = body[1:]
        if (
            not body or function.params.star_arg not in (cst.MaybeSentinel.DEFAULT, None)
            or function.params.star_kwarg is not None or function.params.kwonly_params
            or not isinstance(body[-1], cst.SimpleStatementLine)
            or not (len(body[-1].body) == 1 and isinstance(body[-1].body[0], cst.Return) and body[-1].body[0].value)
            # Branches and loops are read as in a builder; one return, at the end.
            or not all(isinstance(s, (cst.SimpleStatementLine, cst.If, cst.For)) for s in body)
            or any(isinstance(n, (cst.Return, cst.FunctionDef, cst.ClassDef)) for s in body[:-1] for n in cstwalk.iter_nodes(s))
        ):
            return None
        params = list(function.params.params)
        given = cstwalk.call_arguments(function, call)  # (the def has no *args: checked above)
        if given is None:
            return None
        tensors, values = {}, {}
        for param in params:
            name = param.name.value
            node = given.get(name, param.default)
            if node is None:
                return None
            found = self.tensors[-1].get(node.value) if isinstance(node, cst.Name) else None
            if found is not None:
                if isinstance(found, UnknownTensor):
                    return None
                tensors[name] = found
                continue
            values[name] = self._argument_code(node)
        if not tensors:
            return None
        specialised = cst.IndentedBlock(body).visit(_Substitute(values, self.resolver.copies))
        first_order, first_node = self.order, len(self.nodes)
        self.tensors.append(dict(tensors))
        self.layer_objects.append({})
        try:
            for statement in specialised.body[:-1]:
                if isinstance(statement, cst.SimpleStatementLine):
                    self._statement(statement)
                else:
                    cstwalk.visit(statement, self)
            problems: list[Problem] = []
            out = self._tensor(line, specialised.body[-1].body[0].value, self._fresh_tensor_name(target), problems)
        finally:
            self.tensors.pop()
            self.layer_objects.pop()
        if not isinstance(out, FunctionalNode) or out.order <= first_order:
            return None
        created = sorted({id(n): n for n in [*self.nodes[first_node:], out]}.values(), key=lambda n: n.order)
        self._adopt(created, line, call, func.value, out, target)
        self.inlined.setdefault(id(line), set()).add(func.value)
        return out

    def _adopt(self, created, line, call, function: str, out, target: str) -> None:
        """Nodes read from a function body or an unrolled loop belong to the caller's statement;
        their tensors get names of their own in forward() (the caller may hold the same names)."""
        taken = set(self.tensors[-1]) | set(self.synthetic)
        for node in created:
            node.statement = line
            untranslated = [node.layer.untranslated] if node.layer is not None and node.layer.untranslated else []
            for problem in [*node.problems, *untranslated]:
                if problem.node is not call:
                    problem.node, problem.message = call, f"in {function}(): {problem.message}"
            name = target if node is out else _unused(node.var, taken, "_")
            taken.add(name)
            node.var = name
            if node.layer is not None:
                node.layer.output = name
        for node in created:
            if node.layer is not None:
                node.layer.inputs = [p.var for p in node.producers]
                if node.layer.outputs:
                    node.layer.outputs[0] = node.layer.output
            if node.part is not None:  # `out, h, c = lstm(x)` in a helper: h under its new name
                whole, index = node.part
                whole.layer.outputs[index] = node.var

    def _tensor(self, line, expression, synthetic: str, problems):
        if isinstance(expression, cst.Name):
            return self.tensors[-1].get(expression.value)
        if isinstance(expression, cst.Subscript):  # `skips[-1]`: a tensor of a static list
            item = evaluate_value(expression, self.env)
            if isinstance(item, (FunctionalNode, FunctionalInput)):
                self.functional_statements.setdefault(id(line), []).extend(self._list_statements(expression))
                return item
        if not isinstance(expression, (cst.BinaryOperation, cst.Call, cst.UnaryOperation, cst.Subscript)):
            return None
        if isinstance(expression, cst.Call) and self._nested_model(expression) is not None:
            synthetic = self._fresh_tensor_name(f"{expression.func.value}_output")  # `decoder(encoder(x))`
        self.synthetic.append(synthetic)
        node = None
        if isinstance(expression, cst.BinaryOperation):
            node = self._operator(line, expression, synthetic, problems)
        elif isinstance(expression, cst.Call):
            node = self._apply(line, expression, synthetic, problems)
        if node is None:  # `ops.mean(x, axis=1)` given to a layer
            node = self._op_expression(line, expression, synthetic)
        if node is not None:  # computed before the node that reads it
            self._made(node)
        return node

    def _functional_model(self, line, call: cst.Call, var: str) -> None:
        model = ModelIR(var=var, scope=self.scopes[-1], creation=line, call=call, kind="functional")
        self.models_in_scope[-1][var] = model
        self.result.models.append(model)
        self.touched.append(model)
        given = {}
        for i, arg in enumerate(call.args):
            keyword = arg.keyword.value if arg.keyword else ("inputs", "outputs")[i] if i < 2 else None
            # Keras 1's Model(input=..., output=...), which Keras 2 still takes.
            given[{"input": "inputs", "output": "outputs"}.get(keyword, keyword)] = arg.value
        if "name" in given:
            model.keras_name = evaluate(given["name"], self.env).value or None
        for keyword in given:
            if keyword not in ("inputs", "outputs", "name", "trainable"):
                model.problems.append(Problem(call, "K2T301", f"Model({keyword}=...) has no translation"))
        inputs, outputs = given.get("inputs"), given.get("outputs")
        if inputs is None or outputs is None:
            model.problems.append(Problem(call, "K2T301", "Model() without inputs and outputs (a subclassed model?)"))
            return
        input_vars = self._listed_tensors(inputs) or [inputs]
        output_vars = self._listed_tensors(outputs) or [outputs]
        lists = self._list_statements(inputs) + self._list_statements(outputs)  # `states = [h, c]`
        # A problem below still lets the walk find the model's statements: they are then left as
        # they are under the model's own report, not each layer with a message of its own.
        if isinstance(outputs, cst.Dict):
            model.problems.append(Problem(outputs, "K2T301", "outputs given as a dict are not translated yet"))
        declared = []
        if len(input_vars) == 1 and (owned := self._model_tensors(input_vars[0], ("input", "inputs"))):
            input_vars = owned  # `keras.Model(model.input, ...)`: that model's inputs
        for node in input_vars:
            tensor = node if isinstance(node, FunctionalInput) else (
                self.tensors[-1].get(node.value) if isinstance(node, cst.Name) else None)
            if isinstance(node, (FunctionalInput, FunctionalNode)):
                node = inputs  # for a message: the list it came from
            if not isinstance(tensor, FunctionalInput):
                model.problems.append(Problem(node, "K2T301", f"model input {code_of(node)} is not a keras.Input"))
            else:
                declared.append(tensor)
        found = []
        for output in output_vars:
            if isinstance(output, (FunctionalNode, FunctionalInput)):  # from `outputs = [y, h]`
                if self._still_held(output, outputs, model.problems):
                    found.append(output)
                continue
            out = self.tensors[-1].get(output.value) if isinstance(output, cst.Name) else None
            if out is None and isinstance(output, cst.Call):  # keras.Model(inputs, layers.Dense(3)(x))
                problems: list[Problem] = []
                out = self._tensor(line, output, self._fresh_tensor_name("outputs"), problems)
                model.problems.extend(problems)
            if out is None and (owned := self._model_tensors(output, ("output",))):
                out = owned[0]  # `model.get_layer("features").output`: a tensor of that model's graph
            if out is None:
                model.problems.append(Problem(output, "K2T301", f"model output {code_of(output)} is not a tensor k2t can follow"))
            else:
                found.append(out)
        if not found:
            return
        if len({o.var for o in found}) != len(found):
            model.problems.append(Problem(outputs, "K2T301", "the same tensor given as two outputs is not translated yet"))
        # Walk back from the outputs: the nodes this model computes, in creation order.
        seen: dict[int, object] = {}
        stack = list(found)
        while stack:
            item = stack.pop()
            if id(item) in seen:
                continue
            seen[id(item)] = item
            if isinstance(item, UnknownTensor):
                model.problems.append(Problem(item.statement, "K2T301", f"{item.var} is computed by code k2t cannot translate inside a model"))
            elif isinstance(item, FunctionalNode):
                stack.extend(item.producers)
        nodes = sorted((i for i in seen.values() if isinstance(i, FunctionalNode)), key=lambda n: n.order)
        used_inputs = [i for i in seen.values() if isinstance(i, FunctionalInput)]
        for item in used_inputs:
            if item not in declared:
                model.problems.append(Problem(item.call, "K2T301", f"{item.var} feeds the model but is not among its inputs"))
        statements = list(lists)
        failed = bool(model.problems)  # a model left as is claims none of its layers
        for item in [*declared, *nodes]:
            if not failed:
                owner = self.claimed.setdefault(id(item), (item, model))[1]
                if owner is not model and isinstance(item, FunctionalNode) and item.layer is not None:
                    # `encoder = keras.Model(inputs, encoded)` after `autoencoder = keras.Model(inputs,
                    # decoded)`: the layers are the first model's; this one uses its modules.
                    model.borrowed[id(item.layer)] = (owner, item.layer)
            statements.append(item.statement)
            statements.extend(self.functional_statements.get(id(item.statement), []))
            model.inlined |= self.inlined.get(id(item.statement), set())
        commented: set[int] = set()
        for node in nodes:
            model.problems.extend(node.problems)
            model.problems += [p for p in self._across_blocks(node.blocks, tuple(self.dynamic)) if p not in model.problems]
            if node.layer is not None:
                model.layers.append(node.layer)
                if isinstance(node.statement, cst.SimpleStatementLine) and id(node.statement) not in commented:
                    commented.add(id(node.statement))
                    node.layer.comments = statement_comments(node.statement)
                    node.layer.commented = node.statement
        _share_nested_models(model.layers)
        for layer in model.layers:
            if layer.borrowed_from is not None and layer.borrowed_from[0] is not model:
                model.borrowed[id(layer)] = layer.borrowed_from
        self._share_across_models(model)
        model.inputs = [(t.var, t.shape) for t in declared]
        model.input_names = {t.var: t.name for t in declared if t.name}
        model.outputs = [o.var for o in found]
        unique = []
        for statement in statements:
            if statement not in unique and statement is not line:
                unique.append(statement)
        model.build_statements = unique

    def _share_across_models(self, model: ModelIR) -> None:
        """A layer object applied again in this model but first in another (the inference decoder
        of a seq2seq model): this model uses that model's module; later applications here share it."""
        first_here: dict[int, LayerCall] = {}
        for layer in model.layers:
            first = layer.shared_with
            if first is None or any(other is first for other in model.layers):
                continue
            if id(first) in first_here:
                layer.shared_with = first_here[id(first)]
                continue
            made = next((n for n in self.nodes if n.layer is first), None)
            owner = self.claimed.get(id(made), (None, None))[1] if made is not None else None
            if owner is None or owner is model:
                continue  # lowering reports a layer shared with one it cannot see
            first_here[id(first)] = layer
            layer.shared_with = None
            model.borrowed[id(layer)] = (owner, first)

    def _input(self, model: ModelIR, node: cst.Call, key: str) -> None:
        shape = None
        for i, arg in enumerate(node.args):
            keyword = arg.keyword.value if arg.keyword else None
            if keyword in ("shape", "input_shape") or (keyword is None and i == 0):
                shape = shape_of(arg.value, self.env)
            elif keyword == "batch_shape" or keyword == "batch_input_shape":
                shape = shape_of(arg.value, self.env)
                shape = shape[1:] if shape else None
        if shape:
            model.input_shape = tuple(shape)
        else:
            model.problems.append(Problem(node, "K2T303", "the input shape must be known statically"))


def static_attributes(node: cst.ClassDef, module: cst.Module, env: Env) -> dict[str, object]:
    """`self.img_shape = (28, 28, 1)` at the top level of a plain class's __init__: a static value
    in every method (`Input(shape=self.img_shape)` in `build_discriminator`), where nothing else
    in the module assigns that attribute and no class of the module derives from this one.
    Keyed as methods read them: "self.img_shape" (verify builds such a self from them)."""
    init = next((s for s in node.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"), None)
    if init is None or not init.params.params or not isinstance(init.body, cst.IndentedBlock):
        return {}
    if any(isinstance(b.value, cst.Name) and b.value.value == node.name.value
           for c in cstwalk.iter_nodes(module) if isinstance(c, cst.ClassDef) for b in c.bases):
        return {}
    assigned: Counter[str] = Counter()
    for n in cstwalk.iter_nodes(module):
        targets = [t.target for t in n.targets] if isinstance(n, cst.Assign) else (
            [n.target] if isinstance(n, (cst.AugAssign, cst.AnnAssign, cst.For)) else [])
        for target in targets:
            assigned.update(a.attr.value for a in cstwalk.iter_nodes(target) if isinstance(a, cst.Attribute))
    me = init.params.params[0].name.value
    attributes = Env(env)
    for statement in init.body.body:
        if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
                and isinstance(assign := statement.body[0], cst.Assign) and len(assign.targets) == 1):
            continue
        target = assign.targets[0].target
        if (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)
                and target.value.value == me and assigned[target.attr.value] == 1):
            value = evaluate_value(assign.value, attributes)
            if value is not UNKNOWN:
                attributes.values[f"{me}.{target.attr.value}"] = value
    return attributes.values


def nested_model_call(inner: ModelIR, node: cst.CSTNode, name: str | None = None) -> LayerCall:
    """A Sequential/functional model used as a layer of another: one module, the inner model's
    class (rules/layers/custom.py; the translation binds it to the inner model's lowering). name:
    the variable the program applies (`generator` for a model its builder calls `model`)."""
    name = name or inner.var
    args = {"model": Value(name, inner)}
    return LayerCall(f"Model:{name}", nested_model_rule(name), node, args, binding=name)


def _share_nested_models(layers: list[LayerCall]) -> None:
    """A model applied twice in one graph (a siamese encoder): one module, called twice."""
    first: dict[int, LayerCall] = {}
    for layer in layers:
        if layer.key.startswith("Model:"):
            earlier = first.setdefault(id(layer.args["model"].value), layer)
            layer.shared_with = earlier if earlier is not layer else None


def statement_comments(statement: cst.SimpleStatementLine) -> list[str]:
    """`# Block 1` above a statement and `# add back residual` after it, as comment lines."""
    lines = [line.comment.value for line in statement.leading_lines if line.comment is not None]
    trailing = statement.trailing_whitespace.comment
    return lines + ([trailing.value] if trailing is not None else [])


def shape_of(node: cst.BaseExpression, env: Env) -> tuple | None:
    """An input shape; sizes only known at run time stay as their expression (a Symbol)."""
    value = evaluate(node, env).value
    if isinstance(value, (tuple, list)):
        return tuple(value)
    if isinstance(node, (cst.Tuple, cst.List)) and not any(
        isinstance(e, cst.StarredElement) for e in node.elements
    ):
        dims = []
        for element in node.elements:
            dim = evaluate(element.value, env)
            dims.append(dim.value if dim.known else Symbol(dim.code))
        return tuple(dims)
    return None


def analyse(wrapper: cst.MetadataWrapper, resolver: Resolver, parents: dict | None = None) -> Analysis:
    """The module's models and problems; with ``parents``, also records every node's parent (one walk)."""
    analyzer = Analyzer(resolver)
    cstwalk.visit(wrapper.module, analyzer, parents)
    return analyzer.result
