"""Code-level translation of Keras classes: custom layers and subclassed models into nn.Modules.

A class is translated construct by construct, keeping the user's structure and names:
- the base becomes nn.Module (or the translated in-file base class);
- `self.x = layers.Dense(...)` goes through the same layer rules as Sequential models. The sizes
  come from the shapes followed through call() (abstract shapes from the ops table and the rules);
  where a size stays unknown the rule writes torch's lazy module (nn.LazyLinear, ...);
- `add_weight` becomes an nn.Parameter initialised like Keras; a weight whose shape reads build()'s
  input_shape becomes an nn.UninitializedParameter that torch's LazyModuleMixin materialises from
  the first batch (initialize_parameters plays build());
- call() becomes forward(): `training` reads self.training, ops go through the ops table
  (k2t/ops.py), each sub-layer call is the rule's forward expression. Keras code is channels-last and
  stays so inside a class: layers that want channels-first are wrapped in explicit permutes;
- helper methods are translated at their first call from forward(), with that call's shapes, so
  the shape they return follows on;
- `self.activation = activations.get(name)` with a name every instantiation agrees on (or the
  default) is dropped, and `self.activation(x)` becomes the torch function (rules/activations.py);
- `self.w.assign(v)` (assign_add, assign_sub) on an add_weight variable is an in-place copy_ (add_,
  sub_) under torch.no_grad(): no gradient flows through a Keras assign either.
Where instances of a class differ (`Linear(32)` then `Linear(1)` in one model), each instance's
output shape is learnt by translating the class again with that instance's arguments and input
(ClassReport.output_for); the class's code is written once, with the sizes the instances share.
A line without a faithful translation keeps its Keras code with a `# k2t:` marker and a diagnostic;
the rest of the class is translated. Where the program builds a lazy model (`model.build(shape)`),
the output runs one forward pass on a zero batch instead, as torch's lazy modules require.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import textwrap
from dataclasses import dataclass, field

import libcst as cst

from k2t import cstwalk
from k2t.rewrite import MARKER
from k2t.analyse import Analyzer, LayerCall, Problem, initializer_value, unpacked_names
from k2t.lower import Failed, lower_model, unpacked_lines
from k2t.ops import Refused, translate_expression
from k2t.rules.activations import ACTIVATIONS, activation_name, render
from k2t.rules.initializers import Initializer, initializer_code, keras_fans
from k2t.rules.layers import snake_case
from k2t.rules.ops import BATCH, NUMBER, OBJECT, SEQ, TENSOR, Expr
from k2t.rules.spec import FIRST, LAST, LayerContext, Lowering, Step, Unsupported, to_first, to_last
from k2t.values import UNKNOWN, Env, code_of, evaluate, evaluate_value

LAYER_BASES = ("layers.Layer", "Layer")
MODEL_BASES = ("Model",)
# Methods that only serve Keras's serialisation and shape inference: dropped (nn.Module has no use
# for them).
KERAS_ONLY_METHODS = ("get_config", "from_config", "compute_output_shape", "compute_mask", "get_build_config")
# Methods that replace Keras's own training or evaluation step: fit() on such a model is not generic.
CUSTOM_STEPS = ("train_step", "test_step", "predict_step", "compute_loss")
# Keras Layer/Model methods an nn.Module does not have: a line calling them on self is marked.
KERAS_SELF_METHODS = frozenset({
    "add_loss", "add_metric", "add_update", "add_variable", "add_weight", "compute_loss", "compute_metrics", "get_weights",
    "set_weights", "reset_metrics", "make_train_function", "build", "get_layer", "count_params",
})
# tf.Variable's in-place writes -> torch's in-place tensor methods.
_ASSIGNMENTS = {"assign": "copy_", "assign_add": "add_", "assign_sub": "sub_"}
# Keyword arguments of Layer.__init__ that have no meaning for an nn.Module.
KERAS_ONLY_KEYWORDS = ("name", "trainable", "dtype", "dynamic", "autocast", "input_shape", "input_dim")
# Layers that act on the last axis whatever the rank: the rule may run without knowing the rank.
_ANY_RANK = {
    "Dense", "Dropout", "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "Embedding", "Flatten",
    "LayerNormalization", "GaussianNoise", "GaussianDropout", "AlphaDropout",
}
# Layers over the last axis whose torch module wants the features at dim 1: where the rank is
# unknown, the module gets the input flattened to (-1, features) (batch_norm_last in rules/snippets.py).
_LAST_AXIS_FLATTENED = {"BatchNormalization": "batch_norm_last"}
# Output rank (without the batch) of layers whose output rank does not depend on the input's.
_OUT_RANK = {"Flatten": 1, "GlobalAveragePooling1D": 1, "GlobalAveragePooling2D": 1, "GlobalMaxPooling1D": 1,
             "GlobalMaxPooling2D": 1, "GlobalAveragePooling3D": 1, "GlobalMaxPooling3D": 1}


@dataclass
class SubLayer:
    """`self.attr = <Keras layer>(...)` or `self.attr = <translated class>(...)` in __init__/build."""

    attr: str
    statement: cst.SimpleStatementLine
    call: cst.Call
    layer: LayerCall | None = None  # a Keras layer with a rule
    custom: str | None = None  # the name of a class translated in this file
    lines: list[str] | None = None  # __init__ lines, written at the first call site
    lowered: tuple | None = None  # (module code, ...) of the first call: later calls must agree
    transfer: list = field(default_factory=list)  # (torch attribute, rule key, transfer info)
    lazy: bool = False
    sequential: object = None  # a keras.Sequential([...]) (its ModelIR): a class of its own
    written: list[str] | None = None  # the lines sublayer_lines() gave
    listed: object = None  # the list (comprehension) that makes one such layer per item: nn.ModuleList
    appended: object = None  # the for loop that appends them to an empty list (read as `listed`)
    problems: list = field(default_factory=list)  # why the Keras layer's arguments do not translate


@dataclass
class FunctionTranslation:
    """A module-level function translated at its first call from a class's forward()."""

    definition: cst.FunctionDef
    positional: list  # the first call's arguments (Exprs): later calls like it share its shape
    keywords: dict
    lines: list[str] | None = None  # None while it is being translated (recursion)
    returns: tuple | None = None  # the shape it returns for those arguments


class Several(tuple):
    """The input shapes of a class whose call() takes a list of tensors, one per tensor."""


class Separate(Several):
    """The input shapes of a class whose call() takes its tensors as separate arguments
    (`Gate(8)(x, context)`), one per argument."""


@dataclass
class Weight:
    """`self.attr = self.add_weight(...)`: a Keras variable that becomes an nn.Parameter."""

    attr: str
    statement: cst.SimpleStatementLine
    lines: list[str]  # __init__ lines
    lazy_lines: list[str]  # initialize_parameters() lines (shape read from input_shape)
    # The parameter made on a device (`{device}`): a weight built under a condition in build().
    on_device: str = ""


@dataclass
class ClassReport:
    """What verify needs of a translated class: where each Keras weight went."""

    name: str
    kind: str  # "layer" or "model"
    line: int
    # (attr, rule key, transfer info, torch attribute of the weights module) per rule-backed sub-layer
    layers: list = field(default_factory=list)
    weights: list = field(default_factory=list)  # attrs of add_weight variables (copied as they are)
    custom: list = field(default_factory=list)  # (attr, class name) of nested translated classes
    sequentials: list = field(default_factory=list)  # (attr, LayerMaps) of keras.Sequential members
    lazy: bool = False  # the module has sizes set by the first batch
    complete: bool = True  # no line of the class was left in Keras
    instance: str | None = None  # `model = Name(...)` at module level
    built: str | None = None  # the shape given to `model.build(shape)`
    token_input: bool = False  # the input is token ids into an Embedding
    custom_steps: tuple = ()  # train_step/test_step/... the class overrides (its own training)
    embeddings: bool = False  # holds an Embedding (Keras's optimizers update its rows sparsely)
    input_shape: tuple | None = None  # of forward()'s input, without the batch, where known
    output_shape: tuple | None = None  # of forward()'s output, without the batch, where known
    same_shape: bool = False  # forward() returns a tensor of its input's shape (sizes unknown or not)
    inherits: str | None = None  # the program's base class whose call() this class uses as its own
    input_name: str = "x"  # forward()'s first parameter
    # (input shape, constructor code) -> the output shape of that one instance (a model's
    # `Linear(32)` and `Linear(1)`), where the class's own shapes depend on its arguments
    output_for: object = field(default=None, repr=False, compare=False)


def keras_classes(module: cst.Module, resolver) -> dict[str, tuple[cst.ClassDef, str]]:
    """Top-level classes deriving from keras Layer/Model (also through another such class)."""
    found: dict[str, tuple[cst.ClassDef, str]] = {}
    for statement in module.body:
        if not isinstance(statement, cst.ClassDef):
            continue
        for base in statement.bases:
            key = resolver.key(base.value)
            if key in LAYER_BASES or key in MODEL_BASES:
                found[statement.name.value] = (statement, "model" if key in MODEL_BASES else "layer")
                break
            if isinstance(base.value, cst.Name) and base.value.value in found:
                found[statement.name.value] = (statement, found[base.value.value][1])
                break
    return found


def _argument_shapes(positional: list[Expr], keywords: dict[str, Expr]) -> tuple:
    """What a helper's translation depends on in its arguments: their kinds, shapes and values."""
    return [(e.kind, e.shape, e.value) for e in [*positional, *keywords.values()]], list(keywords)


def _self_attr(node) -> str | None:
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


def _assignment(statement) -> tuple[str, cst.BaseExpression] | None:
    """`self.attr = value` as (attr, value)."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        attr = _self_attr(small.targets[0].target)
        if attr is not None:
            return attr, small.value
    return None


def _methods(node: cst.ClassDef) -> dict[str, cst.FunctionDef]:
    return {s.name.value: s for s in _statements(node.body) if isinstance(s, cst.FunctionDef)}


def _is_super_call(small, method: str) -> bool:
    """super().<method>(...) or super(Cls, self).<method>(...)."""
    value = small.value if isinstance(small, cst.Expr) else None
    return (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value == method
        and isinstance(value.func.value, cst.Call)
        and isinstance(value.func.value.func, cst.Name)
        and value.func.value.func.value == "super"
    )


def _unpacked_names(small) -> list[str] | None:
    """`a, b, c = <call>`: the names, where the targets are plain names."""
    if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.value, cst.Call)):
        return None
    return unpacked_names(small.targets[0].target)


def _comments(statement) -> list[str]:
    return [line.comment.value for line in getattr(statement, "leading_lines", ()) if line.comment is not None]


def _bound_names(function: cst.FunctionDef) -> set[str]:
    """A method's parameters and the names its body assigns."""
    names = {p.name.value for p in [*function.params.params, *function.params.kwonly_params]}
    for node in cstwalk.iter_nodes(function.body):
        if isinstance(node, (cst.AssignTarget, cst.For, cst.AugAssign)):
            target = node.target
            names |= {n.value for n in cstwalk.iter_nodes(target) if isinstance(n, cst.Name)}
    return names


def _statements(block) -> list:
    """A block's statements; `if c: x += 1` on one line as one simple statement line."""
    if isinstance(block, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=block.body)]
    return list(block.body)


def _list_element(value) -> cst.Call | None:
    """The one layer constructor of `[Layer(...) for _ in range(n)]`."""
    if isinstance(value, cst.ListComp) and isinstance(value.elt, cst.Call) and value.for_in.inner_for_in is None:
        return value.elt
    return None


def _appended_lists(function: cst.FunctionDef) -> dict[int, tuple[cst.ListComp, cst.For]]:
    """`self.blocks = []` right before `for ...: self.blocks.append(Layer(...))`, read as the
    comprehension `[Layer(...) for ...]`: id(assignment statement) -> (comprehension, loop)."""
    found = {}
    for block in cstwalk.iter_nodes(function.body):
        if not isinstance(block, cst.IndentedBlock):
            continue
        for first, loop in zip(block.body, block.body[1:]):
            assigned = _assignment(first)
            if assigned is None or not isinstance(assigned[1], cst.List) or assigned[1].elements:
                continue
            if not isinstance(loop, cst.For) or loop.orelse is not None or loop.asynchronous is not None:
                continue
            inner = _statements(loop.body)
            if len(inner) != 1 or not isinstance(inner[0], cst.SimpleStatementLine) or len(inner[0].body) != 1:
                continue
            call = inner[0].body[0].value if isinstance(inner[0].body[0], cst.Expr) else None
            if not (
                isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "append"
                and _self_attr(call.func.value) == assigned[0] and len(call.args) == 1
                and call.args[0].keyword is None and not call.args[0].star and isinstance(call.args[0].value, cst.Call)
            ):
                continue
            mentions = [n for n in cstwalk.iter_nodes(function.body) if _self_attr(n) == assigned[0]]
            if len(mentions) != 2:  # the list changes elsewhere too: its items may not be all alike
                continue
            comprehension = cst.ListComp(
                elt=call.args[0].value, for_in=cst.CompFor(target=loop.target, iter=loop.iter)
            )
            found[id(first)] = (comprehension, loop)
    return found


