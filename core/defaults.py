"""The defaults of a run, defined once; no torch here.

``ModelConfig``, ``TrainConfig`` and ``FilterConfig`` take their defaults from these
names, and both front ends' ``--help`` texts quote them, so a default changed here
changes everywhere (the parsers must stay importable without torch: ``tweetgen --help``
answers at once).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

# model (a new run)
EMBED_DIM = 64
HIDDEN_SIZE = 256
NUM_LAYERS = 1
DROPOUT = 0.0

# training (tuned across horizons: bench/RESULTS.md, issue 8)
BATCH_SIZE = 32
OPTIMIZER = "schedulefree"
LR = 6e-3
LR_SCHEDULE = "constant"
CLIP = 1.0
PRECISION = "fp32"  # "bf16" is opt-in: not measured to help on the bench machine (bench/RESULTS.md, issue 17)
VAL_EVERY = 200  # steps between validations, for every run: budgeted, --until-stopped and the app's
CKPT_EVERY = 400  # a multiple of VAL_EVERY, so each checkpoint carries its own score
KEEP_BEST = 1
SEED = 0
VAL_FRACTION = 0.1
EPOCHS_WITHOUT_BUDGET = 5  # `tweetgen train` with no budget, no --until-stopped and nothing stored to finish

# corpus
MAX_TWEET_LEN = 140  # the notebook's filter


def known_fields(cls: type, stored: dict[str, Any] | None) -> dict[str, Any]:
    """The entries of a *stored* settings dict that dataclass ``cls`` still has.

    Only for what a checkpoint written by another version carries: a setting it knew and
    this version dropped is ignored. A caller's own settings are never filtered this
    way; an unknown one is an error (:func:`core.run_setup.check_settings`).
    """
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in dict(stored or {}).items() if k in names}
