"""Helper code that translations copy into their output, each top-level definition on its own.

This file is real Python so that it is linted and tested like the rest, but nothing imports it at run
time: the engine copies the definitions a translation uses (and those they use, found by name) into
the generated file, so the output needs nothing from k2t. Keep every function short and readable:
users will read and own this code.
"""

import csv
import gzip
import io
import os
import pickle
import random
import tarfile
import urllib.request
import zipfile

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def set_random_seed(seed):
    """keras.utils.set_random_seed: seed Python's random, NumPy's global generator and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # every device, CUDA included


def to_categorical(labels, num_classes=None):
    """One-hot float32 rows, as keras.utils.to_categorical."""
    labels = np.asarray(labels, dtype="int64")
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if num_classes is None:
        num_classes = int(labels.max()) + 1
    return np.eye(num_classes, dtype="float32")[labels]


class KerasLSTM(nn.Module):
    """keras.layers.LSTM with an activation torch's nn.LSTM lacks, as an explicit loop.

    Parameters are named and laid out like nn.LSTM's (gates i, f, g, o) and it returns what
    nn.LSTM returns: (outputs, (h_n, c_n)).
    """

    def __init__(self, input_size, hidden_size, activation, batch_first=True, bias=True):
        super().__init__()
        self.hidden_size, self.activation = hidden_size, activation
        self.weight_ih_l0 = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih_l0 = nn.Parameter(torch.zeros(4 * hidden_size)) if bias else None
        self.bias_hh_l0 = nn.Parameter(torch.zeros(4 * hidden_size)) if bias else None
        for weight in (self.weight_ih_l0, self.weight_hh_l0):
            nn.init.uniform_(weight, -(hidden_size**-0.5), hidden_size**-0.5)

    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.hidden_size)
        c = x.new_zeros(x.shape[0], self.hidden_size)
        outputs = []
        for step in x.unbind(1):
            gates = F.linear(step, self.weight_ih_l0, self.bias_ih_l0)
            gates = gates + F.linear(h, self.weight_hh_l0, self.bias_hh_l0)
            i, f, g, o = gates.chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * self.activation(g)
            h = torch.sigmoid(o) * self.activation(c)
            outputs.append(h)
        return torch.stack(outputs, 1), (h.unsqueeze(0), c.unsqueeze(0))


class KerasGRU(nn.Module):
    """keras.layers.GRU (reset_after=True) with an activation torch's nn.GRU lacks, as a loop.

    Parameters are named and laid out like nn.GRU's (gates r, z, n) and it returns what nn.GRU
    returns: (outputs, h_n).
    """

    def __init__(self, input_size, hidden_size, activation, batch_first=True, bias=True):
        super().__init__()
        self.hidden_size, self.activation = hidden_size, activation
        self.weight_ih_l0 = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_ih_l0 = nn.Parameter(torch.zeros(3 * hidden_size)) if bias else None
        self.bias_hh_l0 = nn.Parameter(torch.zeros(3 * hidden_size)) if bias else None
        for weight in (self.weight_ih_l0, self.weight_hh_l0):
            nn.init.uniform_(weight, -(hidden_size**-0.5), hidden_size**-0.5)

    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.hidden_size)
        outputs = []
        for step in x.unbind(1):
            input_r, input_z, input_n = F.linear(step, self.weight_ih_l0, self.bias_ih_l0).chunk(3, -1)
            hidden_r, hidden_z, hidden_n = F.linear(h, self.weight_hh_l0, self.bias_hh_l0).chunk(3, -1)
            r = torch.sigmoid(input_r + hidden_r)
            z = torch.sigmoid(input_z + hidden_z)
            n = self.activation(input_n + r * hidden_n)
            h = (1 - z) * n + z * h
            outputs.append(h)
        return torch.stack(outputs, 1), h.unsqueeze(0)


class ProbabilityCrossentropy(nn.Module):
    """Keras's categorical_crossentropy on probabilities: rows renormalised, clipped to [1e-7, 1)."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, output, target):
        output = output / output.sum(-1, keepdim=True)
        output = output.clamp(1e-7, 1 - 1e-7)
        loss = -(target * output.log()).sum(-1)
        return loss.mean() if self.reduction == "mean" else loss


