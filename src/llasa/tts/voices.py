"""Voices for zero-shot cloning: prompt audio + transcript + its codec codes, on disk.

A :class:`Voice` is built once (the codec encoder runs once) and reused for any number of
syntheses. On disk a voice is one ``.npz`` file (numpy, no pickle) holding:

- ``header``: a JSON document as uint8 bytes: ``{"format": "llasa-voice", "version": 1,
  "text": ..., "sample_rate": 16000, "codebook_size": ..., "seconds": ...}``;
- ``codes``: int64 [t] codec codes of the prompt audio;
- ``audio``: float32 [n] prompt audio at 16 kHz (kept for speaker-similarity checks and
  re-encoding with another codec).

The version is checked on load; a file from a newer llasa is refused with a clear message.
A :class:`VoiceRegistry` stores voices by name in one directory
(``$LLASA_VOICES_DIR``, default ``~/.cache/llasa/voices``).
"""

from __future__ import annotations

import io
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .._common.errors import InputError
from .._common.log import get_logger
from ..audio import SAMPLE_RATE, AudioLimits, load_audio, resample, validate_waveform
from .text import normalize_text

FORMAT = "llasa-voice"
VERSION = 1
MAX_PROMPT_SECONDS = 15.0  # community Llasa apps trim prompts here; longer eats the context
MIN_PROMPT_SECONDS = 0.5  # shorter prompts carry too little of a voice (CLI, API and server)
SILENT_PEAK = 1e-3  # -60 dBFS: a prompt whose peak stays below this holds no voice


def check_voice_audio(wav: np.ndarray, name: str = "voice audio") -> np.ndarray:
    """The one rule for a voice prompt (16 kHz [n]): at least :data:`MIN_PROMPT_SECONDS`
    long and not silent. Raises InputError; returns ``wav``."""
    seconds = len(wav) / SAMPLE_RATE
    if seconds < MIN_PROMPT_SECONDS:
        raise InputError(f"{name} is {seconds:.2f} s; a voice prompt needs at least "
                         f"{MIN_PROMPT_SECONDS:g} s of speech")
    if float(np.max(np.abs(wav))) < SILENT_PEAK:
        raise InputError(f"{name} is silent (peak below -60 dBFS): record the voice to clone")
    return wav
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # fullmatch: "$" would allow a final "\n"
_log = get_logger(__name__)


class _Encoder(Protocol):
    codebook_size: int

    def encode(self, waveforms: Any) -> list[np.ndarray]: ...


class _Transcriber(Protocol):
    def transcribe(self, audios: list[np.ndarray]) -> list[str]: ...


