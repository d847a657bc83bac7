"""Pydantic request bodies with hard limits (the first line of defence against bad input).

Ranges here are the absolute bounds; settings-dependent limits (text length, search budget,
allowed verifiers) are checked in the routes against :class:`~llasa.serve.config.ServeSettings`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

AUDIO_FORMATS = ("wav", "pcm", "flac", "mp3", "opus")
STREAM_FORMATS = ("wav", "pcm")  # formats that can be sent before the length is known
MEDIA_TYPES = {"wav": "audio/wav", "pcm": "audio/pcm", "flac": "audio/flac",
               "mp3": "audio/mpeg", "opus": "audio/ogg"}


class VoiceRef(BaseModel):
    """OpenAI's custom-voice object form: ``{"id": "name"}``."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64)


class SearchRequest(BaseModel):
    """Verifier-guided search over candidates (our extension).

    Attributes:
        strategy: ``best_of_n`` (rank N full candidates), ``beam`` (chunked beam with partial
            scores) or ``hybrid`` (partial-SIM beam, then final WER ranking).
        budget: number of candidates (best-of-N) or beam width.
        verifiers: verifier names used to rank candidates (default: the server's).
        chunk_tokens: beam step length in speech tokens (50 per second).
    """

    model_config = ConfigDict(extra="forbid")
    strategy: Literal["best_of_n", "beam", "hybrid"] = "best_of_n"
    budget: int = Field(4, ge=1, le=256)
    verifiers: list[str] | None = Field(None, max_length=8)
    chunk_tokens: int | None = Field(None, ge=5, le=2000)


class SpeechRequest(BaseModel):
    """Body of ``POST /v1/audio/speech``: the OpenAI fields plus our extensions.

    OpenAI fields: ``model``, ``input``, ``voice``, ``response_format``, ``speed``,
    ``stream_format`` (``audio`` | ``sse``) and ``instructions`` (accepted, not used: Llasa takes
    its style from the voice prompt). Extensions: ``stream``, sampling settings, ``seed``,
    ``duration``, ``verifiers`` and ``search``.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # NaN: "finite", not "<= 4"
    model: str = Field(min_length=1, max_length=64)
    input: str = Field(min_length=1, max_length=100_000)
    voice: str | VoiceRef = "default"
    response_format: str = "wav"
    speed: float = Field(1.0, ge=0.25, le=4.0)
    stream: bool = False
    stream_format: Literal["audio", "sse"] | None = None
    instructions: str | None = Field(None, max_length=4096)
    # sampling (None: the model's defaults)
    temperature: float | None = Field(None, gt=0.0, le=5.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=0, le=65536)
    min_p: float | None = Field(None, ge=0.0, lt=1.0)
    repetition_penalty: float | None = Field(None, gt=0.0, le=10.0)
    repetition_window: int | None = Field(None, ge=0, le=100_000)
    do_sample: bool | None = None
    max_new_tokens: int | None = Field(None, ge=1, le=100_000)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    cfg_scale: float | None = Field(None, ge=1.0, le=20.0)
    duration: float | None = Field(None, gt=0.0, le=600.0)
    verifiers: list[str] | None = Field(None, max_length=8)
    search: SearchRequest | None = None

    @field_validator("input")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("input text is empty (only whitespace)")
        return v

    @field_validator("response_format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        v = v.lower()
        if v not in AUDIO_FORMATS:
            raise ValueError(f"unsupported response_format {v!r}; this server writes "
                             f"{', '.join(AUDIO_FORMATS)}")
        return v

    @property
    def voice_name(self) -> str:
        return self.voice.id if isinstance(self.voice, VoiceRef) else self.voice

    @property
    def streaming(self) -> bool:
        """True when audio is sent as it is decoded (``stream: true`` or SSE)."""
        return self.stream or self.stream_format == "sse"

    def sampling(self) -> dict:
        """The sampling fields the client set, as keyword arguments for GenerationSettings."""
        keys = ("temperature", "top_p", "top_k", "min_p", "repetition_penalty",
                "repetition_window", "do_sample", "max_new_tokens", "seed", "cfg_scale")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
