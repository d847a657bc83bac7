"""The verifier contract: score a batch of candidate audios for one request.

Notation: ``b`` candidates in a batch, ``n`` samples of one candidate (16 kHz mono float32).

A verifier is anything with

- ``name: str`` — a short label used as the key of score dicts ("wer", "sim", "mos", ...);
- ``higher_is_better: bool`` — the direction of its raw score (WER: False, SIM/MOS: True);
- ``score_range: tuple[float, float]`` — the nominal (worst-or-best, best-or-worst) span of its
  raw score, used by :class:`~llasa.verifiers.combined.CombinedVerifier` to put scores on one
  scale (e.g. (0, 1) for WER, (1, 5) for MOS); scores may fall outside it;
- ``score(audios, request) -> np.ndarray`` — one float64 per audio, in input order.

Scores of one clip never depend on the other clips in the batch (batching is only for speed),
so partial candidates scored at different beam steps are comparable. Models load lazily on the
first :meth:`score` and are cached on the instance, which may be shared freely.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from .._common.errors import InputError
from ..audio import SAMPLE_RATE, validate_waveform
from ..audio.io import AudioLimits

#: Candidates may be any length from empty (a candidate that ended at once) up to this.
_CANDIDATE_LIMITS = AudioLimits(max_seconds=600.0, min_seconds=1e-9)


@dataclass(frozen=True)
class VerifyRequest:
    """What the candidates were meant to be.

    Args:
        text: the target text (needed by ASR verifiers; may be "" for the others).
        reference_audio: float32 [n] at 16 kHz, the voice to match (needed by similarity).
        language: ISO code of ``text`` ("en", "zh", ...); picks WER vs CER and ASR language.
    """

    text: str = ""
    reference_audio: np.ndarray | None = None
    language: str = "en"

    def __post_init__(self):
        if not isinstance(self.text, str):
            raise InputError(f"VerifyRequest.text must be a string, got {type(self.text).__name__}")
        if not isinstance(self.language, str) or not self.language.strip():
            raise InputError("VerifyRequest.language must be a non-empty ISO code such as 'en'")
        if self.reference_audio is not None:
            ref = validate_waveform(self.reference_audio, SAMPLE_RATE, name="reference audio")
            object.__setattr__(self, "reference_audio", ref)


@runtime_checkable
class Verifier(Protocol):
    """Structural type of a verifier (see the module docstring)."""

    name: str
    higher_is_better: bool
    score_range: tuple[float, float]

    def score(self, audios: Sequence[np.ndarray], request: VerifyRequest) -> np.ndarray:
        """Score candidates.

        Args:
            audios: b waveforms, each float [n_i] at 16 kHz (lengths may differ, 0 allowed).
            request: target text / reference voice / language.

        Returns:
            float64 [b], one score per audio in input order.
        """
        ...


def check_audios(audios: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Validate a batch of candidate waveforms; returns them as float32 [n_i] arrays.

    Empty waveforms are allowed (verifiers give them their worst score); anything that is not a
    finite mono float array is an InputError naming the candidate.
    """
    if isinstance(audios, np.ndarray) and audios.ndim == 1:
        raise InputError("score() takes a list of waveforms; wrap a single waveform in a list")
    out = []
    for i, wav in enumerate(audios):
        wav = np.asarray(wav)
        if wav.size == 0 and wav.ndim == 1:
            out.append(wav.astype(np.float32))
            continue
        out.append(validate_waveform(wav, SAMPLE_RATE, _CANDIDATE_LIMITS, name=f"candidate {i}"))
    return out


class LazyLoad:
    """A model loaded on first use, once, even when several threads ask at the same time.

    Subclasses implement :meth:`_load` (return the loaded backend) and call
    ``LazyLoad.__init__(self)``.
    """

    def __init__(self):
        self._backend = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded."""
        return self._backend is not None

    def backend(self):
        """The loaded model (loads it on first use)."""
        if self._backend is None:
            with self._lock:
                if self._backend is None:
                    self._backend = self._load()
        return self._backend

    def _load(self):
        raise NotImplementedError


class LazyVerifier(LazyLoad):
    """Base for verifiers with a model: lazy thread-safe load, input checks, usage counters.

    Subclasses set ``name``, ``higher_is_better``, ``score_range`` and implement
    :meth:`_load` (return the loaded backend) and :meth:`_score` (validated input).

    Attributes:
        calls: number of :meth:`score` calls so far.
        clips: number of audios scored so far.
        seconds: wall time spent in :meth:`score` (model load included).
    """

    name: str = "verifier"
    higher_is_better: bool = True
    score_range: tuple[float, float] = (0.0, 1.0)

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.clips = 0
        self.seconds = 0.0

    def score(self, audios: Sequence[np.ndarray], request: VerifyRequest) -> np.ndarray:
        """See :class:`Verifier`. Returns float64 [b]."""
        if not isinstance(request, VerifyRequest):
            raise InputError(f"score() needs a VerifyRequest, got {type(request).__name__}")
        wavs = check_audios(audios)
        t0 = time.perf_counter()
        self._check_request(request)
        scores = np.asarray(self._score(wavs, request) if wavs else [], dtype=np.float64)
        self.calls += 1
        self.clips += len(wavs)
        self.seconds += time.perf_counter() - t0
        assert scores.shape == (len(wavs),), (self.name, scores.shape)
        return scores

    def _check_request(self, request: VerifyRequest) -> None:
        """Raise InputError if ``request`` lacks what this verifier needs (before any load)."""

    def _load(self):
        raise NotImplementedError

    def _score(self, audios: list[np.ndarray], request: VerifyRequest) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, loaded={self.loaded})"


def score_all(verifiers: Sequence[Verifier], audios: Sequence[np.ndarray],
              request: VerifyRequest) -> dict[str, np.ndarray]:
    """Score the same candidates with several verifiers.

    Returns:
        {verifier.name: float64 [b]}; names must be unique.
    """
    names = [v.name for v in verifiers]
    if len(set(names)) != len(names):
        raise InputError(f"verifier names must be unique, got {names}")
    return {v.name: np.asarray(v.score(audios, request), dtype=np.float64) for v in verifiers}


def best_index(scores: np.ndarray, higher_is_better: bool) -> int:
    """Index of the best score (first one on ties; NaN counts as worst)."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        raise InputError("no candidates to choose from")
    s = np.where(np.isnan(s), -np.inf if higher_is_better else np.inf, s)
    return int(np.argmax(s) if higher_is_better else np.argmin(s))