class SparseProbabilityCrossentropy(nn.Module):
    """Keras's sparse_categorical_crossentropy on probabilities: the log of the probabilities
    clipped to [1e-7, 1 - 1e-7] taken as logits, as Keras's TensorFlow backend does."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, output, target):
        log_probabilities = output.clamp(1e-7, 1 - 1e-7).log()
        return F.cross_entropy(log_probabilities.movedim(-1, 1), target, reduction=self.reduction)


class UntranslatedLayer(nn.Module):
    """A Keras layer k2t could not translate, kept in its place so that the model around it is
    translated: write its forward() (it takes and returns channels-last tensors, as Keras does)."""

    def __init__(self, keras_layer):
        super().__init__()
        self.keras_layer = keras_layer

    def forward(self, *inputs):
        raise NotImplementedError(f"{self.keras_layer} has no PyTorch translation yet: write this forward()")


class MultiHeadAttention(nn.Module):
    """keras.layers.MultiHeadAttention: each head projects to key_dim (queries, keys) and value_dim
    (values), whatever the model width (torch's nn.MultiheadAttention ties them to it), and the
    heads' outputs are projected back to the query's width."""

    def __init__(self, query_dim, key_in, value_in, num_heads, key_dim, value_dim=None, dropout=0.0, bias=True):
        super().__init__()
        value_dim = value_dim or key_dim
        self.num_heads, self.dropout = num_heads, dropout
        self.query = nn.Linear(query_dim, num_heads * key_dim, bias=bias)
        self.key = nn.Linear(key_in, num_heads * key_dim, bias=bias)
        self.value = nn.Linear(value_in, num_heads * value_dim, bias=bias)
        self.output = nn.Linear(num_heads * value_dim, query_dim, bias=bias)

    def forward(self, query, value, key=None, attention_mask=None, use_causal_mask=False,
                return_attention_scores=False):
        key = value if key is None else key

        def heads(x):  # (N, T, heads * size) -> (N, heads, T, size)
            return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

        q, k, v = heads(self.query(query)), heads(self.key(key)), heads(self.value(value))
        # Keras's order of operations: the queries scaled by 1 / sqrt(key_dim) first, dropout on
        # the attention weights (F.scaled_dot_product_attention computes the same, rounded otherwise).
        scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
        # Keras's masks: attention_mask (N, Tq, Tv) for every head; the causal one lets query i
        # see keys 0..i. Masked scores get no weight.
        keep = None if attention_mask is None else attention_mask.bool().unsqueeze(-3)
        if use_causal_mask:
            causal = scores.new_ones(scores.shape[-2:], dtype=torch.bool).tril()
            keep = causal if keep is None else keep & causal
        if keep is not None:
            scores = scores.masked_fill(~keep, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        attended = F.dropout(weights, self.dropout, self.training) @ v
        output = self.output(attended.transpose(1, 2).flatten(2))
        return (output, weights) if return_attention_scores else output


class DotAttention(nn.Module):
    """keras.layers.Attention(use_scale=True): dot-product attention whose scores are multiplied by
    a learned scalar (starting at 1), not by 1 / sqrt(dim)."""

    def __init__(self, dropout=0.0):
        super().__init__()
        self.dropout = dropout
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, query, value, key=None):
        key = value if key is None else key
        weights = torch.softmax(query @ key.transpose(-2, -1) * self.scale, dim=-1)
        return F.dropout(weights, self.dropout, self.training) @ value


class AdditiveAttention(nn.Module):
    """keras.layers.AdditiveAttention (Bahdanau-style): the scores sum scale * tanh(query_i + key_j)
    over the features; scale is a learned vector, glorot-uniform initialised as Keras does for its
    (dim,) shape, or 1 with use_scale=False."""

    def __init__(self, dim, use_scale=True, dropout=0.0):
        super().__init__()
        self.dropout = dropout
        self.scale = nn.Parameter(torch.empty(dim)) if use_scale else None
        if use_scale:
            nn.init.uniform_(self.scale, -((3 / dim) ** 0.5), (3 / dim) ** 0.5)

    def forward(self, query, value, key=None):
        key = value if key is None else key
        # (N, Tq, 1, dim) + (N, 1, Tv, dim) -> scores (N, Tq, Tv)
        features = torch.tanh(query.unsqueeze(-2) + key.unsqueeze(-3))
        scores = features @ self.scale if self.scale is not None else features.sum(-1)
        weights = torch.softmax(scores, dim=-1)
        return F.dropout(weights, self.dropout, self.training) @ value


class KerasPReLU(nn.Module):
    """keras.layers.PReLU with a slope per position (not only per channel, as nn.PReLU has):
    weight has the input's shape without the batch axis, 1 along the axes that share a slope."""

    def __init__(self, shape):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(shape))

    def forward(self, x):
        return torch.where(x >= 0, x, self.weight * x)


