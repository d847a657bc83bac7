"""Speech quality (MOS-style) verifiers; both predict a 1–5 mean opinion score, higher is better.

- :class:`DNSMOSVerifier` ("mos") — Microsoft DNSMOS P.835 via ``speechmos`` (ONNX models in the
  wheel, run by onnxruntime). Score: the OVRL (overall) MOS by default.
- :class:`DistillMOSVerifier` ("distillmos") — DistillMOS (a small CNN+Transformer distilled from
  an XLS-R quality model; weights in the ``distillmos`` wheel). ``distillmos`` imports torchaudio
  at module level for its command line only; torchaudio does not load beside our torch, so when it
  is missing we import distillmos with a temporary empty stand-in that is removed right after.

Clips shorter than :data:`MIN_SECONDS` score 1.0 (the bottom of the scale).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types

import numpy as np

from .._common.errors import InputError, ModelLoadError
from .._common.units import SAMPLE_RATE
from .base import LazyVerifier

_SR = SAMPLE_RATE
#: Clips shorter than this (seconds) are not rated and score 1.0.
MIN_SECONDS = 0.1
_DNSMOS_FIELDS = {"ovrl": 2, "sig": 0, "bak": 1}


class DNSMOSVerifier(LazyVerifier):
    """DNSMOS P.835 (``speechmos``) MOS in [1, 5]; higher is better.

    DNSMOS rates 9.01 s windows: a shorter clip is tiled to 9.01 s (as speechmos does), a longer
    one is cut into windows 1 s apart and the window scores are averaged. Batching: the windows
    of all clips run through each ONNX model in batches of up to ``max_batch`` windows (the
    models take a batch axis; on CPU this bounds memory more than it saves time).

    Args:
        field: "ovrl" (overall, default), "sig" (speech signal) or "bak" (background noise), or
            "p808" (the P.808 overall model).
        personalized: use the personalised DNSMOS (penalises interfering talkers).
        device: accepted for a uniform interface; DNSMOS always runs on the CPU (onnxruntime).
        max_batch: windows per ONNX call.
    """

    score_range = (1.0, 5.0)
    higher_is_better = True

    def __init__(self, field: str = "ovrl", personalized: bool = False, device: str = "cpu",
                 max_batch: int = 8):
        super().__init__()
        if max_batch < 1:
            raise InputError("DNSMOSVerifier: max_batch must be >= 1")
        self.max_batch = max_batch
        self.device = device
        if field not in (*_DNSMOS_FIELDS, "p808"):
            raise InputError(f"unknown DNSMOS field {field!r}; use ovrl, sig, bak or p808")
        self.field, self.personalized = field, personalized
        self.name = "mos" if field == "ovrl" else f"mos-{field}"

    def _load(self):
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before speechmos makes sessions
        try:
            import speechmos
            from speechmos.dnsmos import DNSMOS
        except ImportError as e:
            raise ModelLoadError(f"the 'mos' verifier needs speechmos, onnxruntime and librosa "
                                 f"({e}); pip install speechmos==0.0.1.1 onnxruntime") from None
        root = os.path.dirname(speechmos.__file__)
        primary = "pdnsmos_models" if self.personalized else "dnsmos_models"
        return DNSMOS(os.path.join(root, primary, "sig_bak_ovr.onnx"),
                      os.path.join(root, "dnsmos_models", "model_v8.onnx"))

    def _windows(self, wav: np.ndarray) -> list[np.ndarray]:
        from speechmos.dnsmos import INPUT_LENGTH

        need = int(INPUT_LENGTH * _SR)
        while wav.size < need:  # speechmos doubles short clips until they fill a window
            wav = np.concatenate([wav, wav])
        hops = int(np.floor(wav.size / _SR) - INPUT_LENGTH) + 1
        # Window bounds computed in float exactly as speechmos does: a bound that rounds down
        # gives a short window, which speechmos skips; we skip it too, to match its scores.
        windows = [wav[int(k * _SR):int((k + INPUT_LENGTH) * _SR)] for k in range(hops)]
        return [w for w in windows if w.size >= need]

    def _run(self, dnsmos, batch: np.ndarray) -> np.ndarray:
        """[w, 144160] windows → [w] scores of ``self.field``."""
        batch = batch.astype(np.float32)
        if self.field == "p808":
            mels = np.stack([dnsmos.audio_melspec(audio=x[:-160]) for x in batch])
            return dnsmos.p808_onnx_sess.run(None, {"input_1": mels.astype(np.float32)})[0][:, 0]
        out = dnsmos.onnx_sess.run(None, {"input_1": batch})[0]             # [w, 3] sig/bak/ovr
        fitted = dnsmos.get_polyfit_val(out[:, 0], out[:, 1], out[:, 2], self.personalized)
        return np.asarray(fitted[_DNSMOS_FIELDS[self.field]], dtype=np.float64)

    def _score(self, audios, request):
        dnsmos = self.backend()
        owners, windows = [], []
        for i, wav in enumerate(audios):
            if wav.size < MIN_SECONDS * _SR:
                continue
            w = self._windows(np.clip(wav, -1.0, 1.0))
            windows += w
            owners += [i] * len(w)
        scores = np.full(len(audios), self.score_range[0])
        if not windows:
            return scores
        raw = np.concatenate([self._run(dnsmos, np.stack(windows[k:k + self.max_batch]))
                              for k in range(0, len(windows), self.max_batch)])
        owners = np.asarray(owners)
        for i in np.unique(owners):
            scores[i] = float(np.mean(raw[owners == i]))
        return scores


def _import_distillmos():
    """Import distillmos, standing in for its CLI-only torchaudio import when that is absent."""
    # Any module already named torchaudio (real, or another stand-in without a __spec__, on which
    # find_spec would raise) is enough for distillmos' import.
    if ("distillmos" in sys.modules or "torchaudio" in sys.modules
            or importlib.util.find_spec("torchaudio") is not None):
        import distillmos

        return distillmos
    import transformers  # noqa: F401 - must see the real (absent) torchaudio before the stand-in

    sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    try:
        import distillmos
    finally:
        del sys.modules["torchaudio"]
    return distillmos


class DistillMOSVerifier(LazyVerifier):
    """DistillMOS MOS in [1, 5]; higher is better.

    Batching: the model pads clips shorter than 7.68 s to 7.68 s, so all such clips run as one
    batch; longer clips are cropped into overlapping 7.68 s windows whose count depends on the
    length, so they run in groups of equal length.

    Args:
        device: torch device ("cpu" default).
    """

    name = "distillmos"
    score_range = (1.0, 5.0)
    higher_is_better = True

    def __init__(self, device: str = "cpu"):
        super().__init__()
        self.device = device

    def _load(self):
        try:
            distillmos = _import_distillmos()
        except ImportError as e:
            raise ModelLoadError(f"the 'distillmos' verifier needs distillmos and xls-r-sqa ({e});"
                                 " pip install --no-deps distillmos==0.9.1 xls-r-sqa==0.1.0") from None
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # it prints the weight path
            model = distillmos.ConvTransformerSQAModel()
        return model.to(self.device).eval()

    def _score(self, audios, request):
        import torch

        model = self.backend()
        from distillmos.sqa import SEQ_LEN
        scores = np.full(len(audios), self.score_range[0])
        groups: dict[int, list[int]] = {}
        for i, wav in enumerate(audios):
            if wav.size >= MIN_SECONDS * _SR:
                groups.setdefault(max(wav.size, SEQ_LEN), []).append(i)
        for length, idx in groups.items():
            batch = np.zeros((len(idx), length), dtype=np.float32)          # [g, n] zero-padded
            for j, i in enumerate(idx):
                batch[j, :audios[i].size] = audios[i]
            with torch.inference_mode():
                mos = model(torch.from_numpy(batch).to(self.device))[:, 0].cpu().numpy()
            scores[idx] = mos
        return scores
