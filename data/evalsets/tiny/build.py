"""Rebuild the shipped tiny evaluation list from espeak-ng speech (deterministic, offline).

    python data/evalsets/tiny/build.py        # writes prompts/, targets/, meta.lst, meta.jsonl

Six English voices (accent + variant) each speak a prompt sentence and a target sentence.
The target recordings are the "ground truth" rows: `llasa eval tts --audio-dir targets` scores
them like any system, and `llasa eval codec --audio-dir targets` measures reconstruction.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from llasa.audio import load_audio, save_audio

HERE = Path(__file__).resolve().parent
# (utt, espeak voice, speed, pitch, prompt text, target text)
ROWS = [
    ("tiny_00", "en-us+m3", 150, 45, "The museum opens at nine every morning.",
     "Please bring your ticket to the front desk."),
    ("tiny_01", "en-gb+f2", 155, 60, "She planted tomatoes in the back garden.",
     "The weather will be cold and windy tomorrow."),
    ("tiny_02", "en-us+f4", 165, 55, "Our train was delayed by twenty minutes.",
     "He read the whole book in a single night."),
    ("tiny_03", "en-gb-scotland+m1", 145, 40, "The river runs quietly past the old mill.",
     "Turn left at the second traffic light."),
    ("tiny_04", "en-029+m2", 160, 50, "I would like a cup of hot green tea.",
     "The children laughed at the little brown dog."),
    ("tiny_05", "en-us-nyc+f3", 170, 65, "We finished the project just before lunch.",
     "Can you send me the report by Friday?"),
]


def speak(text: str, voice: str, speed: int, pitch: int, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "x.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w",
                        str(wav), text], check=True, capture_output=True)
        save_audio(out, load_audio(wav))  # 22.05 kHz → 16 kHz mono, FLAC 16-bit


def main() -> None:
    lst, jsonl = [], []
    for utt, voice, speed, pitch, ptext, ttext in ROWS:
        speak(ptext, voice, speed, pitch, HERE / "prompts" / f"{utt}.flac")
        speak(ttext, voice, speed, pitch, HERE / "targets" / f"{utt}.flac")
        lst.append(f"{utt}|{ptext}|prompts/{utt}.flac|{ttext}|targets/{utt}.flac")
        jsonl.append(json.dumps({"utt": utt, "prompt_text": ptext,
                                 "prompt_wav": f"prompts/{utt}.flac", "target_text": ttext,
                                 "reference_wav": f"targets/{utt}.flac", "language": "en"}))
    (HERE / "meta.lst").write_text("\n".join(lst) + "\n")
    (HERE / "meta.jsonl").write_text("\n".join(jsonl) + "\n")
    print(f"wrote {len(ROWS)} utterances to {HERE}")


if __name__ == "__main__":
    main()