def _listed(sub: SubLayer, module: str) -> str:
    """A member's constructor; for a layer list, one per item of the program's comprehension."""
    if sub.listed is None:
        return module
    loop = sub.listed.for_in
    condition = "".join(f" if {code_of(c.test)}" for c in loop.ifs)
    return f"nn.ModuleList([{module} for {code_of(loop.target)} in {code_of(loop.iter)}{condition}])"


def _assigned_names(node) -> set[str]:
    names = set()
    for n in cstwalk.iter_nodes(node):
        if isinstance(n, (cst.AssignTarget, cst.AugAssign)):
            names |= {m.value for m in cstwalk.iter_nodes(n.target) if isinstance(m, cst.Name)}
    return names


def _translated(lines: list[str]) -> bool:
    """Lines written for a member, not its Keras code kept under a marker."""
    return not any(line.startswith(MARKER) for line in lines)



def _is_name(node, name) -> bool:
    return isinstance(node, cst.Name) and node.value == name


def _indent(lines: list[str], by: str = "    ") -> list[str]:
    return [by + line if line else line for line in lines]


class ClassTranslator:
    """One class: sub-layers, weights and methods in, nn.Module source lines out."""

    def __init__(self, node: cst.ClassDef, kind: str, resolver, module_env: Env, classes: dict, positions, report,
                 input_shape: tuple | None = None, call_shapes: dict | None = None, outputs: dict | None = None,
                 arguments: dict | None = None, sparse_gradients: bool = False,
                 functions: dict | None = None, translated_functions: dict | None = None):
        self.node = node
        # Module-level functions that only the program's classes call (Analysis.only_in_classes):
        # translated at their first call from a forward(), with that call's arguments.
        self.functions = functions or {}
        # name -> FunctionTranslation, shared by the classes of the module (one def each)
        self.translated_functions = translated_functions if translated_functions is not None else {}
        # The program's optimizer takes Embedding gradients as rows (nn.Embedding(sparse=True)).
        self.sparse_gradients = sparse_gradients
        self.arguments = arguments or {}  # __init__ parameter -> the literal all instantiations give
        # class name -> its ClassReport from a first pass over the classes (input and output shapes)
        self.outputs = outputs if outputs is not None else {}
        self.returns: list = []  # shapes forward() returns
        self.output_shape: tuple | None = None
        self.same_shape = False  # forward() returns its input's shape (set by forward())
        # class name -> the input shapes of its calls as sub-layers (None: unknown), for the callees
        self.call_shapes = call_shapes if call_shapes is not None else {}
        self.input_shape = input_shape  # of call()'s input, without the batch: from `model.build(shape)`
        self.kind = kind
        self.resolver = resolver
        self.module_env = module_env
        self.classes = classes  # name -> (ClassDef, kind) of every translated class in the file
        self.positions = positions
        self.report = report  # report(Problem) -> None: a diagnostic (the marker is written here)
        self.methods = _methods(node)
        self.sublayers: dict[str, SubLayer] = {}
        self.weights: dict[str, Weight] = {}
        # `self.activation = activations.get(activation)` with the activation known: attr ->
        # (its name in rules/activations.py, the statement, dropped: forward() applies the function)
        self.activations: dict[str, tuple[str, cst.SimpleStatementLine]] = {}
        # `self.kernel_initializer = initializers.get(kernel_initializer)` (and regularizers.get,
        # constraints.get) with the value every instantiation gives: read by add_weight, no line.
        self.weight_options: dict[str, tuple[object, cst.SimpleStatementLine]] = {}
        # `self.activation = activations.get(activation)` where the instances pass different names:
        # the torch module picks its function by the same name (keras_activation).
        self.chosen_activations: dict[str, tuple[str, cst.SimpleStatementLine]] = {}
        # `self.kernel_initializer = initializers.get(kernel_initializer)` (regularizers.get,
        # constraints.get) where the instances do not agree on a value (or none is made here):
        # attr -> (initializer/regularizer/constraint, the __init__ parameter, the statement).
        self.chosen_options: dict[str, tuple[str, str, cst.SimpleStatementLine]] = {}
        self.numbers: set[str] = set()  # self attributes holding numbers (sizes, rates)
        self.number_values: dict[str, object] = {}  # those whose value __init__ makes known
        self.weight_shapes: dict[str, tuple] = {}  # add_weight shapes k2t can follow (for call()'s ops)
        # helper method -> the (positional, keyword) arguments of its first call
        self.helpers: dict[str, tuple[list[Expr], dict[str, Expr]]] = {}
        self.helper_lines: dict[str, list[str]] = {}  # helper method -> its translation
        self.helper_returns: dict[str, tuple | None] = {}  # the shape it returns for its first call's arguments
        self.forward_params: list[str] = []
        self.forward_signature: list[str] = []
        self.loop_layers: dict[str, SubLayer] = {}  # loop variable -> the layer list it runs over
        self.forward_names: set[str] = set()  # names bound in the method being translated
        self.extra_classes: list[str] = []  # classes of the Sequential models made inside this one
        self.snippets: set[str] = set()  # helpers the classes need (rules/snippets.py)
        self.complete = True
        self.lazy = False
        self.unpacking = 0  # the names the statement being translated unpacks a layer's outputs into
        self.batch_name = "inputs"  # initialize_parameters()'s first argument
        self._instances: dict = {}  # output_for's answers
        position = positions.get(node)
        self.result = ClassReport(node.name.value, kind, position.start.line if position else 1)

    # -- one instance ------------------------------------------------------------------------
    def output_for(self, shape, constructor: str) -> tuple | str | None:
        """The output shape (without the batch) of the instance `constructor` (its source code,
        `Linear(1)`) applied to inputs of `shape`: the class translated again, nothing written,
        with the arguments this call gives (literals or module constants) and that input shape.
        "same": the input's shape, whatever its sizes."""
        key = (shape, constructor)
        if key not in self._instances:
            self._instances[key] = self._output_for(shape, constructor)
        return self._instances[key]

    def _output_for(self, shape, constructor: str) -> tuple | None:
        init = self.methods.get("__init__")
        try:
            call = cst.parse_expression(constructor)
        except cst.ParserSyntaxError:
            return None
        if init is None or not isinstance(call, cst.Call) or any(a.star for a in call.args):
            return None
        params = [p.name.value for p in [*init.params.params[1:], *init.params.kwonly_params]]
        positional = [p.name.value for p in init.params.params[1:]]
        arguments = {
            p.name.value: evaluate(p.default, self.module_env)
            for p in [*init.params.params[1:], *init.params.kwonly_params] if p.default is not None
        }
        for i, arg in enumerate(call.args):
            name = arg.keyword.value if arg.keyword else (positional[i] if i < len(positional) else None)
            if name in params:
                arguments[name] = evaluate(arg.value, self.module_env)
        known = {
            name: value.value for name, value in arguments.items()
            if value.known and (value.value is None or isinstance(value.value, (int, float, str, tuple)))
        }
        probe = ClassTranslator(
            self.node, self.kind, self.resolver, self.module_env, self.classes, self.positions, lambda problem: None,
            shape, {}, dict(self.outputs), known, self.sparse_gradients,
        )
        probe.code()
        if not probe.complete:
            return None
        if probe.output_shape is not None:
            return probe.output_shape
        return "same" if probe.same_shape else None

    # -- problems ----------------------------------------------------------------------------
    def problem(self, node, code: str, message: str) -> str:
        self.complete = False
        self.report(Problem(node, code, message))
        return MARKER + f"{code} " + " ".join(message.split())

    # -- reading __init__ and build ----------------------------------------------------------
    def read_members(self) -> None:
        analyzer = Analyzer(self.resolver)
        for method in ("__init__", "build"):
            function = self.methods.get(method)
            if function is None:
                continue
            # build()'s members move to __init__, where its locals do not exist: sizes read from
            # them are written as numbers (known where the callers give the input's shape).
            env = Env(self.module_env, named_locals=method == "__init__")
            for attr, number in self.number_values.items():
                env.values[f"self.{attr}"] = number
            for i, param in enumerate([*function.params.params, *function.params.kwonly_params]):
                # The value every instantiation in the program gives it (sizes for shapes), if any.
                value = self.arguments.get(param.name.value, UNKNOWN) if method == "__init__" else UNKNOWN
                if method == "build" and i == 1 and self.input_shape is not None and not isinstance(self.input_shape, Several):
                    value = (None, *self.input_shape)
                env.bind(param.name, value, is_local=True)
            analyzer.env = env
            appended = _appended_lists(function)
            for statement in cstwalk.iter_nodes(function.body):
                if not isinstance(statement, cst.SimpleStatementLine):
                    continue
                found = _assignment(statement)
                if found is None:
                    if method == "build":
                        for small in statement.body:
                            if isinstance(small, cst.Assign):
                                for target in small.targets:
                                    env.bind(target.target, evaluate_value(small.value, env), is_local=True)
                    continue
                attr, value = found
                if isinstance(value, cst.Call) and self.resolver.key(value.func) == "activations.get":
                    name = self.activation_of(value, env)
                    if name is not None and self.only_called(attr):
                        self.activations[attr] = (name, statement)
                        continue
                    (arg,) = value.args if len(value.args) == 1 else (None,)
                    if (method == "__init__" and arg is not None and arg.keyword is None and not arg.star
                            and isinstance(arg.value, cst.Name)
                            and arg.value.value in {p.name.value for p in [*function.params.params, *function.params.kwonly_params]}
                            and self.only_called(attr)):
                        self.chosen_activations[attr] = (arg.value.value, statement)
                        continue
                option = self.weight_option(value, env) if method == "__init__" else UNKNOWN
                if option is not UNKNOWN and self.only_given_to_add_weight(attr):
                    self.weight_options[attr] = (option, statement)
                    continue
                chosen = self.chosen_option(value, function) if method == "__init__" else None
                if chosen is not None and self.only_given_to_add_weight(attr):
                    self.chosen_options[attr] = (*chosen, statement)
                    continue
                if isinstance(value, cst.Call):
                    if self.resolver.key(value.func) == "Sequential":  # lowered like a model, at its first call
                        analyzer.scopes = [function]
                        analyzer._sequential(statement, value, attr)
                        self.sublayers[attr] = SubLayer(attr, statement, value, sequential=analyzer.result.models[-1])
                        continue
                    sub = self.member(attr, statement, value, analyzer)
                    if sub is not None:
                        if method == "build" and sub.layer is not None:
                            self.sizes_from_build(sub, value, function, env)
                        self.sublayers[attr] = sub
                        continue
                listed, loop = appended.get(id(statement), (value, None))  # `[]` + a loop of append()
                element = _list_element(listed)  # `self.blocks = [Block(64) for _ in range(3)]`
                sub = self.member(attr, statement, element, analyzer) if element is not None else None
                if sub is not None:
                    sub.listed, sub.appended = listed, loop
                    self.sublayers[attr] = sub
                    continue
                known = evaluate(value, env)
                if method == "__init__" and known.known or isinstance(value, cst.Name):
                    self.numbers.add(attr)
                    if method == "__init__" and isinstance(known.value, int) and not isinstance(known.value, bool):
                        self.number_values[attr] = int(known.value)

    def activation_of(self, call: cst.Call, env: Env) -> str | None:
        """The activation `activations.get(x)` returns, where x is known here: a string or None that
        every instantiation agrees on (or the parameter's default), or an activation function."""
        (arg,) = call.args if len(call.args) == 1 else (None,)
        if arg is None or arg.star or (arg.keyword is not None and arg.keyword.value != "identifier"):
            return None
        node = call.args[0].value
        key = self.resolver.key(node)
        if key is not None:  # keras.activations.relu, tf.nn.relu
            return activation_name(key)
        known = evaluate(node, env)
        if known.known and (known.value is None or isinstance(known.value, str)):
            return activation_name(known.value)
        return None

    def weight_option(self, value, env: Env) -> object:
        """The initializer name (or None) `initializers.get(x)` returns, or None for
        `regularizers.get(x)` / `constraints.get(x)` of None, where x is known here; else UNKNOWN."""
        key = self.resolver.key(value.func) if isinstance(value, cst.Call) else None
        if key not in ("initializers.get", "regularizers.get", "constraints.get") or len(value.args) != 1:
            return UNKNOWN
        arg = value.args[0]
        if arg.star or arg.keyword is not None:
            return UNKNOWN
        known = evaluate(arg.value, env).value
        if known is None or (key == "initializers.get" and isinstance(known, str)):
            return known
        return UNKNOWN

    def chosen_option(self, value, init: cst.FunctionDef) -> tuple[str, str] | None:
        """(kind, parameter) of `initializers.get(param)` (regularizers.get, constraints.get) of an
        __init__ parameter whose value is known only at run time."""
        key = self.resolver.key(value.func) if isinstance(value, cst.Call) else None
        kinds = {"initializers.get": "initializer", "regularizers.get": "regularizer", "constraints.get": "constraint"}
        if key not in kinds or len(value.args) != 1:
            return None
        arg = value.args[0]
        params = {p.name.value for p in [*init.params.params, *init.params.kwonly_params]}
        if arg.star or arg.keyword is not None or not isinstance(arg.value, cst.Name) or arg.value.value not in params:
            return None
        return kinds[key], arg.value.value

    def only_given_to_add_weight(self, attr: str) -> bool:
        """`self.<attr>` is assigned once and otherwise only passed to add_weight."""
        return self._only_used_as(attr, lambda node: sum(_self_attr(a.value) == attr for a in node.args)
                                  if isinstance(node, cst.Call) and _self_attr(node.func) == "add_weight" else 0)

    def only_called(self, attr: str) -> bool:
        """`self.<attr>` is assigned once and otherwise only called on one tensor."""
        return self._only_used_as(attr, lambda node: (
            isinstance(node, cst.Call) and _self_attr(node.func) == attr and len(node.args) == 1
            and node.args[0].keyword is None and not node.args[0].star
        ))

    def _only_used_as(self, attr: str, counted) -> bool:
        """Every use of `self.<attr>` but its one assignment is one that counted(node) counts
        (Keras-only methods such as get_config, which are dropped, aside)."""
        uses = wanted = 0
        for name, function in self.methods.items():
            if name in KERAS_ONLY_METHODS:
                continue
            for node in cstwalk.iter_nodes(function):
                uses += _self_attr(node) == attr
                wanted += counted(node)
        return uses == wanted + 1

    @staticmethod
    def sizes_from_build(sub: SubLayer, call: cst.Call, build: cst.FunctionDef, env: Env) -> None:
        """A layer made in build() with sizes computed there (`Dense(channels // 4)`): __init__,
        where it goes, has none of build()'s names, so they must be known numbers here."""
        local = {p.name.value for p in build.params.params[1:]}
        for target in cstwalk.iter_nodes(build.body):
            if isinstance(target, cst.AssignTarget):
                elements = [e.value for e in target.target.elements] if isinstance(target.target, (cst.Tuple, cst.List)) else [target.target]
                local |= {e.value for e in elements if isinstance(e, cst.Name)}
        for arg in call.args:
            attributes = {id(n.attr) for n in cstwalk.iter_nodes(arg.value) if isinstance(n, cst.Attribute)}
            read = {n.value for n in cstwalk.iter_nodes(arg.value) if isinstance(n, cst.Name) and id(n) not in attributes}
            if read & local and not evaluate(arg.value, env).known:
                sub.problems.append(Problem(arg, "K2T303", (
                    f"{code_of(arg.value)}: a size that build() computes from the input's shape, which no caller "
                    "of this class gives k2t")))
                return

    def member(self, attr: str, statement, call: cst.Call, analyzer) -> SubLayer | None:
        """A sub-layer constructor: one of the program's classes, or a Keras layer (its arguments bound)."""
        if isinstance(call.func, cst.Name) and call.func.value in self.classes:
            return SubLayer(attr, statement, call, custom=call.func.value)
        key = self.resolver.key(call.func)
        if key is None or not key.startswith("layers."):
            return None
        problems: list[Problem] = []
        layer = analyzer._layer_call(call, problems, key)
        return SubLayer(attr, statement, call, layer=layer, problems=problems)

    # -- expressions -------------------------------------------------------------------------
    def hook(self, node, translate):
        """The class's own constructs inside an expression (see ops.translate_expression)."""
        if isinstance(node, cst.Name) and node.value == "training" and self.in_forward:
            return Expr(ast.parse("self.training", mode="eval").body, OBJECT)
        attr = _self_attr(node)
        if attr is not None:
            code = ast.parse(f"self.{attr}", mode="eval").body
            if attr in self.weights:
                return Expr(code, TENSOR, shape=self.weight_shapes.get(attr))
            if attr in self.numbers:
                # The int every instantiation gives (`self.num_patches`): a size, so ops know its
                # dtype (ops.arange: int32) and the shapes it makes; the code still reads the attribute.
                known = self.number_values.get(attr)
                return Expr(code, NUMBER) if known is None else Expr(code, NUMBER, value=known, dim=known)
            return Expr(code, OBJECT)
        if isinstance(node, cst.Call):
            attr = _self_attr(node.func)
            if attr in KERAS_SELF_METHODS and attr not in self.methods:
                raise Refused(f"self.{attr}() is a Keras Layer/Model method without a torch counterpart; not translated yet")
            if attr in self.activations:  # the activation keras.activations.get gave
                value = translate(node.args[0].value)
                if value.kind != TENSOR:
                    raise Refused(f"self.{attr}(...): its input is not a tensor k2t can follow")
                name = self.activations[attr][0]
                code = ast.parse(render(name, ast.unparse(value.node)), mode="eval").body
                pointwise = value.pointwise and name not in ("softmax", "log_softmax")
                return Expr(code, TENSOR, shape=value.shape, pointwise=pointwise, dtype=value.dtype)
            if attr in self.chosen_activations:  # keras_activation(name): a softmax reads the last axis
                value = translate(node.args[0].value)
                if value.kind != TENSOR:
                    raise Refused(f"self.{attr}(...): its input is not a tensor k2t can follow")
                code = ast.Call(ast.parse(f"self.{attr}", mode="eval").body, [value.node], [])
                return Expr(code, TENSOR, shape=value.shape, dtype=value.dtype)
            if attr in self.sublayers:
                return self.sublayer_call(self.sublayers[attr], node, translate)
            if isinstance(node.func, cst.Name) and node.func.value in self.loop_layers:
                return self.sublayer_call(self.loop_layers[node.func.value], node, translate, node.func.value)
            base = self.custom_base()
            if (
                base is not None and isinstance(node.func, cst.Attribute) and node.func.attr.value == "call"
                and isinstance(node.func.value, cst.Call) and _is_name(node.func.value.func, "super")
                and not node.func.value.args
            ):  # the base class's call(): its forward(), given this input shape
                return self.sublayer_call(SubLayer("", None, node, custom=base), node, translate, "super().forward")
            function = (
                node.func.value if isinstance(node.func, cst.Name) and node.func.value in self.functions
                and self.resolver.key(node.func) is None else None
            )
            if (attr in self.methods and attr not in ("call", "build", "__init__")) or function is not None:
                if any(a.star for a in node.args):
                    raise Refused(f"{code_of(node.func)}(*args/**kwargs) is not translated")
                positional = [translate(a.value) for a in node.args if a.keyword is None]
                keywords = {a.keyword.value: translate(a.value) for a in node.args if a.keyword is not None}
                code = ast.parse(code_of(node.func), mode="eval").body
                named = [ast.keyword(k, v.node) for k, v in keywords.items()]
                call = ast.Call(code, [a.node for a in positional], named)
                if function is not None:
                    return Expr(call, TENSOR, shape=self.function_call(function, positional, keywords))
                return Expr(call, TENSOR, shape=self.helper_call(attr, positional, keywords))
        return None

    def helper_call(self, name: str, positional: list[Expr], keywords: dict[str, Expr]) -> tuple | None:
        """A helper method called from forward(): translated at its first call, with the shapes of
        that call's arguments; the shape it returns, where this call's arguments have those shapes."""
        if name not in self.helpers:
            self.helpers[name] = (positional, keywords)
            self.helper_lines[name], self.helper_returns[name] = self.helper(name, positional, keywords)
        elif _argument_shapes(*self.helpers[name]) != _argument_shapes(positional, keywords):
            return self.other_arguments(f"self.{name}", self.helper_lines.get(name),
                                        lambda: self.helper(name, positional, keywords))
        return self.helper_returns.get(name)  # (None while the helper is being translated: recursion)

    def other_arguments(self, what: str, written: list[str] | None, again) -> tuple | None:
        """A helper called with other arguments than at its first call, whose code was written for
        those (the ops fold static values such as an axis): this call may use that code only where
        translating the helper for its own arguments gives the same code. The shape it returns."""
        if written is None:
            raise Refused(f"{what}() calls itself with other arguments; not translated")
        report, complete = self.report, self.complete
        self.report = lambda problem: None  # a second reading: its problems were reported once
        try:
            lines, returned = again()
        finally:
            self.report, self.complete = report, complete
        if lines != written:
            raise Refused(f"{what}() is translated for the arguments of its first call; this call's need other code")
        return returned

    def function_call(self, name: str, positional: list[Expr], keywords: dict[str, Expr]) -> tuple | None:
        """A module-level function called from forward() (`gelu_(x)`): like a helper method, it is
        translated at its first call in the module, with that call's shapes; the def is replaced."""
        done = self.translated_functions.get(name)
        if done is None:
            done = self.translated_functions[name] = FunctionTranslation(self.functions[name], positional, keywords)
            done.lines, done.returns = self.helper(name, positional, keywords, self.functions[name])
        elif _argument_shapes(done.positional, done.keywords) != _argument_shapes(positional, keywords):
            return self.other_arguments(name, done.lines, lambda: self.helper(name, positional, keywords, done.definition))
        return done.returns

    def custom_base(self) -> str | None:
        """The program's own class this one derives from, if any."""
        return _custom_base(self.node, self.classes)

    def sublayer_call(self, sub: SubLayer, node: cst.Call, translate, element: str | None = None) -> Expr:
        """`self.dense(x)`; element: the loop variable where a layer list's layer is applied."""
        module = element or f"self.{sub.attr}"
        args = [a for a in node.args if not (a.keyword and a.keyword.value == "training")]
        for a in node.args:
            if a.keyword and a.keyword.value == "training" and not (
                isinstance(a.value, cst.Name) and a.value.value == "training"
            ):
                raise Refused(f"self.{sub.attr}(training={code_of(a.value)}): a fixed training mode is not translated")
        if sub.custom is not None:
            values = [translate(a.value) for a in args]
            call = ast.Call(
                ast.parse(module, mode="eval").body,
                [v.node for v, a in zip(values, args) if a.keyword is None],
                [ast.keyword(a.keyword.value, v.node) for v, a in zip(values, args) if a.keyword is not None],
            )
            shape = values[0].shape if values and values[0].kind == TENSOR else None
            if shape is not None:  # numbers only: the caller's names mean nothing in the callee
                shape = tuple(int(d) if isinstance(d, int) else None for d in shape[1:])
            self.call_shapes.setdefault(sub.custom, []).append(shape)
            learnt = self.outputs.get(sub.custom)  # the callee's report from the first pass
            if learnt is not None and learnt.token_input and self.in_forward and args and _is_name(
                args[0].value, (self.forward_params or [None])[0]
            ):
                self.result.token_input = True  # the input holds token ids for the callee's Embedding
            if learnt is not None and learnt.embeddings:
                self.result.embeddings = True
            if learnt is not None and shape is not None and learnt.output_shape is not None and learnt.input_shape == shape:
                return Expr(call, TENSOR, shape=(values[0].shape[0], *learnt.output_shape))
            if learnt is not None and shape is not None and learnt.same_shape and learnt.input_shape == shape:
                return Expr(call, TENSOR, shape=values[0].shape)  # with the caller's own sizes
            return Expr(call, TENSOR)
        if sub.sequential is not None:
            if len(args) != 1 or args[0].keyword is not None or args[0].star:
                raise Refused(f"self.{sub.attr}(...) with these arguments has no translation yet")
            return self.sequential_call(sub, translate(args[0].value))
        if sub.layer is None or sub.problems:
            raise Refused(f"self.{sub.attr} is a layer k2t cannot translate (see its line)")
        if element is not None:  # applied once per item, to tensors of any size: lazy sizes
            if len(args) != 1 or args[0].keyword is not None or args[0].star:
                raise Refused(f"{element}(...) with these arguments has no translation yet")
            value = translate(args[0].value)
            if value.kind != TENSOR:
                raise Refused(f"{element}(...): its input is not a tensor k2t can follow")
            return self.lower_call(sub, [dataclasses.replace(value, shape=None)], False, element)
        rule = sub.layer.rule
        if rule.call_inputs and len(args) >= 2 and not any(a.star for a in args):
            # `self.att(query=x, value=x, use_causal_mask=True)`: tensors by name, static options
            values, names, options = [], [], {}
            for position, a in enumerate(args):
                keyword = a.keyword.value if a.keyword else None
                if keyword in rule.call_options:
                    options[keyword] = evaluate(a.value, self.module_env).value
                    continue
                name = keyword or (rule.call_inputs[position] if position < len(rule.call_inputs) else None)
                if name not in rule.call_inputs:
                    raise Refused(f"self.{sub.attr}({keyword}=...) has no translation yet")
                values.append(translate(a.value))
                names.append(name)
            if any(v.kind != TENSOR for v in values):
                raise Refused(f"self.{sub.attr}(...): its inputs are not tensors k2t can follow")
            return self.lower_call(sub, values, True, in_names=tuple(names), call_options=options)
        if sub.layer.rule.takes_states and len(args) == 2 and not args[0].keyword and not any(a.star for a in args) and (
            args[1].keyword is None or args[1].keyword.value == "initial_state"
        ):  # `self.gru(x, initial_state=hidden)`
            values = [translate(a.value) for a in args]
            states = list(values[1].items) if values[1].kind == SEQ else [values[1]]
            if sub.layer.key == "LSTM" and len(states) == 1 and states[0].shape is None:
                # `self.lstm(x, initial_state=states)` with a list the caller gives: its [h, c]
                states = [Expr(ast.Subscript(states[0].node, ast.Constant(i)), TENSOR) for i in (0, 1)]
            if any(v.kind != TENSOR for v in [values[0], *states]):
                raise Refused(f"self.{sub.attr}(...): its inputs are not tensors k2t can follow")
            return self.lower_call(sub, [values[0], *states], False)
        if len(args) != 1 or args[0].keyword is not None or args[0].star:
            raise Refused(f"self.{sub.attr}(...) with these arguments has no translation yet")
        value = translate(args[0].value)
        if sub.layer.key == "Embedding" and self.in_forward and _is_name(args[0].value, (self.forward_params or [None])[0]):
            self.result.token_input = True  # the input holds token ids
        inputs = list(value.items) if value.kind == SEQ else [value]
        if not inputs or any(i.kind != TENSOR for i in inputs):
            raise Refused(f"self.{sub.attr}(...): its input is not a tensor k2t can follow")
        return self.lower_call(sub, inputs, value.kind == SEQ)

    def lower_call(self, sub: SubLayer, inputs: list[Expr], several: bool, element: str | None = None,
                   in_names: tuple = (), call_options: dict | None = None) -> Expr:
        layer = sub.layer
        rule = layer.rule
        known = all(i.shape is not None and len(i.shape) >= 1 for i in inputs)
        shapes = [tuple(i.shape[1:]) if known else self.guessed_shape(layer.key, layer.args) for i in inputs]
        if rule.takes_states and len(inputs) > 1:  # the sequence, then (N, units) initial states
            known = inputs[0].shape is not None and len(inputs[0].shape) == 3
            shapes = [shapes[0] if known else self.guessed_shape(layer.key, layer.args)]
            shapes += [tuple(i.shape[1:]) if i.shape is not None and len(i.shape) == 2 else (None,) for i in inputs[1:]]
        if not known and inputs[0].last is not None and len(shapes[0]) >= 1 and shapes[0][-1] is None:
            shapes[0] = (*shapes[0][:-1], inputs[0].last)  # `x = self.embedding(x)`: its features known
        codes = [ast.unparse(i.node) for i in inputs]
        rank = len(shapes[0])
        wants = rule.wanted(layer.args) if rank >= 2 else None
        layout = LAST
        if wants == FIRST:
            back = to_last(rank).format(x="")
            codes = [
                c[: -len(back)] if c.endswith(back) else to_first(rank).format(x=f"({c})" if not c.isidentifier() else c)
                for c in codes
            ]
            layout = FIRST
            self.permuted = True
        ctx = LayerContext(key=layer.key, args=layer.args, in_shape=shapes[0], layout=layout,
                           in_shapes=tuple(shapes), lazy=True, sparse_gradients=self.sparse_gradients,
                           in_names=in_names, call_options=call_options or {})
        if layer.key == "Embedding" and layer.args["embeddings_regularizer"].value is None:
            self.result.embeddings = True
        try:
            lowering = rule.lower(ctx)
        except Unsupported as exc:
            raise Refused(str(exc)) from None
        except (TypeError, ValueError):
            raise Refused(f"{layer.key} needs input sizes that k2t could not follow here") from None
        activation = lowering.activation
        if activation is not None and activation not in ACTIVATIONS:
            raise Refused(f"{layer.key}(activation={layer.args['activation'].code}) has no translation")
        self.snippets |= lowering.snippets
        module_steps = [s for s in lowering.steps if s.module is not None]
        names = {}
        for step in module_steps:
            names[id(step)] = sub.attr if step is module_steps[-1] or len(module_steps) == 1 else f"{sub.attr}_{step.attr}"
        signature = tuple(s.module for s in module_steps)
        if sub.lowered is None:
            sub.lowered = signature
            sub.lines = self.module_lines(sub, lowering, ctx, names, module_steps)
            weights_step = lowering.steps[lowering.weights_step] if lowering.weights_step is not None else None
            if weights_step is not None:
                sub.transfer.append((names[id(weights_step)], layer.key, lowering.transfer_info))
        elif sub.lowered != signature:
            raise Refused(f"self.{sub.attr} is applied to inputs of another shape than at its first call")
        init_params = {p.name.value for p in self.methods["__init__"].params.params} if "__init__" in self.methods else set()
        x = codes[0]
        fields = {f"x{i}": c for i, c in enumerate(codes)}
        fields["xs"] = "[" + ", ".join(codes) + "]"
        if element is not None and (len(module_steps) != 1 or lowering.steps[-1] is not module_steps[0]):
            raise Refused(f"{layer.key} in a layer list: only layers that are one torch module are translated yet")
        flattened = None if known else _LAST_AXIS_FLATTENED.get(layer.key)
        if flattened is not None and (len(lowering.steps) != 1 or lowering.steps[0].forward != "{m}({x})"):
            raise Refused(f"{layer.key} needs the rank of its input, which k2t could not follow here")
        if lowering.unpack and self.unpacking != len(lowering.out_shapes):
            count = len(lowering.out_shapes)
            raise Refused(f"{layer.key} returns {count} tensors, which k2t follows only unpacked into {count} names")
        for step in lowering.steps:
            target = (element or f"self.{names[id(step)]}") if step.module else ""
            x = step.forward.format(x=x, m=target, **fields)
        if flattened is not None:  # any rank: the features are the last axis (Keras layout here)
            self.snippets.add(flattened)
            x = f"{flattened}({target}, {codes[0]})"
        out_rank = len(lowering.out_shape)
        if activation not in (None, "linear"):
            x = render(activation, x, 1 if lowering.out_layout == FIRST and out_rank >= 2 else -1)
        if lowering.out_layout == FIRST and out_rank >= 2:
            x = to_last(out_rank).format(x=f"({x})" if not x.isidentifier() else x)
        read = {n.id for n in ast.walk(ast.parse(x, mode="eval")) if isinstance(n, ast.Name)}
        if read & (init_params - {"self"}) - set(self.forward_names):
            raise Refused(f"{layer.key}: its forward code needs a constructor argument ({', '.join(sorted(read & init_params))})")
        if known:  # Keras takes the first axis as the batch, whatever it is (positions into an Embedding)
            shape = (inputs[0].shape[0], *lowering.out_shape)
        elif layer.key in _OUT_RANK:
            shape = (BATCH,) + (None,) * _OUT_RANK[layer.key]
        elif wants == FIRST:
            shape = (BATCH, *(None,) * len(lowering.out_shape))
        else:
            shape = None
        last = None
        if shape is None and lowering.out_layout == LAST and lowering.out_shape:
            last = lowering.out_shape[-1]  # an Embedding's features, whatever the rank of its input
            if last is None and lowering.weights_step is None and lowering.out_shape == shapes[0]:
                last = inputs[0].last  # kept through Dropout and other layers that keep the shape
        if lowering.unpack:  # `out, h = self.gru(x)`: (pattern, finish code, comment) per output
            items = tuple(
                Expr(ast.Name("_"), TENSOR, shape=(inputs[0].shape[0], *out) if known else None,
                     last=None if known else out[-1])
                for out in lowering.out_shapes
            )
            unpack = (lowering.unpack, lowering.finish, lowering.finish_comment, lowering.temps)
            return Expr(ast.parse(x, mode="eval").body, SEQ, items=items, unpack=unpack)
        return Expr(ast.parse(x, mode="eval").body, TENSOR, shape=shape, last=last)

    def sequential_call(self, sub: SubLayer, value: Expr) -> Expr:
        """`self.ffn(x)` of a keras.Sequential made in __init__: the model's own class, lowered
        with the shape of its first input (Keras builds it then too)."""
        ir = sub.sequential
        if value.kind != TENSOR or value.shape is None:
            raise Refused(f"self.{sub.attr}: a Sequential inside a class needs the shape of its input, "
                          "which k2t could not follow here")
        shape = tuple(value.shape[1:])
        if sub.lowered is not None:
            if sub.lowered[0] != shape:
                raise Refused(f"self.{sub.attr} is applied to inputs of another shape than at its first call")
            lowered = sub.lowered[1]
        else:
            if ir.problems:
                raise Refused(ir.problems[0].message)
            ir.input_shape = shape
            ir.class_name = self.node.name.value + "".join(p[:1].upper() + p[1:] for p in sub.attr.split("_") if p)
            try:
                lowered = lower_model(ir, None, self.module_env.values)
            except Failed as exc:
                raise Refused(exc.problems[0].message) from None
            except Unsupported as exc:
                raise Refused(str(exc)) from None
            sub.lowered = (shape, lowered)
            args = [*lowered.ctor_args, *(f"{name}={name}" for name in lowered.ctor_keywords)]
            sub.lines = [f"self.{sub.attr} = {lowered.class_name}({', '.join(args)})"]
            self.extra_classes.append(lowered.code)
            self.snippets |= lowered.snippets
        x = ast.unparse(value.node)
        if lowered.channels_first:
            x = to_first(len(shape)).format(x=f"({x})" if not x.isidentifier() else x)
        code = ast.parse(f"self.{sub.attr}({x})", mode="eval").body
        return Expr(code, TENSOR, shape=(BATCH, *lowered.output_shape))

    def guessed_shape(self, key: str, args: dict | None = None) -> tuple:
        """The input shape a layer implies where the tensor's is unknown (Conv2D: rank 3)."""
        if key == "Concatenate" and args is not None and args["axis"].known and args["axis"].value == -1:
            return (None,)  # the last axis, whatever the rank (tensors keep Keras's layout here)
        for suffix, rank in (("1D", 2), ("2D", 3), ("3D", 4)):
            if key.endswith(suffix):
                return (None,) * rank
        if key in ("LSTM", "GRU", "SimpleRNN", "Bidirectional", "MultiHeadAttention"):
            return (None, None)  # (length, features)
        if key in _ANY_RANK or key in _LAST_AXIS_FLATTENED:
            return (None,)
        raise Refused(f"{key} needs the rank of its input, which k2t could not follow here")

    def module_lines(self, sub: SubLayer, lowering, ctx, names, module_steps) -> list[str]:
        lines = []
        for note in ctx.notes:
            lines += [f"# {t}" for t in textwrap.wrap(note[2] or note[1], 78)]
        for step in module_steps:
            if step.comment:
                lines.append(f"# {step.comment}")
            lines.append(f"self.{names[id(step)]} = {_listed(sub, step.module)}")
        weights_step = lowering.steps[lowering.weights_step] if lowering.weights_step is not None else None
        lazy = any(s.module.startswith("nn.Lazy") for s in module_steps)
        sub.lazy = lazy
        if lazy:
            self.lazy = True
            comment = "# Input size set by the first batch (torch's lazy module)."
            initialised = weights_step is not None and lowering.init is not None
            kernel, bias = lowering.init if initialised else (None, None)
            # keras_init_lazy takes names (the Keras layout of a grouped weight gives other fans).
            keras_init = initialised and lowering.torch_fans and sub.listed is None and all(
                isinstance(i, str) and initializer_code(i, "w", (1, 1)) is not None for i in (kernel, bias or "zeros")
            )
            if initialised and not keras_init:
                comment = f"{comment[:-1]}; torch's init, not Keras's {kernel!s}."
            lines.insert(len(lines) - 1, comment)
            if keras_init:
                self.snippets.add("keras_init_lazy")
                arguments = repr(kernel) + (f", {bias!r}" if bias not in (None, "zeros") else "")
                lines.append(f"keras_init_lazy(self.{names[id(weights_step)]}, {arguments})")
            return lines
        if weights_step is not None and lowering.init is not None and sub.listed is not None:
            lines.append(f"for module in self.{sub.attr}:")
            lines += _indent(self.init_lines(lowering, "module"))
        elif weights_step is not None and lowering.init is not None:
            lines += self.init_lines(lowering, f"self.{names[id(weights_step)]}")
        if lowering.init_code and sub.listed is not None:
            lines.append(f"for module in self.{sub.attr}:")
            lines += _indent([line.format(m="module") for line in lowering.init_code])
        elif lowering.init_code:
            lines += [line.format(m=f"self.{names[id(weights_step)]}") for line in lowering.init_code]
        return lines

    @staticmethod
    def init_lines(lowering, target: str) -> list[str]:
        """Keras's initialisers for the weights module `target`."""
        kernel, bias = lowering.init
        code = initializer_code(kernel, f"{target}.weight", keras_fans(lowering.kernel_shape), lowering.torch_fans)
        bias_code = initializer_code(bias, f"{target}.bias") if bias is not None else None
        if code is None or (bias is not None and bias_code is None):
            return [f"# initializer {str(kernel)!r} has no translation: torch's default initialisation"]
        return code.splitlines() + (bias_code.splitlines() if bias_code else [])

    # -- statements --------------------------------------------------------------------------
    def block(self, statements, names: dict[str, Expr]) -> list[str]:
        lines: list[str] = []
        for statement in statements:
            lines += [c for c in _comments(statement)]
            lines += self.statement(statement, names)
        return lines

    def statement(self, statement, names: dict[str, Expr]) -> list[str]:
        if isinstance(statement, cst.SimpleStatementLine):
            out = []
            for small in statement.body:
                out += self.small(small, statement, names)
            return out
        if isinstance(statement, cst.If):
            return self.if_block(statement, names)
        if isinstance(statement, cst.For) and self.layer_list_loop(statement) is not None:
            return self.for_layers(statement, names)
        if isinstance(statement, (cst.For, cst.While, cst.With, cst.Try)):
            return self.kept(statement, names, "this kind of statement is not translated inside a class yet")
        return self.kept(statement, names, "this statement is not translated inside a class yet")

    def layer_list_loop(self, node: cst.For) -> SubLayer | None:
        """`for block in self.blocks:` over a layer list."""
        attr = _self_attr(node.iter)
        sub = self.sublayers.get(attr)
        if sub is None or sub.listed is None or not isinstance(node.target, cst.Name) or node.orelse is not None:
            return None
        return sub

    def for_layers(self, node: cst.For, names) -> list[str]:
        """The loop is kept; each `block(x)` in it is the list's layer applied (sizes after it unknown)."""
        sub = self.layer_list_loop(node)
        element = node.target.value
        self.loop_layers[element] = sub
        # The body is read for the first item (a class in the list learns its input shape from it;
        # Keras layers in a list get lazy sizes); after the loop a shape is followed only where one
        # pass through the body keeps it (residual blocks), as then every pass does.
        assigned_names = [a for a in _assigned_names(node.body) if a in names]
        before = {a: names[a].shape for a in assigned_names}
        try:
            body = self.block(_statements(node.body), names)
        finally:
            del self.loop_layers[element]
        for assigned in _assigned_names(node.body):
            if assigned in names:
                kept = before.get(assigned) if before.get(assigned) is not None and names[assigned].shape == before[assigned] else None
                names[assigned] = Expr(ast.Name(assigned), names[assigned].kind, shape=kept)
        return [f"for {element} in self.{sub.attr}:", *_indent(body or ["pass"])]

    def if_block(self, node: cst.If, names, keyword: str = "if") -> list[str]:
        try:
            test = self.expression(node.test, names)
        except Refused as exc:
            return self.kept(node, names, str(exc))
        lines = [f"{keyword} {test}:"] + _indent(self.block(_statements(node.body), names) or ["pass"])
        orelse = node.orelse
        if isinstance(orelse, cst.If):
            lines += self.if_block(orelse, names, "elif")
        elif isinstance(orelse, cst.Else):
            lines += ["else:"] + _indent(self.block(_statements(orelse.body), names) or ["pass"])
        return lines

    def expression(self, node, names: dict[str, Expr]) -> str:
        return ast.unparse(self.translate(node, names).node)

    def translate(self, node, names) -> Expr:
        return translate_expression(node, self.resolver, self.module_env, names, hook=self.hook)

    def small(self, small, statement, names: dict[str, Expr]) -> list[str]:
        try:
            unpacked = _unpacked_names(small)
            if unpacked is not None:  # `output, state = self.gru(x)`: a layer with several outputs
                self.unpacking = len(unpacked)
                try:
                    value = self.translate(small.value, names)
                finally:
                    self.unpacking = 0
                if value.unpack is not None:
                    return self.unpacked(small, unpacked, value, names)
            if isinstance(small, cst.Assign):
                value = self.translate(small.value, names)
                targets = []
                for target in small.targets:
                    self.bind(target.target, value, names)
                    targets.append(code_of(target.target))
                    if not isinstance(target.target, (cst.Name, cst.Tuple, cst.List)):
                        self.forget(target.target, names)  # `shape[0] = n` changes what `shape` holds
                return [" = ".join(targets) + " = " + ast.unparse(value.node)]
            if isinstance(small, cst.AugAssign):
                value = self.translate(small.value, names)
                if isinstance(small.target, cst.Name) and small.target.value in names:
                    current = names[small.target.value]
                    if value.kind == TENSOR and current.kind != TENSOR:
                        names[small.target.value] = Expr(current.node, TENSOR)
                operator = code_of(small.operator).strip()
                return [f"{code_of(small.target)} {operator} {ast.unparse(value.node)}"]
            if isinstance(small, cst.Return):
                if small.value is None:
                    return ["return"]
                value = self.translate(small.value, names)
                self.returns.append(value.shape if value.kind == TENSOR else None)
                return ["return " + ast.unparse(value.node)]
            if isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString)):
                return code_of(small).rstrip("\n").splitlines()  # a docstring, as written
            if isinstance(small, cst.Expr) and self.assigned_weight(small.value) is not None:
                return self.assignment(small.value, names)
            if isinstance(small, cst.Expr):
                return [self.expression(small.value, names)]
            if isinstance(small, (cst.Pass, cst.Break, cst.Continue)):
                return [code_of(small)]
        except Refused as exc:
            return self.kept(statement, names, str(exc), small)
        return self.kept(statement, names, "this statement is not translated inside a class yet", small)

    def assigned_weight(self, node) -> str | None:
        """`self.w.assign(v)` (assign_add, assign_sub) on an add_weight variable: the attribute."""
        if (
            isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in _ASSIGNMENTS and _self_attr(node.func.value) in self.weights
            and len(node.args) == 1 and node.args[0].keyword is None and not node.args[0].star
        ):
            return _self_attr(node.func.value)
        return None

    def assignment(self, node: cst.Call, names) -> list[str]:
        """A Keras variable written in place (a running statistic): no gradient flows through
        assign(), so the in-place update runs under torch.no_grad()."""
        value = self.translate(node.args[0].value, names)
        if value.kind not in (TENSOR, NUMBER):
            raise Refused(f"{code_of(node)}: the new value is not a tensor or a number k2t can follow")
        method = _ASSIGNMENTS[node.func.attr.value]
        return ["with torch.no_grad():", f"    self.{self.assigned_weight(node)}.{method}({ast.unparse(value.node)})"]

    def unpacked(self, small: cst.Assign, targets: list[str], value: Expr, names) -> list[str]:
        """`out, (h, c) = self.lstm(x)`, then each output in Keras's form (`h, c = h[0], c[0]`)."""
        pattern, finish, why, temps = value.unpack
        lines = unpacked_lines(ast.unparse(value.node), targets, pattern, finish, why, temps,
                               lambda name: name != "_", set(names) | set(targets) | set(self.forward_names))
        self.bind(small.targets[0].target, value, names)
        return lines

    def bind(self, target, value: Expr, names) -> None:
        if isinstance(target, cst.Name):  # later uses read the variable, not the expression
            items = value.items
            if value.kind == SEQ:  # `shape = ops.shape(x)`: `shape[0]` reads the variable too
                items = tuple(
                    dataclasses.replace(item, node=ast.Subscript(ast.Name(target.value), ast.Constant(i)))
                    for i, item in enumerate(value.items)
                )
            names[target.value] = dataclasses.replace(value, node=ast.Name(target.value), items=items)
        elif isinstance(target, (cst.Tuple, cst.List)):
            items = value.items if value.kind == SEQ and len(value.items) == len(target.elements) else None
            # `_, h, w, c = x.shape` with the rank unknown: sizes still
            kind = NUMBER if value.kind == SEQ and value.sizes else TENSOR
            for i, element in enumerate(target.elements):
                self.bind(element.value, items[i] if items else Expr(ast.Name(code_of(element.value)), kind), names)

    def kept(self, statement, names, reason: str, small=None) -> list[str]:
        """A statement left as it is. It is marked only when it uses Keras/TensorFlow or tensors."""
        node = small if small is not None else statement
        for target in cstwalk.iter_nodes(node):
            if isinstance(target, (cst.AssignTarget, cst.For)):
                place = target.target
                for name in cstwalk.iter_nodes(place):
                    if isinstance(name, cst.Name):
                        names[name.value] = Expr(ast.Name(name.value), TENSOR)
        self.forget(node, names)  # what the kept code does to the names it reads is unknown
        code = code_of(small) if small is not None else code_of(statement.with_changes(leading_lines=[]))
        lines = code.rstrip("\n").splitlines()
        if self.uses_keras(node) or self.uses_tensors(node, names):
            marker = self.problem(node, "K2T501", reason)
            return [marker, *lines]
        return lines

    @staticmethod
    def forget(node, names) -> None:
        """Names the code may have changed (a list appended to, an item assigned) are no longer
        known: tensors stay tensors of unknown shape, anything else an unknown Python value."""
        for name in cstwalk.iter_nodes(node):
            if isinstance(name, cst.Name) and name.value in names:
                known = names[name.value]
                names[name.value] = Expr(ast.Name(name.value), TENSOR if known.kind == TENSOR else OBJECT)

    def uses_keras(self, node) -> bool:
        return any(
            isinstance(n, (cst.Name, cst.Attribute)) and self.resolver.key(n) is not None
            for n in cstwalk.iter_nodes(node)
        ) or any(
            isinstance(n, cst.Call) and (
                _self_attr(n.func) in self.sublayers
                or (_self_attr(n.func) in KERAS_SELF_METHODS and _self_attr(n.func) not in self.methods)
                or (isinstance(n.func, cst.Attribute) and isinstance(n.func.value, cst.Call)
                    and _is_name(n.func.value.func, "super") and n.func.attr.value not in ("__init__", "build"))
            )
            for n in cstwalk.iter_nodes(node)
        )

    @staticmethod
    def uses_tensors(node, names) -> bool:
        return any(
            isinstance(n, cst.Name) and n.value in names and names[n.value].kind == TENSOR
            for n in cstwalk.iter_nodes(node)
        )

    # -- methods -----------------------------------------------------------------------------
    def forward(self) -> list[str]:
        call = self.methods.get("call")
        if call is None:
            return []
        self.in_forward = True
        params, names = [], {}
        used = {n.value for n in cstwalk.iter_nodes(call.body) if isinstance(n, cst.Name)}
        for i, param in enumerate(call.params.params[1:]):
            name = param.name.value
            if name == "training":
                continue
            if name == "mask" and name not in used:
                continue
            params.append(self.param_code(param))
            if isinstance(self.input_shape, Separate):  # `call(self, inputs, context)`: one shape each
                shape = (BATCH, *self.input_shape[len(names)]) if len(names) < len(self.input_shape) else None
                names[name] = Expr(ast.Name(name), TENSOR, shape=shape)
                continue
            if isinstance(self.input_shape, Several) and not names:  # a list of tensors
                items = tuple(Expr(ast.Name(name), TENSOR, shape=(BATCH, *s)) for s in self.input_shape)
                names[name] = Expr(ast.Name(name), SEQ, items=items)
                continue
            shape = (BATCH, *self.input_shape) if self.input_shape is not None and not names else None
            names[name] = Expr(ast.Name(name), TENSOR, shape=shape)
        self.forward_params = [code_of(p.name) for p in call.params.params[1:] if p.name.value != "training"]
        self.forward_signature = params  # with defaults: LazyModuleMixin passes forward()'s arguments
        self.forward_names = _bound_names(call)
        body = self.block(self.body_of(call), names)
        self.in_forward = False
        shapes = {r for r in self.returns}
        given = (BATCH, *self.input_shape) if self.input_shape is not None and not isinstance(self.input_shape, Several) else None
        self.same_shape = given is not None and shapes == {given}
        if len(shapes) == 1 and None not in shapes:  # sizes as numbers: names mean nothing to callers
            shape = shapes.pop()[1:]
            if all(isinstance(d, int) for d in shape):
                self.output_shape = tuple(int(d) for d in shape)
        if getattr(self, "permuted", False):
            body.insert(0, "# Tensors keep Keras's channels-last layout here; the conv/pool modules permute to NCHW and back.")
        return [f"def forward(self{''.join(', ' + p for p in params)}):", *_indent(body or ["pass"])]

    def helper(
        self, name: str, arguments: list[Expr], keywords: dict[str, Expr], module_function: cst.FunctionDef | None = None
    ) -> tuple[list[str], tuple | None]:
        """A helper method's lines (or a module-level function's), and the shape it returns, for
        the arguments of its first call. It is translated from inside forward(): what forward() is
        following is kept aside. A module-level function has no self: `training` is its own name."""
        function = module_function or self.methods[name]
        saved = self.in_forward, self.forward_names, self.returns
        self.in_forward, self.returns = module_function is None, []
        names = {}
        skipped = 0 if module_function is not None else 1  # self
        params = [*function.params.params[skipped:], *function.params.kwonly_params]
        positional = len(function.params.params) - skipped
        for i, param in enumerate(params):
            given = arguments[i] if i < min(len(arguments), positional) else keywords.get(param.name.value)
            if given is not None:  # what the caller passes, read through the parameter's name
                names[param.name.value] = dataclasses.replace(given, node=ast.Name(param.name.value))
            elif param.default is not None and evaluate(param.default, self.module_env).known:
                value = evaluate(param.default, self.module_env).value
                names[param.name.value] = Expr(ast.Constant(value), NUMBER, value=value)
            else:
                names[param.name.value] = Expr(ast.Name(param.name.value), TENSOR)
        self.forward_names = _bound_names(function)
        try:
            body = self.block(self.body_of(function), names)
        finally:
            returns = self.returns
            self.in_forward, self.forward_names, self.returns = saved
        returned = returns[0] if returns and all(r == returns[0] for r in returns) else None
        # tf.function compiles a graph: torch runs the method as it is.
        decorators = [d for d in function.decorators if self.resolver.key(
            d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator) != "tf.function"]
        params = function.params.with_changes(
            params=[p.with_changes(annotation=self.annotation(p.annotation)) for p in function.params.params]
        )
        header = code_of(function.with_changes(
            body=cst.IndentedBlock([cst.SimpleStatementLine([cst.Pass()])]), leading_lines=[],
            decorators=decorators, params=params, returns=self.annotation(function.returns),
        ))
        header = header.strip().splitlines()
        if any(self.uses_keras(d) for d in decorators):
            header.insert(0, self.problem(function, "K2T501", f"a decorator of {name} has no translation yet"))
        return [*header[:-1], *_indent(body or ["pass"])], returned

    def annotation(self, annotation: cst.Annotation | None) -> cst.Annotation | None:
        """tf.Tensor -> torch.Tensor in a type annotation; other TensorFlow/Keras types are dropped."""
        if annotation is None or not self.uses_keras(annotation):
            return annotation

        class Tensors(cst.CSTTransformer):
            def __init__(inner):
                super().__init__()
                inner.other = False

            def leave_Attribute(inner, original, updated):
                key = self.resolver.key(original)
                if key in ("tf.Tensor", "tf.Variable"):
                    return cst.parse_expression("torch.Tensor")
                if key is not None:
                    inner.other = True
                return updated

            def leave_Name(inner, original, updated):  # `Tensor` imported by name; not `tf` in tf.Tensor
                key = self.resolver.key(original)
                if key in ("tf.Tensor", "tf.Variable"):
                    return cst.parse_expression("torch.Tensor")
                if key is not None and key.rsplit(".", 1)[-1][:1].isupper():
                    inner.other = True
                return updated

        tensors = Tensors()
        converted = annotation.visit(tensors)
        return None if tensors.other else converted

    def param_code(self, param: cst.Param) -> str:
        return code_of(param.with_changes(comma=cst.MaybeSentinel.DEFAULT, annotation=self.annotation(param.annotation)))

    @staticmethod
    def body_of(function: cst.FunctionDef) -> list:
        statements = list(function.body.body) if isinstance(function.body, cst.IndentedBlock) else []
        return statements

    def init(self) -> list[str]:
        function = self.methods.get("__init__")
        lines = []
        params = ""
        if function is not None:
            kept = []
            for param in [*function.params.params[1:], *function.params.kwonly_params]:
                kept.append(self.param_code(param))
            if function.params.star_arg not in (cst.MaybeSentinel.DEFAULT, None) and isinstance(
                function.params.star_arg, cst.Param
            ):
                kept.insert(len(function.params.params) - 1, "*" + function.params.star_arg.name.value)
            params = "".join(", " + p for p in kept)
            body = self.body_of(function)
            if body and cstwalk.is_docstring(body[0]):
                docstring, body = code_of(body[0].with_changes(leading_lines=[])).rstrip("\n").splitlines(), body[1:]
            else:
                docstring = []
            lines = self.init_block(body, in_build=False)
            star = function.params.star_kwarg
            if isinstance(star, cst.Param) and any(
                re.search(rf"\b{star.name.value}\b", line) for line in lines if not line.startswith("super().__init__(")
            ):  # `self.transitions = kwargs.pop("transitions", None)`: the keywords are the program's
                params += f", **{star.name.value}"
        else:
            docstring = []
        # nn.Module.__init__ first: torch refuses modules and parameters assigned before it (Keras 2
        # code often calls super().__init__(**kwargs) last).
        supers = [line for line in lines if line.startswith("super().__init__(")]
        lines = [line for line in lines if not line.startswith("super().__init__(")]
        lines = [*docstring, *(supers[:1] or ["super().__init__()"]), *lines, *self.build_members()]
        markers = []
        if function is not None:
            for param in [*function.params.params, *function.params.kwonly_params]:
                if param.default is not None and self.uses_keras(param.default):
                    what = f"the default of {param.name.value} ({code_of(param.default)}) is not translated yet"
                    markers.append(self.problem(param, "K2T501", what))
        return [*markers, f"def __init__(self{params}):", *_indent(lines)]

    def init_block(self, statements, in_build: bool) -> list[str]:
        lines = []
        for statement in statements:
            lines += _comments(statement)
            lines += self.init_statement(statement, in_build)
        return lines

    def init_statement(self, statement, in_build: bool = False) -> list[str]:
        """One statement of __init__ (or of build(), for initialize_parameters)."""
        what = "build()" if in_build else "__init__"
        appends = next((s for s in self.sublayers.values() if s.appended is statement), None)
        if appends is not None and appends.written is not None and _translated(appends.written):
            return []  # the list's nn.ModuleList, written at `self.blocks = []`, makes its layers
        if isinstance(statement, cst.SimpleStatementLine):
            small = statement.body[0] if len(statement.body) == 1 else None
            if small is not None and _is_super_call(small, "__init__") and not in_build:
                call = small.value
                kept = [
                    code_of(a.with_changes(comma=cst.MaybeSentinel.DEFAULT))
                    for a in call.args
                    if not a.star and not (a.keyword and a.keyword.value in KERAS_ONLY_KEYWORDS)
                    and not (a.keyword is None and _is_name(a.value, "self"))
                ]
                base_is_custom = any(
                    isinstance(b.value, cst.Name) and b.value.value in self.classes for b in self.node.bases
                )
                return [f"super().__init__({', '.join(kept) if base_is_custom else ''})"]
            if small is not None and in_build and (
                _is_super_call(small, "build") or code_of(small).replace(" ", "") == "self.built=True"
            ):
                return []  # Keras's bookkeeping: torch's LazyModuleMixin does its own
            built = self.built_attribute(small) if small is not None else None
            if built is not None and built in self.layer_names():
                return []  # `self.dense.build(shape)`: a torch module makes its sizes at its first call
            if built is not None:
                return [self.problem(statement, "K2T501", (
                    f"self.{built}.build(): Keras's Layer.build of a layer k2t does not know here (a torch module "
                    "makes its sizes at its first call: drop the line if it is one)")),
                    *code_of(statement.with_changes(leading_lines=[])).rstrip("\n").splitlines()]
            members = self.member_lines(statement, in_build)
            if members is not None:
                return members
        if isinstance(statement, cst.If):
            return self.if_statement(statement, in_build)
        code = code_of(statement.with_changes(leading_lines=[])).rstrip("\n").splitlines()
        if self.uses_keras(statement):
            return [self.problem(statement, "K2T501", f"this line of {what} is not translated yet"), *code]
        return code

    @staticmethod
    def built_attribute(small) -> str | None:
        """attr of `self.attr.build(shape)`."""
        if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)):
            return None
        func = small.value.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "build"):
            return None
        return _self_attr(func.value)

    def layer_names(self) -> set[str]:
        """The attributes holding the class's layers: Keras layers with rules, and instances of
        the file's translated classes (wherever the class assigns them)."""
        names = set(self.sublayers)
        for node in cstwalk.iter_nodes(self.node):
            if isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.value, cst.Call):
                attr = _self_attr(node.targets[0].target)
                if attr is not None and isinstance(node.value.func, cst.Name) and node.value.func.value in self.classes:
                    names.add(attr)
        return names

    def if_statement(self, node: cst.If, in_build: bool, keyword: str = "if") -> list[str]:
        if self.uses_keras(node.test):
            code = code_of(node.with_changes(leading_lines=[])).rstrip("\n").splitlines()
            return [self.problem(node, "K2T501", "this condition is not translated yet"), *code]
        lines = [f"{keyword} {code_of(node.test)}:", *_indent(self.init_block(_statements(node.body), in_build) or ["pass"])]
        if isinstance(node.orelse, cst.If):
            lines += self.if_statement(node.orelse, in_build, "elif")
        elif isinstance(node.orelse, cst.Else):
            lines += ["else:", *_indent(self.init_block(_statements(node.orelse.body), in_build) or ["pass"])]
        return lines

    def member_lines(self, statement, in_build: bool) -> list[str] | None:
        """A sub-layer or weight assignment's lines where it stands (None: not one). In build(),
        what translated to __init__ lines has moved there (build_members); a weight whose shape
        reads the input is materialised here; what is marked stays where the program wrote it."""
        found = _assignment(statement)
        if found is None:
            return None
        attr = found[0]
        if attr in self.activations and self.activations[attr][1] is statement:
            return []  # forward() applies the activation itself
        if attr in self.weight_options and self.weight_options[attr][1] is statement:
            return []  # the weights' own lines initialise them
        if attr in self.chosen_options and self.chosen_options[attr][2] is statement:
            kind, param, _ = self.chosen_options[attr]
            if kind == "initializer":  # the name keras_init_ fills the weights by
                return [f"self.{attr} = {param}"]
            why = {"regularizer": "adds a regularizer's penalty to the loss",
                   "constraint": "applies a constraint after each optimizer step"}
            return [f"# Keras {why[kind]}; only the default (None) is translated.",
                    f"if {param} is not None:",
                    f'    raise NotImplementedError("{self.node.name.value}({param}=...) has no translation")']
        if attr in self.chosen_activations and self.chosen_activations[attr][1] is statement:
            self.snippets.add("keras_activation")
            return [f"self.{attr} = keras_activation({self.chosen_activations[attr][0]})"]
        sub = self.sublayers.get(attr)
        if sub is not None and sub.statement is statement:
            lines = self.sublayer_lines(sub)
            return [] if in_build and _translated(lines) else lines
        weight = self.weights.get(attr)
        if weight is not None and weight.statement is statement:
            nested = in_build and statement not in self.body_of(self.methods["build"])
            if nested and weight.on_device:
                # `if self.use_bias: self.bias = self.add_weight(...)`: made under the same condition
                # in initialize_parameters, which the dry run calls before the optimizer is made.
                self.lazy = True
                # The model may be on the GPU already: the new parameter goes where the batch is.
                return [weight.on_device.format(device=f"{self.batch_name}.device"), *weight.lines[1:]]
            if nested and _translated(weight.lines):  # an input-sized weight under a condition
                code = code_of(statement.with_changes(leading_lines=[])).rstrip("\n").splitlines()
                return [self.problem(statement, "K2T102", "a weight made under a condition in build() is not translated yet"), *code]
            if in_build and weight.lazy_lines:
                return weight.lazy_lines
            return [] if in_build and _translated(weight.lines) else weight.lines
        return None

    def sublayer_lines(self, sub: SubLayer) -> list[str]:
        """The member's __init__ lines (once: a marked line reports its problem once)."""
        if sub.written is None:
            sub.written = self._sublayer_lines(sub)
        return sub.written

    def _sublayer_lines(self, sub: SubLayer) -> list[str]:
        if sub.custom is not None:
            kept = [
                code_of(a.with_changes(comma=cst.MaybeSentinel.DEFAULT))
                for a in sub.call.args
                if not (a.keyword and a.keyword.value in KERAS_ONLY_KEYWORDS)
            ]
            return [f"self.{sub.attr} = {_listed(sub, f'{sub.call.func.value}({chr(44).join(kept)})')}"]
        problems = sub.problems
        code = code_of(sub.statement.with_changes(leading_lines=[])).rstrip("\n").splitlines()
        if sub.sequential is not None and sub.lines is None:
            return [self.problem(sub.call, "K2T303", "a Sequential inside a class needs the shape of its input, "
                                 "which k2t could not follow from call()"), *code]
        if sub.sequential is not None:
            return sub.lines
        if sub.layer is None or problems:
            problem = problems[0] if problems else Problem(sub.call, "K2T101", "this layer has no translation yet")
            return [self.problem(problem.node, problem.code, problem.message), *code]
        if sub.lines is None:  # never called in call(): its sizes are unknown
            try:
                self.lower_call(sub, [Expr(ast.Name("x"), TENSOR)], False)
            except Refused as exc:
                return [self.problem(sub.call, "K2T303", str(exc)), *code]
        return sub.lines

    def read_weights(self) -> None:
        """add_weight / tf.Variable assignments in __init__ and build."""
        for method in ("__init__", "build"):
            function = self.methods.get(method)
            if function is None:
                continue
            shape_param = None
            if method == "build" and len(function.params.params) > 1:
                shape_param = function.params.params[1].name.value
            env = Env(self.module_env)  # __init__'s parameters: the values every instantiation gives
            if method == "__init__":
                for param in [*function.params.params[1:], *function.params.kwonly_params]:
                    env.bind(param.name, self.arguments.get(param.name.value, UNKNOWN), is_local=True)
            for statement in cstwalk.iter_nodes(function.body):  # also under `if self.use_bias:`
                if not isinstance(statement, cst.SimpleStatementLine):
                    continue
                found = _assignment(statement)
                if found is None or not isinstance(found[1], cst.Call):
                    continue
                attr, call = found
                if _self_attr(call.func) != "add_weight":
                    continue
                self.weights[attr] = self.add_weight(attr, statement, call, shape_param, env)

    def add_weight(self, attr: str, statement, call: cst.Call, shape_param: str | None, env: Env) -> Weight:
        args = {}
        positional = [a for a in call.args if a.keyword is None]
        order = ("shape", "initializer", "dtype", "trainable")
        if positional and isinstance(positional[0].value, cst.SimpleString):
            order = ("name", "shape", "dtype", "initializer", "regularizer", "trainable")
        for i, a in enumerate(positional):
            if i < len(order):
                args[order[i]] = a.value
        for a in call.args:
            if a.keyword is not None:
                args[a.keyword.value] = a.value
        chosen_init = None  # the attribute holding the initializer name, where run time chooses it
        for name, node in list(args.items()):  # `initializer=self.kernel_initializer`, read in __init__
            if (attr_name := _self_attr(node)) in self.weight_options:
                option = self.weight_options[attr_name][0]
                args[name] = cst.Name("None") if option is None else cst.SimpleString(repr(option))
            elif attr_name in self.chosen_options and self.chosen_options[attr_name][0] == name:
                if name == "initializer":
                    chosen_init = attr_name
                else:  # __init__ raises for any value but None
                    args[name] = cst.Name("None")
        code = code_of(statement.with_changes(leading_lines=[])).rstrip("\n").splitlines()
        unsupported = set(args) - {"shape", "initializer", "dtype", "trainable", "name"}
        for name in ("regularizer", "constraint"):
            if name in args and code_of(args[name]) == "None":
                unsupported.discard(name)
        if unsupported or "shape" not in args:
            what = ", ".join(sorted(unsupported)) or "a missing shape"
            return Weight(attr, statement, [self.problem(call, "K2T102", f"add_weight({what}) is not translated yet"), *code], [])
        shape_node = args["shape"]
        if any(self.resolver.key(n) is not None for n in cstwalk.iter_nodes(shape_node)):
            return Weight(attr, statement, [self.problem(call, "K2T102", "add_weight: the shape must be plain Python"), *code], [])
        shape = code_of(shape_node)
        static_shape = self.static_shape(shape_node, shape_param, env)
        if static_shape is not None:
            self.weight_shapes[attr] = static_shape
        elif isinstance(shape_node, (cst.Tuple, cst.List)):  # the rank at least: (input_shape[-1], 4)
            self.weight_shapes[attr] = tuple(
                d if isinstance(d := evaluate(e.value, env).value, int) and not isinstance(d, bool) else None
                for e in shape_node.elements
            )
        init_node = None if chosen_init is not None else args.get("initializer")
        init_name = "glorot_uniform"
        if init_node is not None:
            init_name = initializer_value(init_node, env, self.resolver)  # a name, or an Initializer
            if not isinstance(init_name, (str, Initializer)):
                return Weight(attr, statement, [self.problem(init_node, "K2T102", f"initializer {code_of(init_node)} is not translated yet"), *code], [])
        static = evaluate(shape_node, env)
        rank = len(static.value) if static.known and isinstance(static.value, (tuple, list)) else (
            len(shape_node.elements) if isinstance(shape_node, (cst.Tuple, cst.List)) else None
        )
        fans = keras_fans(tuple(static.value)) if static.known and isinstance(static.value, (tuple, list)) else None
        # torch's xavier takes the fans from a 2-D weight's two sizes: the same sum as Keras's.
        if chosen_init is not None:  # the name the caller gave, at run time
            self.snippets.add("keras_init_")
            init = f"keras_init_(self.{attr}, self.{chosen_init})"
        else:
            glorot = isinstance(init_name, str) and init_name.startswith("glorot")
            init = initializer_code(init_name, f"self.{attr}", fans, torch_fans=rank == 2 and glorot)
        if init is None:
            return Weight(attr, statement, [self.problem(call, "K2T102", f"initializer {str(init_name)!r} on this weight needs its sizes; not translated yet"), *code], [])
        trainable = args.get("trainable")
        frozen = trainable is not None and code_of(trainable) == "False"
        reads_input = shape_param is not None and any(
            isinstance(n, cst.Name) and n.value in self.input_names(shape_param) for n in cstwalk.iter_nodes(shape_node)
        )
        grad = ", requires_grad=False" if frozen else ""
        if reads_input:
            self.lazy = True
            lines = [f"self.{attr} = nn.UninitializedParameter({grad.removeprefix(', ')})"]
            lazy_lines = [f"self.{attr}.materialize({shape})", *init.splitlines()]
            return Weight(attr, statement, lines, lazy_lines)
        lines = [f"self.{attr} = nn.Parameter(torch.empty({shape}){grad})", *init.splitlines()]
        braced = shape.replace("{", "{{").replace("}", "}}")
        on_device = f"self.{attr} = nn.Parameter(torch.empty({braced}, device={{device}}){grad})"
        return Weight(attr, statement, lines, [], on_device)

    def static_shape(self, node: cst.BaseExpression, shape_param: str | None, env: Env) -> tuple | None:
        """add_weight's shape where every size is known: literals, `self.units` set in __init__,
        __init__'s parameters that every instantiation gives the same value, and `input_shape[-1]`
        of build() where the callers give the input's shape."""
        if not isinstance(node, (cst.Tuple, cst.List)):
            return None
        built = None if self.input_shape is None or isinstance(self.input_shape, Several) else (None, *self.input_shape)
        dims = []
        for element in node.elements:
            value = element.value
            attr = _self_attr(value)
            if attr is not None:
                dim = self.number_values.get(attr)
            elif (
                isinstance(value, cst.Subscript) and isinstance(value.value, cst.Name) and shape_param is not None
                and value.value.value == shape_param and built is not None and len(value.slice) == 1
                and isinstance(value.slice[0].slice, cst.Index)
            ):
                index = evaluate(value.slice[0].slice.value, self.module_env).value
                dim = built[index] if isinstance(index, int) and -len(built) <= index < len(built) else None
            else:
                dim = evaluate(value, env).value
            if not isinstance(dim, int) or isinstance(dim, bool):
                return None
            dims.append(int(dim))
        return tuple(dims)

    def input_names(self, shape_param: str) -> set[str]:
        """build()'s input_shape and the local names computed from it."""
        found = {shape_param}
        for statement in self.body_of(self.methods["build"]):
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    if isinstance(small, cst.Assign) and any(
                        isinstance(n, cst.Name) and n.value in found for n in cstwalk.iter_nodes(small.value)
                    ):
                        for target in small.targets:  # names bound, not `self` of `self.kernel = ...`
                            bound = target.target
                            names = [e.value for e in bound.elements] if isinstance(bound, (cst.Tuple, cst.List)) else [bound]
                            found |= {n.value for n in names if isinstance(n, cst.Name)}
        return found

    def build_members(self) -> list[str]:
        """Sub-layers and eager weights created in build() move to __init__."""
        build = self.methods.get("build")
        if build is None:
            return []
        lines = []
        for statement in self.body_of(build):
            found = _assignment(statement)
            if found is None:
                continue
            attr = found[0]
            if attr in self.sublayers and self.sublayers[attr].statement is statement:
                made = self.sublayer_lines(self.sublayers[attr])
            elif attr in self.weights and self.weights[attr].statement is statement:
                made = self.weights[attr].lines  # a lazy weight: its nn.UninitializedParameter
            else:
                continue
            lines += made if _translated(made) else []
        return lines

    def initialize_parameters(self) -> list[str]:
        """build()'s lazy part: torch's LazyModuleMixin calls it with the first batch."""
        build = self.methods.get("build")
        if build is None:
            return []
        shape_param = build.params.params[1].name.value if len(build.params.params) > 1 else "input_shape"
        params = self.forward_signature or ["inputs"]
        names = [p.split("=")[0].split(":")[0].strip() for p in params]
        first = names[0]
        lines = [f"{shape_param} = {first}.shape"]
        # Keras 3 builds with one shape per call() tensor, named after it (`encoder_sequence_shape`).
        for param in build.params.params[2:]:
            base = param.name.value.removesuffix("_shape")
            if base != param.name.value and base in names[1:]:
                lines.append(f"{param.name.value} = {base}.shape if {base} is not None else None")
        self.batch_name = first
        body = self.body_of(build)
        doc = '"""Keras\'s build(): the sizes that depend on the input come from the first batch."""'
        if body and cstwalk.is_docstring(body[0]):  # build()'s own docstring says what it does
            doc, body = code_of(body[0].with_changes(leading_lines=[])).strip(), body[1:]
        lines += self.init_block(body, in_build=True)
        if not any("self." in line or MARKER in line for line in lines[1:]):  # only members, which __init__ makes
            return []
        return [f"def initialize_parameters(self, {', '.join(params)}):", *_indent([doc, *lines])]

    # -- the class ---------------------------------------------------------------------------
    def code(self) -> str:
        self.read_members()
        self.read_weights()
        self.in_forward = False
        forward = self.forward()
        init = self.init()
        lazy_init = self.initialize_parameters()
        bases = []
        for base in self.node.bases:
            if isinstance(base.value, cst.Name) and base.value.value in self.classes:
                bases.append(base.value.value)
        if lazy_init:
            bases.insert(0, "nn.modules.lazy.LazyModuleMixin")
        if not any(b in self.classes for b in bases):
            bases.append("nn.Module")
        lines = [f"class {self.node.name.value}({', '.join(bases)}):"]
        body: list[list[str]] = []
        for statement in _statements(self.node.body):
            if isinstance(statement, cst.FunctionDef):
                name = statement.name.value
                if name == "__init__":
                    body.append(init)
                elif name == "call":
                    body.append(forward)
                elif name == "build":
                    if lazy_init:
                        body.append(lazy_init)
                elif name in self.helper_lines:  # also a Keras-only method that forward() calls
                    body.append(self.helper_lines[name])
                elif name in KERAS_ONLY_METHODS:
                    continue
                else:
                    code = code_of(statement.with_changes(leading_lines=[])).rstrip("\n").splitlines()
                    if self.uses_keras(statement):
                        code.insert(0, self.problem(statement, "K2T501", f"method {name} is not translated yet"))
                    body.append(code)
            else:  # a class attribute, a docstring: kept, and marked where it uses Keras
                code = code_of(statement.with_changes(leading_lines=[])).rstrip("\n").splitlines()
                if self.uses_keras(statement):
                    code.insert(0, self.problem(statement, "K2T501", "this statement of the class body is not translated yet"))
                body.append(_comments(statement) + code)
        if "__init__" not in self.methods and (self.weights or self.sublayers):
            docstring = bool(body) and cstwalk.is_docstring(_statements(self.node.body)[0])
            body.insert(1 if docstring else 0, init)  # after the class's docstring
        for i, part in enumerate(body):
            if i:
                lines.append("")
            lines += _indent(part)
        if len(lines) == 1:
            lines.append("    pass")
        self.result.custom_steps = tuple(m for m in CUSTOM_STEPS if m in self.methods)
        self.result.lazy = self.lazy or any(s.lazy for s in self.sublayers.values())
        self.result.input_shape, self.result.output_shape = self.input_shape, self.output_shape
        self.result.same_shape = self.same_shape
        if "call" not in self.methods:
            self.result.inherits = next(
                (b.value.value for b in self.node.bases if isinstance(b.value, cst.Name) and b.value.value in self.classes), None
            )
        self.result.input_name = self.forward_params[0] if self.forward_params else "x"
        self.result.complete = self.complete
        self.result.output_for = self.output_for
        for sub in self.sublayers.values():
            if sub.custom:
                self.result.custom.append((sub.attr, sub.custom))
            if sub.sequential is not None and sub.lowered is not None:
                self.result.sequentials.append((sub.attr, sub.lowered[1].layers))
            for torch_attr, key, info in sub.transfer:
                self.result.layers.append((sub.attr, key, info, torch_attr))
        self.result.weights = [w for w in self.weights]
        base = self.outputs.get(self.custom_base() or "")
        if base is not None:  # the base's __init__ made the members it names: this instance has them too
            own = {entry[0] for entry in [*self.result.layers, *self.result.custom, *self.result.sequentials]}
            own |= set(self.result.weights)
            self.result.layers += [entry for entry in base.layers if entry[0] not in own]
            self.result.weights += [w for w in base.weights if w not in own]
            self.result.custom += [c for c in base.custom if c[0] not in own]
            self.result.sequentials += [s for s in base.sequentials if s[0] not in own]
            self.result.lazy = self.result.lazy or base.lazy
            self.result.embeddings = self.result.embeddings or base.embeddings
        return "\n".join(lines) + "\n"


