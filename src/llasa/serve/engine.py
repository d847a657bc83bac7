"""The engine the server drives: a :class:`llasa.tts.Llasa` plus voices, verifiers and search.

Every method here is blocking and runs on the model worker thread (see :mod:`.worker`); the
HTTP layer never calls the model directly. The engine is injected into
:func:`llasa.serve.app.create_app`, so tests and users can serve any ``Llasa`` object.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._common.errors import InputError
from .._common.log import get_logger
from ..search import config_for_budget, score_audio
from ..search import search as run_search
from ..tts.types import duration_to_tokens
from ..tts.voices import Voice, VoiceRegistry, check_voice_name
from ..verifiers import VerifyRequest, check_reference
from .config import ServeSettings

log = get_logger(__name__)
DEFAULT_VOICE = "default"  # no prompt: the model picks a speaker


@dataclass
class SpeechJob:
    """One synthesis request after validation (what the worker thread sees)."""

    text: str
    voice: str = DEFAULT_VOICE
    sampling: dict = field(default_factory=dict)
    duration: float | None = None
    speed: float = 1.0
    verifiers: tuple[str, ...] = ()
    search: dict | None = None

    def batch_key(self) -> tuple | None:
        """Requests with equal keys can share one ``synthesize_batch`` call (same voice and
        settings); a seeded or searched request runs alone so its result stays reproducible."""
        if self.search is not None or "seed" in self.sampling:
            return None
        return (self.voice, tuple(sorted(self.sampling.items())), self.duration, self.speed,
                self.verifiers)


@dataclass
class SpeechOutput:
    """Audio [n] at ``sample_rate`` with verifier ``scores`` and generation ``info``."""

    audio: np.ndarray
    sample_rate: int
    scores: dict
    info: dict


class LlasaEngine:
    """Serve a :class:`llasa.tts.Llasa` pipeline.

    Args:
        tts: the pipeline (``synthesize``, ``synthesize_batch``, ``stream``, ``codec``).
        settings: server limits (data directory, allowed verifiers, token cap).
        verifiers: a :class:`llasa.verifiers.VerifierRegistry` (default: a new one); its
            ``transcriber`` also transcribes voices uploaded without a transcript.
    """

    def __init__(self, tts: Any, settings: ServeSettings, *, verifiers: Any = None):
        self.tts = tts
        self.settings = settings
        self.registry = VoiceRegistry(settings.data_dir / "voices")
        self._voices: dict[str, Voice] = {}  # loaded once, reused by every request
        self._verifiers = verifiers
        self._lock = threading.Lock()  # voice cache is also read by list routes

    @property
    def verifiers(self):
        """The :class:`llasa.verifiers.VerifierRegistry` (one instance per spec, built lazily)."""
        if self._verifiers is None:
            from ..verifiers import VerifierRegistry

            self._verifiers = VerifierRegistry()
        return self._verifiers

    @property
    def sample_rate(self) -> int:
        return int(getattr(self.tts, "sample_rate", None) or self.tts.codec.sample_rate)

    @property
    def frame_rate(self) -> int:
        """Codec frames (speech tokens) per second."""
        return int(self.tts.codec.frame_rate)

    # -- voices ----------------------------------------------------------------------------
    def voice(self, name: str) -> Voice | None:
        """The cached Voice for ``name`` (None for the default voice)."""
        if name == DEFAULT_VOICE:
            return None
        check_voice_name(name)
        with self._lock:
            if name in self._voices:
                return self._voices[name]
        v = self.registry.get(name)
        with self._lock:
            self._voices[name] = v
        return v

    def has_voice(self, name: str) -> bool:
        return name == DEFAULT_VOICE or name in self.registry.list()

    def list_voices(self) -> list[dict]:
        out = [{"name": DEFAULT_VOICE, "text": None, "seconds": None, "builtin": True}]
        for name in self.registry.list():
            try:
                v = self.voice(name)
            except InputError:  # a damaged file must not break the listing
                continue
            out.append({"name": name, "text": v.text, "seconds": round(v.seconds, 3),
                        "builtin": False})
        return out

    def add_voice(self, name: str, wav: np.ndarray, text: str | None) -> dict:
        """Encode prompt audio [n] (16 kHz) once and store it as voice ``name``."""
        check_voice_name(name)
        if name == DEFAULT_VOICE:
            raise InputError(f"voice name {DEFAULT_VOICE!r} is reserved")
        if self.registry.path(name).exists():
            raise VoiceExists(f"voice {name!r} already exists; delete it first")
        transcriber = self.verifiers.transcriber if not (text or "").strip() else None
        v = Voice.from_audio(self.tts.codec, wav, text, transcriber=transcriber,
                             max_seconds=self.settings.max_voice_seconds)
        self.tts.build_prompt("a", v)  # refuses a voice this LM cannot continue, before storing
        self.registry.add(name, v)
        with self._lock:
            self._voices[name] = v
        return {"name": name, "text": v.text, "seconds": round(v.seconds, 3),
                "codes": int(v.codes.size), "transcribed": transcriber is not None,
                "builtin": False}

    def delete_voice(self, name: str) -> None:
        check_voice_name(name)
        if name == DEFAULT_VOICE or not self.registry.path(name).is_file():
            raise VoiceNotFound(f"no voice named {name!r}")
        self.registry.delete(name)
        with self._lock:
            self._voices.pop(name, None)

    # -- verifiers -------------------------------------------------------------------------
    def check_verifiers(self, names: tuple[str, ...], voice: str) -> None:
        """Refuse names the server does not allow, and SIM without a voice to compare to."""
        for n in names:
            if n not in self.settings.verifiers:
                raise InputError(f"unknown verifier {n!r}; this server offers "
                                 f"{list(self.settings.verifiers)}")
        check_reference(names, voice != DEFAULT_VOICE, remedy="pick a voice")

    def score(self, audios: list[np.ndarray], text: str, voice: Voice | None,
              names: tuple[str, ...]) -> list[dict]:
        """Scores of each audio [n] under each named verifier: one dict per audio."""
        names = tuple(n for n in names if not (n == "sim" and voice is None))
        if not names:
            return [{} for _ in audios]
        req = VerifyRequest(text=text, reference_audio=None if voice is None else voice.audio)
        return [{n: round(float(d[n]), 4) for n in names}
                for d in score_audio(list(audios), req, names, self.verifiers)]

    # -- synthesis -------------------------------------------------------------------------
    def _kwargs(self, job: SpeechJob) -> dict:
        # the server-wide limit clamps the library's cap: it bounds any request's work
        kw = {**job.sampling, "token_limit": self.settings.max_new_tokens}
        if job.duration is not None:
            kw["duration"] = job.duration
        return kw

    def synthesize(self, jobs: list[SpeechJob],
                   should_stop: Callable[[], bool] | list[Callable[[], bool]] | None = None
                   ) -> list[SpeechOutput]:
        """Run same-key jobs as one batch (or one search); returns one output per job.

        ``should_stop`` (one function, or one per job) is asked once per LM decoding step
        (search included): a job whose function turns True leaves the batch, and when all
        have, :class:`~llasa._common.errors.Cancelled` is raised.
        """
        if isinstance(should_stop, (list, tuple)) and len(jobs) == 1:
            should_stop = should_stop[0]
        from .formats import change_speed

        first = jobs[0]
        voice = self.voice(first.voice)
        t0 = time.perf_counter()
        if first.search is not None:
            return [self._search(first, voice, should_stop)]
        kw = self._kwargs(first)
        if should_stop is not None:
            kw["should_stop"] = should_stop
        if len(jobs) == 1:
            results = [self.tts.synthesize(first.text, voice, **kw)]
        else:
            results = self.tts.synthesize_batch([j.text for j in jobs], voice, **kw)
        wall = time.perf_counter() - t0
        outs = []
        for j, r in zip(jobs, results):
            if r.info.get("cancelled"):  # its client is gone: no scoring, no stretching
                outs.append(SpeechOutput(r.audio, r.sample_rate, {}, _jsonable(r.info)))
                continue
            sc = self.score([r.audio], j.text, voice, j.verifiers)[0]
            info = _jsonable({**r.info, "batch_size": len(jobs), "voice": j.voice,
                              "wall_seconds": round(wall, 4)})
            outs.append(SpeechOutput(change_speed(r.audio, j.speed), r.sample_rate, sc, info))
        return outs

    def stream(self, job: SpeechJob, emit: Callable[[np.ndarray], None],
               check: Callable[[], None],
               should_stop: Callable[[], bool] | None = None) -> SpeechOutput:
        """Emit audio chunks [k] as they are decoded; return the whole result at the end.

        ``check()`` raises to stop generation (client gone, timeout); it runs between chunks.
        ``should_stop()`` is asked once per LM decoding step (stops within one token).
        """
        voice = self.voice(job.voice)
        t0 = time.perf_counter()
        first_chunk = None
        parts: list[np.ndarray] = []
        kw = self._kwargs(job)
        if "duration" in kw:  # the streaming API has no duration: cap the tokens instead
            kw["max_new_tokens"] = duration_to_tokens(kw.pop("duration"), self.frame_rate)
        if should_stop is not None:
            kw["should_stop"] = should_stop
        it = self.tts.stream(job.text, voice, **kw)
        try:
            for chunk in it:
                check()
                if first_chunk is None:
                    first_chunk = time.perf_counter() - t0
                chunk = np.asarray(chunk, dtype=np.float32).reshape(-1)
                parts.append(chunk)
                emit(chunk)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()  # stops the LM generator when the client left mid-stream
        audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        sc = self.score([audio], job.text, voice, job.verifiers)[0]
        info = _jsonable({**getattr(it, "info", {}), "voice": job.voice,
                          "seconds": round(audio.size / self.sample_rate, 3),
                          "audio_chunks": len(parts),
                          "first_chunk_seconds": round(first_chunk or 0.0, 4),
                          "wall_seconds": round(time.perf_counter() - t0, 4)})
        return SpeechOutput(audio, self.sample_rate, sc, info)

    def _search(self, job: SpeechJob, voice: Voice | None,
                should_stop: Callable[[], bool] | None = None) -> SpeechOutput:
        from .formats import change_speed

        res = run_search(self.tts, job.text, voice, search_config(job.search),
                         registry=self.verifiers, should_stop=should_stop, **self._kwargs(job))
        scores = {k: round(float(v), 4) for k, v in res.scores.items()}
        scores.update(self.score([res.audio], job.text, voice,
                                 tuple(n for n in job.verifiers if n not in scores))[0])
        c = res.compute
        info = _jsonable({**res.info, "voice": job.voice, "search": res.strategy,
                          "search_chosen": res.chosen,
                          "search_rank_scores": [round(c_.rank_score, 4) for c_ in res.candidates],
                          "search_transcripts": [c_.meta.get("transcript")
                                                 for c_ in res.candidates],
                          "compute": c.to_dict(), "wall_seconds": round(c.wall_seconds, 4)})
        return SpeechOutput(change_speed(res.audio, job.speed), res.sample_rate, scores, info)


class VoiceNotFound(InputError):
    """No voice of that name (404)."""


class VoiceExists(InputError):
    """A voice of that name exists already (409)."""


def _jsonable(d: dict) -> dict:
    """Drop values JSON cannot carry (arrays) and round floats for headers."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out[k] = _jsonable(v)
        elif isinstance(v, (bool, int, str)) or v is None:
            out[k] = v
        elif isinstance(v, (float, np.floating)):
            out[k] = round(float(v), 4)
        elif isinstance(v, np.integer):
            out[k] = int(v)
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (int, float, str)) or x is None
                                                  for x in v):
            out[k] = list(v)
    return out



def search_config(body: dict):
    """The ``search`` body of a speech request (``strategy``, ``budget``, ``verifiers``,
    ``chunk_tokens``) as a search config (:func:`llasa.search.config_for_budget`)."""
    return config_for_budget(body.get("strategy", "best_of_n"), body.get("budget", 4),
                             tuple(body.get("verifiers") or ()),
                             int(body.get("chunk_tokens") or 25))
