"""Train-time scaling: earlier checkpoints and other LM sizes evaluated like the shipped
LM, and the training compute of each (6 · parameters · tokens).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import common as C
from .common import SHIP, run


def _runs(a) -> list[tuple[str, int, Path]]:
    """(size, step, checkpoint) of every LM the train-time scaling evaluates: the checkpoints of
    the phase-1 LM and of the smaller one (``lm_small``) at the same steps, then the shipped
    LM's later phases (``lm_more``: more distinct text; ``lm_phonemes``: phonemes;
    ``lm_guided``: items without text)."""
    out = []
    for size in ("lm", "lm_small"):
        for step in [*a.train_steps, a.lm_steps]:  # fp32 checkpoints, the last one included
            out.append((size, step, C.WORK / size / "checkpoints" / f"checkpoint-{step}"))
    for step in [*a.more_train_steps, a.more_steps]:
        out.append(("lm_more", step, C.WORK / "lm_more" / "checkpoints" / f"checkpoint-{step}"))
    for step in (1000, a.more2_steps):
        out.append(("lm_more2", step, C.WORK / "lm_more2" / "checkpoints" / f"checkpoint-{step}"))
    for step in [*a.phoneme_train_steps, a.phoneme_steps]:
        out.append(("lm_phonemes", step,
                    C.WORK / "lm_phonemes" / "checkpoints" / f"checkpoint-{step}"))
    out.append(("lm_guided", a.guided_steps,
                C.WORK / "lm_guided" / "checkpoints" / f"checkpoint-{a.guided_steps}"))
    for step in (1500, a.open_steps):
        out.append(("lm_open", step, C.WORK / "lm_open" / "checkpoints" / f"checkpoint-{step}"))
    out.append(("lm_open2", a.open2_steps,
                C.WORK / "lm_open2" / "checkpoints" / f"checkpoint-{a.open2_steps}"))
    out.append(("lm_open3", a.open3_steps,
                C.WORK / "lm_open3" / "checkpoints" / f"checkpoint-{a.open3_steps}"))
    out.append(("lm_mixed", a.mixed_steps,
                C.WORK / "lm_mixed" / "checkpoints" / f"checkpoint-{a.mixed_steps}"))
    out.append(("lm_big", a.big_steps,
                C.WORK / "lm_big" / "checkpoints" / f"checkpoint-{a.big_steps}"))
    return out


def _folder(size: str, name: str, step: int) -> str:
    infix = {"lm": "", "lm_small": "_small", "lm_more": "_more", "lm_more2": "_more2",
             "lm_phonemes": "_ipa", "lm_guided": "_guided", "lm_open": "_open",
             "lm_open2": "_open2", "lm_open3": "_open3", "lm_mixed": "_mixed",
             "lm_big": "_big"}[size]
    return f"tts_{name}{infix}_step{step}"


def train_scaling(a, lists) -> None:
    """The eval stage's plain-TTS and cloning runs on earlier and smaller LMs (same codec)."""
    ev, codec = C.WORK / "eval", str(SHIP / "codec")
    for size, step, ckpt in _runs(a):
        if not ckpt.is_dir():
            print(f"skip: {ckpt} is not there (keep_last in configs/default/{size}.yaml)")
            continue
        for name in ("text", "voice"):
            run("eval", "tts", "--list", str(lists[f"eval_{name}"]), "--lm", str(ckpt),
                "--codec", codec, "--out", str(ev / _folder(size, name, step)), "--seed", "0",
                "--mos", "none", "--device", "cpu")


def train_compute(ckpt: Path, a=None) -> float:
    """Training compute of an LM checkpoint in PFLOP: 6 · parameters · tokens seen (a
    later-phase checkpoint adds the compute of the phases it started from)."""
    from safetensors import safe_open

    tokens = json.loads((ckpt / "trainer_state.json").read_text())["num_input_tokens_seen"]
    with safe_open(str(ckpt / "model.safetensors"), "np") as f:
        params = sum(int(np.prod(f.get_slice(k).get_shape())) for k in f.keys())
    base = 0.0
    prev = {"lm_more": ("lm", "lm_steps"), "lm_more2": ("lm_more", "more_steps"),
            "lm_phonemes": ("lm_more", "more_steps"),
            "lm_guided": ("lm_phonemes", "phoneme_steps"), "lm_open": ("lm_guided", "guided_steps"),
            "lm_open2": ("lm_open", "open_steps"), "lm_open3": ("lm_open2", "open2_steps"),
            "lm_mixed": ("lm_open3", "open3_steps")}
    if a is not None and ckpt.parent.parent.name in prev:
        phase, steps = prev[ckpt.parent.parent.name]
        base = train_compute(C.WORK / phase / "checkpoints" / f"checkpoint-{getattr(a, steps)}", a)
    return base + 6 * params * tokens / 1e15
