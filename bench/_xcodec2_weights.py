"""Shared by the codec benchmarks: full-size X-codec2 weights (seeded random) in the ORIGINAL
release format, written once to a cache directory, plus 10 s of real espeak-ng speech.

Random weights are the only full-size weights available offline; they exercise exactly the same
computation as the released checkpoint (same shapes, same ops), which is what speed and memory
depend on. Quality figures measured with them are explained in docs/codec.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # tests/parity/official.py builds the official model

CACHE = Path(os.environ.get("LLASA_BENCH_CACHE", Path(tempfile.gettempdir()) / "llasa-bench"))
SEED = 1234
TEXT = ("Speech synthesis turns written words into sound. This sentence is long enough to "
        "give about ten seconds of audio for the benchmark, spoken slowly and clearly.")


def official_model():
    from parity.official import build_official

    return build_official(seed=SEED)


def original_checkpoint(official=None) -> Path:
    """Directory with model.safetensors in the release's format (built on first use)."""
    d = CACHE / f"xcodec2-original-seed{SEED}"
    if not (d / "model.safetensors").exists():
        from parity.official import original_state_dict
        from safetensors.torch import save_file

        d.mkdir(parents=True, exist_ok=True)
        model = official if official is not None else official_model()
        save_file(original_state_dict(model, "legacy"), str(d / "model.safetensors.tmp"))
        (d / "model.safetensors.tmp").rename(d / "model.safetensors")
        (d / "config.json").write_text('{"model_type": "xcodec2"}\n')
    return d


def speech_10s() -> np.ndarray:
    """About 10 s of espeak-ng speech, 16 kHz mono float32, cut/padded to exactly 160 000."""
    from llasa.audio import load_audio

    CACHE.mkdir(parents=True, exist_ok=True)
    wav = CACHE / "speech.wav"
    if not wav.exists():
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "120", "-w", str(wav), TEXT], check=True)
    x = load_audio(wav)
    return np.pad(x, (0, max(0, 160_000 - len(x))))[:160_000]
