"""8-bit and 4-bit weights for CPU decoding.

Batch-1 decoding reads every weight once per token, so its speed is bytes per token over memory
bandwidth. Both methods run on llasa's own kernel (:mod:`llasa.lm.qkernel`: weights packed for
streaming reads, activations quantized to int8 per group of 32, VNNI or AVX2 integer dot products,
a batch's rows computed per weight block) where it builds, else on torch's kernels as follows
(measured against llama.cpp in ``bench/cpu.py``, docs/lm.md):

- ``int8``: symmetric per-output-channel int8 weights through fbgemm's dynamic-quantized linear
  (activations quantized per call, int32 accumulation, AVX2 and AVX-512/VNNI kernels). It stays
  at the memory-bandwidth limit for 1-8 rows, so best-of-N batches cost little more than one.
  Activations are 8-bit too, and a few input channels carry most of their range (``down_proj``'s
  largest channel is 27x its median on the shipped model), so each layer is *smoothed*
  (SmoothQuant): calibrated per-channel scales ``s`` move range from the activations into the
  weights, ``x W^T = (x / s)(W diag(s))^T``, with ``s`` from a short seeded generation of
  :data:`CALIBRATION_TEXTS`. On the shipped model, teacher-forced on 5 other sentences, greedy
  agreement with fp32 rose from 0.75 to 0.90 and the mean KL per step fell to 0.013 (int4:
  0.80, 0.051); ``alpha`` 0.5-0.7 gave the same.
- ``int4``: 4-bit weights in groups of :data:`INT4_GROUP` along the input with a scale and an
  offset per group (the layout of llama.cpp's Q4 family) through
  ``aten._weight_int4pack_mm_for_cpu``, whose vectorised path takes bf16 activations.

Both keep llasa's decoding loop, so the prompt ids, the speech-only output head (its allowed
rows are quantized on their own: 19 % fewer bytes per token than the full vocabulary) and the
sampling are those of the full-precision path, and a seed reproduces its output. Norms,
attention and the embedding lookup stay in the model's float dtype.

:func:`quantize_model` swaps the decoder's ``nn.Linear`` layers in place; :func:`quantized_state`
and :func:`load_quantized` store and rebuild them as integers (``llasa quantize``).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .._common.cpu import cpu_info
from .._common.errors import InputError, ModelLoadError
from . import qkernel

QUANTS = ("int8", "int4")
QUANT_KEY = "llasa_quant"  # config.json: {"method": "int8" | "int4", "group_size": G}
INT4_GROUP = 32
#: what int8 calibration speaks (prompts + 32 sampled tokens each; a short batched generation)
CALIBRATION_TEXTS = ("Please close the window before you leave.",
                     "Did you see the ninety six foxes on the farm?",
                     "The museum opens at nine every morning, doesn't it?",
                     "My brother works as a pilot in Toronto.")
SMOOTH_ALPHA = 0.7  # share of the activation range moved into the weights (0.5-0.85 tried)


def check_quant(method) -> str | None:
    """``None``/"none" → None; a known method name → itself; else an InputError."""
    if method is None or method in ("none", "", False):
        return None
    if method not in QUANTS:
        raise InputError(f"quant must be one of {', '.join(QUANTS)} (or none), got {method!r}")
    return method


class Int8Linear(nn.Module):
    """Inference-only ``nn.Linear`` with int8 weights (fbgemm dynamic quantization)."""

    method = "int8"

    def __init__(self, qweight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None,
                 inv_smooth: torch.Tensor | None = None):
        super().__init__()
        self.out_features, self.in_features = qweight.shape
        self.scale = scale.float().contiguous()
        self.bias = bias
        self.inv_smooth = None if inv_smooth is None else inv_smooth.float().contiguous()
        # Without VNNI, fbgemm's u8*s8 pair sums can saturate int16: use 7-bit activations.
        self._reduce = not cpu_info().vnni
        self._qk = None  # llasa's own kernel (lm.qkernel), where it builds
        if qkernel.usable(self.in_features):
            self._qk, self._qweight = qkernel.pack_int8(qweight), None
            return
        self._qweight = qweight.contiguous()
        with warnings.catch_warnings():  # torch marks quantized tensors deprecated, still 2.13's
            warnings.simplefilter("ignore", UserWarning)
            qw = torch._make_per_channel_quantized_tensor(
                self._qweight, self.scale.double(), torch.zeros_like(self.scale, dtype=torch.long),
                0)
        self._packed = torch.ops.quantized.linear_prepack(qw, None if bias is None
                                                          else bias.float())

    @property
    def qweight(self) -> torch.Tensor:
        """The int8 weights [out, in]."""
        if self._qweight is not None:
            return self._qweight
        return qkernel.unpack_int8(self._qk, self.out_features, self.in_features)

    @classmethod
    def from_linear(cls, lin: nn.Linear, act_absmax: torch.Tensor | None = None,
                    smooth: torch.Tensor | None = None) -> "Int8Linear":
        """``act_absmax``: calibrated per-input-channel |activation| maxima → smoothed;
        ``smooth``: the smoothing scales themselves (shared by sibling layers)."""
        w = lin.weight.detach().float()
        if smooth is None and act_absmax is None:
            return cls(*int8_weights(w), _bias(lin))
        s = smooth if smooth is not None else smooth_scales(w, act_absmax)
        return cls(*int8_weights(w * s), _bias(lin), 1 / s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._qk is not None:  # smoothing is applied while quantizing x
            shape = x.shape
            y = qkernel.int8_matmul(x.reshape(-1, shape[-1]), self._qk, self.scale,
                                    self.out_features, self.inv_smooth)
            y = y.reshape(*shape[:-1], self.out_features)
            return (y if self.bias is None else y + self.bias).to(x.dtype)
        xf = x.float() if self.inv_smooth is None else x.float() * self.inv_smooth
        y = torch.ops.quantized.linear_dynamic(xf, self._packed, self._reduce)
        return y.to(x.dtype)

    def state(self) -> dict[str, torch.Tensor]:
        st = {"qweight": self.qweight, "scale": self.scale}
        return st if self.inv_smooth is None else {**st, "inv_smooth": self.inv_smooth}

    def weight_bytes(self) -> int:
        """Bytes of weights one call reads (integers and per-row scales)."""
        return self.out_features * (self.in_features + 4)

    def extra_repr(self) -> str:
        kind = "llasa kernel" if self._qk is not None else "fbgemm"
        return f"in_features={self.in_features}, out_features={self.out_features}, int8, {kind}"


class Int4Linear(nn.Module):
    """Inference-only ``nn.Linear`` with 4-bit weights, one scale and offset per group."""

    method = "int4"

    def __init__(self, q: torch.Tensor, scale_zero: torch.Tensor, bias: torch.Tensor | None,
                 group_size: int = INT4_GROUP):
        super().__init__()
        self.out_features, self.in_features = q.shape
        if self.in_features % group_size:
            raise ModelLoadError(f"int4 needs in_features divisible by {group_size}, "
                                 f"got {tuple(q.shape)}")
        self.group_size, self.bias = group_size, bias
        self.scale_zero = scale_zero.float().contiguous()
        self._qk = None  # llasa's own kernel (lm.qkernel): packed codes, fp16 scales and mins
        if group_size == qkernel.GROUP and qkernel.usable(self.in_features):
            self._qk = qkernel.pack_int4(q, self.scale_zero)
            self._q = None  # the codes live in the packed bytes (state() unpacks them)
            return
        self._q = q.to(torch.uint8).contiguous()
        pad = -self.out_features % 16  # the kernel packs rows in 16s: pad with zero rows
        qp = torch.cat([q, q.new_full((pad, self.in_features), 8)]) if pad else q
        sz = (torch.cat([self.scale_zero, self.scale_zero.new_zeros(
            self.scale_zero.shape[0], pad, 2)], 1) if pad else self.scale_zero)
        self._packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(qp.to(torch.int32), 2)
        self._sz = sz.bfloat16().contiguous()

    @property
    def q(self) -> torch.Tensor:
        """The 4-bit codes [out, in] (uint8 0..15)."""
        if self._q is not None:
            return self._q
        return qkernel.unpack_codes(self._qk, self.out_features, self.in_features)

    @classmethod
    def from_linear(cls, lin: nn.Linear, group_size: int = INT4_GROUP) -> "Int4Linear":
        return cls(*int4_weights(lin.weight, group_size), _bias(lin), group_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        if self._qk is not None:
            y = qkernel.int4_matmul(x.reshape(-1, shape[-1]), self._qk, self.out_features)
        else:
            y = torch.ops.aten._weight_int4pack_mm_for_cpu(
                x.reshape(-1, shape[-1]).bfloat16(), self._packed, self.group_size, self._sz)
            y = y[:, :self.out_features]
        y = y.to(x.dtype).reshape(*shape[:-1], self.out_features)
        return y if self.bias is None else y + self.bias.to(x.dtype)

    def state(self) -> dict[str, torch.Tensor]:
        return {"q": self.q, "scale_zero": self.scale_zero}

    def weight_bytes(self) -> int:
        """Bytes of weights one call reads (4-bit codes, 16-bit scales and offsets)."""
        if self._qk is not None:
            return self._qk.numel()
        return self._q.numel() // 2 + self._sz.numel() * 2

    def extra_repr(self) -> str:
        kind = "llasa kernel" if self._qk is not None else "int4pack"
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"int4 g{self.group_size}, {kind}")


def _bias(lin: nn.Linear):
    return None if lin.bias is None else lin.bias.detach().float()


def smooth_scales(w: torch.Tensor, act_absmax: torch.Tensor, alpha: float = SMOOTH_ALPHA
                  ) -> torch.Tensor:
    """SmoothQuant's per-input-channel scales: ``max|x_j|^a / max|W_:j|^(1-a)``."""
    a = act_absmax.float().clamp(min=1e-5) ** alpha
    return (a / w.abs().amax(0).clamp(min=1e-5) ** (1 - alpha)).clamp(min=1e-5, max=1e5)


