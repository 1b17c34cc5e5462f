"""Links the sampler finishes (issue 17): the corpus's link lengths, the guard, and where the table is kept."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from core.data.vocab import EOS_ID, CharVocab
from core.model.endings import WordCheck
from core.model.gru import ModelConfig, new_model
from core.model.links import MIN_LINKS, link_lengths, table_from, unfinished
from core.model.sampler import SampleConfig, sample_batch, stream, write
from core.store.checkpoints import load_checkpoint, save_checkpoint

TCO = "https://t.co/"
IDS = "AbCdEfGhIj"  # t.co ids: 10 characters


def corpus(n: int = MIN_LINKS) -> list[str]:
    texts = [f"news {TCO}{IDS[i % 10:] + IDS[:i % 10]}" for i in range(n)]  # https://t.co/ + 10 = 23 characters
    texts += [f"old {'http://t.co/'}{IDS[:7]} post" for _ in range(n)]  # 2011's shorter links: 19
    texts += [f"see https://example.com/{'a' * i}" for i in range(n)]  # a site with links of every length
    texts += ["a rare https://rare.org/x"]  # too few links to judge
    return texts


def test_the_table_keeps_fixed_length_sites_and_their_lengths() -> None:
    table = dict(link_lengths(corpus()))
    assert table == {"https://t.co": (23,), "http://t.co": (19,)}
    assert link_lengths(corpus(MIN_LINKS - 1)) == ()  # too few links of each site to judge any


@pytest.mark.parametrize("word,expected", [
    ("https://t.co/AbCdE", True),  # shorter than every t.co link
    ("https://t.co/AbCdEfGhIj", False),  # whole
    ("https://t.co/AbCdEfGhIjK", False),  # longer than any: nothing a guard can finish
    ("HTTPS://T.CO/AbC", True),  # scheme and host compare case-folded
    ("https://t.c", True),  # still writing the host of a site whose links are finished
    ("https://t.co", True),
    ("https://example.com/a", False),  # a site of many lengths is not judged
    ("hello", False),
    ("htt", False),
    ("", False),
])
def test_a_link_is_unfinished_until_it_has_a_length_its_site_uses(word: str, expected: bool) -> None:
    assert unfinished(word, link_lengths(corpus())) is expected
    assert unfinished(word, ()) is False  # no table (a model trained before it): never


def test_a_stored_table_is_read_back_and_a_damaged_one_refused() -> None:
    assert table_from([["https://t.co", [23, 19]]]) == (("https://t.co", (23, 19)),)
    assert table_from(None) == ()
    for bad in ([["https://t.co", ["23"]]], [["https://t.co"]], "https://t.co", [[1, [23]]]):
        with pytest.raises(ValueError):
            table_from(bad)


def eager_to_end(vocab: CharVocab, table: tuple = ()) -> torch.nn.Module:
    """A model that always wants to end: <eos> logit 20, every other character 0."""
    model = new_model(vocab, seed=0, embed_dim=4, hidden_size=4, max_length=0)
    model.config = replace(model.config, link_lengths=table)
    with torch.no_grad():
        model.decoder.weight.zero_()
        model.decoder.bias.zero_()
        model.decoder.bias[EOS_ID] = 20.0
    return model.eval()


def test_the_sampler_finishes_a_link_before_the_text_ends() -> None:
    """The guard makes the difference: the same eager model ends at once without the table, and with it
    writes the prime's link to a t.co length first (write, stream and batch alike), then ends."""
    texts = corpus()
    vocab = CharVocab.build(texts)
    prime = "look " + TCO + "Ab"
    cfg = SampleConfig(temperature=1.0, prime=prime, seed=0, max_len=60)
    assert write(eager_to_end(vocab), vocab, cfg).text == prime  # no table: the text ends mid-link
    model = eager_to_end(vocab, link_lengths(texts))
    check = WordCheck(texts)
    for seed in range(5):
        written = write(model, vocab, replace(cfg, seed=seed))
        link = written.text.split()[-1]
        assert written.ended and len(link) == 23 and link.startswith(prime.split()[-1]), written.text
        assert not check.check(written.text).cut
        assert prime + "".join(c.char for c in stream(model, vocab, replace(cfg, seed=seed))) == written.text
    for text in sample_batch(model, vocab, 4, cfg):
        assert len(text.split()[-1]) == 23 and text.startswith(prime)


def test_a_new_run_records_its_corpus_links_and_a_checkpoint_keeps_them(tmp_path: Path) -> None:
    from core.train.trainer import TrainConfig, Trainer

    texts = corpus()
    vocab = CharVocab.build(texts)
    model = new_model(vocab, seed=0, embed_dim=4, hidden_size=8)
    assert model.config.link_lengths == ()
    trainer = Trainer(model, vocab, texts, texts[:5], TrainConfig(max_steps=1, batch_size=4, val_every=0, ckpt_every=0), tmp_path)
    assert dict(trainer.model.config.link_lengths) == {"https://t.co": (23,), "http://t.co": (19,)}
    path = save_checkpoint(tmp_path / "c.pt", model=trainer.model, vocab=vocab)
    loaded = load_checkpoint(path)
    assert loaded.model_config.link_lengths == trainer.model.config.link_lengths
    assert loaded.model().config.link_lengths == trainer.model.config.link_lengths


def test_a_config_stored_before_the_table_loads_without_one() -> None:
    old = ModelConfig(vocab_size=10).to_dict()
    del old["link_lengths"]
    assert ModelConfig.from_dict(old).link_lengths == ()
