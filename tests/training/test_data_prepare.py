"""Data preparation with the tiny codec on real espeak-ng speech: codes, filters, resume, ranks.

The kill -9 test runs the real CLI in a subprocess and kills it mid-run.
"""

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
from llasa.training.data.prepare import PrepareConfig, prepare_dataset
from llasa.training.data.shards import CodeShards

SR = 16000
CFG = dict(shard_size=3, max_seconds=6.0, min_seconds=0.3)
GOOD = [("Hello there, how are you today?", "en-us", "anna"),
        ("The train leaves at seven.", "en-gb", "ben"),
        ("Numbers like forty two are fine.", "en-us+f2", "anna"),
        ("Is this a question?", "en-gb-scotland", "carl"),
        ("A short one.", "en-029", None),
        ("Resampled stereo speech at twenty two kilohertz.", "en-us+m3", "ben")]


@pytest.fixture(scope="module")
def codec(tmp_path_factory):
    from llasa.codec import Codec, presets

    c = Codec.from_config(presets.tiny(), seed=0)
    d = tmp_path_factory.mktemp("codec")
    c.save_pretrained(d)
    c.saved_dir = d
    return c


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, speech):
    """Six good utterances (one stereo at 22.05 kHz) and one of each kind of bad input."""
    root = tmp_path_factory.mktemp("corpus")
    rows = []
    for i, (text, voice, spk) in enumerate(GOOD):
        wav = speech(text, voice=voice)
        path = root / f"good{i}.wav"
        if i == len(GOOD) - 1:  # stereo 22.05 kHz: prepare must downmix and resample
            from llasa.audio import resample
            w = resample(wav, SR, 22050)
            sf.write(path, np.stack([w, 0.5 * w], axis=1), 22050)
        else:
            sf.write(path, wav, SR)
        rows.append({"audio": path.name, "text": text, **({"speaker": spk} if spk else {})})
    (root / "broken.wav").write_bytes(b"RIFF not really a wav file")
    (root / "empty.wav").write_bytes(b"")
    sf.write(root / "silent.wav", np.zeros(SR, np.float32), SR)
    sf.write(root / "tiny.wav", speech("Hi.")[: SR // 10], SR)
    long = np.concatenate([speech("This one is far too long for the limit.")] * 4)
    sf.write(root / "long.wav", long, SR)
    rows += [{"audio": "broken.wav", "text": "x"}, {"audio": "empty.wav", "text": "x"},
             {"audio": "silent.wav", "text": "x"}, {"audio": "tiny.wav", "text": "Hi."},
             {"audio": "long.wav", "text": "x"}, {"audio": "good0.wav", "text": "  "},
             {"audio": "missing.wav", "text": "x"}]
    order = [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11, 12]  # interleave good and bad
    with open(root / "manifest.jsonl", "w") as f:
        for k in order:
            f.write(json.dumps(rows[k]) + "\n")
    return root


@pytest.fixture(scope="module")
def reference(codec, corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared")
    res = prepare_dataset(corpus / "manifest.jsonl", out, codec, PrepareConfig(**CFG))
    return out, res


def _items(d):
    return [(u.text, u.codes.tolist(), u.speaker) for u in CodeShards(d)]


def test_codes_texts_speakers_and_report(reference, codec, corpus):
    out, res = reference
    ds = CodeShards(out)
    ds.validate()
    assert res.items == len(ds) == len(GOOD) and res.skipped == 7
    assert res.index["complete"] and res.index["num_items"] == len(GOOD)
    for u, (text, _, spk) in zip(ds, GOOD):
        assert (u.text, u.speaker) == (text, spk)
    # codes are exactly what the codec gives for the file read on its own (mono 16 kHz and
    # the stereo 22.05 kHz one, which prepare downmixes and resamples like load_audio)
    for i in (0, len(GOOD) - 1):
        wav = load_audio(corpus / f"good{i}.wav")
        assert np.array_equal(ds[i].codes, codec.encode(wav)[0])
    assert ds.lengths[-1] > 100  # the resampled stereo file kept its length (~2.5 s)
    report = json.loads((out / "report.json").read_text())
    reasons = {os.path.basename(s["audio"]): s["reason"] for s in report["skipped"]}
    assert reasons["broken.wav"].startswith("unreadable")
    assert reasons["empty.wav"].startswith("unreadable") and "empty" in reasons["empty.wav"]
    assert reasons["missing.wav"].startswith("unreadable") and "not found" in reasons["missing.wav"]
    assert reasons["silent.wav"].startswith("silent")
    assert reasons["tiny.wav"].startswith("too short")
    assert reasons["long.wav"].startswith("too long")
    assert reasons["good0.wav"] == "empty text"


def test_rerun_reuses_shards_and_guards_the_plan(reference, codec, corpus):
    out, first = reference
    again = prepare_dataset(corpus / "manifest.jsonl", out, codec, PrepareConfig(**CFG))
    assert again.shards_written == 0 and again.shards_reused == first.shards_written
    with pytest.raises(InputError, match="different manifest or settings"):
        prepare_dataset(corpus / "manifest.jsonl", out, codec,
                        PrepareConfig(**{**CFG, "min_seconds": 0.5}))


def test_ranks_split_the_work(reference, codec, corpus, tmp_path, monkeypatch):
    # The first 5 rows (3 good, 2 bad) in shards of 1: rank 0 gets shards 0, 2, 4, rank 1
    # gets 1, 3. torchrun's environment decides the rank; rank 0 reads audio with 2 workers.
    rows = (corpus / "manifest.jsonl").read_text().splitlines()[:5]
    (corpus / "head.jsonl").write_text("\n".join(rows) + "\n")
    cfg = {**CFG, "shard_size": 1}
    for rank in (1, 0):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        r = prepare_dataset(corpus / "head.jsonl", tmp_path, codec,
                            PrepareConfig(**cfg, workers=1 + (rank == 0)))
        assert r.shards_written == (3 if rank == 0 else 2)
        assert r.items == (3 if rank == 0 else 0)  # good rows are 0, 2, 4
    metas = [json.loads((p / "meta.json").read_text()) for p in sorted(tmp_path.glob("shard-*"))]
    assert [m["rank"] for m in metas] == [0, 1, 0, 1, 0]
    assert _items(tmp_path) == _items(reference[0])[:3]
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(InputError, match="bad RANK"):
        prepare_dataset(corpus / "manifest.jsonl", tmp_path, codec, PrepareConfig(**CFG))


def test_tokenizer_offsets_and_context_limit(reference, codec, corpus, tmp_path):
    from llasa.lm.prompt import build_tts_prompt
    from llasa.lm.tiny import tiny_tokenizer
    from llasa.training.data.prepare import chat_overhead

    with pytest.raises(InputError, match="do not match"):
        prepare_dataset(corpus / "manifest.jsonl", tmp_path, codec, PrepareConfig(**CFG),
                        tokenizer=tiny_tokenizer(codebook_size=4096))
    tok = tiny_tokenizer(codebook_size=codec.codebook_size)
    # the wrapping is measured from the real prompt: text + wrapping + codes + END + eot
    over = chat_overhead(tok)
    text = "Hello there."
    n_text = len(tok(text, add_special_tokens=False)["input_ids"])
    assert over == len(build_tts_prompt(tok, text)) - n_text + 2
    full = [len(tok(u.text, add_special_tokens=False)["input_ids"]) + len(u.codes) + over
            for u in CodeShards(reference[0])]
    limit = sorted(full)[2]  # exactly the 3 shortest sequences fit
    res = prepare_dataset(corpus / "manifest.jsonl", tmp_path, codec,
                          PrepareConfig(**{**CFG, "max_tokens": limit}), tokenizer=tok)
    ds = CodeShards(tmp_path)
    assert len(ds) == res.items == 3
    report = json.loads((tmp_path / "report.json").read_text())["skipped"]
    assert sum("LM context" in s["reason"] for s in report) == len(GOOD) - 3


def test_vad_trims_silence(codec, speech, tmp_path):
    wav = speech("Trim the silence around me.")
    pad = np.zeros(SR, np.float32)
    sf.write(tmp_path / "p.wav", np.concatenate([pad, wav, pad]), SR)
    (tmp_path / "m.jsonl").write_text(json.dumps({"audio": "p.wav", "text": "Trim."}) + "\n")
    plain = prepare_dataset(tmp_path / "m.jsonl", tmp_path / "a", codec, PrepareConfig())
    vad = prepare_dataset(tmp_path / "m.jsonl", tmp_path / "b", codec, PrepareConfig(vad=True))
    n_plain, n_vad = CodeShards(plain.out_dir).lengths[0], CodeShards(vad.out_dir).lengths[0]
    assert n_plain - n_vad > 80  # ~2 s of padding = 100 codes, minus the VAD's margins
    assert n_vad >= len(wav) // 320 - 40


def test_kill9_then_resume_matches_uninterrupted_run(reference, codec, corpus, tmp_path,
                                                     capsys):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "llasa.cli.main", "data", "prepare",
           str(corpus / "manifest.jsonl"), str(out), "--codec", str(codec.saved_dir),
           "--shard-size", "1", "--max-seconds", "6", "--device", "cpu"]
    env = {**os.environ, "LLASA_QUIET": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if len(list(out.glob("shard-*"))) >= 2:
            break
        time.sleep(0.01)
    assert proc.poll() is None, f"finished before it could be killed: {proc.communicate()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in out.glob("shard-*"))
    assert 2 <= len(done) < 13
    partial = CodeShards(out, allow_incomplete=True)  # every finished shard is readable
    partial.validate()
    with pytest.raises(InputError, match="has not finished"):
        if (out / "index.json").exists():
            CodeShards(out)
        else:  # killed before any index: still refused as incomplete by the rerun below
            raise InputError("has not finished")
    from llasa.cli.main import main

    assert main(["data", "info", str(out)]) == 0  # issue 19: it must say the run is unfinished
    assert "INCOMPLETE" in capsys.readouterr().out
    mtimes = {p: os.stat(out / p / "meta.json").st_mtime_ns for p in done}
    res = prepare_dataset(corpus / "manifest.jsonl", out, codec,
                          PrepareConfig(shard_size=1, max_seconds=6.0))
    assert res.shards_reused == len(done) and res.shards_written == 13 - len(done)
    assert all(os.stat(out / p / "meta.json").st_mtime_ns == t for p, t in mtimes.items())
    assert not list(out.glob(".shard-*"))  # stale temporary folders are gone
    assert _items(out) == _items(reference[0])
    assert json.loads((out / "index.json").read_text())["num_skipped"] == 7


@pytest.mark.slow
def test_torchrun_two_ranks_match_one_process(reference, codec, corpus, tmp_path):
    out = tmp_path / "tr"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", "29517", "-m", "llasa.cli.main", "data", "prepare",
           str(corpus / "manifest.jsonl"), str(out), "--codec", str(codec.saved_dir),
           "--shard-size", "3", "--max-seconds", "6", "--device", "cpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "LLASA_QUIET": "1", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    metas = [json.loads((p / "meta.json").read_text()) for p in sorted(out.glob("shard-*"))]
    assert [m["rank"] for m in metas] == [0, 1, 0, 1, 0]  # shard s belongs to rank s % 2
    assert _items(out) == _items(reference[0])
