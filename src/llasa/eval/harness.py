"""Zero-shot TTS evaluation: synthesise every line of a list (or take another system's audio),
then score it with the judges. Seed-TTS-eval protocol: WER (en) / CER (zh) on normalised text,
SIM-o against the prompt, SIM-r against the codec-resynthesised prompt, plus MOS.

Resumable at utterance granularity: synthesised audio is written atomically to ``wavs/`` and
each scored utterance is one durable line of ``results.jsonl``; a rerun synthesises only what
has no audio yet and scores only what has no result line.

Notation: ``n`` samples at 16 kHz, ``t`` codec frames.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from .._common.errors import InputError
from .._common.log import get_logger, progress
from ..audio import SAMPLE_RATE, load_audio
from .judges import Judges
from .plots import plot_distributions
from .records import ResultLog
from .report import summarize, write_reports
from .testsets import EvalItem

_log = get_logger(__name__)
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")

#: A synthesiser takes a batch of items and returns, per item, audio [n] at 16 kHz and an info
#: dict (tokens, ended, compute, ...). Plain sampling and search strategies both fit.
Synthesizer = Callable[[list[EvalItem]], list[tuple[np.ndarray, dict]]]


def _batches(seq: Sequence, size: int):
    for i in range(0, len(seq), size):
        yield list(seq[i:i + size])


# ------------------------------------------------------------------------------ synthesis
def llasa_synthesizer(tts: Any, settings: Any = None) -> Synthesizer:
    """Zero-shot cloning with a :class:`llasa.tts.Llasa`, one padded LM batch per call.

    Items with different voice prompts share the batch: each gets its own official cloning
    prompt (prompt text + target text, prefilled prompt codes); the token cap is the largest
    per-item cap. Text long enough to need chunking goes through ``tts.synthesize`` alone.
    """
    from ..tts.plan import check_voice, plan_batch, render
    from ..tts.text import check_text
    from ..tts.voices import Voice

    base = tts.make_settings(settings)

    def run(items: list[EvalItem]) -> list[tuple[np.ndarray, dict]]:
        voices = [None if it.prompt_wav is None else
                  Voice.from_audio(tts.codec, it.prompt_wav, it.prompt_text) for it in items]
        out: list[tuple[np.ndarray, dict] | None] = [None] * len(items)
        short = [k for k, it in enumerate(items)
                 if len(it.target_text) <= tts.limits.chunk_chars]
        if short:
            texts = [check_text(items[k].target_text, tts.limits) for k in short]
            for k in short:
                check_voice(tts.lm, tts.codec, voices[k])
            # the pipeline's steps: one shared budget, decode after each prompt's context
            plans = plan_batch(tts.lm, texts, [voices[k] for k in short], base,
                               tts.plan_config)
            gens = [c[0] for c in tts.lm.generate([p.prompt for p in plans], plans[0].settings)]
            audios = render(tts.codec, plans, [g.codes for g in gens])
            for k, p, g, audio in zip(short, plans, gens, audios):
                out[k] = (audio, {"tokens": int(g.num_tokens), "ended": bool(g.ended),
                                  "prompt_tokens": len(p.prompt), "compute": int(g.num_tokens)})
        for k, it in enumerate(items):
            if out[k] is None:
                r = tts.synthesize(it.target_text, voices[k], settings=base)
                out[k] = (r.audio, {"tokens": r.info.get("tokens"), "ended": r.info.get("ended"),
                                    "compute": r.info.get("tokens")})
        return out  # type: ignore[return-value]

    return run


def _write_atomic(path: Path, audio: np.ndarray, info: dict) -> None:
    tmp = path.with_name(path.stem + ".tmp.wav")
    # Empty audio (a candidate that stopped at once) is kept as a 0-sample file on purpose.
    sf.write(str(tmp), np.clip(np.asarray(audio, np.float32), -1, 1), SAMPLE_RATE,
             subtype="PCM_16")
    path.with_suffix(".json").write_text(json.dumps(info))
    os.replace(tmp, path)  # the wav appears last: its presence means "synthesis done"


def _read_own(path: Path) -> tuple[np.ndarray, dict]:
    audio, sr = sf.read(str(path), dtype="float32")
    meta = path.with_suffix(".json")
    info = json.loads(meta.read_text()) if meta.exists() else {}
    return audio.reshape(-1), info


# -------------------------------------------------------------------------------- scoring
class PromptCache:
    """Prompt audio (and its codec resynthesis for SIM-r), loaded once per prompt file."""

    def __init__(self, codec: Any = None):
        self.codec = codec
        self._audio: dict[Path, np.ndarray] = {}
        self._resynth: dict[Path, np.ndarray] = {}

    def audio(self, path: Path) -> np.ndarray:
        if path not in self._audio:
            self._audio[path] = load_audio(path)
        return self._audio[path]

    def resynth(self, path: Path) -> np.ndarray | None:
        """codec.decode(codec.encode(prompt)) [320·t], or None without an encoding codec."""
        if self.codec is None or getattr(self.codec, "decode_only", False):
            return None
        if path not in self._resynth:
            codes = self.codec.encode(self.audio(path))[0]
            self._resynth[path] = np.asarray(self.codec.decode(codes)[0], np.float32).reshape(-1)
        return self._resynth[path]


def score_batch(items: list[EvalItem], audios: list[np.ndarray], judges: Judges,
                prompts: PromptCache) -> list[dict]:
    """Score one batch; returns one record per item (``utt``, text, metrics, ``seconds``)."""
    records = [{"utt": it.utt, "language": it.language, "target_text": it.target_text,
                "seconds": len(a) / SAMPLE_RATE} for it, a in zip(items, audios)]
    for lang in sorted({it.language for it in items}):
        idx = [k for k, it in enumerate(items) if it.language == lang]
        scored = judges.intelligibility([audios[k] for k in idx],
                                        [items[k].target_text for k in idx], lang)
        for k, s in zip(idx, scored):
            records[k].update(s)
    mos = judges.quality(audios)
    for k, (it, a) in enumerate(zip(items, audios)):
        if judges.mos is not None:
            records[k]["mos"] = float(mos[k])
        if it.prompt_wav is None or judges.sim is None:
            continue
        _similarity(records[k], "sim_o", judges, a, prompts.audio(it.prompt_wav))
        resynth = prompts.resynth(it.prompt_wav)
        if resynth is not None:
            _similarity(records[k], "sim_r", judges, a, resynth)
    return records


def _similarity(record: dict, key: str, judges: Judges, audio: np.ndarray,
                reference: np.ndarray) -> None:
    """SIM into ``record[key]``; a reference the judge cannot embed (e.g. a broken codec's
    silent resynthesis) gives null plus ``<key>_error`` instead of aborting the whole run."""
    try:
        record[key] = float(judges.similarity([audio], reference)[0])
    except InputError as e:
        record[key] = None
        record[f"{key}_error"] = str(e)


def finish_run(utts: list[str], log: ResultLog, out: Path, task: str, judges: Judges,
               system: dict, extra: dict | None = None) -> dict:
    """Summarise the records of ``utts`` (list order) and write summary.json/.md + plot."""
    by_utt = {r["utt"]: r for r in log.records()}
    records = [by_utt[u] for u in utts if u in by_utt]
    summary = summarize(records, task=task, judges=judges.describe(), system=system,
                        extra=extra)
    paths = write_reports(summary, out)
    plot = plot_distributions(records, out / "metrics.png")
    summary["files"] = {"results": str(log.path), **{k: str(v) for k, v in paths.items()},
                        **({"plot": str(plot)} if plot else {})}
    paths["json"].write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return summary


def evaluate_tts(synthesizer: Synthesizer, items: list[EvalItem], out_dir: str | Path,
                 judges: Judges, *, codec: Any = None, batch_size: int = 4,
                 system: dict | None = None, task: str = "tts") -> dict:
    """Synthesise and score every item; resumes from what ``out_dir`` already holds.

    Args:
        synthesizer: e.g. :func:`llasa_synthesizer` or a search strategy wrapper.
        items: the evaluation list.
        out_dir: gets ``wavs/<utt>.wav``, ``results.jsonl``, ``summary.json``, ``summary.md``,
            ``metrics.png``.
        judges: metric models.
        codec: codec for SIM-r (prompt resynthesis); None skips SIM-r.
        batch_size: items per synthesis call and per scoring call.
        system: description of the evaluated system, stored in the summary.

    Returns:
        the summary dict (also written as ``summary.json``).
    """
    if batch_size < 1:
        raise InputError("batch_size must be >= 1")
    judges.check_languages({it.language for it in items})
    out = Path(out_dir)
    check_same_run(out, system or {})
    wav_dir = out / "wavs"
    wav_dir.mkdir(parents=True, exist_ok=True)
    log = ResultLog(out / "results.jsonl")
    prompts = PromptCache(codec)
    todo = [it for it in items if it.utt not in log]
    bar = progress(total=len(todo), desc=f"eval {task}", unit="utt")
    for batch in _batches(todo, batch_size):
        need = [it for it in batch if not (wav_dir / f"{it.utt}.wav").exists()]
        if need:
            outputs = synthesizer(need)
            if len(outputs) != len(need):
                raise InputError(f"the synthesiser returned {len(outputs)} results for "
                                 f"{len(need)} utterances")
            for it, (audio, info) in zip(need, outputs):
                _write_atomic(wav_dir / f"{it.utt}.wav", audio, info)
        loaded = [_read_own(wav_dir / f"{it.utt}.wav") for it in batch]
        records = score_batch(batch, [a for a, _ in loaded], judges, prompts)
        for rec, (_, info) in zip(records, loaded):
            rec.update({k: v for k, v in info.items() if k not in rec})
            log.append(rec)
        bar.update(len(batch))
    bar.close()
    return finish_run([it.utt for it in items], log, out, task, judges, system or {})


def check_same_run(out: Path, system: dict) -> None:
    """Resume only the run that ``out`` holds: ``out/run.json`` records ``system`` (model,
    fingerprint, settings); another system there is an error instead of a silent mix of two
    models' results."""
    path = out / "run.json"
    mine = json.loads(json.dumps(system, sort_keys=True, default=str))
    if path.is_file():
        theirs = _newer_defaults(json.loads(path.read_text()))
        if theirs != mine:
            diff = sorted(k for k in set(theirs) | set(mine) if theirs.get(k) != mine.get(k))
            raise InputError(f"{out} holds results of another run (differs in {', '.join(diff)}:"
                             f" {', '.join(f'{k}={theirs.get(k)!r}' for k in diff)}); give a "
                             "new output folder or delete that one")
        return
    if (out / "results.jsonl").is_file():  # results from before run.json existed: keep them
        return
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(mine, indent=2, sort_keys=True) + "\n")


