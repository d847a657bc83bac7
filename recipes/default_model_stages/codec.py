"""Stages that train the codec: end to end from scratch (``codec``), then its decoder on
the frozen encoder's codes (``decoder``, ``decoder_more``; ``recipes/default_codec.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys

from . import common as C
from .common import BIG, OPEN, ROOT, _env, run


def stage_codec(a) -> None:
    # alone on the machine: both cores (mel-only steps, no discriminators)
    run("train", "codec", "--config", "configs/default/codec.yaml", "--data",
        str(C.WORK / "corpus" / "train.jsonl"), "--output-dir", str(C.WORK / "codec"),
        "--max-steps", str(a.codec_steps), threads=os.cpu_count() or 1)


def _decoder_cmd(a) -> list[str]:
    # the encoder stays as trained end to end, so the prepared codes stay valid
    return [sys.executable, str(ROOT / "recipes" / "default_codec.py"),
            str(C.WORK / "codec" / "model"), str(C.WORK / "prepared"),
            str(C.WORK / "codec_decoder"), "--steps", str(a.decoder_steps), "--lr", "5e-4"]


def stage_decoder(a) -> None:
    cmd = _decoder_cmd(a)
    if "lm" in a.todo:  # one core each: the decoder trains beside the LM stage
        print("+ (beside the LM stage) " + " ".join(cmd), flush=True)
        a.decoder_job = subprocess.Popen(cmd, cwd=ROOT, env=_env())
        return
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env=_env())


def stage_decoder_more(a) -> None:
    # the decoder's second phase, on all three prepared corpora: trained on the template
    # corpus alone, it decoded other sentences and the held-out voice poorly (open-text round
    # trip 51 % WER against 28 % for the recordings); the codes stay those the LM learnt
    start = C.WORK / "codec_decoder" / "model"
    cmd = [sys.executable, str(ROOT / "recipes" / "default_codec.py"),
           str(start if start.is_dir() else C.WORK / "codec" / "model"), str(C.WORK / "prepared"),
           str(C.WORK / BIG / "prepared"), str(C.WORK / OPEN / "prepared"),
           str(C.WORK / "codec_decoder2"), "--steps", str(a.decoder_more_steps), "--lr", "2.5e-4",
           "--save-every", "500"]
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env=_env())
