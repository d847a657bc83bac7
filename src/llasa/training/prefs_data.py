"""Preference data from verifier-scored search (``llasa data preferences``).

For every (text, voice) item, a search (best-of-N, or a beam) samples candidates with the
shipped fast batched decoder and scores them with a weighted reward (a verifier spec such as
``0.7*wer+0.3*sim``: each part on its unit scale, higher is better; see
:mod:`llasa.verifiers.combined`). Every candidate is kept with its scores, and the best and
worst of an item form a (chosen, rejected) pair when their rewards differ by at least
``margin``. Notation: ``p`` prompt ids, ``t`` codes, ``c`` candidates, ``k`` items of a shard.

Folder layout (shards are written to a hidden folder and renamed, so a ``shard-*`` is whole)::

    plan.json              settings + fingerprint of the items (guards resume)
    index.json             totals (items, candidates, pairs, LM tokens, verifier seconds)
    shard-00000/
        prompt_ids.npy     int32 [sum p]  the official inference prompt of each item
        prompt_offsets.npy int64 [k + 1]
        codes.npy          int32 [sum t]  each candidate's new speech codes
        code_offsets.npy   int64 [c + 1]
        cand_item.npy      int32 [c]      item (within the shard) of each candidate
        reward.npy         float64 [c]    the weighted reward (higher is better)
        ended.npy          bool [c]       stopped on SPEECH_GENERATION_END (else the token cap)
        pairs.npy          int32 [n, 2]   (chosen, rejected) candidate indices in the shard
        meta.json          items (utt, text, prompt_wav, prompt_text, seed, compute) and
                           every candidate's raw scores + ASR transcript; written last
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._common.errors import InputError
from .._common.log import progress
from .data.shards import atomic_write_json

FORMAT = "llasa-preferences"
VERSION = 1
_ITEM_KEYS = {"utt", "text", "target_text", "prompt_wav", "prompt_text", "language"}


@dataclass(frozen=True)
class PrefItem:
    """One prompt: a text to say, optionally in a voice (prompt audio + its transcript)."""

    utt: str
    text: str
    prompt_wav: str | None = None
    prompt_text: str | None = None
    language: str = "en"


@dataclass
class PrefDataSettings:
    """Settings of :func:`make_preferences`.

    Attributes:
        out_dir: the preference folder (resumed when it exists with the same plan).
        lm, codec: model directories or hub ids (None: the shipped model).
        search: ``best-of-n:N`` or ``beam:BxK[xT]`` (its verifiers are replaced by ``reward``).
        reward: verifier spec ranking the candidates, e.g. ``wer`` or ``0.7*wer+0.3*sim``.
        margin: least reward gap between an item's best and worst to make a pair.
        seed: item i is searched with seed ``seed * 1_000_003 + i`` (order-independent).
        shard_items: items per shard (the unit of resume).
        sampling: GenerationSettings overrides (``temperature``, ``top_k``, ...).
        device: LM / codec / verifier device.
        workers: processes searching shards in parallel (CPU: the cores are split between
            them; not part of the plan, so a resume may use another count).
    """

    out_dir: str = "runs/prefs/data"
    lm: str | None = None
    codec: str | None = None
    search: str = "best-of-n:8"
    reward: str = "0.7*wer+0.3*sim"
    margin: float = 0.1
    seed: int = 0
    shard_items: int = 16
    sampling: dict = field(default_factory=dict)
    device: str = "cpu"
    workers: int = 1

    def __post_init__(self):
        if not (isinstance(self.workers, int) and self.workers >= 1):
            raise InputError(f"workers must be an integer >= 1, got {self.workers!r}")
        if not (isinstance(self.shard_items, int) and self.shard_items >= 1):
            raise InputError(f"shard_items must be an integer >= 1, got {self.shard_items!r}")
        if not self.margin >= 0:
            raise InputError(f"margin must be >= 0, got {self.margin!r}")
        if not str(self.reward).strip():
            raise InputError("reward must name a verifier, e.g. 'wer' or '0.7*wer+0.3*sim'")


# ---- inputs -------------------------------------------------------------------------------
def load_items(path: str | Path | None = None, *, texts: str | Path | None = None,
               voices: str | Path | None = None) -> list[PrefItem]:
    """Items from a JSONL list (``text`` or ``target_text``, optional ``utt``, ``prompt_wav``
    + ``prompt_text``, ``language``; paths relative to the list), or from a text file (one
    sentence per line) whose lines take the voices of a JSONL ``voices`` list (``prompt_wav``
    + ``prompt_text``) in turn.

    Raises:
        InputError: a malformed line (with its file and line number), an unknown key, an empty
            text, a prompt without transcript, a missing audio file or a duplicate ``utt``.
    """
    if (path is None) == (texts is None):
        raise InputError("give either a JSONL list of items or a text file (--texts)")
    if path is not None:
        if voices is not None:
            raise InputError("--voices goes with --texts, not with a JSONL list")
        items = [_item(row, where, base) for row, where, base in _jsonl(path)]
    else:
        tpath = Path(texts)
        if not tpath.is_file():
            raise InputError(f"text file not found: {tpath}")
        lines = [x.strip() for x in tpath.read_text(encoding="utf-8").splitlines()]
        lines = [x for x in lines if x and not x.startswith("#")]
        if not lines:
            raise InputError(f"{tpath}: no sentences")
        vs = [_item({"text": "-", **row}, where, base) for row, where, base in _jsonl(voices)] \
            if voices is not None else [None]
        if not vs:
            raise InputError(f"{voices}: no voices")
        items = [PrefItem(f"{i:06d}", t, v and v.prompt_wav, v and v.prompt_text)
                 for i, (t, v) in enumerate((t, vs[i % len(vs)]) for i, t in enumerate(lines))]
    seen: set[str] = set()
    for it in items:
        if it.utt in seen:
            raise InputError(f"duplicate utt {it.utt!r} in the item list")
        seen.add(it.utt)
    if not items:
        raise InputError(f"{path}: no items")
    return items


def _jsonl(path):
    path = Path(path)
    if not path.is_file():
        raise InputError(f"list not found: {path}")
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}, line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{where}: not JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a JSON object")
        yield row, where, path.parent


def _item(row: dict, where: str, base: Path) -> PrefItem:
    unknown = sorted(set(row) - _ITEM_KEYS - {"name"})
    if unknown:
        raise InputError(f"{where}: unknown key(s) {unknown}; known: {sorted(_ITEM_KEYS)}")
    text = str(row.get("text") or row.get("target_text") or "").strip()
    if not text:
        raise InputError(f"{where}: empty text")
    wav, ptext = row.get("prompt_wav"), str(row.get("prompt_text") or "").strip()
    if (wav is None) != (not ptext):
        raise InputError(f"{where}: prompt_wav and prompt_text go together")
    if wav is not None:
        p = Path(wav) if Path(wav).is_absolute() else base / wav
        if not p.is_file():
            raise InputError(f"{where}: prompt audio not found: {p}")
        wav = str(p.resolve())  # absolute: GRPO reads the folder's items from any directory
    utt = str(row.get("utt") or row.get("name") or where.rsplit(" ", 1)[-1])
    return PrefItem(utt, text, wav, ptext or None, str(row.get("language") or "en"))


# ---- generation ---------------------------------------------------------------------------
def search_config(spec: str, reward: str):
    """The search config of ``spec`` ranking by ``reward`` (best-of-N or a beam)."""
    from ..search import Beam, BestOfN, parse_search

    cfg = parse_search(spec)
    if not isinstance(cfg, (BestOfN, Beam)):
        raise InputError(f"preference data uses best-of-n:N or beam:BxK[xT], got {spec!r}")
    return dataclasses.replace(cfg, verifiers=(reward,))


def item_seed(seed: int, index: int) -> int:
    return int(seed) * 1_000_003 + int(index)


def make_preferences(items: list[PrefItem], s: PrefDataSettings, *, tts=None,
                     registry=None) -> dict:
    """Search every item, write the shards (resuming finished ones) and return the totals.

    Args:
        items: from :func:`load_items`.
        s: settings; ``tts`` / ``registry``: an already loaded :class:`llasa.tts.Llasa` and
            :class:`llasa.verifiers.VerifierRegistry` (otherwise built from ``s``).

    Raises:
        InputError: bad settings, or a folder holding another plan.
    """
    cfg = search_config(s.search, s.reward)
    out = Path(s.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = {"format": FORMAT, "version": VERSION, "search": s.search, "reward": s.reward,
            "margin": s.margin, "seed": s.seed, "shard_items": s.shard_items,
            "sampling": dict(sorted(s.sampling.items())), "lm": s.lm, "codec": s.codec,
            "items": _fingerprint(items)}
    old = out / "plan.json"
    if old.is_file():
        prev = json.loads(old.read_text())
        diff = sorted(k for k in plan if prev.get(k) != plan[k])
        if diff:
            raise InputError(f"{out} holds preference data made with other settings "
                             f"({', '.join(diff)}); use another folder")
    else:
        atomic_write_json(old, plan)
    n_shards = (len(items) + s.shard_items - 1) // s.shard_items
    todo = [k for k in range(n_shards) if not (out / _shard(k) / "meta.json").is_file()]
    if todo and s.workers > 1 and len(todo) > 1 and tts is None:
        from .prefs_workers import run_workers

        run_workers(items, s, todo, out)
    elif todo:
        if tts is None:
            from ..tts import Llasa

            tts = Llasa.from_pretrained(s.lm, s.codec, device=s.device)
        if registry is None:
            from ..verifiers import VerifierRegistry

            registry = VerifierRegistry(device=s.device) if s.device != "cpu" \
                else VerifierRegistry()
        voices: dict = {}
        bar = progress(total=len(items), desc="preference search", unit="item",
                       initial=len(items) - sum(len(_range(k, s, items)) for k in todo))
        for k in todo:
            _write_shard(out, k, [(i, items[i]) for i in _range(k, s, items)], tts, cfg, s,
                         registry, voices, bar)
        bar.close()
    return write_index(out, n_shards)


def _range(k: int, s: PrefDataSettings, items) -> range:
    return range(k * s.shard_items, min(len(items), (k + 1) * s.shard_items))


def _shard(k: int) -> str:
    return f"shard-{k:05d}"


def _fingerprint(items: list[PrefItem]) -> str:
    h = hashlib.sha256()
    for it in items:
        h.update(json.dumps(dataclasses.asdict(it), sort_keys=True).encode())
    return h.hexdigest()[:16]


def _write_shard(out: Path, k: int, chunk, tts, cfg, s: PrefDataSettings, registry, voices,
                 bar) -> None:
    from ..search import search

    prompts, codes, cand_item, reward, ended, pairs, metas, cands = [], [], [], [], [], [], [], []
    for j, (i, it) in enumerate(chunk):
        voice = None
        if it.prompt_wav is not None:
            key = (it.prompt_wav, it.prompt_text)
            if key not in voices:
                voices[key] = tts.voice_from_audio(it.prompt_wav, it.prompt_text)
            voice = voices[key]
        seed = item_seed(s.seed, i)
        t0 = time.perf_counter()
        res = search(tts, it.text, voice, cfg, registry=registry, language=it.language,
                     seed=seed, **s.sampling)
        prompts.append(np.asarray(tts.build_prompt(it.text, voice), np.int32))
        start = len(cand_item)
        r = np.array([c.rank_score for c in res.candidates], np.float64)
        for c in res.candidates:
            codes.append(np.asarray(c.codes, np.int32))
            cand_item.append(j)
            ended.append(bool(c.ended))
            cands.append({"item": j, "tokens": int(c.num_tokens),
                          "scores": {a: _num(b) for a, b in c.scores.items()},
                          "transcript": c.meta.get("transcript")})
        reward.extend(r.tolist())
        ok = ~np.isnan(r)
        if ok.sum() >= 2:
            best = int(np.nanargmax(r))
            worst = int(np.nanargmin(r))
            if r[best] - r[worst] >= s.margin and best != worst:
                pairs.append((start + best, start + worst))
        metas.append({**dataclasses.asdict(it), "seed": seed, "candidates": len(r),
                      "compute": res.compute.to_dict(),
                      "seconds": round(time.perf_counter() - t0, 3)})
        if bar is not None:
            bar.update(1)
    tmp = out / f".{_shard(k)}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    arrays = {"prompt_ids": np.concatenate(prompts), "prompt_offsets": _offsets(prompts),
              "codes": np.concatenate(codes) if codes else np.zeros(0, np.int32),
              "code_offsets": _offsets(codes), "cand_item": np.asarray(cand_item, np.int32),
              "reward": np.asarray(reward, np.float64), "ended": np.asarray(ended, bool),
              "pairs": np.asarray(pairs, np.int32).reshape(-1, 2)}
    for name, arr in arrays.items():
        with open(tmp / f"{name}.npy", "wb") as f:
            np.save(f, arr)
            f.flush()
            os.fsync(f.fileno())
    meta = {"format": FORMAT, "version": VERSION, "items": metas, "candidates": cands}
    with open(tmp / "meta.json", "w", encoding="utf-8") as f:  # last: marks a whole shard
        json.dump(meta, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    final = out / _shard(k)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def _offsets(parts) -> np.ndarray:
    off = np.zeros(len(parts) + 1, np.int64)
    off[1:] = np.cumsum([len(p) for p in parts])
    return off


def _num(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else round(x, 6)


def write_index(out: Path, n_shards: int | None = None) -> dict:
    """Rebuild ``index.json`` (totals and compute) from the shards; returns it."""
    out = Path(out)
    shards = sorted(p for p in out.glob("shard-*") if (p / "meta.json").is_file())
    tot = {"items": 0, "candidates": 0, "pairs": 0, "lm_tokens": 0, "verifier_seconds": 0.0,
           "verifier_clips": 0, "lm_seconds": 0.0, "decode_seconds": 0.0, "wall_seconds": 0.0}
    for p in shards:
        meta = json.loads((p / "meta.json").read_text())
        tot["items"] += len(meta["items"])
        tot["candidates"] += len(meta["candidates"])
        tot["pairs"] += int(np.load(p / "pairs.npy").shape[0])
        for it in meta["items"]:
            for key in ("lm_tokens", "verifier_seconds", "verifier_clips", "lm_seconds",
                        "decode_seconds", "wall_seconds"):
                tot[key] += it["compute"][key]
    tot = {k: round(v, 3) if isinstance(v, float) else v for k, v in tot.items()}
    index = {"format": FORMAT, "version": VERSION, "shards": [p.name for p in shards],
             "complete": n_shards is not None and len(shards) == n_shards, **tot}
    atomic_write_json(out / "index.json", index)
    return index
