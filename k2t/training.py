"""Lower compile/fit/evaluate/predict (and summary/save/load) into explicit torch statements.

compile() becomes an optimizer and a loss where it stood, and the metrics it names; fit() becomes
the epoch loop at its line, evaluate() and predict() calls of functions written for the model
(k2t/loops.py writes both, specialised to what the program uses).
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from dataclasses import dataclass, field

import libcst as cst

from k2t import cstwalk, datasets
from k2t.functions import TensorFunction, translate_tensor_function
from k2t.ops import Refused
from k2t.analyse import Analysis, ModelIR, Problem, Usage, bind_arguments
from k2t.names import Resolver
from k2t.rules.losses import LossLowering, loss_rule, lower_loss
from k2t.loops import FitCall, LossSpec, ModelLoops
from k2t.rules.metrics import ACCURACY, METRIC_CLASSES, METRIC_KINDS, Metric, resolve_accuracy
from k2t.rules.optimizers import lower_optimizer, optimizer_rule
from k2t.rules.spec import Unsupported, params
from k2t.values import Env, code_of, evaluate

COMPILE = params(
    ("optimizer", "rmsprop"),
    ("loss", None),
    ("loss_weights", None),
    ("metrics", None),
    ("weighted_metrics", None),
    ("run_eagerly", False),
    ("steps_per_execution", 1),
    ("jit_compile", "auto"),
    ("auto_scale_loss", True),
)
_COMPILE_INERT = {"run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss"}

# Method -> (Keras parameters in order, those the helper takes)
SIGNATURES = {
    "fit": (
        "x y batch_size epochs verbose callbacks validation_split validation_data shuffle "
        "class_weight sample_weight initial_epoch steps_per_epoch validation_steps "
        "validation_batch_size validation_freq".split(),
        {"x", "y", "batch_size", "epochs", "verbose", "validation_split", "validation_data", "shuffle",
         "initial_epoch", "callbacks", "class_weight", "sample_weight", "validation_freq", "steps_per_epoch"},
    ),
    "evaluate": (
        "x y batch_size verbose sample_weight steps callbacks return_dict".split(),
        {"x", "y", "batch_size", "verbose", "sample_weight", "return_dict"},
    ),
    "predict": ("x batch_size verbose steps callbacks".split(), {"x", "batch_size", "verbose"}),
}
_IGNORED_WHEN = {"verbose": ("auto",), "batch_size": (None,), "callbacks": (None, [], ())}


@dataclass
class OutputTraining:
    """One output of a model with several, as compile() trains it: Keras names its logs after it."""

    name: str  # the output layer's name= (Keras's output name)
    loss: LossLowering
    loss_key: str
    weight: float  # its loss_weights entry: the total loss is the weighted sum
    metrics: list[Metric]

    def loss_spec(self, loss_fns: str) -> LossSpec:
        return LossSpec(f"{loss_fns}[{self.name!r}]", self.loss_key, self.loss.fused, self.loss.logits,
                        self.loss.keras_function)


@dataclass
class Compiled:
    """The torch objects a compile() stands for, and the names they are bound to."""

    optimizer_code: str
    loss: LossLowering
    metrics: list[Metric]
    loss_key: str = ""  # the Keras loss (its rule's name)
    optimizer_name: str = "optimizer"
    loss_name: str = "loss_fn"
    notes: list[str] = field(default_factory=list)
    consumed: list[cst.SimpleStatementLine] = field(default_factory=list)
    # The Keras* optimizer class (rules/keras_optimizers.py) the optimizer code uses, to copy.
    optimizer_snippet: str | None = None
    # The optimizer reproduces Keras's update from an Embedding's sparse gradient: the model's
    # Embedding layers are written with sparse=True.
    sparse_gradients: bool = False
    clipping: tuple[str, ...] = ()  # gradient clipping lines for the training step (reads `model`)
    outputs: list[OutputTraining] = field(default_factory=list)  # a model with several outputs
    functions: list[TensorFunction] = field(default_factory=list)  # the program's loss/metric defs, in torch

    def optimizer_lines(self, model_expr: str) -> list[str]:
        """The optimizer over the model's parameters, with the notes on it."""
        opt = self.optimizer_code.replace("{parameters}", f"{model_expr}.parameters()")
        lines = [f"# {line}" for note in self.notes for line in textwrap.wrap(note, 84)]
        return lines + [f"{self.optimizer_name} = {opt}"]

    def lines(self, model_expr: str) -> list[str]:
        lines = self.optimizer_lines(model_expr)
        if self.outputs:
            lines.append("# One loss per output, by Keras's output name; fit() adds them up, weighted.")
            items = ", ".join(f"{o.name!r}: {o.loss.code}" for o in self.outputs)
            lines.append(f"{self.loss_name} = {{{items}}}")
            return lines
        if self.loss.fused:
            lines.append(f"# The model returns logits: its final {self.loss.fused} is part of the loss.")
        if self.loss.keras_function:
            lines.append(f"# {self.loss.code}(y_true, y_pred) as Keras calls it; fit() averages its values.")
        lines.append(f"{self.loss_name} = {self.loss.code}")
        return lines

    @property
    def snippets(self) -> set[str]:
        losses = [o.loss for o in self.outputs] or [self.loss]
        return {loss.snippet for loss in losses if loss.snippet} | ({self.optimizer_snippet} - {None})

    def loss_spec(self) -> LossSpec:
        return LossSpec(self.loss_name, self.loss_key, self.loss.fused, self.loss.logits, self.loss.keras_function)


