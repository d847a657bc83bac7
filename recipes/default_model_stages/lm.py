"""The LM's phases: each stage is one ``llasa train lm`` run, most continuing the phase
before (``--init``). The module docstring of ``default_model.py`` lists what each adds.
"""

from __future__ import annotations

import os

from . import common as C
from .common import BIG, OPEN, _lm_data, run


def stage_lm(a) -> None:
    run("train", "lm", "--config", "configs/default/lm.yaml", "--data", str(C.WORK / "prepared"),
        "--max-steps", str(a.lm_steps), "--output-dir", str(C.WORK / "lm"))
    if a.decoder_job is not None:
        if a.decoder_job.wait() != 0:
            raise SystemExit("the decoder stage failed (see its output above)")
        a.decoder_job = None


def stage_lm_small(a) -> None:
    # train-time scaling's second model size (not shipped)
    run("train", "lm", "--config", "configs/default/lm_small.yaml", "--data",
        str(C.WORK / "prepared"), "--max-steps", str(a.lm_steps), "--output-dir",
        str(C.WORK / "lm_small"))


def stage_lm_more(a) -> None:
    # phase 2 of the shipped LM: phase 1 continued on more distinct text (both cores)
    run("train", "lm", "--config", "configs/default/lm_more.yaml", "--data",
        str(C.WORK / BIG / "prepared"), "--init", str(C.WORK / "lm" / "model"), "--max-steps",
        str(a.more_steps), "--output-dir", str(C.WORK / "lm_more"), threads=os.cpu_count() or 1)


def stage_lm_more2(a) -> None:
    # an alternative phase 3 (not shipped): phase 2 continued, same corpus, half the lr
    run("train", "lm", "--config", "configs/default/lm_more2.yaml", "--data",
        str(C.WORK / BIG / "prepared"), "--init", str(C.WORK / "lm_more" / "model"), "--max-steps",
        str(a.more2_steps), "--output-dir", str(C.WORK / "lm_more2"), threads=os.cpu_count() or 1)


def stage_lm_phonemes(a) -> None:
    # phase 3 of the shipped LM: phase 2 continued, reading phonemes instead of letters
    run("train", "lm", "--config", "configs/default/lm_phonemes.yaml", "--data",
        str(C.WORK / BIG / "prepared"), "--init", str(C.WORK / "lm_more" / "model"), "--max-steps",
        str(a.phoneme_steps), "--output-dir", str(C.WORK / "lm_phonemes"),
        threads=os.cpu_count() or 1)


def stage_lm_guided(a) -> None:
    # phase 4: phase 3 continued with items without text (for classifier-free guidance)
    run("train", "lm", "--config", "configs/default/lm_guided.yaml", "--data",
        str(C.WORK / BIG / "prepared"), "--init", str(C.WORK / "lm_phonemes" / "model"),
        "--max-steps", str(a.guided_steps), "--output-dir", str(C.WORK / "lm_guided"),
        threads=os.cpu_count() or 1)


def _open_phase(name: str, init: str, steps: int) -> None:
    run("train", "lm", "--config", f"configs/default/{name}.yaml", "--data",
        str(C.WORK / BIG / "prepared"), str(C.WORK / OPEN / "prepared"), "--init",
        str(C.WORK / init / "model"), "--max-steps", str(steps), "--output-dir", str(C.WORK / name),
        threads=os.cpu_count() or 1)


def stage_lm_open(a) -> None:
    # phase 5: phase 4 continued on the template corpus and the open-text corpus together
    _open_phase("lm_open", "lm_guided", a.open_steps)


def stage_lm_open2(a) -> None:
    # phase 6 (shipped): phase 5 continued on the same data at half the learning rate
    _open_phase("lm_open2", "lm_open", a.open2_steps)


def stage_lm_open3(a) -> None:
    # phase 7 (shipped): phase 6 continued on the same data at half its learning rate again
    _open_phase("lm_open3", "lm_open2", a.open3_steps)


def stage_lm_mixed(a) -> None:
    # phase 8: phase 7 continued on the three corpora; sized for a GPU (batch 32, bf16)
    run("train", "lm", "--config", "configs/default/lm_mixed.yaml", "--data", *_lm_data(),
        "--init", str(C.WORK / "lm_open3" / "model"), "--max-steps", str(a.mixed_steps),
        "--output-dir", str(C.WORK / "lm_mixed"), threads=os.cpu_count() or 1)


def stage_lm_big(a) -> None:
    # a larger LM from scratch on the corpora of phases 5-7 (GPU): the train-time scaling's
    # third size, not shipped
    run("train", "lm", "--config", "configs/default/lm_big.yaml", "--data", *_lm_data()[:2],
        "--max-steps", str(a.big_steps), "--output-dir", str(C.WORK / "lm_big"),
        threads=os.cpu_count() or 1)
