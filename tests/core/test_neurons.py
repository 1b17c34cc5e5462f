"""The unit finder (issue 19): its statistics against brute force, planted and untrained units, the
tokenizer on hostile text, the cache, the CLI, and the sampler's hidden states."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch

from core.neurons import finder as neurons
from core.store.checkpoints import save_checkpoint
from core.cli.main import main
from core.model.gru import new_model
from core.neurons.features import BINARY, FEATURES, char_features
from core.neurons.finder import (NBINS, THRESHOLDS, NeuronReport, _HalfStats, activations, auc_exact, auc_from_hist, bin_index,
                          cache_path, feature_matrix, find_units, report_for_checkpoint, top_texts)
from core.model.sampler import SampleConfig, stream, write
from core.data.vocab import CharVocab

WORDS = ["the", "bakery", "opens", "at", "seven", "rain", "again", "cat", "warm", "laundry", "train", "late", "sunny"]


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    """Tweet-like texts written for the tests: words, links, mentions, hashtags, quotes, caps runs, sentences."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts: list[str] = []
        for _ in range(rng.randint(4, 14)):
            r = rng.random()
            w = rng.choice(WORDS)
            if r < 0.08:
                parts.append("@" + w + str(rng.randint(1, 99)))
            elif r < 0.14:
                parts.append("#" + w.capitalize())
            elif r < 0.2:
                parts.append('"' + " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4))) + '"')
            elif r < 0.26:
                parts.append(" ".join(rng.choice(WORDS).upper() for _ in range(rng.randint(1, 3))))
            elif r < 0.33:
                parts.append(w + rng.choice(".!?"))
            else:
                parts.append(w)
        if rng.random() < 0.35:
            parts.append("https://t.co/" + "".join(rng.choice("abcXYZ019") for _ in range(10)))
        out.append(" ".join(parts))
    return out


def pairwise_auc(scores: list[float], labels: list[bool]) -> float:
    """The definition: the share of (positive, negative) pairs ordered right, ties counted half."""
    pos = torch.tensor([s for s, y in zip(scores, labels) if y], dtype=torch.float64)
    neg = torch.tensor([s for s, y in zip(scores, labels) if not y], dtype=torch.float64)
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).double() + 0.5 * (diff == 0).double()).mean())


# ---------------------------------------------------------------- statistics against brute force


def test_streamed_auc_and_r_match_brute_force_on_random_data() -> None:
    """Histogram AUC (streamed in three chunks) within 0.005 of the pairwise count; Pearson r from sums equals corrcoef
    (to 1e-6: each batch is summed in float32, the batches in float64)."""
    gen = torch.Generator().manual_seed(1)
    n, h = 3000, 6
    acts = torch.tanh(torch.randn(n, h, generator=gen) * 1.5)  # (N, H) in (-1, 1), many near +-1
    feats = torch.zeros(n, len(FEATURES))
    cols = list(FEATURES)
    for k, f in enumerate(cols):
        if f in BINARY:
            logit = acts[:, k % h] * (k + 1) + torch.randn(n, generator=gen)  # labels related to a unit, in varying degree
            y = (logit > 0.3).float()
            y[torch.rand(n, generator=gen) < 0.05] = math.nan  # masked characters
        else:
            y = acts[:, k % h] * 40 + torch.randn(n, generator=gen) * 30 + 100
        feats[:, k] = y
    stats = _HalfStats(h, fit_probe=True)
    for chunk in torch.arange(n).split(1100):
        stats.add(acts[chunk], feats[chunk])
    auc = stats.binary_auc()  # (Fb, H)
    r = stats.continuous_r()  # (Fc, H)
    for j, f in enumerate(BINARY):
        y = feats[:, cols.index(f)]
        keep = ~torch.isnan(y)
        for u in range(h):
            exact = pairwise_auc(acts[keep, u].tolist(), (y[keep] == 1).tolist())
            assert abs(float(auc[j, u]) - exact) < 0.005, (f, u, float(auc[j, u]), exact)
            assert auc_exact(acts[keep, u], y[keep] == 1) == pytest.approx(exact, abs=1e-12)
    for j, f in enumerate(("remaining", "position")):
        y = feats[:, cols.index(f)]
        for u in range(h):
            want = float(torch.corrcoef(torch.stack([acts[:, u].double(), y.double()]))[0, 1])
            assert float(r[j, u]) == pytest.approx(want, abs=1e-6)  # float32 sums within a batch (centred): ~1e-7


