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
from typing import Any

import numpy as np

from .._common.log import progress
from ..audio.crossfade import crossfade
from ..lm.settings import GenerationSettings
from .plan import PlanConfig, plan, render
from .types import SynthesisResult
from .voices import Voice

MAX_CARRY_TOKENS = 750  # 15 s, the same bound as a voice prompt
CROSSFADE_SECONDS = 0.05


def next_carry(chunk: str, codes: np.ndarray, ended: bool,
               old: tuple[str, np.ndarray] | None,
               max_carry_tokens: int = MAX_CARRY_TOKENS) -> tuple[str, np.ndarray] | None:
    """The continuation context after a chunk: that chunk if it qualifies, else the old one."""
    if ended and 0 < len(codes) <= max_carry_tokens:
        return chunk, np.asarray(codes, dtype=np.int64)
    return old


def synthesize_long(lm: Any, codec: Any, config: PlanConfig, chunks: list[str],
                    voice: Voice | None, settings: GenerationSettings, *, carry: bool = True,
                    t0: float | None = None, crossfade_seconds: float = CROSSFADE_SECONDS,
                    should_stop: Callable[[], bool] | None = None) -> SynthesisResult:
    """Synthesise checked ``chunks`` in order and join them (see the module docstring).

    ``carry``: prompt each chunk with the previous one too. ``should_stop`` is asked once per
    decoding step (raises ``Cancelled`` when True)."""
    t0 = time.perf_counter() if t0 is None else t0
    sr = int(codec.sample_rate)
    carried_chunk: tuple[str, np.ndarray] | None = None
    pieces, codes = [], []
    tokens, ended, carried = 0, True, 0
    t_gen = t_dec = 0.0
    for i, chunk in enumerate(progress(chunks, desc="chunks", unit="chunk")):
        p = plan(lm, chunk, voice, settings, config, carry=carried_chunk, seed_offset=i)
        t1 = time.perf_counter()
        g = lm.generate([p.prompt], p.settings, should_stop=should_stop)[0][0]
        t2 = time.perf_counter()
        pieces.append(render(codec, p, [g.codes])[0])
        t_gen, t_dec = t_gen + t2 - t1, t_dec + time.perf_counter() - t2
        codes.append(np.asarray(g.codes, dtype=np.int64))
        tokens += int(g.num_tokens)
        ended &= bool(g.ended)
        carried += p.carried
        if carry:
            carried_chunk = next_carry(chunk, g.codes, g.ended, carried_chunk)
    audio = crossfade(pieces, int(round(crossfade_seconds * sr)))
    info = {"tokens": tokens, "ended": ended, "seconds": len(audio) / sr,
            "chunks": len(chunks), "chunks_carried": carried,
            "chunk_texts": list(chunks), "chunk_tokens": [len(c) for c in codes],
            "timings": {"generate": t_gen, "decode": t_dec, "total": time.perf_counter() - t0}}
    return SynthesisResult(audio=audio, sample_rate=sr,
                           codes=np.concatenate(codes) if codes else np.zeros(0, np.int64),
                           info=info)
