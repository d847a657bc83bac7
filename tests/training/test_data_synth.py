"""The synthetic corpus: real espeak-ng (and Piper) audio, splits, determinism, resume."""

import importlib.util
import json
import os

import numpy as np
import pytest
import soundfile as sf

from llasa._common.errors import InputError
from llasa.training.data.manifest import read_manifest
from llasa.training.data.synth import SynthConfig, plan_corpus, synth_corpus

SMALL = dict(num_utterances=14, num_speakers=6, heldout_speakers=2, eval_text_share=0.25,
             eval_voice_share=0.25, num_sentences=300, heldout_fraction=0.1, workers=1)


def test_plan_respects_heldout_voices_and_sentences():
    cfg = SynthConfig(**{**SMALL, "num_utterances": 400})
    jobs, speakers, train_s, held_s = plan_corpus(cfg)
    assert jobs == plan_corpus(cfg)[0]  # deterministic
    held_voices = {s["name"] for s in speakers if s["heldout"]}
    assert len(held_voices) == 2 and len(speakers) == 6
    by = {k: [j for j in jobs if j.split == k] for k in ("train", "eval_text", "eval_voice")}
    assert all(len(v) > 40 for v in by.values())
    assert all(j.speaker not in held_voices and j.text in train_s for j in by["train"])
    assert all(j.speaker not in held_voices and j.text in held_s for j in by["eval_text"])
    assert all(j.speaker in held_voices and j.text in held_s for j in by["eval_voice"])
    # speed and pitch vary around each speaker's own base
    spk = by["train"][0].speaker
    assert len({(j.speed, j.pitch) for j in jobs if j.speaker == spk}) > 3


def test_corpus_audio_manifest_and_resume(tmp_path):
    cfg = SynthConfig(**SMALL)
    manifest = synth_corpus(cfg, tmp_path)
    entries = read_manifest(manifest)
    assert len(entries) == 14
    info = json.loads((tmp_path / "corpus.json").read_text())
    assert sum(info["counts"].values()) == 14 and info["sample_rate"] == 16000
    for e in entries:
        wav, sr = sf.read(e.audio)
        assert sr == 16000 and wav.ndim == 1 and 0.5 < len(wav) / sr < 15
        assert 0.8 < np.abs(wav).max() <= 0.91  # peak-normalised
        assert e.speaker in e.audio and e.split in ("train", "eval_text", "eval_voice")
    line = json.loads(manifest.read_text().splitlines()[0])
    assert not os.path.isabs(line["audio"])  # the corpus folder can be moved
    assert (tmp_path / "sentences" / "heldout.txt").is_file()

    # resume: remove one file, rerun -> only it is made again; the others are untouched
    victim = entries[3].audio
    mtimes = {e.audio: os.stat(e.audio).st_mtime_ns for e in entries}
    before = sf.read(victim)[0]
    os.remove(victim)
    synth_corpus(cfg, tmp_path)
    assert all(os.stat(a).st_mtime_ns == t for a, t in mtimes.items() if a != victim)
    assert np.allclose(sf.read(victim)[0], before, atol=1e-4)  # deterministic synthesis

    with pytest.raises(InputError, match="other settings"):
        synth_corpus(SynthConfig(**{**SMALL, "seed": 1}), tmp_path)

    # worker processes give the very same corpus
    par = read_manifest(synth_corpus(SynthConfig(**{**SMALL, "workers": 2}), tmp_path / "par"))
    assert [(e.text, e.speaker, e.split) for e in par] == \
        [(e.text, e.speaker, e.split) for e in entries]
    assert all(np.array_equal(sf.read(a.audio)[0], sf.read(b.audio)[0])
               for a, b in zip(par, entries))


def test_bad_settings():
    with pytest.raises(InputError, match="heldout_speakers"):
        SynthConfig(num_speakers=4, heldout_speakers=4)
    with pytest.raises(InputError, match="speed"):
        SynthConfig(speed=(50, 100))
    with pytest.raises(InputError, match="both sentence files"):
        SynthConfig(sentences="a.txt")
    with pytest.raises(InputError, match="num_speakers"):
        SynthConfig(num_speakers=10_000)


def test_unknown_voice_refused(tmp_path):
    with pytest.raises(InputError, match="no voice/variant.*'nosuchvariant'"):
        synth_corpus(SynthConfig(**{**SMALL, "variants": ("m1", "nosuchvariant")}), tmp_path)
    with pytest.raises(InputError, match="bad espeak-ng voice"):
        SynthConfig(accents=("en-us; rm -rf",))


def test_sentence_files_must_be_disjoint(tmp_path):
    (tmp_path / "t.txt").write_text("One.\nTwo.\n")
    (tmp_path / "h.txt").write_text("Two.\n")
    cfg = SynthConfig(**{**SMALL, "sentences": str(tmp_path / "t.txt"),
                         "heldout_sentences": str(tmp_path / "h.txt")})
    with pytest.raises(InputError, match="both the training and the held-out"):
        plan_corpus(cfg)


@pytest.mark.skipif(importlib.util.find_spec("piper") is None,
                    reason="optional Piper voice not installed (pip install piper-tts)")
def test_piper_voice(tmp_path):
    cfg = SynthConfig(**{**SMALL, "num_utterances": 4, "piper_share": 0.9, "eval_voice_share": 0.0})
    entries = read_manifest(synth_corpus(cfg, tmp_path))
    piper = [e for e in entries if e.speaker == "piper-joe"]
    assert piper and all(e.extra["engine"] == "piper" for e in piper)
    for e in piper:  # each file is its own sentence: length grows with the text
        assert sf.info(e.audio).samplerate == 16000
    n_words = np.array([len(e.text.split()) for e in piper])
    secs = np.array([sf.info(e.audio).duration for e in piper])
    if len(piper) > 2 and n_words.std() > 0:
        assert np.corrcoef(n_words, secs)[0, 1] > 0.7
