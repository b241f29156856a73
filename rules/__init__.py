"""k2t's knowledge: one table (and a few small functions) per family of Keras objects.

Installed as `k2t.rules`. The engine in k2t/ applies these tables; the converter and the verifier both
read them, so the code that is written and the weights that are copied cannot disagree.
"""
