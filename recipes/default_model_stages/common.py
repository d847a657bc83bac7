"""Shared by every stage: paths, corpus constants, running ``llasa`` commands, the
shipped phases and which model of each kind is exported.

``WORK`` (the run folder) is set once by ``default_model.main``; stages read it as
``C.WORK`` so that ``--work`` reaches them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "runs" / "default"  # set by default_model.main (--work)
SHIP = ROOT / "src" / "llasa" / "models" / "default"
REPORTS = ROOT / "reports"
STAGES = ("corpus", "codec", "prepare", "decoder", "lm", "lm_small", "corpus_more",
          "prepare_more", "lm_more", "lm_more2", "lm_phonemes", "lm_guided", "corpus_open",
          "prepare_open", "decoder_more", "lm_open", "lm_open2", "lm_open3", "corpus_mixed",
          "prepare_mixed", "lm_mixed", "lm_big", "export", "eval", "scaling")
# measured, not shipped, and a day on a CPU: runs only when named in --stages
OPT_IN = ("lm_big",)
MAX_WORDS = 9  # short sentences: intelligibility first for a model trained in minutes
VOICES = "m1,edward,m7,max"  # en-us variants; the corpus holds out one (max) for cloning
TRAIN_VOICES = "m1,edward,m7"
BIG = "big"  # runs/default/big: the LM's second-phase corpus (more distinct sentences)
OPEN = "open"  # runs/default/open: open text from the phrase grammar (phase 5)
MIXED = "open2"  # runs/default/open2: new sentences of both styles (phase 8, on a GPU)
OPEN_PHASES = ("lm_open2", "lm_open3", "lm_mixed")  # shipped phases that read open text
MAX_OPEN_WORDS = 12  # a cloning pair of two such utterances still fits data.max_length
# The shipped LM's recommended sampling (config.json llasa_sampling; callers' options win),
# chosen on the held-out sentences: see docs/default_model.md, "Sampling the shipped LM".
SHIPPED_SAMPLING = {"temperature": 0.5}
# Long text: each chunk prompted by the voice alone (config.json llasa_long_text). Trained on
# one or two short sentences per sequence, the LM drifts off the voice when the previous chunk
# is carried (docs/tts.md, "Long text").
SHIPPED_LONG_TEXT = {"carry": False}


# the shipped LM's phases, last first: the last one that has run is exported. lm_more2 and
# lm_big were measured and not shipped; lm_open (phase 5) is only a step towards lm_open2.
PHASES = ("lm_mixed", "lm_open3", "lm_open2", "lm_guided", "lm_phonemes", "lm_more", "lm")


def _env(threads: int = 1) -> dict:
    n = str(threads)
    return {**os.environ, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false"}


def run(*args: str, threads: int = 1) -> None:
    """Run ``python -m llasa.cli.main ARGS`` with ``threads`` torch threads; stop on failure."""
    cmd = [sys.executable, "-m", "llasa.cli.main", *args]
    print("+ llasa " + " ".join(args), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env=_env(threads))


def run_ranks(*args: str) -> None:
    """``run`` as one process per core with torchrun's RANK / WORLD_SIZE, for ``llasa data
    prepare`` (each rank takes every n-th shard; measured 2× the one-process rate here)."""
    n = os.cpu_count() or 1
    cmd = [sys.executable, "-m", "llasa.cli.main", *args]
    print(f"+ (ranks 0..{n - 1}) llasa " + " ".join(args), flush=True)
    jobs = [subprocess.Popen(cmd, cwd=ROOT, env={**_env(), "RANK": str(r), "WORLD_SIZE": str(n)})
            for r in range(n)]
    if any(j.wait() != 0 for j in jobs):
        raise SystemExit("a prepare rank failed (see its output above)")


def _short_sentences(src: Path, dst: Path, max_words: int = MAX_WORDS) -> None:
    lines = src.read_text().splitlines()
    dst.write_text("\n".join(s for s in lines if 0 < len(s.split()) <= max_words) + "\n")


def _synth_training_voices(folder: Path, utterances: int, heldout: Path, eval_text: float,
                           seed: int, sentences: int | None = None) -> None:
    """``folder/train_sentences.txt`` spoken by the training voices into ``folder/corpus``
    (no held-out voice; ``eval_text``: share spoken from ``heldout``, never trained on)."""
    run("data", "synth-corpus", str(folder / "corpus"), "--accents", "en-us", "--variants",
        TRAIN_VOICES, "--speakers", "3", "--heldout-speakers", "0", "--eval-text-share",
        str(eval_text), "--eval-voice-share", "0", "--utterances", str(utterances),
        "--sentences", str(folder / "train_sentences.txt"), "--heldout-sentences",
        str(heldout), "--workers", "2", "--seed", str(seed),
        *(["--num-sentences", str(sentences)] if sentences else []))


def _prepare_train_split(folder: Path) -> None:
    """``folder/corpus``'s train split → codes of the frozen phase-1 encoder (a rank a core)."""
    run_ranks("data", "prepare", str(folder / "corpus" / "manifest.jsonl"),
              str(folder / "prepared"), "--codec", str(WORK / "codec" / "model"),
              "--split", "train", "--workers", "1", "--device", "cpu")


# ----------------------------------------------------------------------------- evaluation
def _manifest() -> list[dict]:
    lines = (WORK / "corpus" / "manifest.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _lm_data() -> list[str]:
    return [str(WORK / d / "prepared") for d in (BIG, OPEN, MIXED)]


def _final_lm() -> Path:
    """The LM that is shipped: the last phase that has run."""
    for phase in PHASES:
        if (WORK / phase / "model").is_dir():
            return WORK / phase / "model"
    return WORK / "lm" / "model"


def _final_codec() -> Path:
    """The codec that is shipped: the last decoder phase that has run (same encoder in all)."""
    for folder in ("codec_decoder2", "codec_decoder", "codec"):
        if (WORK / folder / "model").is_dir():
            return WORK / folder / "model"
    return WORK / "codec" / "model"


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())
