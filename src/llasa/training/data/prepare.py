"""Data preparation: a manifest of (audio, text, speaker) → codec codes in memory-mapped shards.

Pipeline per utterance: read (any rate / channels) → mono 16 kHz → optional silero-vad trim →
silence and length filters → batched ``codec.encode`` → :func:`shards.write_shard`.

* Resumable: the manifest is cut into fixed shards of ``shard_size`` utterances; finished shards
  are never redone and shard writes are atomic, so ``kill -9`` at any moment followed by a rerun
  gives the same result as one uninterrupted run. ``plan.json`` refuses a rerun with a different
  manifest or settings into the same folder.
* Skipped inputs (unreadable, empty text, silent, too short, too long for the codec or the LM
  context) are listed with their reason in ``report.json``; nothing else is dropped.
* Under ``torchrun`` (``RANK`` / ``WORLD_SIZE`` set) rank r prepares the shards s with
  ``s % WORLD_SIZE == r``; every rank refreshes ``index.json`` when it finishes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ..._common.config import to_dict
from ..._common.errors import InputError
from ..._common.paths import check_output_dir
from ..._common.log import get_logger, progress
from ..._common.units import HOP_LENGTH, SAMPLE_RATE
from ...audio import AudioLimits, load_audio
from . import shards as sh
from .manifest import ManifestEntry, read_manifest

log = get_logger(__name__)

# Fallback for the tokens around text and codes in a chat-wrapped training sequence, used only
# when the tokenizer cannot build the official prompt (see chat_overhead).
CHAT_OVERHEAD_TOKENS = 64


@dataclass
class PrepareConfig:
    """Settings of ``llasa data prepare``.

    Attributes:
        shard_size: utterances per shard (the unit of resume and of rank sharding).
        batch_size: utterances per ``codec.encode`` call.
        min_seconds / max_seconds: length filter, after VAD trimming when it is on.
        silence_dbfs: a file whose peak is below this level (dB full scale) counts as silent.
        vad: trim leading/trailing silence with silero-vad.
        max_tokens: with a tokenizer, skip utterances whose text + codes + chat wrapping exceed
            this LM context (2048 for Llasa).
        splits: keep only manifest rows whose ``split`` is in this list (None keeps all).
        workers: processes reading and resampling audio (the codec runs in the main process).
    """

    shard_size: int = 500
    batch_size: int = 8
    min_seconds: float = 0.3
    max_seconds: float = 30.0
    silence_dbfs: float = -50.0
    vad: bool = False
    max_tokens: int = 2048
    splits: list[str] | None = None
    workers: int = 1

    def __post_init__(self):
        if self.shard_size < 1 or self.batch_size < 1 or self.workers < 1:
            raise InputError("shard_size, batch_size and workers must be at least 1")
        if not 0 <= self.min_seconds < self.max_seconds:
            raise InputError("need 0 <= min_seconds < max_seconds")
        if self.max_tokens < CHAT_OVERHEAD_TOKENS + 2:
            raise InputError(f"max_tokens must be above {CHAT_OVERHEAD_TOKENS + 2}")
        if self.splits is not None:
            self.splits = [self.splits] if isinstance(self.splits, str) else list(self.splits)


@dataclass
class PrepareResult:
    """What a run did: shards written now vs found done, items kept and skipped (this rank)."""

    out_dir: Path
    shards_written: int = 0
    shards_reused: int = 0
    items: int = 0
    skipped: int = 0
    seconds: float = 0.0  # audio encoded by this run
    index: dict = field(default_factory=dict)


def dist_rank() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) outside it."""
    try:
        rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    except ValueError:
        raise InputError("RANK and WORLD_SIZE must be integers") from None
    if not 0 <= rank < world:
        raise InputError(f"bad RANK={rank} for WORLD_SIZE={world}")
    return rank, world


def _fingerprint(entries: list[ManifestEntry], cfg: PrepareConfig, codebook_size: int) -> str:
    h = hashlib.sha1()
    keep = {k: v for k, v in to_dict(cfg).items() if k not in ("workers", "batch_size")}
    h.update(json.dumps([keep, codebook_size], sort_keys=True).encode())
    for e in entries:
        h.update(json.dumps([e.audio, e.text, e.speaker]).encode())
    return h.hexdigest()


def _check_plan(root: Path, fp: str, overwrite: bool, n_shards: int) -> None:
    plan = root / "plan.json"
    if plan.is_file():
        old = json.loads(plan.read_text()).get("fingerprint")
        if old != fp and not overwrite:
            raise InputError(f"{root} holds data prepared from a different manifest or settings; "
                             "use a new output folder or --overwrite")
        if old == fp:
            return
    if overwrite:
        for p in root.glob("shard-*"):
            shutil.rmtree(p)
    # expected_shards lets `llasa data info` tell an interrupted folder from a finished one
    sh.atomic_write_json(plan, {"fingerprint": fp, "expected_shards": n_shards})


