"""Mixed-precision training forward for :class:`core.model.gru.CharGRU`: bf16 matmuls, fp32 everything else.

Why a GRU of our own: ``torch.autocast("cpu", bfloat16)`` around the stock ``nn.GRU`` made a
training step 2.6x slower on an AVX512-BF16 CPU (issue 17): the stock GRU has no bf16 fast
path. Here the GRU is written for it:

- the input projection of every time step is ONE matmul, (B*T, E) @ (E, 3H), in bf16;
- the recurrence runs one (B, H) @ (H, 3H) bf16 matmul per step; the gates, the hidden
  state and the sums stay fp32 (the matmul kernels accumulate in fp32, each result is
  rounded to bf16 once and widened back);
- the decoder, (B*T, H) @ (H, V), is one bf16 matmul;
- the backward is written by hand (:class:`_Recurrence`): per step it needs one bf16
  matmul for the hidden state's gradient, and the recurrent weight's gradient is ONE
  (3H, B*T) @ (B*T, H) matmul after the loop, instead of autograd summing T bf16
  contributions in bf16.

The parameters are the model's own fp32 tensors (the master weights): they are cast to
bf16 once per forward, so the optimizer, the checkpoints and the state_dict are exactly
those of the fp32 model, and a checkpoint does not know which precision trained it.

``precision`` is a training setting (``TrainConfig.precision``): "fp32" (default) keeps the
stock ``nn.GRU``; "bf16" uses this path where the hardware has bf16 arithmetic
(:func:`bf16_supported`) and falls back to fp32, with a note, where it has not: a CPU
without AVX512-BF16 or AMX runs bf16 matmuls in a slow reference loop (measured on a
Zen 3 EPYC: under 1 GFLOP/s against ~60 for fp32; bench/RESULTS.md, issue 17).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from core.model.gru import CharGRU

PRECISIONS = ("fp32", "bf16")
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none: macOS, Windows)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags") and ":" in line:
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_native_bf16() -> bool:
    """True when the CPU has bf16 arithmetic (AVX512-BF16 or AMX-BF16); tests monkeypatch this.

    ``torch.backends.cpu.get_cpu_capability()`` says AVX512 or AMX only as an upper bound
    of what torch's own kernels use (an AVX512 CPU without the BF16 extension also reads
    "AVX512"), so the flags are read directly.
    """
    flags = _cpu_flags()
    return any(f in flags for f in _CPU_BF16_FLAGS)


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 matmuls are fast on ``device``: CUDA with bf16 support, or a CPU with native bf16."""
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return cpu_has_native_bf16()
    return False  # MPS and others: fp32


