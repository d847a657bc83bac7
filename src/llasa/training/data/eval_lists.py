"""Evaluation lists for the goals of issue 18, from a natural-voice corpus (``llasa eval tts
--list``). Every list holds text the corpus held out of training; the recordings are the
ground truth ("recordings' WER" is the corpus audio scored by the same judge).

* ``eval_text.jsonl``: held-out sentences in training voices (plain TTS).
* ``eval_numbers.jsonl``: the subset of them with written numbers, dates, money or symbols.
* ``eval_voice.jsonl``: cloning each held-out voice: the prompt is another utterance of that
  voice, the target a held-out sentence; its recording gives the same-voice SIM ceiling.
* ``eval_long.jsonl``: paragraphs of about 300 characters joined from held-out sentences of one
  source (no recording: the goal is ending on END, and WER against the text).
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from pathlib import Path

from ..._common.errors import InputError
from .manifest import read_manifest

_WRITTEN = re.compile(r"\d|[$£€¥%&@#°]")


def natural_eval_lists(manifest, out_dir, *, limit: int = 200, paragraphs: int = 10,
                       paragraph_chars: int = 300) -> dict[str, Path]:
    """Write the lists (see the module docstring) into ``out_dir``; return name → path.

    Args:
        manifest: ``manifest.jsonl`` of ``llasa data synth-corpus --engine ...``.
        limit: at most this many lines per list.
        paragraphs / paragraph_chars: the long-text list.

    Raises:
        InputError: a manifest without held-out splits.
    """
    rows = read_manifest(manifest)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def rel(p: str) -> str:  # lists travel with their audio (e.g. to a GPU machine)
        return os.path.relpath(p, out)

    text = [e for e in rows if e.split == "eval_text"]
    voice = [e for e in rows if e.split == "eval_voice"]
    if not text and not voice:
        raise InputError(f"{manifest} has no eval_text or eval_voice utterances")
    lists: dict[str, list[dict]] = {}
    lists["eval_text"] = [{"utt": f"t{i:04d}", "target_text": e.text, "language": "en",
                           "reference_wav": rel(e.audio)} for i, e in enumerate(text)][:limit]
    lists["eval_numbers"] = [r for r in (
        {"utt": f"n{i:04d}", "target_text": e.text, "language": "en",
         "reference_wav": rel(e.audio)} for i, e in enumerate(text))
        if _WRITTEN.search(r["target_text"])][:limit]
    by_voice = defaultdict(list)
    for e in voice:
        by_voice[e.speaker].append(e)
    pairs = [(p, t) for us in by_voice.values() for p, t in zip(us, us[1:])]
    lists["eval_voice"] = [{"utt": f"v{i:04d}", "target_text": t.text, "prompt_text": p.text,
                            "prompt_wav": rel(p.audio), "reference_wav": rel(t.audio),
                            "language": "en"} for i, (p, t) in enumerate(pairs)][:limit]
    by_source = defaultdict(list)
    for e in text + voice:
        by_source[e.extra.get("source", "")].append(e.text)
    paras = []
    for sents in by_source.values():
        cur = ""
        for s in dict.fromkeys(sents):
            if cur and len(cur) + 1 + len(s) > paragraph_chars + 40:
                continue  # would overshoot: try a shorter sentence
            cur = f"{cur} {s}".strip()
            if len(cur) >= paragraph_chars - 40:
                paras.append(cur)
                cur = ""
    lists["eval_long"] = [{"utt": f"p{i:03d}", "target_text": p, "language": "en"}
                          for i, p in enumerate(paras[:paragraphs])]
    paths = {}
    for name, items in lists.items():
        if not items:
            continue
        paths[name] = out / f"{name}.jsonl"
        paths[name].write_text("".join(json.dumps(x) + "\n" for x in items), encoding="utf-8")
    return paths
