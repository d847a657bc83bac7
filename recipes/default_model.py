#!/usr/bin/env python
"""Reproduce the model shipped in ``src/llasa/models/default`` from scratch, in one command.

    python recipes/default_model.py                      # every stage but lm_big, in order
    python recipes/default_model.py --stages eval,scaling  # only some stages
    python recipes/default_model.py --codec-steps 3000 --decoder-steps 12000 --lm-steps 2000

Stages (each is a plain ``llasa`` command, printed before it runs, and each resumes when run
again, so an interrupted recipe is continued by running the same command):

1. ``corpus``  – sentences of at most 9 words from ``data/sentences`` → ``llasa data
   synth-corpus`` (espeak-ng, en-us voices m1 / edward / m7 for training, ``max`` held out).
2. ``codec``   – ``llasa train codec --config configs/default/codec.yaml``: the small X-codec2
   trained end to end from scratch (mel loss, FSQ-bound penalty against the one-code collapse).
3. ``prepare`` – ``llasa data prepare`` of the train split with that codec's (now frozen) encoder.
4. ``decoder`` – ``recipes/default_codec.py``: more decoder training on the frozen encoder's
   codes (the codes, and so the LM's data, do not change). Runs beside ``lm`` when both are
   asked for, one core each.
5. ``lm``      – ``llasa train lm --config configs/default/lm.yaml``.
   ``lm_small`` – the same at hidden 128 / 4 layers (``configs/default/lm_small.yaml``), for
   the train-time scaling plot only.
   ``corpus_more`` / ``prepare_more`` / ``lm_more`` – the LM's second phase: 30 000 generated
   sentences (those of at most 9 words: 8 446) → 10 000 utterances of the training voices
   (``runs/default/big``), prepared with the same frozen encoder, and the phase-1 LM continued
   on them (``configs/default/lm_more.yaml``). Phase 1 memorised its 1 304 sentences.
   ``lm_more2`` – an alternative third phase, measured and not shipped: phase 2 continued for
   2 000 steps at half the learning rate, still reading letters
   (``configs/default/lm_more2.yaml``).
   ``lm_phonemes`` – the LM's third phase: phase 2 continued on the same corpus reading
   espeak-ng phonemes instead of letters (``configs/default/lm_phonemes.yaml``,
   ``data.text_frontend: espeak:en-us``, saved into the model so inference phonemizes too).
   ``lm_guided`` – the fourth phase: phase 3 continued with a tenth of extra items without
   text (``configs/default/lm_guided.yaml``, ``data.unconditional: 0.1``), the unconditional
   half that classifier-free guidance (``--cfg-scale``) contrasts with.
   ``corpus_open`` / ``prepare_open`` / ``lm_open`` / ``lm_open2`` / ``lm_open3`` – the
   fifth to seventh phases: open text (``llasa data sentences --style open``, sentences of 1
   to 12 words) spoken by the training voices (``runs/default/open``; its held-out sentences
   are the ``eval_open`` list), phase 4 continued on both corpora read as one
   (``configs/default/lm_open.yaml``), then the same at half the learning rate
   (``configs/default/lm_open2.yaml``), then the same at a quarter of it
   (``configs/default/lm_open3.yaml``).
   ``corpus_mixed`` / ``prepare_mixed`` / ``lm_mixed`` – the eighth phase (shipped): sentences
   no earlier corpus spoke (``llasa data sentences --style mixed``), spoken by the training
   voices (``runs/default/open2``), and phase 7 continued on the three corpora together
   (``configs/default/lm_mixed.yaml``: batch 32, made for a GPU; about 3 min on an H100,
   hours on a CPU).
   ``lm_big`` – a 19.4 M-parameter LM from scratch on phases 5-7's corpora
   (``configs/default/lm_big.yaml``, GPU), measured for train-time scaling and not shipped;
   it runs only when named in ``--stages``.
   ``decoder_more`` – the decoder's second phase (``recipes/default_codec.py`` again, from
   the ``decoder`` stage's codec), on the codes of all three training corpora; exported in
   place of the first one when it has run.
6. ``export``  – codec and LM saved as fp16 safetensors (transformers layout) into
   ``src/llasa/models/default/{codec,lm}``; ``Llasa.from_pretrained()`` loads them.
7. ``eval``    – held-out lists, then ``llasa eval codec`` (ground truth + reconstruction),
   ``llasa eval tts`` (plain TTS on held-out sentences, cloning of the held-out voice).
8. ``scaling`` – best-of-N / beam / hybrid search against compute; earlier checkpoints of both
   LM sizes against training compute; ``reports/default_*.png``, ``runs/default/metrics.json``.

Every torch process runs with one thread (``OMP_NUM_THREADS=1``) unless it runs alone: on a
small shared CPU, two processes each spinning two threads made a codec step 25× slower
(measured: 64 s vs 2.5 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "runs" / "default"
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


def stage_corpus(a) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    for name in ("train", "heldout"):
        lines = (ROOT / "data" / "sentences" / f"{name}.txt").read_text().splitlines()
        short = [s for s in lines if 0 < len(s.split()) <= MAX_WORDS]
        (WORK / f"{name}_sentences.txt").write_text("\n".join(short) + "\n")
    run("data", "synth-corpus", str(WORK / "corpus"), "--accents", "en-us", "--variants", VOICES,
        "--speakers", "4", "--heldout-speakers", "1", "--utterances", str(a.utterances),
        "--sentences", str(WORK / "train_sentences.txt"),
        "--heldout-sentences", str(WORK / "heldout_sentences.txt"), "--workers", "2",
        "--seed", "0")
    rows = _manifest()
    # the codec trains on the train split only: held-out voices stay unheard
    (WORK / "corpus" / "train.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows if r["split"] == "train"))


def stage_codec(a) -> None:
    # alone on the machine: both cores (mel-only steps, no discriminators)
    run("train", "codec", "--config", "configs/default/codec.yaml", "--data",
        str(WORK / "corpus" / "train.jsonl"), "--output-dir", str(WORK / "codec"),
        "--max-steps", str(a.codec_steps), threads=os.cpu_count() or 1)


def stage_prepare(a) -> None:
    run_ranks("data", "prepare", str(WORK / "corpus" / "manifest.jsonl"), str(WORK / "prepared"),
              "--codec", str(WORK / "codec" / "model"), "--split", "train", "--workers", "1",
              "--device", "cpu")


def _decoder_cmd(a) -> list[str]:
    # the encoder stays as trained end to end, so the prepared codes stay valid
    return [sys.executable, str(ROOT / "recipes" / "default_codec.py"),
            str(WORK / "codec" / "model"), str(WORK / "prepared"),
            str(WORK / "codec_decoder"), "--steps", str(a.decoder_steps), "--lr", "5e-4"]


def stage_decoder(a) -> None:
    cmd = _decoder_cmd(a)
    if "lm" in a.todo:  # one core each: the decoder trains beside the LM stage
        print("+ (beside the LM stage) " + " ".join(cmd), flush=True)
        a.decoder_job = subprocess.Popen(cmd, cwd=ROOT, env=_env())
        return
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env=_env())


def stage_lm(a) -> None:
    run("train", "lm", "--config", "configs/default/lm.yaml", "--data", str(WORK / "prepared"),
        "--max-steps", str(a.lm_steps), "--output-dir", str(WORK / "lm"))
    if a.decoder_job is not None:
        if a.decoder_job.wait() != 0:
            raise SystemExit("the decoder stage failed (see its output above)")
        a.decoder_job = None


def stage_lm_small(a) -> None:
    # train-time scaling's second model size (not shipped)
    run("train", "lm", "--config", "configs/default/lm_small.yaml", "--data",
        str(WORK / "prepared"), "--max-steps", str(a.lm_steps), "--output-dir",
        str(WORK / "lm_small"))


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


def stage_corpus_more(a) -> None:
    # the same generator with a larger count: a superset of data/sentences/train.txt, and the
    # held-out split is by text hash, so no held-out sentence enters it
    big = WORK / BIG
    run("data", "sentences", str(big / "sentences"), "--count", str(a.more_sentences),
        "--seed", "0")
    _short_sentences(big / "sentences" / "train.txt", big / "train_sentences.txt")
    _synth_training_voices(big, a.more_utterances, WORK / "heldout_sentences.txt", 0, seed=1)


def stage_prepare_more(a) -> None:
    _prepare_train_split(WORK / BIG)


def stage_lm_more(a) -> None:
    # phase 2 of the shipped LM: phase 1 continued on more distinct text (both cores)
    run("train", "lm", "--config", "configs/default/lm_more.yaml", "--data",
        str(WORK / BIG / "prepared"), "--init", str(WORK / "lm" / "model"), "--max-steps",
        str(a.more_steps), "--output-dir", str(WORK / "lm_more"), threads=os.cpu_count() or 1)


def stage_lm_more2(a) -> None:
    # an alternative phase 3 (not shipped): phase 2 continued, same corpus, half the lr
    run("train", "lm", "--config", "configs/default/lm_more2.yaml", "--data",
        str(WORK / BIG / "prepared"), "--init", str(WORK / "lm_more" / "model"), "--max-steps",
        str(a.more2_steps), "--output-dir", str(WORK / "lm_more2"), threads=os.cpu_count() or 1)


def stage_lm_phonemes(a) -> None:
    # phase 3 of the shipped LM: phase 2 continued, reading phonemes instead of letters
    run("train", "lm", "--config", "configs/default/lm_phonemes.yaml", "--data",
        str(WORK / BIG / "prepared"), "--init", str(WORK / "lm_more" / "model"), "--max-steps",
        str(a.phoneme_steps), "--output-dir", str(WORK / "lm_phonemes"),
        threads=os.cpu_count() or 1)


def stage_lm_guided(a) -> None:
    # phase 4: phase 3 continued with items without text (for classifier-free guidance)
    run("train", "lm", "--config", "configs/default/lm_guided.yaml", "--data",
        str(WORK / BIG / "prepared"), "--init", str(WORK / "lm_phonemes" / "model"),
        "--max-steps", str(a.guided_steps), "--output-dir", str(WORK / "lm_guided"),
        threads=os.cpu_count() or 1)


def stage_corpus_open(a) -> None:
    # open text (llasa data sentences --style open): other sentence shapes and lengths than
    # the 16 templates, spoken by the training voices; a few held-out sentences are spoken too,
    # as the ground truth of the open-text evaluation
    op = WORK / OPEN
    run("data", "sentences", str(op / "sentences"), "--count", str(a.open_sentences),
        "--seed", "0", "--style", "open")
    for name in ("train", "heldout"):
        _short_sentences(op / "sentences" / f"{name}.txt", op / f"{name}_sentences.txt",
                         MAX_OPEN_WORDS)
    _synth_training_voices(op, a.open_utterances, op / "heldout_sentences.txt", 0.01, seed=2)


def stage_prepare_open(a) -> None:
    _prepare_train_split(WORK / OPEN)


def stage_decoder_more(a) -> None:
    # the decoder's second phase, on all three prepared corpora: trained on the template
    # corpus alone, it decoded other sentences and the held-out voice poorly (open-text round
    # trip 51 % WER against 28 % for the recordings); the codes stay those the LM learnt
    start = WORK / "codec_decoder" / "model"
    cmd = [sys.executable, str(ROOT / "recipes" / "default_codec.py"),
           str(start if start.is_dir() else WORK / "codec" / "model"), str(WORK / "prepared"),
           str(WORK / BIG / "prepared"), str(WORK / OPEN / "prepared"),
           str(WORK / "codec_decoder2"), "--steps", str(a.decoder_more_steps), "--lr", "2.5e-4",
           "--save-every", "500"]
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env=_env())


def _open_phase(name: str, init: str, steps: int) -> None:
    run("train", "lm", "--config", f"configs/default/{name}.yaml", "--data",
        str(WORK / BIG / "prepared"), str(WORK / OPEN / "prepared"), "--init",
        str(WORK / init / "model"), "--max-steps", str(steps), "--output-dir", str(WORK / name),
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


def _unheard_sentences(src: Path, dst: Path) -> int:
    """``src``'s sentences of at most MAX_OPEN_WORDS words that no earlier corpus spoke and
    no held-out file or eval list holds, in order, without repeats → ``dst``; their count."""
    used: set[str] = set()
    for folder in (WORK, WORK / BIG, WORK / OPEN):
        manifest = folder / "corpus" / "manifest.jsonl"
        if manifest.is_file():
            used.update(json.loads(x)["text"].strip() for x in manifest.read_text().splitlines()
                        if x.strip())
    for f in WORK.rglob("heldout*.txt"):
        used.update(x.strip() for x in f.read_text().splitlines())
    for f in WORK.glob("eval_*.jsonl"):
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
    mixed = WORK / MIXED
    run("data", "sentences", str(mixed / "sentences"), "--count", str(a.mixed_sentences),
        "--seed", "7", "--style", "mixed")
    n = _unheard_sentences(mixed / "sentences" / "train.txt", mixed / "train_sentences.txt")
    print(f"{n} unheard sentences", flush=True)
    _synth_training_voices(mixed, a.mixed_utterances, WORK / OPEN / "heldout_sentences.txt", 0,
                           seed=3, sentences=a.mixed_utterances)


def stage_prepare_mixed(a) -> None:
    _prepare_train_split(WORK / MIXED)


def _lm_data() -> list[str]:
    return [str(WORK / d / "prepared") for d in (BIG, OPEN, MIXED)]


def stage_lm_mixed(a) -> None:
    # phase 8: phase 7 continued on the three corpora; sized for a GPU (batch 32, bf16)
    run("train", "lm", "--config", "configs/default/lm_mixed.yaml", "--data", *_lm_data(),
        "--init", str(WORK / "lm_open3" / "model"), "--max-steps", str(a.mixed_steps),
        "--output-dir", str(WORK / "lm_mixed"), threads=os.cpu_count() or 1)


def stage_lm_big(a) -> None:
    # a larger LM from scratch on the corpora of phases 5-7 (GPU): the train-time scaling's
    # third size, not shipped
    run("train", "lm", "--config", "configs/default/lm_big.yaml", "--data", *_lm_data()[:2],
        "--max-steps", str(a.big_steps), "--output-dir", str(WORK / "lm_big"),
        threads=os.cpu_count() or 1)


# the shipped LM's phases, last first: the last one that has run is exported. lm_more2 and
# lm_big were measured and not shipped; lm_open (phase 5) is only a step towards lm_open2.
PHASES = ("lm_mixed", "lm_open3", "lm_open2", "lm_guided", "lm_phonemes", "lm_more", "lm")


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


def export_codec() -> None:
    import torch
    from transformers import Xcodec2Model

    shutil.rmtree(SHIP / "codec", ignore_errors=True)
    codec = Xcodec2Model.from_pretrained(str(_final_codec()))
    codec.to(torch.float16).save_pretrained(str(SHIP / "codec"), safe_serialization=True)
    _package(SHIP / "codec")


def export_lm() -> None:
    import torch
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

    shutil.rmtree(SHIP / "lm", ignore_errors=True)
    lm = LlamaForCausalLM.from_pretrained(str(_final_lm()))
    lm.config.use_cache = True
    lm.config.llasa_sampling = dict(SHIPPED_SAMPLING)
    lm.config.llasa_long_text = dict(SHIPPED_LONG_TEXT)
    lm.to(torch.float16).save_pretrained(str(SHIP / "lm"), safe_serialization=True)
    tok = PreTrainedTokenizerFast.from_pretrained(str(_final_lm()))
    tok.init_kwargs.pop("local_files_only", None)  # a loading flag, not part of the model
    tok.save_pretrained(str(SHIP / "lm"))
    _package(SHIP / "lm")


def _package(folder: Path) -> None:
    for junk in folder.rglob("training_args.bin"):
        junk.unlink()
    # a package, so that setuptools' package-data ships the files in a wheel
    (folder / "__init__.py").write_text('"""Shipped weights (data only)."""\n')


def stage_export(a) -> None:
    export_codec()
    export_lm()
    total = sum(p.stat().st_size for p in SHIP.rglob("*") if p.is_file())
    print(f"exported to {SHIP}: {total / 1e6:.1f} MB")


# ----------------------------------------------------------------------------- evaluation
def _manifest() -> list[dict]:
    lines = (WORK / "corpus" / "manifest.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def write_lists(limit: int) -> dict[str, Path]:
    """Held-out evaluation lists (JSONL, paths relative to ``runs/default``).

    ``eval_text``: training voices speaking held-out sentences (plain TTS; the recording is the
    ground truth). ``eval_voice``: the held-out voice; each line clones it from the previous
    utterance of that voice (prompt) and speaks a held-out sentence.
    """
    rows = _manifest()
    lists = {}
    text = [r for r in rows if r["split"] == "eval_text"][:limit]
    lists["eval_text"] = WORK / "eval_text.jsonl"
    lists["eval_text"].write_text("".join(json.dumps({
        "utt": f"t{i:03d}", "target_text": r["text"],
        "reference_wav": f"corpus/{r['audio']}"}) + "\n" for i, r in enumerate(text)))
    voice = [r for r in rows if r["split"] == "eval_voice"][:limit + 1]
    lists["eval_voice"] = WORK / "eval_voice.jsonl"
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
    manifest = WORK / OPEN / "corpus" / "manifest.jsonl"
    if not manifest.is_file():
        return None
    rows = [json.loads(x) for x in manifest.read_text().splitlines() if x.strip()]
    text = [r for r in rows if r["split"] == "eval_text"][:limit]
    path = WORK / "eval_open.jsonl"
    path.write_text("".join(json.dumps({
        "utt": f"o{i:03d}", "target_text": r["text"],
        "reference_wav": f"{OPEN}/corpus/{r['audio']}"}) + "\n" for i, r in enumerate(text)))
    return path


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def stage_eval(a) -> None:
    lists = write_lists(a.eval_limit)
    ev = WORK / "eval"
    lm, codec = str(SHIP / "lm"), str(SHIP / "codec")
    for name, path in lists.items():  # ground truth + codec round trip of every recording
        run("eval", "codec", "--list", str(path), "--codec", codec, "--out",
            str(ev / f"codec_{name}"), "--mos", "none")
    # ground truth of the cloning list: the held-out voice's own recordings of the targets,
    # scored like TTS output (SIM-o against the prompt = the same-voice ceiling)
    gt = WORK / "gt_voice"
    gt.mkdir(exist_ok=True)
    for line in lists["eval_voice"].read_text().splitlines():
        r = json.loads(line)
        shutil.copyfile(WORK / r["reference_wav"], gt / f"{r['utt']}.flac")
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
    ev = WORK / "eval"
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


def _runs(a) -> list[tuple[str, int, Path]]:
    """(size, step, checkpoint) of every LM the train-time scaling evaluates: the checkpoints of
    the phase-1 LM and of the smaller one (``lm_small``) at the same steps, then the shipped
    LM's later phases (``lm_more``: more distinct text; ``lm_phonemes``: phonemes;
    ``lm_guided``: items without text)."""
    out = []
    for size in ("lm", "lm_small"):
        for step in [*a.train_steps, a.lm_steps]:  # fp32 checkpoints, the last one included
            out.append((size, step, WORK / size / "checkpoints" / f"checkpoint-{step}"))
    for step in [*a.more_train_steps, a.more_steps]:
        out.append(("lm_more", step, WORK / "lm_more" / "checkpoints" / f"checkpoint-{step}"))
    for step in (1000, a.more2_steps):
        out.append(("lm_more2", step, WORK / "lm_more2" / "checkpoints" / f"checkpoint-{step}"))
    for step in [*a.phoneme_train_steps, a.phoneme_steps]:
        out.append(("lm_phonemes", step,
                    WORK / "lm_phonemes" / "checkpoints" / f"checkpoint-{step}"))
    out.append(("lm_guided", a.guided_steps,
                WORK / "lm_guided" / "checkpoints" / f"checkpoint-{a.guided_steps}"))
    for step in (1500, a.open_steps):
        out.append(("lm_open", step, WORK / "lm_open" / "checkpoints" / f"checkpoint-{step}"))
    out.append(("lm_open2", a.open2_steps,
                WORK / "lm_open2" / "checkpoints" / f"checkpoint-{a.open2_steps}"))
    out.append(("lm_open3", a.open3_steps,
                WORK / "lm_open3" / "checkpoints" / f"checkpoint-{a.open3_steps}"))
    out.append(("lm_mixed", a.mixed_steps,
                WORK / "lm_mixed" / "checkpoints" / f"checkpoint-{a.mixed_steps}"))
    out.append(("lm_big", a.big_steps,
                WORK / "lm_big" / "checkpoints" / f"checkpoint-{a.big_steps}"))
    return out


def _folder(size: str, name: str, step: int) -> str:
    infix = {"lm": "", "lm_small": "_small", "lm_more": "_more", "lm_more2": "_more2",
             "lm_phonemes": "_ipa", "lm_guided": "_guided", "lm_open": "_open",
             "lm_open2": "_open2", "lm_open3": "_open3", "lm_mixed": "_mixed",
             "lm_big": "_big"}[size]
    return f"tts_{name}{infix}_step{step}"


def train_scaling(a, lists) -> None:
    """The eval stage's plain-TTS and cloning runs on earlier and smaller LMs (same codec)."""
    ev, codec = WORK / "eval", str(SHIP / "codec")
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
        base = train_compute(WORK / phase / "checkpoints" / f"checkpoint-{getattr(a, steps)}", a)
    return base + 6 * params * tokens / 1e15


