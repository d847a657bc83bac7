"""Natural-voice corpus (issue 18): every engine synthesises for real, Kokoro voices mix, the
plan keeps held-out voices and held-out text out of training, and a run resumes."""

import json
import os

import numpy as np
import pytest

from llasa._common.errors import InputError
from llasa.training.data import engines as E
from llasa.training.data.natural import NaturalConfig, plan, speaker_table, synth_natural

TEXT = "Please close the door."


def _need(engine):
    why = E.missing(engine)
    if why:
        pytest.skip(why + " (scripts/install.sh installs it)")


@pytest.fixture(scope="module")
def asr():
    from llasa.verifiers.asr import Transcriber

    return Transcriber()


@pytest.mark.parametrize("engine", E.ENGINES)
def test_each_engine_speaks_intelligibly(engine, asr):
    _need(engine)
    voice = E.voices(engine)[0]
    wav, sr = E.synthesize(engine, voice, TEXT, 1.0)
    assert wav.dtype == np.float32 and wav.ndim == 1 and sr >= 16000
    assert 0.6 < len(wav) / sr < 5 and np.abs(wav).max() > 0.05
    from llasa.audio import resample
    from llasa.verifiers.text import wer

    hyp = asr.transcribe([resample(wav, sr, 16000)], language="en")[0]
    assert wer(TEXT, hyp) <= 0.25, (engine, hyp)
    if engine == "piper":  # its duration noise moves the length by ~6 %; 0 makes it repeatable
        [(wav, _)], [(fast, _)] = E.piper([TEXT], 1.0, noise_w=0), E.piper([TEXT], 1.25, noise_w=0)
    else:
        fast, _ = E.synthesize(engine, voice, TEXT, 1.25)  # speed changes the duration
    assert len(fast) < 0.95 * len(wav)


def test_kokoro_mixes_are_weighted_style_means():
    _need("kokoro")
    a, b = E.kokoro_style("af_heart"), E.kokoro_style("af_bella")
    assert a.shape == (510, 1, 256)
    np.testing.assert_allclose(E.kokoro_style("af_heart*0.7+af_bella"), 0.7 * a + 0.3 * b,
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match="no Kokoro voice"):
        E.kokoro_style("af_nobody")
    assert len(E.voices("kokoro")) == 28  # af/am/bf/bm of kokoro-js 1.2.1
    assert os.environ.get("ORT_DISABLE_TELEMETRY") == "1"


def test_engine_errors_are_clear():
    with pytest.raises(InputError, match="unknown engine"):
        E.synthesize("sam", "x", TEXT)
    with pytest.raises(InputError, match="unknown flite voice"):
        E.flite("nobody", TEXT)
    with pytest.raises(InputError, match="speed"):
        E.synthesize("espeak", "en-us", TEXT, 3.0)
    with pytest.raises(InputError, match="unknown engine"):
        NaturalConfig(engine_shares={"sam": 1.0})
    with pytest.raises(InputError, match="engine:voice"):
        NaturalConfig(heldout_voices=("af_river",))


def test_plan_keeps_heldout_voices_and_text_out_of_training():
    _need("kokoro")
    cfg = NaturalConfig(num_utterances=400, eval_text_share=0.1, eval_voice_share=0.1)
    jobs, table = plan(cfg)
    assert plan(cfg)[0] == jobs  # reproducible
    held = {tuple(s.split(":", 1)) for s in cfg.heldout_voices}
    mixes = [v for v in table["kokoro"] if "+" in v]
    assert len(mixes) == cfg.kokoro_mixes
    for m in mixes:  # a mix joins two training voices of one accent
        (a, _), (b, _) = E._kokoro_parts(m)
        assert a[0] == b[0] and ("kokoro", a) not in held and ("kokoro", b) not in held
    from llasa.training.data.textlists import read_lists

    held_text = {s for s, _ in read_lists(cfg.text_dir or __import__(
        "llasa.training.data.natural", fromlist=["TEXT_DIR"]).TEXT_DIR, "heldout")}
    for j in jobs:
        if j.split == "train":
            assert (j.engine, j.voice) not in held and j.text not in held_text
        else:
            assert j.text in held_text
        if j.split == "eval_voice":
            assert (j.engine, j.voice) in held
    engines = {j.engine for j in jobs if j.split == "train"}
    assert engines == set(E.ENGINES)
    kokoro = sum(j.engine == "kokoro" for j in jobs if j.split != "eval_voice")
    assert 0.45 < kokoro / sum(j.split != "eval_voice" for j in jobs) < 0.75  # share 0.6
    assert {j.speed for j in jobs} <= {0.9, 0.95, 1.0, 1.05, 1.1}


