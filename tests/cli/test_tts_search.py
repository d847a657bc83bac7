"""`llasa tts --search/--verifier/--scores-json` and voice-prompt auto-transcription, run for
real on a tiny LM + codec saved to disk with the bundled verifiers."""

import json

import numpy as np
import pytest
import soundfile as sf

from llasa.cli.main import main


@pytest.fixture(scope="module")
def models(tiny_model_args):
    return tiny_model_args  # the shared tiny LM + codec on disk (tests/conftest.py)


@pytest.fixture(scope="module")
def prompt_wav(tmp_path_factory, speech):
    p = tmp_path_factory.mktemp("voice") / "me.wav"
    sf.write(p, speech("Hello, this is my voice."), 16000)
    return p


def _run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_best_of_n_writes_winner_and_scores_json(models, prompt_wav, tmp_path, capsys):
    out, js = tmp_path / "best.wav", tmp_path / "scores.json"
    rc, so, se = _run(capsys, "tts", "Hello there.", "-o", str(out), *models, "--seed", "1",
                      "--max-new-tokens", "20", "--voice-audio", str(prompt_wav),
                      "--voice-text", "Hello, this is my voice.", "--search", "best-of-n:3",
                      "--verifier", "sim", "--scores-json", str(js))
    assert rc == 0, se
    data = json.loads(js.read_text())
    sims = [c["scores"]["sim"] for c in data["candidates"]]
    assert data["strategy"] == "best-of-n:3" and len(sims) == 3
    assert data["chosen"] == int(np.argmax(sims)) and data["scores"]["sim"] == max(sims)
    assert data["compute"]["lm_tokens"] == 60 and data["compute"]["verifier_calls"] == 1
    assert len(sf.read(out)[0]) == 20 * 320
    assert "best-of-n:3: candidate" in so and "scores: sim=" in so
    assert "1 verifier call (" in so  # not "1 verifier calls"


def test_plain_output_reports_scores_and_transcribes_prompt(models, prompt_wav, tmp_path,
                                                            capsys):
    js = tmp_path / "s.json"
    rc, so, se = _run(capsys, "tts", "Hello there.", "-o", str(tmp_path / "p.wav"), *models,
                      "--seed", "1", "--max-new-tokens", "20", "--voice-audio", str(prompt_wav),
                      "--verifier", "sim", "--verifier", "mos", "--scores-json", str(js))
    assert rc == 0, se
    assert "transcribed the voice prompt: 'Hello, this is my voice.'" in so
    scores = json.loads(js.read_text())["scores"]
    assert set(scores) == {"sim", "mos", "0.5*sim+0.5*mos"}
    assert 0 <= scores["sim"] <= 1 and 1 <= scores["mos"] <= 5


@pytest.mark.parametrize("argv,msg", [
    (["--search", "magic:3"], "unknown search strategy 'magic'"),
    (["--search", "beam:2x2"], "give --voice or --voice-audio"),
    (["--verifier", "sim"], "give --voice or --voice-audio"),
    (["--search", "best-of-n:2", "--verifier", "nope"], "unknown verifier 'nope'"),
    (["--search", "threshold:wer>=0.1"], "lower-is-better: write wer<=0.1"),
    (["--search", "best-of-n:2", "--stream"], "cannot be combined with --stream"),
    (["--search", "best-of-n:2", "--duration", "1"], "duration cannot be combined with search"),
    (["--scores-json", "x.json"], "--scores-json needs --verifier or --search"),
])
def test_search_errors_before_loading_models(argv, msg, capsys):
    # no --lm/--codec: a model load would fail differently, so these are caught first
    rc, so, se = _run(capsys, "tts", "hi", "-o", "x.wav", *argv)
    assert rc == 2 and msg in se and "Traceback" not in se, se
