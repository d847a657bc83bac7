"""A natural-voice corpus: ordinary English (data/text) read by several offline synthesisers.

``llasa data synth-corpus OUT --engine kokoro,piper,flite,festival,espeak`` builds it. Each
utterance is fixed by the config and its index (engine, voice, speed, sentence), so the corpus
is reproducible and a killed run started again only synthesises missing files.

* **Engines and shares**: ``engine_shares`` gives each engine's share of the ``train`` and
  ``eval_text`` utterances (Kokoro by default most of it: its voices are the natural ones).
* **Voices**: every base voice of an engine, plus ``kokoro_mixes`` new Kokoro speakers, each
  the weighted mean of two training voices of one accent (American af/am, British bf/bm);
  every utterance varies its speed within ``speed``.
* **Held-out voices** (``heldout_voices``, ``engine:voice``) speak only ``eval_voice``: they
  never appear in training, not even inside a mix.
* **Text**: ``train`` sentences come from the lists' train split; ``eval_text`` and
  ``eval_voice`` from their held-out split (a held-out source and a hash share of the others:
  :mod:`.textlists`). The engines read the text through the normaliser
  (:func:`llasa._common.textnorm.normalize_english`); the manifest keeps the written ``text``
  and the ``spoken`` words.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import soundfile as sf

from ..._common.config import to_dict
from ..._common.errors import InputError
from ..._common.log import progress
from ..._common.textnorm import normalize_english
from . import engines as E
from .manifest import ManifestEntry, write_manifest
from .textlists import read_lists

SPLITS = ("train", "eval_text", "eval_voice")
DEFAULT_SHARES = {"kokoro": 0.6, "piper": 0.1, "flite": 0.1, "festival": 0.1, "espeak": 0.1}
DEFAULT_HELDOUT = (
    "kokoro:af_river",
    "kokoro:am_puck",
    "kokoro:bf_lily",
    "kokoro:bm_lewis",
    "espeak:en-us+max",
)
TEXT_DIR = Path(__file__).resolve().parents[4] / "data" / "text"


@dataclass
class NaturalConfig:
    """What the natural-voice corpus holds (see the module docstring).

    Attributes:
        engine_shares: engine → share of train / eval_text utterances (normalised to sum 1).
        text_dir: sentence lists written by ``llasa data text-lists`` (default: data/text).
        text_sources: which of its sources to use (None: all).
        kokoro_mixes: mixed Kokoro voices added as speakers.
        speed: range of the per-utterance speed factor.
        heldout_voices: ``engine:voice`` specs kept for ``eval_voice``.
        voices: ``engine:voice`` specs: the only training voices of the engines they name
            (None: every installed voice; e.g. the espeak-ng voices a codec was trained on).
        chunk: utterances per worker task (Kokoro and Piper load a model per process / call).
    """

    num_utterances: int = 2000
    seed: int = 0
    engine_shares: dict = field(default_factory=lambda: dict(DEFAULT_SHARES))
    text_dir: str | None = None
    text_sources: tuple | None = None
    eval_text_share: float = 0.05
    eval_voice_share: float = 0.05
    kokoro_mixes: int = 12
    speed: tuple = (0.9, 1.1)
    heldout_voices: tuple = DEFAULT_HELDOUT
    voices: tuple | None = None
    workers: int = 2
    chunk: int = 8

    def __post_init__(self):
        self.speed, self.heldout_voices = tuple(self.speed), tuple(self.heldout_voices)
        if self.text_sources is not None:
            self.text_sources = tuple(self.text_sources)
        if self.voices is not None:
            self.voices = tuple(self.voices)
        bad = [e for e in self.engine_shares if e not in E.ENGINES]
        if bad or not self.engine_shares:
            raise InputError(f"unknown engine(s) {bad} (known: {', '.join(E.ENGINES)})")
        if (
            any(not (isinstance(v, (int, float)) and v >= 0) for v in self.engine_shares.values())
            or sum(self.engine_shares.values()) <= 0
        ):
            raise InputError("engine shares must be >= 0 with a positive sum")
        if self.num_utterances < 1 or self.workers < 1 or self.chunk < 1 or self.kokoro_mixes < 0:
            raise InputError("num_utterances, workers and chunk must be >= 1, kokoro_mixes >= 0")
        for name in ("eval_text_share", "eval_voice_share"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise InputError(f"{name} must be in [0, 1)")
        if self.eval_text_share + self.eval_voice_share >= 1.0:
            raise InputError("eval_text_share + eval_voice_share must leave room for training")
        if not 0.5 <= self.speed[0] <= self.speed[1] <= 2.0:
            raise InputError("speed must be a range (lo, hi) within 0.5..2")
        for spec in (*self.heldout_voices, *(self.voices or ())):
            if spec.partition(":")[0] not in E.ENGINES or not spec.partition(":")[2]:
                raise InputError(f"voice must be 'engine:voice', got {spec!r}")
        if self.eval_voice_share > 0 and not self.heldout_voices:
            raise InputError("eval_voice_share > 0 needs held-out voices")


@dataclass(frozen=True)
class Job:
    index: int
    text: str
    source: str
    split: str
    engine: str
    voice: str
    speed: float

    @property
    def speaker(self) -> str:
        return f"{self.engine}-{self.voice}".replace("*", "x").replace("+", "_")

    @property
    def relpath(self) -> str:
        return f"audio/{self.speaker}/{self.index:06d}.flac"


def speaker_table(cfg: NaturalConfig, rng: np.random.Generator) -> dict[str, list[str]]:
    """engine → training voices (Kokoro mixes included); held-out voices left out."""
    held = {tuple(s.split(":", 1)) for s in cfg.heldout_voices}
    only: dict[str, list[str]] = {}
    for spec in cfg.voices or ():
        eng, voice = spec.split(":", 1)
        only.setdefault(eng, []).append(voice)
    table = {}
    for eng in (e for e, w in cfg.engine_shares.items() if w > 0):
        table[eng] = [v for v in only.get(eng) or E.voices(eng) if (eng, v) not in held]
        if not table[eng]:
            raise InputError(
                f"engine {eng} has no training voice left (all held out or none "
                f"installed: {E.missing(eng) or 'see engines.voices'})"
            )
    if "kokoro" in table:
        base = list(table["kokoro"])
        for _ in range(cfg.kokoro_mixes):
            a = base[int(rng.integers(len(base)))]
            same = [v for v in base if v[0] == a[0] and v != a]  # one accent: a = American
            if not same:
                break
            b = same[int(rng.integers(len(same)))]
            w = round(float(rng.uniform(0.3, 0.7)), 2)
            table["kokoro"].append(f"{a}*{w}+{b}*{round(1 - w, 2)}")
    return table


def plan(cfg: NaturalConfig) -> tuple[list[Job], dict]:
    """Every utterance of the corpus (no audio made) and the speaker table."""
    text_dir = Path(cfg.text_dir) if cfg.text_dir else TEXT_DIR
    train_s = read_lists(text_dir, "train", cfg.text_sources)
    held_s = read_lists(text_dir, "heldout", cfg.text_sources)
    if not train_s or (not held_s and cfg.eval_text_share + cfg.eval_voice_share > 0):
        raise InputError(f"{text_dir} has no training or no held-out sentences")
    rng = np.random.default_rng(cfg.seed)
    table = speaker_table(cfg, rng)
    engines = list(table)
    shares = np.array([cfg.engine_shares[e] for e in engines], dtype=float)
    shares /= shares.sum()
    held_voices = [tuple(s.split(":", 1)) for s in cfg.heldout_voices]
    order = {"train": rng.permutation(len(train_s)), "held": rng.permutation(len(held_s))}
    pos = {"train": 0, "held": 0}

    def draw(kind):  # without replacement until a list runs out, then again
        lst = train_s if kind == "train" else held_s
        i = order[kind][pos[kind] % len(lst)]
        pos[kind] += 1
        return lst[int(i)]

    jobs = []
    for i in range(cfg.num_utterances):
        u = rng.random()
        split = (
            "eval_voice"
            if u < cfg.eval_voice_share
            else "eval_text"
            if u < cfg.eval_voice_share + cfg.eval_text_share
            else "train"
        )
        text, source = draw("train" if split == "train" else "held")
        if split == "eval_voice":
            eng, voice = held_voices[int(rng.integers(len(held_voices)))]
        else:
            eng = engines[int(rng.choice(len(engines), p=shares))]
            voice = table[eng][int(rng.integers(len(table[eng])))]
        # a 0.05 grid: Piper loads its voice once per speed value in a task
        speed = round(round(float(rng.uniform(*cfg.speed)) / 0.05) * 0.05, 2)
        jobs.append(Job(i, text, source, split, eng, voice, speed))
    return jobs, table


def _run_task(task) -> int:
    engine, jobs, root = task
    from .synth import _finish  # mono → 16 kHz → peak 0.9 → atomic FLAC

    spoken = [normalize_english(j.text) for j in jobs]
    if engine == "piper":  # one process per speed value keeps Piper's voice loaded
        for sp in sorted({j.speed for j in jobs}):
            idx = [k for k, j in enumerate(jobs) if j.speed == sp]
            for k, (wav, sr) in zip(idx, E.piper([spoken[k] for k in idx], sp)):
                _finish(wav, sr, Path(root) / jobs[k].relpath)
        return len(jobs)
    for j, s in zip(jobs, spoken):  # each file as soon as it is made: a kill loses one
        wav, sr = E.synthesize(engine, j.voice, s, j.speed)
        _finish(wav, sr, Path(root) / j.relpath)
    return len(jobs)


def synth_natural(cfg: NaturalConfig, out_dir) -> Path:
    """Synthesise (or complete) the corpus in ``out_dir``; return the manifest path.

    Raises:
        InputError: bad settings, another plan in ``out_dir``, an engine not installed (with
            the install step), or a synthesiser failure.
    """
    for eng, w in cfg.engine_shares.items():
        if w > 0 and (why := E.missing(eng)):
            raise InputError(why)
    for spec in cfg.heldout_voices:
        eng, voice = spec.split(":", 1)
        if cfg.eval_voice_share > 0 and (why := E.missing(eng)):
            raise InputError(why)
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise InputError(f"{root} is a file, not a folder")
    root.mkdir(parents=True, exist_ok=True)
    jobs, table = plan(cfg)
    # voices=None is left out so that corpora made before that option still resume
    fingerprint = json.loads(json.dumps({
        k: v for k, v in to_dict(cfg).items()
        if k not in ("workers", "chunk") and not (k == "voices" and v is None)
    }))
    # files are reused by index, so the plan's texts must match too (lists can be rebuilt)
    fingerprint["plan_sha1"] = hashlib.sha1(
        "\n".join(f"{j.text}\t{j.engine}\t{j.voice}\t{j.speed}" for j in jobs).encode()
    ).hexdigest()
    plan_file = root / "plan.json"
    if plan_file.is_file() and json.loads(plan_file.read_text()) != fingerprint:
        raise InputError(f"{root} holds a corpus made with other settings; use a new folder")
    plan_file.write_text(json.dumps(fingerprint, indent=1) + "\n")
    todo = [j for j in jobs if not (root / j.relpath).is_file()]
    tasks = []
    for eng in E.ENGINES:
        mine = [j for j in todo if j.engine == eng]
        tasks += [(eng, mine[k : k + cfg.chunk], str(root)) for k in range(0, len(mine), cfg.chunk)]
    bar = progress(total=len(todo), desc="synthesising", unit="utt")
    if cfg.workers == 1 or len(tasks) <= 1:
        for t in tasks:
            bar.update(_run_task(t))
    else:  # spawn: forked children would share torch / ORT thread pools with the parent
        with get_context("spawn").Pool(cfg.workers) as pool:
            for n in pool.imap_unordered(_run_task, tasks):
                bar.update(n)
            pool.close()  # let idle workers exit instead of killing them mid-message
            pool.join()
    bar.close()
    entries = []
    for j in jobs:
        path = root / j.relpath
        entries.append(
            ManifestEntry(
                audio=str(path.resolve()),
                text=j.text,
                speaker=j.speaker,
                split=j.split,
                extra={
                    "spoken": normalize_english(j.text),
                    "engine": j.engine,
                    "voice": j.voice,
                    "speed": j.speed,
                    "source": j.source,
                    "seconds": round(sf.info(str(path)).duration, 3),
                },
            )
        )
    counts = {s: sum(j.split == s for j in jobs) for s in SPLITS}
    per_engine = {e: sum(j.engine == e for j in jobs) for e in E.ENGINES}
    info = {
        "config": to_dict(cfg),
        "voices": table,
        "heldout_voices": list(cfg.heldout_voices),
        "counts": counts,
        "engines": per_engine,
        "hours": round(sum(e.extra["seconds"] for e in entries) / 3600, 4),
        "sample_rate": 16000,
    }
    (root / "corpus.json").write_text(json.dumps(info, indent=2) + "\n")
    return write_manifest(root / "manifest.jsonl", entries)
