"""Encoding long audio in overlapping windows, so that memory stays bounded for any length.

A one-shot encode needs memory that grows with the square of the length: w2v-BERT attends over
the whole input, and its relative-key position term alone is a ``[t, t, head]`` tensor (180 s
of audio took 7.4 GB with the shipped codec, 600 s more than 15 GB). Here each network sees at
most a fixed number of frames:

- the semantic encoder (global attention) runs on windows of ``window`` frames that overlap by
  ``2 · context`` frames; each window keeps only its middle, so every kept frame saw at least
  ``context`` frames (``context / 50`` s) on each side, as far as the input goes;
- the acoustic CNN has a finite receptive field (about ±21 frames for every preset), so windows
  with :data:`ACOUSTIC_CONTEXT` frames on each side give the one-pass features up to float
  rounding;
- the fbank features (normalised per utterance), the semantic adapter (four 3-tap convs),
  ``fc_encoder`` and the quantizer run over the whole sequence: their memory is linear in the
  length, and the normalisation stays that of the whole utterance.

An input of at most ``window`` frames is encoded in one pass, so its codes are exactly those of
:meth:`llasa.codec.Codec.encode` before windowing existed (tested).

Notation: ``t`` tokens (frames, one per 320 samples), ``d`` width.
"""

from __future__ import annotations

import numpy as np
import torch

from .config import HOP_LENGTH
from .features import semantic_features

ENCODE_WINDOW = 1500  # frames (30 s) the semantic encoder sees at most in one pass
ENCODE_CONTEXT = 250  # frames (5 s) of context on each side of a window's kept middle
# frames (30 s) the acoustic CNN sees at most in one pass: each of its ~150 small depthwise
# convs has a fixed per-call cost (two-thread OpenMP sync: ~25 ms each on a loaded 2-core
# machine), so few long windows beat many short ones; 30 s of activations stay bounded
ACOUSTIC_WINDOW = 1500
ACOUSTIC_CONTEXT = 32  # frames (0.64 s); the CNN's receptive field is about ±21 frames


def spans(t: int, window: int, context: int) -> list[tuple[int, int, int, int]]:
    """Cover frames [0, t) with windows of at most ``window`` frames.

    Returns:
        (a, b, keep_from, keep_to) per window: run on frames [a, b), keep [keep_from, keep_to);
        the kept ranges tile [0, t) in order.
    """
    if window <= 2 * context:
        raise ValueError(f"window {window} must exceed twice the context {context}")
    if t <= window:
        return [(0, t, 0, t)]
    step = window - 2 * context
    out, s = [], 0
    while s < t:
        e = min(s + step, t)
        a, b = max(0, s - context), min(t, e + context)
        if b - a < window:  # first/last window: use the spare frames as more context
            a, b = max(0, min(a, b - window)), min(t, max(b, a + window))
        out.append((a, b, s, e))
        s = e
    return out


@torch.inference_mode()
def encode_windowed(codec, padded: np.ndarray, window: int = ENCODE_WINDOW,
                    context: int = ENCODE_CONTEXT, acoustic_window: int = ACOUSTIC_WINDOW
                    ) -> np.ndarray:
    """Codes of one 320-padded waveform [320 · t] → int64 [t], in bounded memory."""
    net, dev, dt = codec.net, codec.device, codec.dtype
    t = len(padded) // HOP_LENGTH
    feats, _ = semantic_features([padded], codec._extractor)  # [1, t, 160], whole utterance
    sem = torch.empty(1, t, net.config.semantic_model_config.hidden_size, dtype=dt)
    for a, b, s, e in spans(t, window, context):
        h = net.semantic_encoder(feats[:, a:b].to(dev, dt)).last_hidden_state  # [1, b-a, d]
        sem[:, s:e] = h[:, s - a:e - a].cpu()
    sem = net.semantic_adapter(sem.to(dev).transpose(1, 2))  # [1, d, t]
    ac = torch.empty(1, net.config.hidden_size, t, dtype=dt, device=dev)
    wav = torch.from_numpy(padded)
    aw = max(min(window, acoustic_window), 2 * ACOUSTIC_CONTEXT + 1)
    for a, b, s, e in spans(t, aw, ACOUSTIC_CONTEXT):
        x = wav[a * HOP_LENGTH:b * HOP_LENGTH][None, None].to(dev, dt)  # [1, 1, 320 (b-a)]
        ac[:, :, s:e] = net.acoustic_encoder(x)[:, :, s - a:e - a]
    h = net.fc_encoder(torch.cat([sem, ac], dim=1).transpose(1, 2))  # [1, t, 2d]
    _, idx = net.quantizer(h)  # [1, t, 1]
    return idx[0, :, 0].long().cpu().numpy()
