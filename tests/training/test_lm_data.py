"""Training sequences: official layout and labels, speaker prefix, eot-mask quirk, ASR layout,
packing (block-diagonal attention == sequences alone), collator, length filter."""

import numpy as np
import pytest
import torch

from lm_helpers import cached_prepared
from llasa._common.errors import InputError
from llasa.lm import build_tts_prompt, tiny_lm
from llasa.training.data.shards import CodeShards
from llasa.training.lm_data import IGNORE, Collator, LMDataset, SequenceBuilder, _pack


@pytest.fixture(scope="module")
def lm():
    return tiny_lm(codebook_size=256, seed=0)


@pytest.fixture(scope="module")
def tok(lm):
    return lm.tokenizer


def test_tts_sequence_is_the_official_layout(tok):
    b = SequenceBuilder(tok, "tts")
    v = b.vocab
    codes = [3, 0, 255, 17]
    s = b.build("Hello there.", codes)
    ids, labels = s["input_ids"].tolist(), s["labels"].tolist()
    prompt = build_tts_prompt(tok, "Hello there.")
    # the prefix up to SPEECH_GENERATION_START is exactly the inference prompt
    assert ids[: len(prompt)] == prompt and prompt[-1] == v.speech_start
    assert ids[len(prompt):] == [v.code_to_id(c)[0] for c in codes] + [v.speech_end,
                                                                         tok.eos_token_id]
    # loss on SGS, the speech tokens and SGE only; the closing <|eot_id|> (pad) has none
    expect = [IGNORE] * (len(prompt) - 1) + ids[len(prompt) - 1: -1] + [IGNORE]
    assert labels == expect
    assert s["attention_mask"].tolist() == [1] * len(ids)
    assert tok.decode(ids).endswith("<|s_3|><|s_0|><|s_255|><|s_17|>"
                                    "<|SPEECH_GENERATION_END|><|eot_id|>")
    assert b.prompt("Hello there.") == prompt


def test_official_eot_mask_quirk(tok):
    s = SequenceBuilder(tok, "tts", mask_template_eot=True).build("Hi.", [1, 2])
    ids, mask = s["input_ids"], s["attention_mask"]
    eot = tok.convert_tokens_to_ids("<|eot_id|>")
    assert (ids == eot).sum() == 3  # system, user, assistant turns
    np.testing.assert_array_equal(mask, (ids != tok.pad_token_id).astype(np.int64))
    assert mask.sum() == len(ids) - 3


def test_speaker_prefix_precedes_speech_start(tok):
    b = SequenceBuilder(tok, "tts", speaker_prefix=True)
    s = b.build("Hi.", [1, 2], speaker="kore")
    text = tok.decode(s["input_ids"])
    assert "assistant<|end_header_id|>\n\nSpeaker kore <|SPEECH_GENERATION_START|>" in text
    first = int(np.nonzero(s["labels"] != IGNORE)[0][0])
    assert s["input_ids"][first] == b.vocab.speech_start  # the prefix carries no loss
    assert b.prompt("Hi.", speaker="kore") == s["input_ids"][: first + 1].tolist()
    # no speaker: no prefix
    assert "Speaker" not in tok.decode(b.build("Hi.", [1, 2])["input_ids"])


def test_asr_sequence_layout(tok):
    b = SequenceBuilder(tok, "asr")
    v = b.vocab
    s = b.build("Hi there", [4, 5, 6])
    text = tok.decode(s["input_ids"])
    assert ("Convert the speech to text:<|SPEECH_UNDERSTANDING_START|><|s_4|><|s_5|><|s_6|>"
            "<|SPEECH_UNDERSTANDING_END|><|eot_id|>") in text
    assert text.endswith("<|TEXT_GENERATION_START|>Hi there<|TEXT_GENERATION_END|><|eot_id|>")
    lab = s["labels"][s["labels"] != IGNORE].tolist()
    assert lab == [v.text_gen_start] + tok.encode("Hi there", add_special_tokens=False) \
        + [v.text_gen_end]
    assert b.prompt(codes=[4, 5, 6])[-1] == v.text_gen_start


def test_builder_rejects_bad_input(tok):
    with pytest.raises(InputError):
        SequenceBuilder(tok, "stt")
    with pytest.raises(InputError, match="speech codes"):
        SequenceBuilder(tok, "tts").build("x", [256])


