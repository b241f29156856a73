"""Lower compile/fit/evaluate/predict (and summary/save/load) into explicit torch statements.

compile() becomes an optimizer, a loss and a metrics dict; fit/evaluate/predict become calls of the
readable helpers copied from rules/snippets.py, with Keras's argument names and defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from k2t.analyse import Analysis, ModelIR, Problem, Usage, bind_arguments
from k2t.lower import LoweredModel
from k2t.names import Resolver
from k2t.rules.activations import OUTPUT_ACTIVATIONS
from k2t.rules.losses import LossLowering, loss_rule, lower_loss
from k2t.rules.metrics import ACCURACY, METRICS, resolve_accuracy
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
         "initial_epoch", "callbacks"},
    ),
    "evaluate": (
        "x y batch_size verbose sample_weight steps callbacks return_dict".split(),
        {"x", "y", "batch_size", "verbose"},
    ),
    "predict": ("x batch_size verbose steps callbacks".split(), {"x", "batch_size"}),
}
_IGNORED_WHEN = {"verbose": ("auto",), "batch_size": (None,), "callbacks": (None, [], ())}


@dataclass
class Compiled:
    """The torch objects a compile() stands for, and the names they are bound to."""

    optimizer_code: str
    loss: LossLowering
    metrics: dict[str, str]  # Keras name -> metric expression
    optimizer_name: str = "optimizer"
    loss_name: str = "loss_fn"
    metrics_name: str = "metrics"
    notes: list[str] = field(default_factory=list)
    consumed: list[cst.SimpleStatementLine] = field(default_factory=list)

    def lines(self, model_expr: str) -> list[str]:
        opt = self.optimizer_code.replace("{parameters}", f"{model_expr}.parameters()")
        lines = [f"# {note}" for note in self.notes]
        lines.append(f"{self.optimizer_name} = {opt}")
        if self.loss.fused:
            lines.append(f"# The model returns logits: its final {self.loss.fused} is part of the loss.")
        lines.append(f"{self.loss_name} = {self.loss.code}")
        if self.metrics:
            items = ", ".join(f"{name!r}: {expr}" for name, expr in self.metrics.items())
            lines.append(f"{self.metrics_name} = {{{items}}}")
        return lines


def last_activation(model: ModelIR) -> str | None:
    if not model.layers:
        return None
    last = model.layers[-1]
    if last.key == "Softmax" and last.args["axis"].value == -1:
        return "softmax"
    if "activation" in last.args:
        return last.args["activation"].value or None
    return None


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
    usage: Usage, model: ModelIR, analysis: Analysis, resolver: Resolver, env: Env, output_units
) -> tuple[Compiled | None, list[Problem]]:
    args, _, problems = bind_arguments(usage.call, COMPILE, env, resolver, "compile", frozenset(_COMPILE_INERT))
    raw = {}
    for i, arg in enumerate(usage.call.args):
        name = arg.keyword.value if arg.keyword else (COMPILE[i].name if i < len(COMPILE) else None)
        raw[name] = arg.value
    for name in ("loss_weights", "weighted_metrics"):
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
                optimizer_code = lower_optimizer(rule, opt_args, "{parameters}")
            except Unsupported as exc:
                problems.append(Problem(usage.call, exc.code, str(exc)))
            if rule.note:
                notes.append(rule.note)
        if stmt is not None:
            consumed.append(stmt)
    # loss
    loss_node = raw.get("loss")
    loss = None
    if loss_node is None:
        problems.append(Problem(usage.call, "K2T401", "compile() without a loss cannot train"))
    else:
        key, call, stmt = _keras_object(loss_node, analysis, resolver, "losses")
        rule = loss_rule(key) if key else None
        if rule is None:
            problems.append(Problem(usage.call, "K2T401", f"loss {key or code_of(loss_node)} has no translation yet"))
        else:
            if call is not None:
                loss_args, _, loss_problems = bind_arguments(
                    call, rule.params, env, resolver, rule.name,
                    frozenset({"name", "reduction", "dtype"}),
                )
                problems.extend(Problem(usage.call, p.code, p.message) for p in loss_problems)
            else:
                loss_args, _, _ = bind_arguments(cst.Call(cst.Name("x")), rule.params, env, resolver, rule.name)
            values = {k: v.value for k, v in loss_args.items()}
            try:
                loss = lower_loss(rule, values, last_activation(model))
            except Unsupported as exc:
                problems.append(Problem(usage.call, exc.code, str(exc)))
            if stmt is not None:
                consumed.append(stmt)
    # metrics
    metrics: dict[str, str] = {}
    metrics_node = raw.get("metrics")
    if metrics_node is not None and loss is not None:
        value = evaluate(metrics_node, env).value
        if isinstance(value, str):  # metrics="accuracy": Keras 2 took a single name
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(m, str) for m in value):
            problems.append(Problem(usage.call, "K2T401", "metrics other than a list of names have no translation yet"))
        else:
            for name in value:
                if name in ACCURACY:
                    function = resolve_accuracy(rule.accuracy, output_units)
                else:
                    function = METRICS.get(name)
                if function is None:
                    problems.append(Problem(usage.call, "K2T401", f"metric {name!r} has no translation yet"))
                    continue
                if function == "binary_accuracy" and loss.logits:
                    # logits > 0 is probability > 0.5
                    metrics[name] = "lambda output, target: binary_accuracy(output, target, threshold=0.0)"
                else:
                    metrics[name] = function
    if optimizer_code is None or loss is None:
        return None, problems
    compiled = Compiled(optimizer_code, loss, metrics, notes=notes, consumed=consumed)
    if model.var != "model":  # one set of names per model: two models must not share an optimizer
        compiled.optimizer_name = f"{model.var}_optimizer"
        compiled.loss_name = f"{model.var}_loss_fn"
        compiled.metrics_name = f"{model.var}_metrics"
    return compiled, problems


def torch_weights_path(code: str) -> str:
    """A string literal naming a Keras weights file ('.h5', '.keras', ...) -> the same with '.pt'."""
    return re.sub(r"\.(weights\.h5|h5|keras|hdf5)(['\"])$", r".pt\2", code)


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


def lower_usage(
    usage: Usage, lowered: LoweredModel, compiled: Compiled | None, model_expr: str, env: Env
) -> tuple[str | None, set[str], list[Problem]]:
    """The replacement expression for a model method call, the snippets it needs, and problems."""
    method = usage.method
    problems: list[Problem] = []
    if method == "summary":
        return f"print({model_expr})", set(), problems, []
    if method in ("save", "save_weights", "load_weights"):
        path = code_of(usage.call.args[0].value) if usage.call.args else '"model.pt"'
        path = torch_weights_path(path)
        if method == "load_weights":
            return f"{model_expr}.load_state_dict(torch.load({path}))", set(), problems, []
        return f"torch.save({model_expr}.state_dict(), {path})", set(), problems, []
    if method not in SIGNATURES:
        problems.append(Problem(usage.call, "K2T302", f"model.{method}() has no translation yet"))
        return None, set(), problems, []
    names, supported = SIGNATURES[method]
    args, bad = explicit_arguments(usage.call, names)
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
            problems.append(Problem(node, "K2T402", f"{method}({name}=...) has no translation yet; it was left out"))
    if method in ("fit", "evaluate") and "y" not in args:
        problems.append(
            Problem(usage.call, "K2T402", f"{method}() without y (a tf.data dataset or generator?) has no translation yet")
        )
        return None, set(), problems, []
    if method in ("fit", "evaluate") and compiled is None:
        problems.append(Problem(usage.call, "K2T403", f"model.{method}() needs a translated compile() in reach"))
        return None, set(), problems, []
    parts = [model_expr]
    embedded: list[cst.CSTNode] = []  # argument nodes, written back after their own rewriting

    def embed(node: cst.CSTNode) -> str:
        embedded.append(node)
        return "{arg%d}" % (len(embedded) - 1)

    parts += [embed(args[n]) for n in ("x", "y") if n in args]
    if method == "fit":
        parts += [f"optimizer={compiled.optimizer_name}", f"loss_fn={compiled.loss_name}"]
    if method == "evaluate":
        parts.append(f"loss_fn={compiled.loss_name}")
    if method in ("fit", "evaluate") and compiled.metrics:
        parts.append(f"metrics={compiled.metrics_name}")
    for name in names:
        if name in ("x", "y") or name not in args or name not in supported:
            continue
        value = evaluate(args[name], env)
        if value.known and value.value in _IGNORED_WHEN.get(name, ()):
            continue
        parts.append(f"{name}={embed(args[name])}")
    if method == "predict" and compiled is not None and compiled.loss.fused:
        fused = compiled.loss.fused
        activation = "torch.sigmoid" if fused == "sigmoid" else (
            "lambda logits: " + OUTPUT_ACTIVATIONS[fused].format(x="logits")
        )
        parts.append(f"output_activation={activation}")
    if lowered.input_dtype == "int64":
        parts.append("input_dtype=torch.long")
    if lowered.channels_first:
        parts.append("channels_first=True")
    return f"{method}({', '.join(parts)})", {method}, problems, embedded
