"""Streaming synthesis: LM codes → codec streaming decoder → audio chunks as they are ready.

:class:`AudioStream` is what :meth:`Llasa.stream` returns: an iterator of float32 audio
chunks [m] at 16 kHz that also records what happened (``.info``, ``.codes``).

Latency: the first audio chunk is out once the codec's streaming decoder has the codes it
needs for its first chunk (``StreamSettings``' chunk + lookahead tokens, see
:mod:`llasa.codec.streaming`), i.e. that many LM steps after the prompt's prefill. With a voice
prompt, the prompt's last ``decode_context`` codes go first into the decoder (as in
:meth:`Llasa.decode`) and their audio is skipped, so the first new audio can come a few tokens
earlier. ``info["first_audio_tokens"]`` records the number of new codes generated when the
first chunk came out, and ``info["first_audio_seconds"]`` the wall time.

Long text streams chunk by chunk with the same prompts, seeds and crossfade as
:func:`llasa.tts.longform.synthesize_long`: the last ``overlap`` samples of a text chunk are
held back until the next text chunk's first samples arrive, so streaming and non-streaming
output agree within the codec's streaming tolerance.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..lm.sampling import GenerationSettings
from .longform import CROSSFADE_SECONDS, fade_curves, next_carry, plan_chunk
from .text import check_text, chunk_text
from .voices import Voice

if TYPE_CHECKING:
    from .pipeline import Llasa


class AudioStream:
    """Iterator of float32 audio chunks [m]; see the module docstring.

    Attributes:
        info: filled while iterating: ``tokens``, ``ended``, ``chunks``, ``first_audio_tokens``,
            ``first_audio_seconds``, ``seconds`` (audio yielded so far), ``timings``.
        codes: int64 codes [t] generated so far (all text chunks, concatenated).
    """

    def __init__(self, tts: Llasa, text: str, voice: Voice | None,
                 settings: GenerationSettings, stream_settings: Any = None,
                 crossfade_seconds: float = CROSSFADE_SECONDS, should_stop: Any = None):
        # Validate eagerly so bad input fails at the call, not at the first next().
        clean = check_text(text, tts.limits)
        tts._check_voice(voice)
        self._tts, self._voice, self._settings = tts, voice, settings
        self._stream_settings = stream_settings
        self._should_stop = should_stop  # asked once per LM step; True raises Cancelled
        self._overlap = int(round(crossfade_seconds * tts.sample_rate))
        self.chunks = chunk_text(clean, tts.limits.chunk_chars)
        self.sample_rate = tts.sample_rate
        self.info: dict = {"tokens": 0, "ended": True, "chunks": len(self.chunks),
                           "first_audio_tokens": None, "first_audio_seconds": None,
                           "seconds": 0.0, "timings": {}}
        self._codes: list[np.ndarray] = []
        self._it = self._run()

    @property
    def codes(self) -> np.ndarray:
        return np.concatenate(self._codes) if self._codes else np.zeros(0, np.int64)

    def __iter__(self) -> AudioStream:
        return self

    def __next__(self) -> np.ndarray:
        return next(self._it)

    def close(self) -> None:
        """Stop early: closes the LM and codec generators (e.g. a client disconnected)."""
        self._it.close()

    def _emit(self, audio: np.ndarray, t0: float) -> np.ndarray:
        if self.info["first_audio_seconds"] is None:
            self.info["first_audio_seconds"] = time.perf_counter() - t0
            self.info["first_audio_tokens"] = int(sum(len(c) for c in self._codes))
        self.info["seconds"] += len(audio) / self.sample_rate
        return audio

    def _chunk_audio(self, plan, t0: float) -> Iterator[np.ndarray]:
        """Audio of one text chunk, as the codec's streaming decoder yields it."""
        got: list[np.ndarray] = []
        self._codes.append(np.zeros(0, np.int64))
        # Same left context as the non-streaming decode; its audio is skipped below.
        context = self._tts.context_codes(plan.prompt)
        skip = len(context) * self._tts.codec.hop_length

        def codes() -> Iterator[np.ndarray]:
            if len(context):
                yield context
            for c in self._tts.lm.stream(plan.prompt, plan.settings,
                                         should_stop=self._should_stop):
                c = np.asarray(c, dtype=np.int64).reshape(-1)
                got.append(c)
                self._codes[-1] = np.concatenate(got)
                yield c

        for audio in self._tts.codec.decode_stream(codes(), self._stream_settings):
            audio = np.asarray(audio, dtype=np.float32).reshape(-1)
            if skip:
                cut = min(skip, len(audio))
                audio, skip = audio[cut:], skip - cut
            if len(audio):
                yield audio
        n = len(self._codes[-1])
        self.info["tokens"] += n
        # The LM stops early only on SPEECH_GENERATION_END.
        ended = n < plan.settings.max_new_tokens
        self.info["ended"] &= ended
        self._last = (n, ended)

    def _run(self) -> Iterator[np.ndarray]:
        t0 = time.perf_counter()
        carry = None
        held = np.zeros(0, np.float32)  # tail kept back for the next chunk's crossfade
        for i, chunk in enumerate(self.chunks):
            last = i == len(self.chunks) - 1
            if len(self.chunks) == 1:
                plan = _single_plan(self._tts, chunk, self._voice, self._settings)
            else:
                plan = plan_chunk(self._tts, chunk, i, self._voice, carry, self._settings)
            head = np.zeros(0, np.float32)
            mixed = i == 0
            for audio in self._chunk_audio(plan, t0):
                if not mixed:  # collect the new chunk's first samples, then crossfade
                    head = np.concatenate([head, audio])
                    if len(head) < self._overlap:
                        continue
                    audio, held, mixed = _mix(held, head, self._overlap), held[:0], True
                pending = np.concatenate([held, audio])
                keep = 0 if last else min(self._overlap, len(pending))
                held = pending[len(pending) - keep:]
                if len(pending) - keep:
                    yield self._emit(pending[:len(pending) - keep], t0)
            if not mixed:  # the chunk was shorter than the overlap
                pending = _mix(held, head, self._overlap)
                keep = 0 if last else min(self._overlap, len(pending))
                held = pending[len(pending) - keep:]
                if len(pending) - keep:
                    yield self._emit(pending[:len(pending) - keep], t0)
            if self._tts.carry:
                carry = next_carry(chunk, self._codes[-1], self._last[1], carry)
        if len(held):
            yield self._emit(held, t0)
        self.info["timings"] = {"total": time.perf_counter() - t0}


def _mix(held: np.ndarray, head: np.ndarray, overlap: int) -> np.ndarray:
    """``crossfade([held, head])`` for the held tail and the next chunk's head."""
    k = min(overlap, len(held), len(head))
    if k == 0:
        return np.concatenate([held, head])
    fade_out, fade_in = fade_curves(k)
    return np.concatenate([held[:-k], held[-k:] * fade_out + head[:k] * fade_in, head[k:]])


def _single_plan(tts: Llasa, text: str, voice: Voice | None, settings: GenerationSettings):
    """Same prompt and budget as a one-chunk :meth:`Llasa.synthesize` call."""
    from .longform import ChunkPlan

    prompt = tts.build_prompt(text, voice)
    budget = tts.token_budget(text, len(prompt), settings)
    return ChunkPlan(prompt=prompt, settings=tts._with_budget(settings, budget),
                     carried=False)
