"""Ordinary-English sentence lists (data/text): cleaning, speakability, splits by source and by
hash, licences recorded, and the committed lists equal what the Debian packages give."""

import json
from pathlib import Path

import pytest

from llasa._common.errors import InputError
from llasa._common.textnorm import normalize_english
from llasa.training.data.sentences import is_heldout
from llasa.training.data.textlists import (SOURCES, build_lists, clean, read_lists, speakable,
                                           write_lists)

DATA = Path(__file__).resolve().parents[2] / "data" / "text"


@pytest.mark.parametrize("raw,want", [
    ('"She choked with emotion"', "She choked with emotion."),
    ("he  left  ( quickly ) .", "He left."),
    ("\u201cCaf\u00e9 au lait\u201d, she said", "Cafe au lait, she said."),
    ("Is it? ", "Is it?"),
    ("  -- trailing dash -", "Trailing dash."),
])
def test_clean(raw, want):
    assert clean(raw) == want


@pytest.mark.parametrize("s,ok", [
    ("The sails luffed in the wind.", True),
    ("Hi.", False),                                      # too short
    ("x " * 40, False),                                  # too long
    ("Use printf() to print.", False),                   # code
    ("He said -- loudly -- no.", False),                 # dialogue dashes
    ("THIS IS SHOUTING ALL OVER.", False),
    ("Set x to y and n to m now.", False),               # stray single letters
    ("I can't go there, said Anna.", True),
    ("It cost $45 in 2021.", True),                      # the normaliser reads these
    ("Das ist schön, oder nicht?", False),               # not plain ASCII letters
])
def test_speakable(s, ok):
    assert speakable(s) == ok


def test_committed_lists_record_sources_licences_and_splits():
    meta = json.loads((DATA / "sources.json").read_text())
    assert set(meta) == set(SOURCES)
    train_all, held_all = set(), set()
    for name, m in meta.items():
        assert m["licence"] == SOURCES[name].licence and m["package"]
        train = read_lists(DATA, "train", [name])
        held = read_lists(DATA, "heldout", [name])
        assert len(train) == m["train"] and len(held) == m["heldout"] > 0
        tr, he = {s for s, _ in train}, {s for s, _ in held}
        assert len(tr) == len(train) and len(he) == len(held)  # no duplicates
        assert not tr & he
        if SOURCES[name].heldout:  # a held-out source is never trained on
            assert not tr
        else:  # the others split by text hash, so growing a list moves nothing
            assert all(not is_heldout(s, 0.05) for s in tr)
            assert all(is_heldout(s, 0.05) for s in he)
        for s in list(tr)[:500] + list(he)[:500]:  # numbers: judged as spoken
            assert speakable(normalize_english(s) if name == "numbers" else s), s
            assert clean(s) == s, s
        assert not (tr | he) & (train_all | held_all)  # deduplicated across sources
        train_all |= tr
        held_all |= he
    size = sum(f.stat().st_size for f in DATA.iterdir())
    assert size < 3_000_000  # committed lists stay modest


def test_lists_rebuild_from_the_debian_packages(tmp_path):
    names = ("wordnet", "fortunes", "fortunes-heldout")  # the first sources: same dedup order
    missing = [f for n in names for f in SOURCES[n].files if not Path(f).exists()]
    if missing:
        pytest.skip(f"{missing[0]} is not installed (scripts/install.sh installs it)")
    lists = build_lists(names)
    write_lists(lists, tmp_path)
    for n in names:
        for part in ("train", "heldout"):
            assert (tmp_path / f"{n}.{part}.txt").read_text() == \
                (DATA / f"{n}.{part}.txt").read_text(), (n, part)


def test_bad_sources_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="unknown text source"):
        build_lists(("wikipedia",))
    with pytest.raises(InputError, match="split"):
        read_lists(DATA, "dev")
    with pytest.raises(InputError, match="no text source"):
        read_lists(DATA, "train", ["nope"])


def test_number_sentences_hold_written_forms_the_normaliser_reads():
    import re

    from llasa.training.data.numbers import number_sentences

    sents = number_sentences(400, seed=3)
    assert len(sents) == len(set(sents)) == 400 and number_sentences(400, seed=3) == sents
    assert all(re.search(r"[\d$£€%&@]", s) for s in sents)
    spoken = [normalize_english(s) for s in sents]
    assert not any(re.search(r"\d", s) for s in spoken)
    assert sum(speakable(s) for s in spoken) > 0.7 * len(spoken)
