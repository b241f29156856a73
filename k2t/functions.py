"""Code-level translation of a module-level tensor function: a custom loss or metric
`def rmse(y_true, y_pred): return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1))`.

The body is read statement by statement: a docstring, assignments to names and a final return, each
expression through the ops table (k2t/ops.py). Anything else (a branch, a loop, an op without an
entry) refuses the whole function with the reason, and the def stays as it is, marked. The tensors
keep Keras's layout: a loss sees the model's outputs as Keras returns them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import libcst as cst

from k2t import cstwalk
from k2t.ops import Refused, torch_code, translate_expression
from k2t.rules.ops import TENSOR, Expr
from k2t.values import Env

__all__ = ["TensorFunction", "translate_tensor_function"]


@dataclass
class TensorFunction:
    definition: cst.FunctionDef
    code: str  # the def, in torch


def translate_tensor_function(definition: cst.FunctionDef, resolver, env: Env, shapes: list) -> TensorFunction:
    """shapes: the Keras shape (with the batch axis, or None where unknown) of each parameter, in
    order; every parameter is a tensor. Raises Refused(reason)."""
    params = definition.params
    if (definition.decorators or params.star_arg not in (cst.MaybeSentinel.DEFAULT, None) or params.kwonly_params
            or params.star_kwarg or params.posonly_params or any(p.default is not None for p in params.params)):
        raise Refused(f"{definition.name.value}: only functions of plain tensor parameters are translated")
    if len(params.params) != len(shapes) or not isinstance(definition.body, cst.IndentedBlock):
        raise Refused(f"{definition.name.value} takes other arguments than Keras gives it")
    names: dict[str, Expr] = {
        p.name.value: Expr(ast.Name(p.name.value, ast.Load()), TENSOR, shape)
        for p, shape in zip(params.params, shapes)
    }
    device = ast.Attribute(ast.Name(params.params[-1].name.value, ast.Load()), "device", ast.Load())
    module = cst.Module([])
    lines = [f"def {definition.name.value}({', '.join(names)}):"]
    statements = list(definition.body.body)
    if statements and cstwalk.is_docstring(statements[0]):
        lines.append("    " + module.code_for_node(statements[0]).strip())
        statements = statements[1:]
    returned = False
    for statement in statements:
        if returned or not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            raise Refused(f"{definition.name.value}: only assignments and a return are translated in its body")
        lines += ["    " + line.comment.value for line in statement.leading_lines if line.comment is not None]
        small = statement.body[0]
        if isinstance(small, cst.Return) and small.value is not None:
            result = translate_expression(small.value, resolver, env, names, device)
            if result.kind != TENSOR:
                raise Refused(f"{definition.name.value} does not return a tensor")
            lines.append(f"    return {torch_code(result)}")
            returned = True
        elif (isinstance(small, cst.Assign) and len(small.targets) == 1
              and isinstance(target := small.targets[0].target, cst.Name)):
            result = translate_expression(small.value, resolver, env, names, device)
            lines.append(f"    {target.value} = {torch_code(result)}")
            names[target.value] = Expr(ast.Name(target.value, ast.Load()), result.kind, result.shape,
                                       result.value, result.items, result.pointwise, result.dtype, result.dim)
        else:
            raise Refused(f"{definition.name.value}: only assignments and a return are translated in its body")
    if not returned:
        raise Refused(f"{definition.name.value} does not return a tensor")
    return TensorFunction(definition, "\n".join(lines) + "\n")
