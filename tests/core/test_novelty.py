"""core.model.novelty: exact longest verbatim run, the copy flag, sources, and the issue's model checks.

Issue 10 §5: "An overfit model (the one-tweet sanity check) is flagged as a copy. A fresh
random model is not." All text here is written for the tests, except the real-data test,
which reads ../shared/data/trump_tweets_dev.csv and skips where it is absent.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core.model.novelty
from core.model.novelty import COPY_THRESHOLD, BuildCancelled, NoveltyIndex, NoveltyResult

REPO = Path(__file__).resolve().parents[2]
DEV_CSV = REPO.parent / "shared" / "data" / "trump_tweets_dev.csv"  # third-party text: read, never copied


def brute_longest(texts: list[str], sample: str) -> tuple[int, int]:
    """(length, leftmost start) of the longest substring of ``sample`` found in any text, by enumeration."""
    best = (0, 0)
    for i in range(len(sample)):
        for j in range(i + best[0] + 1, len(sample) + 1):
            if any(sample[i:j] in t for t in texts):
                best = (j - i, i)
            else:
                break
    return best


def assert_consistent(texts: list[str], sample: str, r: NoveltyResult) -> None:
    """The reported run is really there, in the reported text at the reported place."""
    assert r.match == sample[r.start : r.start + r.longest]
    if r.longest == 0:
        assert r.source is None and not r.whole
        return
    assert r.source is not None
    assert texts[r.source][r.source_start : r.source_start + r.longest] == r.match


# ---------------------------------------------------------------- exactness against a brute-force reference

ALPHABET = ["a", "b", "c", " ", "é", "e\u0301", "😀", "🇺🇸", "\x00", "\n"]  # combining marks, flags, the separator's code
corpora = st.lists(st.lists(st.sampled_from(ALPHABET), max_size=14).map("".join), max_size=7)
samples = st.lists(st.sampled_from(ALPHABET + ["z", "☃"]), max_size=24).map("".join)  # z, ☃: never in a corpus


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=corpora, sample=samples, shard_chars=st.sampled_from([1, 7, 1 << 24]))
def test_longest_run_is_exact(texts: list[str], sample: str, shard_chars: int) -> None:
    index = NoveltyIndex.build(texts, shard_chars=shard_chars)
    r = index.check(sample)
    assert (r.longest, r.start) == brute_longest(texts, sample)
    assert_consistent(texts, sample, r)
    assert r.whole == (sample != "" and sample in texts)
    assert r.copied == (r.whole or r.longest >= COPY_THRESHOLD)


@settings(max_examples=50, deadline=None)
@given(texts=corpora)
def test_every_text_comes_back_and_is_found_whole(texts: list[str]) -> None:
    index = NoveltyIndex.build(texts, shard_chars=5)
    assert len(index) == len(texts)
    for i, t in enumerate(texts):
        assert index.source_text(i) == t
        r = index.check(t)
        if t:
            assert r.whole and r.copied and r.longest == len(t)
            assert texts[r.source] == t  # a duplicate text may be reported instead of i


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=corpora, sample=samples, chunk=st.sampled_from([1, 2, 5]))
def test_exact_when_the_build_sorts_in_small_chunks(texts: list[str], sample: str, chunk: int) -> None:
    """The later rounds sort chunk by chunk, reading ranks refined by earlier chunks: still exact."""
    saved = core.model.novelty.CHUNK_SLOTS
    core.model.novelty.CHUNK_SLOTS = chunk
    try:
        index = NoveltyIndex.build(texts)
    finally:
        core.model.novelty.CHUNK_SLOTS = saved
    r = index.check(sample)
    assert (r.longest, r.start) == brute_longest(texts, sample)
    assert_consistent(texts, sample, r)


def test_a_huge_alphabet_uses_one_character_buckets() -> None:
    rng = random.Random(4)
    cjk = [chr(0x4E00 + i) for i in range(2500)]  # more distinct characters than the two-character table takes
    texts = ["".join(rng.choice(cjk[:40] if i % 2 else cjk) for _ in range(rng.randint(1, 30))) for i in range(300)]
    texts.append("".join(cjk))
    index = NoveltyIndex.build(texts)
    assert index.shards[0].width == 0  # one-character buckets
    for _ in range(40):
        sample = "".join(rng.choice(cjk[:40]) for _ in range(rng.randint(0, 25))) + "".join(cjk[100:150])
        r = index.check(sample)
        assert (r.longest, r.start) == brute_longest(texts, sample)
        assert_consistent(texts, sample, r)
    assert index.source_text(len(texts) - 1) == texts[-1]


def test_a_longer_random_corpus_agrees_with_brute_force() -> None:
    rng = random.Random(3)
    texts = ["".join(rng.choice("abcd ") for _ in range(rng.randint(0, 60))) for _ in range(80)]
    index = NoveltyIndex.build(texts)
    for _ in range(60):
        sample = "".join(rng.choice("abcde ") for _ in range(rng.randint(0, 120)))
        r = index.check(sample)
        assert (r.longest, r.start) == brute_longest(texts, sample)
        assert_consistent(texts, sample, r)


# ---------------------------------------------------------------- the copy flag and its threshold

BASE = "the quick brown fox jumps over the lazy dog while the cat naps on the mat"  # 73 characters


def sample_sharing(n: int) -> str:
    """A sample whose longest run shared with BASE is exactly ``n`` characters."""
    return "#" + BASE[10 : 10 + n] + "#"


def test_copy_flag_at_the_threshold_boundary() -> None:
    index = NoveltyIndex.build(["unrelated words here", BASE])
    at_39, at_40 = index.check(sample_sharing(39)), index.check(sample_sharing(40))
    assert (at_39.longest, at_39.copied) == (39, False)
    assert (at_40.longest, at_40.copied) == (40, True)
    assert at_40.source == 1 and at_40.source_start == 10 and at_40.start == 1
    assert index.source_text(at_40.source) == BASE


def test_threshold_is_configurable_per_index_and_per_call() -> None:
    strict = NoveltyIndex.build([BASE], threshold=20)
    assert strict.check(sample_sharing(20)).copied and not strict.check(sample_sharing(19)).copied
    assert strict.check(sample_sharing(20), threshold=21).copied is False
    r = NoveltyIndex.build([BASE]).check(sample_sharing(30), threshold=30)
    assert r.copied and r.threshold == 30
    with pytest.raises(ValueError):
        NoveltyIndex.build([BASE], threshold=0)
    with pytest.raises(ValueError):
        strict.check("x", threshold=0)


def test_source_is_the_text_that_holds_the_run() -> None:
    texts = ["alpha beta gamma", "one two three four five six seven eight nine ten", "delta epsilon"]
    r = NoveltyIndex.build(texts).check("she said: four five six seven eight nine, then stopped")
    assert r.source == 1 and r.match == " four five six seven eight nine" and r.longest == len(r.match)
    assert texts[1][r.source_start : r.source_start + r.longest] == r.match


# ---------------------------------------------------------------- edge cases


def test_empty_sample_and_empty_corpus() -> None:
    none = NoveltyResult(0, 0, None, 0, COPY_THRESHOLD, False, False, "")
    assert NoveltyIndex.build([BASE]).check("") == none
    empty = NoveltyIndex.build([])
    assert empty.check("anything at all") == none and len(empty) == 0 and empty.nbytes >= 0
    only_empty = NoveltyIndex.build(["", ""])
    assert only_empty.check("") == none and only_empty.check("abc").longest == 0 and only_empty.source_text(1) == ""
    with pytest.raises(IndexError):
        only_empty.source_text(2)


def test_sample_equal_to_a_short_text_is_a_copy_and_a_long_one_by_length() -> None:
    texts = ["ok", "short tweet", BASE]
    index = NoveltyIndex.build(texts)
    short = index.check("short tweet")
    assert short.whole and short.copied and short.longest == 11 and short.source == 1
    full = index.check(BASE)
    assert full.whole and full.copied and full.longest == len(BASE) and full.source == 2
    inside = index.check("short twee")  # a part of a short text is not a copy
    assert inside.longest == 10 and not inside.whole and not inside.copied


def test_sample_longer_than_any_text() -> None:
    texts = ["abc", "hello world", "xyz"]
    sample = ("hello world " * 30)[:300]
    r = NoveltyIndex.build(texts).check(sample)
    assert (r.longest, r.start, r.source, r.whole) == (11, 0, 1, False)


def test_unicode_runs_count_code_points() -> None:
    texts = ["so proud of our team 🇺🇸🇺🇸 go! café\u0301 time 😀😀😀 ok"]
    index = NoveltyIndex.build(texts)
    r = index.check("🇺🇸🇺🇸 go! café\u0301")
    assert r.longest == len("🇺🇸🇺🇸 go! café\u0301") and r.source == 0 and r.whole is False
    assert index.check("😀😀😀😀").longest == 3
    assert index.check("☃☃☃").longest == 0  # never in the corpus
    assert index.source_text(0) == texts[0]


def test_very_short_texts() -> None:
    texts = ["a", "b", "", "ab"]
    index = NoveltyIndex.build(texts)
    assert index.check("a").whole and index.check("a").source == 0
    assert index.check("ba").longest == 1
    assert index.check("xaby").match == "ab" and index.check("xaby").source == 3


def test_shards_give_the_same_answers() -> None:
    rng = random.Random(5)
    texts = [" ".join(rng.choice(["red", "green", "blue", "fox", "dog", "!"]) for _ in range(rng.randint(1, 15)))
             for _ in range(200)]
    one, many = NoveltyIndex.build(texts), NoveltyIndex.build(texts, shard_chars=300)
    assert len(one.shards) == 1 and len(many.shards) > 5
    for _ in range(100):
        sample = " ".join(rng.choice(["red", "green", "blue", "fox", "dog", "cat"]) for _ in range(12))
        a, b = one.check(sample), many.check(sample)
        assert (a.longest, a.start) == (b.longest, b.start)
        assert_consistent(texts, sample, a)
        assert_consistent(texts, sample, b)
    for i in range(0, 200, 37):
        assert many.source_text(i) == texts[i]


# ---------------------------------------------------------------- building in a worker


def test_progress_is_reported_and_a_build_can_be_cancelled() -> None:
    texts = [f"tweet number {i} says hello" for i in range(300)]
    seen: list[float] = []
    NoveltyIndex.build(texts, shard_chars=2000, progress=seen.append)
    assert seen and seen == sorted(seen) and seen[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in seen)
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(BuildCancelled):
        NoveltyIndex.build(texts, shard_chars=2000, cancelled=cancelled)


def test_build_in_a_thread_and_check_from_several() -> None:
    texts = [f"the {w} jumped over the {v} fence at dawn" for w in ("cow", "fox", "hen") for v in ("red", "low", "old")]
    built: list[NoveltyIndex] = []
    worker = threading.Thread(target=lambda: built.append(NoveltyIndex.build(texts)))
    worker.start()
    worker.join(60)
    index = built[0]
    results: list[NoveltyResult] = []
    checkers = [threading.Thread(target=lambda t=t: results.append(index.check(t))) for t in texts]
    for c in checkers:
        c.start()
    for c in checkers:
        c.join(60)
    assert len(results) == len(texts) and all(r.whole and r.copied for r in results)


def test_build_does_not_keep_the_callers_list() -> None:
    texts = [BASE, "another text entirely"]
    index = NoveltyIndex.build(texts)
    texts[0] = "changed"
    assert index.check(BASE).whole and index.source_text(0) == BASE


# ---------------------------------------------------------------- the model checks

OVERFIT_TWEET = "the cat sat on the warm laundry again, and purred all afternoon!"  # 64 characters


def _overfit_one_tweet(run_dir: Path):  # type: ignore[no-untyped-def]
    """The one-tweet sanity check's recipe (tests/core/test_model_and_loss.py): train until it reproduces the tweet."""
    from core.model.gru import new_model
    from core.train.trainer import TrainConfig, Trainer
    from core.data.vocab import CharVocab

    vocab = CharVocab.build([OVERFIT_TWEET])
    model = new_model(vocab, seed=0, embed_dim=16, hidden_size=64)
    config = TrainConfig(batch_size=1, lr=1e-2, max_steps=300, val_every=0, ckpt_every=0, warmup_steps=0,
                         lr_schedule="constant", divergence_factor=100.0)
    trainer = Trainer(model, vocab, [OVERFIT_TWEET], [], config, run_dir)
    events = list(trainer.run())
    assert events[-1].reason == "finished"
    return trainer.averaged_model(), vocab


