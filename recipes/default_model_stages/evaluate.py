"""Stages ``eval`` and ``scaling``: held-out lists, ``llasa eval codec/tts/search`` on
the exported model, and ``runs/default/metrics.json``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from . import common as C
from .common import OPEN, REPORTS, SHIP, _manifest, _summary, run
from .scaling import train_scaling
from .card import write_card
from .plots import plot


def write_lists(limit: int) -> dict[str, Path]:
    """Held-out evaluation lists (JSONL, paths relative to ``runs/default``).

    ``eval_text``: training voices speaking held-out sentences (plain TTS; the recording is the
    ground truth). ``eval_voice``: the held-out voice; each line clones it from the previous
    utterance of that voice (prompt) and speaks a held-out sentence.
    """
    rows = _manifest()
    lists = {}
    text = [r for r in rows if r["split"] == "eval_text"][:limit]
    lists["eval_text"] = C.WORK / "eval_text.jsonl"
    lists["eval_text"].write_text("".join(json.dumps({
        "utt": f"t{i:03d}", "target_text": r["text"],
        "reference_wav": f"corpus/{r['audio']}"}) + "\n" for i, r in enumerate(text)))
    voice = [r for r in rows if r["split"] == "eval_voice"][:limit + 1]
    lists["eval_voice"] = C.WORK / "eval_voice.jsonl"
    lists["eval_voice"].write_text("".join(json.dumps({
        "utt": f"v{i:03d}", "target_text": r["text"], "prompt_text": p["text"],
        "prompt_wav": f"corpus/{p['audio']}", "reference_wav": f"corpus/{r['audio']}"}) + "\n"
        for i, (p, r) in enumerate(zip(voice, voice[1:]))))
    if (path := open_list(limit)) is not None:
        lists["eval_open"] = path
    return lists


def open_list(limit: int) -> Path | None:
    """``eval_open``: training voices speaking held-out open-text sentences (phase 5's corpus:
    any length and shape), the recording as ground truth; None before ``corpus_open`` ran."""
    manifest = C.WORK / OPEN / "corpus" / "manifest.jsonl"
    if not manifest.is_file():
        return None
    rows = [json.loads(x) for x in manifest.read_text().splitlines() if x.strip()]
    text = [r for r in rows if r["split"] == "eval_text"][:limit]
    path = C.WORK / "eval_open.jsonl"
    path.write_text("".join(json.dumps({
        "utt": f"o{i:03d}", "target_text": r["text"],
        "reference_wav": f"{OPEN}/corpus/{r['audio']}"}) + "\n" for i, r in enumerate(text)))
    return path


def stage_eval(a) -> None:
    lists = write_lists(a.eval_limit)
    ev = C.WORK / "eval"
    lm, codec = str(SHIP / "lm"), str(SHIP / "codec")
    for name, path in lists.items():  # ground truth + codec round trip of every recording
        run("eval", "codec", "--list", str(path), "--codec", codec, "--out",
            str(ev / f"codec_{name}"), "--mos", "none")
    # ground truth of the cloning list: the held-out voice's own recordings of the targets,
    # scored like TTS output (SIM-o against the prompt = the same-voice ceiling)
    gt = C.WORK / "gt_voice"
    gt.mkdir(exist_ok=True)
    for line in lists["eval_voice"].read_text().splitlines():
        r = json.loads(line)
        shutil.copyfile(C.WORK / r["reference_wav"], gt / f"{r['utt']}.flac")
    run("eval", "tts", "--list", str(lists["eval_voice"]), "--audio-dir", str(gt), "--codec",
        codec, "--out", str(ev / "gt_voice"), "--mos", "none", "--no-sim-r")
    run("eval", "tts", "--list", str(lists["eval_text"]), "--lm", lm, "--codec", codec,
        "--out", str(ev / "tts_text"), "--seed", "0", "--mos", "none", "--device", "cpu")
    run("eval", "tts", "--list", str(lists["eval_voice"]), "--lm", lm, "--codec", codec,
        "--out", str(ev / "tts_voice"), "--seed", "0", "--mos", "none", "--device", "cpu")
    # the same LM under the official card's sampling (temperature 0.8, no guidance), for
    # comparison with the recommended settings the runs above used (SHIPPED_SAMPLING)
    for seed in (0, 1, 2):
        run("eval", "tts", "--list", str(lists["eval_text"]), "--lm", lm, "--codec", codec,
            "--out", str(ev / f"tts_text_card_seed{seed}"), "--seed", str(seed), "--mos", "none",
            "--device", "cpu", "--temperature", "0.8", "--cfg-scale", "1")
        if seed:
            run("eval", "tts", "--list", str(lists["eval_text"]), "--lm", lm, "--codec", codec,
                "--out", str(ev / f"tts_text_seed{seed}"), "--seed", str(seed), "--mos", "none",
                "--device", "cpu")
        if "eval_open" in lists:  # text unlike the templates, at the model's sampling
            run("eval", "tts", "--list", str(lists["eval_open"]), "--lm", lm, "--codec", codec,
                "--out", str(ev / f"tts_open_seed{seed}"), "--seed", str(seed), "--mos", "none",
                "--device", "cpu")
    write_card(a, collect())


def stage_scaling(a) -> None:
    lists = write_lists(a.eval_limit)
    ev = C.WORK / "eval"
    codec = str(SHIP / "codec")
    run("eval", "search", "--list", str(lists["eval_text"]), "--limit", str(a.scaling_limit),
        "--out", str(ev / "bon_wer"), "--strategies", "best-of-n", "--budgets", "1,2,4,8,16",
        "--verifier", "wer", "--lm", str(SHIP / "lm"), "--codec", codec, "--seed", "0",
        "--mos", "none", "--device", "cpu")
    run("eval", "search", "--list", str(lists["eval_voice"]), "--limit", str(a.scaling_limit),
        "--out", str(ev / "bon_sim"), "--strategies", "best-of-n", "--budgets", "1,2,4,8",
        "--verifier", "sim", "--lm", str(SHIP / "lm"), "--codec", codec, "--seed", "0",
        "--mos", "none", "--device", "cpu")
    run("eval", "search", "--list", str(lists["eval_voice"]), "--limit", str(a.scaling_limit),
        "--out", str(ev / "beam_hybrid"), "--strategies", "beam,hybrid", "--budgets", "1,2,4",
        "--verifier", "sim", "--lm", str(SHIP / "lm"), "--codec", codec, "--seed", "0",
        "--mos", "none", "--device", "cpu")
    REPORTS.mkdir(exist_ok=True)
    shutil.copyfile(ev / "beam_hybrid" / "scaling_sim_o.png",
                    REPORTS / "default_beam_hybrid_sim_o.png")
    train_scaling(a, lists)
    write_card(a, collect())
    plot(a)


def collect() -> dict:
    """All measured numbers in one file: ``runs/default/metrics.json``."""
    ev, out = C.WORK / "eval", {}
    for folder in sorted(p for p in ev.iterdir() if (p / "summary.json").is_file()):
        m = _summary(folder)["metrics"]
        out[folder.name] = {k: v.get("mean") for k, v in m.items() if isinstance(v, dict)}
    pools = {"tts_text_3seeds": ["tts_text", "tts_text_seed1", "tts_text_seed2"],
             "tts_text_card_3seeds": [f"tts_text_card_seed{k}" for k in range(3)],
             "tts_open_3seeds": [f"tts_open_seed{k}" for k in range(3)]}
    for name, folders in pools.items():  # per-utterance WER pooled over seeds, ± s.e.
        files = [ev / f / "results.jsonl" for f in folders]
        if all(f.is_file() for f in files):
            w = np.array([json.loads(x)["wer"] for f in files
                          for x in f.read_text().splitlines() if x.strip()])
            out[name] = {"wer": float(w.mean()), "wer_se": float(w.std(ddof=1) / np.sqrt(len(w))),
                         "n": int(len(w))}
    (C.WORK / "metrics.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return out
