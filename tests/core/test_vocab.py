"""Vocabulary: deterministic order, fixed specials, lossless round trip."""

from hypothesis import given, settings
from hypothesis import strategies as st

from core.data.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID, CharVocab

printable = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


def test_specials_have_fixed_ids() -> None:
    v = CharVocab.build(["ba"])
    assert (PAD_ID, BOS_ID, EOS_ID, UNK_ID) == (0, 1, 2, 3)
    assert [v.token(i) for i in range(4)] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert v.encode("ab") == [BOS_ID, 4, 5, EOS_ID]


def test_order_does_not_depend_on_input_order() -> None:
    assert CharVocab.build(["xyz", "abc"]) == CharVocab.build(["cba", "zyx"])


def test_unseen_characters_become_unk_without_crash() -> None:
    v = CharVocab.build(["abc"])
    assert v.encode("a☕", bos=False, eos=False) == [v.id_of("a"), UNK_ID]
    assert v.decode(v.encode("a☕")) == "a\ufffd"


@settings(max_examples=200)
@given(st.lists(printable, min_size=1, max_size=8))
def test_round_trip_over_arbitrary_unicode(texts: list[str]) -> None:
    v = CharVocab.build(texts)
    for text in texts:
        ids = v.encode(text)
        assert ids[0] == BOS_ID and ids[-1] == EOS_ID
        assert UNK_ID not in ids
        assert v.decode(ids) == text
    assert CharVocab.from_dict(v.to_dict()) == v
