"""Hub-grade ASR: any transformers Whisper checkpoint ("hf-asr:<id or dir>").

For users with weights (e.g. ``openai/whisper-large-v3``, the paper's English WER model, which is
multilingual and so also serves Chinese CER). Same interface as
:class:`~llasa.verifiers.asr.Transcriber`, so :class:`~llasa.verifiers.asr.ASRVerifier` and voice
auto-transcription take either.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .._common.errors import InputError, ModelLoadError
from .._common.units import SAMPLE_RATE
from .._common.hub import resolve
from .base import LazyLoad, check_audios

_SR = SAMPLE_RATE
_PIECE = 30 * _SR   # Whisper's window; longer clips are transcribed in 30 s pieces
MIN_SECONDS = 0.1


class HFWhisperTranscriber(LazyLoad):
    """Batched transcription with ``WhisperForConditionalGeneration`` (lazy load).

    Batching: up to ``batch_size`` clips (or 30 s pieces of longer clips) share one
    ``generate`` call; Whisper pads every input to 30 s, so a clip's features do not depend on
    its neighbours.

    Args:
        model: hub id or local directory with a Whisper model + processor files.
        device, dtype: torch placement (fp32 CPU default; "bf16"/"fp16" on GPU).
        revision: hub revision.
        batch_size: clips per ``generate`` call.
        num_beams: beam width (1 = greedy).
        max_new_tokens: cap on tokens per 30 s piece.
    """

    def __init__(self, model: str, *, device: str | None = None, dtype: str | None = None,
                 revision: str | None = None, batch_size: int = 8, num_beams: int = 1,
                 max_new_tokens: int = 200):
        if batch_size < 1 or num_beams < 1 or max_new_tokens < 1:
            raise InputError("HFWhisperTranscriber: batch_size, num_beams and max_new_tokens "
                             "must be >= 1")
        self.model_id = str(model)
        self.device, self.dtype, self.revision = device, dtype, revision
        self.batch_size, self.num_beams, self.max_new_tokens = batch_size, num_beams, max_new_tokens
        LazyLoad.__init__(self)  # backend(): (processor, model), loaded on first use

    def _load(self):
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        from .._common.device import resolve_device, resolve_dtype

        path = resolve(self.model_id, self.revision)
        try:
            processor = WhisperProcessor.from_pretrained(path)
            model = WhisperForConditionalGeneration.from_pretrained(
                path, dtype=resolve_dtype(self.dtype))
        except (OSError, ValueError, KeyError) as e:
            raise ModelLoadError(f"cannot load a Whisper model from {self.model_id}: {e}") from None
        return processor, model.to(resolve_device(self.device)).eval()

    @property
    def multilingual(self) -> bool:
        _, model = self.backend()
        return bool(getattr(model.generation_config, "lang_to_id", None))

    def transcribe(self, audios: Sequence[np.ndarray], language: str | None = None) -> list[str]:
        """Transcribe clips.

        Args:
            audios: b waveforms, float [n_i] at 16 kHz.
            language: ISO code ("en", "zh", ...); None lets a multilingual model detect it.

        Returns:
            b raw transcripts ("" for clips under 0.1 s).
        """
        import torch

        wavs = check_audios(audios)
        processor, model = self.backend()
        gen_kwargs: dict = {"max_new_tokens": self.max_new_tokens, "num_beams": self.num_beams}
        if language is not None:
            lang = language.split("-")[0].lower()
            if self.multilingual:
                gen_kwargs.update(language=lang, task="transcribe")
            elif lang != "en":
                raise InputError(f"the Whisper model {self.model_id} is English-only and cannot "
                                 f"transcribe language {language!r}")
        pieces, owners = [], []
        for i, wav in enumerate(wavs):
            if wav.size < MIN_SECONDS * _SR:
                continue
            for start in range(0, wav.size, _PIECE):
                piece = wav[start:start + _PIECE]
                if start == 0 or piece.size >= MIN_SECONDS * _SR:
                    pieces.append(piece)
                    owners.append(i)
        texts: list[list[str]] = [[] for _ in wavs]
        for b in range(0, len(pieces), self.batch_size):
            chunk = pieces[b:b + self.batch_size]
            feats = processor.feature_extractor(chunk, sampling_rate=_SR, return_tensors="pt")
            features = feats["input_features"].to(model.device, model.dtype)  # [g, mels, 3000]
            with torch.inference_mode():
                ids = model.generate(features, **gen_kwargs)                    # [g, tokens]
            decoded = processor.batch_decode(ids, skip_special_tokens=True)
            for k, text in enumerate(decoded):
                texts[owners[b + k]].append(text.strip())
        return [" ".join(t for t in parts if t) for parts in texts]
