"""Does text normalisation help a model read numbers, dates, times and money? Paired WER.

Each sentence is synthesised with the model's own frontend ("off") and with ``normalize:en``
put in front of it ("on"), for the same seeds, and scored by the project's judge (Whisper
tiny.en, ``llasa.verifiers`` normalisation, which spells the reference the same way). Prints
mean WER per mode, the paired difference and how many (sentence, seed) pairs each mode won.

    python bench/textnorm_wer.py --seeds 0,1,2            # shipped model, ~5 min on 2 cores
    python bench/textnorm_wer.py --lm DIR --codec DIR --out runs/textnorm
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

SENTENCES = [
    "On 3 May 2021 it cost $45.",
    "The train leaves at 10:45 from platform 9.",
    "She was born on July 4, 1976, in Boston.",
    "The ticket costs $12.50, or £10 in London.",
    "We walked 5 km in 1 hour and 20 minutes.",
    "About 75% of the 1,200 guests arrived before 8 pm.",
    "Call 555-1234 before the 21st of June.",
    "The house was built in 1890 and sold in 2005.",
    "Dr. Brown lives at 42 Oak St. with 3 cats.",
    "The temperature fell to -5 °C on 12/24/2020.",
    "He scored 3/4 of the points in the 2nd half.",
    "Prices rose from $1.5 million to $2 million in the 1990s.",
]


def main() -> None:
    from llasa._common.cpu import cpu_info

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lm"), ap.add_argument("--codec")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", default="runs/textnorm", help="results.jsonl and wavs go here")
    args = ap.parse_args()
    print(f"CPU: {cpu_info(with_torch=False).summary()} | load {os.getloadavg()[0]:.2f}",
          flush=True)

    import jiwer
    import soundfile as sf
    from tqdm import tqdm

    from llasa import Llasa
    from llasa.lm.frontend import get_frontend
    from llasa.verifiers.asr import Transcriber
    from llasa.verifiers.text import normalize_text

    tts = Llasa.from_pretrained(args.lm, args.codec)
    base = getattr(tts.lm.frontend, "name", None)
    modes = {"off": base, "on": "normalize:en" + (f"+{base}" if base else "")}
    asr = Transcriber()
    out = Path(args.out)
    (out / "wavs").mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    jobs = [(m, i, s) for m in modes for i in range(len(SENTENCES)) for s in seeds]
    for mode, i, seed in tqdm(jobs, desc="synthesise + transcribe"):
        tts.lm.frontend = get_frontend(modes[mode])
        res = tts.synthesize(SENTENCES[i], seed=seed)
        wav = out / "wavs" / f"{mode}-{i:02d}-s{seed}.wav"
        sf.write(wav, res.audio, res.sample_rate)
        hyp = asr.transcribe([res.audio], language="en")[0]
        r, h = normalize_text(SENTENCES[i]), normalize_text(hyp)
        w = float(jiwer.wer(r, h)) if h else 1.0
        rows.append({"mode": mode, "i": i, "seed": seed, "text": SENTENCES[i], "hyp": hyp,
                     "wer": w, "ended": bool(res.info.get("ended", True))})
    with open(out / "results.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    by = {(r["mode"], r["i"], r["seed"]): r["wer"] for r in rows}
    pairs = [(by["off", i, s], by["on", i, s]) for i in range(len(SENTENCES)) for s in seeds]
    n = len(pairs)
    off = sum(a for a, _ in pairs) / n
    on = sum(b for _, b in pairs) / n
    print(f"\nmodel frontend: off = {modes['off']!r}, on = {modes['on']!r}; "
          f"{len(SENTENCES)} sentences x seeds {seeds}")
    print("| mode | mean WER | pairs won | ended on END |")
    print("|---|---|---|---|")
    for mode, mean, won in (("off", off, sum(a < b for a, b in pairs)),
                            ("on", on, sum(b < a for a, b in pairs))):
        ended = sum(r["ended"] for r in rows if r["mode"] == mode)
        print(f"| {mode} | {mean:.3f} | {won}/{n} | {ended}/{n} |")
    print(f"paired difference on - off: {on - off:+.3f} (ratio on/off {on / max(off, 1e-9):.2f})")


if __name__ == "__main__":
    main()
