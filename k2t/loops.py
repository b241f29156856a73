"""Write the training, evaluation and prediction code of one compiled model, specialised to it.

k2t knows at conversion time what a generic fit() would have to guess at run time: each input's
dtype and layout, the labels the loss takes, the rank of the output, the metrics, validation and
callbacks the program asks for. This module writes that knowledge out: small functions written
for this model (prepare_inputs, prepare_targets, train_one_epoch, evaluate, predict, call_model),
emitted only when the program uses them, and the epoch loop itself at each fit() call.

Keras semantics kept here: inputs float32 except indices into an Embedding (int64), channels-last
arrays permuted once; class indices for sparse crossentropy, the class axis moved to dim 1 for
sequence outputs; the loss averaged over samples (sample and class weights divided by the batch
size, not by their sum), each metric averaged over all its values (per token for sequences);
validation_split takes the last fraction before shuffling; fit shuffles every epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from k2t.lower import LoweredModel
from k2t.rules.activations import OUTPUT_ACTIVATIONS
from k2t.rules.metrics import Metric
from k2t.values import dim_code


@dataclass(frozen=True)
class LossSpec:
    """What the loop needs to know about the compiled loss."""

    name: str  # the loss variable, e.g. loss_fn
    keras: str  # the Keras loss (rule name)
    fused: str | None  # the output activation the loss took over (applied again for predictions)
    logits: bool  # the model's output is logits
    # A loss function of the program, `fn(y_true, y_pred)` in Keras's order: its values are averaged.
    keras_function: bool = False

    @property
    def sparse(self) -> bool:
        return self.keras == "sparse_categorical_crossentropy"

    @property
    def classes_axis(self) -> bool:
        """The loss reads classes from the last axis (crossentropy over a softmax)."""
        return self.keras in ("sparse_categorical_crossentropy", "categorical_crossentropy")


@dataclass(frozen=True)
class OutputLoop:
    """One output of a model with several: Keras names its loss and metrics after it."""

    name: str  # Keras's output name
    loss: LossSpec  # loss.name is how the loop reads its loss: loss_fns["<name>"]
    shape: tuple | None  # without the batch axis
    metrics: tuple[Metric, ...]  # named <output>_<metric>, as Keras logs them
    weight: float = 1.0

    @property
    def var(self) -> str:
        return _identifier(self.name)


@dataclass
class FitCall:
    """The arguments of one fit() as code (with {argN} for embedded user expressions)."""

    x: str
    y: str
    batch_size: str = "32"
    epochs: str = "1"
    verbose: str = "1"
    validation_split: str | None = None
    validation_data: tuple[str, ...] | None = None  # (x, y) or (x, y, sample_weight)
    validation_data_expr: str | None = None  # a name holding the pair
    shuffle: str = "True"
    initial_epoch: str = "0"
    callbacks: str | None = None
    class_weight: str | None = None
    sample_weight: str | None = None
    validation_freq: str = "1"
    steps_per_epoch: str | None = None
    target: str | None = None  # the variable the History is assigned to


def _literal(code: str):
    try:
        import ast

        return ast.literal_eval(code)
    except (ValueError, SyntaxError):
        return _UNKNOWN


_UNKNOWN = object()


@dataclass
class ModelLoops:
    """The loop code for one compiled model; functions are emitted only when used."""

    var: str
    lowered: LoweredModel
    loss: LossSpec | None
    optimizer: str | None
    metrics: list[Metric] = field(default_factory=list)
    suffix: str = ""  # "" for one model; "_<var>" when several models share the file
    weighted: bool = False  # some fit/evaluate weights its samples: the loss is per sample
    shuffle_param: bool = False  # some fit passes shuffle=
    steps_param: bool = False  # some fit passes steps_per_epoch=
    dict_inputs: bool = False  # some call passes inputs that are not a literal list (a dict by name?)
    clipping: tuple[str, ...] = ()  # the optimizer's gradient clipping, between backward() and step()
    outputs: list[OutputLoop] = field(default_factory=list)  # a model with several outputs: one each
    dict_targets: bool = False  # some call passes targets that are not a literal list (a dict by name?)
    used: set[str] = field(default_factory=set)

    # -- names ----------------------------------------------------------------------------
    def fn(self, base: str) -> str:
        self.used.add(base)
        return base + self.suffix

    @property
    def inputs(self):
        return self.lowered.inputs

    @property
    def several_inputs(self) -> bool:
        return len(self.inputs) > 1

    @property
    def several_outputs(self) -> bool:  # compiled or not (an inference model returning its states)
        return len(self.lowered.output_shapes) > 1

    # -- pieces of code shared by the functions -------------------------------------------
    def _batch(self, inputs: str, index: str) -> str:
        """The model called on one batch of `inputs` (a tensor, or a tuple for several inputs)."""
        if self.several_inputs:
            return f"model(*(x[{index}] for x in {inputs}))"
        return f"model({inputs}[{index}])"

    def _prediction(self, outputs: str) -> str:
        return _prediction(self.loss, outputs)

    def _loss_call(self, outputs: str, targets: str, reduce: bool = True) -> str:
        return _loss_call(self.loss, self.lowered.output_shape, "loss_fn", outputs, targets, reduce)  # the parameter

    def _per_sample_rank(self) -> int:
        """Rank of the unreduced loss: crossentropy drops the class axis, the others keep it."""
        rank = len(self.lowered.output_shape) + 1
        return rank - 1 if self.loss.classes_axis else rank

    def _weighted(self, per_sample: str, weights: str) -> str:
        if self.lowered.output_shape is None:  # rank known only at run time
            view = f"{weights}.view(-1, *[1] * ({per_sample}.dim() - 1))"
            return f"({per_sample} * {view}).mean()"
        extra = self._per_sample_rank() - 1
        view = f"{weights}[:{', None' * extra}]" if extra else weights
        # Keras divides the weighted sum by the number of values, not by the sum of the weights.
        return f"({per_sample} * {view}).mean()"

    def _metric_lines(self, outputs: str, targets: str) -> list[str]:
        return _metric_lines(self.metrics, self.loss, outputs, targets)

    def _logs(self, samples: str) -> str:
        items = [f'"loss": loss_sum.item() / {samples}']
        items += [f'"{o.name}_loss": {o.var}_loss_sum.item() / {samples}' for o in self.outputs]
        for metric in self._all_metrics():
            var = _identifier(metric.name)
            value = f"{var}_sum.item() / {var}_count"
            if metric.kind == "rmse":
                value = f"({value}) ** 0.5"
            items.append(f"{metric.name!r}: {value}")
        return "{" + ", ".join(items) + "}"

    def _all_metrics(self) -> list[Metric]:
        """The metrics in Keras's order: a model with several outputs sorts them by name."""
        if not self.outputs:
            return list(self.metrics)
        return sorted((m for o in self.outputs for m in o.metrics), key=lambda m: m.name)

    def _sums(self) -> list[str]:
        lines = ["loss_sum = torch.zeros((), device=device)"]
        lines += [f"{o.var}_loss_sum = torch.zeros((), device=device)" for o in self.outputs]
        for metric in self._all_metrics():
            var = _identifier(metric.name)
            lines.append(f"{var}_sum, {var}_count = torch.zeros((), device=device), 0")
        return lines

    def _forward_and_loss(self, index: str) -> list[str]:
        """One batch through the model and the loss: `loss` (and each output's) for the batch."""
        if not self.outputs:
            return [
                "batch_targets = targets[batch]",
                f"outputs = {self._batch('inputs', index)}",
                *self._loss_of_batch("outputs", "batch_targets", index),
            ]
        lines = [
            f"{', '.join(o.var + '_targets' for o in self.outputs)} = (t[{index}] for t in targets)",
            f"{', '.join(o.var + '_out' for o in self.outputs)} = {self._batch('inputs', index)}",
        ]
        lines += [
            f"{o.var}_loss = {_loss_call(o.loss, o.shape, f'loss_fns[{o.name!r}]', o.var + '_out', o.var + '_targets')}"
            for o in self.outputs
        ]
        terms = [f"{o.var}_loss" if o.weight == 1.0 else f"{o.weight!r} * {o.var}_loss" for o in self.outputs]
        penalty = " + model.regularization_loss()" if self.lowered.regularized else ""
        if any(o.weight != 1.0 for o in self.outputs):
            lines.append("# Keras's loss: the outputs' losses, weighted by loss_weights, added up.")
        lines.append(f"loss = {' + '.join(terms)}{penalty}")
        return lines

    def _batch_sums(self, count: str, detach: str) -> list[str]:
        """The batch's losses added to the epoch's sums (weighted by the batch's size)."""
        lines = [f"loss_sum += loss{detach} * {count}"]
        lines += [f"{o.var}_loss_sum += {o.var}_loss{detach} * {count}" for o in self.outputs]
        return lines

    def _all_metric_lines(self) -> list[str]:
        if not self.outputs:
            return self._metric_lines("outputs", "batch_targets")
        return [line for o in self.outputs for line in _metric_lines(o.metrics, o.loss, o.var + "_out", o.var + "_targets")]

    def _weights_param(self) -> str:
        return ", weights=None" if self.weighted else ""

    def _loss_of_batch(self, outputs: str, targets: str, weights_index: str) -> list[str]:
        call = self._loss_call(outputs, targets, reduce=not self.weighted)
        penalty = " + model.regularization_loss()" if self.lowered.regularized else ""
        if not self.weighted:
            return [f"loss = {call}{penalty}"]
        return [
            f"per_sample = {call}",
            "if weights is None:",
            "    loss = per_sample.mean()",
            "else:",
            f"    loss = {self._weighted('per_sample', f'weights[{weights_index}]')}",
            *([f"loss = loss{penalty}"] if penalty else []),
        ]

    # -- the functions --------------------------------------------------------------------
    def prepare_inputs(self) -> str:
        def convert(spec, source: str) -> str:
            code = f'torch.from_numpy(np.asarray({source}, dtype="{spec.dtype}"))'
            if spec.channels_first:
                rank = spec.rank + 1
                order = ", ".join(str(i) for i in (0, rank - 1, *range(1, rank - 1)))
                code += f".permute({order})"
            return code + ".to(device)"

        def describe(spec) -> str:
            what = "int64 indices (it feeds an Embedding)" if spec.dtype == "int64" else "float32"
            if spec.channels_first:
                what += ", channels first"
            return what

        if not self.several_inputs:
            spec = self.inputs[0]
            doc = f"Keras's input array as the model's tensor: {describe(spec)}, on the device."
            lines = [f'"""{doc}"""', f"return {convert(spec, 'x')}"]
            if spec.channels_first:
                lines.insert(1, "# Keras arrays are channels-last; the model takes (N, C, ...).")
            return _function(self.fn("prepare_inputs"), "x", lines)
        names = [spec.var for spec in self.inputs]
        lines = ['"""Keras\'s input arrays as the model\'s tensors, on the device:', ""]
        lines += [f"{spec.var}: {describe(spec)}" for spec in self.inputs]
        lines.append('"""')
        if self.dict_inputs and all(spec.name for spec in self.inputs):
            keys = ", ".join(f'x["{spec.name}"]' for spec in self.inputs)
            lines += ["if isinstance(x, dict):  # inputs fed by their keras.Input(name=...)", f"    x = [{keys}]"]
        lines.append(f"{', '.join(names)} = x")
        lines.append("return (")
        lines += [f"    {convert(spec, spec.var)}," for spec in self.inputs]
        lines.append(")")
        return _function(self.fn("prepare_inputs"), "x", lines)

    def prepare_targets(self) -> str:
        if self.outputs:
            return self._prepare_output_targets()
        code, what = _target_conversion(self.loss, self.lowered.output_shape, "y")
        return _function(self.fn("prepare_targets"), "y", [f'"""Keras\'s {what}."""', f"return {code}"])

    def _prepare_output_targets(self) -> str:
        names = ", ".join(o.name for o in self.outputs)
        lines = [f'"""Keras\'s targets, one per output ({names}), as each output\'s loss takes them:', ""]
        conversions = [_target_conversion(o.loss, o.shape, f"{o.var}_targets") for o in self.outputs]
        lines += [f"{o.name}: {what}" for o, (_, what) in zip(self.outputs, conversions)]
        lines.append('"""')
        if self.dict_targets:
            keys = ", ".join(f'y["{o.name}"]' for o in self.outputs)
            lines += ["if isinstance(y, dict):  # targets keyed by output name", f"    y = [{keys}]"]
        lines.append(f"{', '.join(o.var + '_targets' for o in self.outputs)} = y")
        lines += ["return (", *(f"    {code}," for code, _ in conversions), ")"]
        return _function(self.fn("prepare_targets"), "y", lines)

    def train_one_epoch(self) -> str:
        loss_fn = "loss_fns" if self.outputs else "loss_fn"
        params = f"model, optimizer, {loss_fn}, inputs, targets, batch_size" + self._weights_param()
        if self.shuffle_param:
            params += ", shuffle=True"
        if self.steps_param:
            params += ", steps=None"
        lines = [
            '"""One epoch of Keras\'s fit(): shuffled batches; returns the epoch\'s mean loss and metrics."""',
            "model.train()",
            *self._sums(),
            f"samples = len({self._targets0})",
        ]
        where = f"device={self._targets0}.device"
        if self.shuffle_param:
            lines += [
                "if shuffle:",
                f"    order = torch.randperm(samples, {where})",
                "else:",
                f"    order = torch.arange(samples, {where})",
            ]
        else:
            lines.append(f"order = torch.randperm(samples, {where})")
        if self.steps_param:
            lines += ["if steps is not None:", "    order = order[: steps * batch_size]"]
        lines += [
            "for start in range(0, len(order), batch_size):",
            "    batch = order[start : start + batch_size]",
            *("    " + line for line in self._forward_and_loss("batch")),
            "    optimizer.zero_grad()",
            "    loss.backward()",
            *("    " + line for line in self.clipping),
            "    optimizer.step()",
            "    # Keras averages over samples; the sums stay on the device (no sync per batch).",
            *("    " + line for line in self._batch_sums("len(batch)", ".detach()")),
        ]
        metric_lines = self._all_metric_lines()
        if metric_lines:
            lines += ["    with torch.no_grad():", *("        " + line for line in metric_lines)]
        lines.append(f"return {self._logs('len(order)')}")
        return _function(self.fn("train_one_epoch"), params, lines)

    @property
    def _targets0(self) -> str:
        """The targets of the (first) output: their length is the number of samples."""
        return "targets[0]" if self.outputs else "targets"

    def evaluate(self) -> str:
        loss_fn = "loss_fns" if self.outputs else "loss_fn"
        params = f"model, {loss_fn}, inputs, targets, batch_size=32" + self._weights_param()
        count = f"len({self.outputs[0].var}_targets)" if self.outputs else "len(batch_targets)"
        lines = [
            '"""Keras\'s evaluate(): the mean loss and metrics, in inference mode."""',
            "model.eval()",
            *self._sums(),
            f"samples = len({self._targets0})",
            "for start in range(0, samples, batch_size):",
            "    batch = slice(start, start + batch_size)",
            *("    " + line for line in self._forward_and_loss("batch")),
            *("    " + line for line in self._batch_sums(count, "")),
            *("    " + line for line in self._all_metric_lines()),
            f"return {self._logs('samples')}",
        ]
        return "@torch.no_grad()\n" + _function(self.fn("evaluate"), params, lines)

    def predict(self) -> str:
        what = self.loss.fused if self.loss is not None and self.loss.fused else None
        doc = "Keras's predict(): the outputs as numpy, in inference mode, in batches."
        if what:
            doc = f"Keras's predict(): {what} probabilities as numpy, in inference mode, in batches."
        samples = "len(inputs[0])" if self.several_inputs else "len(inputs)"
        if self.several_outputs:
            doc = "Keras's predict(): a numpy array per output, in inference mode, in batches."
        lines = [
            f'"""{doc}"""',
            "model.eval()",
            "outputs = [",
            f"    {self._prediction(self._batch('inputs', 'start : start + batch_size'))}",
            f"    for start in range(0, {samples}, batch_size)",
            "]",
            "return torch.cat(outputs).cpu().numpy()",
        ]
        if self.several_outputs:
            lines[-1] = "return [torch.cat(output).cpu().numpy() for output in zip(*outputs)]"
        return "@torch.no_grad()\n" + _function(self.fn("predict"), "model, inputs, batch_size=32", lines)

    def call_model(self) -> str:
        what = self.loss.fused if self.loss is not None and self.loss.fused else None
        doc = "model(x) as Keras runs it outside fit(): inference mode (training=False)"
        doc += f", {what} applied" if what else ""
        doc += "; numpy, as Keras's tensor would be read."
        inputs = self.fn("prepare_inputs") + "(x)"
        call = f"model(*{inputs})" if self.several_inputs else f"model({inputs})"
        lines = [f'"""{doc}"""', "model.eval()", f"return {self._prediction(call)}.cpu().numpy()"]
        if self.several_outputs:
            lines[-1] = f"return [output.cpu().numpy() for output in {call}]"
        return "@torch.no_grad()\n" + _function(self.fn("call_model"), "model, x", lines)

    def functions(self) -> list[str]:
        """The functions the program uses, in reading order."""
        order = ["prepare_inputs", "prepare_targets", "train_one_epoch", "evaluate", "predict", "call_model"]
        written: dict[str, str] = {}
        # Writing one may use another (call_model converts with prepare_inputs): until none is new.
        while pending := [base for base in order if base in self.used and base not in written]:
            for base in pending:
                written[base] = getattr(self, base)()
        return [written[base] for base in order if base in written]

    # -- call sites -----------------------------------------------------------------------
    def fit_lines(self, m: str, call: FitCall, fresh) -> list[str]:
        """The statements that replace `[target =] m.fit(...)`; fresh(name) avoids the user's names."""
        inputs, targets = fresh("train_inputs"), fresh("train_targets")
        prepare_inputs, prepare_targets = self.fn("prepare_inputs"), self.fn("prepare_targets")
        lines = [
            f"{inputs} = {prepare_inputs}({call.x})",
            f"{targets} = {prepare_targets}({call.y})",
        ]
        weights = None
        if call.sample_weight is not None:
            weights = fresh("train_weights")
            lines.append(f'{weights} = torch.from_numpy(np.asarray({call.sample_weight}, dtype="float32")).to(device)')
        if call.class_weight is not None:
            weights = weights or fresh("train_weights")
            labels = targets if self.loss.sparse else f"{targets}.argmax(-1)"
            if not self.loss.classes_axis:
                labels = f"{targets}.reshape(len({targets}), -1)[:, 0].round().long()"
            class_weights = fresh("class_weights")
            units = self.lowered.output_shape[-1] if self.lowered.output_shape else None
            classes = dim_code(units) if self.loss.classes_axis and isinstance(units, int) else "2"
            lines += [
                "# Keras weighs each sample by its class (1.0 for classes class_weight leaves out).",
                f"{class_weights} = {call.class_weight}",
                f"{class_weights} = torch.tensor([{class_weights}.get(c, 1.0) for c in range({classes})], device=device)",
            ]
            weight_of_class = f"{class_weights}[{labels}]"
            if call.sample_weight is not None:
                lines.append(f"{weights} = {weights} * {weight_of_class}")
            else:
                lines.append(f"{weights} = {weight_of_class}")
        verbose = _literal(call.verbose)
        # Nothing reads an epoch's logs (no History kept, no callbacks, verbose=0): Keras's
        # validation pass changes nothing then, and is left out.
        logs_read = call.target is not None or call.callbacks is not None or verbose is _UNKNOWN or bool(verbose)
        val_inputs = val_targets = val_weights = None
        given_data = call.validation_data is not None or call.validation_data_expr is not None
        if given_data and logs_read:
            val_inputs, val_targets = fresh("val_inputs"), fresh("val_targets")
            data = call.validation_data or (f"{call.validation_data_expr}[0]", f"{call.validation_data_expr}[1]")
            lines += [f"{val_inputs} = {prepare_inputs}({data[0]})", f"{val_targets} = {prepare_targets}({data[1]})"]
            if len(data) == 3:
                val_weights = fresh("val_weights")
                lines.append(f'{val_weights} = torch.from_numpy(np.asarray({data[2]}, dtype="float32")).to(device)')
        elif not given_data and call.validation_split is not None and _literal(call.validation_split) not in (0, 0.0, None):
            split = fresh("split")
            percent = _literal(call.validation_split)
            share = f"the last {percent:.0%}" if isinstance(percent, float) else "the last fraction"
            lines += [
                f"# Keras validates on {share} of the samples, split off before shuffling."
                if logs_read else f"# Keras holds out {share} (split off before shuffling) to validate on; unread here.",
                f"{split} = int({targets}{'[0]' if self.outputs else ''}.shape[0] * (1 - {call.validation_split}))",
            ]
            held_out = {}  # the validation share of each array, where something reads its logs
            for tupled, name, val, t in ((self.several_inputs, inputs, "val_inputs", "x"),
                                         (bool(self.outputs), targets, "val_targets", "y"),
                                         (False, weights, "val_weights", "w")):
                if name is None:
                    continue
                if not logs_read:
                    lines.append(f"{name} = tuple({t}[:{split}] for {t} in {name})" if tupled else f"{name} = {name}[:{split}]")
                    continue
                held_out[val] = fresh(val)
                if tupled:
                    lines += [f"{held_out[val]} = tuple({t}[{split}:] for {t} in {name})",
                              f"{name} = tuple({t}[:{split}] for {t} in {name})"]
                else:
                    lines.append(f"{name}, {held_out[val]} = {name}[:{split}], {name}[{split}:]")
            val_inputs, val_targets = held_out.get("val_inputs"), held_out.get("val_targets")
            val_weights = held_out.get("val_weights")
        epochs = call.epochs
        epoch, logs = fresh("epoch"), fresh("logs")
        history = call.target
        if history is not None:
            lines.append(f"{history} = History()")
        callbacks = None
        if call.callbacks is not None:
            callbacks = fresh("fit_callbacks")
            lines += [
                f"{callbacks} = {call.callbacks}",
                f"for callback in {callbacks}:",
                f"    callback.model, callback.optimizer = {m}, {self.optimizer}",
                "    callback.on_train_begin()",
            ]
        start = "" if call.initial_epoch == "0" else f"{call.initial_epoch}, "
        loop = [f"for {epoch} in range({start}{epochs}):"]
        body = []
        if callbacks:
            body += [f"for callback in {callbacks}:", f"    callback.on_epoch_begin({epoch})"]
        train_args = [m, self.optimizer, self.loss.name, inputs, targets, call.batch_size]
        if weights is not None:
            train_args.append(f"weights={weights}")
        if call.shuffle != "True":
            train_args.append(f"shuffle={call.shuffle}")
        if call.steps_per_epoch is not None:
            train_args.append(f"steps={call.steps_per_epoch}")
        train = f"{self.fn('train_one_epoch')}({', '.join(train_args)})"
        body.append(f"{logs} = {train}" if logs_read else train)
        if val_inputs is not None:
            eval_args = [m, self.loss.name, val_inputs, val_targets, call.batch_size]
            if val_weights is not None:
                eval_args.append(f"weights={val_weights}")
            validate = [
                f"val_logs = {self.fn('evaluate')}({', '.join(eval_args)})",
                f'{logs}.update({{f"val_{{name}}": value for name, value in val_logs.items()}})',
            ]
            if call.validation_freq != "1":
                body += [f"if ({epoch} + 1) % {call.validation_freq} == 0:", *("    " + v for v in validate)]
            else:
                body += validate
        total = epochs if epochs.isdigit() else "{" + epochs + "}"
        progress = (
            f'print(f"Epoch {{{epoch} + 1}}/{total} - " '
            f'+ " - ".join(f"{{name}}: {{value:.4f}}" for name, value in {logs}.items()))'
        )
        if verbose is _UNKNOWN:
            body += [f"if {call.verbose}:", "    " + progress]
        elif verbose:
            body.append(progress)
        stop = None
        if callbacks:
            stop = fresh("stop")
            body.append(f"{stop} = [callback.on_epoch_end({epoch}, {logs}) for callback in {callbacks}]")
        if history is not None:
            body.append(f"{history}.append({epoch}, {logs})")
        if stop:
            body += [f"if any({stop}):", "    break"]
        lines += loop + ["    " + line for line in body]
        if callbacks:
            lines += [f"for callback in {callbacks}:", "    callback.on_train_end()"]
        return lines

    def evaluate_expression(self, m: str, x: str, y: str, batch_size: str | None, sample_weight: str | None,
                            return_dict: bool) -> str:
        args = [m, self.loss.name, f"{self.fn('prepare_inputs')}({x})", f"{self.fn('prepare_targets')}({y})"]
        if batch_size is not None:
            args.append(batch_size)
        if sample_weight is not None:
            args.append(f'weights=torch.from_numpy(np.asarray({sample_weight}, dtype="float32")).to(device)')
        logs = f"{self.fn('evaluate')}({', '.join(args)})"
        if return_dict:
            return logs
        if not self.metrics and not self.outputs:
            return f'{logs}["loss"]'
        return f"list({logs}.values())"

    def predict_expression(self, m: str, x: str, batch_size: str | None) -> str:
        args = [m, f"{self.fn('prepare_inputs')}({x})"]
        if batch_size is not None:
            args.append(batch_size)
        return f"{self.fn('predict')}({', '.join(args)})"


