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

The stages live in ``recipes/default_model_stages/``, one module per kind of work, in the order
they run: ``corpora`` (speech corpora and their codes), ``codec`` (codec and decoder training),
``lm`` (the LM's phases), ``export``, ``evaluate`` (held-out lists, eval and search sweeps, with
``scaling`` for earlier checkpoints, ``card`` for MODEL_CARD.md and ``plots`` for the figures);
``common`` holds the paths, constants and the command runner they share.

Every torch process runs with one thread (``OMP_NUM_THREADS=1``) unless it runs alone: on a
small shared CPU, two processes each spinning two threads made a codec step 25× slower
(measured: 64 s vs 2.5 s).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # default_model_stages, beside this

from default_model_stages import codec, common as C, corpora, evaluate, export, lm  # noqa: E402
from default_model_stages.card import _open_phases_line  # noqa: E402,F401 (tests read it)
from default_model_stages.common import (MAX_OPEN_WORDS, MAX_WORDS, OPT_IN,  # noqa: E402,F401
                                         STAGES, _final_codec, _final_lm)
from default_model_stages.evaluate import open_list  # noqa: E402,F401

# stage name -> function(args), found in the stage modules
STAGE_FUNCTIONS = {name: getattr(mod, f"stage_{name}")
                   for mod in (corpora, codec, lm, export, evaluate)
                   for name in STAGES if hasattr(mod, f"stage_{name}")}
assert set(STAGE_FUNCTIONS) == set(STAGES), set(STAGES) - set(STAGE_FUNCTIONS)


def main(argv=None) -> None:
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
    p.add_argument("--work", default=str(C.WORK), help="run folder (default: runs/default)")
    p.add_argument("--scaling-limit", type=int, default=12,
                   help="held-out lines per search sweep (the published figures use 12)")
    a = p.parse_args(argv)
    C.WORK = Path(a.work).resolve()
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
            STAGE_FUNCTIONS[name](a)


if __name__ == "__main__":
    main()
