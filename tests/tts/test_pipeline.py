import numpy as np
import pytest

from llasa._common.errors import BudgetError, InputError, ModelLoadError
from llasa.lm.prompt import build_tts_prompt
from llasa.tts import Llasa, TextLimits, Voice


def test_synthesize_end_to_end_text_to_audio(tiny_tts):
    r = tiny_tts.synthesize("Hello world.", seed=3, max_new_tokens=25)
    assert r.sample_rate == 16000 and r.audio.dtype == np.float32 and r.audio.ndim == 1
    assert r.codes.dtype == np.int64 and len(r.codes) == 25 == r.info["tokens"]
    assert len(r.audio) == 320 * len(r.codes) and r.duration == pytest.approx(0.5)
    assert r.info["ended"] is False and r.info["max_new_tokens"] == 25
    assert set(r.info["timings"]) == {"generate", "decode", "total"}
    # The audio is exactly the codec's decoding of the returned codes.
    np.testing.assert_array_equal(r.audio, tiny_tts.codec.decode(r.codes)[0])
    assert np.abs(r.audio).max() > 0


def test_same_seed_same_output_and_other_seed_differs(chatty_tts):
    a = chatty_tts.synthesize("Seeded speech.", seed=7, temperature=1.0)
    b = chatty_tts.synthesize("Seeded speech.", seed=7, temperature=1.0)
    c = chatty_tts.synthesize("Seeded speech.", seed=8, temperature=1.0)
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert not np.array_equal(a.codes, c.codes)
    assert a.info["ended"]  # the 16-code LM stops on its own, before the cap
    assert a.info["tokens"] == len(a.codes) + 1  # END is sampled but not a code


def test_prompt_is_the_official_one(tiny_tts, prompt_voice):
    tok = tiny_tts.lm.tokenizer
    assert tiny_tts.build_prompt("  Hi  there. ") == build_tts_prompt(tok, "Hi there.")
    ids = tiny_tts.build_prompt("Hi there.", prompt_voice)
    # issue 19: the card concatenates transcript and text bare; that is the default
    assert tiny_tts.prompt_join == "bare"
    assert ids == build_tts_prompt(tok, "Hi there.", prompt_text=prompt_voice.text,
                                   prompt_codes=prompt_voice.codes)
    spaced = Llasa(tiny_tts.lm, tiny_tts.codec, prompt_join="space")
    assert spaced.build_prompt("Hi there.", prompt_voice) == build_tts_prompt(
        tok, "Hi there.", prompt_text=prompt_voice.text + " ", prompt_codes=prompt_voice.codes)
    with pytest.raises(InputError, match="prompt_join"):
        Llasa(tiny_tts.lm, tiny_tts.codec, prompt_join="tab")
    vocab = tiny_tts.lm.vocab
    n = len(prompt_voice.codes)
    assert ids[-n - 1] == vocab.speech_start
    np.testing.assert_array_equal(vocab.id_to_code(np.array(ids[-n:])), prompt_voice.codes)


def test_cloning_returns_only_new_speech(tiny_tts, prompt_voice):
    r = tiny_tts.synthesize("Hello world.", prompt_voice, seed=0, max_new_tokens=20)
    assert len(r.codes) == 20 and len(r.audio) == 20 * 320
    # Decoded after the prompt's last 50 codes (left context), cut at the code boundary.
    ctx = prompt_voice.codes[-50:]
    assert len(prompt_voice.codes) > 50
    full = tiny_tts.codec.decode(np.concatenate([ctx, r.codes]))[0]
    np.testing.assert_array_equal(r.audio, full[50 * 320:])
    alone = tiny_tts.codec.decode(r.codes)[0]
    assert not np.allclose(r.audio, alone, atol=1e-4)  # the context matters to the decoder
    assert r.info["prompt_tokens"] > len(prompt_voice.codes)
    np.testing.assert_array_equal(
        tiny_tts.context_codes(tiny_tts.build_prompt("Hello world.", prompt_voice)), ctx)
    assert len(tiny_tts.context_codes(tiny_tts.build_prompt("Hello world."))) == 0
    no_ctx = Llasa(tiny_tts.lm, tiny_tts.codec, decode_context=0)
    r0 = no_ctx.synthesize("Hello world.", prompt_voice, seed=0, max_new_tokens=20)
    np.testing.assert_array_equal(r0.codes, r.codes)
    np.testing.assert_array_equal(r0.audio, alone)


def test_voice_from_real_speech_file(tiny_codec, speech, tmp_path):
    import soundfile as sf

    wav = speech("A short prompt.")
    sf.write(tmp_path / "p.wav", wav, 16000)
    v = Voice.from_audio(tiny_codec, tmp_path / "p.wav", "A short prompt.")
    assert len(v.codes) == len(wav) // 320 + 1 and v.codebook_size == 65536
    assert len(v.audio) == len(wav)
    w = Voice.load(v.save(tmp_path / "v.npz"))
    np.testing.assert_array_equal(w.codes, v.codes)