def last_activation(model: ModelIR) -> str | None:
    if not model.layers:
        return None
    last = model.layers[-1]
    if last.key == "Softmax" and last.args["axis"].value == -1:
        return "softmax"
    if "activation" in last.args:
        return last.args["activation"].value or None
    return None


def _sparse_embedding(layer) -> bool:
    """An Embedding whose gradient Keras on TensorFlow gets sparse (one row per token): without a
    regularizer, whose term would make it dense."""
    regularizer = layer.args.get("embeddings_regularizer")
    return layer.key == "Embedding" and (regularizer is None or regularizer.value is None)


def _keras_object(node, analysis: Analysis, resolver: Resolver, family: str):
    """(key, call or None, consumed statement or None) for an optimizer/loss argument."""
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        return node.evaluated_value, None, None
    if isinstance(node, cst.Name) and node.value in analysis.objects:
        obj = analysis.objects[node.value]
        if obj.key.startswith(family + "."):
            return obj.key, obj.call, obj.statement
    if isinstance(node, cst.Call):
        key = resolver.key(node.func)
        if key and key.startswith(family + "."):
            return key, node, None
    key = resolver.key(node)
    if key and key.startswith(family + "."):
        return key, None, None
    return None, None, None


def lower_compile(
    usage: Usage, model: ModelIR, analysis: Analysis, resolver: Resolver, env: Env, output_units,
    exact_optimizers: bool = True,
    changing_lr: bool = False,
    class_embeddings: bool = False,
) -> tuple[Compiled | None, list[Problem]]:
    """class_embeddings: the model holds an Embedding inside one of the program's layer classes."""
    args, _, problems = bind_arguments(usage.call, COMPILE, env, resolver, "compile", frozenset(_COMPILE_INERT))
    raw = {}
    for i, arg in enumerate(usage.call.args):
        name = arg.keyword.value if arg.keyword else (COMPILE[i].name if i < len(COMPILE) else None)
        raw[name] = arg.value
    for name in ("weighted_metrics",) if len(model.graph_outputs) > 1 else ("loss_weights", "weighted_metrics"):
        if args[name].value is not None:
            problems.append(Problem(usage.call, "K2T401", f"compile({name}=...) has no translation yet"))
    consumed = []
    # optimizer
    opt_node = raw.get("optimizer")
    if opt_node is None:
        key, call, stmt = "rmsprop", None, None
    else:
        key, call, stmt = _keras_object(opt_node, analysis, resolver, "optimizers")
    rule = optimizer_rule(key) if key else None
    optimizer_code = None
    optimizer_snippet = None
    sparse_gradients = False
    clipping: tuple[str, ...] = ()
    notes = []
    if rule is None:
        what = key or code_of(opt_node)
        problems.append(Problem(usage.call, "K2T401", f"optimizer {what} has no translation yet"))
    else:
        opt_args, _, opt_problems = (
            bind_arguments(call, rule.params, env, resolver, rule.name, frozenset({"name"}))
            if call is not None
            else bind_arguments(cst.Call(cst.Name("x")), rule.params, env, resolver, rule.name)
        )
        problems.extend(Problem(usage.call, p.code, p.message) for p in opt_problems)
        if not opt_args["learning_rate"].known:
            problems.append(
                Problem(usage.call, "K2T401", f"{rule.name}(learning_rate={opt_args['learning_rate'].code}): "
                        "learning-rate schedules have no translation yet")
            )
        else:
            try:
                lowering = lower_optimizer(
                    rule, opt_args, "{parameters}", exact_optimizers, changing_lr=changing_lr,
                    embeddings=class_embeddings or any(_sparse_embedding(n) for n in model.graph_nodes),
                )
            except Unsupported as exc:
                problems.append(Problem(usage.call, exc.code, str(exc)))
            else:
                optimizer_code, optimizer_snippet = lowering.code, lowering.snippet
                sparse_gradients = lowering.sparse_gradients
                clipping = lowering.clipping
                notes += [note for note in (lowering.note, lowering.embedding_note) if note is not None]
        if stmt is not None:
            consumed.append(stmt)
    # loss
    loss_node = raw.get("loss")
    loss = None
    loss_rule_name = ""
    outputs: list[OutputTraining] = []
    metrics: list[Metric] = []
    functions: list[TensorFunction] = []
    if loss_node is None:
        problems.append(Problem(usage.call, "K2T401", "compile() without a loss cannot train"))
    elif len(model.graph_outputs) > 1:
        outputs, output_problems = _lower_outputs(usage, model, raw, analysis, resolver, env, consumed, functions)
        problems += output_problems
        if outputs:
            loss, loss_rule_name = outputs[0].loss, outputs[0].loss_key
    else:
        loss, loss_rule_name, loss_problems = _lower_loss_of(loss_node, usage, analysis, resolver, env,
                                                             last_activation(model), consumed, functions)
        problems += loss_problems
        # metrics: each one is translated or reported on its own
        metrics_node = raw.get("metrics")
        if metrics_node is not None and loss is not None:
            metrics, metric_problems = lower_metrics(metrics_node, loss_rule_name, output_units, resolver, env,
                                                     analysis, functions)
            problems.extend(metric_problems)
    if optimizer_code is None or loss is None:
        return None, problems
    compiled = Compiled(
        optimizer_code, loss, metrics, loss_rule_name, notes=notes, consumed=consumed,
        optimizer_snippet=optimizer_snippet, sparse_gradients=sparse_gradients, clipping=clipping,
        outputs=outputs, functions=functions,
    )
    if outputs:
        compiled.loss_name = "loss_fns"
    if model.var != "model":  # one set of names per model: two models must not share an optimizer
        compiled.optimizer_name = f"{model.var}_optimizer"
        compiled.loss_name = f"{model.var}_{compiled.loss_name}"
    return compiled, problems


