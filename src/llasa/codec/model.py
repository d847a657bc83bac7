"""The X-codec2 codec: a thin wrapper over transformers' ``Xcodec2Model``.

What the wrapper adds: loading both checkpoint formats (transformers and the original release),
a decode-only mode that never materialises the encoders, the official padding convention,
batched variable-length encode/decode that equals one-by-one calls, and streaming decode
(:mod:`llasa.codec.streaming`).

Notation: ``b`` batch, ``n`` samples (16 kHz), ``t`` tokens (one per 320 samples), ``d`` width.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from .._common.device import resolve_device, resolve_dtype, warn_if_emulated
from .._common.errors import InputError, ModelLoadError
from .._common.hub import resolve
from .._common.packing import should_pack
from ..audio import validate_waveform
from . import convert
from .config import FRAME_RATE, HOP_LENGTH, SAMPLE_RATE, check_config, codebook_size
from .features import feature_extractor, num_tokens, pad_waveform, semantic_features
from .fused import fuse_decoder, unfuse_decoder
from .windows import ENCODE_CONTEXT, ENCODE_WINDOW, encode_windowed

# Modules a decoder needs (quantizer → acoustic decoder); decode_only builds nothing else.
_DECODER_PREFIXES = ("acoustic_decoder.", "quantizer.project_out.")
_ORIGINAL_DECODER_PREFIXES = ("generator.", "fc_post_a.")
_ENCODER_MODULES = ("semantic_encoder", "semantic_adapter", "acoustic_encoder", "fc_encoder")


def _build(config, decode_only: bool, empty: bool):
    """Xcodec2Model with parameters on the meta device (``empty``) or randomly initialised."""
    from accelerate import init_empty_weights
    from transformers import Xcodec2Model

    check_config(config)
    if empty:
        with init_empty_weights(include_buffers=False):  # buffers (filters, FSQ grid) stay real
            net = Xcodec2Model(config)
    else:
        net = Xcodec2Model(config)
    if decode_only:
        for name in _ENCODER_MODULES:
            delattr(net, name)
        del net.quantizer.project_in
    return net.eval()


def _randomize_(net, seed: int) -> None:
    """Seeded fan-in-scaled random weights.

    transformers' default init (std 0.02) makes a small codec's latents collapse to a single
    code; unit-gain weights keep codes diverse and audio non-trivial, so tests can fail.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.ndim > 1:
                p.copy_(torch.randn(p.shape, generator=g) / float(np.prod(p.shape[1:])) ** 0.5)
            elif name.endswith((".alpha", ".beta")):  # SnakeBeta log-scale parameters
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            elif "norm" in name and name.endswith(".weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))


def _read_keys(path: Path) -> list[str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return list(f.keys())


def _read_safetensors(path: Path, keep) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys() if keep(k)}


def _load_weights(src: Path, decode_only: bool):
    """Return (config, transformers-format state dict) for any supported checkpoint."""
    from transformers import Xcodec2Config

    st = src / "model.safetensors" if src.is_dir() else src
    original = src.suffix == ".ckpt" or (src.is_dir() and not st.exists()) or (
        st.suffix == ".safetensors" and convert.is_original(_read_keys(st)))
    if original:
        if decode_only and st.suffix == ".safetensors" and st.exists():
            sd = _read_safetensors(st, lambda k: k.startswith(_ORIGINAL_DECODER_PREFIXES)
                                   or k.startswith("CodecEnc.conv_blocks.0."))
        else:
            sd = convert.read_original(src)
        config = convert.infer_config(sd)
        if decode_only:
            sd = {k: v for k, v in sd.items() if k.startswith(_ORIGINAL_DECODER_PREFIXES)}
        sd = convert.convert_state_dict(sd, config)
        if decode_only:  # generator.* also holds the encoder-side project_in
            sd = {k: v for k, v in sd.items() if k.startswith(_DECODER_PREFIXES)}
        return config, sd
    cfg_path = (src if src.is_dir() else src.parent) / "config.json"
    if not st.exists() or not cfg_path.exists():
        raise ModelLoadError(f"{src}: expected config.json + model.safetensors (transformers "
                             "format) or an original X-codec2 checkpoint")
    cfg = json.loads(cfg_path.read_text())
    if cfg.get("model_type") != "xcodec2":
        raise ModelLoadError(f"{cfg_path}: model_type is {cfg.get('model_type')!r}, not 'xcodec2'")
    config = Xcodec2Config.from_dict(cfg)
    keep = (lambda k: k.startswith(_DECODER_PREFIXES)) if decode_only else (lambda k: True)
    return config, _read_safetensors(st, keep)


class Codec:
    """X-codec2 speech codec: 16 kHz audio ↔ one stream of codes at 50 tokens/s.

    Attributes:
        sample_rate: 16000. hop_length: 320 samples per code. frame_rate: 50 codes a second.
        codebook_size: 65 536 for 4^8 FSQ.
        device, dtype: where and in which precision the network runs.
        decode_only: True when only the decoder was built (``encode`` raises).
        net: the underlying ``transformers.Xcodec2Model`` (encoder parts absent if decode_only).
        optimized: True while the decoder's linear layers are oneDNN-packed (:meth:`optimize`).
    """

    sample_rate = SAMPLE_RATE
    hop_length = HOP_LENGTH
    frame_rate = FRAME_RATE

    def __init__(self, net, *, decode_only: bool = False, device=None, dtype=None,
                 optimize: bool | str = "auto"):
        if optimize not in (True, False, "auto"):
            raise InputError(f"optimize must be True, False or 'auto', got {optimize!r}")
        self.net = net
        self.config = net.config
        self.decode_only = decode_only
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        warn_if_emulated(self.dtype, self.device, "codec")
        self.codebook_size = codebook_size(self.config)
        self.net.to(device=self.device, dtype=self.dtype)
        self._extractor = None if decode_only else feature_extractor()
        self.optimized = False
        # "auto" packs at the first decode, not here: training code takes ``codec.net`` from
        # a fresh Codec and must get plain, trainable layers.
        self._auto_optimize = optimize == "auto"
        self._optimize_lock = threading.Lock()  # decodes from several threads pack once
        if optimize is True:
            self.optimize()

    def optimize(self) -> "Codec":
        """Fuse the decoder for fast CPU decoding (fp32/bf16; no-op elsewhere).

        The transformer blocks become :class:`~llasa.codec.fused.FusedDecoderLayer`; where
        oneDNN's kernels pay on this CPU (AVX-512, :func:`llasa._common.cpu.pack_pays`) they and
        ``fc`` and the ISTFT head's projection are packed: a decode then takes about half the
        CPU time in fp32 (``bench/codec.py``). On AVX2 the fused blocks keep plain weights on
        MKL. Outputs stay within ~1e-5 of the plain layers. The decoder is inference-only until
        :meth:`unoptimize`. ``optimize="auto"`` (the default) does this at the first decode.
        """
        with self._optimize_lock:
            if (not self.optimized and self.device.type == "cpu"
                    and self.dtype in (torch.float32, torch.bfloat16)):
                fuse_decoder(self.net.acoustic_decoder,
                             packed=should_pack(self.device, self.dtype, "long"))
                self.optimized = True
            self._auto_optimize = False
        return self

    def unoptimize(self) -> "Codec":
        """Undo :meth:`optimize`: plain, trainable ``nn.Linear`` layers (same weights)."""
        if self.optimized:
            unfuse_decoder(self.net.acoustic_decoder)
            self.optimized = False
        self._auto_optimize = False
        return self

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_config(cls, config, *, seed: int = 0, device=None, dtype=None,
                    decode_only: bool = False, optimize: bool | str = "auto") -> "Codec":
        """Random weights (seeded, fan-in scaled) for a configuration, e.g. ``presets.tiny()``.

        The full network is built and initialised before the encoder is dropped when
        ``decode_only``, so the decoder weights do not depend on that flag.
        """
        torch.manual_seed(seed)
        net = _build(config, decode_only=False, empty=False)
        _randomize_(net, seed)
        if decode_only:
            for name in _ENCODER_MODULES:
                delattr(net, name)
            del net.quantizer.project_in
        return cls(net, decode_only=decode_only, device=device, dtype=dtype, optimize=optimize)

    @classmethod
    def from_pretrained(cls, path_or_id, *, device=None, dtype=None, decode_only: bool = False,
                        revision: str | None = None, optimize: bool | str = "auto") -> "Codec":
        """Load a codec from a local path or hub id.

        Accepts the transformers layout (``HKUSTAudio/xcodec2-hf``: config.json +
        model.safetensors) and the original release (``HKUSTAudio/xcodec2``: a directory, its
        ``model.safetensors`` with ``CodecEnc.*``/``generator.*`` keys, or a Lightning
        ``ckpt/*.ckpt``), converted on the fly (:mod:`llasa.codec.convert`).

        Args:
            decode_only: build and load only the decoder (no w2v-BERT, no acoustic encoder).
            optimize: "auto" (default): pack the decoder for fast CPU inference at the first
                decode (:meth:`optimize`); True: pack now; False: never.

        Raises:
            ModelLoadError: missing path, wrong format, or unknown/missing weights (named).
        """
        src = resolve(path_or_id, revision=revision)
        config, sd = _load_weights(Path(src), decode_only)
        net = _build(config, decode_only, empty=True)
        expected = net.state_dict()
        missing = sorted(set(expected) - set(sd))
        unexpected = sorted(set(sd) - set(expected))
        if missing or unexpected:
            def show(keys):
                return ", ".join(keys[:8]) + (f" … (+{len(keys) - 8} more)" if len(keys) > 8 else "")
            raise ModelLoadError(f"{path_or_id}: weights do not match the codec architecture: "
                                 + (f"missing {show(missing)}" if missing else "")
                                 + ("; " if missing and unexpected else "")
                                 + (f"unexpected {show(unexpected)}" if unexpected else ""))
        bad = [f"{k} {tuple(v.shape)} vs {tuple(expected[k].shape)}" for k, v in sd.items()
               if v.shape != expected[k].shape]
        if bad:
            raise ModelLoadError(f"{path_or_id}: shape mismatch: " + "; ".join(bad[:8]))
        net.load_state_dict(sd, strict=True, assign=True)
        return cls(net, decode_only=decode_only, device=device, dtype=dtype, optimize=optimize)

    def save_pretrained(self, directory) -> Path:
        """Write config.json + model.safetensors (transformers layout, loadable by both)."""
        if self.decode_only:
            raise InputError("a decode_only codec has no encoder weights to save; load it "
                             "with decode_only=False first")
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        was = self.optimized
        self.unoptimize()  # packed layers hold no state_dict weights: save plain ones
        try:
            self.net.save_pretrained(str(out), safe_serialization=True)
        finally:
            if was:
                self.optimize()
        return out

    # ---- encode --------------------------------------------------------------------------
    def encode(self, waveforms: np.ndarray | list[np.ndarray], batch_size: int = 8, *,
               window: int = ENCODE_WINDOW, context: int = ENCODE_CONTEXT) -> list[np.ndarray]:
        """Encode 16 kHz mono waveforms into codes, batched with padding masks.

        Args:
            waveforms: one float waveform [n] or a list of them (lengths may differ).
            batch_size: waveforms per forward pass (sorted by length to limit padding).
            window, context: a waveform of more than ``window`` tokens (30 s) is encoded
                alone in overlapping windows with ``context`` tokens on each side, so memory
                stays bounded for any length (:mod:`llasa.codec.windows`); shorter ones are
                encoded in one pass.

        Returns:
            list of int64 code arrays, one per input, each of length ``n // 320 + 1`` (the
            official convention, see :func:`llasa.codec.features.num_tokens`). Results equal
            encoding each waveform alone.
        """
        if self.decode_only:
            raise InputError("this codec was loaded with decode_only=True and cannot encode; "
                             "load it without decode_only")
        wavs = _as_list(waveforms, "waveform")
        wavs = [validate_waveform(np.asarray(w, dtype=np.float32)
                                  if np.issubdtype(np.asarray(w).dtype, np.floating) else w,
                                  name=f"waveform {i}") for i, w in enumerate(wavs)]
        if window <= 2 * context or context < 0:
            raise InputError(f"window ({window}) must exceed twice the context ({context}) "
                             "and the context must be >= 0")
        out: list[np.ndarray | None] = [None] * len(wavs)
        order = []
        for i in sorted(range(len(wavs)), key=lambda i: len(wavs[i])):
            if num_tokens(len(wavs[i])) > window:  # one at a time, windowed: bounded memory
                out[i] = encode_windowed(self, pad_waveform(wavs[i]), window, context)
            else:
                order.append(i)
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            for i, codes in zip(idx, self._encode_batch([pad_waveform(wavs[i]) for i in idx])):
                out[i] = codes
        return out  # type: ignore[return-value]

    @torch.inference_mode()
    def _encode_batch(self, padded: list[np.ndarray]) -> list[np.ndarray]:
        net, dev, dt = self.net, self.device, self.dtype
        lengths = [len(w) // HOP_LENGTH for w in padded]  # t_i
        feats, mask = semantic_features(padded, self._extractor)
        # w2v-BERT masks padded frames (attention + causal depthwise conv): batching is exact.
        sem = net.semantic_encoder(feats.to(dev, dt), attention_mask=mask.to(dev)).last_hidden_state
        # The conv adapter and the acoustic CNN see across the sequence end (zero/replicate
        # padding), so they run per length: batching stays identical to one-by-one.
        sem = [net.semantic_adapter(sem[i:i + 1, :t].transpose(1, 2)) for i, t in enumerate(lengths)]
        acoustic: dict[int, torch.Tensor] = {}
        by_len = defaultdict(list)
        for i, t in enumerate(lengths):
            by_len[t].append(i)
        for t, idx in by_len.items():
            wav = torch.from_numpy(np.stack([padded[i] for i in idx]))[:, None].to(dev, dt)
            h = net.acoustic_encoder(wav)  # [k, d, t]
            for j, i in enumerate(idx):
                acoustic[i] = h[j:j + 1]
        codes = []
        for i, t in enumerate(lengths):
            h = torch.cat([sem[i], acoustic[i]], dim=1)  # [1, 2d, t], semantic first
            h = net.fc_encoder(h.transpose(1, 2))  # [1, t, 2d]
            _, idx = net.quantizer(h)  # [1, t, 1]
            codes.append(idx[0, :, 0].long().cpu().numpy())
        return codes

    # ---- decode --------------------------------------------------------------------------
    def decode(self, codes: np.ndarray | list[np.ndarray]) -> list[np.ndarray]:
        """Decode code arrays to 16 kHz waveforms.

        Args:
            codes: one int array [t] or a list of them (lengths may differ). Equal lengths are
                batched together; the decoder's GroupNorm and attention span the whole
                sequence, so padding would change results: every result equals decoding it
                alone (up to float rounding, ~1e-7).

        Returns:
            list of float32 waveforms, each of exactly ``320 · t_i`` samples.
        """
        arrays = [self.check_codes(c, f"codes {i}")
                  for i, c in enumerate(_as_list(codes, "code array"))]
        out: list[np.ndarray | None] = [None] * len(arrays)
        by_len = defaultdict(list)
        for i, c in enumerate(arrays):
            by_len[len(c)].append(i)
        for _, idx in sorted(by_len.items()):
            wav = self.decode_tensor(torch.from_numpy(np.stack([arrays[i] for i in idx])))
            for j, i in enumerate(idx):
                out[i] = wav[j].float().cpu().numpy()
        return out  # type: ignore[return-value]

    @torch.inference_mode()
    def decode_tensor(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes [b, t] (int64) → waveforms [b, 320 · t] (float32), no input checks."""
        if self._auto_optimize:
            self.optimize()
        net = self.net
        h = net.quantizer.from_codes(codes.to(self.device)[..., None])  # [b, t, 2d]
        wav = net.acoustic_decoder(h.to(self.dtype))  # [b, 1, 320 t]
        return wav[:, 0].float()

    def decode_stream(self, code_chunks: Iterable[np.ndarray], settings=None
                      ) -> Iterator[np.ndarray]:
        """Decode codes as they arrive; see :func:`llasa.codec.streaming.decode_stream`."""
        from .streaming import decode_stream

        return decode_stream(self, code_chunks, settings)

    def check_codes(self, codes, name: str = "codes") -> np.ndarray:
        """Validate one code array: 1-D integers in [0, codebook_size). Returns int64 [t]."""
        arr = np.asarray(codes)
        if arr.ndim == 2 and 1 in arr.shape:  # [1, t] / [t, 1] as saved by other tools
            arr = arr.reshape(-1)
        if arr.ndim != 1:
            raise InputError(f"{name}: expected a 1-D array of codes, got shape {arr.shape}")
        if arr.size == 0:
            raise InputError(f"{name}: no codes to decode (empty array)")
        if not np.issubdtype(arr.dtype, np.integer):
            raise InputError(f"{name}: codes must be integers, got {arr.dtype}")
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= self.codebook_size:
            raise InputError(f"{name}: codes must lie in [0, {self.codebook_size}), "
                             f"got values from {lo} to {hi}")
        return arr.astype(np.int64)

    def num_tokens(self, num_samples: int) -> int:
        """Codes ``encode`` returns for a waveform of ``num_samples`` samples."""
        return num_tokens(num_samples)


def _as_list(x, what: str) -> list:
    if isinstance(x, np.ndarray) and x.ndim == 1:
        return [x]
    if isinstance(x, torch.Tensor):
        raise InputError(f"expected numpy {what}s, got a torch tensor; use .numpy()")
    if isinstance(x, (list, tuple)):
        if not x:
            raise InputError(f"no {what}s given (empty list)")
        return list(x)
    raise InputError(f"expected a 1-D numpy {what} or a list of them, got "
                     f"{type(x).__name__}{getattr(x, 'shape', '')}")