def test_voice_trims_long_prompts_with_warning(tiny_codec, speech):
    wav = speech("This sentence is longer than half a second.")
    with pytest.warns(UserWarning, match="keeping the first 0.5 s"):
        v = Voice.from_audio(tiny_codec, wav, "This", max_seconds=0.5)
    assert len(v.audio) == 8000 and len(v.codes) == 26


def test_voice_needs_transcript_or_transcriber(tiny_codec, speech):
    wav = speech("Hello there.")
    with pytest.raises(InputError, match="transcript is empty"):
        Voice.from_audio(tiny_codec, wav, "   ")

    from llasa.verifiers.asr import Transcriber  # the real faster-whisper tiny.en

    v = Voice.from_audio(tiny_codec, wav, None, transcriber=Transcriber(), max_seconds=1.0)
    assert "hello" in v.text.lower()


def test_batch_greedy_equals_one_by_one(chatty_tts):
    texts = ["Hi.", "A much longer sentence to pad against.", "Middle length text."]
    kw = dict(do_sample=False, repetition_penalty=1.3, max_new_tokens=12)
    batch = chatty_tts.synthesize_batch(texts, **kw)
    for t, b in zip(texts, batch):
        one = chatty_tts.synthesize(t, **kw)
        np.testing.assert_array_equal(b.codes, one.codes)
        np.testing.assert_allclose(b.audio, one.audio, atol=1e-5)
        assert b.info["ended"] == one.info["ended"]
    assert len({tuple(b.codes.tolist()) for b in batch}) == 3  # prompts matter: not trivial
    assert len({len(b.codes) for b in batch}) > 1  # rows finish at different steps


def test_batch_with_voice_and_long_text(chatty_tts):
    long = " ".join(f"Sentence {i} is here." for i in range(14))
    res = chatty_tts.synthesize_batch(["Short one.", long], seed=1)
    assert res[0].info["chunks"] == 1 and res[1].info["chunks"] > 1
    with pytest.raises(InputError):
        chatty_tts.synthesize_batch("not a list")
    with pytest.raises(InputError, match="text 1 is empty"):
        chatty_tts.synthesize_batch(["ok", " "])


def test_duration_gives_exact_length(tiny_tts, chatty_tts):
    r = tiny_tts.synthesize("Hello.", duration=0.37, seed=0)
    assert len(r.audio) == round(0.37 * 50) * 320 and r.info["tokens"] == 18
    # A model that ends early is padded with silence to the same exact length.
    r = chatty_tts.synthesize("Hello.", duration=3.0, seed=1, temperature=1.0)
    assert r.info["ended"] and len(r.audio) == 150 * 320
    assert r.info["speech_seconds"] < 3.0 and not r.audio[-320:].any()
    with pytest.raises(BudgetError, match="only"):
        tiny_tts.synthesize("Hello.", duration=60)
    with pytest.raises(InputError):
        tiny_tts.synthesize("Hello.", duration=-1)


def test_bad_input_is_clear(tiny_tts):
    for bad in ("", "  \n "):
        with pytest.raises(InputError, match="empty"):
            tiny_tts.synthesize(bad)
    with pytest.raises(InputError, match="temperature"):
        tiny_tts.synthesize("Hi.", temperature=0)
    with pytest.raises(InputError, match="top_p"):
        tiny_tts.synthesize("Hi.", top_p=1.5)
    with pytest.raises(InputError, match="unknown sampling option"):
        tiny_tts.synthesize("Hi.", temprature=0.5)
    small = Llasa(tiny_tts.lm, tiny_tts.codec, limits=TextLimits(max_chars=10, chunk_chars=10))
    with pytest.raises(InputError, match="over the limit of 10"):
        small.synthesize("x" * 11)


def test_voice_checks(tiny_tts, chatty_tts, prompt_voice):
    other = Voice(text="a", codes=np.array([1, 2]), audio=np.zeros(640), codebook_size=4096)
    with pytest.raises(InputError, match="4096-code codec"):
        tiny_tts.synthesize("Hi.", other)
    with pytest.raises(InputError, match="no speech token"):  # 16-code LM, 65536-code voice
        chatty_tts.synthesize("Hi.", prompt_voice)
    huge = Voice(text="a long prompt", codes=np.ones(2100, np.int64), audio=np.zeros(640),
                 codebook_size=65536)
    with pytest.raises(BudgetError, match="no room"):
        tiny_tts.synthesize("Hi.", huge)


def test_lm_codec_mismatch_and_missing_default(tiny_tts, tmp_path, monkeypatch):
    from llasa.lm.tiny import tiny_lm

    class SmallCodec:  # only the attributes the check reads
        codebook_size, sample_rate = 8, 16000

    with pytest.raises(ModelLoadError, match="do not match"):
        Llasa(tiny_tts.lm, SmallCodec())
    del tiny_lm
    monkeypatch.setenv("LLASA_DEFAULT_MODEL_DIR", str(tmp_path / "none"))  # nothing shipped there
    with pytest.raises(ModelLoadError, match="--lm"):
        Llasa.from_pretrained(codec=str(tmp_path))


