"""The :class:`Llasa` façade: text (+ optional voice) → speech tokens → 16 kHz audio.

It joins an injected :class:`~llasa.lm.model.LlasaLM` and :class:`~llasa.codec.Codec`; it owns
no network of its own. The steps (prompt, decoder context, token budget; decoding after the
context) live in :mod:`llasa.tts.plan`, which long text (:mod:`llasa.tts.longform`), streaming
(:mod:`llasa.tts.streaming`) and search call too; this class checks input, picks the path and
assembles results.

Cloning prompts follow the official recipe (prompt transcript + target text in one
TEXT_UNDERSTANDING span, assistant turn prefilled with the prompt's speech tokens). The LM
returns only the *new* codes; they are decoded after the last ``decode_context`` (50 = 1 s)
prompt codes, whose audio is cut off at the code boundary (see :mod:`llasa.tts.plan`): exact,
where the card's "decode everything, cut at the prompt-audio length" is off by up to 320
samples because the encoder adds a padding token, and at most 1 s of prompt is decoded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._common.errors import InputError, ModelLoadError
from ..lm.settings import GenerationSettings
from . import plan as steps
from .defaults import default_model_dir
from .plan import PROMPT_JOINS, PlanConfig
from .text import TextLimits, check_text, chunk_text
from .types import SynthesisResult
from .voices import Voice

if TYPE_CHECKING:  # torch-backed; loaded in from_pretrained only, so an injected ONNX engine
    from ..codec.model import Codec  # (llasa.tts.onnx) runs without importing torch
    from ..lm.model import LlasaLM

__all__ = ["Llasa", "PROMPT_JOINS"]


class Llasa:
    """Text-to-speech with a Llasa LM and an X-codec2 codec.

    Args:
        lm: the language model (tokenizer + LlamaForCausalLM + speech vocabulary).
        codec: the codec; its decoder turns codes into audio, its encoder builds voices.
        limits: text length limits and the long-text chunk size.
        decode_context: prompt speech codes decoded in front of the new codes and then cut
            off (left context for the non-causal decoder); 0 decodes the new codes alone.
        prompt_join: how a voice's transcript meets the target text: ``"bare"`` (the model
            card's concatenation, token for token) or ``"space"``. None: ``"bare"`` for text
            models, ``"space"`` for phoneme models (as their training joined the pieces).
            Long text that carries the previous chunk always joins its pieces with spaces.

    Raises:
        ModelLoadError: the LM's speech vocabulary is larger than the codec's codebook.
    """

    engine = "torch"  # "onnx" when built by from_onnx (llasa.tts.onnx)

    def __init__(self, lm: LlasaLM, codec: Codec, *, limits: TextLimits = TextLimits(),
                 decode_context: int = 50, prompt_join: str | None = None):
        if lm.vocab.codebook_size > codec.codebook_size:
            raise ModelLoadError(
                f"LM and codec do not match: the LM has {lm.vocab.codebook_size} speech tokens "
                f"but the codec only {codec.codebook_size} codes")
        self.lm = lm
        self.codec = codec
        self.limits = limits
        self.sample_rate = int(codec.sample_rate)
        self.frame_rate = int(codec.frame_rate)
        # How a voice's transcript meets the target text. "bare": the model card's recipe,
        # token for token (official text models); "space": as phoneme models were trained
        # (llasa.training.lm_data), and an option for text models whose transcripts lack a
        # trailing space ("...there.Hello" fuses otherwise).
        if prompt_join is None:
            prompt_join = "space" if getattr(lm, "frontend", None) is not None else "bare"
        self.plan_config = PlanConfig(self.frame_rate, decode_context, prompt_join)
        # what the model recommends (config.json llasa_sampling) over the card's defaults
        self.default_settings = GenerationSettings(**getattr(lm, "sampling_defaults", {}))
        # long text: the caller's choice, else the model's (llasa_long_text), else carry
        declared = getattr(lm, "long_text_defaults", {}).get("carry", True)
        self.carry = declared if limits.carry is None else limits.carry

    @classmethod
    def from_pretrained(cls, lm: str | Path | None = None, codec: str | Path | None = None, *,
                        device: Any = None, dtype: Any = None, codec_dtype: Any = None,
                        decode_only: bool = False, revision: str | None = None,
                        optimize: bool = True, limits: TextLimits = TextLimits(),
                        quant: str | None = None, prompt_join: str | None = None) -> Llasa:
        """Load an LM and a codec by hub id or local directory.

        Args:
            lm: e.g. ``"HKUSTAudio/Llasa-1B"`` or a directory saved by ``LlasaLM.save_pretrained``.
                ``None``: the model shipped in the package (``llasa/models/default/lm``).
            codec: e.g. ``"HKUSTAudio/xcodec2"`` or a codec directory; ``None``: the shipped one.
            device: ``"cpu"``, ``"cuda"``, ... (default: CUDA when available).
            dtype: LM dtype (``"bf16"``, ``"fp32"``, ...). ``codec_dtype`` likewise (default fp32).
            decode_only: load only the codec decoder (smaller; then voices cannot be built).
            revision: hub revision for both.
            optimize: pack the LM's linear layers for fast CPU decoding
                (:meth:`LlasaLM.optimize`; same outputs, a no-op on GPU). The pipeline only
                runs inference, so this is on by default.
            quant: ``"int8"`` / ``"int4"``: quantized LM weights for CPU decoding
                (:mod:`llasa.lm.quant`); a checkpoint saved quantized loads so anyway.
            prompt_join: ``"bare"`` / ``"space"`` / None, as in :class:`Llasa`.

        Raises:
            ModelLoadError: a name cannot be resolved, or no model is shipped and none is named.
        """
        from ..codec.model import Codec
        from ..lm.model import LlasaLM

        default = default_model_dir()
        if lm is None or codec is None:
            missing = [k for k, v in (("lm", lm), ("codec", codec))
                       if v is None and not (default / k).is_dir()]
            if missing:
                raise ModelLoadError(
                    f"no default {' and '.join(missing)} model is shipped with this llasa "
                    f"(looked in {default}); name one, e.g. --lm HKUSTAudio/Llasa-1B "
                    "--codec HKUSTAudio/xcodec2 (Python: Llasa.from_pretrained(lm=..., codec=...))")
        lm_model = LlasaLM.from_pretrained(lm if lm is not None else default / "lm",
                                           device=device, dtype=dtype, revision=revision,
                                           optimize=optimize, quant=quant)
        codec_model = Codec.from_pretrained(codec if codec is not None else default / "codec",
                                            device=device, dtype=codec_dtype,
                                            decode_only=decode_only, revision=revision)
        return cls(lm_model, codec_model, limits=limits, prompt_join=prompt_join)

    @classmethod
    def from_onnx(cls, directory: str | Path | None = None, *,
                  limits: TextLimits = TextLimits()) -> Llasa:
        """The torch-free ONNX engine on an export folder (default: the shipped model's);
        see :mod:`llasa.tts.onnx`. Decode only: voices come from saved ``.npz`` files."""
        from .onnx import load_onnx

        return load_onnx(directory, limits=limits)

    # ----------------------------------------------------------------------------- prompts
    def voice_from_audio(self, audio: Any, text: str | None, **kw) -> Voice:
        """Build a :class:`Voice` with this pipeline's codec (see :meth:`Voice.from_audio`)."""
        return Voice.from_audio(self.codec, audio, text, **kw)

    @property
    def decode_context(self) -> int:
        return self.plan_config.decode_context

    @property
    def prompt_join(self) -> str:
        return self.plan_config.join

    def build_prompt(self, text: str, voice: Voice | None = None, *,
                     context: tuple[str, np.ndarray] | None = None) -> list[int]:
        """Token ids of the official prompt for ``text`` (cloning ``voice`` if given).

        Args:
            text: target text (normalised and checked against ``limits``).
            voice: optional cloning prompt.
            context: optional extra ``(text, codes)`` spoken right after the voice prompt
                (long-text continuation); it joins the prompt text and the prefilled codes.

        Returns:
            Prompt ids, ending with SPEECH_GENERATION_START + the prompt's speech tokens.
        """
        text = check_text(text, self.limits)
        steps.check_voice(self.lm, self.codec, voice)
        return steps.build_prompt(self.lm, text, voice, join=self.prompt_join, context=context)

    def context_codes(self, prompt: Sequence[int]) -> np.ndarray:
        """The last ``decode_context`` speech codes prefilled in ``prompt`` (int64 [c])."""
        return steps.context_codes(self.lm.vocab, prompt, self.decode_context)

    def decode(self, codes: list[np.ndarray], contexts: list[np.ndarray]) -> list[np.ndarray]:
        """Decode new codes [t_i] after their context codes [c_i]; returns float32 [320 t_i]."""
        plans = [steps.Plan([], np.asarray(c, np.int64), 0, self.default_settings)
                 for c in contexts]
        return steps.render(self.codec, plans, codes)

    # ------------------------------------------------------------------------- settings
    def make_settings(self, settings: GenerationSettings | None = None,
                      **sampling: Any) -> GenerationSettings:
        """``settings`` (or :attr:`default_settings`: the card's defaults with what the model
        declares) with keyword overrides; unknown keys are an error."""
        known = {f.name for f in fields(GenerationSettings)}
        unknown = sorted(set(sampling) - known)
        if unknown:
            raise InputError(f"unknown sampling option(s) {unknown}; known: {sorted(known)}")
        # a copy: callers never share (or alter) the model's defaults
        return replace(self.default_settings if settings is None else settings, **sampling)

    def token_budget(self, text: str, prompt_len: int, settings: GenerationSettings,
                     duration: float | None = None) -> int:
        """Speech tokens allowed for ``text``: target duration, or the settings' cap, or a cap
        derived from the text length; never more than the context has room for."""
        return steps.budget(self.lm, text, prompt_len, settings, self.frame_rate, duration)

    # --------------------------------------------------------------------------- synthesis
    def synthesize(self, text: str, voice: Voice | None = None, *,
                   settings: GenerationSettings | None = None, duration: float | None = None,
                   should_stop: Callable[[], bool] | None = None,
                   **sampling: Any) -> SynthesisResult:
        """Speak ``text``, optionally in the voice of ``voice``.

        Text longer than ``limits.chunk_chars`` is split into sentence chunks synthesised in
        turn, each continuing from the previous one (see :mod:`llasa.tts.longform`). For a
        verifier-guided search over candidates, call :func:`llasa.search.search`.

        Args:
            text: what to say.
            voice: cloning prompt (audio + transcript + codes), or ``None`` for a random voice.
            settings: sampling settings (defaults: temperature 0.8, top-p 1.0, as the model card).
            duration: target length in seconds (single-chunk text only): the LM may sample at
                most ``round(frame_rate * duration)`` tokens (50 a second), and if it ends
                earlier the audio is padded with trailing silence, so the output is exactly that
                long (to one frame, 20 ms). Speech that needs more time is cut off;
                ``info["ended"]`` tells which happened.
            should_stop: asked once per LM decoding step; when it returns True,
                :class:`~llasa._common.errors.Cancelled` is raised (a server stops a request
                whose client left).
            **sampling: overrides of ``settings`` fields (``temperature=0.7, seed=1``, ...).

        Returns:
            :class:`SynthesisResult` with audio [n] (float32, 16 kHz), codes [t] and info.
        """
        from .longform import synthesize_long

        t0 = time.perf_counter()
        clean = check_text(text, self.limits)
        settings = self.make_settings(settings, **sampling)
        chunks = chunk_text(clean, self.limits.chunk_chars)
        if len(chunks) > 1:
            if duration is not None:
                raise InputError("duration control works on one chunk of text; this text is "
                                 f"split into {len(chunks)} chunks")
            steps.check_voice(self.lm, self.codec, voice)
            return synthesize_long(self.lm, self.codec, self.plan_config, chunks, voice,
                                   settings, carry=self.carry, t0=t0, should_stop=should_stop)
        return self._synthesize_many([clean], voice, settings, duration, t0, should_stop)[0]

    def synthesize_batch(self, texts: Sequence[str], voice: Voice | None = None, *,
                         settings: GenerationSettings | None = None,
                         duration: float | None = None,
                         should_stop: Callable[[], bool] | Sequence[Callable[[], bool]]
                         | None = None,
                         **sampling: Any) -> list[SynthesisResult]:
        """Speak several texts at once (one padded batch through the LM).

        Texts that need long-text chunking are synthesised one by one after the batch.
        With greedy settings the results equal one-by-one :meth:`synthesize` calls.
        ``should_stop`` is asked once per decoding step: one function stops the whole batch
        with :class:`~llasa._common.errors.Cancelled`; one function per text (a server's
        clients) drops a text's rows from the batch when its function turns True, and its
        result then has empty audio and ``info["cancelled"]`` True (Cancelled is raised only
        when every text is cancelled).
        """
        if isinstance(texts, str) or not isinstance(texts, Sequence) or not texts:
            raise InputError("texts must be a non-empty list of strings")
        t0 = time.perf_counter()
        settings = self.make_settings(settings, **sampling)
        clean = [check_text(t, self.limits, name=f"text {i}") for i, t in enumerate(texts)]
        per_text = isinstance(should_stop, (list, tuple))
        if per_text and len(should_stop) != len(clean):
            raise InputError(f"should_stop has {len(should_stop)} functions for "
                             f"{len(clean)} texts")
        short = [i for i, t in enumerate(clean) if len(t) <= self.limits.chunk_chars]
        out: list[SynthesisResult | None] = [None] * len(clean)
        if short:
            stops = [should_stop[i] for i in short] if per_text else should_stop
            for i, r in zip(short, self._synthesize_many([clean[i] for i in short], voice,
                                                          settings, duration, t0, stops)):
                out[i] = r
        for i in (i for i in range(len(clean)) if out[i] is None):
            out[i] = self.synthesize(clean[i], voice, settings=settings, duration=duration,
                                     should_stop=should_stop[i] if per_text else should_stop)
        return out  # type: ignore[return-value]

    def _synthesize_many(self, texts: list[str], voice: Voice | None,
                         settings: GenerationSettings, duration: float | None,
                         t0: float, should_stop: Any = None) -> list[SynthesisResult]:
        steps.check_voice(self.lm, self.codec, voice)
        plans = steps.plan_batch(self.lm, texts, [voice] * len(texts), settings,
                                 self.plan_config, duration)
        budget = plans[0].budget
        t1 = time.perf_counter()
        gens = [cands[0] for cands in self.lm.generate([p.prompt for p in plans],
                                                       plans[0].settings,
                                                       should_stop=should_stop)]
        t2 = time.perf_counter()
        # nobody wants the audio of a cancelled row
        audios = steps.render(self.codec, plans, [g.codes if not g.cancelled else g.codes[:0]
                                                  for g in gens])
        t3 = time.perf_counter()
        results = []
        for g, audio, p in zip(gens, audios, plans):
            speech_seconds = len(audio) / self.sample_rate
            if duration is not None and not g.cancelled:  # the LM may end early: pad
                audio = np.pad(audio, (0, max(0, budget * self.codec.hop_length - len(audio))))
            info = {"tokens": int(g.num_tokens), "ended": bool(g.ended),
                    "seconds": len(audio) / self.sample_rate,
                    "speech_seconds": speech_seconds, "chunks": 1,
                    "max_new_tokens": budget, "prompt_tokens": len(p.prompt),
                    "cancelled": bool(g.cancelled),
                    "timings": {"generate": t2 - t1, "decode": t3 - t2, "total": t3 - t0}}
            results.append(SynthesisResult(audio=audio, sample_rate=self.sample_rate,
                                           codes=np.asarray(g.codes, dtype=np.int64), info=info))
        return results

    def stream(self, text: str, voice: Voice | None = None, *,
               settings: GenerationSettings | None = None, stream_settings: Any = None,
               should_stop: Callable[[], bool] | None = None,
               **sampling: Any) -> Iterator[np.ndarray]:
        """Yield float32 audio chunks [m] as tokens arrive (see :mod:`llasa.tts.streaming`).

        ``should_stop`` is asked once per LM decoding step; True makes the iteration raise
        :class:`~llasa._common.errors.Cancelled`."""
        from .streaming import AudioStream

        clean = check_text(text, self.limits)  # bad input fails at the call, not at next()
        steps.check_voice(self.lm, self.codec, voice)
        return AudioStream(self.lm, self.codec, self.plan_config,
                           chunk_text(clean, self.limits.chunk_chars), voice,
                           self.make_settings(settings, **sampling), stream_settings,
                           carry=self.carry, should_stop=should_stop)
