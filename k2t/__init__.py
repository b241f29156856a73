"""k2t: translate Keras programs (tf.keras and Keras 3) into standalone, idiomatic PyTorch."""

import sys
import types

from k2t.options import Options, TranslationError

__all__ = ["Options", "Result", "TranslationError", "translate"]
__version__ = "0.1.0"


class _Package(types.ModuleType):
    """`k2t.translate` is the function (as ``from k2t import translate`` has always given), loaded with
    the translator on first use: importing k2t (for the command line) does not import libcst."""

    def __getattr__(self, name):
        if name in ("translate", "Result"):
            import importlib

            importlib.import_module("k2t.translate")  # binds both, through __setattr__ below
            return self.__dict__[name]
        raise AttributeError(f"module 'k2t' has no attribute {name!r}")

    def __setattr__(self, name, value):
        if name == "translate" and isinstance(value, types.ModuleType):
            # The import system binds the submodule k2t.translate here: keep the function.
            self.__dict__["Result"] = value.Result
            value = value.translate
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