def _lower_loss_of(node, usage: Usage, analysis: Analysis, resolver: Resolver, env: Env, activation: str | None,
                   consumed: list, functions: list) -> tuple[LossLowering | None, str, list[Problem]]:
    """One Keras loss (a name, a function or a loss object) -> its torch lowering and rule name."""
    problems: list[Problem] = []
    key, call, stmt = _keras_object(node, analysis, resolver, "losses")
    rule = loss_rule(key) if key else None
    if rule is None and key is None and isinstance(node, cst.Name) and node.value in analysis.functions:
        # `loss=huber_fn`, a def of the program: its body in torch, called as Keras calls it.
        reason = _program_function(node.value, analysis, resolver, env, functions)
        if reason is not None:
            problems.append(Problem(usage.call, "K2T401", f"loss {node.value}: {reason}"))
            return None, "", problems
        return LossLowering(node.value, None, False, keras_function=True), node.value, problems
    if rule is None:
        problems.append(Problem(usage.call, "K2T401", f"loss {key or code_of(node)} has no translation yet"))
        return None, "", problems
    if call is not None:
        loss_args, _, loss_problems = bind_arguments(
            call, rule.params, env, resolver, rule.name, frozenset({"name", "reduction", "dtype"}),
        )
        problems.extend(Problem(usage.call, p.code, p.message) for p in loss_problems)
    else:
        loss_args, _, _ = bind_arguments(cst.Call(cst.Name("x")), rule.params, env, resolver, rule.name)
    values = {k: v.value for k, v in loss_args.items()}
    loss = None
    try:
        loss = lower_loss(rule, values, activation)
    except Unsupported as exc:
        problems.append(Problem(usage.call, exc.code, str(exc)))
    if stmt is not None:
        consumed.append(stmt)
    return loss, rule.name, problems