def resolve_precision(requested: str, device: torch.device) -> tuple[str, str | None]:
    """(the precision to train with, a note when it is not the one asked for)."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    if requested == "bf16" and not bf16_supported(device):
        what = "this CPU has no bf16 arithmetic (AVX512-BF16 or AMX)" if device.type == "cpu" else f"{device.type} has no bf16 support here"
        return "fp32", f"bf16 asked for, but {what}: training in fp32"
    return requested, None


class _Recurrence(torch.autograd.Function):
    """One GRU layer's recurrence over precomputed input gates, with a hand-written backward.

    Same gate formulas as ``torch.nn.GRU`` (gates ordered r, z, n):
    r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r * gh_n),
    h' = (1 - z) * n + z * h, with gh = h @ W_hh^T + b_hh computed in ``dtype``.
    """

    @staticmethod
    def forward(ctx: Any, gi: torch.Tensor, h0: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor,
                dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        # gi (B, T, 3H) fp32, input projection + b_ih; h0 (B, H) fp32; w_hh (3H, H), b_hh (3H,) fp32 masters
        bsz, steps, three_h = gi.shape
        hid = three_h // 3
        w_t = w_hh.detach().t().to(dtype)  # (H, 3H): cast once per forward
        h = h0.detach()
        outs = gi.new_empty(bsz, steps, hid)  # (B, T, H)
        gates = gi.new_empty(bsz, steps, 3 * hid)  # (B, T, 3H): r, z, n after their nonlinearity
        ghn = gi.new_empty(bsz, steps, hid)  # (B, T, H): W_hn h + b_hn, which r multiplies
        for t in range(steps):
            gh = torch.mm(h.to(dtype), w_t).float().add_(b_hh)  # (B, 3H), fp32
            rz = gi[:, t, : 2 * hid].add(gh[:, : 2 * hid]).sigmoid_()  # (B, 2H)
            n = gh[:, 2 * hid :].mul(rz[:, :hid]).add_(gi[:, t, 2 * hid :]).tanh_()  # (B, H)
            h = torch.lerp(n, h, rz[:, hid:])  # (1 - z) * n + z * h
            outs[:, t] = h
            gates[:, t, : 2 * hid] = rz
            gates[:, t, 2 * hid :] = n
            ghn[:, t] = gh[:, 2 * hid :]
        ctx.save_for_backward(h0, w_hh, outs, gates, ghn)
        ctx.dtype = dtype
        return outs, h.clone()

    @staticmethod
    def backward(ctx: Any, d_out: torch.Tensor | None, d_last: torch.Tensor | None) -> tuple[Any, ...]:
        h0, w_hh, outs, gates, ghn = ctx.saved_tensors
        dtype = ctx.dtype
        bsz, steps, hid = outs.shape
        w = w_hh.to(dtype)  # (3H, H)
        d_out = torch.zeros_like(outs) if d_out is None else d_out
        dh = torch.zeros_like(h0) if d_last is None else d_last.clone()  # (B, H)
        d_gi = outs.new_empty(bsz, steps, 3 * hid)  # (B, T, 3H)
        d_gh = outs.new_empty(bsz, steps, 3 * hid)  # (B, T, 3H)
        for t in range(steps - 1, -1, -1):
            dh = dh + d_out[:, t]
            h_prev = outs[:, t - 1] if t > 0 else h0  # (B, H)
            r, z, n = gates[:, t, :hid], gates[:, t, hid : 2 * hid], gates[:, t, 2 * hid :]
            dn = dh * (1 - z)
            dz = dh * (h_prev - n)
            da_n = dn * (1 - n * n)  # through tanh
            d_gi[:, t, 2 * hid :] = da_n
            d_gh[:, t, 2 * hid :] = da_n * r
            d_gi[:, t, :hid] = d_gh[:, t, :hid] = da_n * ghn[:, t] * r * (1 - r)  # through r's sigmoid
            d_gi[:, t, hid : 2 * hid] = d_gh[:, t, hid : 2 * hid] = dz * z * (1 - z)
            dh = dh * z + torch.mm(d_gh[:, t].to(dtype), w).float()  # (B, H)
        h_prevs = torch.cat([h0[:, None], outs[:, :-1]], dim=1)  # (B, T, H)
        # one (3H, B*T) @ (B*T, H) matmul for the recurrent weight's gradient
        d_w = torch.mm(d_gh.reshape(-1, 3 * hid).t().to(dtype), h_prevs.reshape(-1, hid).to(dtype)).float()  # (3H, H)
        d_b = d_gh.sum(dim=(0, 1))  # (3H,)
        return d_gi, dh, d_w, d_b, None


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """x (..., IN) @ weight^T (IN, OUT) in ``dtype``, result widened to fp32, fp32 bias added: (..., OUT)."""
    if dtype == torch.float32:
        return F.linear(x, weight, bias)
    return F.linear(x.to(dtype), weight.to(dtype)).float() + bias


def gru_layers(gru: nn.GRU, x: torch.Tensor, hidden: torch.Tensor | None, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """``gru(x, hidden)`` (batch_first) with its own weights, matmuls in ``dtype``: x (B, T, E) -> (B, T, H), (L, B, H)."""
    bsz = x.shape[0]
    hid, layers = gru.hidden_size, gru.num_layers
    if hidden is None:
        hidden = x.new_zeros(layers, bsz, hid)
    finals = []
    out = x
    for k in range(layers):
        if k > 0 and gru.dropout and gru.training:
            out = F.dropout(out, gru.dropout, training=True)
        w_ih, b_ih = getattr(gru, f"weight_ih_l{k}"), getattr(gru, f"bias_ih_l{k}")
        w_hh, b_hh = getattr(gru, f"weight_hh_l{k}"), getattr(gru, f"bias_hh_l{k}")
        gi = _linear(out, w_ih, b_ih, dtype)  # (B, T, 3H): every time step's input projection in one matmul
        out, last = _Recurrence.apply(gi, hidden[k], w_hh, b_hh, dtype)  # (B, T, H), (B, H)
        finals.append(last)
    return out, torch.stack(finals)  # (B, T, H), (L, B, H)


def mixed_forward(model: CharGRU, x: torch.Tensor, hidden: torch.Tensor | None,
                  dtype: torch.dtype = torch.bfloat16) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's GRU and decoder on embedded inputs x (B, T, E): logits (B, T, V) fp32, hidden (L, B, H) fp32."""
    out, hidden = gru_layers(model.gru, x, hidden, dtype)
    logits = _linear(model.drop(out), model.decoder.weight, model.decoder.bias, dtype)  # (B, T, V)
    return logits, hidden
