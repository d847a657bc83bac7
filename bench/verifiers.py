"""Verifier scoring time per clip: our batched ``score`` vs one clip per call vs the library's own
per-clip API, in the same run, on the same real espeak-ng clips (as a best-of-N search scores N
candidates at once).

Run:  python bench/verifiers.py                 # 8 clips of ~3 s, all verifiers, ~3 min on 2 cores
      python bench/verifiers.py --clips 16 --verifiers sim,wer

"library" is how each package is used out of the box, one clip at a time:
sim = resemblyzer ``preprocess_wav`` + ``embed_utterance``; wer = faster-whisper
``WhisperModel.transcribe`` (beam 5, same model); mos = ``speechmos.dnsmos.run``;
distillmos = ``ConvTransformerSQAModel`` on one clip. Model loading is excluded (warm-up call
first); each figure is the fastest of ``--repeats`` runs. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("LLASA_QUIET", "1")

SENTENCES = [
    "Please call Stella and ask her to bring these things.",
    "The quick brown fox jumps over the lazy dog.",
    "A rainbow is a division of white light into many colors.",
    "She sells sea shells by the sea shore every summer.",
    "We will meet at the station at seven in the evening.",
    "Reading books opens windows to other worlds and times.",
    "The weather today is sunny with a light breeze.",
    "Turn left at the second light and park behind the bank.",
]
VOICES = ["en-us", "en-us+f2", "en-gb", "en-us+m3", "en-gb-scotland", "en-us+f4", "en-029",
          "en-us-nyc"]


def espeak_clips(n: int) -> list[np.ndarray]:
    from llasa.audio import load_audio

    out = []
    with tempfile.TemporaryDirectory() as d:
        for i in range(n):
            path = Path(d) / f"{i}.wav"
            subprocess.run(["espeak-ng", "-v", VOICES[i % len(VOICES)], "-w", str(path),
                            SENTENCES[i % len(SENTENCES)]], check=True, capture_output=True)
            out.append(load_audio(path))
    return out


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)  # the least-disturbed run: CI machines are shared


def library_fn(name: str, verifier, clips, request):
    """The package's own one-clip-at-a-time call (None if there is no separate one)."""
    if name == "sim":
        from resemblyzer import preprocess_wav

        enc = verifier.backend()
        ref = enc.embed_utterance(preprocess_wav(request.reference_audio))
        return lambda: [float(ref @ enc.embed_utterance(preprocess_wav(c))) for c in clips]
    if name == "wer":
        model = verifier.backend().pipeline().model
        return lambda: [" ".join(s.text for s in model.transcribe(c, beam_size=5, language="en")[0])
                        for c in clips]
    if name == "mos":
        from speechmos import dnsmos

        return lambda: [dnsmos.run(c, 16000)["ovrl_mos"] for c in clips]
    if name == "distillmos":
        import torch

        model = verifier.backend()

        def run():
            with torch.inference_mode():
                return [float(model(torch.from_numpy(c)[None])[0, 0]) for c in clips]
        return run
    return None


def main() -> None:
    from llasa._common.cpu import cpu_info  # every benchmark names its CPU

    print(f"CPU: {cpu_info(with_torch=False).summary()}", flush=True)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--verifiers", default="sim,wer,mos,distillmos")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from llasa.verifiers import VerifyRequest, build_verifier

    clips = espeak_clips(args.clips + 1)
    ref, clips = clips[0], clips[1:]
    seconds = sum(c.size for c in clips) / 16000
    request = VerifyRequest(text=SENTENCES[1], reference_audio=ref)
    print(f"{len(clips)} clips, {seconds:.1f} s of audio in total, {os.cpu_count()} CPU cores\n")
    print("| verifier | batched s | one-by-one s | library s | batched ms/clip | "
          "batched vs library |")
    print("|---|---|---|---|---|---|")
    for name in args.verifiers.split(","):
        v = build_verifier(name)
        t = time.perf_counter()
        v.score(clips[:1], request)  # loads the model
        load = time.perf_counter() - t
        batched = timed(lambda: v.score(clips, request), args.repeats)
        single = timed(lambda: [v.score([c], request) for c in clips], args.repeats)
        lib = library_fn(name, v, clips, request)
        lib_t = timed(lib, args.repeats) if lib else float("nan")
        print(f"| {name} (load {load:.1f} s) | {batched:.2f} | {single:.2f} | {lib_t:.2f} | "
              f"{1000 * batched / len(clips):.0f} | {lib_t / batched:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
