"""Import the official Llasa pre-tokenised memmap format into llasa code shards.

The official format (LLaSA_training ``get_memmap_from_token.py``; the public 160k-hour tokenised
set uses it) is ``{split}_input_ids.memmap``: int32 ``[N, L]`` (L = 2048) next to
``{split}_input_ids_shape.npy`` holding ``(N, L)``. Each row is::

    TEXT_UNDERSTANDING_START, BPE(text)..., TEXT_UNDERSTANDING_END,
    SPEECH_GENERATION_START, <|s_code|>..., SPEECH_GENERATION_END, pad... (pad = <|eot_id|>)

We recover the text with the tokenizer (``decode``) and the codes as ``id - speech_offset``.
Rows cut at L before SPEECH_GENERATION_END, and malformed rows, are skipped and reported: a
truncated row would teach the model to stop speaking mid-sentence.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..._common.errors import InputError
from ..._common.log import progress
from ..._common.units import HOP_LENGTH, SAMPLE_RATE
from . import shards as sh
from .prepare import check_vocab


def official_paths(path: str | Path) -> tuple[Path, Path]:
    """(memmap file, shape file) for ``X_input_ids.memmap`` or its shape file."""
    p = Path(path)
    name = p.name
    if name.endswith("_input_ids_shape.npy"):
        mm = p.with_name(name[: -len("_shape.npy")] + ".memmap")
    elif name.endswith(".memmap"):
        mm = p
    else:
        raise InputError(f"{p}: expected an official '*_input_ids.memmap' file (with its "
                         "'*_input_ids_shape.npy' beside it)")
    shape = mm.with_name(mm.name[: -len(".memmap")] + "_shape.npy")
    for q in (mm, shape):
        if not q.is_file():
            raise InputError(f"file not found: {q}")
    return mm, shape


def open_official(path: str | Path) -> np.memmap:
    """Memory-map an official file as int32 [N, L], checking its size against the shape file."""
    mm, shape_file = official_paths(path)
    shape = tuple(int(x) for x in np.load(shape_file).reshape(-1))
    if len(shape) != 2 or min(shape) < 1:
        raise InputError(f"{shape_file}: expected a shape (N, L), got {shape}")
    expected = shape[0] * shape[1] * 4
    if mm.stat().st_size != expected:
        raise InputError(f"{mm}: {mm.stat().st_size} bytes, but shape {shape} of int32 needs "
                         f"{expected}: the files do not belong together or the memmap is cut")
    return np.memmap(mm, dtype=np.int32, mode="r", shape=shape)


def parse_row(row: np.ndarray, vocab) -> tuple[np.ndarray, np.ndarray] | str:
    """Split one official row into (text ids [t], codes [T]) or return why it is unusable."""
    row = np.asarray(row, dtype=np.int64)

    def first(tok: int) -> int | None:
        hit = np.flatnonzero(row == tok)
        return int(hit[0]) if hit.size else None

    ts, te = first(vocab.text_start), first(vocab.text_end)
    ss, se = first(vocab.speech_start), first(vocab.speech_end)
    if ts is None or te is None or ss is None:
        return "malformed: missing TEXT_UNDERSTANDING or SPEECH_GENERATION_START markers"
    if not ts < te < ss:
        return "malformed: markers out of order"
    if se is None:
        return f"truncated at {row.size} tokens (no SPEECH_GENERATION_END)"
    ids = row[ss + 1:se]
    if ids.size == 0:
        return "empty speech"
    if not vocab.is_speech(ids).all():
        return "malformed: non-speech token between SPEECH_GENERATION_START and END"
    return row[ts + 1:te], ids - vocab.speech_offset


def import_official(path: str | Path, out_dir: str | Path, tokenizer, *,
                    shard_size: int = 5000, limit: int | None = None) -> dict:
    """Convert an official ``*_input_ids.memmap`` into shards in ``out_dir`` (resumable).

    Args:
        path: the ``.memmap`` file (or its ``_shape.npy``).
        out_dir: output folder of llasa shards.
        tokenizer: the Llasa tokenizer the rows were made with (for the text and token ids).
        shard_size: rows per shard.
        limit: import only the first ``limit`` rows.

    Returns:
        The written ``index.json`` as a dict.
    """
    from ...lm.tokens import SpeechVocab

    if shard_size < 1:
        raise InputError("shard_size must be at least 1")
    vocab = SpeechVocab.from_tokenizer(tokenizer)
    check_vocab(tokenizer, vocab.codebook_size)
    data = open_official(path)
    n = data.shape[0] if limit is None else min(int(limit), data.shape[0])
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    n_shards = math.ceil(n / shard_size)
    todo = [s for s in range(n_shards) if not sh.shard_done(root, s)]
    bar = progress(total=sum(min(shard_size, n - s * shard_size) for s in todo),
                   desc="importing", unit="row")
    for s in todo:
        sh.clean_stale(root, s)
        codes, texts, sources, skipped = [], [], [], []
        for r in range(s * shard_size, min((s + 1) * shard_size, n)):
            parsed = parse_row(data[r], vocab)
            if isinstance(parsed, str):
                skipped.append({"audio": f"row {r}", "reason": parsed})
            else:
                text_ids, c = parsed
                texts.append(tokenizer.decode(text_ids.tolist()))
                codes.append(c)
                sources.append(f"row {r}")
            bar.update(1)
        sh.write_shard(root, s, codes=codes, texts=texts, speakers=[None] * len(codes),
                       codebook_size=vocab.codebook_size, sources=sources, skipped=skipped,
                       extra={"imported_from": str(Path(path).resolve())})
    bar.close()
    return sh.build_index(root, n_shards, extra={"sample_rate": SAMPLE_RATE, "hop_length": HOP_LENGTH})


def export_official(shards_dir: str | Path, out_prefix: str | Path, tokenizer, *,
                    max_len: int = 2048) -> Path:
    """Write our shards in the official memmap format (rows truncated / padded to ``max_len``).

    Used to check the importer and to feed the official training scripts from our data.

    Returns:
        The ``{out_prefix}_input_ids.memmap`` path (its shape file is written beside it).
    """
    from ...lm.tokens import SpeechVocab

    vocab = SpeechVocab.from_tokenizer(tokenizer)
    ds = sh.CodeShards(shards_dir)
    pad = tokenizer.convert_tokens_to_ids("<|eot_id|>")
    if pad is None or pad == tokenizer.unk_token_id:
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    mm_path = Path(f"{out_prefix}_input_ids.memmap")
    mm_path.parent.mkdir(parents=True, exist_ok=True)
    out = np.memmap(mm_path, dtype=np.int32, mode="w+", shape=(len(ds), max_len))
    for i, u in enumerate(ds):
        text = tokenizer(u.text, add_special_tokens=False)["input_ids"]
        row = ([vocab.text_start] + list(text) + [vocab.text_end, vocab.speech_start]
               + vocab.code_to_id(u.codes).tolist() + [vocab.speech_end])[:max_len]
        out[i, :] = pad
        out[i, :len(row)] = row
    out.flush()
    np.save(Path(f"{out_prefix}_input_ids_shape.npy"), np.array([len(ds), max_len]))
    return mm_path
