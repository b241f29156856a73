"""The import pass of k2t.rewrite: Keras/TensorFlow imports go when nothing references them any more,
torch/numpy imports come where the new code needs them, exactly where and as libcst's
AddImportsVisitor and RemoveImportsVisitor put them before k2t did this itself.

Every expected output below was written by the translator as it was with libcst's codemods (the
commit before the import pass); with them the listing of `k2t check` (which imports are translatable
or kept). Also: the fast tree reading (k2t.cstwalk) agrees with libcst, outputs are stable, and files
without Keras are left byte-identical.
"""

from __future__ import annotations

import inspect

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from conftest import fixture_cases
from k2t import cstwalk, translate
from k2t.check import analyse_source

# name -> (source, expected output, expected `k2t check` listing)
CASES = {
    'alias_removed_and_torch_added': (
        (
            'import tensorflow as tf\n'
            '\n'
            'tf.random.set_seed(0)\n'
        ),
        (
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
        ),
        ['m.py:1:1: K2T001 translatable by k2t convert: import tensorflow as tf (removed)',
         'm.py:3:1: K2T001 translatable by k2t convert: tf.random.set_seed'],
    ),
    'alias_still_used_elsewhere': (
        (
            'import tensorflow as tf\n'
            '\n'
            'tf.random.set_seed(0)\n'
            'x = tf.reduce_sum([1, 2])\n'
        ),
        (
            'import tensorflow as tf\n'
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
            '# k2t: K2T501 tf.reduce_sum has no translation yet; left as is\n'
            'x = tf.reduce_sum([1, 2])\n'
        ),
        ['m.py:3:1: K2T001 translatable by k2t convert: tf.random.set_seed',
         'm.py:4:5: K2T501 tf.reduce_sum has no translation yet; left as is'],
    ),
    'from_import_partly_used': (
        (
            'import tensorflow as tf\n'
            'from tensorflow.keras.layers import Dense, Dropout\n'
            '\n'
            'tf.random.set_seed(0)\n'
            'layer = Dropout(0.5)\n'
        ),
        (
            'from tensorflow.keras.layers import Dropout\n'
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
            '# k2t: K2T101 Dropout is not part of a model k2t can follow statically (a layer used outside a model graph, or a helper or loop over values known only at run time): not translated yet\n'
            'layer = Dropout(0.5)\n'
        ),
        ['m.py:4:1: K2T001 translatable by k2t convert: tf.random.set_seed',
         'm.py:5:9: K2T101 Dropout is not part of a model k2t can follow statically (a layer used outside a model graph, or a helper or loop over values known only at run time): not translated yet'],
    ),
    'from_import_parenthesized_with_comments': (
        (
            'import tensorflow as tf\n'
            'from tensorflow.keras.layers import (\n'
            '    Dense,  # the dense one\n'
            '    Dropout,  # dropout\n'
            '    Flatten,  # flat\n'
            ')\n'
            '\n'
            'tf.random.set_seed(0)\n'
            'layer = Dropout(0.5)\n'
        ),
        (
            'from tensorflow.keras.layers import Dropout\n'
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
            '# k2t: K2T101 Dropout is not part of a model k2t can follow statically (a layer used outside a model graph, or a helper or loop over values known only at run time): not translated yet\n'
            'layer = Dropout(0.5)\n'
        ),
        ['m.py:8:1: K2T001 translatable by k2t convert: tf.random.set_seed',
         'm.py:9:9: K2T101 Dropout is not part of a model k2t can follow statically (a layer used outside a model graph, or a helper or loop over values known only at run time): not translated yet'],
    ),
    'from_import_first_name_goes': (
        (
            'import tensorflow as tf\n'
            'from tensorflow.keras.layers import (  # layers\n'
            '    Dense,  # the dense one\n'
            '    Dropout,\n'
            ')\n'
            '\n'
            'tf.random.set_seed(0)\n'
            'layer = Dropout(0.5)\n'
        ),
        (
            'from tensorflow.keras.layers import (  # layers\n'
            '    Dropout,\n'
            ')\n'
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
            '# k2t: K2T101 Dropout is not part of a model k2t can follow statically (a layer used outside a model graph, or a helper or loop over values known only at run time): not translated yet\n'
            'layer = Dropout(0.5)\n'
        ),
        ['m.py:7:1: K2T001 translatable by k2t convert: tf.random.set_seed',
         'm.py:8:9: K2T101 Dropout is not part of a model k2t can follow statically (a layer used outside a model graph, or a helper or loop over values known only at run time): not translated yet'],
    ),
    'several_names_on_one_import': (
        (
            'import os, tensorflow as tf, sys\n'
            '\n'
            'tf.random.set_seed(0)\n'
            'print(os.sep, sys.argv)\n'
        ),
        (
            'import os, sys\n'
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
            'print(os.sep, sys.argv)\n'
        ),
        ['m.py:1:1: K2T001 translatable by k2t convert: import os, tensorflow as tf, sys (removed)',
         'm.py:3:1: K2T001 translatable by k2t convert: tf.random.set_seed'],
    ),
    'import_and_other_statement_on_one_line': (
        (
            'import random; import tensorflow as tf\n'
            '\n'
            'tf.random.set_seed(0)\n'
            'random.seed(0)\n'
        ),
        (
            'import random\n'
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
            'random.seed(0)\n'
        ),
        ['m.py:1:1: K2T001 translatable by k2t convert: import random; (removed)',
         'm.py:3:1: K2T001 translatable by k2t convert: tf.random.set_seed'],
    ),
    'comments_on_import_lines': (
        (
            '# imports\n'
            'import os  # os\n'
            '# TensorFlow, for the seed\n'
            'import tensorflow as tf  # tf\n'
            'import numpy as np  # numpy\n'
            '\n'
            'tf.random.set_seed(0)\n'
            'print(os.sep, np.pi)\n'
        ),
        (
            '# imports\n'
            'import os  # os\n'
            'import numpy as np  # numpy\n'
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
            'print(os.sep, np.pi)\n'
        ),
        ['m.py:4:1: K2T001 translatable by k2t convert: import tensorflow as tf (removed)',
         'm.py:7:1: K2T001 translatable by k2t convert: tf.random.set_seed'],
    ),
    'star_import_kept': (
        (
            'from tensorflow.keras.layers import *\n'
            'import tensorflow as tf\n'
            '\n'
            'tf.random.set_seed(0)\n'
        ),
        (
            'from tensorflow.keras.layers import *\n'
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
        ),
        ['m.py:1:1: K2T002 from tensorflow.keras.layers import *: k2t convert keeps this import; remove it by hand if nothing uses it',
         'm.py:2:1: K2T002 import tensorflow as tf: k2t convert keeps this import; remove it by hand if nothing uses it',
         'm.py:4:1: K2T001 translatable by k2t convert: tf.random.set_seed'],
    ),
    'future_import_and_docstring': (
        (
            '"""A training script."""\n'
            '\n'
            'from __future__ import annotations\n'
            '\n'
            'import tensorflow as tf\n'
            '\n'
            'tf.random.set_seed(0)\n'
        ),
        (
            '"""A training script."""\n'
            '\n'
            'from __future__ import annotations\n'
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
        ),
        ['m.py:5:1: K2T001 translatable by k2t convert: import tensorflow as tf (removed)',
         'm.py:7:1: K2T001 translatable by k2t convert: tf.random.set_seed'],
    ),
    'docstring_then_code': (
        (
            '"""Only a docstring before the code."""\n'
            'import tensorflow as tf\n'
            'tf.random.set_seed(0)\n'
        ),
        (
            '"""Only a docstring before the code."""\n'
            '\n'
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
        ),
        ['m.py:2:1: K2T001 translatable by k2t convert: import tensorflow as tf (removed)',
         'm.py:3:1: K2T001 translatable by k2t convert: tf.random.set_seed'],
    ),
    'comment_header_no_imports_block': (
        (
            '#!/usr/bin/env python\n'
            '# a script\n'
            "print('start')\n"
            'import tensorflow as tf\n'
            'tf.random.set_seed(0)\n'
        ),
        (
            '#!/usr/bin/env python\n'
            '# a script\n'
            'import torch\n'
            '\n'
            'print("start")\n'
            'torch.manual_seed(0)\n'
        ),
        ['m.py:4:1: K2T001 translatable by k2t convert: import tensorflow as tf (removed)',
         'm.py:5:1: K2T001 translatable by k2t convert: tf.random.set_seed'],
    ),
    'import_inside_function': (
        (
            'import tensorflow as tf\n'
            '\n'
            'tf.random.set_seed(0)\n'
            '\n'
            '\n'
            'def seed_again():\n'
            '    import tensorflow as tf\n'
            '\n'
            '    tf.random.set_seed(1)\n'
            '\n'
            '\n'
            'def uses_tf():\n'
            '    import tensorflow as tf\n'
            '\n'
            '    return tf.ones(3)\n'
        ),
        (
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
            '\n'
            '\n'
            'def seed_again():\n'
            '\n'
            '    torch.manual_seed(1)\n'
            '\n'
            '\n'
            'def uses_tf():\n'
            '    import tensorflow as tf\n'
            '\n'
            '    # k2t: K2T501 tf.ones has no translation yet; left as is\n'
            '    return tf.ones(3)\n'
        ),
        ['m.py:3:1: K2T001 translatable by k2t convert: tf.random.set_seed',
         'm.py:9:5: K2T001 translatable by k2t convert: tf.random.set_seed',
         'm.py:15:12: K2T501 tf.ones has no translation yet; left as is'],
    ),
    'existing_torch_and_numpy_imports': (
        (
            'import numpy as np\n'
            'import torch\n'
            'from torch import optim\n'
            'import tensorflow as tf\n'
            'from tensorflow import keras\n'
            '\n'
            'model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])\n'
            'opt = optim.SGD\n'
            'print(np.pi, torch.pi)\n'
        ),
        (
            'import numpy as np\n'
            'import torch\n'
            'from torch import nn, optim\n'
            '\n'
            'device = torch.device(\n'
            '    "cuda"\n'
            '    if torch.cuda.is_available()\n'
            '    else "mps" if torch.backends.mps.is_available() else "cpu"\n'
            ')\n'
            '\n'
            '\n'
            'class Model(nn.Module):\n'
            '    """The Keras Sequential model `model`."""\n'
            '\n'
            '    def __init__(self):\n'
            '        super().__init__()\n'
            '        self.fc = nn.Linear(3, 2)\n'
            '        self.reset_parameters()\n'
            '\n'
            '    def reset_parameters(self):\n'
            '        """Initialise like Keras (torch\'s default initialisers differ)."""\n'
            '        nn.init.xavier_uniform_(self.fc.weight)\n'
            '        nn.init.zeros_(self.fc.bias)\n'
            '\n'
            '    def forward(self, x):\n'
            '        """(N, 3) -> (N, 2)."""\n'
            '        return self.fc(x)\n'
            '\n'
            '\n'
            'if __name__ == "__main__":\n'
            '    model = Model().to(device)\n'
            '    opt = optim.SGD\n'
            '    print(np.pi, torch.pi)\n'
        ),
        ['m.py:4:1: K2T001 translatable by k2t convert: import tensorflow as tf (removed)',
         'm.py:5:1: K2T001 translatable by k2t convert: from tensorflow import keras (removed)',
         'm.py:7:9: K2T001 translatable by k2t convert: keras.Sequential',
         'm.py:7:27: K2T001 translatable by k2t convert: keras.layers.Dense'],
    ),
    'numpy_without_alias': (
        (
            'import numpy\n'
            'from tensorflow import keras\n'
            '\n'
            'model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])\n'
            "model.compile(optimizer='sgd', loss='mse')\n"
            'model.fit(numpy.zeros((4, 3)), numpy.zeros((4, 2)), epochs=1)\n'
        ),
        (
            'import numpy\n'
            'import torch\n'
            'import numpy as np\n'
            'from torch import nn\n'
            '\n'
            'device = torch.device(\n'
            '    "cuda"\n'
            '    if torch.cuda.is_available()\n'
            '    else "mps" if torch.backends.mps.is_available() else "cpu"\n'
            ')\n'
            '\n'
            '\n'
            'class Model(nn.Module):\n'
            '    """The Keras Sequential model `model`."""\n'
            '\n'
            '    def __init__(self):\n'
            '        super().__init__()\n'
            '        self.fc = nn.Linear(3, 2)\n'
            '        self.reset_parameters()\n'
            '\n'
            '    def reset_parameters(self):\n'
            '        """Initialise like Keras (torch\'s default initialisers differ)."""\n'
            '        nn.init.xavier_uniform_(self.fc.weight)\n'
            '        nn.init.zeros_(self.fc.bias)\n'
            '\n'
            '    def forward(self, x):\n'
            '        """(N, 3) -> (N, 2)."""\n'
            '        return self.fc(x)\n'
            '\n'
            '\n'
            'def prepare_inputs(x):\n'
            '    """Keras\'s input array as the model\'s tensor: float32, on the device."""\n'
            '    return torch.from_numpy(np.asarray(x, dtype="float32")).to(device)\n'
            '\n'
            '\n'
            'def prepare_targets(y):\n'
            '    """Keras\'s labels as float32 in the shape of the model\'s output."""\n'
            '    return torch.from_numpy(np.asarray(y, dtype="float32")).reshape(-1, 2).to(device)\n'
            '\n'
            '\n'
            'def train_one_epoch(model, optimizer, loss_fn, inputs, targets, batch_size):\n'
            '    """One epoch of Keras\'s fit(): shuffled batches; returns the epoch\'s mean loss and metrics."""\n'
            '    model.train()\n'
            '    loss_sum = torch.zeros((), device=device)\n'
            '    samples = len(targets)\n'
            '    order = torch.randperm(samples, device=targets.device)\n'
            '    for start in range(0, len(order), batch_size):\n'
            '        batch = order[start : start + batch_size]\n'
            '        batch_targets = targets[batch]\n'
            '        outputs = model(inputs[batch])\n'
            '        loss = loss_fn(outputs, batch_targets)\n'
            '        optimizer.zero_grad()\n'
            '        loss.backward()\n'
            '        optimizer.step()\n'
            '        # Keras averages over samples; the sums stay on the device (no sync per batch).\n'
            '        loss_sum += loss.detach() * len(batch)\n'
            '    return {"loss": loss_sum.item() / len(order)}\n'
            '\n'
            '\n'
            'if __name__ == "__main__":\n'
            '    model = Model().to(device)\n'
            '    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)\n'
            '    loss_fn = nn.MSELoss()\n'
            '    train_inputs = prepare_inputs(numpy.zeros((4, 3)))\n'
            '    train_targets = prepare_targets(numpy.zeros((4, 2)))\n'
            '    for epoch in range(1):\n'
            '        logs = train_one_epoch(\n'
            '            model, optimizer, loss_fn, train_inputs, train_targets, 32\n'
            '        )\n'
            '        print(\n'
            '            f"Epoch {epoch + 1}/1 - "\n'
            '            + " - ".join(f"{name}: {value:.4f}" for name, value in logs.items())\n'
            '        )\n'
        ),
        ['m.py:2:1: K2T001 translatable by k2t convert: from tensorflow import keras (removed)',
         'm.py:4:9: K2T001 translatable by k2t convert: keras.Sequential',
         'm.py:4:27: K2T001 translatable by k2t convert: keras.layers.Dense'],
    ),
    'keras_aliases': (
        (
            'import tensorflow.keras as K\n'
            'from tensorflow.keras import layers as L\n'
            'import keras.backend as B\n'
            '\n'
            'model = K.Sequential([L.Dense(2, input_shape=(3,))])\n'
            'B.set_learning_phase(0)\n'
        ),
        (
            'import keras.backend as B\n'
            'import torch\n'
            'from torch import nn\n'
            '\n'
            'device = torch.device(\n'
            '    "cuda"\n'
            '    if torch.cuda.is_available()\n'
            '    else "mps" if torch.backends.mps.is_available() else "cpu"\n'
            ')\n'
            '\n'
            '\n'
            'class Model(nn.Module):\n'
            '    """The Keras Sequential model `model`."""\n'
            '\n'
            '    def __init__(self):\n'
            '        super().__init__()\n'
            '        self.fc = nn.Linear(3, 2)\n'
            '        self.reset_parameters()\n'
            '\n'
            '    def reset_parameters(self):\n'
            '        """Initialise like Keras (torch\'s default initialisers differ)."""\n'
            '        nn.init.xavier_uniform_(self.fc.weight)\n'
            '        nn.init.zeros_(self.fc.bias)\n'
            '\n'
            '    def forward(self, x):\n'
            '        """(N, 3) -> (N, 2)."""\n'
            '        return self.fc(x)\n'
            '\n'
            '\n'
            'if __name__ == "__main__":\n'
            '    model = Model().to(device)\n'
            '    # k2t: K2T501 B.set_learning_phase has no translation yet; left as is\n'
            '    B.set_learning_phase(0)\n'
        ),
        ['m.py:5:9: K2T001 translatable by k2t convert: K.Sequential',
         'm.py:5:23: K2T001 translatable by k2t convert: L.Dense',
         'm.py:6:1: K2T501 B.set_learning_phase has no translation yet; left as is'],
    ),
    'exported_name_kept': (
        (
            '__all__ = ["tf"]\n'
            '\n'
            'import tensorflow as tf\n'
            '\n'
            'tf.random.set_seed(0)\n'
        ),
        (
            'import torch\n'
            '\n'
            '__all__ = ["tf"]\n'
            '\n'
            'import tensorflow as tf\n'
            '\n'
            'torch.manual_seed(0)\n'
        ),
        ['m.py:3:1: K2T002 import tensorflow as tf: k2t convert keeps this import; remove it by hand if nothing uses it',
         'm.py:5:1: K2T001 translatable by k2t convert: tf.random.set_seed'],
    ),
    'string_annotation_keeps_import': (
        (
            'import tensorflow as tf\n'
            '\n'
            'tf.random.set_seed(0)\n'
            '\n'
            '\n'
            'def f(x: "tf.Tensor") -> None:\n'
            '    pass\n'
        ),
        (
            'import tensorflow as tf\n'
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
            '\n'
            '\n'
            'def f(x: "tf.Tensor") -> None:\n'
            '    pass\n'
        ),
        ['m.py:1:1: K2T002 import tensorflow as tf: k2t convert keeps this import; remove it by hand if nothing uses it',
         'm.py:3:1: K2T001 translatable by k2t convert: tf.random.set_seed'],
    ),
    'callback_shadowing_its_import': (
        (
            'from tensorflow import keras\n'
            'from tensorflow.keras.callbacks import EarlyStopping, CSVLogger\n'
            '\n'
            'model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])\n'
            "model.compile(optimizer='sgd', loss='mse')\n"
            'stop = EarlyStopping(patience=2)\n'
            'log = CSVLogger\n'
        ),
        (
            'from tensorflow.keras.callbacks import CSVLogger\n'
            'import torch\n'
            'from torch import nn\n'
            '\n'
            'device = torch.device(\n'
            '    "cuda"\n'
            '    if torch.cuda.is_available()\n'
            '    else "mps" if torch.backends.mps.is_available() else "cpu"\n'
            ')\n'
            '\n'
            '\n'
            'class Model(nn.Module):\n'
            '    """The Keras Sequential model `model`."""\n'
            '\n'
            '    def __init__(self):\n'
            '        super().__init__()\n'
            '        self.fc = nn.Linear(3, 2)\n'
            '        self.reset_parameters()\n'
            '\n'
            '    def reset_parameters(self):\n'
            '        """Initialise like Keras (torch\'s default initialisers differ)."""\n'
            '        nn.init.xavier_uniform_(self.fc.weight)\n'
            '        nn.init.zeros_(self.fc.bias)\n'
            '\n'
            '    def forward(self, x):\n'
            '        """(N, 3) -> (N, 2)."""\n'
            '        return self.fc(x)\n'
            '\n'
            '\n'
            'class Callback:\n'
            '    """The part of keras.callbacks.Callback that fit() calls; fit() sets .model and .optimizer."""\n'
            '\n'
            '    model = None\n'
            '    optimizer = None\n'
            '\n'
            '    def on_train_begin(self):\n'
            '        pass\n'
            '\n'
            '    def on_epoch_begin(self, epoch):\n'
            '        pass\n'
            '\n'
            '    def on_epoch_end(self, epoch, logs):\n'
            '        """Returns True to stop training."""\n'
            '        return False\n'
            '\n'
            '    def on_train_end(self):\n'
            '        pass\n'
            '\n'
            '\n'
            'class MonitorCallback(Callback):\n'
            '    """Watches one logged value; mode "auto" maximises accuracies and minimises the rest."""\n'
            '\n'
            '    def __init__(self, monitor, mode, min_delta):\n'
            '        self.monitor = monitor\n'
            '        if mode == "auto":\n'
            '            name = monitor.removeprefix("val_")\n'
            '            mode = (\n'
            '                "max"\n'
            '                if "acc" in name or name in ("auc", "precision", "recall")\n'
            '                else "min"\n'
            '            )\n'
            '        self.sign = 1.0 if mode == "max" else -1.0\n'
            '        self.min_delta = abs(min_delta)\n'
            '\n'
            '    def is_improvement(self, current, reference):\n'
            '        if reference is None:\n'
            '            return True\n'
            '        return self.sign * (current - reference) > self.min_delta\n'
            '\n'
            '\n'
            'class EarlyStopping(MonitorCallback):\n'
            '    """keras.callbacks.EarlyStopping: stop when `monitor` has not improved for `patience` epochs."""\n'
            '\n'
            '    def __init__(\n'
            '        self,\n'
            '        monitor="val_loss",\n'
            '        min_delta=0,\n'
            '        patience=0,\n'
            '        verbose=0,\n'
            '        mode="auto",\n'
            '        baseline=None,\n'
            '        restore_best_weights=False,\n'
            '        start_from_epoch=0,\n'
            '    ):\n'
            '        super().__init__(monitor, mode, min_delta)\n'
            '        self.patience = patience\n'
            '        self.verbose = verbose\n'
            '        self.baseline = baseline\n'
            '        self.restore_best_weights = restore_best_weights\n'
            '        self.start_from_epoch = start_from_epoch\n'
            '\n'
            '    def on_train_begin(self):\n'
            '        self.wait, self.stopped_epoch, self.best, self.best_epoch = 0, 0, None, 0\n'
            '        self.best_state = None\n'
            '\n'
            '    def snapshot(self):\n'
            '        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}\n'
            '\n'
            '    def on_epoch_end(self, epoch, logs):\n'
            '        current = logs.get(self.monitor)\n'
            '        if current is None or epoch < self.start_from_epoch:\n'
            '            return False\n'
            '        if self.restore_best_weights and self.best_state is None:\n'
            '            self.best_state, self.best_epoch = self.snapshot(), epoch\n'
            '        self.wait += 1\n'
            '        if self.is_improvement(current, self.best):\n'
            '            self.best, self.best_epoch = current, epoch\n'
            '            if self.restore_best_weights:\n'
            '                self.best_state = self.snapshot()\n'
            '            if self.baseline is None or self.is_improvement(current, self.baseline):\n'
            '                self.wait = 0\n'
            '            return False\n'
            '        if self.wait >= self.patience and epoch > 0:\n'
            '            self.stopped_epoch = epoch\n'
            '            return True\n'
            '        return False\n'
            '\n'
            '    def on_train_end(self):\n'
            '        if self.stopped_epoch > 0 and self.verbose > 0:\n'
            '            print(f"Epoch {self.stopped_epoch + 1}: early stopping")\n'
            '        if self.restore_best_weights and self.best_state is not None:\n'
            '            if self.verbose > 0:\n'
            '                print(\n'
            '                    f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}."\n'
            '                )\n'
            '            self.model.load_state_dict(self.best_state)\n'
            '\n'
            '\n'
            'if __name__ == "__main__":\n'
            '    model = Model().to(device)\n'
            '    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)\n'
            '    loss_fn = nn.MSELoss()\n'
            '    stop = EarlyStopping(patience=2)\n'
            '    # k2t: K2T501 CSVLogger has no translation yet; left as is\n'
            '    log = CSVLogger\n'
        ),
        ['m.py:4:9: K2T001 translatable by k2t convert: keras.Sequential',
         'm.py:4:27: K2T001 translatable by k2t convert: keras.layers.Dense',
         'm.py:6:8: K2T001 translatable by k2t convert: EarlyStopping',
         'm.py:7:7: K2T501 CSVLogger has no translation yet; left as is'],
    ),
    'removed_statement_comments_then_removed_import': (
        (
            'import keras\n'
            '\n'
            'model = keras.Sequential()\n'
            '# the only layer\n'
            'model.add(keras.layers.Dense(2, input_shape=(3,)))\n'
            'import keras.backend as K  # not used\n'
            'print(model)\n'
        ),
        (
            'import torch\n'
            'from torch import nn\n'
            '\n'
            'device = torch.device(\n'
            '    "cuda"\n'
            '    if torch.cuda.is_available()\n'
            '    else "mps" if torch.backends.mps.is_available() else "cpu"\n'
            ')\n'
            '\n'
            '\n'
            'class Model(nn.Module):\n'
            '    """The Keras Sequential model `model`."""\n'
            '\n'
            '    def __init__(self):\n'
            '        super().__init__()\n'
            '        self.fc = nn.Linear(3, 2)\n'
            '        self.reset_parameters()\n'
            '\n'
            '    def reset_parameters(self):\n'
            '        """Initialise like Keras (torch\'s default initialisers differ)."""\n'
            '        nn.init.xavier_uniform_(self.fc.weight)\n'
            '        nn.init.zeros_(self.fc.bias)\n'
            '\n'
            '    def forward(self, x):\n'
            '        """(N, 3) -> (N, 2)."""\n'
            '        return self.fc(x)\n'
            '\n'
            '\n'
            'if __name__ == "__main__":\n'
            '    model = Model().to(device)\n'
            '    print(model)\n'
        ),
        ['m.py:1:1: K2T001 translatable by k2t convert: import keras (removed)',
         'm.py:3:9: K2T001 translatable by k2t convert: keras.Sequential',
         'm.py:5:11: K2T001 translatable by k2t convert: keras.layers.Dense',
         'm.py:6:1: K2T001 translatable by k2t convert: import keras.backend as K (removed)'],
    ),
    'import_after_code': (
        (
            'import keras\n'
            '\n'
            "print('hello')\n"
            'import tensorflow as tf\n'
            '\n'
            'model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])\n'
            'tf.random.set_seed(0)\n'
        ),
        (
            'import torch\n'
            'from torch import nn\n'
            '\n'
            'device = torch.device(\n'
            '    "cuda"\n'
            '    if torch.cuda.is_available()\n'
            '    else "mps" if torch.backends.mps.is_available() else "cpu"\n'
            ')\n'
            '\n'
            '\n'
            'class Model(nn.Module):\n'
            '    """The Keras Sequential model `model`."""\n'
            '\n'
            '    def __init__(self):\n'
            '        super().__init__()\n'
            '        self.fc = nn.Linear(3, 2)\n'
            '        self.reset_parameters()\n'
            '\n'
            '    def reset_parameters(self):\n'
            '        """Initialise like Keras (torch\'s default initialisers differ)."""\n'
            '        nn.init.xavier_uniform_(self.fc.weight)\n'
            '        nn.init.zeros_(self.fc.bias)\n'
            '\n'
            '    def forward(self, x):\n'
            '        """(N, 3) -> (N, 2)."""\n'
            '        return self.fc(x)\n'
            '\n'
            '\n'
            'if __name__ == "__main__":\n'
            '    print("hello")\n'
            '\n'
            '    model = Model().to(device)\n'
            '    torch.manual_seed(0)\n'
        ),
        ['m.py:1:1: K2T001 translatable by k2t convert: import keras (removed)',
         'm.py:4:1: K2T001 translatable by k2t convert: import tensorflow as tf (removed)',
         'm.py:6:9: K2T001 translatable by k2t convert: keras.Sequential',
         'm.py:6:27: K2T001 translatable by k2t convert: keras.layers.Dense',
         'm.py:7:1: K2T001 translatable by k2t convert: tf.random.set_seed'],
    ),
    'dotted_import': (
        (
            'import tensorflow.random\n'
            'import tensorflow\n'
            '\n'
            'tensorflow.random.set_seed(0)\n'
        ),
        (
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
        ),
        ['m.py:1:1: K2T001 translatable by k2t convert: import tensorflow.random (removed)',
         'm.py:2:1: K2T001 translatable by k2t convert: import tensorflow (removed)',
         'm.py:4:1: K2T001 translatable by k2t convert: tensorflow.random.set_seed'],
    ),
    'crlf_newlines': (
        (
            'import tensorflow as tf\r\n'
            '\r\n'
            'tf.random.set_seed(0)\r\n'
            'print(1)\r\n'
        ),
        (
            'import torch\r\n'
            '\r\n'
            'torch.manual_seed(0)\r\n'
            'print(1)\r\n'
        ),
        ['m.py:1:1: K2T001 translatable by k2t convert: import tensorflow as tf (removed)',
         'm.py:3:1: K2T001 translatable by k2t convert: tf.random.set_seed'],
    ),
    'tab_indentation': (
        (
            'import tensorflow as tf\n'
            '\n'
            'if True:\n'
            '\ttf.random.set_seed(0)\n'
            '\tprint(tf.zeros(2))\n'
        ),
        (
            'import tensorflow as tf\n'
            'import torch\n'
            '\n'
            'if True:\n'
            '    torch.manual_seed(0)\n'
            '    # k2t: K2T501 tf.zeros has no translation yet; left as is\n'
            '    print(tf.zeros(2))\n'
        ),
        ['m.py:4:2: K2T001 translatable by k2t convert: tf.random.set_seed',
         'm.py:5:8: K2T501 tf.zeros has no translation yet; left as is'],
    ),
    'f_string_use': (
        (
            'import tensorflow as tf\n'
            '\n'
            'tf.random.set_seed(0)\n'
            'print(f"{tf.float32}")\n'
        ),
        (
            'import tensorflow as tf\n'
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
            '# k2t: K2T501 tf.float32 has no translation yet; left as is\n'
            'print(f"{tf.float32}")\n'
        ),
        ['m.py:3:1: K2T001 translatable by k2t convert: tf.random.set_seed',
         'm.py:4:10: K2T501 tf.float32 has no translation yet; left as is'],
    ),
    'shadowed_in_function': (
        (
            'import tensorflow as tf\n'
            '\n'
            'tf.random.set_seed(0)\n'
            '\n'
            '\n'
            'def g():\n'
            '    tf = 3\n'
            '    return tf\n'
        ),
        (
            'import torch\n'
            '\n'
            'torch.manual_seed(0)\n'
            '\n'
            '\n'
            'def g():\n'
            '    tf = 3\n'
            '    return tf\n'
        ),
        ['m.py:1:1: K2T001 translatable by k2t convert: import tensorflow as tf (removed)',
         'm.py:3:1: K2T001 translatable by k2t convert: tf.random.set_seed'],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_imports_are_added_and_removed_as_before(name):
    source, expected, _ = CASES[name]
    assert translate(source).code == expected


@pytest.mark.parametrize("name", CASES)
def test_check_lists_the_imports_as_before(name):
    source, _, listing = CASES[name]
    assert [f.render("m.py") for f in analyse_source(source).findings] == listing


@pytest.mark.parametrize("name", CASES)
def test_a_second_run_changes_nothing(name):
    _, expected, _ = CASES[name]
    assert translate(expected).code == expected


PLAIN = [
    "",
    "\n",
    "x = 1",  # no trailing newline
    "import os\r\nprint(os.sep)\r\n",
    "def f():\n\treturn 1\n",
    "# -*- coding: utf-8 -*-\nimport numpy as np  # no Keras here\n\n\nprint(np.pi)\n",
    "import torch\nfrom torch import nn\n\nlayer = nn.Linear(2, 3)\n",
    "# import keras\nprint('tensorflow in a string only')\n",
]


@pytest.mark.parametrize("source", PLAIN)
def test_files_without_keras_are_untouched(source, tmp_path):
    from k2t.cli import convert_file

    result = translate(source)
    assert result.code == source and not result.changed and not result.has_keras
    path = tmp_path / "plain.py"
    path.write_bytes(source.encode())
    outcome = convert_file(str(path))
    assert outcome.status == "unchanged" and outcome.converted == source.encode()


def test_field_table_matches_libcst():
    """k2t/_cstfields.py (regenerate: python -m k2t.cstwalk) lists libcst's children in its order."""
    from k2t import _cstfields

    if _cstfields.LIBCST_VERSION != cstwalk._libcst_version():
        pytest.skip("the table is for another libcst version; k2t reads libcst's source instead")
    for name, fields in _cstfields.FIELDS.items():
        cls = getattr(cst, name, None)
        if cls is None or inspect.isabstract(cls):
            continue
        assert cstwalk.derive_fields(cls) == fields, name


@pytest.mark.parametrize("path", fixture_cases()[:12], ids=lambda p: p.stem)
def test_tree_reading_agrees_with_libcst(path):
    module = cst.parse_module(path.read_text(encoding="utf-8"))
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    parents = wrapper.resolve(ParentNodeProvider)
    mine = cstwalk.Positions(module)
    assert set(mine.nodes()) == set(positions)
    assert all(mine[node] == position for node, position in positions.items())
    assert cstwalk.parents_of(module) == dict(parents)
    for node in list(parents)[:500]:
        assert cstwalk.children(node) == list(node.children)

    order = []

    class Names(cst.CSTVisitor):
        def visit_Name(self, node):
            order.append(node)

    module.visit(Names())
    seen = order[:]
    order.clear()
    cstwalk.visit(module, Names())
    assert order == seen