def build_lines(var: str, call: cst.Call, lazy: bool, token_input: bool = False, device: bool = False) -> list[str]:
    """`model.build(shape)`: nothing to do for explicit sizes; lazy modules take theirs from one
    forward pass on a zero batch (in eval mode, so that BatchNorm statistics do not move)."""
    if not lazy:
        return []
    shape = evaluate(call.args[0].value, Env()) if call.args else None
    if shape is not None and shape.known and isinstance(shape.value, (tuple, list)):
        sizes = ", ".join(str(1 if d is None else d) for d in shape.value)
    else:
        sizes = "1, *" + (code_of(call.args[0].value) if call.args else "()") + "[1:]"
    options = (", dtype=torch.long" if token_input else "") + (", device=device" if device else "")
    zeros = f"torch.zeros({sizes}{options})"
    return [
        "# Keras's build(): one pass on a zero batch sets the sizes of the lazy modules.",
        "with torch.no_grad():",
        f"    {var}.eval()({zeros})",
        f"{var}.train()",
    ]


def module_constants(module: cst.Module) -> Env:
    """The module-level names bound by plain assignments, with their static values where the
    statements give them; a name also bound in a compound statement (if, for, with, try), by `:=`
    or declared global in a function is left unknown."""
    env = Env()
    unknown: set[str] = set()
    for statement in module.body:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            for node in cstwalk.iter_nodes(statement):
                if isinstance(node, cst.Global):
                    unknown |= {item.name.value for item in node.names}
            continue
        compound = not isinstance(statement, cst.SimpleStatementLine)
        for node in cstwalk.iter_nodes(statement):
            target = None
            if isinstance(node, cst.NamedExpr):
                target = node.target
            elif compound and isinstance(node, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For)):
                target = node.target
            elif compound and isinstance(node, cst.AsName):
                target = node.name
            if target is not None:
                unknown |= {n.value for n in cstwalk.iter_nodes(target) if isinstance(n, cst.Name)}
        if compound:
            continue
        for small in statement.body:
            if isinstance(small, cst.Assign):
                value = evaluate_value(small.value, env)
                for target in small.targets:
                    env.bind(target.target, value)
            elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
                env.bind(small.target, UNKNOWN)
    for name in unknown:
        env.values.pop(name, None)
    return env


