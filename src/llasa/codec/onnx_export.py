"""Export the X-codec2 decoder to ONNX (run by :mod:`llasa.codec.onnx_decoder`).

Notation: ``b`` batch, ``t`` codes, ``f`` = n_fft + 2 (log-magnitudes then phases).

The graph stops before the ISTFT: ``codes [b, t] -> spec [b, t, f]``, the output of the ISTFT
head's linear layer. ``torch.fft.irfft`` and ``F.fold`` do not export, and numpy's irfft and
an overlap-add of a few frames are cheap and exact
(:func:`llasa.codec.onnx_decoder.istft`). Needs torch and onnx (export time only).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from .._common.ort import store_half
from .model import Codec

OPSET = 17


class DecoderToSpec(nn.Module):
    """Codes → the ISTFT head's linear output (everything of the decoder but the ISTFT)."""

    def __init__(self, codec: Codec):
        super().__init__()
        self.quantizer = codec.net.quantizer
        self.dec = codec.net.acoustic_decoder

    def forward(self, codes):
        h = self.quantizer.from_codes(codes[..., None])  # [b, t, 2d]
        d = self.dec
        h = d.fc(h).transpose(1, 2)
        h = d.embed(h).transpose(1, 2)  # [b, t, d]
        for layer in d.prior_net:
            h = layer(h)
        pos = torch.arange(d.num_attention_heads, device=h.device)[None]  # as transformers
        rope = d.rotary_emb(h, pos)
        for layer in d.layers:
            h = layer(h, position_embeddings=rope)
        for layer in d.post_net:
            h = layer(h)
        return d.head.linear(d.norm(h))  # [b, t, f]


def export_decoder(codec: Codec, path: str | Path) -> dict:
    """Write the decoder graph of ``codec`` to ``path``; returns the manifest's codec section."""
    import onnx

    codec.unoptimize()
    codec.net.float().eval()
    codec.net.config._attn_implementation = "eager"  # plain ops export everywhere
    net = DecoderToSpec(codec).eval()
    path = Path(path)
    codes = torch.randint(0, codec.codebook_size, (1, 30))
    with torch.inference_mode(), warnings.catch_warnings():
        # shape checks traced as constants (GroupNorm's) are fine for these graphs
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(net, (codes,), str(path), dynamo=False, opset_version=OPSET,
                          input_names=["codes"], output_names=["spec"],
                          dynamic_axes={"codes": {0: "b", 1: "t"}, "spec": {0: "b", 1: "t"}},
                          do_constant_folding=False)
    model = onnx.load(str(path))
    store_half(model)
    onnx.save(model, str(path))
    head = codec.net.acoustic_decoder.head
    return {"file": path.name, "sample_rate": int(codec.sample_rate),
            "hop_length": int(codec.hop_length), "n_fft": int(head.n_fft),
            "codebook_size": int(codec.codebook_size)}