def output_layers(model: ModelIR) -> list:
    """The layer call that produces each of the model's outputs (None for one k2t cannot name)."""
    return [next((n for n in reversed(model.graph_nodes) if n.output == var), None) for var in model.graph_outputs]


def _per_output(node, names: list[str], what: str, env: Env) -> list | None:
    """compile()'s loss/loss_weights/metrics for a model with several outputs, one entry per output,
    as Keras matches them: a dict by output name, a list in output order, or one value for all
    (losses only; for metrics a flat list is matched in order)."""
    if isinstance(node, cst.Dict):
        by_name = {}
        for element in node.elements:
            if not isinstance(element, cst.DictElement):
                return None
            key = evaluate(element.key, env).value
            if not isinstance(key, str):
                return None
            by_name[key] = element.value
        return [by_name[name] for name in names] if set(by_name) == set(names) else None
    if isinstance(node, (cst.List, cst.Tuple)):
        values = [e.value for e in node.elements]
        return values if len(values) == len(names) else None
    return [node] * len(names) if what == "loss" else None


def _lower_outputs(usage: Usage, model: ModelIR, raw: dict, analysis: Analysis, resolver: Resolver, env: Env,
                   consumed: list, functions: list) -> tuple[list[OutputTraining], list[Problem]]:
    """compile() of a model with several outputs: a loss, a weight and metrics per output.

    The losses take the outputs as the model returns them (probabilities where the output layer
    has a softmax or sigmoid): the activations stay in forward(), one model for every output."""
    layers = output_layers(model)
    names = [layer.name if layer is not None else None for layer in layers]
    if None in names or len(set(names)) != len(names):
        return [], [Problem(usage.call, "K2T401", (
            "compile() of a model with several outputs needs each output layer's name= (Keras names the "
            "per-output losses and metrics after them)"))]
    problems: list[Problem] = []
    losses = _per_output(raw["loss"], names, "loss", env)
    if losses is None:
        return [], [Problem(usage.call, "K2T401", f"compile(loss=...) does not give one loss per output ({', '.join(names)})")]
    weights = [1.0] * len(names)
    if raw.get("loss_weights") is not None:
        given = _per_output(raw["loss_weights"], names, "loss_weights", env)
        values = [evaluate(node, env).value for node in given or []]
        if given is None or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return [], [Problem(usage.call, "K2T401", "compile(loss_weights=...) must give one number per output")]
        weights = [float(v) for v in values]
    metric_nodes: list = [None] * len(names)
    if raw.get("metrics") is not None and evaluate(raw["metrics"], env).value is not None:
        metric_nodes = _per_output(raw["metrics"], names, "metrics", env)
        if metric_nodes is None:
            problems.append(Problem(raw["metrics"], "K2T401", (
                f"metrics=...: Keras wants a dict by output name or one entry per output ({', '.join(names)})")))
            metric_nodes = [None] * len(names)
    outputs = []
    for name, layer, loss_node, weight, metric_node in zip(names, layers, losses, weights, metric_nodes):
        loss, key, loss_problems = _lower_loss_of(loss_node, usage, analysis, resolver, env, None, consumed, functions)
        problems += loss_problems
        if loss is None:
            return [], problems
        metrics: list[Metric] = []
        if metric_node is not None and not (isinstance(metric_node, cst.Name) and metric_node.value == "None"):
            units = layer.args["units"].value if "units" in layer.args else None
            metrics, metric_problems = lower_metrics(metric_node, key, units, resolver, env, analysis, functions)
            problems += metric_problems
            metrics = [dataclasses.replace(m, name=f"{name}_{m.name}") for m in metrics]
        outputs.append(OutputTraining(name, loss, key, weight, metrics))
    return outputs, problems