def built_shapes(module: cst.Module, classes: dict) -> dict[str, tuple]:
    """Class name -> the input shape its one module-level instance is built with
    (`model = Net(); model.build((None, 20))`), where the shape is literal or made of the module's
    constants (`model.build((None, maxlen))`)."""
    instances: dict[str, str] = {}
    shapes: dict[str, tuple] = {}
    constants = module_constants(module)
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            continue
        small = statement.body[0]
        if (
            isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)
            and isinstance(small.value, cst.Call) and isinstance(small.value.func, cst.Name)
            and small.value.func.value in classes
        ):
            instances[small.targets[0].target.value] = small.value.func.value
        call = small.value if isinstance(small, cst.Expr) else None
        if (
            isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "build"
            and isinstance(call.func.value, cst.Name) and call.func.value.value in instances and call.args
        ):
            value = evaluate(call.args[0].value, constants)
            if value.known and isinstance(value.value, (tuple, list)) and len(value.value) >= 2:
                name = instances[call.func.value.value]
                shape = tuple(value.value[1:])
                shapes[name] = shape if shapes.get(name, shape) == shape else None
    return {name: shape for name, shape in shapes.items() if shape is not None}


def callers_first(classes: dict) -> list[str]:
    """Class names ordered so that a class comes after every class that creates it as a sub-layer
    (the callers tell the callee its input shape); source order otherwise, and for cycles."""
    users: dict[str, set[str]] = {name: set() for name in classes}
    for name, (node, _) in classes.items():
        for n in cstwalk.iter_nodes(node):
            if isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value in classes and n.func.value != name:
                users[n.func.value].add(name)
        for base in node.bases:  # a subclass hands its inputs to the base's call() (super().call)
            if isinstance(base.value, cst.Name) and base.value.value in classes and base.value.value != name:
                users[base.value.value].add(name)
    ordered: list[str] = []
    pending = list(classes)
    while pending:
        ready = next((n for n in pending if users[n] <= set(ordered)), pending[0])
        ordered.append(ready)
        pending.remove(ready)
    return ordered