def test_histogram_auc_is_exact_when_values_sit_in_distinct_bins_and_ties_count_half() -> None:
    """Values at bin centres: the histogram AUC equals the pairwise count exactly, ties included."""
    centres = torch.tanh((torch.arange(NBINS) + 0.5) * (8.0 / NBINS) - 4.0)  # one value per bin
    gen = torch.Generator().manual_seed(2)
    idx = torch.randint(0, NBINS, (500,), generator=gen)
    values = centres[idx]
    assert torch.equal(bin_index(values[:, None])[:, 0], idx)
    labels = torch.rand(500, generator=gen) < (idx.float() / NBINS)
    pos = torch.bincount(idx[labels], minlength=NBINS)
    neg = torch.bincount(idx[~labels], minlength=NBINS)
    assert float(auc_from_hist(pos, neg)) == pytest.approx(pairwise_auc(values.tolist(), labels.tolist()), abs=1e-12)
    assert auc_exact(values, labels) == pytest.approx(pairwise_auc(values.tolist(), labels.tolist()), abs=1e-12)


def test_the_fast_paths_equal_the_plain_definitions() -> None:
    """The finder's faster forms give what the plain definitions give: the feature matrices built in one tensor
    (empty text included) equal char_features column by column, NaN where masked; the in-place flat bins equal
    bin_index plus unit * NBINS, at bin edges and at +-1 too."""
    texts = synthetic_texts(30, seed=4) + ["", '"', "A B CD"]
    for text, fm in zip(texts, neurons.feature_matrices(texts)):
        feats = char_features(text)
        want = torch.tensor([feats[f] for f in FEATURES], dtype=torch.float32).T.reshape(len(text), len(FEATURES))
        assert fm.shape == want.shape and torch.equal(torch.isnan(fm), torch.isnan(want))
        assert torch.equal(torch.nan_to_num(fm, nan=-7.0), torch.nan_to_num(want, nan=-7.0))
    gen = torch.Generator().manual_seed(5)
    edges = torch.tanh(torch.arange(NBINS + 1) * (8.0 / NBINS) - 4.0)  # every bin edge, and the ends
    acts = torch.cat([torch.tanh(torch.randn(400, 9, generator=gen) * 2), edges[:, None].expand(-1, 9),
                      torch.tensor([[-1.0] * 9, [1.0] * 9, [0.0] * 9])])  # (N, 9)
    kept = acts.clone()
    flat = neurons.flat_bins(acts)
    assert torch.equal(acts, kept)  # the bins are computed in a copy
    assert torch.equal(flat, bin_index(acts) + torch.arange(9)[None, :] * NBINS)
    assert int(flat.min()) == 0 and int(flat.max()) == 9 * NBINS - 1


# ---------------------------------------------------------------- planted and untrained units


def _planted_states(plant_in_twin: bool):  # noqa: ANN202
    """A stand-in for the GRU: noise, with unit 7 = inside URL and unit 3 = position in the trained model."""
    calls = {"trained": 0}

    def fake(model, vocab, texts):  # noqa: ANN001, ANN202
        rows = []
        for t in texts:
            fm = feature_matrix(t)  # (n, F)
            g = torch.Generator().manual_seed(hash(t) % 2**31 + (0 if model.trained else 1))
            a = torch.tanh(torch.randn(len(t), 16, generator=g))
            if model.trained or plant_in_twin:
                url = torch.nan_to_num(fm[:, list(FEATURES).index("url")], nan=0.5)
                a[:, 7] = 0.9 * (2 * url - 1) + 0.05 * torch.randn(len(t), generator=g)
                a[:, 3] = fm[:, list(FEATURES).index("position")] / 300 - 0.4
            calls["trained"] += model.trained
            rows.append(a)
        return torch.cat(rows)

    return fake


class _Stub(torch.nn.Module):
    def __init__(self, trained: bool) -> None:
        super().__init__()
        from core.model.gru import ModelConfig

        self.config = ModelConfig(vocab_size=8, embed_dim=4, hidden_size=16)
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.trained = trained


