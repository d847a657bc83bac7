"""Voice-activity detection with silero-vad: find speech and trim leading/trailing silence.

silero-vad is optional (``pip install --no-deps silero-vad==6.2.3``; its model ships inside the
wheel, so it works offline). It is imported only when a :class:`SileroVad` is created.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._common.errors import InputError
from .io import SAMPLE_RATE


@dataclass(frozen=True)
class VadSettings:
    """Silero-vad knobs.

    Attributes:
        threshold: speech probability above which a 32 ms frame counts as speech.
        min_speech_ms: shorter speech bursts are ignored (clicks, breaths).
        min_silence_ms: shorter pauses do not split a segment.
        pad_ms: silence kept around the speech, so onsets and word endings are not clipped.
    """

    threshold: float = 0.5
    min_speech_ms: int = 150
    min_silence_ms: int = 100
    pad_ms: int = 100

    def __post_init__(self):
        if not 0.0 < self.threshold < 1.0:
            raise InputError("VAD threshold must be in (0, 1)")
        if min(self.min_speech_ms, self.min_silence_ms, self.pad_ms) < 0:
            raise InputError("VAD durations must be >= 0 ms")


class SileroVad:
    """Silero-vad (PyTorch JIT model from the wheel), loaded once per instance.

    Args:
        settings: detection settings (defaults suit read speech).

    Raises:
        InputError: silero-vad is not installed.
    """

    def __init__(self, settings: VadSettings | None = None):
        self.settings = settings or VadSettings()
        try:
            from silero_vad import get_speech_timestamps, load_silero_vad
        except ImportError:
            raise InputError("VAD trimming needs silero-vad: pip install --no-deps "
                             "silero-vad==6.2.3") from None
        self._model = load_silero_vad(onnx=False)
        self._timestamps = get_speech_timestamps

    def speech_segments(self, wav: np.ndarray, sr: int = SAMPLE_RATE) -> list[tuple[int, int]]:
        """Speech regions of a mono waveform.

        Args:
            wav: float waveform [n] at ``sr`` (16 kHz or 8 kHz, what silero supports).

        Returns:
            List of ``(start, end)`` sample indices, in order, padded by ``pad_ms``.
        """
        import torch

        if sr not in (8000, 16000):
            raise InputError(f"VAD works at 8 or 16 kHz, got {sr} Hz (resample first)")
        wav = np.asarray(wav, dtype=np.float32).reshape(-1)
        if wav.size == 0:
            return []
        s = self.settings
        stamps = self._timestamps(torch.from_numpy(wav), self._model, sampling_rate=sr,
                                  threshold=s.threshold, min_speech_duration_ms=s.min_speech_ms,
                                  min_silence_duration_ms=s.min_silence_ms,
                                  speech_pad_ms=s.pad_ms)
        return [(int(t["start"]), int(t["end"])) for t in stamps]

    def trim(self, wav: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
        """Cut leading and trailing silence (pauses inside the speech are kept).

        Returns:
            float32 waveform [m] with m <= n; empty when no speech was found.
        """
        seg = self.speech_segments(wav, sr)
        wav = np.asarray(wav, dtype=np.float32).reshape(-1)
        if not seg:
            return wav[:0]
        return wav[seg[0][0]:seg[-1][1]]
