#!/usr/bin/env python
"""Train the default codec's decoder on a frozen encoder (stage ``codec`` of default_model.py).

    python recipes/default_codec.py INIT_DIR AUDIO_MANIFEST OUT_DIR --steps 300

Why not ``llasa train codec`` end to end: with this small X-codec2 (hidden 128, FSQ 4^5) and
mel-only loss, the encoder's output grew by 5–25× within 50 steps (std 30 → 160 at the FSQ
input, lr 3e-4 and 2e-3 tried) until the FSQ bound saturated and every frame got the same code
(measured on the recipe's checkpoints). Here the encoder, its FSQ input projection and the
semantic branch stay as initialised (``codec_init``: 80–110 distinct codes per utterance), so
the codes are fixed from the start, ``llasa data prepare`` can run in parallel, and only the
decoder side (FSQ output projection, ``fc_post_a``, backbone, ISTFT head) learns, with the
project's multi-scale mel loss (``llasa.codec.losses.MultiScaleMelLoss``) and AdamW.
Checkpoints every ``--save-every`` steps; rerunning resumes from the newest one.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

HOP = 320


def decoder_parameters(net) -> list[torch.nn.Parameter]:
    """Parameters the codes do not depend on (everything ``decode(audio_codes=...)`` uses)."""
    frozen = ("semantic_encoder", "semantic_adapter", "acoustic_encoder", "fc_encoder",
              "quantizer.project_in")
    params = []
    for name, p in net.named_parameters():
        train = not any(f in name for f in frozen)
        p.requires_grad_(train)
        if train:
            params.append(p)
    return params


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("init")
    ap.add_argument("manifest", help="JSONL with 'audio' paths (relative to its folder)")
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--crop-seconds", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--save-every", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)  # shared small CPU: oversubscribed threads cost 25× (measured)
    from llasa._common.log import progress
    from llasa.codec import Codec
    from llasa.codec.losses import MultiScaleMelLoss

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    codec = Codec.from_pretrained(a.init, device="cpu")
    net = codec.net.float()
    params = decoder_parameters(net)
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.8, 0.9), weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up 20 steps, cosine to 10 %
        opt, lambda s: min(1.0, (s + 1) / 20) * (0.1 + 0.45 * (1 + np.cos(np.pi * min(
            s / a.steps, 1.0)))))
    step = 0
    ckpt = out / "checkpoint.pt"
    if ckpt.is_file():  # our own file: plain tensors and ints only
        state = torch.load(ckpt, weights_only=True)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step = int(state["step"])
    mel = MultiScaleMelLoss(16_000)
    root = Path(a.manifest).parent
    rows = [json.loads(line) for line in Path(a.manifest).read_text().splitlines() if line]
    wavs = [sf.read(root / r["audio"], dtype="float32")[0] for r in rows]
    crop = int(a.crop_seconds * 16_000) // HOP * HOP
    log = (out / "metrics.csv").open("a")
    bar = progress(total=a.steps, initial=step, desc="codec decoder", unit="step")
    while step < a.steps:
        rng = random.Random(a.seed * 1_000_003 + step)  # resumable data order
        batch = []
        for _ in range(a.batch_size):
            w = wavs[rng.randrange(len(wavs))]
            s = rng.randrange(max(1, len(w) - crop + 1))
            c = w[s:s + crop]
            batch.append(np.pad(c, (0, crop - len(c))))
        t0 = time.perf_counter()
        codes = codec.encode(batch)  # frozen: no gradient, exactly what `data prepare` stores
        ids = torch.as_tensor(np.stack(codes))[:, None, :crop // HOP]
        y_hat = net.decode(audio_codes=ids).audio_values[..., :crop]
        y = torch.as_tensor(np.stack(batch))[:, None, :]
        loss = mel(y_hat, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        step += 1
        log.write(f"{step},{loss.item():.5f},{time.perf_counter() - t0:.3f}\n")
        log.flush()
        bar.update(1)
        bar.set_postfix(mel=f"{loss.item():.3f}")
        if step % a.save_every == 0 or step == a.steps:
            tmp = ckpt.with_suffix(".tmp")
            torch.save({"net": net.state_dict(), "opt": opt.state_dict(),
                        "sched": sched.state_dict(), "step": step}, tmp)
            tmp.replace(ckpt)  # atomic: a kill never leaves half a checkpoint
    bar.close()
    net.save_pretrained(str(out / "model"), safe_serialization=True)
    print(f"saved {out / 'model'} at step {step}")


if __name__ == "__main__":
    main()