def test_a_planted_unit_is_found_first_and_called_a_tracker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit whose activation is the URL feature ranks first for "inside URL", a unit equal to the position
    first for "position"; both are trackers, and nothing else is."""
    monkeypatch.setattr(neurons, "_states", _planted_states(plant_in_twin=False))
    monkeypatch.setattr(neurons, "_untrained_twin", lambda model, seed: _Stub(trained=False))
    report = find_units(_Stub(trained=True), CharVocab(("a",)), synthetic_texts(400))
    url = report.ranked["url"][0]
    assert url.unit == 7 and url.tracker and url.sign == 1 and url.score > 0.95, url
    assert min(url.halves) > 0.95 and url.untrained < 0.3
    pos = report.ranked["position"][0]
    assert pos.unit == 3 and pos.tracker and pos.score > 0.99, pos
    others = {f: [u.unit for u in report.trackers(f)] for f in FEATURES if f not in ("url", "position", "remaining")}
    assert all(not v for v in others.values()), others
    assert report.probe["url"] > 0.95 and report.n_texts == 400
    assert report.ranked["remaining"][0].unit == 3  # position's unit is also the best remaining-count unit


def test_a_unit_that_tracks_as_well_untrained_is_not_a_tracker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same planted unit in the untrained twin: the trained unit does not beat it, so it is no tracker."""
    monkeypatch.setattr(neurons, "_states", _planted_states(plant_in_twin=True))
    monkeypatch.setattr(neurons, "_untrained_twin", lambda model, seed: _Stub(trained=False))
    report = find_units(_Stub(trained=True), CharVocab(("a",)), synthetic_texts(300))
    assert report.ranked["url"][0].unit == 7 and report.ranked["url"][0].score > 0.95
    assert not report.trackers("url") and not report.trackers("position")


def test_an_untrained_model_finds_no_tracker() -> None:
    """A freshly initialised GRU (another seed than the twin's) has no unit above the thresholds."""
    texts = synthetic_texts(300)
    vocab = CharVocab.build(texts)
    model = new_model(vocab, seed=5, embed_dim=16, hidden_size=64)
    report = find_units(model, vocab, texts, seed=0)
    assert report.hidden == 64 and report.n_chars == sum(map(len, texts))
    found = {f: [(u.unit, round(u.score, 2)) for u in report.trackers(f)] for f in FEATURES}
    assert not any(found.values()), found
    for f in FEATURES:
        assert len(report.ranked[f]) == 10
        assert report.ranked[f] == sorted(report.ranked[f], key=lambda u: -u.score)


# ---------------------------------------------------------------- the tokenizer


def marks(text: str, feature: str) -> str:
    """'1' positive, '.' negative, 'x' masked, one per character."""
    return "".join("x" if math.isnan(v) else ("1" if v else ".") for v in char_features(text)[feature])


@pytest.mark.parametrize("text", ["", "a", "\U0001F600\u200d\U0001F525 fire", "\u0645\u0631\u062d\u0628\u0627 @\u0639\u0644\u064a",
                                  'x "a \u201cb\u201d c" d', "see https://t.co/abc", "\n\n", "@", "#", '"'])
def test_every_feature_has_one_value_per_character(text: str) -> None:
    feats = char_features(text)
    assert list(feats) == list(FEATURES)
    assert all(len(v) == len(text) for v in feats.values())
    assert feats["position"] == [float(i + 1) for i in range(len(text))]
    assert feats["remaining"] == [float(len(text) - i - 1) for i in range(len(text))]
    assert feature_matrix(text).shape == (len(text), len(FEATURES))