def _prediction(loss: LossSpec | None, outputs: str) -> str:
    """What Keras's model returns: the fused activation applied to the logits."""
    if loss is None or loss.fused is None:
        return outputs
    return OUTPUT_ACTIVATIONS[loss.fused].format(x=outputs)


def _loss_call(loss: LossSpec, shape: tuple | None, fn: str, outputs: str, targets: str, reduce: bool = True) -> str:
    if loss.keras_function:  # Keras averages the function's values over every element
        return f"{fn}({targets}, {outputs}){'.mean()' if reduce else ''}"
    # An output of unknown rank (a subclassed model): movedim is a no-op on (N, C).
    rank = len(shape) + 1 if shape is not None else 3
    # The probability forms (rules/snippets.py) read the classes from the last axis themselves.
    if loss.classes_axis and loss.logits and rank > 2:
        # CrossEntropyLoss wants the classes at dim 1: (N, T, C) -> (N, C, T).
        outputs = f"{outputs}.movedim(-1, 1)"
        if not loss.sparse:
            targets = f"{targets}.movedim(-1, 1)"
    return f"{fn}({outputs}, {targets})"


def _metric_lines(metrics, loss: LossSpec, outputs: str, targets: str) -> list[str]:
    """Each metric's values on a batch, added to its running sum and count."""
    lines = []
    needs_probabilities = any(m.kind in ("mae", "mse", "rmse", "function") for m in metrics) and loss.fused
    if needs_probabilities:
        lines.append(f"probabilities = {_prediction(loss, outputs)}")
    values_of = {
        "categorical_accuracy": f"{outputs}.argmax(-1) == {targets}.argmax(-1)",
        "sparse_categorical_accuracy": f"{outputs}.argmax(-1) == {targets}",
        "mae": f"({'probabilities' if needs_probabilities else outputs} - {targets}).abs()",
        "mse": f"({'probabilities' if needs_probabilities else outputs} - {targets}).square()",
        "rmse": f"({'probabilities' if needs_probabilities else outputs} - {targets}).square()",
    }
    for metric in metrics:
        var = _identifier(metric.name)
        if metric.kind == "binary_accuracy":
            if loss.logits and loss.fused == "sigmoid" and metric.threshold == 0.5:
                lines.append("# The model returns logits: logit > 0 is probability > 0.5.")
                values = f"({outputs} > 0) == ({targets} > 0.5)"
            else:
                probabilities = _prediction(loss, outputs) if loss.fused else outputs
                values = f"({probabilities} > {metric.threshold!r}) == ({targets} > 0.5)"
        elif metric.kind == "function":  # the program's `def rmse(y_true, y_pred)`: Keras averages its values
            values = f"{metric.name}({targets}, {'probabilities' if needs_probabilities else outputs})"
        else:
            values = values_of[metric.kind]
        lines.append(f"{var}_values = {values}")
        lines.append(f"{var}_sum += {var}_values.sum()")
        lines.append(f"{var}_count += {var}_values.numel()")
    return lines