def batch_norm_last(norm, x):
    """A BatchNorm over the last axis of x whatever its rank (Keras's channels-last
    BatchNormalization): the statistics run over every other axis, as nn.BatchNorm1d's over N."""
    return norm(x.reshape(-1, x.shape[-1])).reshape(x.shape)


class LazyLayerNorm(nn.modules.lazy.LazyModuleMixin, nn.LayerNorm):
    """nn.LayerNorm over the last axis, its size set by the first batch as nn.LazyLinear's is
    (torch has no lazy LayerNorm); after that batch it is an nn.LayerNorm."""

    cls_to_become = nn.LayerNorm

    def __init__(self, eps=1e-5, elementwise_affine=True):
        super().__init__(0, eps=eps, elementwise_affine=elementwise_affine)
        if elementwise_affine:
            self.weight = nn.UninitializedParameter()
            self.bias = nn.UninitializedParameter()

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.normalized_shape != (0,):
            super().reset_parameters()

    def initialize_parameters(self, input):
        if self.normalized_shape == (0,):
            self.normalized_shape = (input.shape[-1],)
            if self.elementwise_affine:
                with torch.no_grad():
                    self.weight.materialize(self.normalized_shape)
                    self.bias.materialize(self.normalized_shape)
                    self.reset_parameters()


# Keras's random image augmentation layers in training (the model calls them only when
# self.training), on (N, C, H, W) images: each image of the batch draws its own transform.


def uniform_per_image(x, low, high):
    """One number per image of the batch x, uniform in [low, high)."""
    return low + (high - low) * torch.rand(x.shape[0], device=x.device, dtype=x.dtype)


def random_flip(x, horizontal=True, vertical=False):
    """keras.layers.RandomFlip: each image flipped with probability 1/2 (with both axes,
    Keras flips an image's two axes together, on one draw per image)."""
    dims = [dim for dim, flip in ((-1, horizontal), (-2, vertical)) if flip]
    flipped = torch.rand(x.shape[0], 1, 1, 1, device=x.device) <= 0.5
    return torch.where(flipped, x.flip(dims), x)


