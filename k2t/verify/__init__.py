"""Verify a translation numerically: build both models, copy the Keras weights, compare outputs.

    Keras source --translate--> which models exist, their torch classes and the weight map
    Keras source --build.py---> the Keras model (construction statements only, no training)
    torch source --build.py---> the torch model (definitions only)
    randomised Keras weights --rules' transfer--> torch state_dict
    deterministic sample inputs -> outputs of both, per model and per layer
    --train-steps N: the program's compile() and TORCH.py's training code, N steps on the same
    batches; loss, gradients and weights compared per step (training.py)

The same rules that wrote the code decide how weights move (k2t.rules), so converter and verifier
cannot disagree. TensorFlow and torch are imported here only, lazily.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field

from k2t.translate import ModelReport, translate_module
from k2t.verify.build import (
    Plan,
    Source,
    Unverifiable,
    compile_plan,
    execute,
    keep_needed_imports,
    run_compile,
    scope_constants,
    set_hint,
)

ATOL = 1e-5
RTOL = 1e-4


@dataclass
class Verdict:
    name: str
    status: str  # "equivalent", "different" or "unverifiable"
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    first_divergent_layer: str | None = None
    reason: str | None = None
    executed: str | None = None
    layers: list | None = None  # [(keras layer name, max abs error)] for comparable layers
    training: TrainingVerdict | None = None  # with --train-steps

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("layers")
        data["layers"] = [{"name": n, "max_abs_error": e} for n, e in (self.layers or [])]
        data.pop("training")
        if self.training is not None:
            data["training"] = asdict(self.training)
        return data


@dataclass
class TrainingVerdict:
    """verify --train-steps: both models trained the same steps on the same batches."""

    steps: int  # requested
    status: str  # "equivalent", "different", "unverifiable" or "skipped"
    steps_run: int = 0
    max_loss_diff: float | None = None
    max_grad_diff: float | None = None
    max_weight_diff: float | None = None
    # the largest difference as a fraction of what the tolerance allows there (1.0: at tolerance)
    tolerance_used: dict | None = None
    # {"step", "quantity" (loss, gradient, weight, running statistic, torch step, ...), "keras"
    # (Keras weight path), "torch" (state_dict key), "max_abs_diff", "allowed", "detail"}
    first_divergence: dict | None = None
    reason: str | None = None
    executed: str | None = None
    notes: list = field(default_factory=list)
    per_step: list = field(default_factory=list)  # {"step", "keras_loss", "torch_loss", "loss_diff", ...}


def _quiet_frameworks() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def verify_sources(
    keras_text: str,
    torch_text: str,
    keras_path: str = "keras.py",
    torch_path: str = "torch.py",
    atol: float = ATOL,
    rtol: float = RTOL,
    seed: int = 0,
    train_steps: int = 0,
    input_shape: tuple | None = None,
    values: dict | None = None,
) -> list[Verdict]:
    """values: module-level names the program computes from its data (`num_classes`), given by
    the user (--set) and bound before the models are built."""
    _quiet_frameworks()
    keras_source = Source(keras_text, keras_path)
    torch_source = Source(torch_text, torch_path)
    result = translate_module(keras_text, keras_source.module)
    verdicts = []
    for model in result.untranslated:
        reason = "k2t could not translate this model (see the convert diagnostics)"
        verdicts.append(Verdict(model.var, "unverifiable", reason=reason))
    models = [c for c in result.classes if c.kind == "model"]
    if not result.models and not result.untranslated and not models:
        verdicts.append(Verdict("<file>", "unverifiable", reason="no Keras model (Sequential, functional or subclassed) found"))
    for model in result.models:
        if model.ir.kind != "class":  # subclassed models: below, from their class reports
            verdicts.append(_verify_model(model, keras_source, torch_source, atol, rtol, seed, train_steps,
                                          result.models, input_shape, values or {}))
    reports = {c.name: c for c in result.classes}
    instances = {m.var: m for m in result.models if m.ir.kind == "class"}
    for report in models:
        verdicts.append(_verify_class(
            report, reports, instances.get(report.instance), keras_source, torch_source, atol, rtol, seed,
            input_shape, train_steps, values or {},
        ))
    return verdicts


def _verify_class(report, reports, model, keras_source, torch_source, atol, rtol, seed, input_shape=None,
                  train_steps=0, values=None) -> Verdict:
    """A subclassed model: built from its module-level instance (`model = Net(...)`)."""
    import libcst as cst

    from k2t.values import evaluate
    from k2t.verify import classes
    from k2t.verify.training import TRAIN_BATCH

    name = report.instance or report.name
    if report.instance is None:
        return Verdict(name, "unverifiable", reason=f"the program creates no instance of {report.name} at module level")
    creation = next(
        s for s in keras_source.module.body
        if isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], cst.Assign)
        and any(isinstance(t.target, cst.Name) and t.target.value == report.instance for t in s.body[0].targets)
    )
    shape = input_shape
    if shape is None and report.built is not None:
        from k2t.classes import module_constants

        built = evaluate(cst.parse_expression(report.built), module_constants(keras_source.module))
        shape = tuple(built.value[1:]) if built.known else None
    if shape is None:
        return Verdict(name, "unverifiable", reason=(
            f"the input shape of {report.name} is known only from data: give it with --input-shape"))
    training_plan = None
    if train_steps and model is not None:
        try:
            training_plan = compile_plan(keras_source, model)
        except Exception as exc:  # noqa: BLE001 - reported as the training's verdict
            training_plan = exc
    try:
        construction = keras_source.code([creation])
        keras_plan = keep_needed_imports(
            keras_source, keras_source.prelude(with_definitions=True), construction + getattr(training_plan, "code", "")
        )
        namespace: dict = {"__name__": "k2t_verify_keras", **(values or {})}
        execute(keras_source.code(keras_plan.statements) + construction, namespace, keras_source.path)
        keras_model = namespace[report.instance]
        lines = keras_plan.lines + [(*keras_source.span(creation), "model construction")]
        executed = f"{keras_source.path}: " + _describe(lines)
        torch_plan = keep_needed_imports(torch_source, torch_source.prelude(with_definitions=True))
        executed += f"; {torch_source.path}: " + torch_plan.describe()
        torch_ns: dict = {"__name__": "k2t_verify_torch"}
        execute(torch_source.code(torch_plan.statements) + construction, torch_ns, torch_source.path)
        torch_model = torch_ns[report.instance]
    except Unverifiable as exc:
        return Verdict(name, "unverifiable", reason=str(exc))
    try:
        verdict = classes.compare(name, keras_model, torch_model, report, reports, shape, executed, atol, rtol, seed)
    except Exception as exc:  # noqa: BLE001 - a verifier bug must not pass for a verdict
        return Verdict(name, "unverifiable", reason=f"internal error in the verifier: {type(exc).__name__}: {exc}",
                       executed=executed)
    if not train_steps:
        return verdict
    if model is None or model.compiled is None or verdict.status != "equivalent":
        reason = "the forward pass is not equivalent (see reason)" if verdict.status != "equivalent" else (
            "the program never compiles this model: nothing to train")
        verdict.training = TrainingVerdict(train_steps, "skipped", reason=reason)
        return verdict
    weights = classes.mapping(keras_model, report, reports)
    vocabulary = classes.vocabulary_of(keras_model, report)
    verdict.training = _verify_training(
        model, training_plan, namespace, keras_model, torch_source, torch_ns, torch_model, train_steps, atol, rtol,
        seed, mapping=(weights.keras, weights.lowered, lambda rng: [classes.sample(shape, rng, vocabulary, TRAIN_BATCH)]),
    )
    if verdict.training.status == "different":
        verdict.status = "different"
    elif verdict.training.status == "unverifiable":
        verdict.status = "unverifiable"
    return verdict


def _verify_model(model: ModelReport, keras_source, torch_source, atol, rtol, seed, train_steps=0,
                  reports: list = (), input_shape: tuple | None = None, values: dict | None = None) -> Verdict:
    from k2t.verify import compare  # imports tensorflow and torch

    ir = model.ir
    name = model.var if model.builder is None else f"{model.builder}()"
    if model.lowered.untranslated:  # its UntranslatedLayer modules raise until someone writes them
        from k2t.values import code_of

        layers = ", ".join(code_of(p.node) for p in model.lowered.untranslated)
        return Verdict(name, "unverifiable", reason=f"the torch model keeps layers k2t could not translate "
                       f"as modules that raise NotImplementedError: {layers}")
    try:
        construction, lines = _keras_construction(model, keras_source, reports, input_shape=input_shape)
        training_plan = None
        if train_steps:
            try:
                training_plan = compile_plan(keras_source, model)
            except Exception as exc:  # noqa: BLE001 - reported as the training's verdict
                training_plan = exc
        # The program's own layer classes, where the model uses them, are defined first.
        custom = any(n.key.startswith("Custom:") for n in ir.graph_nodes)
        keras_plan = keep_needed_imports(
            keras_source, keras_source.prelude(with_definitions=custom),
            construction + " ".join(model.ctor_args) + getattr(training_plan, "code", ""),
        )
        code = keras_source.code(keras_plan.statements) + construction
        executed = f"{keras_source.path}: " + _describe(keras_plan.lines + lines)
        namespace: dict = {"__name__": "k2t_verify_keras", **(values or {})}
        try:
            execute(code, namespace, keras_source.path)
        except Unverifiable as exc:
            raise Unverifiable(_without_default(ir, str(exc), input_shape)) from None
        keras_model = namespace[ir.var]
        if ir.kind == "sequential" and not keras_model.built:
            # Built without an input shape: built with the shape the translation read (from the
            # model using it as a layer), or else the one given with --input-shape.
            shape = tuple(model.lowered.input_shape)
            if None in shape:
                any_rank = bool(ir.graph_nodes) and ir.graph_nodes[0].key == "Flatten"  # takes what it is given
                if input_shape is None or (len(input_shape) != len(shape) and not any_rank):
                    raise Unverifiable(
                        f"{ir.var}'s input shape is known only from data: give it with --input-shape "
                        f"({len(shape)} sizes, channels last)"
                    )
                shape = tuple(input_shape)
            keras_model.build((None, *shape))

        torch_plan = keep_needed_imports(torch_source, torch_source.prelude(with_definitions=True))
        executed += f"; {torch_source.path}: " + torch_plan.describe()
        torch_ns: dict = {"__name__": "k2t_verify_torch"}
        execute(torch_source.code(torch_plan.statements), torch_ns, torch_source.path)
        if model.class_name not in torch_ns:
            return Verdict(name, "different", reason=f"{torch_source.path} defines no class {model.class_name}",
                           executed=executed)
        try:
            torch_model = _torch_model(model, namespace, torch_ns)
        except Unverifiable:
            raise
        except Exception as exc:  # noqa: BLE001 - the torch file's own construction failed
            return Verdict(name, "different", reason=f"building the torch model failed: {type(exc).__name__}: {exc}",
                           executed=executed)
    except Unverifiable as exc:
        return Verdict(name, "unverifiable", reason=str(exc))
    try:
        verdict = compare.compare(name, keras_model, torch_model, model.lowered, ir, executed, atol, rtol, seed)
    except Exception as exc:  # noqa: BLE001 - a verifier bug must not pass for a verdict
        reason = f"internal error in the verifier: {type(exc).__name__}: {exc}"
        return Verdict(name, "unverifiable", reason=reason, executed=executed)
    if train_steps:
        transferred = verdict.status == "equivalent" or verdict.layers
        if not transferred:
            verdict.training = TrainingVerdict(train_steps, "skipped", reason="the Keras weights do not transfer (see reason)")
        else:
            verdict.training = _verify_training(
                model, training_plan, namespace, keras_model, torch_source, torch_ns, torch_model,
                train_steps, atol, rtol, seed,
            )
        if verdict.training.status == "different":
            verdict.status = "different"
        elif verdict.training.status == "unverifiable" and verdict.status == "equivalent":
            verdict.status = "unverifiable"
    return verdict


def _verify_training(model, plan, keras_ns, keras_model, torch_source, torch_ns, torch_model,
                     steps, atol, rtol, seed, mapping=None) -> TrainingVerdict:
    from k2t.verify import training

    if plan is None:
        return TrainingVerdict(steps, "skipped", reason="the program never compiles this model: nothing to train")
    if isinstance(plan, Exception):
        reason = f"internal error in the verifier: {type(plan).__name__}: {plan}"
        return TrainingVerdict(steps, "unverifiable", reason=reason)
    if model.compiled is None or model.loops is None or model.loops.loss is None:
        return TrainingVerdict(steps, "unverifiable",
                               reason="k2t could not translate this model's compile() (see the convert diagnostics)")
    executed = f"{plan.path}: {plan.describe()}"
    try:
        run_compile(plan, keras_ns)
        torch_side = training.TorchSide(model, torch_source, torch_ns, torch_model)
    except Unverifiable as exc:
        return TrainingVerdict(steps, "unverifiable", reason=str(exc), executed=executed)
    except training.TrainingFailed as exc:
        return TrainingVerdict(steps, "unverifiable", reason=exc.args[1], executed=executed)
    executed += f"; {torch_source.path}: " + "; ".join(torch_side.used)
    try:
        figures = training.train_and_compare(model, keras_model, torch_side, steps, atol, rtol, seed, mapping)
    except Exception as exc:  # noqa: BLE001 - a verifier bug must not pass for a verdict
        reason = f"internal error in the verifier: {type(exc).__name__}: {exc}"
        return TrainingVerdict(steps, "unverifiable", reason=reason, executed=executed)
    failure = figures["failure"]
    if failure is not None and failure[0] != "torch step":  # Keras itself could not train
        status, reason = "unverifiable", failure[1]
    elif figures["first_divergence"] is not None:
        status, reason = "different", failure[1] if failure else None
    else:
        status, reason = "equivalent", None
    return TrainingVerdict(
        steps, status, figures["steps_run"], figures["max_loss_diff"], figures["max_grad_diff"],
        figures["max_weight_diff"], figures["worst_ratio"], figures["first_divergence"], reason, executed,
        figures["notes"], figures["steps"],
    )


def _without_default(ir, reason: str, input_shape) -> str:
    """A library builder's parameter without a default (`custom_unet(input_shape, ...)`) is what the
    caller gives: say so, and how to give the input shape."""
    found = re.match(r"name '(\w+)' is not defined", reason)
    missing = found.group(1) if found else None
    builder = ir.builder
    params = {p.name.value: p for p in [*builder.params.params, *builder.params.kwonly_params]} if builder else {}
    if missing not in params or params[missing].default is not None:
        return reason
    hint = "" if input_shape is not None else " (if it is the input's shape, give it with --input-shape)"
    given = _argument_given(ir.builder_call, list(params), missing) if ir.builder_call is not None else None
    if given is not None and _literal(given):  # called inside another function, with a constant
        return (f"{missing}: {builder.name.value}() is called with {missing}={given} inside another function, "
                f"not at module level (give it with --set {missing}={given})")
    if given is not None:  # `make_model(input_shape=x_train.shape[1:])`: a value of the data
        return f"{missing}: {builder.name.value}() is called with {missing}={given}, which only the run computes{hint}"
    return f"{missing}: {builder.name.value}()'s argument has no default, and nothing in the file calls it{hint}"


def _literal(code: str) -> bool:
    import ast

    try:
        ast.literal_eval(code)
    except (ValueError, SyntaxError):
        return False
    return True


def _argument_given(call, names: list[str], name: str) -> str | None:
    """The code a call passes for one parameter of the function (names: its parameters in order)."""
    from k2t.values import code_of

    for position, arg in enumerate(call.args):
        if arg.star:
            return None
        if (arg.keyword.value if arg.keyword else names[position] if position < len(names) else None) == name:
            return code_of(arg.value)
    return None


def _given_input_shape(ir, statements, input_shape) -> str:
    """`inputs = keras.Input(shape=input_shape)` where input_shape comes from data
    (`x_train.shape[1:]`): the --input-shape given, bound to that name."""
    import libcst as cst

    from k2t import cstwalk

    if input_shape is None or all(shape is not None for _, shape in ir.graph_inputs):
        return ""
    for statement in statements:
        for node in cstwalk.iter_nodes(statement):
            func = node.func.attr if isinstance(getattr(node, "func", None), cst.Attribute) else getattr(node, "func", None)
            if isinstance(node, cst.Call) and isinstance(func, cst.Name) and func.value in ("Input", "InputLayer"):
                shape = next((a.value for a in node.args if a.keyword is None or a.keyword.value == "shape"), None)
                if isinstance(shape, cst.Name):
                    return f"{shape.value} = {tuple(input_shape)!r}\n"
    return ""


def _keras_construction(model: ModelReport, source: Source, reports: list, done: set | None = None,
                        input_shape: tuple | None = None) -> tuple[str, list]:
    """The code that builds the Keras model, and its lines for the report: the models it uses as
    layers first (each once), then its scope's constants and its own statements."""
    done = set() if done is None else done
    ir = model.ir
    code, lines = "", []
    # The models used as layers, and those whose layers this one takes (`autoencoder.layers[-1]`).
    needed = [(layer.args["model"].value, layer.binding) for layer in ir.graph_nodes if layer.key.startswith("Model:")]
    needed += [(owner, owner.var) for owner, _ in ir.borrowed.values()]
    for inner_ir, binding in needed:
        if id(inner_ir) in done:
            continue
        done.add(id(inner_ir))
        inner = next((r for r in reports if r.ir is inner_ir), None)
        if inner is None:
            raise Unverifiable(f"the model {binding} is not translated")
        inner_code, inner_lines = _keras_construction(inner, source, reports, done, input_shape)
        code += inner_code + (f"{binding} = {inner_ir.var}\n" if binding != inner_ir.var else "")
        lines += inner_lines
    local = scope_constants(source, ir.scope, ir.creation)
    statements = sorted([ir.creation, *ir.build_statements], key=lambda s: source.span(s))
    # A constant that the construction sets itself runs there, in its place (`if not up_dropout:
    # dropout = 0.0` after the encoder read dropout), not before it.
    spans = [source.span(s) for s in statements]
    constants = [
        (statement, line) for statement, line in zip(local.statements, local.lines)
        if not any(start <= line[0] and line[1] <= end for start, end in spans)
    ]
    code += source.code([s for s, _ in constants]) + _given_input_shape(ir, statements, input_shape)
    code += "".join(_construction_code(source, ir, s) for s in statements)
    lines += [line for _, line in constants] + [(*source.span(s), "model construction") for s in statements]
    return code, lines