def _custom_base(node: cst.ClassDef, classes: dict) -> str | None:
    return next((b.value.value for b in node.bases if isinstance(b.value, cst.Name) and b.value.value in classes), None)


def constructor_arguments(module: cst.Module, classes: dict, env: Env) -> dict[str, dict]:
    """Class name -> {__init__ parameter: value} for the parameters that every instantiation in the
    module gives the same literal (or leaves at a literal default): the sizes its shapes then have.
    An instantiation inside another class's __init__ (`self.stack = Stack(width)`) reads that
    class's own known arguments; a function's other names hide the module's."""
    calls: dict[str, list[tuple[cst.Call, cst.FunctionDef | None]]] = {name: [] for name in classes}
    stack: list[tuple[cst.CSTNode, cst.FunctionDef | None]] = [(module, None)]
    while stack:
        node, function = stack.pop()
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in calls:
            calls[node.func.value].append((node, function))
        inner = node if isinstance(node, (cst.FunctionDef, cst.Lambda)) else function
        stack.extend((child, inner) for child in reversed(cstwalk.children(node)))
    # A class without an __init__ of its own runs its base's: its instantiations are the base's too.
    # A subclass with its own __init__ calls the base's with values k2t does not follow.
    unknown: set[str] = set()
    for name, (node, _) in classes.items():
        base = _custom_base(node, classes)
        if base is None or not calls[name]:
            continue
        if "__init__" in _methods(node):
            unknown.add(base)
            continue
        seen = {name}
        while base is not None and base not in seen and "__init__" not in _methods(classes[base][0]):
            seen.add(base)
            base = _custom_base(classes[base][0], classes)
        if base is not None and base not in seen:
            calls[base] = calls[base] + calls[name]
    inits = {id(_methods(node).get("__init__")): name for name, (node, _) in classes.items()}
    found: dict[str, dict] = {}
    for _ in range(len(classes) + 1):  # each round follows the sizes one class deeper
        before = found
        found = {}
        for name, sites in calls.items():
            init = _methods(classes[name][0]).get("__init__")
            if init is None or not sites or name in unknown:
                continue
            params = [p for p in init.params.params[1:]]
            values: dict[str, set] = {p.name.value: set() for p in params}
            for call, function in sites:
                given = {}
                if any(a.star for a in call.args):
                    values = {}
                    break
                scope = _call_scope(function, before.get(inits.get(id(function))), env)
                for i, arg in enumerate(call.args):
                    key = arg.keyword.value if arg.keyword else (params[i].name.value if i < len(params) else None)
                    if key in values:
                        given[key] = evaluate(arg.value, scope)
                for param in params:
                    value = given.get(param.name.value)
                    if value is None and param.default is not None:
                        value = evaluate(param.default, env)
                    known = value is not None and value.known and (
                        value.value is None or isinstance(value.value, (int, float, str, tuple))
                    )  # None: `activation=None`
                    values[param.name.value].add(repr(value.value) if known else None)
            found[name] = {
                k: ast.literal_eval(v.pop()) for k, v in values.items() if len(v) == 1 and None not in v
            }
        if found == before:
            break
    return found