def affine_sample(x, theta, mode, padding_mode):
    """Output pixel p of image i reads x[i] at theta[i] @ (p, 1), in the [-1, 1]
    coordinates of pixel centres (align_corners=False), where Keras samples too."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=False)


def random_rotation(x, factor, mode="bilinear", padding_mode="reflection"):
    """keras.layers.RandomRotation: each image turned about its centre by an angle
    uniform in [factor[0], factor[1]] turns (of 2 pi; positive is counter-clockwise)."""
    height, width = x.shape[-2:]
    angle = 2 * torch.pi * uniform_per_image(x, *factor)
    cos, sin = angle.cos(), angle.sin()
    # A rotation of pixels: [-1, 1] spans the height and the width, hence the aspect.
    theta = x.new_zeros(x.shape[0], 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * height / width
    theta[:, 1, 0], theta[:, 1, 1] = sin * width / height, cos
    return affine_sample(x, theta, mode, padding_mode)


def random_zoom(x, height_factor, width_factor=None, mode="bilinear", padding_mode="reflection"):
    """keras.layers.RandomZoom: each image scaled about its centre; with f drawn from a
    factor's range the image shows 1 + f times its extent (f > 0 zooms out, f < 0 in).
    Without width_factor the width takes the height's draw (the aspect ratio kept)."""
    zoom_height = 1 + uniform_per_image(x, *height_factor)
    zoom_width = zoom_height
    if width_factor is not None:
        zoom_width = 1 + uniform_per_image(x, *width_factor)
    theta = x.new_zeros(x.shape[0], 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = zoom_width, zoom_height
    return affine_sample(x, theta, mode, padding_mode)


def random_translation(x, height_factor, width_factor, mode="bilinear", padding_mode="reflection"):
    """keras.layers.RandomTranslation: each image shifted down and right by fractions of
    its height and width drawn from the two ranges (negative: up, left)."""
    shift_down = uniform_per_image(x, *height_factor)
    shift_right = uniform_per_image(x, *width_factor)
    theta = x.new_zeros(x.shape[0], 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    # [-1, 1] spans the image: a shift of f image sizes is 2 * f.
    theta[:, 0, 2], theta[:, 1, 2] = -2 * shift_right, -2 * shift_down
    return affine_sample(x, theta, mode, padding_mode)


def random_contrast(x, factor, value_range=(0, 255)):
    """keras.layers.RandomContrast: each image's channels spread about their mean (over
    height and width) by a factor uniform in [factor[0], factor[1]], then clipped to
    value_range."""
    scale = uniform_per_image(x, *factor).view(-1, 1, 1, 1)
    mean = x.mean(dim=(-2, -1), keepdim=True)
    return ((x - mean) * scale + mean).clamp(*value_range)


def random_brightness(x, factor, value_range=(0, 255)):
    """keras.layers.RandomBrightness: each image shifted by a fraction uniform in
    [factor[0], factor[1]] of the width of value_range, then clipped to value_range."""
    low, high = value_range
    delta = uniform_per_image(x, *factor).view(-1, 1, 1, 1) * (high - low)
    return (x + delta).clamp(low, high)


def random_crop(x, height, width):
    """keras.layers.RandomCrop: one random height x width window, the same for the whole
    batch as in Keras (which, at inference, passes the images through uncropped)."""
    top = int(torch.randint(0, x.shape[-2] - height + 1, ()))
    left = int(torch.randint(0, x.shape[-1] - width + 1, ()))
    return x[..., top : top + height, left : left + width]


# keras.datasets loaders: the same files from the same addresses, cached where Keras caches them
# (~/.keras/datasets: files Keras already downloaded are reused), read into the same arrays.


def keras_activation(name):
    """The torch module for a Keras activation name (keras.activations.get); None is the identity."""
    if name == "exponential":
        return torch.exp
    modules = {
        None: nn.Identity,
        "linear": nn.Identity,
        "relu": nn.ReLU,
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "softmax": lambda: nn.Softmax(dim=-1),
        "elu": nn.ELU,
        "selu": nn.SELU,
        "softplus": nn.Softplus,
        "softsign": nn.Softsign,
        "swish": nn.SiLU,
        "silu": nn.SiLU,
        "gelu": nn.GELU,
        "relu6": nn.ReLU6,
        "leaky_relu": lambda: nn.LeakyReLU(0.2),  # Keras's slope
        "hard_sigmoid": nn.Hardsigmoid,
    }
    return modules[name]()


def keras_init_(weight, name):
    """Fill weight (in Keras's layout) in place as keras.initializers.get(name) would, for
    Keras's built-in initializer names (None: glorot_uniform), with the fans Keras computes."""
    # GlorotUniform -> glorot_uniform
    name = "".join("_" + c.lower() if c.isupper() else c for c in name or "glorot_uniform")
    name = name.lstrip("_")
    fixed = {
        "zeros": lambda: nn.init.zeros_(weight),
        "ones": lambda: nn.init.ones_(weight),
        "random_uniform": lambda: nn.init.uniform_(weight, -0.05, 0.05),
        "random_normal": lambda: nn.init.normal_(weight, std=0.05),
        "truncated_normal": lambda: nn.init.trunc_normal_(weight, 0, 0.05, -0.1, 0.1),
        "orthogonal": lambda: nn.init.orthogonal_(weight),
    }
    fixed["uniform"], fixed["normal"] = fixed["random_uniform"], fixed["random_normal"]
    if name in fixed:
        return fixed[name]()
    family, _, distribution = name.partition("_")
    scale = {"glorot": 1.0, "he": 2.0, "lecun": 1.0}.get(family)
    if scale is None or distribution not in ("uniform", "normal"):
        raise NotImplementedError(f"the Keras initializer {name!r} is not translated")
    # Keras's fans: the last two axes (in, out), times the receptive field of the others.
    size, shape = weight.numel(), weight.shape
    fan_in, fan_out = (size // shape[-1], size // shape[-2]) if weight.dim() > 1 else (size, size)
    n = max(1.0, (fan_in + fan_out) / 2 if family == "glorot" else fan_in)
    if distribution == "uniform":
        limit = (3.0 * scale / n) ** 0.5
        return nn.init.uniform_(weight, -limit, limit)
    # Keras's normals are truncated at 2 std; 0.8796... is the std of such a unit normal.
    std = (scale / n) ** 0.5 / 0.87962566103423978
    return nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std)


def keras_init_lazy(module, kernel_initializer, bias_initializer="zeros"):
    """Initialise a lazy module's weight and bias as Keras would, once the first batch has
    set its sizes (torch's lazy modules start from torch's own defaults)."""

    def initialize(module, args):
        handle.remove()
        # The weight viewed in Keras's kernel layout, (*kernel, in, out), for the fans (an
        # orthogonal draw has no fans: torch's layout gives it the same distribution).
        weight = module.weight
        dims = (1, 0) if weight.dim() == 2 else (*range(2, weight.dim()), 1, 0)
        keras_init_(weight if kernel_initializer == "orthogonal" else weight.permute(*dims), kernel_initializer)
        if module.bias is not None:
            keras_init_(module.bias, bias_initializer)

    # Runs after the hook that materialises the parameters (hooks run in registration order).
    handle = module.register_forward_pre_hook(initialize)


def pad_same(x, kernel_size, strides, dilation, value=0.0):
    """TF's padding='same' for a strided convolution (or max pooling: value -inf) of channels-first
    x whose size is known only at run time: (k - 1) * d + 1 - size rounded up to the stride, the
    extra row/column after."""
    pads = []
    for size, k, s, d in zip(reversed(x.shape[2:]), reversed(kernel_size), reversed(strides), reversed(dilation)):
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        pads += [total // 2, total - total // 2]  # F.pad lists the last dim first
    return F.pad(x, pads, value=value)


def get_file(fname=None, origin=None, cache_subdir="datasets", cache_dir=None):
    """keras.utils.get_file (without extraction or hash check): the cached copy of origin at
    cache_dir/cache_subdir/fname (cache_dir: $KERAS_HOME or ~/.keras, as Keras), downloaded on first use."""
    fname = fname or origin.rsplit("/", 1)[-1].split("?")[0]
    cache_dir = cache_dir or os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    folder = os.path.join(cache_dir, cache_subdir)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, fname)
    if not os.path.exists(path):
        partial = path + ".part"  # never leave a half-written file under the cached name
        urllib.request.urlretrieve(origin, partial)
        os.replace(partial, path)
    return path


def download(name, url=None, subdir="datasets"):
    """The cached copy of a dataset file (by default one of Keras's), downloaded on first use."""
    url = url or "https://storage.googleapis.com/tensorflow/tf-keras-datasets/" + name
    return get_file(name, url, cache_subdir=subdir)


def load_mnist():
    """keras.datasets.mnist.load_data(): uint8 images (N, 28, 28) and labels (N,)."""
    with np.load(download("mnist.npz"), allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def load_fashion_mnist():
    """keras.datasets.fashion_mnist.load_data(): uint8 images (N, 28, 28) and labels (N,)."""
    def read(name, offset):
        path = download(name, subdir=os.path.join("datasets", "fashion-mnist"))
        with gzip.open(path, "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)

    y_train, y_test = read("train-labels-idx1-ubyte.gz", 8), read("t10k-labels-idx1-ubyte.gz", 8)
    x_train = read("train-images-idx3-ubyte.gz", 16).reshape(len(y_train), 28, 28)
    x_test = read("t10k-images-idx3-ubyte.gz", 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)


class NumpyUnpickler(pickle.Unpickler):
    """Unpickles arrays and plain containers only: a dataset file cannot run code."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a dataset file")
        return super().find_class(module, name)


def load_cifar10():
    """keras.datasets.cifar10.load_data(): uint8 images (N, 32, 32, 3), labels (N, 1)."""
    cache = os.path.join(os.path.expanduser("~"), ".keras", "datasets")
    folder = os.path.join(cache, "cifar-10-batches-py")
    if not os.path.isdir(folder):
        archive = download("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(cache, filter="data")

    def read(name):
        with open(os.path.join(folder, name), "rb") as f:
            batch = NumpyUnpickler(f, encoding="bytes").load()
        images = batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # channels last
        return images, np.asarray(batch[b"labels"], dtype="uint8").reshape(-1, 1)

    parts = [read(f"data_batch_{i}") for i in range(1, 6)]
    x_train, y_train = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return (x_train, y_train), read("test_batch")


def load_boston_housing(test_split=0.2, seed=113):
    """keras.datasets.boston_housing.load_data(): Keras's shuffle (seed 113) and split."""
    with np.load(download("boston_housing.npz"), allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    split = int(len(x) * (1 - test_split))
    return (x[:split], y[:split]), (x[split:], y[split:])


def read_npz(path):
    """An .npz archive's arrays; ragged (object) arrays are unpickled as arrays only."""
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            stream = io.BytesIO(archive.read(member))
            try:  # numbers: no pickle at all
                arrays[member.removesuffix(".npy")] = np.lib.format.read_array(stream, allow_pickle=False)
            except ValueError:  # an object array: its pickle, after the header
                stream.seek(0)
                if np.lib.format.read_magic(stream)[0] == 1:
                    np.lib.format.read_array_header_1_0(stream)
                else:  # versions 2 and 3 share the header's layout
                    np.lib.format.read_array_header_2_0(stream)
                arrays[member.removesuffix(".npy")] = NumpyUnpickler(stream).load()
    return arrays


def load_imdb(num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2, index_from=3):
    """keras.datasets.imdb.load_data(): word-index sequences (object arrays of lists) and labels,
    shuffled, marked, filtered and capped as Keras does."""
    data = read_npz(download("imdb.npz"))
    rng = np.random.RandomState(seed)
    splits = []
    for x, y in ((data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])):
        order = np.arange(len(x))
        rng.shuffle(order)  # one generator for both splits, train first
        start = [start_char] if start_char is not None else []
        x = [start + [w + index_from for w in sequence] for sequence in x[order]]
        y = y[order]
        if maxlen:  # sequences of maxlen words or more are dropped
            kept = [i for i, sequence in enumerate(x) if len(sequence) < maxlen]
            x, y = [x[i] for i in kept], y[kept]
        splits.append((x, y))
    everything = splits[0][0] + splits[1][0]
    num_words = num_words or max(max(sequence) for sequence in everything)
    def cap(sequence):  # words outside [skip_top, num_words) become oov_char (or go)
        if oov_char is not None:
            return [w if skip_top <= w < num_words else oov_char for w in sequence]
        return [w for w in sequence if skip_top <= w < num_words]

    return tuple((np.array([cap(s) for s in x], dtype="object"), y) for x, y in splits)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """keras.utils.pad_sequences: a (samples, maxlen) array, each sequence cut and padded at the
    start ("pre") or the end ("post")."""
    lengths = [len(s) for s in sequences]
    first = next((s for s in sequences if len(s)), [])
    sample_shape = np.asarray(first).shape[1:]
    maxlen = max(lengths, default=0) if maxlen is None else maxlen
    out = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    for i, sequence in enumerate(sequences):
        if not len(sequence):
            continue
        kept = np.asarray(sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen], dtype=dtype)
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, -len(kept) :] = kept
    return out


class Normalization(nn.Module):
    """keras.layers.Normalization over the last axis: (x - mean) / max(sqrt(variance), 1e-7).

    The statistics are given, or computed from data by adapt() as Keras computes them: over every
    axis but the last, with the biased variance.
    """

    def __init__(self, num_features=None, mean=None, variance=None, invert=False):
        super().__init__()
        self.invert = invert
        adapted = mean is None  # then the statistics are state, saved with the model
        for name, value in (("mean", 0.0 if adapted else mean), ("variance", 1.0 if adapted else variance)):
            value = torch.as_tensor(value, dtype=torch.float32).reshape(-1)
            if num_features is not None:  # else: one value for every feature until adapt()
                value = value.expand(num_features).clone()
            self.register_buffer(name, value, persistent=adapted)

    @torch.no_grad()
    def adapt(self, data):
        data = np.asarray(data)
        axes = tuple(range(data.ndim - 1))
        device = self.mean.device
        self.mean = torch.as_tensor(data.mean(axis=axes), dtype=torch.float32, device=device)
        self.variance = torch.as_tensor(data.var(axis=axes), dtype=torch.float32, device=device)

    def forward(self, x):
        scale = self.variance.sqrt().clamp_min(1e-7)
        return self.mean + x * scale if self.invert else (x - self.mean) / scale


class Discretization(nn.Module):
    """keras.layers.Discretization(bin_boundaries=...), output_mode="int": each value's bin index as
    int64, bin i holding bin_boundaries[i - 1] <= x < bin_boundaries[i] (torch.bucketize with
    right=True; Keras's int32 indices hold the same values)."""

    def __init__(self, bin_boundaries):
        super().__init__()
        boundaries = torch.tensor(bin_boundaries, dtype=torch.float32)
        self.register_buffer("bin_boundaries", boundaries, persistent=False)

    def forward(self, x):
        return torch.bucketize(x, self.bin_boundaries, right=True)


class History:
    """What Keras's fit() returns: .history maps 'loss', metric and 'val_' names to epoch values."""

    def __init__(self):
        self.history = {}
        self.epoch = []

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)


class Callback:
    """The part of keras.callbacks.Callback that fit() calls; fit() sets .model and .optimizer."""

    model = None
    optimizer = None

    def on_train_begin(self):
        pass

    def on_epoch_begin(self, epoch):
        pass

    def on_epoch_end(self, epoch, logs):
        """Returns True to stop training."""
        return False

    def on_train_end(self):
        pass


class MonitorCallback(Callback):
    """Watches one logged value; mode "auto" maximises accuracies and minimises the rest."""

    def __init__(self, monitor, mode, min_delta):
        self.monitor = monitor
        if mode == "auto":
            name = monitor.removeprefix("val_")
            mode = "max" if "acc" in name or name in ("auc", "precision", "recall") else "min"
        self.sign = 1.0 if mode == "max" else -1.0
        self.min_delta = abs(min_delta)

    def is_improvement(self, current, reference):
        if reference is None:
            return True
        return self.sign * (current - reference) > self.min_delta


class EarlyStopping(MonitorCallback):
    """keras.callbacks.EarlyStopping: stop when `monitor` has not improved for `patience` epochs."""

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self):
        self.wait, self.stopped_epoch, self.best, self.best_epoch = 0, 0, None, 0
        self.best_state = None

    def snapshot(self):
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def on_epoch_end(self, epoch, logs):
        current = logs.get(self.monitor)
        if current is None or epoch < self.start_from_epoch:
            return False
        if self.restore_best_weights and self.best_state is None:
            self.best_state, self.best_epoch = self.snapshot(), epoch
        self.wait += 1
        if self.is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_state = self.snapshot()
            if self.baseline is None or self.is_improvement(current, self.baseline):
                self.wait = 0
            return False
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_state is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_state)