def test_tokenizer_on_hostile_text() -> None:
    """Emoji, right-to-left script, a URL at the very end, nested and unclosed quotes, caps runs."""
    t = "ok \U0001F600 @bob_1 hi"  # an emoji does not stop or start anything
    assert marks(t, "mention") == "....." + "x11111..."[: len(t) - 5] and marks(t, "url") == "." * len(t)
    rtl = "\u0645\u0631\u062d\u0628\u0627 #\u0633\u0644\u0627\u0645 \u0648"  # Arabic hashtag: \w covers the script
    assert marks(rtl, "hashtag") == "......x1111.."
    assert marks(rtl, "upper") == "x" * len(rtl)  # no case: nothing scored
    end = "read this https://t.co/AbC123"
    assert marks(end, "url") == "." * 10 + "x" * 8 + "1" * 11
    assert marks("go to www.x.com.", "url") == "......xxxx11111."  # the sentence's full stop is not the link's
    nested = 'he said \u201cshe said "no" twice\u201d ok'
    assert marks(nested, "quote") == "........x" + "1" * 9 + "x11x" + "1" * 6 + "x..."
    assert marks('a "b', "quote") == "..x1"  # unclosed: inside to the end
    assert marks('"a" "b"', "quote") == "x1x.x1x"
    assert marks("a@b.com @x", "mention") == ".x......x1"  # an e-mail address is no mention; every @ is masked
    # only white space is scored for a sentence end, only uppercase letters for a caps run
    assert marks("Hi. Yes!  no", "after_sentence") == "xxx1xxxx11xx"
    assert marks("pi 3.14 ok", "after_sentence") == "xx.xxxx.xx"
    assert marks("https://x.co/a.b c", "after_sentence") == "x" * 16 + ".x"  # a full stop in a link ends nothing
    assert marks("https://x.co/a. b", "after_sentence") == "x" * 15 + "1x"  # one after it ends the sentence
    assert marks("we MAKE IT GREAT A Lot", "upper") == "xxxx111x11x11111x.x.xx"  # a trailing "A" is not the run's
    assert marks("MAKE A DEAL", "upper") == "x111x1x1111"  # an "A" between caps words is
    assert marks("I am OK", "upper") == ".xxxxx1"
    assert marks("http://t.co/X \"q\" @u #h", "quote")[:13] == "." * 13
    for f in FEATURES:
        assert char_features("")[f] == []


# ---------------------------------------------------------------- activations, top texts, the sampler's states


def test_activations_equal_the_model_run_one_character_at_a_time() -> None:
    texts = synthetic_texts(20)
    vocab = CharVocab.build(texts)
    model = new_model(vocab, seed=1, embed_dim=8, hidden_size=24)
    text = texts[3]
    acts = activations(model, vocab, text)
    assert acts.shape == (len(text), 24) and float(acts.abs().max()) < 1
    hidden = None
    ids = vocab.encode(text, eos=False)
    for i, tok in enumerate(ids):
        _, hidden = model.step(torch.tensor([tok]), hidden)
        if i:
            assert torch.allclose(hidden[-1, 0], acts[i - 1], atol=1e-6)
    assert activations(model, vocab, "").shape == (0, 24)
    top = top_texts(model, vocab, texts, unit=5, k=3)
    peaks = sorted((float(activations(model, vocab, t)[:, 5].max()) for t in texts), reverse=True)
    assert [round(a, 5) for _, a in top] == [round(p, 5) for p in peaks[:3]]


