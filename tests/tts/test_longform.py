import numpy as np
import pytest

from llasa.audio.crossfade import crossfade, fade_curves
from llasa.lm.settings import reading_tokens
from llasa.tts.longform import MAX_CARRY_TOKENS, next_carry
from llasa.tts.plan import plan
from llasa.tts.text import chunk_text

LONG = " ".join(f"Sentence number {i} is spoken here." for i in range(16))


def test_fades_sum_to_one_and_crossfade_lengths():
    out, inn = fade_curves(100)
    np.testing.assert_allclose(out + inn, 1.0, atol=1e-6)
    assert out[0] > 0.99 and inn[-1] > 0.99
    a, b = np.ones(1000, np.float32), np.full(500, 2.0, np.float32)
    j = crossfade([a, b, a], 100)
    assert len(j) == 2500 - 200
    assert j[:900].tolist() == [1.0] * 900 and j[1000:1300].tolist() == [2.0] * 300
    assert np.all(np.diff(j[900:1000]) > 0)  # a smooth ramp from 1 to 2, no click
    assert len(crossfade([a, np.ones(30, np.float32)], 100)) == 1000  # short piece: k = 30
    assert len(crossfade([], 10)) == 0


def test_next_carry_rules():
    old = ("old", np.array([1]))
    assert next_carry("t", np.array([5, 6]), True, old)[0] == "t"
    assert next_carry("t", np.array([5, 6]), False, old) is old  # hit the cap: not carried
    assert next_carry("t", np.zeros(MAX_CARRY_TOKENS + 1, np.int64), True, old) is old


def test_plan_carries_previous_text_and_codes(chatty_tts):
    lm = chatty_tts.lm
    carry = ("Previous words.", np.array([3, 1, 4], np.int64))
    p = plan(lm, "Next words.", None, chatty_tts.make_settings(seed=10),
             chatty_tts.plan_config, carry=carry, seed_offset=2)
    assert p.carried and p.settings.seed == 12  # per-chunk seed: seed + index
    assert p.prompt[-4] == lm.vocab.speech_start
    np.testing.assert_array_equal(lm.vocab.id_to_code(np.array(p.prompt[-3:])), [3, 1, 4])
    text = lm.tokenizer.decode(p.prompt)
    assert "Previous words. Next words." in text
    assert p.settings.max_new_tokens == p.budget <= lm.max_context - len(p.prompt)
    # A carry that would crowd out the chunk's speech is dropped for this step.
    big = ("Previous words.", np.ones(lm.max_context - 200, np.int64))
    p = plan(lm, "Next words.", None, chatty_tts.make_settings(), chatty_tts.plan_config,
             carry=big)
    assert not p.carried and p.prompt[-1] == lm.vocab.speech_start
    assert reading_tokens(120) == 550


def test_long_text_is_chunked_carried_and_crossfaded(chatty_tts):
    r = chatty_tts.synthesize(LONG, seed=4, temperature=1.0)
    chunks = chunk_text(LONG, chatty_tts.limits.chunk_chars)
    assert r.info["chunks"] == len(chunks) > 2 and r.info["chunk_texts"] == chunks
    assert r.info["chunks_carried"] >= 1  # chunks that ended were carried into the next
    lens = r.info["chunk_tokens"]
    assert len(r.codes) == sum(lens)
    total = 320 * lens[0]
    for n in lens[1:]:  # each junction overlaps 50 ms (less when a piece is shorter)
        total += 320 * n - min(800, total, 320 * n)
    assert len(r.audio) == total
    again = chatty_tts.synthesize(LONG, seed=4, temperature=1.0)
    np.testing.assert_array_equal(r.audio, again.audio)  # same seed, same long audio


def test_long_text_with_voice_keeps_voice_in_every_prompt(tiny_tts, prompt_voice):
    lm = tiny_tts.lm
    carry = ("Earlier chunk.", np.array([7, 8], np.int64))
    p = plan(lm, "Later chunk.", prompt_voice, tiny_tts.make_settings(max_new_tokens=5),
             tiny_tts.plan_config, carry=carry, seed_offset=1)
    n = len(prompt_voice.codes)
    assert p.carried
    codes = lm.vocab.id_to_code(np.array(p.prompt[-(n + 2):]))
    np.testing.assert_array_equal(codes, np.concatenate([prompt_voice.codes, [7, 8]]))
    assert f"{prompt_voice.text} Earlier chunk. Later chunk." in lm.tokenizer.decode(p.prompt)
    with pytest.raises(Exception, match="duration"):
        tiny_tts.synthesize(LONG, prompt_voice, duration=2.0)


def test_no_carry_prompts_every_chunk_without_the_previous_one(chatty_tts):
    """TextLimits(carry=False): no chunk is carried, in synthesis and in streaming alike."""
    from llasa.tts import Llasa
    from llasa.tts.text import TextLimits

    lim = chatty_tts.limits
    plain = Llasa(chatty_tts.lm, chatty_tts.codec,
                  limits=TextLimits(max_chars=lim.max_chars, chunk_chars=lim.chunk_chars,
                                    carry=False))
    r = plain.synthesize(LONG, seed=4, temperature=1.0)
    carried = chatty_tts.synthesize(LONG, seed=4, temperature=1.0)
    assert r.info["chunks"] == carried.info["chunks"] > 2
    assert r.info["chunks_carried"] == 0 and carried.info["chunks_carried"] >= 1
    stream = plain.stream(LONG, seed=4, temperature=1.0)
    list(stream)
    np.testing.assert_array_equal(stream.codes, r.codes)  # streaming honours it too


def test_model_declared_carry_is_the_default_and_callers_win(chatty_tts):
    """config.json ``llasa_long_text: {"carry": false}`` turns carrying off unless the caller
    asks for it (TextLimits(carry=True)); without the key, long text is carried."""
    from llasa._common.errors import InputError, ModelLoadError
    from llasa.lm.model import LlasaLM
    from llasa.tts import Llasa
    from llasa.tts.text import TextLimits

    lm, lim = chatty_tts.lm, chatty_tts.limits
    assert chatty_tts.carry is True and lm.long_text_defaults == {}
    lm.model.config.llasa_long_text = {"carry": False}
    try:
        declared = LlasaLM(lm.model, lm.tokenizer)
        assert declared.long_text_defaults == {"carry": False}
        tts = Llasa(declared, chatty_tts.codec, limits=lim)
        assert tts.carry is False
        r = tts.synthesize(LONG, seed=4, temperature=1.0)
        assert r.info["chunks"] > 2 and r.info["chunks_carried"] == 0
        forced = Llasa(declared, chatty_tts.codec,
                       limits=TextLimits(max_chars=lim.max_chars, chunk_chars=lim.chunk_chars,
                                         carry=True))
        assert forced.carry is True
        assert forced.synthesize(LONG, seed=4, temperature=1.0).info["chunks_carried"] >= 1
        for bad in ({"carry": "no"}, {"carry": False, "chunk": 3}, ["carry"]):
            lm.model.config.llasa_long_text = bad
            with pytest.raises(ModelLoadError, match="llasa_long_text"):
                LlasaLM(lm.model, lm.tokenizer)
    finally:
        del lm.model.config.llasa_long_text
    with pytest.raises(InputError, match="carry"):
        TextLimits(carry="yes")