class ReduceLROnPlateau(MonitorCallback):
    """keras.callbacks.ReduceLROnPlateau: multiply the learning rate by `factor` on a plateau."""

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__(monitor, mode, min_delta)
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr

    def on_train_begin(self):
        self.wait, self.cooldown_counter, self.best = 0, 0, None

    def on_epoch_end(self, epoch, logs):
        # Like Keras, the learning rate is logged (and so lands in the History).
        logs["learning_rate"] = self.optimizer.param_groups[0]["lr"]
        current = logs.get(self.monitor)
        if current is None:
            return False
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                for group in self.optimizer.param_groups:
                    if group["lr"] > np.float32(self.min_lr):
                        group["lr"] = max(group["lr"] * self.factor, self.min_lr)
                        if self.verbose > 0:
                            print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {group['lr']}.")
                self.cooldown_counter, self.wait = self.cooldown, 0
        return False


class LearningRateScheduler(Callback):
    """keras.callbacks.LearningRateScheduler: lr = schedule(epoch, lr) before every epoch."""

    def __init__(self, schedule, verbose=0):
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch):
        for group in self.optimizer.param_groups:
            try:
                group["lr"] = float(self.schedule(epoch, group["lr"]))
            except TypeError:  # a schedule of the epoch only
                group["lr"] = float(self.schedule(epoch))
            if self.verbose > 0:
                print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {group['lr']}.")

    def on_epoch_end(self, epoch, logs):
        # Like Keras, the learning rate is logged (and so lands in the History).
        logs["learning_rate"] = self.optimizer.param_groups[0]["lr"]
        return False


