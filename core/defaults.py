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
# 512 since issue 17 (was 256): at equal wall time on 2 threads it is as good at 2 minutes and
# about 0.1 bits/char better at 10 (bench/RESULTS.md, "Issue 17 — a bigger default model").
HIDDEN_SIZE = 512
NUM_LAYERS = 1
DROPOUT = 0.0

# training (tuned across horizons: bench/RESULTS.md, issue 8)
BATCH_SIZE = 32
OPTIMIZER = "schedulefree"
LR = 6e-3
LR_SCHEDULE = "constant"
CLIP = 1.0
# Decoupled weight decay (schedule-free AdamW's), 0.1 since issue 17 (was 0): on the dev corpus at hidden 512 it is
# level with none at 2 minutes and 0.067 / 0.077 bits/char better at 10 (dev / newest-10% split), because
# without it the model starts memorising from ~2,400 steps (bench/RESULTS.md, "Issue 17 — weight decay").
WEIGHT_DECAY = 0.1
PRECISION = "fp32"  # "bf16" is opt-in: not measured to help on the bench machine (bench/RESULTS.md, issue 17)
VAL_EVERY = 200  # steps between validations, for every run: budgeted, --until-stopped and the app's
CKPT_EVERY = 400  # a multiple of VAL_EVERY, so each checkpoint carries its own score
KEEP_BEST = 1
SEED = 0
VAL_FRACTION = 0.1
EPOCHS_WITHOUT_BUDGET = 5  # `tweetgen train` with no budget, no --until-stopped and nothing stored to finish

# generation
TEMPERATURE = 0.8  # the app's starting temperature, and the samples a training run prints (--sample-every)
COPY_THRESHOLD = 40  # a sample sharing a verbatim run of this many characters with a training text is a copy
SAMPLE_MAX_LEN = 140  # the shortest hard cut of a generated text (a quarter past the longest trained, at least this)

# several processes (torchrun): a collective that waits longer than this fails, so a rank stuck for good
# cannot hang the job forever. Generous: a rank may wait in one while another reads a large corpus or
# writes a checkpoint; failures that can be foreseen stop every rank at once (core.train.distributed.together).
DISTRIBUTED_TIMEOUT_S = 600

# corpus
# Twitter's limit since November 2017 (140 before). The notebook's 140 dropped a third of what people
# wrote in real archives (issue 16); a corpus of 140-character tweets trains the same under either limit:
# the limit only drops texts, and the model is not sized by it (its length counts are, up to 1,024).
MAX_TWEET_LEN = 280

# Small corpora (issue 16): a personal archive keeps 700-2,000 tweets, and on so few the
# default model memorises them within minutes (validation rises from about 2 minutes on, on
# 1,000 tweets). Below SMALL_CORPUS texts a new run gets these instead of the defaults above
# unless the user chose them; measured side by side in bench/small_corpora.py (bench/RESULTS.md,
# "Issue 16 — small corpora"). At and above SMALL_CORPUS a new run gets the defaults above.
SMALL_CORPUS = 5000
SMALL_DROPOUT = 0.5  # on the GRU's output, before the decoder (core.model.gru.CharGRU)
SMALL_HIDDEN_SIZE = 256  # the size these were measured with (issue 16); 512 was never measured on so few texts
SMALL_BATCH_SIZE = 16  # more, smaller steps in the same minutes
SMALL_WEIGHT_DECAY = 0.0  # screened (0.1) with hidden 256 and dropout 0.5: no better than dropout alone (issue 16)


def corpus_settings(n_texts: int) -> dict[str, dict[str, Any]]:
    """The defaults that depend on the corpus's size, for a new run on ``n_texts`` texts:
    ``{"model": {...}, "train": {...}}`` by ``ModelConfig``/``TrainConfig`` names (empty: the plain defaults)."""
    if n_texts >= SMALL_CORPUS:
        return {"model": {}, "train": {}}
    return {"model": {"dropout": SMALL_DROPOUT, "hidden_size": SMALL_HIDDEN_SIZE},
            "train": {"batch_size": SMALL_BATCH_SIZE, "weight_decay": SMALL_WEIGHT_DECAY}}


def known_fields(cls: type, stored: dict[str, Any] | None) -> dict[str, Any]:
    """The entries of a *stored* settings dict that dataclass ``cls`` still has.

    Only for what a checkpoint written by another version carries: a setting it knew and
    this version dropped is ignored. A caller's own settings are never filtered this
    way; an unknown one is an error (:func:`core.train.setup.check_settings`).
    """
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in dict(stored or {}).items() if k in names}