def _call_scope(function, arguments: dict | None, env: Env) -> Env:
    """The names an instantiation inside `function` reads: its parameters and locals hide the
    module's; the parameters of a class's __init__ that keep the value every instantiation of that
    class gives (arguments) read it."""
    if function is None:
        return env
    scope = Env(env)
    if isinstance(function, cst.Lambda):
        for param in function.params.params:
            scope.bind(param.name, UNKNOWN, is_local=True)
        return scope
    assigned: set[str] = set()  # in the body (comprehensions too): no one value there
    for node in cstwalk.iter_nodes(function.body):
        if isinstance(node, (cst.AssignTarget, cst.For, cst.AugAssign, cst.CompFor)):
            assigned |= {n.value for n in cstwalk.iter_nodes(node.target) if isinstance(n, cst.Name)}
    for name in _bound_names(function) | assigned:
        value = (arguments or {}).get(name, UNKNOWN) if name not in assigned else UNKNOWN
        scope.bind(cst.Name(name), value, is_local=True)
    return scope


def _custom_call(count: int, separate: bool) -> str:
    """How the model calls a layer class: `{m}(x)`, `{m}([a, b])`, or `{m}(a, b)` as the program does."""
    if count == 1:
        return "{m}({x})"
    return "{m}(" + ", ".join(f"{{x{i}}}" for i in range(count)) + ")" if separate else "{m}({xs})"