def _load(task: tuple[str, str, dict]) -> tuple[np.ndarray | None, str | None]:
    """Worker: read + filter one file. Returns (waveform [n] at 16 kHz, None) or (None, reason)."""
    audio, text, c = task
    if not text.strip():
        return None, "empty text"
    raw_limit = c["max_seconds"] * (4 if c["vad"] else 1)
    try:
        wav = load_audio(audio, limits=AudioLimits(max_seconds=raw_limit, min_seconds=1e-3))
    except InputError as e:
        msg = str(e)
        return None, ("too long: " if "over the limit" in msg else "unreadable: ") + msg
    peak = float(np.abs(wav).max()) if wav.size else 0.0
    if peak == 0.0 or 20 * math.log10(peak) < c["silence_dbfs"]:
        return None, f"silent: peak below {c['silence_dbfs']:g} dBFS"
    if c["vad"]:
        wav = _vad(c).trim(wav)
        if wav.size == 0:
            return None, "silent: no speech found by VAD"
    sec = wav.size / SAMPLE_RATE
    if sec < c["min_seconds"]:
        return None, f"too short: {sec:.2f} s < {c['min_seconds']:g} s"
    if sec > c["max_seconds"]:
        return None, f"too long: {sec:.1f} s > {c['max_seconds']:g} s"
    return wav, None


_VAD_CACHE: dict = {}  # one silero model per worker process (loading it costs ~0.1 s)


def _vad(c: dict):
    if "vad" not in _VAD_CACHE:
        from ...audio.vad import SileroVad

        _VAD_CACHE["vad"] = SileroVad()
    return _VAD_CACHE["vad"]


def chat_overhead(tokenizer) -> int:
    """Tokens a training sequence adds to text + codes: the official TTS prompt (system block,
    headers, markers) around the text, plus SPEECH_GENERATION_END and the closing <|eot_id|>."""
    from ...lm.prompt import build_tts_prompt

    try:
        probe = "a"
        n_text = len(tokenizer(probe, add_special_tokens=False)["input_ids"])
        return len(build_tts_prompt(tokenizer, probe)) - n_text + 2
    except Exception as e:  # noqa: BLE001 - a tokenizer without a chat template, etc.
        log.warning("cannot build the TTS prompt with this tokenizer (%s); assuming %d tokens "
                    "of chat wrapping", e, CHAT_OVERHEAD_TOKENS)
        return CHAT_OVERHEAD_TOKENS


def check_vocab(tokenizer, codebook_size: int):
    """The tokenizer's speech tokens must cover the codec's codebook at contiguous ids.

    Returns:
        The tokenizer's ``SpeechVocab``.
    """
    from ...lm.tokens import SpeechVocab, speech_token

    vocab = SpeechVocab.from_tokenizer(tokenizer)
    if vocab.codebook_size < codebook_size:
        raise InputError(f"the tokenizer has {vocab.codebook_size} speech tokens but the codec "
                         f"has {codebook_size} codes: they do not match")
    last = vocab.speech_offset + codebook_size - 1
    if tokenizer.convert_ids_to_tokens(last) != speech_token(codebook_size - 1):
        raise InputError(f"token id {last} is not {speech_token(codebook_size - 1)}: "
                         "speech-token offsets of the tokenizer are wrong")
    return vocab


