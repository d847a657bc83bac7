"""Request and result types of the synthesis pipeline (plain dataclasses, numpy only).

Notation: ``n`` audio samples at 16 kHz, ``t`` codec frames (50 per second, 320 samples each).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._common.errors import InputError
from ..codec.config import FRAME_RATE  # the default; the pipeline passes its codec's rate


@dataclass
class SynthesisResult:
    """What :meth:`Llasa.synthesize` returns.

    Attributes:
        audio: float32 waveform [n] at ``sample_rate``; only the new speech (a voice prompt's
            audio is not included).
        sample_rate: 16000.
        codes: int64 codec codes [t] of the new speech (prompt codes excluded);
            ``len(audio) == 320 * len(codes)`` except for long text, where chunks are joined
            with a crossfade (then ``len(audio)`` is shorter by the overlaps).
        info: generation facts: ``tokens`` (LM tokens sampled), ``ended`` (every part stopped on
            SPEECH_GENERATION_END rather than the token cap), ``seconds`` (audio length),
            ``chunks`` (text chunks used), ``max_new_tokens`` (cap per chunk),
            ``timings`` (dict of wall seconds: ``generate``, ``decode``, ``total``).
    """

    audio: np.ndarray
    sample_rate: int
    codes: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Length of ``audio`` in seconds."""
        return len(self.audio) / self.sample_rate


def duration_to_tokens(seconds: float, tokens_per_second: int = FRAME_RATE) -> int:
    """Map a target duration to an exact token count (50 tokens per second, rounded).

    The audio of ``k`` tokens is exactly ``k * 320`` samples, so the result is exact to one
    token (20 ms). The LM cannot be told *how fast* to speak, so the pipeline uses the count
    as a hard cap and pads an earlier end with silence: too short a target cuts speech off,
    too long a target adds a silent tail (see docs/tts.md).
    """
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        raise InputError(f"duration must be a number of seconds, got {seconds!r}") from None
    if not np.isfinite(seconds) or seconds <= 0:
        raise InputError(f"duration must be a positive number of seconds, got {seconds}")
    return max(1, int(round(seconds * tokens_per_second)))

