"""Code-level translation of module-level tensor functions: a custom loss or metric
`def rmse(y_true, y_pred): return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1))`, and the
program's functions it calls (`dice_loss` calling `dice_coef(y_true, y_pred, smooth=1)`).

The body is read statement by statement: a docstring, assignments to names and a final return, each
expression through the ops table (k2t/ops.py). Anything else (a branch, a loop, an op without an
entry) refuses the whole function with the reason, and the defs stay as they are, marked. The
tensors keep Keras's layout: a loss sees the model's outputs as Keras returns them.
"""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass

import libcst as cst

from k2t import cstwalk
from k2t.ops import Refused, torch_code, translate_expression
from k2t.rules.ops import NUMBER, TENSOR, Expr
from k2t.values import UNKNOWN, Env, evaluate

__all__ = ["TensorFunction", "translate_tensor_function"]


@dataclass
class TensorFunction:
    definition: cst.FunctionDef
    code: str  # the def, in torch


def translate_tensor_function(
    definition: cst.FunctionDef, resolver, env: Env, tensors: int, functions: dict[str, cst.FunctionDef]
) -> list[TensorFunction]:
    """The def in torch, its first `tensors` parameters tensors (the others take static defaults),
    and the program's functions it calls, each once. Raises Refused(reason)."""
    done: dict[str, TensorFunction] = {}
    _translate(definition, resolver, env, tensors, functions, done, ())
    return list(done.values())


def _translate(definition, resolver, env, tensors: int, functions, done: dict, calling: tuple) -> None:
    name = definition.name.value
    params = definition.params
    if (definition.decorators or params.star_arg not in (cst.MaybeSentinel.DEFAULT, None) or params.kwonly_params
            or params.star_kwarg or params.posonly_params or not isinstance(definition.body, cst.IndentedBlock)):
        raise Refused(f"{name}: only functions of plain parameters are translated")
    if len(params.params) < tensors or any(p.default is not None for p in params.params[:tensors]):
        raise Refused(f"{name} takes other arguments than it is given")
    names: dict[str, Expr] = {p.name.value: Expr(ast.Name(p.name.value, ast.Load()), TENSOR) for p in params.params[:tensors]}
    signature = list(names)
    for param in params.params[tensors:]:
        default = evaluate(param.default, env).value if param.default is not None else UNKNOWN
        if default is UNKNOWN or not isinstance(default, (int, float, bool, str, type(None))):
            raise Refused(f"{name}({param.name.value}=...): only parameters with a constant default are translated")
        names[param.name.value] = Expr(ast.Name(param.name.value, ast.Load()), NUMBER, value=default)
        signature.append(f"{param.name.value}={default!r}")
    device = ast.Attribute(ast.Name(params.params[0].name.value, ast.Load()), "device", ast.Load()) if tensors else None

    def hook(node, translate):
        """A call of another function of the program (`dice_coef(y_true, y_pred)`): translated too."""
        if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in functions
                and resolver.key(node.func) is None):
            return None
        callee = node.func.value
        if callee in calling or callee == name:
            raise Refused(f"{callee}: a recursive function is not translated")
        if any(a.star for a in node.args):
            raise Refused(f"{callee}(*args): not translated")
        positional = [a for a in node.args if a.keyword is None]
        arguments = [translate(a.value) for a in positional]
        keywords = [ast.keyword(a.keyword.value, translate(a.value).node) for a in node.args if a.keyword is not None]
        if callee not in done:
            _translate(functions[callee], resolver, env, len(positional), functions, done, (*calling, name))
        return Expr(ast.Call(ast.Name(callee, ast.Load()), [a.node for a in arguments], keywords), TENSOR)

    module = cst.Module([])
    lines = [f"def {name}({', '.join(signature)}):"]
    statements = list(definition.body.body)
    if statements and cstwalk.is_docstring(statements[0]):
        lines.append("    " + module.code_for_node(statements[0]).strip())
        statements = statements[1:]
    returned = False
    for statement in statements:
        if returned or not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            raise Refused(f"{name}: only assignments and a return are translated in its body")
        lines += ["    " + line.comment.value for line in statement.leading_lines if line.comment is not None]
        small = statement.body[0]
        if isinstance(small, cst.Return) and small.value is not None:
            result = translate_expression(small.value, resolver, env, names, device, hook)
            if result.kind != TENSOR:
                raise Refused(f"{name} does not return a tensor")
            lines.append(f"    return {torch_code(result)}")
            returned = True
        elif (isinstance(small, cst.Assign) and len(small.targets) == 1
              and isinstance(target := small.targets[0].target, cst.Name)):
            result = translate_expression(small.value, resolver, env, names, device, hook)
            lines.append(f"    {target.value} = {torch_code(result)}")
            names[target.value] = dataclasses.replace(result, node=ast.Name(target.value, ast.Load()))
        else:
            raise Refused(f"{name}: only assignments and a return are translated in its body")
    if not returned:
        raise Refused(f"{name} does not return a tensor")
    done[name] = TensorFunction(definition, "\n".join(lines) + "\n")
