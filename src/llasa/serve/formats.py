"""Audio bytes for HTTP: whole files (wav/flac/mp3/opus/pcm), streamed WAV/PCM and SSE events.

PCM is 16-bit little-endian mono at the model's rate (16 kHz; OpenAI's is 24 kHz, so clients
must read ``X-Sample-Rate``). A streamed WAV starts with a header whose sizes are the maximum
(0xFFFFFFFF): players read such a file to its end, which is how WAV is streamed when the
length is unknown.
"""

from __future__ import annotations

import base64
import io
import json
import struct

import numpy as np
import soundfile as sf

from .._common.errors import InputError

_SF = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "mp3": ("MP3", "MPEG_LAYER_III"),
       "opus": ("OGG", "OPUS")}


def pcm16(wav: np.ndarray) -> bytes:
    """float32 [n] in [-1, 1] → int16 little-endian bytes (2n)."""
    x = np.clip(np.asarray(wav, dtype=np.float32).reshape(-1), -1.0, 1.0)
    return (x * 32767.0).round().astype("<i2").tobytes()


def encode_audio(wav: np.ndarray, sr: int, fmt: str) -> bytes:
    """Encode a whole waveform [n] as ``fmt`` (wav | flac | mp3 | opus | pcm)."""
    if fmt == "pcm":
        return pcm16(wav)
    if fmt not in _SF:
        raise InputError(f"unsupported audio format {fmt!r}")
    kind, subtype = _SF[fmt]
    x = np.clip(np.asarray(wav, dtype=np.float32).reshape(-1), -1.0, 1.0)
    if fmt == "opus" and sr not in (8000, 12000, 16000, 24000, 48000):
        raise InputError(f"opus cannot be written at {sr} Hz")
    buf = io.BytesIO()
    sf.write(buf, x, sr, format=kind, subtype=subtype)
    return buf.getvalue()


def wav_stream_header(sr: int) -> bytes:
    """44-byte RIFF header for 16-bit mono PCM of unknown length (sizes set to the maximum)."""
    unknown = 0xFFFFFFFF
    return (b"RIFF" + struct.pack("<I", unknown) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sr, sr * 2, 2, 16)
            + b"data" + struct.pack("<I", unknown))


def sse_event(payload: dict) -> bytes:
    """One server-sent event carrying a JSON object."""
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def sse_audio_delta(wav: np.ndarray) -> bytes:
    """OpenAI-style ``speech.audio.delta`` event: base64 PCM16 of one decoded chunk."""
    return sse_event({"type": "speech.audio.delta",
                      "audio": base64.b64encode(pcm16(wav)).decode("ascii")})


def change_speed(wav: np.ndarray, speed: float) -> np.ndarray:
    """Time-stretch [n] → [~n/speed] keeping pitch (librosa phase vocoder); 1.0 is a no-op."""
    if abs(speed - 1.0) < 1e-6 or wav.size < 2048:
        return wav
    import librosa

    return librosa.effects.time_stretch(np.asarray(wav, dtype=np.float32), rate=float(speed))


MEDIA_TYPES_STREAM = {"wav": "audio/wav", "pcm": "audio/pcm"}