def lower_metrics(node, loss_key: str, output_units, resolver: Resolver, env: Env, analysis: Analysis,
                  functions: list) -> tuple[list[Metric], list[Problem]]:
    """compile(metrics=...): names, metric functions and metric objects; one problem per metric
    without a translation, the others kept. functions: where the program's metric defs translated
    to torch are added."""
    problems: list[Problem] = []
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):  # Keras 2 took a single name
        elements = [node]
    elif isinstance(node, (cst.List, cst.Tuple)):
        elements = [e.value for e in node.elements]
    else:
        return [], [Problem(node, "K2T401", f"metrics={code_of(node)}: only a list of metrics can be translated")]
    metrics: list[Metric] = []
    for element in elements:
        value = evaluate(element, env)
        name = kind = None
        threshold = 0.5
        if isinstance(value.value, str):
            name = value.value
            if name in ACCURACY:
                kind = resolve_accuracy(loss_key == "sparse_categorical_crossentropy", output_units)
            else:
                kind = METRIC_KINDS.get(name)
        else:
            call = element if isinstance(element, cst.Call) else None
            key = resolver.key(call.func if call is not None else element) or ""
            short = key.removeprefix("metrics.")
            if key.startswith("metrics.") and short in METRIC_CLASSES and call is not None:
                kind, name = METRIC_CLASSES[short]
                for arg in call.args:
                    keyword = arg.keyword.value if arg.keyword else None
                    given = evaluate(arg.value, env)
                    if keyword == "name" and isinstance(given.value, str):
                        name = given.value
                    elif keyword == "threshold" and isinstance(given.value, (int, float)):
                        threshold = float(given.value)
                    elif keyword not in ("dtype",):
                        kind = None
            elif key.startswith("metrics.") and short in METRIC_KINDS:
                kind, name = METRIC_KINDS[short], short
            elif not key and isinstance(element, cst.Name) and element.value in analysis.functions:
                reason = (
                    "a metric function on integer class labels is not translated yet"
                    if loss_key == "sparse_categorical_crossentropy"
                    else _program_function(element.value, analysis, resolver, env, functions)
                )
                if reason is not None:
                    problems.append(Problem(element, "K2T401", f"metric {element.value}: {reason}; the other metrics are kept"))
                    continue
                kind, name = "function", element.value  # Keras logs it under the function's name
        if kind is None:
            problems.append(Problem(element, "K2T401", f"metric {code_of(element)} has no translation yet; the other metrics are kept"))
            continue
        metrics.append(Metric(name, kind, threshold))
    return metrics, problems


def _program_function(name: str, analysis: Analysis, resolver: Resolver, env: Env, functions: list) -> str | None:
    """The program's loss or metric def `name` in torch, added to `functions` with the defs it calls
    (each once); or why it stays as it is."""
    if not analysis.only_in_compile(name):
        return "the program also uses the function outside compile() (on arrays, maybe), so it is not rewritten for tensors"
    # The functions a loss may call in torch: those that only losses and metrics use.
    callable_ = {n: f for n, f in analysis.functions.items() if analysis.only_in_compile(n)}
    try:
        made = translate_tensor_function(analysis.functions[name], resolver, env, 2, callable_)
    except Refused as exc:
        return str(exc)
    functions += [f for f in made if all(f.definition is not g.definition for g in functions)]
    return None


def torch_weights_path(code: str) -> str:
    """The path a translation saves (or loads) a state_dict at, for the path of a Keras save(),
    save_weights(), load_weights() or ModelCheckpoint: named for what it holds, '.pt'.

    The suffix becomes '.pt' ('m.keras', 'm.h5', 'm.hdf5' -> 'm.pt', 'm.weights.h5' ->
    'm.weights.pt'); a name without one gets '.pt'. Paths built in the code are rewritten where their
    last part is written out (f-strings, os.path.join, pathlib's /, +, %, .format, with_suffix);
    any other expression is wrapped: os.path.splitext(path)[0] + ".pt", the same name at run time.
    """
    try:
        node = cst.parse_expression(code)
    except cst.ParserSyntaxError:
        return code
    renamed = _torch_path(node)
    return code_of(renamed) if renamed is not None else f'os.path.splitext({code})[0] + ".pt"'


_PATH_CALLS = {"os.path.join", "path.join", "join", "Path", "pathlib.Path", "PurePath", "str", "os.fspath"}


def _renamed(text: str) -> str:
    """os.path.splitext(text)[0] + '.pt', where a template's {field:.2f} is not a suffix."""
    suffix = re.search(r"\.\w+$", text)
    return text[: suffix.start()] + ".pt" if suffix else text + ".pt"