def _target_conversion(loss: LossSpec, shape: tuple | None, source: str) -> tuple[str, str]:
    """(the code that turns Keras's labels for one output into the tensor its loss takes, what it is)."""
    static = shape is not None and all(isinstance(d, int) for d in shape)
    shape = shape or ()
    if loss.sparse:
        dims = ", ".join(str(int(d)) for d in shape[:-1]) if static else ""
        reshape = f".reshape(-1{', ' + dims if dims else ''})" if static else ""
        what = "integer labels as class indices, as CrossEntropyLoss takes them"
        return f'torch.from_numpy(np.asarray({source}, dtype="int64")){reshape}.to(device)', what
    # Keras brings labels to the output's rank: (N,) labels for (N, 1) outputs become (N, 1).
    reshape = f".reshape(-1, {', '.join(str(int(d)) for d in shape)})" if static and shape else ""
    unknown = [d for d in shape if not isinstance(d, int)]
    if len(unknown) == 1 and len(shape) >= 2:  # (N, T) labels of a (N, T, 1) output of any length T
        dims = ", ".join("-1" if not isinstance(d, int) else str(int(d)) for d in shape)
        reshape = f".reshape(len({source}), {dims})"
    if loss.classes_axis:
        reshape = ""
        what = "one-hot labels as float32 class probabilities, as CrossEntropyLoss takes them"
    else:
        what = "labels as float32 in the shape of the model's output"
    return f'torch.from_numpy(np.asarray({source}, dtype="float32")){reshape}.to(device)', what


def _identifier(name: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return out if out and not out[0].isdigit() else f"metric_{out}"


def _function(name: str, params: str, body: list[str]) -> str:
    return "\n".join([f"def {name}({params}):", *("    " + line for line in body)])