@dataclass
class Voice:
    """A cloning prompt.

    Attributes:
        text: transcript of ``audio`` (normalised).
        codes: int64 codec codes [t] of ``audio``.
        audio: float32 prompt waveform [n] at 16 kHz.
        codebook_size: size of the codebook the codes come from (checked against the LM).
    """

    text: str
    codes: np.ndarray
    audio: np.ndarray
    codebook_size: int

    def __post_init__(self):
        self.text = normalize_text(self.text)
        if not self.text:
            raise InputError("voice transcript is empty")
        self.codes = np.asarray(self.codes)
        if self.codes.ndim != 1 or self.codes.size == 0 or not np.issubdtype(
                self.codes.dtype, np.integer):
            raise InputError(f"voice codes must be a non-empty 1-D integer array, got "
                             f"{self.codes.dtype} {self.codes.shape}")
        self.codes = self.codes.astype(np.int64)
        if self.codes.min() < 0 or self.codes.max() >= self.codebook_size:
            raise InputError(f"voice codes fall outside [0, {self.codebook_size})")
        self.audio = np.asarray(self.audio, dtype=np.float32).reshape(-1)

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    @classmethod
    def from_audio(cls, codec: _Encoder, audio: str | Path | np.ndarray, text: str | None, *,
                   sample_rate: int = SAMPLE_RATE, max_seconds: float = MAX_PROMPT_SECONDS,
                   transcriber: _Transcriber | None = None) -> Voice:
        """Encode prompt audio once and keep it with its transcript.

        Args:
            codec: a :class:`llasa.codec.Codec` (anything with ``encode`` and
                ``codebook_size``); it needs its encoder (not ``decode_only``).
            audio: a path (WAV/FLAC/OGG, any rate, downmixed and resampled) or a float
                waveform [n] at ``sample_rate``.
            text: transcript of the audio. Empty is an error unless ``transcriber`` is given.
            sample_rate: rate of an array ``audio``.
            max_seconds: longer audio is cut to this length with a warning (the transcript
                must then cover only the kept part).
            transcriber: optional ASR object with ``transcribe(list[np.ndarray]) -> list[str]``
                used when ``text`` is empty.
        """
        if max_seconds <= 0:
            raise InputError("max_seconds must be positive")
        if isinstance(audio, (str, Path)):
            wav = load_audio(audio)
        else:
            wav = validate_waveform(np.asarray(audio), sample_rate, AudioLimits(),
                                    "voice audio")
            wav = resample(wav, sample_rate, SAMPLE_RATE)
        limit = int(round(max_seconds * SAMPLE_RATE))
        if len(wav) > limit:
            msg = (f"voice audio is {len(wav) / SAMPLE_RATE:.1f} s; keeping the first "
                   f"{max_seconds:g} s (the transcript should match only that part)")
            warnings.warn(msg, stacklevel=2)
            _log.warning(msg)
            wav = wav[:limit]
        if getattr(codec, "decode_only", False):
            raise InputError("this codec was loaded decode-only; building a voice needs its "
                             "encoder")
        check_voice_audio(wav)
        if not normalize_text(text or ""):
            if transcriber is None:
                raise InputError("the voice transcript is empty: give the exact words spoken in "
                                 "the prompt audio (automatic transcription is not set up)")
            text = transcriber.transcribe([wav])[0]
            if not normalize_text(text or ""):
                raise InputError("automatic transcription of the voice audio returned no words")
        codes = codec.encode(wav)[0]
        return cls(text=text, codes=codes, audio=wav, codebook_size=int(codec.codebook_size))

    def save(self, path: str | Path) -> Path:
        """Write the voice as one ``.npz`` file (atomically: temp file + rename)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        header = {"format": FORMAT, "version": VERSION, "text": self.text,
                  "sample_rate": SAMPLE_RATE, "codebook_size": self.codebook_size,
                  "seconds": round(self.seconds, 3)}
        buf = io.BytesIO()
        np.savez(buf, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                 codes=self.codes, audio=self.audio)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, p)
        return p

    @classmethod
    def load(cls, path: str | Path) -> Voice:
        """Read a voice written by :meth:`save`; refuses other files with an InputError."""
        p = Path(path)
        if not p.is_file():
            raise InputError(f"voice file not found: {p}")
        try:
            with np.load(p, allow_pickle=False) as z:
                header = json.loads(bytes(z["header"]).decode())
                codes, audio = z["codes"], z["audio"]
        except Exception as e:  # noqa: BLE001 - zip, key and JSON errors all mean "not a voice"
            raise InputError(f"{p} is not a llasa voice file ({type(e).__name__}: {e})") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise InputError(f"{p} is not a llasa voice file")
        version = header.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise InputError(f"{p} has voice format version {version!r}; this llasa reads "
                             f"version <= {VERSION} (upgrade llasa)")
        return cls(text=header["text"], codes=codes, audio=audio,
                   codebook_size=int(header["codebook_size"]))


def default_voices_dir() -> Path:
    """``$LLASA_VOICES_DIR`` if set, else ``~/.cache/llasa/voices``."""
    env = os.environ.get("LLASA_VOICES_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "llasa" / "voices"


def check_voice_name(name: str) -> str:
    """A voice name is 1-64 letters, digits, '_' or '-', starting with a letter or digit
    (so it can never escape the registry directory)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(f"bad voice name {name!r}: use 1-64 letters, digits, '_' or '-', "
                         "starting with a letter or digit")
    return name


class VoiceRegistry:
    """Named voices stored as ``<root>/<name>.npz``."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root is not None else default_voices_dir()

    def path(self, name: str) -> Path:
        return self.root / f"{check_voice_name(name)}.npz"

    def add(self, name: str, voice: Voice, *, overwrite: bool = False) -> Path:
        """Store ``voice`` under ``name``; an existing name is an error unless ``overwrite``."""
        p = self.path(name)
        if p.exists() and not overwrite:
            raise InputError(f"voice {name!r} already exists in {self.root} "
                             "(remove it first or overwrite)")
        return voice.save(p)

    def get(self, name: str) -> Voice:
        p = self.path(name)
        if not p.is_file():
            known = ", ".join(self.list()) or "none"
            raise InputError(f"no voice named {name!r} in {self.root} (known: {known})")
        return Voice.load(p)

    def list(self) -> list[str]:
        """Sorted names of the stored voices."""
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.npz") if _NAME.fullmatch(p.stem))

    def delete(self, name: str) -> None:
        p = self.path(name)
        if not p.is_file():
            raise InputError(f"no voice named {name!r} in {self.root}")
        p.unlink()


def resolve_voice(name_or_file: str | Path, registry: VoiceRegistry | None = None) -> Voice:
    """A voice from a file path (anything that exists or ends in ``.npz``) or a registry name."""
    s = str(name_or_file)
    if Path(s).expanduser().exists() or s.endswith(".npz") or os.sep in s:
        return Voice.load(Path(s).expanduser())
    return (registry or VoiceRegistry()).get(s)