def _newer_defaults(recorded: dict) -> dict:
    """A recorded system with sampling settings added since it was written (e.g.
    ``cfg_scale``) at their defaults, which is what that run used."""
    from dataclasses import asdict

    from ..lm.sampling import GenerationSettings

    st = recorded.get("settings")
    if isinstance(st, dict):
        defaults = json.loads(json.dumps(asdict(GenerationSettings())))
        recorded = {**recorded, "settings": {**defaults, **st}}
    return recorded


def find_audio(audio_dir: str | Path, items: list[EvalItem]) -> dict[str, Path]:
    """Map each item to ``<audio_dir>/<utt>.{wav,flac,ogg}``; missing files are an error."""
    d = Path(audio_dir)
    if not d.is_dir():
        raise InputError(f"audio directory not found: {d}")
    found, missing = {}, []
    for it in items:
        hit = next((d / f"{it.utt}{ext}" for ext in AUDIO_EXTENSIONS
                    if (d / f"{it.utt}{ext}").is_file()), None)
        if hit is None:
            missing.append(it.utt)
        else:
            found[it.utt] = hit
    if missing:
        raise InputError(f"{len(missing)} of {len(items)} utterances have no audio in {d} "
                         f"(expected <utt>.wav/.flac/.ogg), e.g. {missing[:5]}")
    return found


def evaluate_audio_dir(audio_dir: str | Path, items: list[EvalItem], out_dir: str | Path,
                       judges: Judges, *, codec: Any = None, batch_size: int = 8,
                       system: dict | None = None) -> dict:
    """Score audio produced by any system (``<utt>.wav`` per list line) with the same judges.

    Audio at other sample rates is resampled to 16 kHz (the judges' rate). Resumable like
    :func:`evaluate_tts`. Returns the summary dict.
    """
    judges.check_languages({it.language for it in items})
    files = find_audio(audio_dir, items)
    out = Path(out_dir)
    system = {"audio_dir": str(Path(audio_dir).resolve()), **(system or {})}
    check_same_run(out, system)
    log = ResultLog(out / "results.jsonl")
    prompts = PromptCache(codec)
    todo = [it for it in items if it.utt not in log]
    bar = progress(total=len(todo), desc="eval audio", unit="utt")
    for batch in _batches(todo, batch_size):
        audios = [load_audio(files[it.utt]) for it in batch]
        for rec in score_batch(batch, audios, judges, prompts):
            log.append(rec)
        bar.update(len(batch))
    bar.close()
    return finish_run([it.utt for it in items], log, out, "tts", judges, system)
