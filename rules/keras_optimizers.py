"""Keras 3's optimizer updates as torch optimizers, for where torch's built-ins compute differently.

Real Python, linted and tested, but never imported by the converter: a translation copies the classes
it uses into its output, so each class needs nothing but torch. Each one is a plain
`torch.optim.Optimizer` (param groups, `state_dict`, LR schedulers and `closure` work as usual) with
Keras's update written out. Keras 3's `weight_decay` is decoupled for every optimizer: before the
update, `param -= lr * weight_decay * param` (torch's AdamW form, not torch's L2 `weight_decay`).
The step counter is per param group, like Keras's one `iterations` counter.
torch.optim.NAdam(momentum_decay=1.0, decoupled_weight_decay=True) already is Keras's Nadam.
The *Sparse subclasses also take an Embedding's sparse gradient the way Keras on TensorFlow does
(see sparse_row_sum); outputs copy them only for models with an Embedding.
"""

import torch


def sparse_row_sum(grad, term):
    """The dense sum of term(row) over the rows of a sparse gradient, repeated rows included.

    Keras on TensorFlow gets an Embedding's gradient as one row per token (tf.IndexedSlices) and
    squares (Adamax: takes the absolute value of) each row before a repeated token's rows add up;
    its other terms and the weight update are dense. nn.Embedding(sparse=True) gives the same rows.
    """
    # Not indices()/values(): they need a coalesced tensor, whose repeated rows are already added up.
    rows, values = grad._indices()[0], grad._values()
    return torch.zeros(grad.shape, dtype=grad.dtype, device=grad.device).index_add_(0, rows, term(values))


