"""Raised-cosine crossfades, written once: a whole join and an incremental one.

Notation: ``n`` samples. The fade-out and fade-in curves of ``k`` samples sum to 1 at every
sample, so a join of two equal signals leaves them unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np


def fade_curves(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Raised-cosine fade-out / fade-in of ``n`` samples (they sum to 1 at every sample)."""
    t = (np.arange(n, dtype=np.float32) + 0.5) / max(n, 1)
    fade_in = np.sin(0.5 * np.pi * t) ** 2
    return (1.0 - fade_in).astype(np.float32), fade_in.astype(np.float32)


def blend(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """``tail`` faded out over ``head`` faded in, over ``min(len)`` samples; the rest of
    ``head`` follows. Returns float32 [len(head)] (``tail``'s extra samples are dropped)."""
    head = np.asarray(head, dtype=np.float32).copy()
    k = min(len(tail), len(head))
    if k:
        fade_out, fade_in = fade_curves(k)
        head[:k] = np.asarray(tail[:k], np.float32) * fade_out + head[:k] * fade_in
    return head


class Crossfader:
    """Join pieces that arrive in parts, overlapping each junction by ``overlap`` samples.

    ``feed(part)`` returns the samples that are final; ``end_piece()`` marks that the next
    part starts a new piece (its first ``overlap`` samples are mixed with this piece's last
    ``overlap``, fewer when either is shorter); ``flush()`` returns what is held at the end.
    ``last = True`` says no piece follows the current one, so nothing more is held back (a
    stream's last chunk goes out as it comes). The concatenated output equals
    :func:`crossfade` of the whole pieces, however they were cut.
    """

    def __init__(self, overlap: int):
        self.overlap = max(0, int(overlap))
        self._held = np.zeros(0, np.float32)  # the last piece's tail, or its whole start
        self._head = np.zeros(0, np.float32)  # the new piece's first samples, not yet mixed
        self._mixing = False  # a junction is open: the new piece's head is being collected
        self.last = False

    def feed(self, part: np.ndarray) -> np.ndarray:
        part = np.asarray(part, dtype=np.float32).reshape(-1)
        if self._mixing:
            self._head = np.concatenate([self._head, part])
            if len(self._head) < self.overlap:
                return part[:0]
            part, self._mixing = self._join(), False
        pending = np.concatenate([self._held, part])
        keep = 0 if self.last else min(self.overlap, len(pending))
        self._held = pending[len(pending) - keep:]
        return pending[:len(pending) - keep]

    def end_piece(self) -> np.ndarray:
        """Close the current piece; returns what became final (a short piece's mix)."""
        out = np.zeros(0, np.float32)
        if self._mixing:  # the piece was shorter than the overlap
            joined, self._mixing = self._join(), False
            keep = min(self.overlap, len(joined))  # more pieces follow this one
            out, self._held = joined[:len(joined) - keep], joined[len(joined) - keep:]
        self._mixing = True
        return out

    def flush(self) -> np.ndarray:
        """The samples still held (call once, after the last piece)."""
        out = self._join() if self._mixing else self._held
        self._held, self._head, self._mixing = self._held[:0], self._head[:0], False
        return out

    def _join(self) -> np.ndarray:
        k = min(self.overlap, len(self._held), len(self._head))
        out = np.concatenate([self._held[:len(self._held) - k],
                              blend(self._held[len(self._held) - k:], self._head)])
        self._held, self._head = self._held[:0], self._head[:0]
        return out


def crossfade_stream(pieces: Iterable[Iterable[np.ndarray]], overlap: int) -> Iterator[np.ndarray]:
    """Each piece given as an iterable of parts; yields the joined audio as it becomes final."""
    fader = Crossfader(overlap)
    pieces = list(pieces)
    for i, parts in enumerate(pieces):
        if i:
            out = fader.end_piece()
            if len(out):
                yield out
        fader.last = i == len(pieces) - 1
        for part in parts:
            out = fader.feed(part)
            if len(out):
                yield out
    out = fader.flush()
    if len(out):
        yield out


def crossfade(pieces: list[np.ndarray], overlap: int) -> np.ndarray:
    """Join waveforms [n_i] overlapping each junction by ``overlap`` samples (fewer when a
    piece is shorter). Returns float32 [sum n_i - overlaps]."""
    out = list(crossfade_stream(([p] for p in pieces), overlap))
    return np.concatenate(out) if out else np.zeros(0, np.float32)
