#!/usr/bin/env python
"""The parity gate for the quantized LMs on the shipped model, in one command.

    python recipes/quant_gate.py                       # int8 and int4, seeds 0-2 (~15 min)
    python recipes/quant_gate.py --methods int8 --seeds 0,1

Steps (each a plain ``llasa`` command, printed before it runs; an interrupted run resumes):

1. ``llasa quantize --method M`` of the shipped LM into ``runs/quant/M``.
2. Two lists: ``text`` — the first 24 held-out sentences of at most 9 words
   (``data/sentences/heldout.txt``, never trained on), plain TTS, judged by WER; ``clone`` —
   ``data/evalsets/tiny`` (6 unseen espeak-ng voices cloned from a prompt), WER and SIM-o.
3. ``llasa eval tts`` of the float model and of each quantized one, per list and seed, with the
   model's own sampling (temperature 0.5), Whisper tiny.en and resemblyzer as judges.
4. ``llasa eval gate`` per method: paired by seed and utterance, a method passes when its mean
   WER and SIM-o lie inside the float model's 95 % interval (or beyond it on the good side).
   The verdicts go to ``runs/quant/gate_M.json`` and ``runs/quant/gate.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "runs" / "quant"
SHIP = ROOT / "src" / "llasa" / "models" / "default"


def llasa(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    print("+ llasa " + " ".join(args), flush=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LLASA_QUIET": "1",
           "ORT_DISABLE_TELEMETRY": "1"}
    out = subprocess.run([sys.executable, "-m", "llasa.cli.main", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    if out.stdout:
        print(out.stdout, end="", flush=True)
    if check and out.returncode:
        sys.exit(f"failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    return out


def text_list(n: int = 24) -> Path:
    path = WORK / "text.jsonl"
    lines = [x.strip() for x in (ROOT / "data/sentences/heldout.txt").read_text().splitlines()]
    picked = [x for x in lines if x and len(x.split()) <= 9][:n]
    path.write_text("".join(json.dumps({"utt": f"t{i:02d}", "target_text": t,
                                        "language": "en"}) + "\n"
                            for i, t in enumerate(picked)))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="int8,int4")
    ap.add_argument("--seeds", default="0,1,2")
    a = ap.parse_args()
    methods, seeds = a.methods.split(","), a.seeds.split(",")
    WORK.mkdir(parents=True, exist_ok=True)
    lists = {"text": text_list(), "clone": ROOT / "data/evalsets/tiny/meta.jsonl"}
    models = {"float": str(SHIP / "lm")}
    for m in methods:
        d = WORK / m
        if not (d / "config.json").is_file():
            llasa("quantize", "--method", m, "-o", str(d))
        models[m] = str(d)
    runs: dict[tuple[str, str], list[Path]] = {}
    for name, lm in models.items():
        for lst, path in lists.items():
            for s in seeds:
                out = WORK / "eval" / f"{name}_{lst}_s{s}"
                llasa("eval", "tts", "--list", str(path), "--lm", lm, "--codec",
                      str(SHIP / "codec"), "--seed", s, "--out", str(out), "--mos", "none",
                      "--no-sim-r", "--device", "cpu")
                runs.setdefault((name, lst), []).append(out)
    report = ["# Quantized LM parity gate (shipped model)\n",
              f"Seeds {', '.join(seeds)}; lists: text ({lists['text'].name}), clone "
              "(data/evalsets/tiny).\n"]
    for m in methods:
        ref = [p for lst in lists for p in runs[("float", lst)]]
        cand = [p for lst in lists for p in runs[(m, lst)]]
        out = llasa("eval", "gate", "--reference", *map(str, ref), "--candidate",
                    *map(str, cand), "--name", m, "--json", str(WORK / f"gate_{m}.json"),
                    check=False)
        if out.returncode not in (0, 1):
            sys.exit(out.stderr)
        report.append(f"## {m}\n\n{out.stdout}")
    (WORK / "gate.md").write_text("\n".join(report))
    print(f"wrote {WORK / 'gate.md'}")


if __name__ == "__main__":
    main()
