"""Which hidden units track a URL, a mention, quotes, the end of a tweet (issue 19): the unit finder.

Karpathy's char-RNN posts showed single cells that switch on inside quotes or a URL, found
by eye. This finds them by statistics, for the model being trained, and says honestly
when a feature is only *decodable* from many units rather than *tracked* by one.

API (what the app and the CLI use):

- :data:`FEATURES` ``{key: label}`` in display order, and :func:`char_features` (text -> one
  value per character per feature; binary features 0/1, their trigger characters NaN):
  from :mod:`core.neurons.features`, the tokenizer.
- :func:`activations` ``(model, vocab, text) -> (len(text), H)``: the last layer's hidden
  state after reading each character, in (-1, 1).
- :func:`find_units` ``(model, vocab, texts) -> NeuronReport``: every unit scored against
  every feature; ``report.ranked[feature]`` is the best 10 :class:`UnitScore` (best first).
- :func:`report_for_checkpoint` ``(path, texts=None) -> NeuronReport``: the same for a
  checkpoint file, cached beside it (``step-00000400.neurons.json``); with no texts, the
  checkpoint's own validation texts (:func:`validation_texts`).
- :func:`top_texts` ``(model, vocab, texts, unit, k=5)``: the texts where a unit fires most.
- :func:`legend` ``(unit_score)``: "unit 137 · inside URL · AUC 0.97 (+) · halves 0.96/0.97 · untrained 0.58".
- :func:`verdict` ``(report, feature)``: "tracked", "spread" (only the probe on all units decodes it),
  "no" or "absent"; :func:`cache_path`, :func:`validation_texts`.
- :class:`NeuronsError`: a one-line, user-fixable problem (no texts, no corpus found).

How units are scored (:func:`find_units`):

- The texts (at most ``max_texts``, a seeded sample) are split into two seeded halves;
  each half runs through the GRU in length-sorted, padded batches (one ``nn.GRU`` call
  per batch, never a Python loop per character), and the state after every character is
  streamed into statistics, so memory follows the model and a batch, not the corpus.
- Binary features: ROC-AUC per unit from histograms of the activations of positive and
  negative characters (masked characters left out) over fixed bins in (-1, 1), finer near
  +-1 where GRU states saturate (:data:`NBINS` bins uniform in atanh, over [-4, 4]).
  The score is ``2 |AUC - 0.5|`` (0 = chance, 1 = perfect), the sign says which way.
- Continuous features: Pearson r from streamed sums (each batch summed in float32 about its own mean,
  the batches in float64: within 1e-6 of the exact r); the score is ``|r|``.
- A unit is a *tracker* of a feature when its score clears the threshold
  (:data:`THRESHOLDS`: AUC >= 0.85 or <= 0.15, |r| >= 0.5) on each half with the same
  sign, AND beats an untrained model of the same shape (built with ``seed``: for a run
  trained with seed 0, that is exactly the initialisation training started from; it reads
  :data:`TWIN_TEXTS` of the texts, a baseline needing fewer than the scores it bounds): its score
  must exceed both the same unit untrained and the best untrained unit for that feature by
  :data:`UNTRAINED_MARGIN` (0.1). The best untrained unit is the bar because some features are
  nearly given by the current character (any random unit that sees uppercase letters scores
  0.6-0.75 on "in an uppercase run"), and a unit does not track what it reads off the input.
- The ceiling: one closed-form ridge probe on all units per feature, fitted on the first
  half and scored on the second, in the same scale (exact AUC score, or |r|). A feature
  with a high probe score and no tracker is decodable but spread over many units.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from core.model.gru import CharGRU
from core.neurons.features import BINARY, CONTINUOUS, FEATURES, char_features
from core.data.vocab import BOS_ID, PAD_ID, CharVocab

__all__ = ["FEATURES", "BINARY", "CONTINUOUS", "THRESHOLDS", "UnitScore", "NeuronReport", "NeuronsError", "char_features",
           "activations", "find_units", "report_for_checkpoint", "validation_texts", "top_texts", "cache_path", "verdict", "legend"]

FINDER_VERSION = 1  # part of the cache key: a changed finder recomputes every cached report
MAX_TEXTS = 2000
TWIN_TEXTS = 500  # texts the untrained twin reads (its scores are a baseline: ~50,000 characters estimate them well)
TOP_UNITS = 10  # units kept per feature in a report
NBINS = 256  # histogram bins per unit for the AUC
ATANH_SPAN = 4.0  # bins are uniform in atanh(a) over [-4, 4] (|a| up to 0.9993); beyond, the end bins
BATCH_POSITIONS = 16384  # padded characters per batch of texts (at most BATCH_TEXTS texts): its states, 16 MB at H = 256
BATCH_TEXTS = 256
CHUNK_POSITIONS = 16384  # characters per GRU call within a batch: its (B, steps, 3H) gate inputs, 50 MB at H = 256
RIDGE = 1e-3  # ridge penalty, relative to the mean variance of the units
THRESHOLDS: dict[str, float] = {f: (0.5 if f in CONTINUOUS else 0.7) for f in FEATURES}
# A tracker must beat the untrained twin's same unit AND its best unit for the feature by this much (score scale).
# Some features are nearly given by the current character alone (an uppercase letter is mostly inside a caps
# run): there a random unit already clears 0.7 (0.73 on the tests' texts), and only the best untrained unit,
# with a margin for the spread between random initialisations, says what training added.
UNTRAINED_MARGIN = 0.1
_ORDER = tuple(FEATURES)  # column order of the feature matrix


class NeuronsError(Exception):
    """A problem the user can fix (no texts, the validation texts not found); ``str()`` is one line."""


@dataclass(frozen=True)
class UnitScore:
    """One unit against one feature.

    ``score``: 2|AUC - 0.5| (binary) or |r| (continuous), on all the texts; ``sign`` +1 when
    the unit is higher where the feature is (AUC > 0.5, r > 0); ``auc_or_r`` the raw value.
    ``halves``: the score on each half of the texts; ``untrained``: the same unit's score in
    an untrained model of the same shape (both in the ``score`` scale, what the threshold
    compares); ``halves_raw``/``untrained_raw``: the same as raw AUC or r, for a legend
    such as "AUC 0.97 (+) · halves 0.96/0.97 · untrained 0.58".
    """

    feature: str
    unit: int
    score: float
    sign: int
    auc_or_r: float
    halves: tuple[float, float]
    untrained: float
    tracker: bool
    halves_raw: tuple[float, float] = (math.nan, math.nan)
    untrained_raw: float = math.nan


@dataclass(frozen=True)
class NeuronReport:
    """What :func:`find_units` found. ``ranked[feature]``: the best :data:`TOP_UNITS` units, best first
    (empty when the texts hold no positive, or no negative, character of that feature).

    ``probe``/``untrained_probe``: the ridge probe on all units (fitted on one half, scored
    on the other; NaN when the feature is absent); ``untrained_best``: the best single unit
    of the untrained model; ``counts``: positive characters per binary feature (all scored
    characters for a continuous one); ``thresholds``: what a tracker must clear.
    """

    step: int
    hidden: int
    n_texts: int
    n_chars: int
    ranked: dict[str, list[UnitScore]]
    probe: dict[str, float]
    untrained_probe: dict[str, float]
    thresholds: dict[str, float]
    untrained_best: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def trackers(self, feature: str) -> list[UnitScore]:
        """The tracker units of ``feature``, best first."""
        return [u for u in self.ranked.get(feature, []) if u.tracker]

    def best(self, feature: str) -> UnitScore | None:
        units = self.ranked.get(feature, [])
        return units[0] if units else None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes null)."""
        return {
            "finder_version": FINDER_VERSION, "step": self.step, "hidden": self.hidden, "n_texts": self.n_texts,
            "n_chars": self.n_chars, "seconds": _num(self.seconds),
            "thresholds": {k: _num(v) for k, v in self.thresholds.items()},
            "features": [
                {"feature": f, "label": FEATURES.get(f, f), "count": self.counts.get(f), "probe": _num(self.probe.get(f)),
                 "untrained_probe": _num(self.untrained_probe.get(f)), "untrained_best": _num(self.untrained_best.get(f)),
                 "units": [_unit_json(u) for u in self.ranked.get(f, [])]}
                for f in self.ranked
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NeuronReport:
        """The inverse of :meth:`to_json`; raises ValueError/KeyError/TypeError on a malformed dict."""
        feats = data["features"]
        ranked = {f["feature"]: [_unit_from(f["feature"], u) for u in f["units"]] for f in feats}
        return cls(
            step=int(data["step"]), hidden=int(data["hidden"]), n_texts=int(data["n_texts"]), n_chars=int(data["n_chars"]),
            ranked=ranked,
            probe={f["feature"]: _float(f["probe"]) for f in feats},
            untrained_probe={f["feature"]: _float(f["untrained_probe"]) for f in feats},
            thresholds={k: float(v) for k, v in data["thresholds"].items()},
            untrained_best={f["feature"]: _float(f.get("untrained_best")) for f in feats},
            counts={f["feature"]: int(f["count"]) for f in feats if f.get("count") is not None},
            seconds=_float(data.get("seconds")),
        )


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def _float(x: Any) -> float:
    return math.nan if x is None else float(x)


def _unit_json(u: UnitScore) -> dict[str, Any]:
    return {"unit": u.unit, "score": _num(u.score), "sign": u.sign, "auc_or_r": _num(u.auc_or_r),
            "halves": [_num(h) for h in u.halves], "untrained": _num(u.untrained), "tracker": u.tracker,
            "halves_raw": [_num(h) for h in u.halves_raw], "untrained_raw": _num(u.untrained_raw)}


def _unit_from(feature: str, d: dict[str, Any]) -> UnitScore:
    return UnitScore(feature=feature, unit=int(d["unit"]), score=_float(d["score"]), sign=int(d["sign"]),
                     auc_or_r=_float(d["auc_or_r"]), halves=(_float(d["halves"][0]), _float(d["halves"][1])),
                     untrained=_float(d["untrained"]), tracker=bool(d["tracker"]),
                     halves_raw=tuple(_float(h) for h in d.get("halves_raw", (None, None)))[:2],  # type: ignore[arg-type]
                     untrained_raw=_float(d.get("untrained_raw")))


# ---------------------------------------------------------------- activations


def _inputs(model: CharGRU, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """ids (B, T) -> the GRU's input (B, T, E); a length-aware model is told each text's own length."""
    x = model.embed(ids)  # (B, T, E)
    if model.length_aware:
        remaining = lengths[:, None] - torch.arange(ids.shape[1], device=ids.device)[None, :]  # (B, T)
        x = x + model.length_embed(remaining.clamp(0, model.config.max_length))
    return x


@torch.no_grad()
def _states(model: CharGRU, vocab: CharVocab, texts: Sequence[str]) -> torch.Tensor:
    """The last layer's state after each character of each text, concatenated: (sum of lengths, H).

    One padded batch (``<bos>`` + text, padding after): the GRU is causal, so padding never
    changes an earlier state.
    """
    device = next(model.parameters()).device
    longest = max(len(t) for t in texts)
    lengths = torch.tensor([len(t) for t in texts])
    keep = torch.arange(1, longest + 1)[None, :] <= lengths[:, None]  # (B, T): real characters
    ids = torch.full((len(texts), longest + 1), PAD_ID, dtype=torch.long)
    ids[:, 0] = BOS_ID
    flat = [i for text in texts for i in vocab.encode(text, bos=False, eos=False)]  # the texts' ids, one after another
    ids[:, 1:][keep] = torch.tensor(flat, dtype=torch.long)  # row-major: text by text, as ``flat``
    x = _inputs(model, ids.to(device), lengths.to(device))  # (B, T + 1, E)
    # In time chunks, the state carried over: the GRU's gate inputs (B, steps, 3H) stay within CHUNK_POSITIONS
    # however the batch is made (with the default batches, one chunk).
    steps = max(1, CHUNK_POSITIONS // len(texts))
    hidden, outs = None, []
    for t0 in range(0, longest + 1, steps):
        out, hidden = model.gru(x[:, t0 : t0 + steps], hidden)  # (B, steps, H) of the last layer
        outs.append(out)
    out = torch.cat(outs, dim=1) if len(outs) > 1 else outs[0]  # (B, T + 1, H)
    return out[:, 1:][keep.to(device)].float().cpu()  # (N, H), text by text


def activations(model: CharGRU, vocab: CharVocab, text: str) -> torch.Tensor:
    """(len(text), H): the last layer's hidden state after reading each character of ``text`` (after ``<bos>``), in (-1, 1).

    A length-aware model is told the text's own length (the sampler tells it its target).
    """
    model.eval()
    if not text:
        return torch.zeros(0, model.config.hidden_size)
    return _states(model, vocab, [text])


def _batches(texts: Sequence[str], positions: int = BATCH_POSITIONS) -> Iterator[list[int]]:
    """Indices of ``texts`` in length-sorted batches of at most ``positions`` padded characters (or one text)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    batch: list[int] = []
    for i in order:
        if batch and ((len(batch) + 1) * (len(texts[i]) + 1) > positions or len(batch) >= BATCH_TEXTS):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def top_texts(model: CharGRU, vocab: CharVocab, texts: Sequence[str], unit: int, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` texts where ``unit`` fires most (by its highest activation in the text), with that activation."""
    model.eval()
    texts = [t for t in texts if t]
    peaks: list[tuple[float, int]] = []
    for batch in _batches(texts):
        acts = _states(model, vocab, [texts[i] for i in batch])[:, unit]  # (N,)
        start = 0
        for i in batch:
            n = len(texts[i])
            peaks.append((float(acts[start : start + n].max()), i))
            start += n
    peaks.sort(key=lambda p: (-p[0], p[1]))
    return [(texts[i], a) for a, i in peaks[:k]]


# ---------------------------------------------------------------- statistics


def feature_matrix(text: str) -> torch.Tensor:
    """(len(text), F) float32: :func:`char_features` as columns in :data:`FEATURES` order (NaN = masked)."""
    return feature_matrices([text])[0]


def feature_matrices(texts: Sequence[str]) -> list[torch.Tensor]:
    """:func:`feature_matrix` of each text, built as one (sum of lengths, F) tensor (one conversion per
    feature, not one per text) and returned as views of it, text by text."""
    columns: list[list[float]] = [[] for _ in _ORDER]
    for text in texts:
        feats = char_features(text)
        for column, f in zip(columns, _ORDER):
            column.extend(feats[f])
    whole = torch.tensor(columns, dtype=torch.float32).T  # (sum of lengths, F)
    return list(whole.split([len(t) for t in texts]))


def _bins_(z: torch.Tensor, nbins: int) -> torch.Tensor:
    """In place: activations z (N, H) -> their bins as floats (whole numbers in [0, nbins)). One buffer, no copies:
    this runs on every state the finder reads."""
    limit = math.tanh(ATANH_SPAN)
    z.clamp_(-limit, limit).atanh_()  # (N, H) in [-ATANH_SPAN, ATANH_SPAN]
    z.add_(ATANH_SPAN).mul_(nbins / (2 * ATANH_SPAN))
    return z.clamp_(0, nbins - 1).floor_()  # (the clamp first: floor of the top edge nbins would be out of range)


def bin_index(acts: torch.Tensor, nbins: int = NBINS) -> torch.Tensor:
    """acts (N, H) in (-1, 1) -> bin (N, H) long in [0, nbins): uniform in atanh over [-ATANH_SPAN, ATANH_SPAN]."""
    return _bins_(acts.float().clone(), nbins).long()


def flat_bins(acts: torch.Tensor, nbins: int = NBINS) -> torch.Tensor:
    """acts (N, H) -> (N, H) long: ``unit * nbins + bin`` (one histogram of nbins per unit, side by side, for one
    ``bincount``). The unit offsets are added while the bins are still whole floats (exact below 2^24)."""
    z = _bins_(acts.float().clone(), nbins)  # (N, H)
    z.add_(torch.arange(acts.shape[1], dtype=z.dtype) * nbins)
    return z.long()


def auc_from_hist(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """pos, neg (..., nbins) counts -> ROC-AUC (...): P(a_pos > a_neg) + P(same bin) / 2; NaN without both classes."""
    pos, neg = pos.double(), neg.double()
    below = torch.cumsum(neg, dim=-1) - neg  # negatives in lower bins
    wins = (pos * (below + 0.5 * neg)).sum(-1)
    total = pos.sum(-1) * neg.sum(-1)
    return torch.where(total > 0, wins / total.clamp(min=1), torch.full_like(wins, math.nan))


def auc_exact(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """ROC-AUC of ``scores`` (N,) for boolean ``labels`` (N,), ties counted half (Mann-Whitney); NaN without both classes."""
    labels = labels.bool()
    n_pos = int(labels.sum())
    n_neg = int(labels.numel()) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    values, order = torch.sort(scores.double())
    _, inverse, counts = torch.unique_consecutive(values, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    mean_rank = ends - (counts.double() - 1) / 2  # 1-based, ties averaged
    ranks = mean_rank[inverse]
    pos_rank_sum = float(ranks[labels[order]].sum())
    return (pos_rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def pearson_from_sums(n: torch.Tensor | float, sa: torch.Tensor, saa: torch.Tensor, sy: torch.Tensor,
                      syy: torch.Tensor, say: torch.Tensor) -> torch.Tensor:
    """Pearson r of units against features from streamed sums: sa, saa (H,); sy, syy (F,); say (F, H) -> r (F, H); 0 for a constant."""
    cov = n * say - sy[:, None] * sa[None, :]  # (F, H)
    var_a = (n * saa - sa * sa).clamp(min=0)  # (H,)
    var_y = (n * syy - sy * sy).clamp(min=0)  # (F,)
    denom = torch.sqrt(var_y[:, None] * var_a[None, :])
    return torch.where(denom > 0, cov / denom.clamp(min=1e-300), torch.zeros_like(cov))


class _HalfStats:
    """Streamed statistics of one model on one half of the texts."""

    def __init__(self, hidden: int, fit_probe: bool) -> None:
        h, nb, nf = hidden, NBINS, len(BINARY)
        self.hidden = hidden
        self.all = torch.zeros(h * nb, dtype=torch.long)
        self.pos = torch.zeros(nf, h * nb, dtype=torch.long)
        self.mask = torch.zeros(nf, h * nb, dtype=torch.long)
        self.n = 0
        self.sa = torch.zeros(h, dtype=torch.float64)
        self.saa = torch.zeros(h, dtype=torch.float64)
        self.sy = torch.zeros(len(CONTINUOUS), dtype=torch.float64)
        self.syy = torch.zeros(len(CONTINUOUS), dtype=torch.float64)
        self.say = torch.zeros(len(CONTINUOUS), h, dtype=torch.float64)
        self.fit_probe = fit_probe
        if fit_probe:  # the ridge probe's normal equations, [x, 1] (H + 1 columns)
            self.gram = torch.zeros(h + 1, h + 1, dtype=torch.float64)  # all rows (continuous features)
            self.gram_scored = torch.zeros(len(BINARY), h + 1, h + 1, dtype=torch.float64)  # each binary feature's rows
            self.xy = torch.zeros(h + 1, len(_ORDER), dtype=torch.float64)

    def add(self, acts: torch.Tensor, feats: torch.Tensor) -> None:
        """acts (N, H) float32, feats (N, F) float32 with NaN where masked."""
        h, nb = self.hidden, NBINS
        flat = flat_bins(acts, nb)  # (N, H): unit * nbins + bin
        every = torch.bincount(flat.reshape(-1), minlength=h * nb)  # (H * nbins,) this batch
        self.all += every
        for j, f in enumerate(BINARY):
            y = feats[:, _ORDER.index(f)]
            pos, masked = y == 1, torch.isnan(y)
            if bool(pos.any()):
                self.pos[j] += torch.bincount(flat[pos].reshape(-1), minlength=h * nb)
            n_masked = int(masked.sum())
            if 2 * n_masked > len(y):  # mostly masked (sentence ends, caps runs): count the scored rows instead
                self.mask[j] += every - torch.bincount(flat[~masked].reshape(-1), minlength=h * nb)
            elif n_masked:
                self.mask[j] += torch.bincount(flat[masked].reshape(-1), minlength=h * nb)
        # A batch's sums in float32 on the states less their batch mean m (one small matmul and one pass; float64
        # copies of the states were a third of this method's time), then made raw sums in float64:
        # sum a = n m + sum d, sum a^2 = sum d^2 + 2 m sum d + n m^2, sum y a = sum y d + m sum y (d = a - m). Centred,
        # float32 loses nothing that matters even for a unit stuck near +-1 (its raw sums would cancel).
        n = acts.shape[0]
        cont = feats[:, [_ORDER.index(f) for f in CONTINUOUS]]  # (N, Fc)
        m = acts.mean(0)  # (H,)
        d = acts - m  # (N, H)
        sums = (torch.cat([acts.new_ones(n, 1), cont], dim=1).T @ d).double()  # (1 + Fc, H): sum d, sum y d
        m64, y64 = m.double(), cont.double()
        sy = y64.sum(0)  # (Fc,)
        self.n += n
        self.sa += n * m64 + sums[0]
        self.saa += (d * d).sum(0).double() + 2 * m64 * sums[0] + n * m64 * m64
        self.sy += sy
        self.syy += (y64 * y64).sum(0)
        self.say += sums[1:] + sy[:, None] * m64[None, :]
        if self.fit_probe:
            x1 = torch.cat([acts.float(), acts.new_ones(acts.shape[0], 1)], dim=1)  # (N, H + 1)
            every = (x1.T @ x1).double()  # (H + 1, H + 1): float32 within a batch, float64 across batches
            self.gram += every
            self.xy += (x1.T @ torch.nan_to_num(feats, nan=0.0)).double()  # masked rows contribute 0
            for j, f in enumerate(BINARY):  # a feature's own rows: all minus the masked, or the scored ones, fewer rows
                masked = torch.isnan(feats[:, _ORDER.index(f)])
                n_masked = int(masked.sum())
                if 2 * n_masked > len(masked):
                    xs = x1[~masked]
                    self.gram_scored[j] += (xs.T @ xs).double()
                elif n_masked:
                    xm = x1[masked]
                    self.gram_scored[j] += every - (xm.T @ xm).double()
                else:
                    self.gram_scored[j] += every

    def binary_auc(self) -> torch.Tensor:
        """(Fb, H) ROC-AUC per binary feature and unit."""
        h, nb = self.hidden, NBINS
        neg = self.all[None, :] - self.pos - self.mask  # (Fb, H * nb)
        return auc_from_hist(self.pos.view(-1, h, nb), neg.view(-1, h, nb))

    def continuous_r(self) -> torch.Tensor:
        """(Fc, H) Pearson r per continuous feature and unit."""
        return pearson_from_sums(float(self.n), self.sa, self.saa, self.sy, self.syy, self.say)

    def counts(self) -> dict[str, int]:
        nb = NBINS
        out = {f: int(self.pos[j, :nb].sum()) for j, f in enumerate(BINARY)}
        out.update({f: self.n for f in CONTINUOUS})
        return out

    def merged(self, other: _HalfStats) -> _HalfStats:
        both = _HalfStats(self.hidden, fit_probe=False)
        for name in ("all", "pos", "mask", "sa", "saa", "sy", "syy", "say"):
            setattr(both, name, getattr(self, name) + getattr(other, name))
        both.n = self.n + other.n
        return both

    def ridge(self) -> torch.Tensor:
        """(H + 1, F) probe weights (last row: bias) per feature, from this half's normal equations."""
        h = self.hidden
        out = torch.zeros(h + 1, len(_ORDER), dtype=torch.float64)
        for k, f in enumerate(_ORDER):
            gram = self.gram_scored[BINARY.index(f)] if f in BINARY else self.gram
            n = float(gram[h, h])
            if n < 2:
                continue
            mean = gram[:h, h] / n  # (H,)
            cov = gram[:h, :h] / n - torch.outer(mean, mean)  # (H, H)
            ybar = float(self.xy[h, k]) / n
            cxy = self.xy[:h, k] / n - mean * ybar  # (H,)
            lam = RIDGE * float(torch.diagonal(cov).mean()) + 1e-9
            w = torch.linalg.solve(cov + lam * torch.eye(h, dtype=torch.float64), cxy)
            out[:h, k] = w
            out[h, k] = ybar - float(mean @ w)
        return out


def _signed(value: float, binary: bool) -> tuple[float, int]:
    """Raw AUC or r -> (score, sign)."""
    if not math.isfinite(value):
        return 0.0, 1
    centred = value - 0.5 if binary else value
    return (2 * abs(centred) if binary else abs(centred)), (1 if centred >= 0 else -1)


class _ModelPass:
    """One model over both halves: statistics per half, and its probe's held-out predictions."""

    def __init__(self, model: CharGRU, vocab: CharVocab, hidden: int) -> None:
        self.model, self.vocab = model, vocab
        self.halves = (_HalfStats(hidden, fit_probe=True), _HalfStats(hidden, fit_probe=False))
        self.preds: list[torch.Tensor] = []  # (N, F) probe predictions on the second half
        self.truth: list[torch.Tensor] = []  # (N, F) the features there

    def run(self, halves: tuple[list[str], list[str]], feats: tuple[list[torch.Tensor], list[torch.Tensor]]) -> None:
        weights = None
        for h, (texts, fm) in enumerate(zip(halves, feats)):
            if h == 1:
                weights = self.halves[0].ridge().float()  # (H + 1, F), fitted on the first half only
            for batch in _batches(texts):
                acts = _states(self.model, self.vocab, [texts[i] for i in batch])  # (N, H)
                y = torch.cat([fm[i] for i in batch])  # (N, F)
                self.halves[h].add(acts, y)
                if weights is not None:
                    self.preds.append(acts @ weights[:-1] + weights[-1])  # (N, F)
                    self.truth.append(y)

    def probe_scores(self) -> dict[str, float]:
        """Held-out probe score per feature, in the units' scale (2|AUC - 0.5| or |r|)."""
        if not self.preds:
            return {f: math.nan for f in _ORDER}
        pred, truth = torch.cat(self.preds).double(), torch.cat(self.truth).double()
        out = {}
        for k, f in enumerate(_ORDER):
            p, y = pred[:, k], truth[:, k]
            if f in BINARY:
                keep = ~torch.isnan(y)
                auc = auc_exact(p[keep], y[keep] == 1)
                out[f] = _signed(auc, True)[0] if math.isfinite(auc) else math.nan
            else:
                r = torch.corrcoef(torch.stack([p, y]))[0, 1] if p.numel() > 1 else torch.tensor(math.nan)
                out[f] = abs(float(r)) if math.isfinite(float(r)) else math.nan
        return out


def _raw_scores(stats: _HalfStats) -> torch.Tensor:
    """(F, H) raw AUC (binary) or r (continuous), rows in :data:`FEATURES` order."""
    auc, r = stats.binary_auc(), stats.continuous_r()
    rows = [auc[BINARY.index(f)] if f in BINARY else r[CONTINUOUS.index(f)] for f in _ORDER]
    return torch.stack(rows).double()  # (F, H)


def _untrained_twin(model: CharGRU, seed: int) -> CharGRU:
    """A model of the same shape, freshly initialised with ``seed`` (the global RNG left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        twin = CharGRU(model.config)
    return twin.to(next(model.parameters()).device).eval()


def _choose_texts(texts: Sequence[str], max_texts: int, seed: int) -> list[str]:
    texts = [t for t in texts if t]
    if len(texts) > max_texts:
        keep = sorted(random.Random(seed).sample(range(len(texts)), max_texts))
        texts = [texts[i] for i in keep]
    return texts


def find_units(model: CharGRU, vocab: CharVocab, texts: Sequence[str], *, max_texts: int = MAX_TEXTS, seed: int = 0,
               step: int = 0, twin_texts: int = TWIN_TEXTS) -> NeuronReport:
    """Score every hidden unit of ``model`` against every feature on ``texts`` (see the module doc).

    At most ``max_texts`` texts (a seeded sample; empty texts skipped); ``seed`` also splits the
    halves and initialises the untrained twin, which reads ``twin_texts`` of them (half from each
    half: a baseline needs fewer characters than the scores it bounds, and the forward pass is
    most of the finder's time). Raises :class:`NeuronsError` without texts.
    """
    started = time.perf_counter()
    model.eval()
    chosen = _choose_texts(texts, max_texts, seed)
    if len(chosen) < 2:
        raise NeuronsError(f"need at least 2 non-empty texts to score the units, got {len(chosen)}")
    order = list(range(len(chosen)))
    random.Random(seed + 1).shuffle(order)
    mid = len(order) // 2
    halves = ([chosen[i] for i in order[:mid]], [chosen[i] for i in order[mid:]])
    feats = (feature_matrices(halves[0]), feature_matrices(halves[1]))
    hidden = model.config.hidden_size
    with torch.inference_mode():
        trained = _ModelPass(model, vocab, hidden)
        trained.run(halves, feats)
        twin = _ModelPass(_untrained_twin(model, seed), vocab, hidden)
        k = max(1, min(len(halves[1]), twin_texts // 2))  # the halves are shuffled: their first texts are a random sample
        twin.run((halves[0][:k], halves[1][:k]), (feats[0][:k], feats[1][:k]))
    per_half = [_raw_scores(s) for s in trained.halves]  # (F, H) each
    whole = trained.halves[0].merged(trained.halves[1])
    raw = _raw_scores(whole)  # (F, H)
    twin_raw = _raw_scores(twin.halves[0].merged(twin.halves[1]))  # (F, H)
    counts = whole.counts()
    ranked: dict[str, list[UnitScore]] = {}
    untrained_best: dict[str, float] = {}
    for k, f in enumerate(_ORDER):
        binary = f in BINARY
        absent = binary and (counts[f] == 0 or counts[f] == _scored(whole, f))
        if absent:
            ranked[f], untrained_best[f] = [], math.nan
            continue
        scores = [_signed(float(v), binary) for v in raw[k]]
        twin_scores = [_signed(float(v), binary)[0] for v in twin_raw[k]]
        untrained_best[f] = max(twin_scores)
        best = sorted(range(hidden), key=lambda u: (-scores[u][0], u))[:TOP_UNITS]
        units = []
        for u in best:
            score, sign = scores[u]
            halves_s = [_signed(float(per_half[h][k, u]), binary) for h in (0, 1)]
            tracker = (all(s >= THRESHOLDS[f] and sg == sign for s, sg in halves_s)
                       and score >= max(twin_scores[u], untrained_best[f]) + UNTRAINED_MARGIN)
            units.append(UnitScore(feature=f, unit=u, score=score, sign=sign, auc_or_r=float(raw[k, u]),
                                   halves=(halves_s[0][0], halves_s[1][0]), untrained=twin_scores[u], tracker=tracker,
                                   halves_raw=(float(per_half[0][k, u]), float(per_half[1][k, u])),
                                   untrained_raw=float(twin_raw[k, u])))
        ranked[f] = units
    return NeuronReport(step=step, hidden=hidden, n_texts=len(chosen), n_chars=whole.n, ranked=ranked,
                        probe=trained.probe_scores(), untrained_probe=twin.probe_scores(), thresholds=dict(THRESHOLDS),
                        untrained_best=untrained_best, counts=counts, seconds=time.perf_counter() - started)


def _scored(stats: _HalfStats, feature: str) -> int:
    """Characters scored for a binary feature (all minus masked)."""
    j = BINARY.index(feature)
    return stats.n - int(stats.mask[j, :NBINS].sum())


# ---------------------------------------------------------------- checkpoints and the cache


def cache_path(checkpoint: Path) -> Path:
    """Where a checkpoint's report is cached: ``step-00000400.pt`` -> ``step-00000400.neurons.json``."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + ".neurons.json")


def _file_key(path: Path) -> dict[str, Any]:
    """The cache key of a checkpoint file: its size and the sha256 of its bytes.

    No mtime or path: a copy or a ``touch`` keeps the key (the report is the same), a changed file does not."""
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return {"size": st.st_size, "sha256": h.hexdigest()}


def _texts_key(texts: Sequence[str] | None) -> str:
    if texts is None:
        return "validation"
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


HINT = "give the texts to score (a corpus file)"


def validation_texts(ckpt: Any, *, hint: str = HINT) -> list[str]:
    """A loaded checkpoint's validation texts, rebuilt as training split them.

    The checkpoint records its corpus files (``data_files``: path and fingerprint), the corpus
    filters, the held-out share and the seed; reading those files again with those filters
    and splitting with that seed (:func:`core.data.corpus.split_texts`) gives the same held-out
    texts. Raises :class:`NeuronsError` (one line) when the corpus is gone or changed.
    """
    from core.data.corpus import CorpusError, FilterConfig, load_corpora, split_texts
    from core.defaults import known_fields
    from core.store.provenance import ProvenanceError, find_recorded

    ts = ckpt.train_state
    try:
        paths = find_recorded(ts, ckpt.path, hint=hint)
    except ProvenanceError as exc:
        raise NeuronsError(str(exc)) from None  # one line naming the checkpoint and the corpus, ending with the hint
    try:
        filters = FilterConfig(**known_fields(FilterConfig, ts.get("filter_config")))
    except (TypeError, ValueError):
        filters = FilterConfig()
    try:
        texts, _ = load_corpora(paths, filters)
    except CorpusError as exc:
        raise NeuronsError(f"{ckpt.path}: cannot read its training corpus ({exc}); {hint}") from None
    stored = ts.get("train_config") if isinstance(ts.get("train_config"), dict) else {}
    seed = stored.get("seed", 0)
    fraction = ts.get("val_fraction", 0.1)
    _, val = split_texts(texts, float(fraction), seed=int(seed) if isinstance(seed, int) else 0)
    if len(val) < 2:
        raise NeuronsError(f"{ckpt.path}: its validation split holds {len(val)} text(s); {hint}")
    return val


def _train_seed(ckpt: Any) -> int:
    stored = ckpt.train_state.get("train_config")
    seed = stored.get("seed", 0) if isinstance(stored, dict) else 0
    return seed if isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**63 else 0


def report_for_checkpoint(path: Path, texts: Sequence[str] | None = None, *, max_texts: int = MAX_TEXTS,
                          hint: str = HINT) -> NeuronReport:
    """:func:`find_units` for a checkpoint file, cached beside it (:func:`cache_path`).

    The cache is used only when its key matches: the finder's version, the checkpoint's
    size and SHA-256 (a rewritten checkpoint is recomputed; a copy or touch is not), the texts
    (``texts=None``: the checkpoint's validation texts, :func:`validation_texts`) and
    ``max_texts``. ``hint`` ends the error when the validation texts cannot be found (each front
    end words how to give texts in its own flags). The untrained twin uses the run's own seed, so it is the initialisation
    training started from. A cache that cannot be written (a read-only folder) is skipped.
    Raises :class:`core.store.checkpoints.CheckpointError` or :class:`NeuronsError` (one line).
    """
    from core.store.checkpoints import atomic_write, load_checkpoint

    path = Path(path)
    ckpt = load_checkpoint(path)  # validates the file first: a damaged one is an error, never a cache hit
    key = {"finder_version": FINDER_VERSION, "checkpoint": _file_key(path), "texts": _texts_key(texts), "max_texts": max_texts}
    cached = _read_cache(cache_path(path), key)
    if cached is not None:
        return cached
    if texts is None:
        texts = validation_texts(ckpt, hint=hint)
    report = find_units(ckpt.model(), ckpt.vocab, texts, max_texts=max_texts, seed=_train_seed(ckpt), step=ckpt.step)
    encoded = json.dumps({"key": key, "report": report.to_json()}).encode()
    try:
        atomic_write(cache_path(path), lambda fh: fh.write(encoded))
    except OSError:
        pass  # a read-only run folder: the report is still returned, just not kept
    return report


def verdict(report: NeuronReport, feature: str) -> str:
    """One word for a feature: "tracked" (a tracker unit), "spread" (no tracker, but the probe on all units clears
    the threshold: decodable, spread over many units), "no" (neither), "absent" (not in the texts)."""
    if not report.ranked.get(feature):
        return "absent"
    if report.trackers(feature):
        return "tracked"
    probe = report.probe.get(feature, math.nan)
    return "spread" if math.isfinite(probe) and probe >= report.thresholds.get(feature, math.inf) else "no"


def legend(u: UnitScore) -> str:
    """"unit 137 · inside URL · AUC 0.97 (+) · halves 0.96/0.97 · untrained 0.58" (r for a continuous feature)."""
    what = "r" if u.feature in CONTINUOUS else "AUC"
    sign = "+" if u.sign > 0 else "-"
    h0, h1 = u.halves_raw
    return (f"unit {u.unit} \u00b7 {FEATURES.get(u.feature, u.feature)} \u00b7 {what} {u.auc_or_r:.2f} ({sign}) \u00b7 "
            f"halves {h0:.2f}/{h1:.2f} \u00b7 untrained {u.untrained_raw:.2f}")


def _read_cache(path: Path, key: dict[str, Any]) -> NeuronReport | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        return NeuronReport.from_json(data["report"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None  # missing, stale or damaged: recompute