def test_corpus_is_written_resumed_and_guarded(tmp_path):
    for e in ("flite", "espeak"):
        _need(e)
    cfg = NaturalConfig(num_utterances=6, engine_shares={"flite": 1, "espeak": 1},
                        eval_text_share=0.2, eval_voice_share=0.2,
                        heldout_voices=("flite:slt",), workers=2, chunk=2)
    out = tmp_path / "c"
    manifest = synth_natural(cfg, out)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(rows) == 6 and all((out / r["audio"]).is_file() for r in rows)
    assert {"spoken", "engine", "voice", "speed", "source", "seconds"} <= set(rows[0])
    info = json.loads((out / "corpus.json").read_text())
    assert sum(info["counts"].values()) == 6 and info["heldout_voices"] == ["flite:slt"]
    first = out / rows[0]["audio"]
    stamp = {r["audio"]: (out / r["audio"]).stat().st_mtime_ns for r in rows[1:]}
    first.unlink()
    synth_natural(cfg, out)  # resumes: only the missing file is made again
    assert first.is_file()
    assert all((out / a).stat().st_mtime_ns == t for a, t in stamp.items())
    with pytest.raises(InputError, match="other settings"):
        synth_natural(NaturalConfig(num_utterances=7, engine_shares={"flite": 1, "espeak": 1},
                                    heldout_voices=("flite:slt",)), out)


def test_speaker_table_refuses_an_engine_without_voices():
    with pytest.raises(InputError, match="no training voice"):
        speaker_table(NaturalConfig(engine_shares={"piper": 1}, heldout_voices=("piper:joe",)),
                      np.random.default_rng(0))


def test_cli_synth_corpus_engines_and_text_lists(tmp_path, capsys):
    from llasa.cli.main import main

    for e in ("flite", "espeak"):
        _need(e)
    out = tmp_path / "nat"
    assert main(["data", "synth-corpus", str(out), "--engine", "flite,espeak",
                 "--engine-shares", "1,3", "--utterances", "3", "--eval-text-share", "0.3",
                 "--eval-voice-share", "0", "--heldout-voices", "", "--speed-range",
                 "0.95,1.05", "--workers", "1", "--text-sources", "wordnet"]) == 0
    assert "3 utterances" in capsys.readouterr().out
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert {r["engine"] for r in rows} <= {"flite", "espeak"}
    assert {r["source"] for r in rows} == {"wordnet"}
    assert main(["data", "synth-corpus", str(tmp_path / "x"), "--engine", "flite,espeak",
                 "--engine-shares", "1"]) == 2
    assert "one share per --engine" in capsys.readouterr().err
    assert main(["data", "synth-corpus", str(tmp_path / "x"), "--engine", "sam"]) == 2
    assert "unknown engine" in capsys.readouterr().err
    assert main(["data", "text-lists", str(tmp_path / "t"), "--sources", "wordnet,nope"]) == 2
    assert "unknown text source" in capsys.readouterr().err


