"""TTS evaluation end to end on a tiny real LM + codec, the --audio-dir mode on real speech,
and resume after a real interrupted run (a subprocess killed mid-way)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from llasa._common.errors import InputError
from llasa.audio import load_audio
from llasa.eval.harness import evaluate_audio_dir, evaluate_tts, llasa_synthesizer

from .conftest import MAX_NEW_TOKENS, TINY_LIST


def test_tts_eval_with_tiny_model(eval_tts, tiny_items, judges, tmp_path):
    from llasa.lm.sampling import GenerationSettings

    items = tiny_items[:3]
    synth = llasa_synthesizer(eval_tts, GenerationSettings(seed=0, max_new_tokens=MAX_NEW_TOKENS))
    s = evaluate_tts(synth, items, tmp_path, judges, codec=eval_tts.codec, batch_size=2,
                     system={"lm": "tiny"})
    recs = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["utt"] for r in recs] == [it.utt for it in items]
    for r in recs:
        assert 0 < r["tokens"] <= MAX_NEW_TOKENS and r["prompt_tokens"] > 0
        assert r["seconds"] == pytest.approx(r["tokens"] * 320 / 16000)  # only new speech
        # a random-weight LM says nothing intelligible: WER is high, SIM low
        assert r["wer"] >= 0.5 and r["wer_ref_len"] > 0
        assert 0 <= r["sim_o"] <= 1 and 1 <= r["mos"] <= 5
        wav, sr = sf.read(tmp_path / "wavs" / f"{r['utt']}.wav", dtype="float32")
        assert sr == 16000 and len(wav) == r["tokens"] * 320
        # SIM-o is against the prompt, SIM-r against the codec's resynthesis of the prompt
        item = next(it for it in items if it.utt == r["utt"])
        prompt = load_audio(item.prompt_wav)
        assert r["sim_o"] == pytest.approx(judges.similarity([wav], prompt)[0], abs=1e-6)
        resynth = eval_tts.codec.decode(eval_tts.codec.encode(prompt)[0])[0]
        if np.any(resynth):
            assert r["sim_r"] == pytest.approx(judges.similarity([wav], resynth)[0], abs=1e-4)
        else:  # a silent resynthesis cannot be embedded: null + reason, never a made-up value
            assert r["sim_r"] is None and "silent" in r["sim_r_error"]
    assert s["num_utterances"] == 3 and s["metrics"]["wer"]["n"] == 3
    assert s["system"] == {"lm": "tiny"} and "tiny.en" in s["judges"]["asr"]
    assert (tmp_path / "summary.md").read_text().startswith("# llasa eval tts: 3 utterances")
    assert (tmp_path / "metrics.png").read_bytes()[:4] == b"\x89PNG"


def test_audio_dir_scores_ground_truth_and_resamples(tiny_items, judges, tmp_path):
    # Another system's outputs at 24 kHz: the harness resamples them to the judges' 16 kHz.
    peer = tmp_path / "peer"
    peer.mkdir()
    import soxr

    for it in tiny_items:
        wav, sr = sf.read(it.reference_wav, dtype="float32")
        sf.write(peer / f"{it.utt}.wav", soxr.resample(wav, sr, 24000), 24000)
    s = evaluate_audio_dir(peer, tiny_items, tmp_path / "out", judges)
    m = s["metrics"]
    assert m["wer"]["n"] == 6 and m["wer"]["mean"] < 0.35  # real speech of the right words
    assert m["sim_o"]["mean"] > 0.7  # same espeak voice as the prompt
    assert "sim_r" not in m  # no codec given: SIM-r is skipped, not faked
    assert s["system"]["audio_dir"] == str(peer.resolve())


def test_audio_dir_resume_refuses_another_system(tiny_items, judges, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        for it in tiny_items[:2]:
            sf.write(d / f"{it.utt}.wav", *sf.read(it.reference_wav, dtype="float32"))
    evaluate_audio_dir(a, tiny_items[:2], tmp_path / "out", judges)
    before = (tmp_path / "out" / "results.jsonl").read_text()
    evaluate_audio_dir(a, tiny_items[:2], tmp_path / "out", judges)  # same system: resumes
    with pytest.raises(InputError, match="holds results of another run.*audio_dir"):
        evaluate_audio_dir(b, tiny_items[:2], tmp_path / "out", judges)
    assert (tmp_path / "out" / "results.jsonl").read_text() == before


def test_audio_dir_missing_files_are_listed(tiny_items, judges, tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(InputError, match=r"6 of 6 utterances have no audio .*tiny_00"):
        evaluate_audio_dir(tmp_path / "a", tiny_items, tmp_path / "o", judges)


@pytest.mark.parametrize("kill_after", [2])
def test_resume_after_killed_run(eval_model_dir, tmp_path, kill_after):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "llasa.cli", "eval", "tts", "--list", str(TINY_LIST),
           "--out", str(out), "--lm", str(eval_model_dir / "lm"),
           "--codec", str(eval_model_dir / "codec"), "--device", "cpu", "--seed", "0",
           "--max-new-tokens", str(MAX_NEW_TOKENS), "--batch-size", "1", "--limit", "4",
           "--sim", "none", "--mos", "none"]
    env = {**os.environ, "LLASA_QUIET": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and len(results.read_text().splitlines()) >= kill_after:
            proc.send_signal(signal.SIGKILL)  # no chance to clean up: a real crash
            break
        time.sleep(0.02)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    first = results.read_text().splitlines()
    assert kill_after <= len(first) < 4
    done = [json.loads(x)["utt"] for x in first]
    stamps = {u: (out / "wavs" / f"{u}.wav").stat().st_mtime_ns for u in done}

    # resumed with the same model under another spelling of its path: the same run
    respelled = [f"{a}/." if a == str(eval_model_dir / "lm") else a for a in cmd]
    rerun = subprocess.run(respelled, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    lines = results.read_text().splitlines()
    assert lines[: len(first)] == first  # finished utterances were not redone
    assert sorted(json.loads(x)["utt"] for x in lines) == [f"tiny_0{i}" for i in range(4)]
    for u, t in stamps.items():
        assert (out / "wavs" / f"{u}.wav").stat().st_mtime_ns == t  # nor resynthesised
    summary = json.loads((out / "summary.json").read_text())
    assert summary["num_utterances"] == 4 and "WER" in rerun.stdout
    assert json.loads((out / "run.json").read_text())["lm_weights"] == \
        summary["system"]["lm_weights"]
    # the same folder with other sampling settings: refused, nothing lost or mixed
    other = [*cmd[:cmd.index("--seed") + 1], "1", *cmd[cmd.index("--seed") + 2:]]
    bad = subprocess.run(other, env=env, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "holds results of another run" in bad.stderr
    assert "settings" in bad.stderr and "Traceback" not in bad.stderr
    assert results.read_text().splitlines() == lines


def test_cross_voice_batch_equals_one_by_one_synthesis(eval_tts, tiny_items):
    """Two lines with different voice prompts share one LM batch; with greedy decoding each
    output equals what ``tts.synthesize`` gives for that line alone."""
    from llasa.lm.sampling import GenerationSettings
    from llasa.tts.voices import Voice

    settings = GenerationSettings(do_sample=False, max_new_tokens=20)
    items = tiny_items[:2]
    batched = llasa_synthesizer(eval_tts, settings)(items)
    for it, (audio, info) in zip(items, batched):
        voice = Voice.from_audio(eval_tts.codec, it.prompt_wav, it.prompt_text)
        alone = eval_tts.synthesize(it.target_text, voice, settings=settings)
        assert info["tokens"] == alone.info["tokens"]
        np.testing.assert_allclose(audio, alone.audio, atol=1e-5)


def test_a_run_recorded_before_a_new_setting_existed_still_resumes(tmp_path):
    # run.json written before cfg_scale existed: the run used its default, so it is the same
    # run; a different value of it is not
    import json
    from dataclasses import asdict

    from llasa.eval.harness import check_same_run
    from llasa.lm.sampling import GenerationSettings

    now = {"lm": "x", "settings": asdict(GenerationSettings(seed=0))}
    old = {"lm": "x", "settings": {k: v for k, v in now["settings"].items() if k != "cfg_scale"}}
    (tmp_path / "run.json").write_text(json.dumps(old))
    check_same_run(tmp_path, now)
    guided = {"lm": "x", "settings": asdict(GenerationSettings(seed=0, cfg_scale=2.0))}
    with pytest.raises(InputError, match="another run.*settings"):
        check_same_run(tmp_path, guided)
