"""Text frontends: espeak-ng phonemes (real program), declared in a model's config.json and
applied by LlasaLM to every text of a prompt."""

import subprocess

import pytest

from llasa._common.errors import InputError, ModelLoadError
from llasa.lm import LlasaLM, build_tts_prompt, tiny_lm
from llasa.lm.frontend import FRONTEND_KEY, EspeakPhonemes, _clauses, get_frontend


@pytest.fixture(scope="module")
def ipa():
    return get_frontend("espeak:en-us")


def _espeak(text):
    r = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", "en-us", text],
                       capture_output=True, check=True)
    return " ".join(r.stdout.decode().split())


def test_phonemes_are_espeaks_own_with_clause_punctuation(ipa):
    text = "Did Ben really go to the park on Sunday?"
    out = ipa(text)
    # the very phonemes espeak-ng speaks for the sentence (the corpus voice), plus its mark
    assert out == _espeak(text) + "?"
    assert "ˈ" in out and "park" not in out
    two = ipa("I have 42 apples, and three pears.")
    assert two.count(",") == 1 and two.endswith(".")
    assert "fˈ" in two and "42" not in two  # numbers are read out
    assert two.split(",")[0] == _espeak("I have 42 apples")


def test_batch_equals_single_and_keeps_order(ipa):
    texts = ["Please wait here.", "Hello world", "Please wait here.", "Is it 3.5 metres?"]
    fresh = EspeakPhonemes("en-us")
    assert fresh.batch(texts) == [ipa(t) for t in texts]
    assert fresh.batch(texts)[0] == fresh.batch(texts)[2]
    assert "pɔɪnt" in fresh("Is it 3.5 metres?")  # "3.5" stays one clause: "three point five"
    with pytest.raises(InputError):
        fresh.batch("not a list")


def test_clauses_without_words(ipa):
    assert _clauses("Wait... what?") == [("Wait", "..."), ("what", "?")]
    assert ipa("... hello") == ipa("hello")
    assert ipa("hello ... !") == ipa("hello") + "...!"
    assert ipa("?!") == ""


def test_get_frontend_specs_and_errors(tmp_path):
    assert get_frontend(None) is None and get_frontend("") is None and get_frontend("none") is None
    assert get_frontend("espeak:en-gb").voice == "en-gb"
    with pytest.raises(ModelLoadError, match="unknown text frontend"):
        get_frontend("g2p:en")
    with pytest.raises(ModelLoadError, match="apt-get install espeak-ng"):
        get_frontend("espeak:en-us", program=str(tmp_path / "no-espeak"))
    with pytest.raises(ModelLoadError, match="no voice"):
        get_frontend("espeak:xx-nonexistent")
    with pytest.raises(ModelLoadError, match="bad espeak voice"):
        get_frontend("espeak:en us; rm")


def test_model_declares_its_frontend_and_prompts_use_it(tmp_path, ipa):
    lm = tiny_lm(codebook_size=16, seed=0)
    assert lm.frontend is None  # raw text, as the official checkpoints
    setattr(lm.model.config, FRONTEND_KEY, "espeak:en-us")
    lm.save_pretrained(tmp_path)
    back = LlasaLM.from_pretrained(tmp_path)
    assert back.frontend is not None and back.frontend.name == "espeak:en-us"
    text, ref = "Please wait here.", "Hello world."
    assert back.build_prompt(text) == build_tts_prompt(back.tokenizer, ipa(text))
    got = back.build_prompt(text, prompt_text=ref + " ", prompt_codes=[1, 2])
    assert got == build_tts_prompt(back.tokenizer, ipa(text), prompt_text=ipa(ref) + " ",
                                   prompt_codes=[1, 2])
    assert "wˈeɪt" in back.tokenizer.decode(got)
    with pytest.raises(InputError, match="nothing to speak"):
        back.build_prompt("?!")
    setattr(lm.model.config, FRONTEND_KEY, "nonsense")
    lm.save_pretrained(tmp_path / "bad")
    with pytest.raises(ModelLoadError, match="unknown text frontend"):
        LlasaLM.from_pretrained(tmp_path / "bad")


def test_normalize_frontend_chains_before_espeak(tmp_path, ipa):
    """``normalize:en+espeak:en-us``: written forms are spelled out before espeak-ng reads them
    (espeak alone reads "$45" as "dollar forty-five")."""
    norm = get_frontend("normalize:en")
    assert norm.name == "normalize:en" and norm("It cost $45.") == "It cost forty-five dollars."
    assert norm.batch(["3 cats", "Dr. No"]) == ["three cats", "Doctor No"]
    chain = get_frontend("normalize:en+espeak:en-us")
    assert chain.name == "normalize:en+espeak:en-us"
    assert chain("It cost $45.") == ipa("It cost forty-five dollars.")
    assert chain("It cost $45.") != ipa("It cost $45.")
    assert chain.batch(["3 cats", "Hi."]) == [ipa("three cats"), ipa("Hi.")]
    with pytest.raises(ModelLoadError, match="unknown text frontend"):
        get_frontend("normalize:fr")
    with pytest.raises(InputError, match="list"):
        chain.batch("a text")
    # declared in config.json, it reaches every prompt, the ONNX engine's rule included
    lm = tiny_lm(codebook_size=16, seed=0)
    setattr(lm.model.config, FRONTEND_KEY, "normalize:en")
    lm.save_pretrained(tmp_path)
    back = LlasaLM.from_pretrained(tmp_path)
    assert back.build_prompt("On 3 May.") == build_tts_prompt(back.tokenizer, "On the third of May.")
    from llasa.lm.frontend import apply_frontend
    assert apply_frontend(back.frontend, "2 cats ") == "two cats "