def _torch_path(node: cst.BaseExpression) -> cst.BaseExpression | None:
    """The path expression renamed (torch_weights_path), or None where its name is not written out."""
    if isinstance(node, cst.SimpleString):
        body = node.value[len(node.prefix) + len(node.quote) : -len(node.quote)]
        return node.with_changes(value=f"{node.prefix}{node.quote}{_renamed(body)}{node.quote}")
    if isinstance(node, cst.ConcatenatedString):
        right = _torch_path(node.right)
        return node.with_changes(right=right) if right is not None else None
    if isinstance(node, cst.FormattedString):
        last = node.parts[-1] if node.parts else None
        if not isinstance(last, cst.FormattedStringText):
            return None
        return node.with_changes(parts=[*node.parts[:-1], last.with_changes(value=_renamed(last.value))])
    if isinstance(node, cst.BinaryOperation):
        if isinstance(node.operator, (cst.Divide, cst.Add)):  # pathlib's dir / "m.h5", "dir/" + name
            right = _torch_path(node.right)
            return node.with_changes(right=right) if right is not None else None
        if isinstance(node.operator, cst.Modulo):  # "%s.h5" % name
            left = _torch_path(node.left)
            return node.with_changes(left=left) if left is not None else None
        return None
    if isinstance(node, cst.Call) and node.args and not any(a.star or a.keyword for a in node.args):
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "with_suffix":
            return node.with_changes(args=[node.args[0].with_changes(value=cst.SimpleString('".pt"'))])
        if isinstance(func, cst.Attribute) and func.attr.value == "format":  # "{}.h5".format(name)
            template = _torch_path(func.value)
            return node.with_changes(func=func.with_changes(value=template)) if template is not None else None
        if code_of(func) in _PATH_CALLS:
            last = _torch_path(node.args[-1].value)
            if last is None:
                return None
            return node.with_changes(args=[*node.args[:-1], node.args[-1].with_changes(value=last)])
    return None


def explicit_arguments(call: cst.Call, names: list[str]) -> tuple[dict[str, cst.BaseExpression], list[str]]:
    """Arguments as written, keyed by Keras parameter name (no defaults filled)."""
    out: dict[str, cst.BaseExpression] = {}
    bad: list[str] = []
    position = 0
    for arg in call.args:
        if arg.star:
            bad.append("*args/**kwargs")
        elif arg.keyword is None:
            if position < len(names):
                out[names[position]] = arg.value
            else:
                bad.append("extra positional arguments")
            position += 1
        else:
            out[arg.keyword.value] = arg.value
    return out, bad


def _read_elsewhere(name: str, statement: cst.CSTNode, scope: cst.CSTNode) -> bool:
    """Whether code of the scope other than ``statement`` mentions ``name`` (or a function
    declares it global)."""
    inside = {id(n) for n in cstwalk.iter_nodes(statement)}
    return any(
        (isinstance(n, cst.Name) and n.value == name and id(n) not in inside)
        or (isinstance(n, cst.Global) and any(g.name.value == name for g in n.names))
        for n in cstwalk.iter_nodes(scope)
    )