def _torch_model(model: ModelReport, keras_namespace: dict, torch_ns: dict):
    """The torch model built as the program builds it: its sizes read from the Keras side's
    values, the models it is given (a model used as a layer) built the same way."""
    arguments = []
    for code in model.ctor_args:
        if code in model.nested:
            arguments.append(_torch_model(model.nested[code], keras_namespace, torch_ns))
            continue
        if code in model.lowered.injected:  # a layer object the program made: made the same way
            arguments.append(eval(model.lowered.injected[code], torch_ns))  # noqa: S307
            continue
        try:
            arguments.append(eval(code, keras_namespace))  # noqa: S307
        except NameError as exc:
            raise Unverifiable(f"{exc.args[0]}: the model's sizes are computed at run time{set_hint(exc.args[0])}") from None
    return torch_ns[model.class_name](*arguments)


def _construction_code(source: Source, ir, statement) -> str:
    if statement is ir.creation and ir.returned:  # `return keras.Sequential([...])` -> `var = ...`
        return f"{ir.var} = {source.module.code_for_node(ir.call)}\n"
    return source.module.code_for_node(statement.with_changes(leading_lines=[]))


def _describe(lines) -> str:
    return Plan(lines=lines).describe()


def verify_files(keras_path: str, torch_path: str, **options) -> list[Verdict]:
    from k2t.sources import read_source

    keras = read_source(keras_path)
    torch_file = read_source(torch_path)
    return verify_sources(keras.text, torch_file.text, str(keras_path), str(torch_path), **options)