def collect() -> dict:
    """All measured numbers in one file: ``runs/default/metrics.json``."""
    ev, out = WORK / "eval", {}
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
    (WORK / "metrics.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return out


def write_card(a, metrics: dict) -> None:
    """MODEL_CARD.md beside the shipped weights, from the measured numbers (no hand edits)."""
    def f(run, key):
        v = metrics.get(run, {}).get(key)
        if not isinstance(v, (int, float)):
            return "–"
        return f"{100 * v:.0f}" if key.startswith("wer") else f"{v:.2f}"  # WER: a fraction

    import yaml

    codec_cfg = yaml.safe_load((ROOT / "configs" / "default" / "codec.yaml").read_text())
    lm_cfg = yaml.safe_load((ROOT / "configs" / "default" / "lm.yaml").read_text())
    cc, lt = codec_cfg["model"]["config"], lm_cfg["model"]["tiny"]
    codes = 1
    for n in cc["quantization_levels"]:
        codes *= n
    total = sum(p.stat().st_size for p in SHIP.rglob("*.safetensors"))
    corpus = json.loads((WORK / "corpus" / "corpus.json").read_text())
    counts = corpus.get("counts", {})
    lines = [
        "# llasa default model (tiny, trained from scratch on synthetic speech)", "",
        "The model `Llasa.from_pretrained()` and `llasa tts TEXT -o out.wav` load when no model "
        "is named. It is a demonstration of the full Llasa recipe at toy scale, trained in "
        "about 7 hours on a 2-core CPU"
        + (" and 3 minutes on one GPU (its last LM phase)" if _final_lm().parent.name ==
           "lm_mixed" else "")
        + "; it is not a substitute for `HKUSTAudio/Llasa-1B` + `HKUSTAudio/xcodec2`.", "",
        "Reproduce it: `python recipes/default_model.py` (every number below comes from "
        "`runs/default/metrics.json`, written by that script).", "",
        "## Model", "",
        f"* `codec/`: X-codec2 architecture (transformers `Xcodec2Model`), hidden "
        f"{cc['hidden_size']}, {cc['num_hidden_layers']} decoder layers, FSQ "
        f"{'×'.join(map(str, cc['quantization_levels']))} = {codes} codes, 50 codes/s, 16 kHz. "
        f"Trained end to end from scratch for {a.codec_steps} steps (batch "
        f"{codec_cfg['data']['batch_size']} × {codec_cfg['data']['crop_seconds']} s crops, "
        "multi-scale mel loss + FSQ-bound penalty, `configs/default/codec.yaml`), then its "
        f"decoder alone for {a.decoder_steps} more steps on the frozen encoder's codes "
        "(`recipes/default_codec.py`)"
        + (f", and {a.decoder_more_steps} more on the codes of all three training corpora "
           "(template sentences, more sentences, open text), which made it decode other "
           "sentences and the held-out voice much better (stage `decoder_more`)."
           if _final_codec().parent.name == "codec_decoder2" else "."),
        f"* `lm/`: Llama (transformers `LlamaForCausalLM`), hidden {lt['hidden_size']}, "
        f"{lt['num_layers']} layers, byte-level tokenizer + Llasa tokens + {codes} speech "
        f"tokens, official prompt format; {a.lm_steps} steps of batch {lm_cfg['batch_size']}, "
        f"a share of {lm_cfg['data'].get('clone_pairs', 0)} extra sequences joining two "
        "utterances of one speaker (the cloning layout); `configs/default/lm.yaml`"
        + (f"; then {a.more_steps} more steps on a corpus with more distinct sentences "
           "(`configs/default/lm_more.yaml`)" if (WORK / "lm_more" / "model").is_dir()
           else "")
        + (f"; then {a.phoneme_steps} more steps on that corpus reading espeak-ng phonemes "
           "instead of letters (`configs/default/lm_phonemes.yaml`; the model's config.json "
           "declares `llasa_text_frontend: espeak:en-us`, so it needs espeak-ng at inference)."
           if (WORK / "lm_phonemes" / "model").is_dir() else ".")
        + (f" Then {a.guided_steps} steps with a tenth of extra items without text "
           "(`configs/default/lm_guided.yaml`), which classifier-free guidance (`--cfg-scale`) "
           "needs; guidance did not lower its WER, so it is not a default."
           if (WORK / "lm_guided" / "model").is_dir() else "")
        + (_open_phases_line(a) if _final_lm().parent.name in OPEN_PHASES else ""),
        f"* Sampling: `lm/config.json` recommends {_sampling_label()} (`llasa_sampling`); "
        "options a caller passes win. `cfg_scale` is classifier-free guidance on the text "
        "(two LM rows per sampled token).",
        f"* fp16 safetensors, {total / 1e6:.1f} MB in all.", "",
        "## Data", "",
        f"espeak-ng, en-us accent, voices m1 / edward / m7 (training) and max (held out); "
        f"sentences of at most {MAX_WORDS} words from `data/sentences` (held-out sentences "
        f"never trained on). Counts: {json.dumps(counts)}.", *_more_data_line(), "",
        "## Metrics (held-out sentences; Whisper tiny.en WER, resemblyzer SIM)", "",
        "| what | WER (%) ↓ | SIM ↑ | PESQ-WB | STOI |", "|---|---|---|---|---|",
        f"| corpus recordings (training voices) | {f('codec_eval_text', 'wer_gt')} | – | – | – |",
        f"| codec round trip (training voices) | {f('codec_eval_text', 'wer')} | "
        f"{f('codec_eval_text', 'sim')} | {f('codec_eval_text', 'pesq_wb')} | "
        f"{f('codec_eval_text', 'stoi')} |",
        f"| codec round trip (held-out voice) | {f('codec_eval_voice', 'wer')} | "
        f"{f('codec_eval_voice', 'sim')} | {f('codec_eval_voice', 'pesq_wb')} | "
        f"{f('codec_eval_voice', 'stoi')} |",
        f"| TTS, no prompt (training voices), sampling {_sampling_label()} | "
        f"{f('tts_text', 'wer')} | – | – | – |",
        f"| same, seeds 0–2 pooled | {f('tts_text_3seeds', 'wer')} | – | – | – |",
        f"| same, the official card's sampling (temperature 0.8, no guidance), seeds 0–2 | "
        f"{f('tts_text_card_3seeds', 'wer')} | – | – | – |",
        f"| TTS, cloning the held-out voice | {f('tts_voice', 'wer')} | "
        f"{f('tts_voice', 'sim_o')} (SIM-o) | – | – |",
        f"| held-out voice recordings (same-voice ceiling) | {f('gt_voice', 'wer')} "
        f"| {f('gt_voice', 'sim_o')} (SIM-o) | – | – |",
        *([f"| open text (held-out grammar sentences): recordings | "
           f"{f('codec_eval_open', 'wer_gt')} | – | – | – |",
           f"| open text: codec round trip | {f('codec_eval_open', 'wer')} | "
           f"{f('codec_eval_open', 'sim')} | {f('codec_eval_open', 'pesq_wb')} | "
           f"{f('codec_eval_open', 'stoi')} |",
           f"| open text: TTS, no prompt, seeds 0–2 pooled | {f('tts_open_3seeds', 'wer')} "
           "| – | – | – |"] if "tts_open_3seeds" in metrics else []), "",
        "Quality bar of issue 6: TTS WER ≤ 1.5 × the recordings' WER. See "
        "`docs/default_model.md` for whether it is reached, and for the scaling figures.", "",
        "## Licence and limits", "",
        "Trained only on espeak-ng output (GPL-3.0 engine; its audio output is not covered by "
        "the GPL). English only, robotic voices. "
        + ("Sentences like its template text come out best; other text of up to 12 words "
           "is read less reliably (open-text rows above); longer text is read in chunks, each "
           "prompted by the voice alone (`llasa_long_text` in `lm/config.json`)." if _final_lm().parent.name == "lm_mixed" else
           "Sentences like its template text (16 templates of at most 9 words) come out best; "
           "other text of up to 12 words is read by its sounds and is mostly unintelligible "
           "(open-text rows above)." if _final_lm().parent.name in OPEN_PHASES else
           "It speaks short sentences like its training text (16 templates of at most 9 "
           "words); other text comes out as some training-style sentence."), ""]
    (SHIP / "MODEL_CARD.md").write_text("\n".join(lines))


def _open_phases_line(a) -> str:
    shipped = _final_lm().parent.name
    names = ["lm_open", *OPEN_PHASES[:OPEN_PHASES.index(shipped) + 1]]
    names = [n for n in names if n != "lm_mixed"]
    steps = {"lm_open": a.open_steps, "lm_open2": a.open2_steps, "lm_open3": a.open3_steps}
    line = (f" Then {' + '.join(str(steps[n]) for n in names)} steps on that corpus and an "
            "open-text corpus together, at falling learning rates ("
            + ", ".join(f"`configs/default/{n}.yaml`" for n in names)
            + "), so that it reads text beyond its 16 templates.")
    if shipped == "lm_mixed":
        line += (f" Last, {a.mixed_steps} steps of batch 32 on one GPU (bf16) on those two "
                 "corpora and a third one of sentences no earlier phase heard "
                 "(`configs/default/lm_mixed.yaml`).")
    return line


def _sampling_label() -> str:
    return ", ".join(f"{k} {v:g}" for k, v in SHIPPED_SAMPLING.items())


def _more_data_line() -> list[str]:
    info = WORK / BIG / "corpus" / "corpus.json"
    if not (WORK / "lm_more" / "model").is_dir() or not info.is_file():
        return []
    rows = [json.loads(x) for x in (WORK / BIG / "corpus" / "manifest.jsonl").read_text()
            .splitlines() if x.strip()]
    hours = sum(r["seconds"] for r in rows) / 3600
    out = ["", f"LM phase 2: {len(rows)} more utterances ({hours:.1f} h) of the training voices "
           f"speaking {len({r['text'] for r in rows})} distinct sentences of at most "
           f"{MAX_WORDS} words (`runs/default/{BIG}`, the same generator with a larger count)."]
    manifest = WORK / OPEN / "corpus" / "manifest.jsonl"
    if _final_lm().parent.name in OPEN_PHASES and manifest.is_file():
        rows = [json.loads(x) for x in manifest.read_text().splitlines() if x.strip()]
        rows = [r for r in rows if r["split"] == "train"]
        hours = sum(r["seconds"] for r in rows) / 3600
        out += ["", f"LM phases 5 to 7: {len(rows)} utterances ({hours:.1f} h) of the training "
                f"voices speaking {len({r['text'] for r in rows})} distinct sentences of open text "
                f"(`llasa data sentences --style open`: statements, questions, commands, "
                f"replies; 1 to {MAX_OPEN_WORDS} words; `runs/default/{OPEN}`), trained "
                "together with the phase-2 corpus in phases 5 to 7."]
    manifest = WORK / MIXED / "corpus" / "manifest.jsonl"
    if _final_lm().parent.name == "lm_mixed" and manifest.is_file():
        rows = [json.loads(x) for x in manifest.read_text().splitlines() if x.strip()]
        hours = sum(r["seconds"] for r in rows) / 3600
        out += ["", f"LM phase 8: {len(rows)} utterances ({hours:.1f} h) of the training voices "
                f"speaking {len({r['text'] for r in rows})} distinct sentences that no earlier "
                "corpus spoke (`llasa data sentences --style mixed`: templates and open text "
                f"evenly; `runs/default/{MIXED}`), trained together with the corpora of "
                "phases 5 to 7."]
    return out


def plot(a) -> None:
    """reports/default_inference_scaling.png and reports/default_train_scaling.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ev = WORK / "eval"
    REPORTS.mkdir(exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, (folder, metric, label) in zip(axes, (("bon_wer", "wer", "WER (%) ↓, WER verifier"),
                                                  ("bon_sim", "sim_o", "SIM-o ↑, SIM verifier"))):
        sweep = ev / folder / "sweep.json"
        if not sweep.is_file():
            continue
        rows = json.loads(sweep.read_text())["points"]
        k = 100 if metric == "wer" else 1  # summaries hold WER as a fraction
        ax.plot([r["compute"] for r in rows], [k * r.get(metric) for r in rows], "o-")
        for r in rows:
            ax.annotate(f"N={r['budget']}", (r["compute"], k * r.get(metric)), fontsize=7)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("LM tokens sampled per utterance")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    fig.suptitle("default model: inference-time scaling (held-out sentences / voice)")
    fig.tight_layout()
    fig.savefig(REPORTS / "default_inference_scaling.png", dpi=120)
    curves: dict[str, list] = {}  # size → [(PFLOP, WER of plain TTS %, SIM-o of cloning)]
    for size, step, ckpt in _runs(a):
        text, voice = ev / _folder(size, "text", step), ev / _folder(size, "voice", step)
        if all((f / "summary.json").is_file() for f in (text, voice)) and ckpt.is_dir():
            curves.setdefault(size, []).append((
                train_compute(ckpt, a), 100 * _summary(text)["metrics"]["wer"]["mean"],
                _summary(voice)["metrics"]["sim_o"]["mean"]))
    for later, earlier in (("lm_more", "lm"), ("lm_more2", "lm_more"),
                           ("lm_phonemes", "lm_more"), ("lm_guided", "lm_phonemes"),
                           ("lm_open", "lm_guided"), ("lm_open2", "lm_open"),
                           ("lm_open3", "lm_open2"), ("lm_mixed", "lm_open3")):
        if later in curves and earlier in curves:  # a phase starts where the last one ended
            curves[later].append(max(curves[earlier]))
    if curves:
        labels = {"lm": "hidden 192, 6 layers", "lm_small": "hidden 128, 4 layers",
                  "lm_more": "hidden 192, 6 layers, phase 2: more text",
                  "lm_more2": "hidden 192, 6 layers, phase 3 (alternative): more steps, letters",
                  "lm_phonemes": "hidden 192, 6 layers, phase 3: phonemes",
                  "lm_guided": "hidden 192, 6 layers, phase 4: + items without text",
                  "lm_open": "hidden 192, 6 layers, phase 5: + open text",
                  "lm_open2": "hidden 192, 6 layers, phase 6: open text, lower lr",
                  "lm_open3": "hidden 192, 6 layers, phase 7: open text, lr / 4",
                  "lm_mixed": "hidden 192, 6 layers, phase 8: + 18 k new sentences (GPU)",
                  "lm_big": "hidden 384, 10 layers, from scratch on phases 5-7's data (GPU)"}
        shipped = _final_lm().parent.name
        if shipped in labels:
            labels[shipped] += " (shipped)"
        fig, axes = plt.subplots(1, 2, figsize=(10, 6))
        colors = plt.get_cmap("tab20").colors  # more curves than tab10 has colours
        for i, (size, pts) in enumerate(curves.items()):
            pts.sort()
            for ax, k in ((axes[0], 1), (axes[1], 2)):
                ax.plot([p[0] for p in pts], [p[k] for p in pts], "os^D"[i % 4] + "-",
                        color=colors[(2 * i) % 20 + (i // 10)], label=labels[size])
        for ax, title in ((axes[0], "WER (%) ↓, plain TTS, held-out sentences"),
                          (axes[1], "SIM-o ↑, cloning the held-out voice")):
            ax.set_xlabel("LM training compute (PFLOP = 6 · params · tokens)")
            ax.set_xscale("log")  # 0.01 to several PFLOP
            ax.set_title(title, fontsize=9)
            ax.grid(alpha=0.3)
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="lower center", ncol=2, fontsize=7, frameon=False)
        fig.suptitle("default model: train-time scaling (LM checkpoints)")
        fig.tight_layout(rect=(0, 0.22, 1, 1))
        fig.savefig(REPORTS / "default_train_scaling.png", dpi=120)


def main(argv=None) -> None:
    global WORK
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--stages", default=",".join(s for s in STAGES if s not in OPT_IN),
                   help=f"comma list of {STAGES} (default: all but {', '.join(OPT_IN)})")
    p.add_argument("--utterances", type=int, default=3000)
    p.add_argument("--codec-steps", type=int, default=3000)
    p.add_argument("--decoder-steps", type=int, default=12000)
    p.add_argument("--decoder-more-steps", type=int, default=20000,
                   help="decoder steps on all three corpora (stage decoder_more)")
    p.add_argument("--lm-steps", type=int, default=2000)
    p.add_argument("--more-sentences", type=int, default=30000,
                   help="sentences generated for the LM's second phase (those of at most "
                        f"{MAX_WORDS} words are used)")
    p.add_argument("--more-utterances", type=int, default=10000)
    p.add_argument("--more-steps", type=int, default=3000, help="LM second-phase steps")
    p.add_argument("--more2-steps", type=int, default=2000, help="LM third-phase steps")
    p.add_argument("--phoneme-steps", type=int, default=3000,
                   help="LM third-phase steps (reading phonemes)")
    p.add_argument("--train-steps", default="500,1000,1500",
                   help="earlier LM checkpoints evaluated for train-time scaling")
    p.add_argument("--more-train-steps", default="1500",
                   help="earlier second-phase checkpoints evaluated for train-time scaling")
    p.add_argument("--guided-steps", type=int, default=1500,
                   help="LM fourth-phase steps (with items without text)")
    p.add_argument("--open-sentences", type=int, default=30000,
                   help="open-text sentences generated for phase 5")
    p.add_argument("--open-utterances", type=int, default=10000)
    p.add_argument("--open-steps", type=int, default=3000, help="LM phase-5 steps")
    p.add_argument("--open2-steps", type=int, default=2000, help="LM phase-6 steps")
    p.add_argument("--open3-steps", type=int, default=2000, help="LM phase-7 steps")
    p.add_argument("--mixed-sentences", type=int, default=60000,
                   help="sentences generated for phase 8 (both styles)")
    p.add_argument("--mixed-utterances", type=int, default=24000)
    p.add_argument("--mixed-steps", type=int, default=3000, help="LM phase-8 steps (GPU)")
    p.add_argument("--big-steps", type=int, default=1400, help="larger LM's steps (GPU)")
    p.add_argument("--phoneme-train-steps", default="1500",
                   help="earlier third-phase checkpoints evaluated for train-time scaling")
    p.add_argument("--eval-limit", type=int, default=24)
    p.add_argument("--work", default=str(WORK), help="run folder (default: runs/default)")
    p.add_argument("--scaling-limit", type=int, default=12,
                   help="held-out lines per search sweep (the published figures use 12)")
    a = p.parse_args(argv)
    WORK = Path(a.work).resolve()
    a.train_steps = [int(s) for s in a.train_steps.split(",") if s]
    a.more_train_steps = [int(s) for s in a.more_train_steps.split(",") if s]
    a.phoneme_train_steps = [int(s) for s in a.phoneme_train_steps.split(",") if s]
    todo = [s.strip() for s in a.stages.split(",") if s.strip()]
    bad = sorted(set(todo) - set(STAGES))
    if bad:
        p.error(f"unknown stage(s) {bad}; choose from {STAGES}")
    a.todo, a.decoder_job = todo, None
    for name in STAGES:
        if name in todo:
            print(f"=== {name}", flush=True)
            globals()[f"stage_{name}"](a)


if __name__ == "__main__":
    main()
