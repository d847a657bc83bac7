"""Layer 1: audio I/O, validation and resampling (soundfile + soxr, no torchaudio)."""

from .io import SAMPLE_RATE, AudioLimits, load_audio, save_audio, validate_waveform
from .resample import resample, to_mono

__all__ = ["SAMPLE_RATE", "AudioLimits", "load_audio", "save_audio", "validate_waveform",
           "resample", "to_mono"]