class ModelCheckpoint(MonitorCallback):
    """keras.callbacks.ModelCheckpoint: save the state_dict each epoch, or only when it improves."""

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor, mode, 0.0)
        self.filepath, self.verbose, self.save_best_only = str(filepath), verbose, save_best_only
        self.best = initial_value_threshold

    def on_epoch_end(self, epoch, logs):
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None or not self.is_improvement(current, self.best):
                return False
            self.best = current
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        torch.save(self.model.state_dict(), path)
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: saved the model's state_dict to {path}")
        return False


class CSVLogger(Callback):
    """keras.callbacks.CSVLogger: a CSV row per epoch, written as Keras writes it: the columns are
    "epoch" (counted from 0) and the logged names sorted, with "val_" columns ("NA") even without
    validation; the header is left out when appending to a file that has one."""

    def __init__(self, filename, separator=",", append=False):
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self.write_header = True

    def on_train_begin(self):
        if self.append and os.path.exists(self.filename):
            self.write_header = os.path.getsize(self.filename) == 0
        self.file = open(self.filename, "a" if self.append else "w")
        self.keys, self.writer = None, None

    def on_epoch_end(self, epoch, logs):
        if self.keys is None:
            self.keys = sorted(logs)
            if not any(key.startswith("val_") for key in self.keys):
                self.keys += [f"val_{key}" for key in self.keys]
            self.writer = csv.DictWriter(self.file, ["epoch", *self.keys], delimiter=self.separator)
            if self.write_header:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{key: logs.get(key, "NA") for key in self.keys}})
        self.file.flush()
        return False

    def on_train_end(self):
        self.file.close()