def lower_custom(report: ClassReport, reports: dict, seen: dict, ctx) -> Lowering:
    """A translated layer class as a layer of a Sequential or functional model (rules/layers/custom.py).
    seen collects the input shapes the models give each class (for its next translation)."""
    def numbers(shape):
        return tuple(int(d) if isinstance(d, int) else None for d in shape)

    several = len(ctx.in_shapes) > 1  # `WeightedSum()([a, b])`: call() takes the list
    kind = Separate if ctx.separate_inputs else Several  # `Gate(8)(x, context)`: one argument each
    shape = kind(numbers(s) for s in ctx.in_shapes) if several else numbers(ctx.in_shape)
    seen.setdefault(report.name, set()).add(shape)
    if not report.complete:
        raise Unsupported(f"{report.name} is not fully translated (see the markers in its class)", "K2T201")
    behaves = report  # the class whose call() runs: its own, or the base's it inherits
    while behaves.inherits is not None and behaves.inherits in reports:
        behaves = reports[behaves.inherits]
        seen.setdefault(behaves.name, set()).add(shape)  # the base learns its output for this input
    out_shape = behaves.output_shape if behaves.input_shape == shape else None
    if out_shape is None and behaves.same_shape and behaves.input_shape == shape and not several:
        out_shape = tuple(ctx.in_shape)  # with the model's own sizes
    if out_shape is None and behaves is report and report.output_for is not None:
        # Instances of the class differ (`Linear(32)`, then `Linear(1)`): this one's own shapes.
        out_shape = report.output_for(shape, ctx.args["constructor"].code)
        if out_shape == "same":
            out_shape = tuple(ctx.in_shape) if not several else None  # with the model's own sizes
    if out_shape is None:
        raise Unsupported(f"{report.name}: k2t could not follow the shape of its output for inputs {shape}", "K2T303")
    name = snake_case(report.name)
    return Lowering(
        steps=[Step(_custom_call(len(ctx.in_shapes), ctx.separate_inputs), ctx.args["constructor"].code, attr=name)],
        out_shape=out_shape,
        out_layout=LAST,
        weights_step=0,
        transfer_info={"class": report, "classes": reports},
    )