def test_packing_gives_each_sequence_its_own_attention(lm, tok):
    b = SequenceBuilder(tok, "tts")
    seqs = [b.build(t, c) for t, c in [("One.", [1, 2, 3]), ("Two words.", [9, 8]),
                                       ("Three here.", [5] * 7)]]
    packed = {"input_ids": np.concatenate([s["input_ids"] for s in seqs]),
              "labels": np.concatenate([s["labels"] for s in seqs]),
              "position_ids": np.concatenate([np.arange(len(s["input_ids"])) for s in seqs])}
    batch = Collator(tok.pad_token_id)([packed])
    with torch.no_grad():
        # use_cache=False as in training (train_lm sets it): transformers only derives the
        # block-diagonal mask from position ids when no KV cache is built
        out = lm.model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                       use_cache=False).logits
        start = 0
        for s in seqs:
            alone = lm.model(input_ids=torch.from_numpy(s["input_ids"])[None]).logits
            n = len(s["input_ids"])
            torch.testing.assert_close(out[:, start:start + n], alone, atol=2e-5, rtol=1e-4)
            start += n
        # and without position ids the rows would leak into each other (the test can fail)
        leak = lm.model(input_ids=batch["input_ids"], use_cache=False).logits
        assert not torch.allclose(leak[:, len(seqs[0]["input_ids"]):], out[:, len(
            seqs[0]["input_ids"]):], atol=1e-3)


def test_pack_first_fit_uses_every_item_once():
    lengths = np.array([300, 200, 120, 500, 90, 400, 60])
    rows = _pack(lengths, 512, seed=0)
    assert sorted(k for r in rows for k in r) == list(range(len(lengths)))
    assert all(lengths[r].sum() <= 512 for r in rows)
    assert len(rows) < len(lengths)


def test_collator_pads_right(tok):
    b = SequenceBuilder(tok, "tts", mask_template_eot=True)
    a, c = b.build("A.", [1]), b.build("Longer text.", [1, 2, 3])
    out = Collator(tok.pad_token_id)([a, c])
    n = len(a["input_ids"])
    assert out["input_ids"].shape == (2, len(c["input_ids"]))
    assert (out["input_ids"][0, n:] == tok.pad_token_id).all()
    assert (out["labels"][0, n:] == IGNORE).all() and (out["attention_mask"][0, n:] == 0).all()
    assert out["input_ids"].dtype == torch.int64


def test_dataset_over_prepared_shards(tok, speech):
    shards = CodeShards(cached_prepared(speech))
    b = SequenceBuilder(tok, "tts", speaker_prefix=True)
    ds = LMDataset(shards, b, max_length=2048)
    assert len(ds) == len(shards) and ds.num_too_long == 0
    for k in range(len(ds)):  # predicted lengths are exact (they drive filtering and packing)
        assert len(ds[k]["input_ids"]) == ds.lengths[k]
    u = shards[0]
    assert tok.decode(ds[0]["input_ids"]).count(u.text) == 1
    cut = int(np.median(ds.lengths))
    short = LMDataset(shards, b, max_length=cut)
    assert short.num_too_long == int((ds.lengths > cut).sum()) > 0
    packed = LMDataset(shards, b, max_length=1024, packing=True, seed=1)
    assert len(packed) < len(ds)
    assert sum(len(packed[k]["input_ids"]) for k in range(len(packed))) == ds.lengths.sum()
    with pytest.raises(InputError, match="no training sequence fits"):
        LMDataset(shards, b, max_length=20)


def test_clone_pairs_join_two_utterances_of_one_speaker(tok, speech):
    shards = CodeShards(cached_prepared(speech))
    b = SequenceBuilder(tok, "tts")
    single = LMDataset(shards, b, max_length=4096)
    ds = LMDataset(shards, b, max_length=4096, clone_pairs=1.0, seed=3)
    n = len(single)
    assert len(ds) == 2 * n  # as many pairs as single items, after them
    for k in range(n):
        np.testing.assert_array_equal(ds[k]["input_ids"], single[k]["input_ids"])
    v = b.vocab
    for k in range(n, 2 * n):
        i, j = ds.items[k]
        assert i != j and shards.speaker(i) == shards.speaker(j) is not None
        s = ds[k]
        assert len(s["input_ids"]) == ds.lengths[k]  # predicted lengths stay exact
        ui, uj = shards[i], shards[j]
        # exactly what a cloning prompt holds: both texts, both utterances' codes in order
        assert b.prompt(ui.text + " " + uj.text) == s["input_ids"][
            : len(b.prompt(ui.text + " " + uj.text))].tolist()
        speech_ids = s["input_ids"][s["labels"] != IGNORE]
        codes = np.concatenate([np.asarray(ui.codes), np.asarray(uj.codes)])
        np.testing.assert_array_equal(speech_ids[1:-1], v.code_to_id(codes))
    again = LMDataset(shards, b, max_length=4096, clone_pairs=1.0, seed=3)
    assert again.items == ds.items  # seeded
    with pytest.raises(InputError, match="clone_pairs"):
        LMDataset(shards, b, max_length=4096, clone_pairs=-1)
    from llasa.training.lm_config import LMDataSettings

    for bad in ({"clone_pairs": -0.5}, {"clone_pairs": 0.5, "task": "asr"}):
        with pytest.raises(InputError, match="clone_pairs"):
            LMDataSettings(**bad)


