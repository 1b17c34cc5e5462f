"""The character model: embedding -> GRU -> linear decoder.

The embedding stands in for the notebook's one-hot input: multiplying a one-hot vector
by the GRU's input weights picks one column, which is exactly an embedding lookup, so
we do the lookup and skip the (vocab x batch x time) one-hot tensor.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from core import defaults
from core.model.links import LinkTable, table_from

if TYPE_CHECKING:
    from core.data.vocab import CharVocab

MAX_LENGTH_TABLE = 1024  # the longest target length a model can be told; longer ones are clamped


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the model; stored in every checkpoint."""

    vocab_size: int
    embed_dim: int = defaults.EMBED_DIM
    hidden_size: int = defaults.HIDDEN_SIZE
    num_layers: int = defaults.NUM_LAYERS
    dropout: float = defaults.DROPOUT
    # The longest text the model was trained for (the corpus filter's limit, capped at
    # MAX_LENGTH_TABLE): the range of ``length_prior``, the corpus's length counts. 0 = not
    # recorded (tweetgen 0.1).
    max_length: int = 0
    # Whether every input position is also told how many characters remain (issue 8's length
    # input). Off for new runs: it cost 0.02-0.06 bits/char and cut the last word (bench/RESULTS.md,
    # issue 17); sampling steers the length through <eos> instead (core.model.sampler.end_weight).
    # Checkpoints written before this field existed had it whenever max_length > 0 (from_dict).
    length_input: bool = False
    # The lengths the links of each fixed-length site (t.co...) have in the training corpus, so the sampler
    # finishes a link it began (core.model.links). Empty: not recorded (before issue 17's link rule).
    link_lengths: LinkTable = ()

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embed_dim", "hidden_size", "num_layers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 <= int(self.max_length) <= MAX_LENGTH_TABLE:
            raise ValueError(f"max_length must be in [0, {MAX_LENGTH_TABLE}], got {self.max_length}")

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ModelConfig:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if "length_input" not in known:  # written before the field: every model with a length range was told it
            known["length_input"] = bool(known.get("max_length"))
        if not isinstance(known["length_input"], bool):
            raise ValueError(f"length_input must be true or false, got {known['length_input']!r}")
        known["link_lengths"] = table_from(known.get("link_lengths"))
        return cls(**known)  # type: ignore[arg-type]


