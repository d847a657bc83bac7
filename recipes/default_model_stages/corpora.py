"""Stages that make speech corpora (espeak-ng via ``llasa data synth-corpus``) and
prepare their codes with the frozen phase-1 encoder (``llasa data prepare``).
"""

from __future__ import annotations

import json
from pathlib import Path

from . import common as C
from .common import (BIG, MAX_OPEN_WORDS, MAX_WORDS, MIXED, OPEN, ROOT, VOICES, _manifest,
                     _prepare_train_split, _short_sentences, _synth_training_voices, run, run_ranks)


def stage_corpus(a) -> None:
    C.WORK.mkdir(parents=True, exist_ok=True)
    for name in ("train", "heldout"):
        lines = (ROOT / "data" / "sentences" / f"{name}.txt").read_text().splitlines()
        short = [s for s in lines if 0 < len(s.split()) <= MAX_WORDS]
        (C.WORK / f"{name}_sentences.txt").write_text("\n".join(short) + "\n")
    run("data", "synth-corpus", str(C.WORK / "corpus"), "--accents", "en-us", "--variants", VOICES,
        "--speakers", "4", "--heldout-speakers", "1", "--utterances", str(a.utterances),
        "--sentences", str(C.WORK / "train_sentences.txt"),
        "--heldout-sentences", str(C.WORK / "heldout_sentences.txt"), "--workers", "2",
        "--seed", "0")
    rows = _manifest()
    # the codec trains on the train split only: held-out voices stay unheard
    (C.WORK / "corpus" / "train.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows if r["split"] == "train"))


def stage_prepare(a) -> None:
    run_ranks("data", "prepare", str(C.WORK / "corpus" / "manifest.jsonl"),
              str(C.WORK / "prepared"),
              "--codec", str(C.WORK / "codec" / "model"), "--split", "train", "--workers", "1",
              "--device", "cpu")


def stage_corpus_more(a) -> None:
    # the same generator with a larger count: a superset of data/sentences/train.txt, and the
    # held-out split is by text hash, so no held-out sentence enters it
    big = C.WORK / BIG
    run("data", "sentences", str(big / "sentences"), "--count", str(a.more_sentences),
        "--seed", "0")
    _short_sentences(big / "sentences" / "train.txt", big / "train_sentences.txt")
    _synth_training_voices(big, a.more_utterances, C.WORK / "heldout_sentences.txt", 0, seed=1)


def stage_prepare_more(a) -> None:
    _prepare_train_split(C.WORK / BIG)


def stage_corpus_open(a) -> None:
    # open text (llasa data sentences --style open): other sentence shapes and lengths than
    # the 16 templates, spoken by the training voices; a few held-out sentences are spoken too,
    # as the ground truth of the open-text evaluation
    op = C.WORK / OPEN
    run("data", "sentences", str(op / "sentences"), "--count", str(a.open_sentences),
        "--seed", "0", "--style", "open")
    for name in ("train", "heldout"):
        _short_sentences(op / "sentences" / f"{name}.txt", op / f"{name}_sentences.txt",
                         MAX_OPEN_WORDS)
    _synth_training_voices(op, a.open_utterances, op / "heldout_sentences.txt", 0.01, seed=2)


def stage_prepare_open(a) -> None:
    _prepare_train_split(C.WORK / OPEN)


def _unheard_sentences(src: Path, dst: Path) -> int:
    """``src``'s sentences of at most MAX_OPEN_WORDS words that no earlier corpus spoke and
    no held-out file or eval list holds, in order, without repeats → ``dst``; their count."""
    used: set[str] = set()
    for folder in (C.WORK, C.WORK / BIG, C.WORK / OPEN):
        manifest = folder / "corpus" / "manifest.jsonl"
        if manifest.is_file():
            used.update(json.loads(x)["text"].strip() for x in manifest.read_text().splitlines()
                        if x.strip())
    for f in C.WORK.rglob("heldout*.txt"):
        used.update(x.strip() for x in f.read_text().splitlines())
    for f in C.WORK.glob("eval_*.jsonl"):
        used.update(json.loads(x)["target_text"].strip() for x in f.read_text().splitlines()
                    if x.strip())
    keep = [s for s in dict.fromkeys(x.strip() for x in src.read_text().splitlines())
            if s and len(s.split()) <= MAX_OPEN_WORDS and s not in used]
    dst.write_text("\n".join(keep) + "\n")
    return len(keep)


def stage_corpus_mixed(a) -> None:
    # phase 8's corpus: only new sentences, templates and open text evenly. Phases 1-7 heard
    # 14 407 distinct sentences; a larger LM trained on them alone (lm_big) spoke training
    # sentences in place of the asked ones
    mixed = C.WORK / MIXED
    run("data", "sentences", str(mixed / "sentences"), "--count", str(a.mixed_sentences),
        "--seed", "7", "--style", "mixed")
    n = _unheard_sentences(mixed / "sentences" / "train.txt", mixed / "train_sentences.txt")
    print(f"{n} unheard sentences", flush=True)
    _synth_training_voices(mixed, a.mixed_utterances, C.WORK / OPEN / "heldout_sentences.txt", 0,
                           seed=3, sentences=a.mixed_utterances)


def stage_prepare_mixed(a) -> None:
    _prepare_train_split(C.WORK / MIXED)
