"""On-disk format of prepared training data: memory-mappable shards of codec codes + an index.

Notation: ``n`` utterances in a shard, ``t`` codec codes in it (all utterances concatenated).

Layout of a prepared folder::

    index.json                 format, version, codebook_size, shards [{name, count, tokens}],
                               totals, complete flag (rebuilt from the shards at any time)
    report.json                every skipped input with its reason
    plan.json                  fingerprint of the manifest + settings (guards resume)
    shard-00000/
        codes.npy              [t] uint16 when codebook_size <= 65536, else int32
        offsets.npy            [n + 1] int64: utterance i is codes[offsets[i]:offsets[i+1]]
        text.npy               [bytes] uint8: UTF-8 transcripts concatenated
        text_offsets.npy       [n + 1] int64
        speakers.npy           [n] int32: index into meta.json "speakers", -1 when unknown
        meta.json              count, tokens, speakers, sources, skipped, codebook_size, version

A shard is built in a hidden temporary folder and renamed into place in one ``os.replace``, so
a folder named ``shard-*`` is always complete: a run killed at any moment (even ``kill -9``)
leaves at most a stale temporary folder, which the next run deletes and rebuilds.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..._common.errors import InputError

FORMAT = "llasa-code-shards"
VERSION = 1


def shard_name(index: int) -> str:
    return f"shard-{index:05d}"


def _fsync_write_json(path: Path, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, arr)
        f.flush()
        os.fsync(f.fileno())


def atomic_write_json(path: Path, obj) -> None:
    """Write JSON to ``path`` via a temporary file + rename (never a half-written file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    _fsync_write_json(tmp, obj)
    os.replace(tmp, path)


def codes_dtype(codebook_size: int) -> np.dtype:
    """Smallest dtype holding codes in [0, codebook_size): uint16 for X-codec2's 65 536."""
    return np.dtype(np.uint16) if codebook_size <= 65536 else np.dtype(np.int32)


def write_shard(root: str | Path, index: int, *, codes: list[np.ndarray], texts: list[str],
                speakers: list[str | None], codebook_size: int, sources: list[str] | None = None,
                skipped: list[dict] | None = None, extra: dict | None = None) -> Path:
    """Write one shard atomically.

    Args:
        root: the prepared-data folder.
        index: shard number (its name is ``shard-{index:05d}``).
        codes: per utterance int codes [T_i], each in [0, codebook_size).
        texts: per utterance transcript.
        speakers: per utterance speaker name or None.
        codebook_size: codec codebook size (checked against every code).
        sources: per utterance source audio path (kept for traceability).
        skipped: inputs of this shard that were left out, as ``{"audio", "reason"}`` dicts.
        extra: more JSON-able facts for meta.json.

    Returns:
        The final shard folder.

    Raises:
        InputError: lists of different lengths or a code outside the codebook.
    """
    n = len(codes)
    if not (len(texts) == len(speakers) == n) or (sources is not None and len(sources) != n):
        raise InputError("write_shard: codes, texts, speakers and sources must have one entry "
                         "per utterance")
    root = Path(root)
    final = root / shard_name(index)
    dtype = codes_dtype(codebook_size)
    flat = (np.concatenate([np.asarray(c, dtype=np.int64).reshape(-1) for c in codes])
            if n else np.zeros(0, np.int64))
    if flat.size and (flat.min() < 0 or flat.max() >= codebook_size):
        raise InputError(f"codes outside the codebook [0, {codebook_size}): found values in "
                         f"[{flat.min()}, {flat.max()}]")
    offsets = np.zeros(n + 1, np.int64)
    offsets[1:] = np.cumsum([len(np.asarray(c).reshape(-1)) for c in codes])
    raw = [t.encode("utf-8") for t in texts]
    text_offsets = np.zeros(n + 1, np.int64)
    text_offsets[1:] = np.cumsum([len(b) for b in raw])
    names = sorted({s for s in speakers if s is not None})
    lookup = {s: k for k, s in enumerate(names)}
    spk = np.array([lookup[s] if s is not None else -1 for s in speakers], np.int32)

    tmp = root / f".{shard_name(index)}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _save_npy(tmp / "codes.npy", flat.astype(dtype))
    _save_npy(tmp / "offsets.npy", offsets)
    _save_npy(tmp / "text.npy", np.frombuffer(b"".join(raw), np.uint8))
    _save_npy(tmp / "text_offsets.npy", text_offsets)
    _save_npy(tmp / "speakers.npy", spk)
    meta = {"format": FORMAT, "version": VERSION, "count": n, "tokens": int(flat.size),
            "codebook_size": int(codebook_size), "speakers": names,
            "sources": list(sources) if sources is not None else None,
            "skipped": list(skipped or []), **(extra or {})}
    _fsync_write_json(tmp / "meta.json", meta)  # written last: its presence marks a full shard
    if final.exists():  # an earlier run finished this shard after all: keep the new one
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def clean_stale(root: str | Path, index: int) -> None:
    """Delete temporary folders that a killed run left for shard ``index``."""
    for p in Path(root).glob(f".{shard_name(index)}.tmp*"):
        shutil.rmtree(p, ignore_errors=True)


def shard_done(root: str | Path, index: int) -> bool:
    return (Path(root) / shard_name(index) / "meta.json").is_file()


def read_meta(shard_dir: str | Path) -> dict:
    p = Path(shard_dir) / "meta.json"
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read shard metadata {p}: {e}") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise InputError(f"{p}: not a llasa code shard of version {VERSION}")
    return meta


def build_index(root: str | Path, expected_shards: int | None = None,
                extra: dict | None = None) -> dict:
    """(Re)build ``index.json`` and ``report.json`` from the shard folders present.

    ``complete`` is true when all ``expected_shards`` exist. Safe to call from several ranks:
    each call writes a full, consistent file with an atomic rename.
    """
    root = Path(root)
    metas = [(p.name, read_meta(p)) for p in sorted(root.glob("shard-*")) if p.is_dir()]
    sizes = {m["codebook_size"] for _, m in metas}
    if len(sizes) > 1:
        raise InputError(f"{root}: shards disagree on the codebook size {sorted(sizes)}")
    speakers = sorted({s for _, m in metas for s in m["speakers"]})
    index = {
        "format": FORMAT, "version": VERSION,
        "codebook_size": sizes.pop() if sizes else None,
        "shards": [{"name": n, "count": m["count"], "tokens": m["tokens"]} for n, m in metas],
        "num_items": sum(m["count"] for _, m in metas),
        "num_tokens": sum(m["tokens"] for _, m in metas),
        "num_skipped": sum(len(m["skipped"]) for _, m in metas),
        "speakers": speakers,
        "expected_shards": expected_shards,
        "complete": expected_shards is None or len(metas) >= expected_shards,
        **(extra or {}),
    }
    atomic_write_json(root / "index.json", index)
    skipped = [dict(s, shard=n) for n, m in metas for s in m["skipped"]]
    atomic_write_json(root / "report.json", {"num_skipped": len(skipped), "skipped": skipped})
    return index


def _shard_dirs(root: Path, allow_incomplete: bool) -> tuple[list[Path], dict]:
    """The shard folders of one prepared folder and its index (checked for completeness)."""
    dirs = sorted(p for p in root.glob("shard-*") if p.is_dir())
    if not dirs:
        raise InputError(f"{root}: no prepared shards found (run `llasa data prepare`)")
    idx_path = root / "index.json"
    index = json.loads(idx_path.read_text()) if idx_path.is_file() else {}
    # Completeness comes from the shards present, not the index's flag: under torchrun
    # another rank may have written index.json before the last shard landed.
    expected = index.get("expected_shards")
    if not allow_incomplete and expected is not None and len(dirs) < expected:
        raise InputError(f"{root}: preparation has not finished ({len(dirs)}/{expected}"
                         " shards); run `llasa data prepare` again to complete it")
    return dirs, index


def _load_mmap(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r")
    except ValueError:  # numpy cannot memory-map an empty array: load it (it is empty)
        return np.load(path)


@dataclass(frozen=True)
class Utterance:
    """One prepared utterance: transcript, codec codes [T] (int64) and speaker (or None)."""

    text: str
    codes: np.ndarray
    speaker: str | None


class CodeShards:
    """Read-only, memory-mapped view of prepared folders: ``shards[i] -> Utterance``.

    Codes stay on disk (``np.load(mmap_mode="r")``) until an item is read, so folders larger
    than memory work. ``lengths`` [N] gives the code count of every item without reading codes.

    Args:
        root: a folder written by ``llasa data prepare`` / ``import-official``, or a list of
            such folders, read as one in the order given (they must share a codebook size;
            a speaker name means the same voice in every folder).
        allow_incomplete: read a folder whose run has not finished all its shards.
    """

    def __init__(self, root: str | Path | list | tuple, allow_incomplete: bool = False):
        self.roots = ([Path(r) for r in root] if isinstance(root, (list, tuple))
                      else [Path(root)])
        if not self.roots:
            raise InputError("no prepared folder given")
        if len(set(self.roots)) != len(self.roots):
            raise InputError(f"a prepared folder is named twice: {[str(r) for r in self.roots]}")
        self.root = self.roots[0]
        self.index = {}  # index.json of a single folder (summed counts for several)
        dirs: list[Path] = []
        for r in self.roots:
            found, index = _shard_dirs(r, allow_incomplete)
            dirs += found
            if len(self.roots) == 1:
                self.index = index
            else:
                self.index["num_skipped"] = (self.index.get("num_skipped", 0)
                                             + index.get("num_skipped", 0))
        self._codes, self._offsets, self._text, self._toff, self._spk = [], [], [], [], []
        self._names: list[list[str]] = []
        self._sources: list[list[str] | None] = []
        self._dirnames: list[str] = []
        sizes, counts = set(), []
        for d in dirs:
            meta = read_meta(d)
            sizes.add(meta["codebook_size"])
            self._dirnames.append(str(d))
            self._codes.append(_load_mmap(d / "codes.npy"))
            self._offsets.append(np.load(d / "offsets.npy"))
            self._text.append(_load_mmap(d / "text.npy"))
            self._toff.append(np.load(d / "text_offsets.npy"))
            self._spk.append(np.load(d / "speakers.npy"))
            self._names.append(meta["speakers"])
            self._sources.append(meta.get("sources"))
            counts.append(meta["count"])
        if len(sizes) != 1:
            where = str(self.root) if len(self.roots) == 1 else "the prepared folders"
            raise InputError(f"{where}: shards disagree on the codebook size {sorted(sizes)}")
        self.codebook_size = int(sizes.pop())
        self._starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.lengths = (np.concatenate([np.diff(o) for o in self._offsets])
                        if counts else np.zeros(0, np.int64))

    def __len__(self) -> int:
        return int(self._starts[-1])

    def _locate(self, i: int) -> tuple[int, int]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"item {i} out of range for {n} utterances")
        i %= n
        s = int(np.searchsorted(self._starts, i, side="right") - 1)
        return s, i - int(self._starts[s])

    def codes(self, i: int) -> np.ndarray:
        """Codes [T_i] (int64) of item ``i`` without decoding its text."""
        s, j = self._locate(i)
        o = self._offsets[s]
        return np.asarray(self._codes[s][o[j]:o[j + 1]], dtype=np.int64)

    def text(self, i: int) -> str:
        s, j = self._locate(i)
        o = self._toff[s]
        return bytes(self._text[s][o[j]:o[j + 1]]).decode("utf-8")

    def speaker(self, i: int) -> str | None:
        s, j = self._locate(i)
        k = int(self._spk[s][j])
        return None if k < 0 else self._names[s][k]

    def source(self, i: int) -> str | None:
        """The audio file item ``i`` was encoded from, as ``data prepare`` read it (None when
        the shard does not record sources)."""
        s, j = self._locate(i)
        names = self._sources[s]
        return None if names is None else names[j]

    def __getitem__(self, i: int) -> Utterance:
        return Utterance(text=self.text(i), codes=self.codes(i), speaker=self.speaker(i))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    @property
    def num_shards(self) -> int:
        return len(self._codes)

    @property
    def speakers(self) -> list[str]:
        return sorted({s for names in self._names for s in names})

    def validate(self, vocab=None) -> None:
        """Check every shard: offsets consistent, codes inside the codebook and, when a
        ``SpeechVocab`` is given, inside its speech-token range.

        Raises:
            InputError: naming the shard and the problem.
        """
        if vocab is not None and vocab.codebook_size < self.codebook_size:
            raise InputError(f"the tokenizer has {vocab.codebook_size} speech tokens but the data "
                             f"uses a codebook of {self.codebook_size}")
        for s, (codes, off, toff) in enumerate(zip(self._codes, self._offsets, self._toff)):
            name = self._dirnames[s]
            if off[0] != 0 or off[-1] != codes.size or np.any(np.diff(off) < 0):
                raise InputError(f"{name}: code offsets do not match the codes")
            if toff[0] != 0 or toff[-1] != self._text[s].size or np.any(np.diff(toff) < 0):
                raise InputError(f"{name}: text offsets do not match the text")
            if codes.size and int(codes.max()) >= self.codebook_size:
                raise InputError(f"{name}: code {int(codes.max())} is outside the "
                                 f"codebook of {self.codebook_size}")