class CharGRU(nn.Module):
    """Embedding -> GRU -> linear decoder, optionally told how many characters remain.

    ``length_prior`` (``config.max_length > 0``): the training corpus's length counts, a
    buffer saved with the weights; sampling reads it to steer lengths (core.model.sampler).

    Length input (``config.length_input``, off for new runs): a GRU cannot count how much it has
    written, so a plain model ends tweets too early and too late. A person writing a
    tweet knows how long it will be; here every input position also gets an embedding
    of the characters *remaining* (target length minus characters so far, clamped to
    ``[0, max_length]``), added to the character embedding. In training the target is
    the tweet's true length; in sampling it is drawn from ``length_prior`` (the training
    corpus's length counts, a buffer saved with the weights) or chosen by the user. The
    price of knowing the length is reported separately (:meth:`length_cost_bits`), so
    bits/char stay comparable with an unconditioned model.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim)
        if config.max_length and config.length_input:
            self.length_embed = nn.Embedding(config.max_length + 1, config.embed_dim)
            # Zero at the start: the model begins as the plain one and learns to use the length. A
            # random start added noise to every input and cost 0.08-0.11 bits/char in the first
            # 2,000 steps (bench/RESULTS.md, issue 8).
            nn.init.zeros_(self.length_embed.weight)
        if config.max_length:
            # length_prior[L]: how many training texts have L characters (L = 0 unused).
            self.register_buffer("length_prior", torch.zeros(config.max_length + 1))
        self.gru = nn.GRU(
            config.embed_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.drop = nn.Dropout(config.dropout)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        # "fp32": the stock nn.GRU; "bf16": core.model.gru_bf16's mixed-precision forward over the same
        # fp32 weights. A training setting (the Trainer sets it from TrainConfig.precision), not part of the
        # config or the state_dict: a checkpoint does not know which precision trained it.
        self.precision = "fp32"

    @staticmethod
    def state_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
        """The shape of every tensor of ``CharGRU(config).state_dict()``, without building the model.

        For checking a checkpoint before allocating anything. (Building on the meta device
        would do that too, but initialising meta tensors imports torch._dynamo: a second
        added to the first checkpoint load of every process.) Kept equal to the real
        state_dict by tests/core/test_state_shapes.py.
        """
        c = config
        shapes: dict[str, tuple[int, ...]] = {"embed.weight": (c.vocab_size, c.embed_dim)}
        for layer in range(c.num_layers):
            inp = c.embed_dim if layer == 0 else c.hidden_size
            shapes[f"gru.weight_ih_l{layer}"] = (3 * c.hidden_size, inp)
            shapes[f"gru.weight_hh_l{layer}"] = (3 * c.hidden_size, c.hidden_size)
            shapes[f"gru.bias_ih_l{layer}"] = (3 * c.hidden_size,)
            shapes[f"gru.bias_hh_l{layer}"] = (3 * c.hidden_size,)
        shapes["decoder.weight"] = (c.vocab_size, c.hidden_size)
        shapes["decoder.bias"] = (c.vocab_size,)
        if c.max_length and c.length_input:
            shapes["length_embed.weight"] = (c.max_length + 1, c.embed_dim)
        if c.max_length:
            shapes["length_prior"] = (c.max_length + 1,)
        return shapes

    @property
    def length_aware(self) -> bool:
        """Told the remaining length at every input position (a model of tweetgen 0.2's issue-8 recipe, or --length-input)."""
        return bool(self.config.max_length and self.config.length_input)

    def forward(
        self, ids: torch.Tensor, hidden: torch.Tensor | None = None, remaining: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (B, T), remaining (B, T) characters left to write -> logits (B, T, V), hidden (L, B, H).

        ``remaining`` is required by a length-aware model and ignored by one without.
        """
        x = self.embed(ids)  # (B, T, E)
        if self.length_aware:
            if remaining is None:
                raise ValueError("this model is length-aware: pass the remaining characters at every position")
            x = x + self.length_embed(remaining.clamp(0, self.config.max_length))  # (B, T, E)
        if self.precision == "bf16":
            from core.model.gru_bf16 import mixed_forward

            return mixed_forward(self, x, hidden)  # (B, T, V) fp32, (L, B, H) fp32
        out, hidden = self.gru(x, hidden)  # (B, T, H), (L, B, H)
        return self.decoder(self.drop(out)), hidden  # (B, T, V)

    @torch.no_grad()
    def step(
        self, ids: torch.Tensor, hidden: torch.Tensor | None = None, remaining: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One character per stream: ids (B,), remaining (B,) -> logits (B, V), hidden (L, B, H)."""
        logits, hidden = self.forward(ids[:, None], hidden, None if remaining is None else remaining[:, None])  # (B, 1, V)
        return logits[:, 0], hidden

    def set_length_prior(self, lengths: list[int] | tuple[int, ...]) -> None:
        """Count the training texts' lengths (characters, ``<eos>`` excluded) into ``length_prior``."""
        if not self.config.max_length:
            return
        counts = torch.bincount(torch.as_tensor(list(lengths), dtype=torch.long).clamp(0, self.config.max_length),
                                minlength=self.config.max_length + 1)
        self.length_prior.copy_(counts.to(self.length_prior.dtype))

    def length_probs(self, at_least: int = 1, smooth: bool = False) -> torch.Tensor:
        """(max_length + 1,) probabilities of each target length >= ``at_least``, from the prior.

        Sampling draws from the corpus counts as they are. ``smooth`` adds half a count to
        every length 1..max_length, so a length never seen in training still has a
        (small) probability and a finite cost; it is also the fallback when no counted
        length is long enough.
        """
        counts = self.length_prior.detach().float().cpu().clamp(min=0)
        prior = counts.clone()
        prior[: max(1, at_least)] = 0.0
        if smooth or float(prior.sum()) <= 0:
            prior = counts + 0.5
            prior[: max(1, at_least)] = 0.0
        if float(prior.sum()) <= 0:  # at_least beyond max_length: the longest length is all there is
            prior[-1] = 1.0
        return prior / prior.sum()

    def length_cost_bits(self, lengths: list[int]) -> float:
        """-log2 of each length's corpus probability, summed: what knowing the lengths is worth (0 when not told)."""
        if not self.length_aware:
            return 0.0
        probs = self.length_probs(1, smooth=True)
        idx = torch.as_tensor(lengths, dtype=torch.long).clamp(1, self.config.max_length)
        return float(-torch.log2(probs[idx]).sum())

    def stepper(self) -> GRUStepper:
        """A fast single-step function over a snapshot of the current weights (see :class:`GRUStepper`)."""
        return GRUStepper(self)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def flops_per_char(self) -> int:
        """Multiply-adds x2 of one forward character (training costs about 3x this)."""
        c = self.config
        gru = 0
        for layer in range(c.num_layers):
            inp = c.embed_dim if layer == 0 else c.hidden_size
            gru += 3 * c.hidden_size * (inp + c.hidden_size)
        return 2 * (gru + c.hidden_size * c.vocab_size)


class GRUStepper:
    """One GRU step per character for streaming, without ``nn.GRU``'s per-call overhead.

    ``nn.GRU`` called with one time step pays for argument checks, weight flattening and
    a (1, 1, E) sequence wrapper on every character; here a step is ten small kernels:
    the first layer's input projection is precomputed for every character
    (``embedding @ W_ih^T + b_ih``, a (V, 3H) table, so the embedding lookup and the
    input matmul become one row lookup), then one ``addmm`` per layer and the gates
    in place. Same gate formulas and weights as ``torch.nn.GRU``; the results equal the
    full-sequence forward up to float rounding (tests/core/test_sampler_fast.py).

    The weights are a snapshot: build a new stepper after the model is trained further.
    """

    def __init__(self, model: CharGRU) -> None:
        c = model.config
        self.num_layers, self.hidden_size = c.num_layers, c.hidden_size
        with torch.no_grad():
            gru = model.gru
            self.layers: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []
            for k in range(c.num_layers):
                w_ih, b_ih = getattr(gru, f"weight_ih_l{k}").detach(), getattr(gru, f"bias_ih_l{k}").detach()
                w_hh, b_hh = getattr(gru, f"weight_hh_l{k}").detach(), getattr(gru, f"bias_hh_l{k}").detach()
                self.layers.append((w_ih.t().contiguous(), b_ih.clone(), w_hh.t().contiguous(), b_hh.clone()))
            w_ih_t, b_ih = self.layers[0][0], self.layers[0][1]
            self.input_table = torch.addmm(b_ih, model.embed.weight.detach(), w_ih_t)  # (V, 3H)
            self.max_length = c.max_length
            # x @ W_ih is linear, so (char + length embedding) projects as the sum of two table rows.
            self.length_table = model.length_embed.weight.detach() @ w_ih_t if model.length_aware else None  # (R, 3H)
            self.dec_w_t = model.decoder.weight.detach().t().contiguous()  # (H, V)
            self.dec_b = model.decoder.bias.detach().clone()  # (V,)

    def __call__(
        self, ids: torch.Tensor, hidden: torch.Tensor | None = None, remaining: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (B,), remaining (B,) -> logits (B, V), hidden (L, B, H); same contract as :meth:`CharGRU.step`."""
        hid = self.hidden_size
        if hidden is None:
            hidden = self.input_table.new_zeros(self.num_layers, ids.shape[0], hid)
        with torch.no_grad():
            x = self.input_table.index_select(0, ids)  # (B, 3H): embedding and input projection at once
            if self.length_table is not None:
                if remaining is None:
                    raise ValueError("this model is length-aware: pass the remaining characters")
                x = x + self.length_table.index_select(0, remaining.clamp(0, self.max_length))  # (B, 3H)
            new = []
            for k, (w_ih_t, b_ih, w_hh_t, b_hh) in enumerate(self.layers):
                gi = x if k == 0 else torch.addmm(b_ih, x, w_ih_t)  # (B, 3H)
                h = hidden[k]  # (B, H)
                gh = torch.addmm(b_hh, h, w_hh_t)  # (B, 3H)
                rz = gi[:, : 2 * hid].add(gh[:, : 2 * hid]).sigmoid_()  # (B, 2H): reset, update
                n = gh[:, 2 * hid :].mul(rz[:, :hid]).add_(gi[:, 2 * hid :]).tanh_()  # (B, H)
                x = torch.lerp(n, h, rz[:, hid:])  # (1 - z) * n + z * h
                new.append(x)
            logits = torch.addmm(self.dec_b, x, self.dec_w_t)  # (B, V)
        return logits, (x.unsqueeze(0) if len(new) == 1 else torch.stack(new))  # (L, B, H)


def new_model(vocab: CharVocab, *, seed: int = 0, max_length: int = defaults.MAX_TWEET_LEN, **model_kwargs: Any) -> CharGRU:
    """A freshly initialised model, seeded so the same arguments give the same weights.

    ``max_length``: the corpus filter's length limit, the range of the length counts
    (capped at MAX_LENGTH_TABLE; 0 = none, like a model of tweetgen 0.1).
    ``length_input=True`` also tells it the remaining characters at every position.
    """
    torch.manual_seed(seed)
    return CharGRU(ModelConfig(vocab_size=len(vocab), max_length=min(int(max_length), MAX_LENGTH_TABLE), **model_kwargs))
