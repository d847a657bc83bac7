"""Codec reconstruction evaluation (the paper's Table 1): encode → decode every clip, then
WER, speaker similarity, PESQ-WB/NB, STOI, mel distance and MOS of the reconstruction, the
same judges on the original (the "ground truth" row), and codec speed.

Resumable like the TTS harness: one durable ``results.jsonl`` line per clip.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._common.errors import InputError
from .._common.log import progress
from ..audio import SAMPLE_RATE, load_audio, save_audio
from .codec_metrics import reconstruction_metrics
from .harness import AUDIO_EXTENSIONS, finish_run
from .judges import Judges
from .records import ResultLog
from .testsets import EvalItem, guess_language


@dataclass(frozen=True)
class Clip:
    """One clip to reconstruct: id, audio file, transcript (None → WER against the ASR
    transcript of the original, which measures only what the codec changed)."""

    name: str
    path: Path
    text: str | None = None
    language: str = "en"


def clips_from_dir(audio_dir: str | Path) -> list[Clip]:
    """Every audio file in ``audio_dir`` (sorted); a ``<stem>.txt`` or ``.lab`` beside a file
    is its transcript."""
    d = Path(audio_dir)
    if not d.is_dir():
        raise InputError(f"audio directory not found: {d}")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise InputError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) in {d}")
    clips = []
    for p in files:
        side = next((p.with_suffix(s) for s in (".txt", ".lab") if p.with_suffix(s).is_file()),
                    None)
        text = side.read_text(encoding="utf-8").strip() if side else None
        clips.append(Clip(p.stem, p, text or None, guess_language(text or "")))
    return clips


def clips_from_items(items: list[EvalItem]) -> list[Clip]:
    """The ground-truth target recordings of a list (lines without one are skipped)."""
    clips = [Clip(it.utt, it.reference_wav, it.target_text, it.language)
             for it in items if it.reference_wav is not None]
    if not clips:
        raise InputError("the list has no target recordings (5th field / 'reference_wav') to "
                         "reconstruct; use --audio-dir instead")
    return clips


def evaluate_codec(codec: Any, clips: list[Clip], out_dir: str | Path, judges: Judges, *,
                   save_audio_files: bool = True, system: dict | None = None) -> dict:
    """Reconstruct and score every clip; resumes from ``out_dir``.

    Args:
        codec: anything with ``encode(wav) -> [codes]`` and ``decode(codes) -> [wav]``
            (a :class:`llasa.codec.Codec`).
        clips: what to reconstruct.
        out_dir: gets ``results.jsonl``, ``summary.json``/``.md``, ``metrics.png`` and, with
            ``save_audio_files``, ``recon/<name>.wav``.

    Returns:
        the summary; ``summary["speed"]`` holds encode/decode seconds per audio second
        (the first clip includes warm-up, so use a few clips for a fair figure).
    """
    out = Path(out_dir)
    log = ResultLog(out / "results.jsonl")
    names = [c.name for c in clips]
    if len(set(names)) != len(names):
        raise InputError("two clips share a name; codec evaluation keys results by file stem")
    todo = [c for c in clips if c.name not in log]
    for clip in progress(todo, desc="eval codec", unit="clip"):
        ref = load_audio(clip.path)
        t0 = time.perf_counter()
        codes = codec.encode(ref)[0]
        t1 = time.perf_counter()
        recon = np.asarray(codec.decode(codes)[0], np.float32).reshape(-1)
        t2 = time.perf_counter()
        if save_audio_files:
            save_audio(out / "recon" / f"{clip.name}.wav", recon)
        rec = {"utt": clip.name, "seconds": len(ref) / SAMPLE_RATE, "codes": int(len(codes)),
               "encode_s": t1 - t0, "decode_s": t2 - t1, **reconstruction_metrics(ref, recon)}
        if judges.asr is not None:
            text = clip.text
            if text is None:
                text = judges.asr.transcribe([ref], language=clip.language)[0]
                rec["reference_text"] = "asr"
            if text.strip():
                gt, rc = judges.intelligibility([ref, recon], [text, text], clip.language)
                metric = "cer" if "cer" in rc else "wer"
                rec.update(rc)
                rec[f"{metric}_gt"] = gt[metric]
                rec["target_text"] = text
        if judges.sim is not None:
            rec["sim"] = float(judges.similarity([recon], ref)[0])
        if judges.mos is not None:
            mos = judges.quality([ref, recon])
            rec["mos_gt"], rec["mos"] = float(mos[0]), float(mos[1])
        log.append(rec)
    done = [r for r in log.records() if r["utt"] in set(names)]
    audio_s = sum(r["seconds"] for r in done)
    speed = {"audio_seconds": audio_s,
             "encode_seconds": sum(r["encode_s"] for r in done),
             "decode_seconds": sum(r["decode_s"] for r in done)}
    if audio_s > 0:
        speed["encode_x_realtime"] = audio_s / max(speed["encode_seconds"], 1e-9)
        speed["decode_x_realtime"] = audio_s / max(speed["decode_seconds"], 1e-9)
    return finish_run(names, log, out, "codec", judges, system or {}, extra={"speed": speed})
