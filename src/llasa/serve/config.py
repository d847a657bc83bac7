"""ServeSettings: every limit the HTTP server enforces, validated once at start-up."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .._common.errors import InputError
from ..search.limits import MAX_SEARCH_ROWS
from ..tts.voices import MIN_PROMPT_SECONDS

# Verifiers a client may ask for by name. Specs that load arbitrary hub models ("hf-asr:<id>")
# are server-side choices only: a request must not make the server fetch or build new models.
BUILTIN_VERIFIERS = ("sim", "wer", "cer", "mos", "distillmos")
SCHEDULERS = ("continuous", "batch")
OPENAI_MODEL_ALIASES = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")


@dataclass
class ServeSettings:
    """Limits and switches of the server (``llasa serve`` flags map onto these fields).

    Attributes:
        data_dir: where uploaded voices live (one sub-directory per voice).
        model_id: the name ``/v1/models`` lists and requests may name in ``model``.
        api_key: when set, every ``/v1`` route needs ``Authorization: Bearer <key>``.
        max_queue: requests waiting for the model beyond the running one; more get 429 at once.
        max_batch: requests decoded together: with ``scheduler="continuous"`` the rows of the
            running batch (streams included); with ``"batch"`` compatible non-streaming
            requests merged into one ``synthesize_batch`` call.
        scheduler: "continuous" (requests join the running batch between decoding steps,
            :mod:`llasa.serve.continuous`) or "batch" (one job or same-key batch at a time).
        codec_every: continuous scheduler: decode stream windows every this many steps, so
            windows of several streams share a codec call (see ``SpeechBatcher``).
        stream_first_chunk: continuous scheduler: a stream's first audio after this many codes
            plus the crossfade (0: the codec's standard windows, 75 codes by default).
        batch_wait_s: how long the worker waits for more compatible requests before a batch.
        request_timeout_s: per-request limit (queue wait + generation); over it → 504.
        max_input_chars: longest ``input`` text (OpenAI's limit is 4096).
        max_new_tokens: cap on generated speech tokens per request (50 tokens = 1 s).
        max_upload_bytes: largest voice upload accepted.
        max_voice_seconds / min_voice_seconds: bounds on voice prompt duration.
        verifiers: verifier specs a request may name (and search may use).
        default_verifiers: verifiers scored on every response unless the request names its own.
        max_search_candidates: upper bound on any search budget a request asks for.
    """

    data_dir: str | Path = "llasa-data"
    model_id: str = "llasa"
    api_key: str | None = None
    max_queue: int = 16
    max_batch: int = 4
    batch_wait_s: float = 0.02
    scheduler: str = "continuous"
    codec_every: int = 1
    stream_first_chunk: int = 0
    request_timeout_s: float = 120.0
    max_input_chars: int = 4096
    max_new_tokens: int = 1500
    max_upload_bytes: int = 10 * 1024 * 1024
    max_voice_seconds: float = 30.0
    min_voice_seconds: float = MIN_PROMPT_SECONDS  # the library's rule (llasa.tts.voices)
    verifiers: tuple[str, ...] = BUILTIN_VERIFIERS
    default_verifiers: tuple[str, ...] = ()
    max_search_candidates: int = 16
    model_aliases: tuple[str, ...] = field(default=OPENAI_MODEL_ALIASES)

    def __post_init__(self):
        self.data_dir = Path(self.data_dir)
        self.verifiers = tuple(self.verifiers)
        self.default_verifiers = tuple(self.default_verifiers)
        for name, lo in [("max_queue", 1), ("max_batch", 1), ("max_input_chars", 1),
                         ("max_new_tokens", 1), ("max_upload_bytes", 1024),
                         ("max_search_candidates", 1), ("codec_every", 1)]:
            if int(getattr(self, name)) < lo:
                raise InputError(f"ServeSettings.{name} must be >= {lo}")
        if int(self.stream_first_chunk) < 0:
            raise InputError("ServeSettings.stream_first_chunk must be >= 0")
        if self.scheduler not in SCHEDULERS:
            raise InputError(f"ServeSettings.scheduler must be one of {SCHEDULERS}, got "
                             f"{self.scheduler!r}")
        if int(self.max_search_candidates) > MAX_SEARCH_ROWS:
            raise InputError(f"ServeSettings.max_search_candidates must be <= {MAX_SEARCH_ROWS}")
        if self.request_timeout_s <= 0 or self.batch_wait_s < 0:
            raise InputError("ServeSettings: request_timeout_s must be > 0 and batch_wait_s >= 0")
        if not 0 < self.min_voice_seconds < self.max_voice_seconds:
            raise InputError("ServeSettings: need 0 < min_voice_seconds < max_voice_seconds")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", self.model_id):
            raise InputError(f"ServeSettings.model_id {self.model_id!r}: use letters, digits, . _ -")
        missing = [v for v in self.default_verifiers if v not in self.verifiers]
        if missing:
            raise InputError(f"default verifiers {missing} are not in the allowed list "
                             f"{list(self.verifiers)}")
        if self.api_key is not None and len(self.api_key) < 8:
            raise InputError("ServeSettings.api_key: use at least 8 characters")
