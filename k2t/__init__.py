"""k2t: translate Keras programs (tf.keras and Keras 3) into standalone, idiomatic PyTorch."""

from k2t.translate import Options, Result, TranslationError, translate

__all__ = ["Options", "Result", "TranslationError", "translate"]
__version__ = "0.1.0"
