"""Speaker similarity (SIM): cosine between speaker embeddings of candidate and reference voice.

Two backends:

- :class:`SpeakerSimilarity` ("sim") — resemblyzer's GE2E d-vector (weights ship in its wheel).
  Its embeddings are non-negative and unit-norm, so the cosine lies in [0, 1].
- :class:`WavLMSimilarity` ("wavlm-sim:<id or dir>") — transformers ``WavLMForXVector``, e.g.
  ``microsoft/wavlm-base-plus-sv`` (the family behind the paper's SIM metric); cosine in [-1, 1].

Clips shorter than :data:`MIN_SECONDS` (or silent) score the bottom of the range. The reference
embedding is cached per reference waveform, so beam steps re-embed only the candidates.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections import OrderedDict

import numpy as np

from .._common.errors import InputError, ModelLoadError
from .._common.units import SAMPLE_RATE
from .._common.hub import resolve
from .base import LazyVerifier, VerifyRequest

#: Candidates shorter than this (seconds) cannot be embedded and score the range's minimum.
MIN_SECONDS = 0.1
_SR = SAMPLE_RATE
_REF_CACHE_SIZE = 8


def _key(wav: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(wav, dtype=np.float32).tobytes()).hexdigest()


class _SimilarityBase(LazyVerifier):
    """Shared logic: embed candidates in one batch, cosine against the cached reference."""

    higher_is_better = True

    def __init__(self):
        super().__init__()
        self._ref_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def _check_request(self, request: VerifyRequest) -> None:
        if request.reference_audio is None:
            raise InputError(f"the '{self.name}' verifier compares against a reference voice, "
                             "but the request has no reference_audio")

    def embed(self, audios: list[np.ndarray]) -> list[np.ndarray | None]:
        """Unit-norm speaker embeddings [d] per audio (None where a clip is too short/silent)."""
        raise NotImplementedError

    def _reference_embedding(self, ref: np.ndarray) -> np.ndarray:
        key = _key(ref)
        with self._cache_lock:
            emb = self._ref_cache.get(key)
            if emb is not None:
                self._ref_cache.move_to_end(key)
                return emb
        emb = self.embed([ref])[0]
        if emb is None:
            raise InputError(f"the reference voice is too short or silent to embed "
                             f"(need at least {MIN_SECONDS} s of speech)")
        with self._cache_lock:
            self._ref_cache[key] = emb
            while len(self._ref_cache) > _REF_CACHE_SIZE:
                self._ref_cache.popitem(last=False)
        return emb

    def _score(self, audios, request):
        ref = self._reference_embedding(request.reference_audio)
        embs = self.embed(audios)
        return np.array([self.score_range[0] if e is None else float(np.dot(e, ref))
                         for e in embs])


class SpeakerSimilarity(_SimilarityBase):
    """Resemblyzer d-vector cosine similarity ("sim"), in [0, 1], higher is better.

    Batching: every clip is cut into resemblyzer's 1.6 s partial windows (rate 1.3/s), the
    windows of all clips go through the LSTM as one batch, then each clip's windows are
    averaged and re-normalised — exactly what ``VoiceEncoder.embed_utterance`` does per clip.

    Args:
        device: torch device for the LSTM ("cpu" default; it is small).
        trim_silence: apply resemblyzer's preprocessing (volume normalisation up to -30 dBFS and
            WebRTC-VAD trimming of long silences), as its authors recommend.
    """

    name = "sim"
    score_range = (0.0, 1.0)

    def __init__(self, device: str = "cpu", trim_silence: bool = True):
        super().__init__()
        self.device = device
        self.trim_silence = trim_silence

    def _load(self):
        try:
            with warnings.catch_warnings():  # webrtcvad imports the deprecated pkg_resources
                warnings.simplefilter("ignore", UserWarning)
                from resemblyzer import VoiceEncoder
        except ImportError as e:
            raise ModelLoadError(f"the 'sim' verifier needs resemblyzer ({e}); "
                                 "pip install resemblyzer==0.1.4 webrtcvad==2.0.10") from None
        return VoiceEncoder(device=self.device, verbose=False)

    def _prepare(self, wav: np.ndarray) -> np.ndarray | None:
        if wav.size < MIN_SECONDS * _SR or not np.any(wav):
            return None
        if self.trim_silence:
            from resemblyzer import preprocess_wav

            # The VAD packs int16: keep the volume-normalised signal inside [-1, 1].
            wav = np.clip(preprocess_wav(wav), -1.0, 1.0)
        return wav if wav.size >= MIN_SECONDS * _SR else None

    def embed(self, audios):
        import torch

        encoder = self.backend()  # first: its import silences webrtcvad's warning
        from resemblyzer import audio as rz_audio

        mels, owners = [], []
        for i, wav in enumerate(audios):
            wav = self._prepare(wav)
            if wav is None:
                continue
            wav_slices, mel_slices = encoder.compute_partial_slices(len(wav), 1.3, 0.75)
            if wav_slices[-1].stop >= len(wav):
                wav = np.pad(wav, (0, wav_slices[-1].stop - len(wav)))
            mel = rz_audio.wav_to_mel_spectrogram(wav)  # [frames, 40]
            mels += [mel[s] for s in mel_slices]       # each [160, 40]
            owners += [i] * len(mel_slices)
        out: list[np.ndarray | None] = [None] * len(audios)
        if not mels:
            return out
        with torch.inference_mode():
            batch = torch.from_numpy(np.stack(mels)).to(encoder.device)  # [windows, 160, 40]
            partial = encoder(batch).cpu().numpy().astype(np.float64)    # [windows, 256]
        owners = np.asarray(owners)
        for i in np.unique(owners):
            mean = partial[owners == i].mean(axis=0)
            out[i] = mean / np.linalg.norm(mean)
        return out


class WavLMSimilarity(_SimilarityBase):
    """Cosine of WavLM x-vectors ("wavlm-sim:<id>"), in [-1, 1], higher is better.

    Batching: clips of equal length run as one batch without padding. Padding would change the
    embedding (group-norm feature encoders such as wavlm-base-plus-sv see it in their statistics,
    and even with an attention mask the TDNN layers see padded frames), so clips of different
    lengths run in separate batches. PRM steps, where all partial candidates have the same
    length, still run as one batch.

    Args:
        model: hub id or local directory holding a ``WavLMForXVector`` + feature extractor.
        device, dtype: torch placement (fp32 on CPU by default).
        revision: hub revision.
    """

    score_range = (-1.0, 1.0)

    def __init__(self, model: str, *, device: str | None = None, dtype: str | None = None,
                 revision: str | None = None):
        super().__init__()
        self.model_id = str(model)
        self.name = f"wavlm-sim:{self.model_id}"
        self.device, self.dtype, self.revision = device, dtype, revision

    def _load(self):
        from transformers import AutoFeatureExtractor, WavLMForXVector

        from .._common.device import resolve_device, resolve_dtype

        path = resolve(self.model_id, self.revision)
        try:
            fe = AutoFeatureExtractor.from_pretrained(path)
            model = WavLMForXVector.from_pretrained(path, dtype=resolve_dtype(self.dtype))
        except (OSError, ValueError, KeyError) as e:
            raise ModelLoadError(f"cannot load a WavLM speaker-verification model from "
                                 f"{self.model_id}: {e}") from None
        return fe, model.to(resolve_device(self.device)).eval()

    def embed(self, audios):
        import torch

        fe, model = self.backend()
        out: list[np.ndarray | None] = [None] * len(audios)
        ok = [i for i, w in enumerate(audios) if w.size >= MIN_SECONDS * _SR and np.any(w)]
        by_len: dict[int, list[int]] = {}
        for i in ok:
            by_len.setdefault(audios[i].size, []).append(i)
        for idx in by_len.values():
            feats = fe([audios[i] for i in idx], sampling_rate=_SR, return_tensors="pt")
            values = feats["input_values"].to(model.device, model.dtype)    # [g, n]
            with torch.inference_mode():
                emb = model(input_values=values).embeddings.float()       # [g, d]
            emb = torch.nn.functional.normalize(emb, dim=-1).cpu().numpy().astype(np.float64)
            for j, i in enumerate(idx):
                out[i] = emb[j]
        return out