@pytest.mark.slow
def test_an_overfit_model_is_flagged_and_a_fresh_one_is_not(tmp_path: Path) -> None:
    from core.model.sampler import SampleConfig, sample
    from core.model.gru import new_model

    texts = [OVERFIT_TWEET]  # the run's training texts
    index = NoveltyIndex.build(texts)
    model, vocab = _overfit_one_tweet(tmp_path / "run")
    text = sample(model, vocab, SampleConfig(temperature=0, max_len=200))
    assert text == OVERFIT_TWEET  # the sanity check itself: it memorised the tweet
    r = index.check(text)
    assert r.copied and r.longest == len(OVERFIT_TWEET) >= COPY_THRESHOLD and r.source == 0
    low_t = index.check(sample(model, vocab, SampleConfig(temperature=0.1, max_len=200, seed=1)))
    assert low_t.copied  # near-greedy sampling copies too

    torch.manual_seed(0)
    fresh = new_model(vocab, seed=1, embed_dim=16, hidden_size=64)
    for seed in range(20):
        out = sample(fresh, vocab, SampleConfig(temperature=1.0, max_len=200, seed=seed))
        r = index.check(out)
        assert not r.copied, (out, r)
        assert r.longest < 20


# ---------------------------------------------------------------- real data


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.skipif(not DEV_CSV.exists(), reason=f"real-data test: {DEV_CSV} is absent (it lives in ../shared beside the checkout)")
def test_dev_corpus_verbatim_is_flagged_with_its_source_and_shuffled_is_not() -> None:
    from core.data.corpus import load_corpus

    texts, _ = load_corpus(DEV_CSV)  # what training sees
    index = NoveltyIndex.build(texts)
    haystack = "\x00".join(texts)  # for a direct check of maximality: no window crosses the separator
    rng = random.Random(10)
    long_tweets = [i for i, t in enumerate(texts) if len(t) >= 100 and len(t.split()) >= 12]
    picks = rng.sample(long_tweets, 12)
    flagged_shuffles = 0
    for i in picks:
        r = index.check(texts[i])
        assert r.copied and r.whole and r.source == i and r.longest == len(texts[i])
        assert index.source_text(r.source) == texts[i]

        words = texts[i].split(" ")
        rng.shuffle(words)
        shuffled = " ".join(words)
        s = index.check(shuffled)
        assert_consistent(texts, shuffled, s)
        # exact on real text: a run of this length is there, and none one longer
        assert s.match in haystack
        assert not any(shuffled[j : j + s.longest + 1] in haystack for j in range(len(shuffled) - s.longest))
        flagged_shuffles += s.copied
    assert flagged_shuffles <= 1  # a shuffled tweet is not a copy (one may still hold a common 40-char phrase)
