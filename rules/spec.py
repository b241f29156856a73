"""The types every rule table is written in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

REQUIRED: Any = object()

# Torch tensor layouts the engine tracks between layers.
LAST = "channels_last"  # Keras order: (N, ..., C); also any rank-1 feature vector
FIRST = "channels_first"  # torch order: (N, C, ...)
# A recurrent layer's final state as torch keeps it, (num_layers, N, units), for a layer that takes
# it as its initial state; Keras's state is (N, units).
STATE = "torch_state"


@dataclass(frozen=True)
class Param:
    """One Keras constructor parameter, in signature order, with its Keras default."""

    name: str
    default: Any = REQUIRED
    aliases: tuple[str, ...] = ()  # older Keras spellings (lr, alpha, ...)


# The trailing parameters of every Keras layer with a kernel and a bias, in signature order.
KERNEL_PARAMS = (
    ("kernel_initializer", "glorot_uniform"),
    ("bias_initializer", "zeros"),
    ("kernel_regularizer", None),
    ("bias_regularizer", None),
    ("activity_regularizer", None),
    ("kernel_constraint", None),
    ("bias_constraint", None),
)


def params(*specs: Any) -> tuple[Param, ...]:
    """params("units", ("activation", None), ...): a signature from short tuples."""
    out = []
    for spec in specs:
        if isinstance(spec, Param):
            out.append(spec)
        elif isinstance(spec, str):
            out.append(Param(spec))
        else:
            out.append(Param(*spec))
    return tuple(out)


@dataclass
class Step:
    """One line of forward(): `x = <forward>`, with {x} the input and {m} the module attribute."""

    forward: str
    module: str | None = None  # constructor code for __init__, e.g. "nn.Linear(784, 128)"
    attr: str = "layer"  # base name of the attribute (numbered by the engine)
    comment: str | None = None  # a short why, written above the __init__ line


@dataclass
class Lowering:
    """What one Keras layer becomes."""

    steps: list[Step]
    out_shape: tuple
    out_layout: str = LAST
    activation: Any = None  # Keras activation applied after the last step
    weights_step: int | None = None  # which step's module receives the Keras weights
    transfer_info: dict = field(default_factory=dict)
    init: tuple[str, str] | None = None  # (kernel initializer, bias initializer) in Keras names
    # Keras's kernel shape ((in, out) for Dense, (kh, kw, in, mult) for DepthwiseConv2D, ...): the
    # fans of glorot/he/lecun initialisers; torch_fans says whether torch's nn.init computes the same
    # fans from the torch weight (False: the bounds are computed from Keras's fans and written out).
    kernel_shape: tuple | None = None
    torch_fans: bool = True
    # reset_parameters() lines for the weights step's module ({m}) where its parameters are not
    # .weight/.bias (nn.LSTM's weight_ih_l0, ...); the rule writes them with initializer_code().
    init_code: list[str] = field(default_factory=list)
    flat_from: tuple | None = None  # output is a (C, H, W)-ordered flatten of this Keras shape
    snippets: set[str] = field(default_factory=set)  # helpers from snippets.py the code uses
    # A layer with several outputs (an RNN with return_state=True): the last step's result is
    # unpacked into `unpack` ({y0}, {y1}, ... the outputs, "{y0}, ({y1}, {y2})"), then finish[i],
    # where not None, brings output i to Keras's form ("{y1}[0]"); out_shapes holds every output's
    # Keras shape, out_shape the first's.
    unpack: str | None = None
    finish: tuple = ()
    finish_comment: str | None = None  # why the outputs need finishing, next to that line
    temps: tuple = ()  # names for {t0}, {t1}, ... in unpack and finish (the engine makes them unique)
    out_shapes: tuple = ()


@dataclass(frozen=True)
class LayerRule:
    keras: str  # canonical key without "layers.", e.g. "Dense"
    params: tuple[Param, ...]
    lower: Callable[..., Lowering]
    # The layout the layer wants for its input: FIRST (conv, pooling), LAST (dense on a sequence,
    # reshape), or None when the layer does not care (elementwise); or a function of the bound
    # arguments that says it (Lambda: None for a pointwise body).
    wants: str | None | Callable[[dict], str | None] = None
    transfer: Callable[..., dict] | None = None
    # Arguments whose value does not change the forward computation (checked nowhere else).
    inert: frozenset[str] = frozenset(
        {"name", "trainable", "dtype", "input_shape", "input_dim", "batch_input_shape", "batch_size"}
    )
    # Inputs after the first are initial states, taken in torch's form (STATE) as well as Keras's.
    takes_states: bool = False
    # The call's tensor arguments by keyword, in their positional order (MultiHeadAttention's query,
    # value, key, attention_mask), and its keywords that are options, not tensors (use_causal_mask).
    call_inputs: tuple[str, ...] = ()
    call_options: tuple[str, ...] = ()
    # Regularizer argument -> the parameter of the layer's weights module that holds that Keras
    # weight (up to a transpose or a gate reorder, which a sum of |w| or w**2 does not see).
    regularized: tuple[tuple[str, str], ...] = (("kernel_regularizer", "weight"), ("bias_regularizer", "bias"))

    def wanted(self, args: dict) -> str | None:
        """The input layout one call of the layer wants."""
        return self.wants(args) if callable(self.wants) else self.wants


class Unsupported(Exception):
    """Raised by a rule when an argument value has no faithful translation."""

    def __init__(self, message: str, code: str = "K2T102"):
        super().__init__(message)
        self.code = code


@dataclass
class LayerContext:
    """What a rule sees of one layer call: bound arguments and the incoming tensor."""

    key: str
    args: dict  # parameter name -> k2t.values.Value, Keras defaults filled in
    in_shape: tuple  # Keras order, without the batch axis; None for an unknown size
    layout: str  # layout of the incoming torch tensor (after any permute the engine inserted)
    next_keys: tuple[str, ...] = ()  # canonical keys of the layers that follow (for look-ahead)
    flat_from: tuple | None = None  # input is a (C, H, W)-ordered flatten of this Keras shape
    in_shapes: tuple = ()  # every input's shape, for layers with several inputs (merging)
    in_layouts: tuple = ()  # every input's layout (STATE: a recurrent state kept in torch's form)
    in_names: tuple = ()  # rules with call_inputs: which argument each input is
    separate_inputs: bool = False  # called with its tensors as separate arguments, not one list
    call_options: dict = field(default_factory=dict)  # keyword -> static value of the call's options
    # The optimizer takes an Embedding's gradient sparse (one row per token), as Keras on TensorFlow does.
    sparse_gradients: bool = False
    # Sizes may stay unknown: the rule writes torch's lazy module (nn.LazyLinear, ...), whose sizes the
    # first batch sets (code-level translation of classes, where shapes are not always followed).
    lazy: bool = False
    # (code, message, comment) triples: translated, but differs. The message is the diagnostic; the
    # comment (the message where None) is written above the layer's line in the output.
    notes: list = field(default_factory=list)

    def value(self, name: str) -> Any:
        return self.args[name].value

    def code(self, name: str) -> str:
        return self.args[name].code

    def is_default(self, name: str, default: Any) -> bool:
        return self.args[name].known and self.args[name].value == default

    def require(self, name: str) -> Any:
        arg = self.args[name]
        if not arg.known:
            raise Unsupported(f"{self.key}({name}={arg.code}): the value must be known statically")
        return arg.value

    @property
    def rank(self) -> int:
        return len(self.in_shape)

    def note(self, message: str, code: str = "K2T104", comment: str | None = None) -> None:
        self.notes.append((code, message, comment))


def tuple_of(value: Any, n: int) -> tuple:
    """Keras accepts 3 or (3, 3) for a 2-D kernel size."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,) * n


def compact(values: tuple) -> Any:
    """(3, 3) -> 3 when all equal, for readable torch constructors."""
    return values[0] if len(set(values)) == 1 else tuple(values)


def to_last(rank: int) -> str:
    """Forward expression moving channels from dim 1 to the end (N, C, ...) -> (N, ..., C)."""
    if rank == 2:
        return "{x}.transpose(1, 2)"
    return "{x}.permute(0, " + ", ".join(str(i) for i in range(2, rank + 1)) + ", 1)"


def to_first(rank: int) -> str:
    """Forward expression moving channels from the end to dim 1 (N, ..., C) -> (N, C, ...)."""
    if rank == 2:
        return "{x}.transpose(1, 2)"
    return "{x}.permute(0, " + str(rank) + ", " + ", ".join(str(i) for i in range(1, rank)) + ")"