def test_batched_states_in_time_chunks_equal_each_text_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The finder's batches (padded, length-sorted, run in time chunks with the state carried over) give
    every text the states it has alone."""
    texts = synthetic_texts(12)
    vocab = CharVocab.build(texts)
    model = new_model(vocab, seed=4, embed_dim=8, hidden_size=16)
    alone = torch.cat([activations(model, vocab, t) for t in texts])
    monkeypatch.setattr(neurons, "CHUNK_POSITIONS", 30)  # 12 texts: chunks of 2 steps
    batched = neurons._states(model, vocab, texts)
    assert batched.shape == alone.shape and torch.allclose(batched, alone, atol=1e-6)


@pytest.mark.parametrize("prime", ["", "the "])
def test_sampler_keep_state_is_aligned_with_activations(prime: str) -> None:
    """With keep_state, character i's state is the state after reading it: activations(prime + text)[len(prime) + i];
    the text is the same as without it, and without it no state is kept."""
    texts = synthetic_texts(50)
    vocab = CharVocab.build(texts)
    model = new_model(vocab, seed=2, embed_dim=8, hidden_size=32)
    cfg = SampleConfig(temperature=1.0, seed=7, max_len=60, prime=prime)
    on = list(stream(model, vocab, SampleConfig(**{**cfg.__dict__, "keep_state": True})))
    off = list(stream(model, vocab, cfg))
    assert [c.char for c in on] == [c.char for c in off] and len(on) > 5
    assert all(c.state is None for c in off)
    text = prime + "".join(c.char for c in on)
    acts = activations(model, vocab, text)
    for i, c in enumerate(on):
        assert c.state is not None and c.state.shape == (32,)
        assert torch.allclose(c.state, acts[len(prime) + i], atol=1e-5), i
    written = write(model, vocab, SampleConfig(**{**cfg.__dict__, "keep_state": True}))
    assert torch.allclose(written.chars[-1].state, acts[-1], atol=1e-5)


# ---------------------------------------------------------------- the cache and the CLI


def _checkpoint(path: Path, seed: int, texts: list[str]) -> CharVocab:
    vocab = CharVocab.build(texts)
    save_checkpoint(path, model=new_model(vocab, seed=seed, embed_dim=8, hidden_size=16), vocab=vocab,
                    train_state={"step": 40})
    return vocab


@pytest.fixture
def finder_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per time the finder really ran (not answered from the cache)."""
    calls: list[int] = []
    real = neurons.find_units
    monkeypatch.setattr(neurons, "find_units", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


@pytest.fixture
def reported(tmp_path: Path, finder_calls: list[int]) -> tuple[list[str], Path, NeuronReport]:
    """A step-40 checkpoint of 60 made-up texts, and its report (computed once: ``finder_calls`` is [1])."""
    texts = synthetic_texts(60)
    ckpt = tmp_path / "step-00000040.pt"
    _checkpoint(ckpt, 1, texts)
    return texts, ckpt, report_for_checkpoint(ckpt, texts)


def test_the_cache_is_used_and_invalidated_when_the_checkpoint_changes(
        reported: tuple[list[str], Path, NeuronReport], finder_calls: list[int]) -> None:
    texts, ckpt, first = reported
    calls = finder_calls
    assert cache_path(ckpt).name == "step-00000040.neurons.json" and cache_path(ckpt).exists()
    again = report_for_checkpoint(ckpt, texts)
    assert len(calls) == 1 and again.to_json() == first.to_json() and again.step == 40
    st = ckpt.stat()
    _checkpoint(ckpt, 2, texts)  # other weights, the same size; the old modification time put back
    import os

    os.utime(ckpt, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert ckpt.stat().st_size == st.st_size
    changed = report_for_checkpoint(ckpt, texts)
    assert len(calls) == 2 and changed.to_json() != first.to_json()
    report_for_checkpoint(ckpt, texts[:30])  # other texts: recomputed too
    assert len(calls) == 3
    cache_path(ckpt).write_text("{not json")  # a damaged cache is recomputed, never an error
    report_for_checkpoint(ckpt, texts[:30])
    assert len(calls) == 4


def test_the_cache_survives_a_copy_and_a_touch(tmp_path: Path, reported: tuple[list[str], Path, NeuronReport],
                                              finder_calls: list[int]) -> None:
    """The key is the checkpoint's size + sha256: a new mtime (touch, copy) keeps the cached report."""
    import os
    import shutil

    texts, ckpt, first = reported
    calls = finder_calls
    st = ckpt.stat()
    os.utime(ckpt, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touched
    assert report_for_checkpoint(ckpt, texts).to_json() == first.to_json() and len(calls) == 1
    other = tmp_path / "copy"
    other.mkdir()
    shutil.copy(ckpt, other / ckpt.name)  # a copy: new mtime, same bytes
    shutil.copy(cache_path(ckpt), cache_path(other / ckpt.name))
    os.utime(other / ckpt.name, ns=(st.st_atime_ns, st.st_mtime_ns + 9_000_000_000))
    assert report_for_checkpoint(other / ckpt.name, texts).to_json() == first.to_json() and len(calls) == 1


def test_the_shipped_demo_report_is_the_one_the_app_and_the_cli_ask_for(tmp_path: Path, finder_calls: list[int]) -> None:
    """assets/demo.neurons.json answers ``report_for_checkpoint(assets/demo.pt)`` with no texts given (what the app's
    finder and ``tweetgen neurons assets/demo.pt`` ask for): no finder run, the file not rewritten. A copy of both
    files (the shipped folder may be read-only) keeps the key, as a fresh checkout does."""
    import shutil

    from core.assets import demo_checkpoint_path

    demo = demo_checkpoint_path()
    shutil.copy(demo, tmp_path / demo.name)
    shutil.copy(cache_path(demo), cache_path(tmp_path / demo.name))
    before = cache_path(tmp_path / demo.name).read_bytes()
    report = report_for_checkpoint(tmp_path / demo.name)
    assert finder_calls == [] and cache_path(tmp_path / demo.name).read_bytes() == before
    assert report.n_texts > 0 and report.step is not None


def test_deleting_a_checkpoint_removes_its_neurons_sidecar(tmp_path: Path) -> None:
    """Retention (core.store.registry.prune) deletes through delete_checkpoint: the cached report goes too."""
    from core.store.registry import delete_checkpoint

    texts = synthetic_texts(40)
    ckpt = tmp_path / "step-00000040.pt"
    _checkpoint(ckpt, 1, texts)
    report_for_checkpoint(ckpt, texts)
    keep = tmp_path / "step-00000080.pt"
    _checkpoint(keep, 1, texts)
    report_for_checkpoint(keep, texts)
    assert cache_path(ckpt).exists() and cache_path(keep).exists()
    delete_checkpoint(ckpt)
    assert not ckpt.exists() and not cache_path(ckpt).exists() and cache_path(keep).exists()


def test_pruning_a_run_removes_the_pruned_checkpoints_neurons_sidecars(tmp_path: Path) -> None:
    """Retention itself (core.store.registry.prune, keep the newest 1): the pruned checkpoints' cached reports go with
    them; the kept one's stays."""
    import os

    from core.store.registry import prune

    texts = synthetic_texts(40)
    paths = [tmp_path / f"step-{step:08d}.pt" for step in (40, 80, 120)]
    for i, path in enumerate(paths):
        _checkpoint(path, 1, texts)
        os.utime(path, (1_000_000 + i, 1_000_000 + i))  # written in this order
        report_for_checkpoint(path, texts)
    assert all(cache_path(p).exists() for p in paths)
    assert sorted(prune(tmp_path, keep_last=1, keep_best=0)) == paths[:2]
    assert [p.exists() or cache_path(p).exists() for p in paths] == [False, False, True]
    assert cache_path(paths[2]).exists()


def test_report_round_trips_through_json() -> None:
    texts = synthetic_texts(40)
    vocab = CharVocab.build(texts)
    report = find_units(new_model(vocab, seed=3, embed_dim=8, hidden_size=16), vocab, texts)
    data = json.loads(json.dumps(report.to_json()))
    back = NeuronReport.from_json(data)
    assert back.to_json() == report.to_json()
    assert back.thresholds == THRESHOLDS


def test_cli_table_json_html_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts = synthetic_texts(80)
    corpus = tmp_path / "tweets.txt"
    corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
    ckpt = tmp_path / "run" / "step-00000040.pt"
    _checkpoint(ckpt, 1, texts)
    assert main(["neurons", str(ckpt), str(corpus), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["checkpoint"] == str(ckpt) and data["hidden"] == 16 and data["n_texts"] == 80
    assert [f["feature"] for f in data["features"]] == list(FEATURES)
    unit = data["features"][2]["units"][0]
    assert {"unit", "score", "sign", "untrained", "tracker", "halves"} <= set(unit) and "probe" in data["features"][2]
    page = tmp_path / "units.html"
    assert main(["neurons", str(ckpt), str(corpus), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    for label in FEATURES.values():
        assert label in out
    assert "verdict" in out and "probe" in out
    assert "<span style=\"background:rgb(" in page.read_text(encoding="utf-8")
    # no DATA and no recorded corpus: one line naming the checkpoint and what to do
    assert main(["neurons", str(ckpt)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(ckpt) in err[0] and "give DATA" in err[0], err
    assert main(["neurons", str(tmp_path / "nope.pt"), str(corpus)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.pt" in err[0]


def test_default_texts_are_the_checkpoints_validation_split(tmp_path: Path) -> None:
    """A checkpoint trained through the CLI finds its own validation texts (the recorded corpus, split as training did)."""
    from core.store.checkpoints import load_checkpoint
    from core.data.corpus import split_texts
    from core.neurons.finder import validation_texts

    texts = synthetic_texts(120)
    corpus = tmp_path / "tweets.txt"
    corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    assert main(["train", str(corpus), "--out", str(out), "--max-steps", "2", "--hidden", "16", "--embed", "8",
                 "--batch-size", "4", "--val-every", "0", "--ckpt-every", "0", "--quiet", "--seed", "3"]) == 0
    ckpt = load_checkpoint(sorted(out.glob("*.pt"))[-1])
    assert validation_texts(ckpt) == split_texts(texts, 0.1, seed=3)[1]
    assert main(["neurons", str(out), "--json"]) == 0