def int8_weights(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[out, in] float → (int8 [out, in], fp32 scale [out]), symmetric per output row."""
    w = w.detach().float()
    scale = (w.abs().amax(1) / 127).clamp(min=1e-12)
    return torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8), scale


def int4_weights(w: torch.Tensor, group_size: int = INT4_GROUP
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """[out, in] float → (uint8 codes 0..15 [out, in], fp32 [in/G, out, 2] scale and offset).

    A group's weights map to ``(code - 8) * scale + offset`` with min/max rounding, the layout
    ``_weight_int4pack_mm_for_cpu`` reads.
    """
    w = w.detach().float()
    o, i = w.shape
    g = w.reshape(o, i // group_size, group_size)
    lo, hi = g.amin(-1), g.amax(-1)
    scale = ((hi - lo) / 15).clamp(min=1e-12)
    q = torch.round((g - lo[..., None]) / scale[..., None]).clamp(0, 15).to(torch.uint8)
    offset = lo + 8 * scale
    return q.reshape(o, i), torch.stack([scale, offset], -1).transpose(0, 1).contiguous()


def dequantize(layer: nn.Module) -> torch.Tensor:
    """The float weights a quantized layer computes with ([out, in] fp32)."""
    if isinstance(layer, Int8Linear):  # as seen by x (a smoothed layer's scales undone)
        w = layer.qweight.float() * layer.scale[:, None]
        return w if layer.inv_smooth is None else w * layer.inv_smooth
    if isinstance(layer, Int4Linear):
        if layer._qk is not None:  # fp16 scales and mins
            return qkernel.dequantize_packed(layer._qk, layer.out_features, layer.in_features)
        o, i, g = layer.out_features, layer.in_features, layer.group_size
        sz = layer.scale_zero.transpose(0, 1)  # [out, in/G, 2]
        q = layer.q.float().reshape(o, i // g, g)
        return ((q - 8) * sz[..., :1] + sz[..., 1:]).reshape(o, i)
    raise TypeError(f"not a quantized layer: {type(layer).__name__}")


def quant_config(method: str) -> dict:
    """What ``config.json`` records under :data:`QUANT_KEY` for ``method``."""
    return {"method": method, **({"group_size": INT4_GROUP} if method == "int4" else {})}


def quantize_weight(method: str, weight: torch.Tensor,
                    act_absmax: torch.Tensor | None = None) -> nn.Module:
    """A quantized layer computing ``x @ weight.T`` (for rows that are not an ``nn.Linear``)."""
    lin = nn.Linear(weight.shape[1], weight.shape[0], bias=False, device="meta")
    lin.weight = nn.Parameter(weight.detach(), requires_grad=False)
    return make_quant_linear(method, lin, act_absmax)


def make_quant_linear(method: str, lin: nn.Linear, act_absmax: torch.Tensor | None = None,
                      smooth: torch.Tensor | None = None) -> nn.Module:
    """``act_absmax``/``smooth`` (int8 only): see :class:`Int8Linear`."""
    if method == "int8":
        return Int8Linear.from_linear(lin, act_absmax, smooth)
    return Int4Linear.from_linear(lin)


#: linear layers that read one input (q/k/v after one norm, gate/up after another)
SIBLING_LINEARS = (("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj"))


def _joint_smooth(parent: nn.Module, parent_name: str, stats: dict) -> dict:
    """SmoothQuant's scales for siblings that read one input, from their joint weights, so
    they can run as one kernel call (:mod:`llasa.lm.qfuse`)."""
    out = {}
    for names in SIBLING_LINEARS:
        lins = [getattr(parent, n, None) for n in names]
        keys = [f"{parent_name}.{n}" if parent_name else n for n in names]
        if all(type(m) is nn.Linear for m in lins) and all(k in stats for k in keys):
            absmax = torch.stack([stats[k].float() for k in keys]).amax(0)
            w = torch.cat([m.weight.detach().float() for m in lins])
            out.update(dict.fromkeys(names, smooth_scales(w, absmax)))
    return out


def quantize_model(layers: nn.Module, method: str,
                   act_absmax: dict[str, torch.Tensor] | None = None) -> int:
    """Replace every ``nn.Linear`` under ``layers`` by its quantized stand-in. Returns the count.

    ``act_absmax``: per module path (relative to ``layers``), calibrated input maxima
    (:func:`input_absmax`).
    """
    n = 0
    for parent_name, parent in list(layers.named_modules()):
        joint = _joint_smooth(parent, parent_name, act_absmax) if method == "int8" and \
            act_absmax else {}
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear:
                key = f"{parent_name}.{name}" if parent_name else name
                setattr(parent, name, make_quant_linear(method, child,
                                                        (act_absmax or {}).get(key),
                                                        joint.get(name)))
                n += 1
    return n


class input_absmax:
    """Context manager recording the per-channel |input| maxima of every ``nn.Linear`` under
    ``layers`` (and of ``extra`` modules' outputs) while the block runs: ``.stats``."""

    def __init__(self, layers: nn.Module, extra: dict[str, nn.Module] | None = None):
        self.stats: dict[str, torch.Tensor] = {}
        self._hooks = []
        for name, m in layers.named_modules():
            if type(m) is nn.Linear:
                self._hooks.append(m.register_forward_pre_hook(
                    lambda mod, args, key=name: self._add(key, args[0])))
        for name, m in (extra or {}).items():
            self._hooks.append(m.register_forward_hook(
                lambda mod, args, out, key=name: self._add(key, out)))

    def _add(self, key: str, x: torch.Tensor) -> None:
        m = x.detach().float().abs().reshape(-1, x.shape[-1]).amax(0)
        self.stats[key] = m if key not in self.stats else torch.maximum(self.stats[key], m)

    def __enter__(self) -> "input_absmax":
        return self

    def __exit__(self, *exc) -> None:
        for h in self._hooks:
            h.remove()


def quantized_state(layers: nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    """The integer tensors of every quantized layer under ``layers``, keyed by module path."""
    out = {}
    for name, m in layers.named_modules():
        if isinstance(m, (Int8Linear, Int4Linear)):
            for k, v in m.state().items():
                out[f"{prefix}{name}.{k}"] = v
            if m.bias is not None:
                out[f"{prefix}{name}.bias"] = m.bias
    return out


def load_quantized(layers: nn.Module, prefix: str, tensors: dict, method: str,
                   group_size: int = INT4_GROUP) -> int:
    """Swap the ``nn.Linear`` layers under ``layers`` for quantized ones built from ``tensors``
    (as :func:`quantized_state` wrote them). Returns the count."""
    n = 0
    for parent_name, parent in list(layers.named_modules()):
        for name, child in list(parent.named_children()):
            if type(child) is not nn.Linear:
                continue
            key = f"{prefix}{parent_name + '.' if parent_name else ''}{name}"
            bias = tensors.get(f"{key}.bias")
            try:
                if method == "int8":
                    layer = Int8Linear(tensors[f"{key}.qweight"], tensors[f"{key}.scale"], bias,
                                       tensors.get(f"{key}.inv_smooth"))
                else:
                    layer = Int4Linear(tensors[f"{key}.q"], tensors[f"{key}.scale_zero"], bias,
                                       group_size)
            except KeyError as e:
                raise ModelLoadError(f"quantized checkpoint lacks {e.args[0]}") from None
            setattr(parent, name, layer)
            n += 1
    return n


def quantized_linear_error(lin: nn.Linear, method: str) -> float:
    """Relative Frobenius error of a layer's quantized weights (a quick sanity figure)."""
    q = make_quant_linear(method, lin)
    w = lin.weight.detach().float()
    return float(torch.linalg.norm(dequantize(q) - w) / torch.linalg.norm(w).clamp(min=1e-12))


__all__ = ["CALIBRATION_TEXTS", "QUANTS", "QUANT_KEY", "Int8Linear", "Int4Linear", "check_quant",
           "quantize_model", "quant_config", "quantize_weight", "input_absmax", "smooth_scales",
           "quantized_state", "load_quantized", "dequantize", "int8_weights", "int4_weights",
           "quantized_linear_error"]
