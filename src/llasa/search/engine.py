"""One search run: prompt, token budget, decoding of (partial) candidates, compute accounting.

Notation: ``r`` LM rows (candidates or beams), ``t`` codec frames, ``n`` = 320 t samples.

Scored audio is the *new* speech only: each candidate's codes are rendered after the plan's
decoder context (:func:`llasa.tts.plan.render`), whose audio is cut off — the same plan and
decode as :meth:`llasa.tts.Llasa.synthesize`, so a partial candidate's audio is a prefix-consistent
view of what the final output would sound like, and the winner's audio equals plain synthesis
of its codes. The voice prompt's own audio is never part of a scored candidate; it is the
reference of speaker similarity.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from .._common.errors import InputError
from ..lm.sampling import GenerationSettings
from ..tts.plan import check_voice, plan, render
from ..tts.text import check_text, chunk_text
from ..tts.voices import Voice
from ..verifiers import VerifierRegistry, VerifyRequest
from .result import Candidate, Compute, SearchResult
from .scoring import Scorer, resolve_verifiers


class SearchRun:
    """State shared by the strategies for one (text, voice) request.

    Args:
        tts: a :class:`llasa.tts.Llasa`; its LM, codec, plan config and text limits are used.
        text: what to say (one chunk: long text is refused).
        voice: optional cloning prompt; its audio is the speaker-similarity reference.
        settings: complete sampling settings (seed → reproducible search).
        registry: builds/caches verifiers named by spec.
        language: language of ``text`` for the ASR verifiers.
        budget: the config's requested budget (rows), for the compute report.
        should_stop: asked once per LM decoding step; True raises ``Cancelled``.
    """

    def __init__(self, tts, text: str, voice: Voice | None, settings: GenerationSettings,
                 registry: VerifierRegistry, language: str = "en", budget: int = 1,
                 should_stop=None):
        self.t0 = time.perf_counter()
        self.should_stop = should_stop
        self.lm, self.codec = tts.lm, tts.codec
        limits = tts.limits
        clean = check_text(text, limits)
        if len(chunk_text(clean, limits.chunk_chars)) > 1:
            raise InputError(f"search works on one chunk of text (at most "
                             f"{limits.chunk_chars} characters); split the text and search "
                             "each part, or synthesize it without search")
        check_voice(self.lm, self.codec, voice)
        self.text, self.voice, self.registry = clean, voice, registry
        self.plan = plan(self.lm, clean, voice, settings, tts.plan_config)
        self.prompt, self.settings, self.cap = self.plan.prompt, self.plan.settings, self.plan.budget
        self.request = VerifyRequest(text=clean, language=language,
                                     reference_audio=None if voice is None else voice.audio)
        self.compute = Compute(budget=int(budget), max_lm_tokens=int(budget) * self.cap)

    def scorer(self, specs) -> Scorer:
        return Scorer(resolve_verifiers(specs, self.registry), self.request, self.compute)

    @contextmanager
    def lm_time(self):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.compute.lm_seconds += time.perf_counter() - t0

    def settings_with(self, **kw) -> GenerationSettings:
        return replace(self.settings, **kw)

    def decode(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        """Codes [t_i] → new-speech audio float32 [320 t_i], one batched decode (empty → [])."""
        if not any(len(c) for c in codes):
            return [np.zeros(0, np.float32) for _ in codes]
        t0 = time.perf_counter()
        out = render(self.codec, self.plan, codes)
        self.compute.decode_calls += 1
        self.compute.decode_seconds += time.perf_counter() - t0
        return out

    def finish(self, strategy: str, scorer: Scorer, candidates: list[Candidate],
               audios: list[np.ndarray], chosen: int, steps: list | None = None) -> SearchResult:
        """Build the result around candidate ``chosen`` (its audio is ``audios[chosen]``)."""
        c = candidates[chosen]
        self.compute.candidates = len(candidates)
        self.compute.wall_seconds = time.perf_counter() - self.t0
        audio = audios[chosen]
        sr = int(self.codec.sample_rate)
        info = {"tokens": int(c.num_tokens), "ended": bool(c.ended), "seconds": len(audio) / sr,
                "speech_seconds": len(audio) / sr, "chunks": 1, "max_new_tokens": self.cap,
                "prompt_tokens": len(self.prompt), "search": strategy,
                "lm_tokens": self.compute.lm_tokens,
                "timings": {"generate": self.compute.lm_seconds,
                            "decode": self.compute.decode_seconds,
                            "verify": self.compute.verifier_seconds,
                            "total": self.compute.wall_seconds}}
        return SearchResult(audio=audio, sample_rate=sr, codes=np.asarray(c.codes, np.int64),
                            info=info, strategy=strategy,
                            ranking={"name": scorer.name,
                                     "higher_is_better": scorer.higher_is_better},
                            chosen=chosen, scores=dict(c.scores), candidates=candidates,
                            steps=steps or [], compute=self.compute)
