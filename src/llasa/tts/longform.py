"""Long text: sentence chunks synthesised in turn, each continuing the previous one.

For chunk ``i`` the prompt is the official cloning prompt whose "prompt" part is
``voice`` (if any) followed by the previous chunk's text and codes, so the LM continues the
same speaker and prosody. The carried chunk is bounded:

- only a chunk that ended on SPEECH_GENERATION_END and has at most ``max_carry_tokens`` codes
  (15 s) is carried (a chunk that hit its cap may end mid-word);
- it is dropped for this step when prompt + carry would leave less room in the context than a
  normal reading of the chunk needs (then the voice alone, or nothing, is the prompt).

``TextLimits(carry=False)`` turns carrying off: every chunk is then prompted by the voice alone.

Chunk audio is joined with a short raised-cosine crossfade (50 ms by default), so the joined
audio is ``(chunks - 1) * overlap`` samples shorter than the sum of the chunk lengths.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from .._common.log import progress
from ..lm.settings import GenerationSettings
from .types import TOKENS_PER_SECOND, SynthesisResult
from .voices import Voice

if TYPE_CHECKING:
    from .pipeline import Llasa

MAX_CARRY_TOKENS = 750  # 15 s, the same bound as a voice prompt
CROSSFADE_SECONDS = 0.05
_CHARS_PER_SECOND = 12.0  # a normal reading pace, used only to decide whether a carry fits


@dataclass
class ChunkPlan:
    """Prompt ids and settings for one chunk (``carried``: previous chunk in the prompt)."""

    prompt: list[int]
    settings: GenerationSettings
    carried: bool


def typical_tokens(text: str) -> int:
    """Tokens a normal reading of ``text`` takes, plus one second of slack."""
    return int((len(text) / _CHARS_PER_SECOND + 1.0) * TOKENS_PER_SECOND)


def plan_chunk(tts: Llasa, chunk: str, index: int, voice: Voice | None,
               carry: tuple[str, np.ndarray] | None,
               settings: GenerationSettings) -> ChunkPlan:
    """Build the prompt for chunk ``index`` (carrying ``carry`` when it fits)."""
    prompt = tts.build_prompt(chunk, voice, context=carry) if carry is not None else None
    carried = prompt is not None and (
        tts.lm.max_context - len(prompt) >= typical_tokens(chunk))
    if not carried:
        prompt = tts.build_prompt(chunk, voice)
    budget = tts.token_budget(chunk, len(prompt), settings)
    values = {f.name: getattr(settings, f.name) for f in fields(GenerationSettings)}
    values["max_new_tokens"] = budget
    if settings.seed is not None:  # distinct but reproducible noise per chunk
        values["seed"] = int(settings.seed) + index
    return ChunkPlan(prompt=prompt, settings=GenerationSettings(**values), carried=carried)


def next_carry(chunk: str, codes: np.ndarray, ended: bool,
               old: tuple[str, np.ndarray] | None,
               max_carry_tokens: int = MAX_CARRY_TOKENS) -> tuple[str, np.ndarray] | None:
    """The continuation context after a chunk: that chunk if it qualifies, else the old one."""
    if ended and 0 < len(codes) <= max_carry_tokens:
        return chunk, np.asarray(codes, dtype=np.int64)
    return old


def fade_curves(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Raised-cosine fade-out / fade-in of ``n`` samples (they sum to 1 at every sample)."""
    t = (np.arange(n, dtype=np.float32) + 0.5) / max(n, 1)
    fade_in = np.sin(0.5 * np.pi * t) ** 2
    return (1.0 - fade_in).astype(np.float32), fade_in.astype(np.float32)


def crossfade(pieces: list[np.ndarray], overlap: int) -> np.ndarray:
    """Join waveforms [n_i] overlapping each junction by ``overlap`` samples (fewer when a
    piece is shorter). Returns float32 [sum n_i - overlaps]."""
    if not pieces:
        return np.zeros(0, np.float32)
    out = np.asarray(pieces[0], dtype=np.float32)
    for p in pieces[1:]:
        p = np.asarray(p, dtype=np.float32)
        k = min(overlap, len(out), len(p))
        if k == 0:
            out = np.concatenate([out, p])
            continue
        fade_out, fade_in = fade_curves(k)
        mixed = out[-k:] * fade_out + p[:k] * fade_in
        out = np.concatenate([out[:-k], mixed, p[k:]])
    return out


def synthesize_long(tts: Llasa, chunks: list[str], voice: Voice | None,
                    settings: GenerationSettings, *, t0: float | None = None,
                    crossfade_seconds: float = CROSSFADE_SECONDS,
                    should_stop: Callable[[], bool] | None = None) -> SynthesisResult:
    """Synthesise ``chunks`` in order and join them (see the module docstring).

    ``should_stop`` is asked once per decoding step (raises ``Cancelled`` when True)."""
    t0 = time.perf_counter() if t0 is None else t0
    carry: tuple[str, np.ndarray] | None = None
    pieces, codes = [], []
    tokens, ended, carried = 0, True, 0
    t_gen = t_dec = 0.0
    for i, chunk in enumerate(progress(chunks, desc="chunks", unit="chunk")):
        plan = plan_chunk(tts, chunk, i, voice, carry, settings)
        t1 = time.perf_counter()
        g = tts.lm.generate([plan.prompt], plan.settings, should_stop=should_stop)[0][0]
        t2 = time.perf_counter()
        pieces.append(tts.decode([g.codes], [tts.context_codes(plan.prompt)])[0])
        t_gen, t_dec = t_gen + t2 - t1, t_dec + time.perf_counter() - t2
        codes.append(np.asarray(g.codes, dtype=np.int64))
        tokens += int(g.num_tokens)
        ended &= bool(g.ended)
        carried += plan.carried
        if tts.carry:
            carry = next_carry(chunk, g.codes, g.ended, carry)
    audio = crossfade(pieces, int(round(crossfade_seconds * tts.sample_rate)))
    info = {"tokens": tokens, "ended": ended, "seconds": len(audio) / tts.sample_rate,
            "chunks": len(chunks), "chunks_carried": carried,
            "chunk_texts": list(chunks), "chunk_tokens": [len(c) for c in codes],
            "timings": {"generate": t_gen, "decode": t_dec, "total": time.perf_counter() - t0}}
    return SynthesisResult(audio=audio, sample_rate=tts.sample_rate,
                           codes=np.concatenate(codes) if codes else np.zeros(0, np.int64),
                           info=info)
