"""Streaming decode as a push API, so that many streams' windows decode in one batch.

:func:`llasa.codec.streaming.decode_stream` pulls codes from one iterator and calls the codec
itself. A server with many streams wants to collect the window every stream is ready to decode
and run them together. :class:`StreamWindows` holds one stream's state with the same windows
and crossfades (:class:`~llasa.codec.streaming.StreamSettings`): :meth:`~StreamWindows.push`
codes, take the next :meth:`~StreamWindows.window` to decode, hand its audio to
:meth:`~StreamWindows.accept`, which returns the finished samples. :func:`decode_windows` decodes
windows of many streams: equal lengths share one batch (the decoder is not causal, so padding
would change the audio; in steady state every window has the same length).

Notation: ``t`` tokens, 320 samples per token.
"""

from __future__ import annotations

import numpy as np
import torch

from .._common.errors import InputError
from ..audio.crossfade import blend
from .config import HOP_LENGTH
from .streaming import StreamSettings


class StreamWindows:
    """One stream's decode windows (see the module docstring).

    Args:
        codec: validates pushed codes (``check_codes``); decoding is the caller's.
        settings: window sizes (default ``StreamSettings()``).
        context: leading codes that are decoder context only (a voice prompt's codes): they
            are pushed like the others but never emitted, so the first window starts at them.
        first_chunk: emit the first window after ``first_chunk + crossfade`` codes instead of
            ``chunk + lookahead`` (0: off). Lower first-audio latency, at the price of a first
            window decoded with little right context; later windows are the standard ones.
            Off, the output equals :func:`~llasa.codec.streaming.decode_stream`'s.
    """

    def __init__(self, codec, settings: StreamSettings | None = None, *, context: int = 0,
                 first_chunk: int = 0):
        self.codec, self.cfg = codec, settings or StreamSettings()
        if first_chunk and first_chunk < self.cfg.crossfade:
            raise InputError(f"first_chunk ({first_chunk}) must be 0 or at least the crossfade "
                             f"({self.cfg.crossfade})")
        self.first_chunk = int(first_chunk)
        self._buf = np.zeros(0, dtype=np.int64)  # codes from global index _base on
        self._base = 0
        self._s = self._start = int(context)  # first token whose audio is not yet out
        self.total = 0  # codes pushed
        self.final = False  # no more codes will come
        self._tail: np.ndarray | None = None  # previous window's audio for [s, s + crossfade)
        self._open: tuple[int, int, int] | None = None  # (window start, end, emit end)

    def push(self, codes: np.ndarray, final: bool = False, checked: bool = False) -> None:
        """Append codes [k] (may be empty); ``final`` marks the end of the stream.
        ``checked``: the caller vouches for the codes (an LM's own output), skip validation."""
        arr = np.asarray(codes)
        if arr.size:
            if not checked:
                arr = self.codec.check_codes(arr, "stream codes")
            self._buf = np.concatenate([self._buf, arr])
            self.total += len(arr)
        self.final = self.final or final

    @property
    def done(self) -> bool:
        """All pushed audio is out and the stream is final."""
        return self.final and self._s >= self.total

    def window(self) -> np.ndarray | None:
        """Codes int64 [t_w] of the next window to decode, or None until enough arrived.
        The window must be decoded and passed to :meth:`accept` before asking again."""
        c = self.cfg
        if self._open is not None:
            raise RuntimeError("accept() the open window's audio first")
        chunk, ahead = c.chunk, c.lookahead
        if self.first_chunk and self._s == self._start:  # the short first window
            chunk, ahead = self.first_chunk, c.crossfade
        if self.total >= self._s + chunk + ahead:
            end, we = self._s + chunk, self._s + chunk + ahead
        elif self.final and self.total > self._s:
            end = we = self.total
        else:
            return None
        ws = max(0, self._s - c.left_context)
        self._open = (ws, we, end)
        return self._buf[ws - self._base:we - self._base]

    def accept(self, audio: np.ndarray) -> np.ndarray:
        """Audio [320 t_w] of the open window → the stream's next float32 samples."""
        ws, _, end = self._open
        self._open = None
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        s = self._s
        seg = audio[(s - ws) * HOP_LENGTH:(end - ws) * HOP_LENGTH]
        if self._tail is not None and len(self._tail):
            seg = blend(self._tail, seg)  # the same crossfade as decode_stream
        x = self.cfg.crossfade
        self._tail = audio[(end - ws) * HOP_LENGTH:(end - ws + x) * HOP_LENGTH] if x else None
        self._s = end
        keep = max(0, end - self.cfg.left_context)  # bounded memory
        self._buf, self._base = self._buf[keep - self._base:], keep
        return seg


def decode_windows(codec, windows: list[np.ndarray], max_batch: int = 64) -> list[np.ndarray]:
    """Decode code windows [t_i] (int64) → float32 audio [320 t_i]; equal lengths are batched
    (up to ``max_batch`` a call), each result equals decoding its window alone (to float
    rounding)."""
    out: list[np.ndarray | None] = [None] * len(windows)
    by_len: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        by_len.setdefault(len(w), []).append(i)
    for idx in by_len.values():
        for k in range(0, len(idx), max_batch):
            part = idx[k:k + max_batch]
            codes = torch.from_numpy(np.stack([windows[i] for i in part]))
            with torch.inference_mode():
                audio = codec.decode_tensor(codes).cpu().numpy()
            for i, a in zip(part, audio):
                out[i] = a
    return out  # type: ignore[return-value]
