#!/usr/bin/env python
"""More decoder training for the default codec, on its frozen encoder's codes (stage
``decoder`` of default_model.py).

    python recipes/default_codec.py CODEC_DIR PREPARED_DIR [PREPARED_DIR ...] OUT_DIR --steps 4000

Why: ``llasa train codec`` trains encoder and decoder together; once ``llasa data prepare`` has
stored the encoder's codes for the LM, the encoder must not move any more, but the decoder can
keep learning (the codes, and so the LM's data, stay valid). This script trains only the
decoder side (FSQ output projection, ``fc_post_a``, backbone, ISTFT head) with the project's
multi-scale mel loss (``llasa.codec.losses.MultiScaleMelLoss``) and AdamW, on 1 s crops whose
codes are cut from the prepared codes of the whole utterance: exactly what the decoder gets at
inference, and no encoder pass per step. It runs beside the LM stage on one core.
Checkpoints every ``--save-every`` steps; rerunning resumes from the newest one.
"""

from __future__ import annotations

import argparse
import math
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
    ap.add_argument("init", help="codec directory (the end-to-end trained codec)")
    ap.add_argument("prepared", nargs="+",
                    help="`llasa data prepare` folder(s) made with that codec's encoder")
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--crop-seconds", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)  # shared small CPU: oversubscribed threads cost 25× (measured)
    from llasa._common.log import progress
    from llasa.codec import Codec
    from llasa.codec.losses import MultiScaleMelLoss
    from llasa.training.data.shards import CodeShards

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    net = Codec.from_pretrained(a.init, device="cpu").net.float().train()
    net.semantic_encoder.eval()
    params = decoder_parameters(net)
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.8, 0.9), weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up 20 steps, cosine to 10 %
        # math, not numpy: numpy floats in the scheduler state break weights_only resume
        opt, lambda s: min(1.0, (s + 1) / 20) * (0.1 + 0.45 * (1 + math.cos(math.pi * min(
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
    shards = CodeShards(a.prepared)
    items = []
    for i in range(len(shards)):
        src = shards.source(i)
        if src is None:
            raise SystemExit(f"{' '.join(a.prepared)}: shards without source paths "
                             "(prepare again)")
        items.append((sf.read(src, dtype="float32")[0], shards.codes(i)))
    print(f"{len(items)} utterances from {len(a.prepared)} prepared folder(s)", flush=True)
    frames = int(a.crop_seconds * 16_000) // HOP
    crop = frames * HOP
    log = (out / "metrics.csv").open("a")
    bar = progress(total=a.steps, initial=step, desc="codec decoder", unit="step")
    while step < a.steps:
        rng = random.Random(a.seed * 1_000_003 + step)  # resumable data order
        wavs, ids = [], []
        for _ in range(a.batch_size):
            w, c = items[rng.randrange(len(items))]
            f = rng.randrange(max(1, len(c) - frames + 1))  # a frame-aligned crop
            cut = w[f * HOP: f * HOP + crop]
            code = c[f: f + frames]
            wavs.append(np.pad(cut, (0, crop - len(cut))))
            ids.append(np.pad(code, (0, frames - len(code)), mode="edge"))
        t0 = time.perf_counter()
        codes = torch.as_tensor(np.stack(ids))[:, None, :]
        y_hat = net.decode(audio_codes=codes).audio_values[..., :crop]
        y = torch.as_tensor(np.stack(wavs))[:, None, :]
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
    net.eval().save_pretrained(str(out / "model"), safe_serialization=True)
    print(f"saved {out / 'model'} at step {step}")


if __name__ == "__main__":
    main()
