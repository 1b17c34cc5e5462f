"""The bf16 training path (issue 17): the hand-written GRU, the fallback, fp32 checkpoints.

The bench machine's CPU has no bf16 arithmetic, so these tests force the detector
(``core.model.gru_bf16.cpu_has_native_bf16``) both ways: bf16 kernels still run there (slowly,
in torch's reference loop), which is enough for a 16-unit model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from corehelpers import TINY_TWEETS, run_all, tiny_trainer
from torch import nn

from core.model import gru_bf16
from core.store.checkpoints import load_checkpoint
from core.cli.main import main
from core.model.gru_bf16 import bf16_supported, gru_layers, resolve_precision
from core.train.trainer import TrainConfig

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (bench/gpu_check.sh runs it on one)")


def _grads(gru: nn.GRU, run) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    x = torch.randn(3, 7, 8, requires_grad=True)  # (B, T, E)
    h0 = torch.randn(gru.num_layers, 3, 16, requires_grad=True)  # (L, B, H)
    out, last = run(x, h0)
    (out.square().sum() + 0.3 * last.sum()).backward()
    grads = {n: p.grad.clone() for n, p in gru.named_parameters()}
    gru.zero_grad(set_to_none=True)
    return out.detach(), last.detach(), grads, x.grad, h0.grad


@pytest.mark.parametrize("layers", [1, 2])
def test_the_hand_written_gru_equals_nn_gru_forward_and_backward(layers: int) -> None:
    torch.manual_seed(0)
    gru = nn.GRU(8, 16, num_layers=layers, batch_first=True)
    ref = _grads(gru, gru)
    mine = _grads(gru, lambda x, h: gru_layers(gru, x, h, torch.float32))
    torch.testing.assert_close(mine[0], ref[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mine[1], ref[1], atol=1e-5, rtol=1e-5)
    for name, g in ref[2].items():
        torch.testing.assert_close(mine[2][name], g, atol=1e-5, rtol=1e-4, msg=name)
    torch.testing.assert_close(mine[3], ref[3], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(mine[4], ref[4], atol=1e-5, rtol=1e-4)


def test_the_bf16_gru_is_close_to_fp32_and_really_rounds() -> None:
    torch.manual_seed(0)
    gru = nn.GRU(8, 16, batch_first=True)
    ref = _grads(gru, gru)
    mine = _grads(gru, lambda x, h: gru_layers(gru, x, h, torch.bfloat16))
    assert mine[0].dtype == torch.float32 and mine[1].dtype == torch.float32  # fp32 state out
    assert not torch.equal(mine[0], ref[0])  # the matmuls did run in bf16
    torch.testing.assert_close(mine[0], ref[0], atol=2e-2, rtol=0)
    for name, g in ref[2].items():
        assert mine[2][name].dtype == torch.float32
        assert float((mine[2][name] - g).abs().max()) <= 0.02 * float(g.abs().max()), name


def test_the_detector_reads_the_cpu_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gru_bf16, "_cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512_bf16"}))
    assert gru_bf16.cpu_has_native_bf16() and bf16_supported(torch.device("cpu"))
    monkeypatch.setattr(gru_bf16, "_cpu_flags", lambda: frozenset({"avx2", "amx_tile", "amx_bf16"}))
    assert gru_bf16.cpu_has_native_bf16()
    monkeypatch.setattr(gru_bf16, "_cpu_flags", lambda: frozenset({"avx2", "avx512f"}))  # AVX512 without BF16
    assert not gru_bf16.cpu_has_native_bf16()
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="half")


def test_bf16_falls_back_to_fp32_on_a_cpu_without_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gru_bf16, "cpu_has_native_bf16", lambda: False)
    trainer = tiny_trainer(tmp_path / "run", max_steps=3, precision="bf16")
    assert trainer.precision == "fp32" and trainer.model.precision == "fp32"
    assert any("bf16 asked for" in note and "fp32" in note for note in trainer.notes)
    assert run_all(trainer)[-1].reason == "finished"  # type: ignore[attr-defined]
    monkeypatch.setattr(gru_bf16, "cpu_has_native_bf16", lambda: True)
    trainer = tiny_trainer(tmp_path / "run2", max_steps=3, precision="bf16")
    assert trainer.precision == "bf16" and trainer.model.precision == "bf16" and not trainer.notes


def test_bf16_trains_fp32_weights_and_validates_in_fp32(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gru_bf16, "cpu_has_native_bf16", lambda: True)
    torch.set_num_threads(1)
    fp32 = tiny_trainer(tmp_path / "fp32", max_steps=6)
    run_all(fp32)
    bf16 = tiny_trainer(tmp_path / "bf16", max_steps=6, precision="bf16")
    run_all(bf16)
    assert bf16.averaged_model().precision == "fp32" and bf16.model.precision == "bf16"
    ckpt = load_checkpoint(bf16.save("final").path)
    assert all(t.dtype == torch.float32 for t in ckpt.model_state.values() if t.is_floating_point())
    assert ckpt.train_state["train_config"]["precision"] == "bf16"  # a resumed run keeps it
    a, b = fp32.model.state_dict(), bf16.model.state_dict()
    assert not torch.equal(a["gru.weight_hh_l0"], b["gru.weight_hh_l0"])  # bf16 really trained it
    torch.testing.assert_close(a["decoder.weight"], b["decoder.weight"], atol=5e-2, rtol=0)  # ... to nearly the same place


def test_train_cli_takes_precision_and_notes_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(gru_bf16, "cpu_has_native_bf16", lambda: False)
    corpus = tmp_path / "tweets.txt"
    corpus.write_text("\n".join(TINY_TWEETS * 3) + "\n", encoding="utf-8")
    code = main(["train", str(corpus), "--out", str(tmp_path / "run"), "--max-steps", "2", "--hidden", "16", "--embed", "8",
                 "--batch-size", "4", "--device", "cpu", "--precision", "bf16", "--quiet"])
    assert code == 0
    assert "bf16 asked for, but this CPU has no bf16 arithmetic" in capsys.readouterr().err


@needs_cuda
def test_bf16_trains_on_a_gpu(tmp_path: Path) -> None:
    assert bf16_supported(torch.device("cuda")) == torch.cuda.is_bf16_supported()
    trainer = tiny_trainer(tmp_path / "run", max_steps=6, device="cuda", precision="bf16")
    assert trainer.precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")
    done = run_all(trainer)[-1]
    assert done.reason == "finished"  # type: ignore[attr-defined]
    ckpt = load_checkpoint(done.last_checkpoint)  # type: ignore[attr-defined]
    assert all(t.dtype == torch.float32 for t in ckpt.model_state.values() if t.is_floating_point())
