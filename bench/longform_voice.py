"""Does the voice stay the same across long-text chunks? (issue #3, long text)

Synthesises a long text with a cloned voice through ``Llasa.synthesize`` (chunks carry the
previous chunk's text and codes as the continuation prompt) and, as a baseline, each chunk on
its own with the voice prompt only. Scores every chunk's speaker similarity (resemblyzer, the
``sim`` verifier) to the voice prompt and to the first chunk, and prints a table.

    python bench/longform_voice.py [--lm DIR --codec DIR] [--voice-audio WAV --voice-text TEXT]

Defaults: the shipped model and an espeak-ng prompt (en-gb-scotland+f2, a held-out voice).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile

import numpy as np

from llasa.audio import load_audio
from llasa.tts import Llasa
from llasa.tts.text import TextLimits
from llasa.verifiers import VerifyRequest, build_verifier

TEXT = ("The library opens at nine in the morning. Please return your books before Friday. "
        "Our garden has roses, tulips and a small apple tree. The train to the city leaves "
        "from platform two. She asked whether the museum was open on Sunday. We walked along "
        "the river until the sun went down. The bakery on the corner sells fresh bread every "
        "day. He wrote a long letter to his sister in the north.")
PROMPT = "This is how I sound when I read a sentence aloud."


def _chunks(res) -> list[np.ndarray]:
    """A long-text result cut back into its chunks (crossfades make the cuts approximate)."""
    bounds = np.cumsum([0] + [n * 320 for n in res.info["chunk_tokens"]])
    return [res.audio[b0:b1] for b0, b1 in zip(bounds[:-1], bounds[1:])]


def main() -> None:
    from llasa._common.cpu import cpu_info  # every benchmark names its CPU

    print(f"CPU: {cpu_info(with_torch=False).summary()}", flush=True)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lm"), ap.add_argument("--codec")
    ap.add_argument("--voice-audio"), ap.add_argument("--voice-text", default=PROMPT)
    ap.add_argument("--chunk-chars", type=int, default=120)
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    tts = Llasa.from_pretrained(lm=a.lm, codec=a.codec,
                                limits=TextLimits(chunk_chars=a.chunk_chars, carry=True))
    if a.voice_audio is None:
        a.voice_audio = tempfile.mktemp(suffix=".wav")
        subprocess.run(["espeak-ng", "-v", "en-gb-scotland+f2", "-w", a.voice_audio, PROMPT],
                       check=True)
    voice = tts.voice_from_audio(a.voice_audio, a.voice_text)
    plain = Llasa(tts.lm, tts.codec, limits=TextLimits(chunk_chars=a.chunk_chars, carry=False))
    prompt = load_audio(a.voice_audio)
    sim = build_verifier("sim")
    req = VerifyRequest(text="", reference_audio=prompt)

    rows = []
    for seed in range(a.seeds):
        # the same long-text path, with and without carrying the previous chunk
        carried, alone = (_chunks(t.synthesize(TEXT, voice, seed=seed)) for t in (tts, plain))
        for name, pieces in (("carried", carried), ("voice only (--no-carry)", alone)):
            s_prompt = sim.score(pieces, req)
            # the first chunk long enough to embed is the reference for the others
            ref = next((i for i, p in enumerate(pieces) if len(p) >= 8000), None)
            s_first = (sim.score([p for i, p in enumerate(pieces) if i != ref],
                                 VerifyRequest(text="", reference_audio=pieces[ref]))
                       if ref is not None and len(pieces) > 1 else np.array([np.nan]))
            rows.append((name, seed, len(pieces), s_prompt, s_first,
                         np.mean([len(p) for p in pieces]) / 16_000))
    print(f"{len(rows) // 2} runs; text {len(TEXT)} chars in chunks of <= {a.chunk_chars}\n")
    print("| method | chunks | mean chunk s | SIM to prompt: mean | first → last chunk "
          "| SIM to first embeddable chunk: mean |")
    print("|---|---|---|---|---|---|")
    for name in ("carried", "voice only (--no-carry)"):
        sel = [r for r in rows if r[0] == name]
        sp = np.concatenate([r[3] for r in sel])
        firsts = np.mean([r[3][0] for r in sel])
        lasts = np.mean([r[3][-1] for r in sel])
        sf = np.concatenate([r[4] for r in sel])
        secs = np.mean([r[5] for r in sel])
        print(f"| {name} | {sel[0][2]} | {secs:.2f} | {sp.mean():.3f} | {firsts:.3f} → {lasts:.3f} | "
              f"{np.nanmean(sf):.3f} |")


if __name__ == "__main__":
    main()