def test_phoneme_frontend_sequences_match_the_inference_prompts(lm, tok, speech):
    # training applies data.text_frontend exactly as LlasaLM applies the model's frontend
    from llasa.lm.frontend import get_frontend

    ipa = get_frontend("espeak:en-us")
    b = SequenceBuilder(tok, "tts", frontend=ipa)
    s = b.build("Hello there.", [3, 0])
    prompt = build_tts_prompt(tok, ipa("Hello there."))
    assert s["input_ids"][: len(prompt)].tolist() == prompt
    shards = CodeShards(cached_prepared(speech))
    ds = LMDataset(shards, b, max_length=4096, clone_pairs=1.0, seed=3)
    for k in range(len(ds)):
        assert len(ds[k]["input_ids"]) == ds.lengths[k]
    i, j = ds.items[-1]
    ui, uj = shards[i], shards[j]
    pair = build_tts_prompt(tok, ipa(uj.text), prompt_text=ipa(ui.text) + " ",
                            prompt_codes=ui.codes)  # the cloning prompt of LlasaLM / Llasa
    assert ds[len(ds) - 1]["input_ids"][: len(pair)].tolist() == pair
    assert ui.text not in tok.decode(ds[0]["input_ids"])
    with pytest.raises(InputError, match="'tts' only"):
        SequenceBuilder(tok, "asr", frontend=ipa)
    from llasa.training.lm_config import LMDataSettings

    for bad, msg in (({"text_frontend": "g2p"}, "espeak:VOICE"),
                     ({"text_frontend": "espeak:en-us", "task": "asr"}, "needs data.task")):
        with pytest.raises(InputError, match=msg):
            LMDataSettings(**bad)


def test_unconditional_items_leave_the_text_out(tok, speech):
    # the unconditional half of classifier-free guidance: the very prompt the decoder builds
    # for it (text span emptied), then the utterance's speech
    from llasa.lm.decoding import unconditional_prompt

    shards = CodeShards(cached_prepared(speech))
    b = SequenceBuilder(tok, "tts", speaker_prefix=False)
    single = LMDataset(shards, b, max_length=4096)
    ds = LMDataset(shards, b, max_length=4096, clone_pairs=0.5, unconditional=0.5, seed=3)
    n = len(single)
    extra = [g for g in ds.items if g[0] == -1]
    assert len(extra) == round(0.5 * n) and len({g[1] for g in extra}) == len(extra)
    for k, g in enumerate(ds.items):
        assert len(ds[k]["input_ids"]) == ds.lengths[k]
        if g[0] != -1:
            continue
        u = shards[g[1]]
        s = ds[k]
        prompt = unconditional_prompt(build_tts_prompt(tok, u.text), b.vocab)
        assert s["input_ids"][: len(prompt)].tolist() == prompt
        assert u.text not in tok.decode(s["input_ids"])
        speech_ids = s["input_ids"][s["labels"] != IGNORE]
        np.testing.assert_array_equal(speech_ids[1:-1], b.vocab.code_to_id(u.codes))
    again = LMDataset(shards, b, max_length=4096, clone_pairs=0.5, unconditional=0.5, seed=3)
    assert again.items == ds.items
    with pytest.raises(InputError, match="unconditional"):
        LMDataset(shards, b, max_length=4096, unconditional=1.5)
    from llasa.training.lm_config import LMDataSettings

    for bad in ({"unconditional": -0.1}, {"unconditional": 0.1, "task": "asr"}):
        with pytest.raises(InputError, match="unconditional"):
            LMDataSettings(**bad)


def test_normalizing_frontend_reaches_training_sequences(tok):
    # data.text_frontend "normalize:en+espeak:en-us": the transcript "$45" trains as the
    # phonemes of "forty-five dollars", as LlasaLM reads the same text at inference
    from llasa.lm.frontend import get_frontend
    from llasa.training.lm_config import LMDataSettings

    spec = "normalize:en+espeak:en-us"
    assert LMDataSettings(text_frontend=spec).text_frontend == spec
    assert LMDataSettings(text_frontend="normalize:en").text_frontend == "normalize:en"
    with pytest.raises(InputError, match="normalize:en"):
        LMDataSettings(text_frontend="normalize:en+g2p")
    fe = get_frontend(spec)
    b = SequenceBuilder(tok, "tts", frontend=fe)
    s = b.build("It cost $45.", [3, 0])
    prompt = build_tts_prompt(tok, get_frontend("espeak:en-us")("It cost forty-five dollars."))
    assert s["input_ids"][: len(prompt)].tolist() == prompt
