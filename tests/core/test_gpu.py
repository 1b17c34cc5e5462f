"""GPU readiness (issue 11 §2), on any machine.

Without a GPU the CUDA parts are simulated: ``--device auto`` is tested with the
availability checks patched, and a "GPU checkpoint" is written with its tensors tagged
``cuda:0`` (what ``torch.save`` records for tensors on the first GPU), which a plain
``torch.load`` refuses on a CPU-only machine. The tests marked ``needs_cuda`` train,
save, load and sample on a real GPU; ``bench/gpu_check.sh`` runs them there, and says
"skipped" here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.serialization
from corehelpers import REPO, tiny_trainer

from core.store.checkpoints import load_checkpoint
from core.cli.main import main
from core.model.sampler import SampleConfig, sample_batch
from core.train.device import resolve_device

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (bench/gpu_check.sh runs it on one)")


def test_auto_picks_cuda_then_mps_then_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto").type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"


def test_a_stored_cuda_device_does_not_bind_a_resumed_run(tmp_path: Path) -> None:
    from core.train.setup import train_config

    assert train_config({"device": "cuda"}, {}, until_stopped=True).device == "auto"


@pytest.fixture()
def gpu_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkpoint whose tensors are all recorded as living on cuda:0, as a GPU run's optimizer state is."""
    trainer = tiny_trainer(tmp_path / "run", max_steps=6)
    list(trainer.run())
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda _storage: "cuda:0")
        event = trainer.save("final")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(event.path, weights_only=True)  # it really claims the GPU
    return event.path


def test_a_gpu_checkpoint_loads_samples_and_resumes_on_the_cpu(gpu_checkpoint: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = load_checkpoint(gpu_checkpoint)
    assert all(t.device.type == "cpu" for t in ckpt.model_state.values())
    texts = sample_batch(ckpt.model("cpu"), ckpt.vocab, 3, SampleConfig(seed=1, max_len=20))
    assert len(texts) == 3
    assert main(["sample", str(gpu_checkpoint), "-n", "2", "--seed", "1", "--max-len", "20"]) == 0
    assert main(["info", str(gpu_checkpoint)]) == 0
    capsys.readouterr()
    resumed = tiny_trainer(tmp_path / "resumed", resume_from=ckpt, max_steps=9)
    done = list(resumed.run())[-1]
    assert done.reason == "finished" and done.step == 9  # type: ignore[attr-defined]


def test_load_checkpoint_maps_to_the_cpu(gpu_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []
    real = torch.load

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(kwargs.get("map_location"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    load_checkpoint(gpu_checkpoint)
    assert seen and all(m == "cpu" for m in seen)


def test_gpu_check_script_skips_cleanly_without_cuda() -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is here: bench/gpu_check.sh runs for real (and runs this file)")
    proc = subprocess.run(["sh", str(REPO / "bench" / "gpu_check.sh")], capture_output=True, text=True, timeout=120,
                          env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "no CUDA GPU: skipped" in proc.stdout


# ---------------------------------------------------------------- on a real GPU


@needs_cuda
def test_train_on_the_gpu_then_load_and_sample_anywhere(tmp_path: Path) -> None:
    trainer = tiny_trainer(tmp_path / "run", max_steps=8, device="auto")
    assert trainer.device.type == "cuda"
    done = list(trainer.run())[-1]
    ckpt = load_checkpoint(done.last_checkpoint)  # type: ignore[attr-defined]
    opt_tensors = [v for s in ckpt.optimizer_state["state"].values() for v in s.values() if isinstance(v, torch.Tensor)]
    assert opt_tensors and all(t.device.type == "cpu" for t in opt_tensors)
    for device in ("cuda", "cpu"):
        model = ckpt.model(device)
        texts = sample_batch(model, ckpt.vocab, 4, SampleConfig(seed=3, max_len=30))
        assert len(texts) == 4 and all(isinstance(t, str) for t in texts)
    assert main(["sample", str(done.last_checkpoint), "--device", "cuda", "-n", "2", "--seed", "1"]) == 0  # type: ignore[attr-defined]
    assert main(["sample", str(done.last_checkpoint), "--device", "cuda", "-n", "1", "--stream", "--seed", "1"]) == 0  # type: ignore[attr-defined]


@needs_cuda
def test_gpu_resume_continues(tmp_path: Path) -> None:
    first = tiny_trainer(tmp_path / "run", max_steps=6, device="cuda")
    done = list(first.run())[-1]
    ckpt = load_checkpoint(done.last_checkpoint)  # type: ignore[attr-defined]
    second = tiny_trainer(tmp_path / "run", resume_from=ckpt, max_steps=10, device="cuda")
    assert list(second.run())[-1].step == 10  # type: ignore[attr-defined]