class KerasSGD(torch.optim.Optimizer):
    """keras.optimizers.SGD: velocity = momentum * velocity - lr * grad; param += velocity.

    torch's SGD applies the current lr to its whole momentum buffer instead: equal for a constant
    lr, different once the lr changes. weight_decay is decoupled (torch's is an L2 term).
    """

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        defaults = dict(
            lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            lr, momentum = group["lr"], group["momentum"]
            grads = [p.grad for p in params]
            if group["weight_decay"]:
                torch._foreach_add_(params, params, alpha=-lr * group["weight_decay"])
            if not momentum:
                torch._foreach_add_(params, grads, alpha=-lr)
                continue
            for p in params:
                if not self.state[p]:
                    self.state[p]["velocity"] = torch.zeros_like(p)
            velocities = [self.state[p]["velocity"] for p in params]
            torch._foreach_mul_(velocities, momentum)
            torch._foreach_add_(velocities, grads, alpha=-lr)
            if group["nesterov"]:
                torch._foreach_add_(params, velocities, alpha=momentum)
                torch._foreach_add_(params, grads, alpha=-lr)
            else:
                torch._foreach_add_(params, velocities)
        return loss


class KerasAdam(torch.optim.AdamW):
    """keras.optimizers.Adam (and AdamW, with weight_decay): torch's AdamW with Keras's epsilon.

    Keras adds eps to sqrt(v) before the bias correction, torch after it (early steps of weights
    with small gradients differ); eps / sqrt(1 - beta2**step) in torch's formula is Keras's update.
    Weight decay is decoupled in both.
    """

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.0, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        for group in self.param_groups:
            group.setdefault("keras_eps", group["eps"])

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            group["keras_step"] = step = group.get("keras_step", 0) + 1
            group["eps"] = group["keras_eps"] / (1 - group["betas"][1] ** step) ** 0.5
        return super().step(closure)


class KerasAdamSparse(KerasAdam):
    """KerasAdam that also takes an Embedding's sparse gradient as Keras does (see sparse_row_sum).

    torch's AdamW takes dense gradients only: sparse ones are applied here, hidden from it.
    """

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        hidden = []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and p.grad.is_sparse:
                    self._sparse_step(p, group)
                    hidden.append((p, p.grad))
                    p.grad = None
        try:
            super().step()
        finally:
            for p, grad in hidden:
                p.grad = grad
        return loss

    def _sparse_step(self, p, group):
        (beta1, beta2), lr = group["betas"], group["lr"]
        state = self.state[p]
        if not state:  # torch's AdamW state, so either path can continue it
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        step = state["step"].item()
        if group["weight_decay"]:
            p.mul_(1 - lr * group["weight_decay"])
        state["exp_avg"].lerp_(p.grad.to_dense(), 1 - beta1)
        state["exp_avg_sq"].lerp_(sparse_row_sum(p.grad, torch.square), 1 - beta2)
        second = state["exp_avg_sq"]
        if group["amsgrad"]:
            second = torch.maximum(state["max_exp_avg_sq"], second, out=state["max_exp_avg_sq"])
        alpha = lr * (1 - beta2**step) ** 0.5 / (1 - beta1**step)
        p.addcdiv_(state["exp_avg"], second.sqrt().add_(group["keras_eps"]), value=-alpha)


class SparseRows:
    """For the *Sparse optimizers below: a parameter with a sparse gradient (nn.Embedding(sparse=True))
    is updated by the class's _sparse_step; the others are left to its (dense) step."""

    def _params_with_grad(self, group):
        dense = []
        for p in group["params"]:
            if p.grad is not None and p.grad.is_sparse:
                self._sparse_step(p, group)
            elif p.grad is not None:
                dense.append(p)
        return dense


class KerasRMSprop(torch.optim.Optimizer):
    """keras.optimizers.RMSprop: param -= lr * grad / sqrt(square_avg + eps), eps inside the root.

    torch's RMSprop adds eps outside, so sqrt(square_avg) is not floored at sqrt(eps). rho is
    torch's alpha; Keras's momentum buffer includes the lr (torch's does not: equal for a constant lr).
    """

    def __init__(
        self,
        params,
        lr=0.001,
        rho=0.9,
        eps=1e-7,
        momentum=0.0,
        centered=False,
        weight_decay=0.0,
    ):
        defaults = dict(
            lr=lr,
            rho=rho,
            eps=eps,
            momentum=momentum,
            centered=centered,
            weight_decay=weight_decay,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = self._params_with_grad(group)
            if not params:
                continue
            lr, rho, momentum = group["lr"], group["rho"], group["momentum"]
            grads = [p.grad for p in params]
            for p in params:
                self._init_state(p, group)
            square_avgs = [self.state[p]["square_avg"] for p in params]
            if group["weight_decay"]:
                torch._foreach_add_(params, params, alpha=-lr * group["weight_decay"])
            torch._foreach_mul_(square_avgs, rho)
            torch._foreach_addcmul_(square_avgs, grads, grads, value=1 - rho)
            if group["centered"]:
                grad_avgs = [self.state[p]["grad_avg"] for p in params]
                torch._foreach_lerp_(grad_avgs, grads, 1 - rho)
                denominators = torch._foreach_addcmul(
                    square_avgs, grad_avgs, grad_avgs, value=-1
                )
                torch._foreach_add_(denominators, group["eps"])
            else:
                denominators = torch._foreach_add(square_avgs, group["eps"])
            torch._foreach_sqrt_(denominators)
            if momentum:
                buffers = [self.state[p]["momentum_buffer"] for p in params]
                torch._foreach_mul_(buffers, momentum)
                torch._foreach_addcdiv_(buffers, grads, denominators, value=lr)
                torch._foreach_sub_(params, buffers)
            else:
                torch._foreach_addcdiv_(params, grads, denominators, value=-lr)
        return loss

    def _init_state(self, p, group):
        state = self.state[p]
        if not state:
            state["square_avg"] = torch.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = torch.zeros_like(p)
            if group["momentum"]:
                state["momentum_buffer"] = torch.zeros_like(p)
        return state

    def _params_with_grad(self, group):
        return [p for p in group["params"] if p.grad is not None]


class KerasRMSpropSparse(SparseRows, KerasRMSprop):
    """KerasRMSprop that also takes an Embedding's sparse gradient as Keras does (see sparse_row_sum)."""

    def _sparse_step(self, p, group):
        lr, rho, momentum = group["lr"], group["rho"], group["momentum"]
        state = self._init_state(p, group)
        grad = p.grad.to_dense()
        if group["weight_decay"]:
            p.add_(p, alpha=-lr * group["weight_decay"])
        state["square_avg"].mul_(rho).add_(sparse_row_sum(p.grad, torch.square), alpha=1 - rho)
        if group["centered"]:
            state["grad_avg"].lerp_(grad, 1 - rho)
            denominator = state["square_avg"].addcmul(state["grad_avg"], state["grad_avg"], value=-1)
            denominator.add_(group["eps"])
        else:
            denominator = state["square_avg"].add(group["eps"])
        denominator.sqrt_()
        if momentum:
            state["momentum_buffer"].mul_(momentum).addcdiv_(grad, denominator, value=lr)
            p.sub_(state["momentum_buffer"])
        else:
            p.addcdiv_(grad, denominator, value=-lr)

class KerasAdagrad(torch.optim.Optimizer):
    """keras.optimizers.Adagrad: param -= lr * grad / sqrt(sum + eps), eps inside the root.

    torch's Adagrad adds eps outside the root, and starts its sum at 0 (Keras at 0.1).
    """

    def __init__(
        self,
        params,
        lr=0.001,
        initial_accumulator_value=0.1,
        eps=1e-7,
        weight_decay=0.0,
    ):
        defaults = dict(
            lr=lr,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            weight_decay=weight_decay,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = self._params_with_grad(group)
            if not params:
                continue
            lr = group["lr"]
            grads = [p.grad for p in params]
            for p in params:
                self._init_state(p, group)
            sums = [self.state[p]["sum"] for p in params]
            if group["weight_decay"]:
                torch._foreach_add_(params, params, alpha=-lr * group["weight_decay"])
            torch._foreach_addcmul_(sums, grads, grads)
            denominators = torch._foreach_add(sums, group["eps"])
            torch._foreach_sqrt_(denominators)
            torch._foreach_addcdiv_(params, grads, denominators, value=-lr)
        return loss

    def _init_state(self, p, group):
        state = self.state[p]
        if not state:
            state["sum"] = torch.full_like(p, group["initial_accumulator_value"])
        return state

    def _params_with_grad(self, group):
        return [p for p in group["params"] if p.grad is not None]


class KerasAdagradSparse(SparseRows, KerasAdagrad):
    """KerasAdagrad that also takes an Embedding's sparse gradient as Keras does (see sparse_row_sum)."""

    def _sparse_step(self, p, group):
        lr, state = group["lr"], self._init_state(p, group)
        if group["weight_decay"]:
            p.add_(p, alpha=-lr * group["weight_decay"])
        state["sum"].add_(sparse_row_sum(p.grad, torch.square))
        p.addcdiv_(p.grad.to_dense(), state["sum"].add(group["eps"]).sqrt_(), value=-lr)

class KerasAdamax(torch.optim.Optimizer):
    """keras.optimizers.Adamax: exp_inf = max(beta2 * exp_inf, |grad|), and eps is added to
    exp_inf in the update (torch's Adamax adds eps to |grad| inside the max, so it accumulates).
    """

    def __init__(
        self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.0
    ):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            if all(p.grad is None for p in group["params"]):
                continue
            group["step"] = group.get("step", 0) + 1
            params = self._params_with_grad(group)
            if not params:
                continue
            (beta1, beta2), lr, step = group["betas"], group["lr"], group["step"]
            grads = [p.grad for p in params]
            for p in params:
                self._init_state(p)
            exp_avgs = [self.state[p]["exp_avg"] for p in params]
            exp_infs = [self.state[p]["exp_inf"] for p in params]
            if group["weight_decay"]:
                torch._foreach_add_(params, params, alpha=-lr * group["weight_decay"])
            torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
            torch._foreach_mul_(exp_infs, beta2)
            torch._foreach_maximum_(exp_infs, torch._foreach_abs(grads))
            denominators = torch._foreach_add(exp_infs, group["eps"])
            torch._foreach_addcdiv_(
                params, exp_avgs, denominators, value=-lr / (1 - beta1**step)
            )
        return loss

    def _init_state(self, p):
        state = self.state[p]
        if not state:
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_inf"] = torch.zeros_like(p)
        return state

    def _params_with_grad(self, group):
        return [p for p in group["params"] if p.grad is not None]


class KerasAdamaxSparse(SparseRows, KerasAdamax):
    """KerasAdamax that also takes an Embedding's sparse gradient as Keras does (see sparse_row_sum)."""

    def _sparse_step(self, p, group):
        (beta1, beta2), lr, state = group["betas"], group["lr"], self._init_state(p)
        if group["weight_decay"]:
            p.add_(p, alpha=-lr * group["weight_decay"])
        state["exp_avg"].lerp_(p.grad.to_dense(), 1 - beta1)
        exp_inf = state["exp_inf"].mul_(beta2)
        torch.maximum(exp_inf, sparse_row_sum(p.grad, torch.abs), out=exp_inf)
        p.addcdiv_(state["exp_avg"], exp_inf.add(group["eps"]), value=-lr / (1 - beta1 ** group["step"]))