def test_rebuilt_sentence_lists_are_not_mixed_into_a_resumed_corpus(tmp_path):
    _need("espeak")
    from llasa.training.data.natural import TEXT_DIR

    lists = tmp_path / "lists"
    lists.mkdir()
    for f in TEXT_DIR.iterdir():
        (lists / f.name).write_text(f.read_text())
    cfg = NaturalConfig(num_utterances=2, engine_shares={"espeak": 1}, eval_text_share=0,
                        eval_voice_share=0, heldout_voices=(), text_dir=str(lists), workers=1)
    synth_natural(cfg, tmp_path / "c")
    for train in lists.glob("*.train.txt"):  # same settings, other sentences
        train.write_text(train.read_text().replace("e", "E"))
    with pytest.raises(InputError, match="other settings"):
        synth_natural(cfg, tmp_path / "c")


def test_eval_lists_from_a_natural_corpus(tmp_path):
    from llasa.eval.testsets import load_list
    from llasa.training.data.eval_lists import natural_eval_lists
    from llasa.training.data.natural import TEXT_DIR
    from llasa.training.data.textlists import read_lists

    held = read_lists(TEXT_DIR, "heldout", ["fortunes-heldout", "numbers"])
    rows = []
    for i, (text, src) in enumerate(held[:60]):
        split = "eval_voice" if i % 3 == 0 else "eval_text"
        spk = f"kokoro-af_river{i % 2}" if split == "eval_voice" else "espeak-en-us_m1"
        audio = tmp_path / "audio" / spk / f"{i:03d}.flac"  # a folder per voice
        audio.parent.mkdir(parents=True, exist_ok=True)
        audio.write_bytes(b"x")
        rows.append({"audio": str(audio), "text": text, "speaker": spk, "split": split,
                     "source": src})
    held_num = read_lists(TEXT_DIR, "heldout", ["numbers"])[:6]
    for j, (text, src) in enumerate(held_num):
        audio = tmp_path / "audio" / f"n{j}.flac"
        audio.write_bytes(b"x")  # flite-slt
        rows.append({"audio": str(audio), "text": text, "speaker": "flite-slt",
                     "split": "eval_text", "source": src})
    man = tmp_path / "manifest.jsonl"
    man.write_text("".join(json.dumps(r) + "\n" for r in rows))
    paths = natural_eval_lists(man, tmp_path / "lists", paragraphs=3)
    assert set(paths) == {"eval_text", "eval_numbers", "eval_voice", "eval_long"}
    items = {k: load_list(p) for k, p in paths.items()}  # valid lists for llasa eval tts
    assert len(items["eval_text"]) == sum(r["split"] == "eval_text" for r in rows)
    assert len(items["eval_numbers"]) >= 6
    for it in items["eval_voice"]:  # cloning prompt and target: one held-out voice
        assert it.prompt_wav.parent == it.reference_wav.parent and it.prompt_text
    assert items["eval_long"] and all(260 <= len(it.target_text) <= 340
                                      for it in items["eval_long"])
    with pytest.raises(InputError, match="no eval_text"):
        one = tmp_path / "train.jsonl"
        one.write_text(json.dumps({**rows[0], "split": "train"}) + "\n")
        natural_eval_lists(one, tmp_path / "x")


def test_voices_restrict_an_engines_training_voices():
    """--voices: only the named voices of an engine train (the ones a codec heard); the
    held-out voice still speaks eval_voice alone."""
    cfg = NaturalConfig(engine_shares={"espeak": 1}, num_utterances=60, eval_voice_share=0.2,
                        voices=("espeak:en-us+m1", "espeak:en-us+edward"),
                        heldout_voices=("espeak:en-us+max",))
    jobs, table = plan(cfg)
    assert table == {"espeak": ["en-us+m1", "en-us+edward"]}
    assert {j.voice for j in jobs if j.split == "train"} <= {"en-us+m1", "en-us+edward"}
    assert {j.voice for j in jobs if j.split == "eval_voice"} == {"en-us+max"}
    with pytest.raises(InputError, match="engine:voice"):
        NaturalConfig(voices=("en-us+m1",))