def lower_usage(
    usage: Usage, compiled: Compiled | None, model_expr: str, env: Env, loops: ModelLoops, fresh
) -> tuple[str | list[str] | None, set[str], list[Problem], list[cst.CSTNode]]:
    """A model method call -> (its replacement: an expression, or for fit() the statements that
    replace its line; the snippets it needs; problems; the argument nodes embedded as {argN})."""
    method = usage.method
    problems: list[Problem] = []
    if method == "summary":
        return f"print({model_expr})", set(), problems, []
    if method in ("save", "save_weights", "load_weights"):
        given = [a.value for a in usage.call.args if a.keyword is None or a.keyword.value == "filepath"]
        path = torch_weights_path(code_of(given[0])) if given else '"model.pt"'
        if method == "load_weights":
            return f"{model_expr}.load_state_dict(torch.load({path}))", set(), problems, []
        return f"torch.save({model_expr}.state_dict(), {path})", set(), problems, []
    if method not in SIGNATURES:
        problems.append(Problem(usage.call, "K2T302", f"model.{method}() has no translation yet"))
        return None, set(), problems, []
    names, supported = SIGNATURES[method]
    args, bad = explicit_arguments(usage.call, names)
    args, dataset_problem = datasets.expand(method, args, usage.datasets)  # tf.data pipelines: their arrays
    if dataset_problem:
        problems.append(Problem(usage.call, "K2T402", f"{method}(): {dataset_problem}"))
    for what in bad:
        problems.append(Problem(usage.call, "K2T402", f"{method}(): {what} cannot be translated statically"))
    for name, node in args.items():
        if name in supported:
            continue
        value = evaluate(node, env)
        if value.known and value.value in _IGNORED_WHEN.get(name, ()):
            continue
        if name not in names:
            problems.append(Problem(node, "K2T402", f"{method}({name}=...) is not a Keras argument"))
        else:
            problems.append(Problem(node, "K2T402", f"{method}({name}=...) has no translation yet"))
    if method in ("fit", "evaluate") and "y" not in args and not dataset_problem:
        problems.append(
            Problem(usage.call, "K2T402", f"{method}() without y (a tf.data dataset or generator?) has no translation yet")
        )
    if loops.outputs:
        weighted = [name for name in ("sample_weight", "class_weight") if name in args]
        triple = args.get("validation_data")
        if isinstance(triple, (cst.Tuple, cst.List)) and len(triple.elements) == 3:
            weighted.append("validation_data's sample weights")
        for name in weighted:
            problems.append(Problem(args.get(name, usage.call), "K2T402", (
                f"{method}(): {name.removesuffix('=')} of a model with several outputs has no translation yet")))
    if method in ("fit", "evaluate") and compiled is None:
        problems.append(Problem(usage.call, "K2T403", f"model.{method}() needs a translated compile() in reach"))
    if problems:
        return None, set(), problems, []
    embedded: list[cst.CSTNode] = []  # argument nodes, written back after their own rewriting

    def embed(node: cst.CSTNode) -> str:
        embedded.append(node)
        return "{arg%d}" % (len(embedded) - 1)

    def given(name: str) -> str | None:
        """The argument as code, or None where it is absent or a value Keras ignores."""
        if name not in args:
            return None
        node = args[name]
        value = evaluate(node, env)
        if value.known and value.value in _IGNORED_WHEN.get(name, ()):
            return None
        if isinstance(node, (cst.Integer, cst.Float)) or (isinstance(node, cst.Name) and node.value in ("True", "False")):
            return code_of(node)  # a literal: the loop is specialised to its value
        return embed(node)

    if not isinstance(args.get("x"), (cst.List, cst.Tuple)):
        loops.dict_inputs = True  # inputs by keras.Input(name=...), or a list held in a variable
    if "y" in args and not isinstance(args["y"], (cst.List, cst.Tuple)):
        loops.dict_targets = True  # targets by output name, or a list held in a variable
    if method == "predict":
        return loops.predict_expression(model_expr, embed(args["x"]), given("batch_size")), set(), problems, embedded
    if method == "evaluate":
        return_dict = "return_dict" in args and evaluate(args["return_dict"], env).value is True
        code = loops.evaluate_expression(
            model_expr, embed(args["x"]), embed(args["y"]), given("batch_size"), given("sample_weight"), return_dict
        )
        return code, set(), problems, embedded
    # fit(): the epoch loop replaces the statement
    statement = usage.statement.body[0] if len(usage.statement.body) == 1 else None
    target = None
    if isinstance(statement, cst.Assign) and statement.value is usage.call and len(statement.targets) == 1:
        target = code_of(statement.targets[0].target)
        if isinstance(statement.targets[0].target, cst.Name) and not _read_elsewhere(target, statement, usage.scope):
            target = None  # `history = model.fit(...)` that nothing reads: no History to keep
    elif not (isinstance(statement, cst.Expr) and statement.value is usage.call):
        problems.append(Problem(usage.call, "K2T402", "fit() inside an expression has no translation yet; call it on its own line"))
        return None, set(), problems, []
    call = FitCall(x=embed(args["x"]), y=embed(args["y"]), target=target)
    for name in ("batch_size", "epochs", "verbose", "validation_split", "shuffle", "initial_epoch", "callbacks",
                 "class_weight", "sample_weight", "validation_freq", "steps_per_epoch"):
        code = given(name)
        if code is not None:
            setattr(call, name, code)
    if "validation_data" in args:
        node = args["validation_data"]
        if isinstance(node, (cst.Tuple, cst.List)) and len(node.elements) in (2, 3):
            call.validation_data = tuple(embed(e.value) for e in node.elements)
            if not isinstance(node.elements[0].value, (cst.List, cst.Tuple)):
                loops.dict_inputs = True
            if not isinstance(node.elements[1].value, (cst.List, cst.Tuple)):
                loops.dict_targets = True
        elif evaluate(node, env).value is not None:
            call.validation_data_expr = embed(node)
    if call.batch_size == "None":
        call.batch_size = "32"
    return loops.fit_lines(model_expr, call, fresh), ({"History"} if target else set()), problems, embedded
