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
from typing import Any

import numpy as np

from ..audio.crossfade import Crossfader
from ..lm.settings import GenerationSettings
from .longform import CROSSFADE_SECONDS, next_carry
from .plan import Plan, PlanConfig, plan
from .voices import Voice


class AudioStream:
    """Iterator of float32 audio chunks [m]; see the module docstring.

    Args:
        lm, codec, config: as the pipeline holds them (:meth:`Llasa.stream` builds this).
        chunks: the checked text, split into long-text chunks.
        voice, settings, stream_settings: the voice prompt, sampling and codec windows.
        carry: prompt each text chunk with the previous one too.
        should_stop: asked once per LM step; True raises ``Cancelled``.

    Attributes:
        info: filled while iterating: ``tokens``, ``ended``, ``chunks``, ``first_audio_tokens``,
            ``first_audio_seconds``, ``seconds`` (audio yielded so far), ``timings``.
        codes: int64 codes [t] generated so far (all text chunks, concatenated).
    """

    def __init__(self, lm: Any, codec: Any, config: PlanConfig, chunks: list[str],
                 voice: Voice | None, settings: GenerationSettings, stream_settings: Any = None,
                 *, carry: bool = True, crossfade_seconds: float = CROSSFADE_SECONDS,
                 should_stop: Any = None):
        self._lm, self._codec, self._config = lm, codec, config
        self._voice, self._settings, self._carry = voice, settings, carry
        self._stream_settings = stream_settings
        self._should_stop = should_stop
        self.sample_rate = int(codec.sample_rate)
        self._overlap = int(round(crossfade_seconds * self.sample_rate))
        self.chunks = list(chunks)
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

    def _chunk_audio(self, p: Plan, end: list) -> Iterator[np.ndarray]:
        """Audio of one text chunk, as the codec's streaming decoder yields it; the LM's
        closing record lands in ``end``."""
        got: list[np.ndarray] = []
        self._codes.append(np.zeros(0, np.int64))
        # Same left context as the non-streaming render; its audio is skipped below.
        skip = len(p.context) * self._codec.hop_length

        def codes() -> Iterator[np.ndarray]:
            if len(p.context):
                yield p.context
            for c in self._lm.stream(p.prompt, p.settings, should_stop=self._should_stop):
                if not isinstance(c, np.ndarray):  # the closing Generation record
                    end.append(c)
                    continue
                c = np.asarray(c, dtype=np.int64).reshape(-1)
                got.append(c)
                self._codes[-1] = np.concatenate(got)
                yield c

        for audio in self._codec.decode_stream(codes(), self._stream_settings):
            audio = np.asarray(audio, dtype=np.float32).reshape(-1)
            if skip:
                cut = min(skip, len(audio))
                audio, skip = audio[cut:], skip - cut
            if len(audio):
                yield audio

    def _run(self) -> Iterator[np.ndarray]:
        t0 = time.perf_counter()
        carry = None
        fader = Crossfader(self._overlap)  # holds a chunk's tail for the next one's head
        for i, chunk in enumerate(self.chunks):
            p = plan(self._lm, chunk, self._voice, self._settings, self._config, carry=carry,
                     seed_offset=i)
            if i:
                out = fader.end_piece()
                if len(out):
                    yield self._emit(out, t0)
            fader.last = i == len(self.chunks) - 1  # its audio goes out as it comes
            end: list = []
            for audio in self._chunk_audio(p, end):
                out = fader.feed(audio)
                if len(out):
                    yield self._emit(out, t0)
            self.info["tokens"] += len(self._codes[-1])
            ended = bool(end[0].ended)
            self.info["ended"] &= ended
            if self._carry:
                carry = next_carry(chunk, self._codes[-1], ended, carry)
        out = fader.flush()
        if len(out):
            yield self._emit(out, t0)
        self.info["timings"] = {"total": time.perf_counter() - t0}
