"""`tweetgen sample --json` and `--check-novelty` (issue 10, the CLI side), and sampler.write."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from corehelpers import TINY_TWEETS

from core.store.checkpoints import load_checkpoint
from core.cli.main import main
from core.model.sampler import SampleConfig, stream, write
from core.train.trainer import TrainConfig, Trainer
from core.model.gru import new_model
from core.data.vocab import CharVocab

KEYS = {"text", "ended", "seed", "temperature", "top_k", "top_p", "prime", "length", "checkpoint", "step", "bits_per_char"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A corpus and a checkpoint trained on it (its train_state records the corpus path)."""
    root = tmp_path_factory.mktemp("json")
    corpus = root / "tweets.txt"
    corpus.write_text("\n".join(TINY_TWEETS) + "\n", encoding="utf-8")
    assert main(["train", str(corpus), "--out", str(root / "run"), "--max-steps", "8", "--hidden", "16", "--embed", "8",
                 "--quiet", "--threads", "1"]) == 0
    return corpus, root / "run"


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_json_lines_parse_and_say_whether_each_text_ended(trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _corpus, run = trained
    assert main(["sample", str(run), "-n", "4", "--seed", "7", "--json", "--max-len", "3", "--temperature", "1.5"]) == 0
    cut = _lines(capsys)
    assert len(cut) == 4 and all(KEYS <= set(r) for r in cut)
    assert [r["seed"] for r in cut] == [7, 8, 9, 10], "text i is sampled with seed + i"
    for r in cut:  # a length-3 cap: a text of 3 characters did not choose <eos>
        assert r["ended"] is (len(r["text"]) < 3), r
        assert r["bits_per_char"] > 0 and r["step"] == 8 and r["checkpoint"].endswith(".pt")
        assert (r["temperature"], r["top_k"], r["top_p"], r["prime"]) == (1.5, 0, 1.0, "")
    assert any(not r["ended"] for r in cut), "an untrained-ish model at T 1.5 runs past 3 characters"


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run trained long enough (300 steps, about 15 s on a busy machine) to have learned to use the length it is told."""
    root = tmp_path_factory.mktemp("learned")
    corpus = root / "tweets.txt"
    corpus.write_text("\n".join(TINY_TWEETS) + "\n", encoding="utf-8")
    assert main(["train", str(corpus), "--out", str(root / "run"), "--max-steps", "300", "--hidden", "32", "--embed", "16",
                 "--batch-size", "4", "--val-every", "0", "--quiet", "--threads", "1"]) == 0
    return root / "run"


@pytest.mark.parametrize("n", [20, 28, 40])
def test_length_n_gives_texts_of_about_n_characters(learned: Path, n: int, capsys: pytest.CaptureFixture[str]) -> None:
    """`--length N` steers a trained model: most texts end within 10% of N (at least 2 characters either way),
    and their median is within it too. The corpus's texts have 28-41 characters, so 20 lies outside what it
    has seen and 28 and 40 at its ends; a sampler that ignored --length (drawing from the corpus's lengths)
    would give 28-41 for all three. The texts are seeded and the run deterministic, so this does not flake;
    with this run 16, 17 and 16 of 20 fell inside (T 0.7, when this test was written)."""
    assert main(["sample", str(learned), "-n", "20", "--seed", "1", "--json", "--max-len", "280", "--temperature", "0.7",
                 "--length", str(n)]) == 0
    lengths = [len(r["text"]) for r in _lines(capsys)]
    slack = max(2, round(0.1 * n))
    near = [abs(length - n) <= slack for length in lengths]
    assert sum(near) >= 12, f"--length {n}: only {sum(near)} of 20 texts within {slack} characters: {lengths}"
    assert abs(sorted(lengths)[10] - n) <= slack, f"--length {n}: median {sorted(lengths)[10]}: {lengths}"


def test_a_json_line_is_reproduced_by_its_own_seed(trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _corpus, run = trained
    assert main(["sample", str(run), "-n", "3", "--json", "--prime", "the "]) == 0
    lines = _lines(capsys)
    assert all(r["text"].startswith("the ") and r["prime"] == "the " for r in lines)
    third = lines[2]
    assert main(["sample", str(run), "-n", "1", "--json", "--prime", "the ", "--seed", str(third["seed"])]) == 0
    assert _lines(capsys)[0]["text"] == third["text"], "a run without --seed reports the seed each line used"
    assert main(["sample", str(run), "-n", "1", "--stream", "--prime", "the ", "--seed", str(third["seed"])]) == 0
    assert capsys.readouterr().out.rstrip("\n") == third["text"], "--json writes what --stream writes"


def test_write_scores_the_text_with_the_models_own_probabilities(tmp_path: Path) -> None:
    vocab = CharVocab.build(TINY_TWEETS)
    model = new_model(vocab, seed=3, hidden_size=8, embed_dim=8)
    cfg = SampleConfig(temperature=0.7, seed=5, max_len=30)
    written = write(model, vocab, cfg)
    streamed = list(stream(model, vocab, cfg))
    assert written.text == "".join(c.char for c in streamed) and written.chars == tuple(streamed)
    import math
    if written.ended:
        assert len(written.text) < 30
    per_char = -sum(math.log2(c.prob) for c in written.chars)
    assert written.bits_per_char * (len(written.chars) + written.ended) >= per_char - 1e-9
    if not written.ended:
        assert written.bits_per_char == pytest.approx(per_char / len(written.chars))


def test_check_novelty_flags_a_copy_and_names_its_source(trained: tuple[Path, Path], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    _corpus, run = trained
    prime = "the bakery opens at 7 today and the cat is out"  # 46 characters, so the text is long enough to copy
    assert main(["sample", str(run), "-n", "1", "--seed", "3", "--json", "--prime", prime]) == 0
    text = _lines(capsys)[0]["text"]
    assert text.startswith(prime)
    corpus = tmp_path / "has-it.txt"
    corpus.write_text(f"an unrelated first line\n{text}\n", encoding="utf-8")
    assert main(["sample", str(run), "-n", "1", "--seed", "3", "--json", "--prime", prime, "--check-novelty", str(corpus)]) == 0
    novelty = _lines(capsys)[0]["novelty"]
    assert novelty["copied"] and novelty["source"] == 1 and novelty["longest"] == len(text)
    other = tmp_path / "other.txt"
    other.write_text("zzzz qqqq\nxxxx\n", encoding="utf-8")
    assert main(["sample", str(run), "-n", "1", "--seed", "3", "--prime", prime, "--check-novelty", str(other)]) == 0
    captured = capsys.readouterr()
    assert "0 of 1 texts copy 40+ characters" in captured.err


def test_check_novelty_uses_the_recorded_corpus_or_fails_in_one_line(trained: tuple[Path, Path], tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    corpus, run = trained
    assert main(["sample", str(run), "-n", "2", "--seed", "1", "--json", "--check-novelty"]) == 0
    assert all("novelty" in r for r in _lines(capsys))
    moved = tmp_path / "moved"
    shutil.copytree(run, moved)
    ckpt = load_checkpoint(sorted(moved.glob("*.pt"))[-1])
    assert ckpt.train_state["data_path"] == str(corpus)
    hidden = corpus.with_suffix(".gone")
    corpus.rename(hidden)
    try:
        assert main(["sample", str(moved), "--check-novelty"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "is not there any more" in err[0] and "--check-novelty DATA" in err[0]
    finally:
        hidden.rename(corpus)
    assert main(["sample", str(moved), "--copy-threshold", "5"]) == 1
    assert "add --check-novelty" in capsys.readouterr().err


def test_an_overfit_model_is_flagged_and_a_fresh_one_is_not(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The one-tweet sanity check: a model trained to reproduce one tweet copies it (flagged, source 0);
    a fresh model of the same shape is not flagged."""
    tweet = "the night train to the coast leaves at 23:40 from platform 4, on time"
    corpus = tmp_path / "one.txt"
    corpus.write_text(tweet + "\n", encoding="utf-8")
    vocab = CharVocab.build([tweet])
    fresh = new_model(vocab, seed=0, hidden_size=32, embed_dim=16)
    config = TrainConfig(max_steps=250, lr=1e-2, val_every=0, ckpt_every=0, threads=1, batch_size=1)
    trainer = Trainer(new_model(vocab, seed=0, hidden_size=32, embed_dim=16), vocab, [tweet], [], config, tmp_path / "run")
    for _event in trainer.run():
        pass
    overfit = sorted((tmp_path / "run").glob("*.pt"))[-1]
    assert main(["sample", str(overfit), "-n", "1", "--temperature", "0", "--json", "--check-novelty", str(corpus)]) == 0
    line = _lines(capsys)[0]
    assert line["text"] == tweet and line["novelty"]["copied"] and line["novelty"]["source"] == 0
    from core.model.novelty import NoveltyIndex

    index = NoveltyIndex.build([tweet])
    for seed in range(5):
        text = write(fresh, vocab, SampleConfig(seed=seed, max_len=140)).text
        assert not index.check(text).copied, text