def prepare_dataset(manifest: str | Path | list[ManifestEntry], out_dir: str | Path, codec,
                    cfg: PrepareConfig | None = None, *, tokenizer=None,
                    rank: int | None = None, world_size: int | None = None,
                    overwrite: bool = False) -> PrepareResult:
    """Encode a manifest into shards in ``out_dir`` (resuming a previous run there).

    Args:
        manifest: JSONL / CSV file, audio folder with sidecar transcripts, or entries.
        out_dir: output folder (created).
        codec: a ``llasa.codec.Codec`` (anything with ``encode(list[[n]]) -> list[[T]]``,
            ``codebook_size`` and ``sample_rate`` == 16000).
        cfg: settings; defaults as :class:`PrepareConfig`.
        tokenizer: a Llasa tokenizer; when given, its speech-token offsets are validated and
            utterances too long for ``cfg.max_tokens`` are skipped.
        rank, world_size: override torchrun's ``RANK`` / ``WORLD_SIZE``.
        overwrite: discard shards prepared from another manifest or settings.

    Returns:
        PrepareResult for this rank.
    """
    cfg = cfg or PrepareConfig()
    check_output_dir(out_dir)  # a file here would fail later as an OSError traceback
    if rank is None or world_size is None:
        rank, world_size = dist_rank()
    if getattr(codec, "sample_rate", SAMPLE_RATE) != SAMPLE_RATE:
        raise InputError("the codec must work at 16 kHz")
    K = int(codec.codebook_size)
    overhead = 0
    if tokenizer is not None:
        check_vocab(tokenizer, K)
        overhead = chat_overhead(tokenizer)
    entries = manifest if isinstance(manifest, list) else read_manifest(manifest)
    if cfg.splits is not None:
        entries = [e for e in entries if e.split in cfg.splits]
        if not entries:
            raise InputError(f"no manifest rows with split in {cfg.splits}")
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    fp = _fingerprint(entries, cfg, K)
    n_shards = math.ceil(len(entries) / cfg.shard_size)
    if rank == 0:
        _check_plan(root, fp, overwrite, n_shards)
    elif (root / "plan.json").is_file() and not overwrite:
        # Other ranks only read the plan: rank 0 owns writing (and --overwrite's deletions).
        if json.loads((root / "plan.json").read_text()).get("fingerprint") != fp:
            raise InputError(f"{root} holds data prepared from a different manifest or "
                             "settings; use a new output folder or --overwrite")
    mine = [s for s in range(n_shards) if s % world_size == rank]
    todo = [s for s in mine if not sh.shard_done(root, s)]
    res = PrepareResult(out_dir=root, shards_reused=len(mine) - len(todo))
    c = {k: getattr(cfg, k) for k in ("max_seconds", "min_seconds", "silence_dbfs", "vad")}

    def span(s: int) -> range:
        return range(s * cfg.shard_size, min((s + 1) * cfg.shard_size, len(entries)))

    def start(s: int):
        tasks = [(entries[i].audio, entries[i].text, c) for i in span(s)]
        return pool.imap(_load, tasks, chunksize=2) if pool else map(_load, tasks)

    bar = progress(total=sum(len(span(s)) for s in todo), unit="utt",
                   desc=f"preparing (rank {rank})" if world_size > 1 else "preparing")
    pool = get_context("spawn").Pool(cfg.workers) if cfg.workers > 1 else None
    try:
        # Readers work one shard ahead of the codec: overlap without holding every file in RAM.
        ahead = start(todo[0]) if todo else None
        for k, s in enumerate(todo):
            loaded, ahead = ahead, (start(todo[k + 1]) if k + 1 < len(todo) else None)
            sh.clean_stale(root, s)
            batch = [(entries[i], *next(loaded)) for i in span(s)]
            _encode_and_write(root, s, batch, codec, K, cfg, (tokenizer, overhead), res, rank)
            bar.update(len(batch))
    finally:
        if pool:
            pool.terminate()
        bar.close()
    res.index = sh.build_index(root, n_shards, extra={"sample_rate": SAMPLE_RATE,
                                                      "hop_length": getattr(codec, "hop_length",
                                                                            HOP_LENGTH)})
    return res


def _encode_and_write(root: Path, s: int, batch, codec, K: int, cfg: PrepareConfig, tok_info,
                      res: PrepareResult, rank: int) -> None:
    """Encode the loaded utterances of shard ``s`` in batches and write the shard."""
    tokenizer, overhead = tok_info
    keep, skipped = [], []
    for entry, wav, reason in batch:
        if reason is None:
            keep.append((entry, wav))
        else:
            skipped.append({"audio": entry.audio, "reason": reason})
    codes_all = []
    for k in range(0, len(keep), cfg.batch_size):
        part = keep[k:k + cfg.batch_size]
        codes = codec.encode([w for _, w in part])
        if len(codes) != len(part):
            raise InputError(f"codec returned {len(codes)} code arrays for {len(part)} inputs")
        codes_all.extend(np.asarray(c, dtype=np.int64).reshape(-1) for c in codes)
    out_codes, texts, speakers, sources = [], [], [], []
    for (entry, wav), codes in zip(keep, codes_all):
        if codes.size and (codes.min() < 0 or codes.max() >= K):
            raise InputError(f"codec produced codes outside [0, {K}) for {entry.audio}")
        if tokenizer is not None:
            n_text = len(tokenizer(entry.text, add_special_tokens=False)["input_ids"])
            total = n_text + codes.size + overhead
            if total > cfg.max_tokens:
                skipped.append({"audio": entry.audio, "reason": f"too long for the LM context: "
                                f"~{total} tokens > {cfg.max_tokens}"})
                continue
        out_codes.append(codes)
        texts.append(entry.text)
        speakers.append(entry.speaker)
        sources.append(entry.audio)
        res.seconds += wav.size / SAMPLE_RATE
    sh.write_shard(root, s, codes=out_codes, texts=texts, speakers=speakers, codebook_size=K,
                   sources=sources, skipped=skipped, extra={"rank": rank})
    res.shards_written += 1
    res.items += len(out_codes)
    res.skipped += len(skipped)
    for item in skipped:
        log.info("skipped %s: %s", item["audio"], item["reason"])