def test_from_pretrained_round_trip(tiny_tts, tmp_path):
    tiny_tts.lm.save_pretrained(tmp_path / "lm")
    tiny_tts.codec.save_pretrained(tmp_path / "codec")
    tts = Llasa.from_pretrained(tmp_path / "lm", tmp_path / "codec", device="cpu",
                                decode_only=True, optimize=False)
    assert tts.codec.decode_only and not tts.lm.optimized
    a = tts.synthesize("Round trip.", seed=2, max_new_tokens=10)
    b = tiny_tts.synthesize("Round trip.", seed=2, max_new_tokens=10)
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_allclose(a.audio, b.audio, atol=1e-6)
    with pytest.raises(InputError, match="decode-only"):
        tts.voice_from_audio(np.zeros(16000, np.float32) + 0.1, "text")


def test_should_stop_cancels_synthesis_and_batch_rows(tiny_tts):
    """One function stops synthesize (Cancelled); one function per text drops only that text's
    rows from the batch: empty audio + info["cancelled"], the other text runs to its cap."""
    from llasa._common.errors import Cancelled

    kw = {"do_sample": False, "max_new_tokens": 40}
    with pytest.raises(Cancelled):
        tiny_tts.synthesize("Stop now.", should_stop=lambda: True, **kw)
    asks = []
    keep, gone = tiny_tts.synthesize_batch(
        ["Keep going.", "Leave early."],
        should_stop=[lambda: False, lambda: asks.append(1) or len(asks) >= 5], **kw)
    alone = tiny_tts.synthesize("Keep going.", **kw)
    assert gone.info["cancelled"] and gone.audio.size == 0 and gone.info["tokens"] == 4
    assert not keep.info["cancelled"] and np.array_equal(keep.codes, alone.codes)
    assert keep.audio.size == 320 * 40
    with pytest.raises(Cancelled):
        tiny_tts.synthesize_batch(["A.", "B."], should_stop=[lambda: True] * 2, **kw)


def test_a_phoneme_model_hears_phonemes_of_every_prompt_piece(tiny_codec, prompt_voice):
    # A model trained on espeak-ng phonemes (config.json declares it) gets the target text and
    # the voice's transcript phonemized piece by piece, joined as training joined them.
    from llasa.lm.frontend import FRONTEND_KEY, get_frontend
    from llasa.lm.tiny import tiny_lm

    lm = tiny_lm(codebook_size=65536, seed=0)
    setattr(lm.model.config, FRONTEND_KEY, "espeak:en-us")
    lm.frontend = get_frontend("espeak:en-us")
    tts = Llasa(lm, tiny_codec)
    assert tts.prompt_join == "space"  # as phoneme training joined the pieces
    ipa, tok = lm.frontend, lm.tokenizer
    assert tts.build_prompt("  Hi  there. ") == build_tts_prompt(tok, ipa("Hi there."))
    ids = tts.build_prompt("Hi there.", prompt_voice)
    assert ids == build_tts_prompt(tok, ipa("Hi there."),
                                   prompt_text=ipa(prompt_voice.text) + " ",
                                   prompt_codes=prompt_voice.codes)
    r = tts.synthesize("Hi there.", seed=0, max_new_tokens=5)
    assert r.info["tokens"] == 5
    with pytest.raises(InputError, match="nothing to speak"):
        tts.synthesize("?!", max_new_tokens=5)


def test_a_model_can_recommend_its_sampling(tiny_codec, tmp_path):
    # config.json "llasa_sampling": defaults under the caller's options, never over them
    from llasa.lm import GenerationSettings, LlasaLM
    from llasa.lm.tiny import tiny_lm

    lm = tiny_lm(codebook_size=16, seed=0)
    lm.model.config.llasa_sampling = {"cfg_scale": 2.0, "temperature": 0.6}
    lm.save_pretrained(tmp_path / "lm")
    tts = Llasa(LlasaLM.from_pretrained(tmp_path / "lm"), tiny_codec)
    s = tts.make_settings()
    assert (s.cfg_scale, s.temperature, s.top_k) == (2.0, 0.6, 50)
    assert tts.make_settings(cfg_scale=1.0).cfg_scale == 1.0  # the caller wins
    assert tts.make_settings(GenerationSettings()).cfg_scale == 1.0  # a full settings object too
    assert tts.lm.default_settings().cfg_scale == 2.0
    r = tts.synthesize("Hi there.", seed=0, max_new_tokens=5)
    assert r.info["tokens"] == 5
    for bad, msg in (({"cfg_scale": 0.1}, "cfg_scale"), ({"tempo": 1}, "unknown keys"),
                     ({"seed": 1}, "unknown keys"), ([1], "must be an object")):
        lm.model.config.llasa_sampling = bad
        lm.save_pretrained(tmp_path / "bad")
        with pytest.raises(ModelLoadError, match=msg):
            LlasaLM.from_pretrained(tmp_path / "bad")
    assert Llasa(tiny_lm(codebook_size=16, seed=0), tiny_codec).make_settings() == \
        GenerationSettings()  # a model that declares nothing: the card's defaults
