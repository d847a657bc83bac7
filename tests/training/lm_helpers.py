"""Shared by the LM-training tests: a real prepared folder (espeak-ng speech encoded by a
tiny codec with a 256-code FSQ, 4 levels of 4) and a helper that runs the trainer in a
subprocess."""

from __future__ import annotations

import json
from pathlib import Path

SENTENCES = [
    ("Hello there, how are you today?", "en-us", "anna"),
    ("The train leaves at seven.", "en-gb", "ben"),
    ("Numbers like forty two are fine.", "en-us", "anna"),
    ("Is this a question?", "en-gb", "ben"),
    ("A short one.", "en-us", "anna"),
    ("The cat sat on the mat.", "en-gb", "ben"),
    ("We walked home in the rain.", "en-us", "anna"),
    ("Please call me after lunch.", "en-gb", "ben"),
    ("Green apples taste sour.", "en-us", "anna"),
    ("The river runs to the sea.", "en-gb", "ben"),
    ("Open the window, please.", "en-us", "anna"),
    ("Birds sing in the morning.", "en-gb", "ben"),
]


def tiny_codec(seed: int = 0):
    """The tiny codec with 4^4 = 256 codes (so a tiny LM has a small speech vocabulary)."""
    from llasa.codec import Codec, presets

    cfg = presets.tiny()
    cfg.quantization_levels = [4, 4, 4, 4]
    return Codec.from_config(cfg, seed=seed)


def make_prepared(root: Path, speech, codec=None) -> Path:
    """Encode SENTENCES (espeak-ng) into a prepared folder under ``root``; returns it."""
    import soundfile as sf

    from llasa.training.data.prepare import PrepareConfig, prepare_dataset

    root.mkdir(parents=True, exist_ok=True)
    with open(root / "manifest.jsonl", "w") as f:
        for i, (text, voice, spk) in enumerate(SENTENCES):
            sf.write(root / f"u{i}.wav", speech(text, voice=voice), 16000)
            f.write(json.dumps({"audio": f"u{i}.wav", "text": text, "speaker": spk}) + "\n")
    out = root / "prepared"
    codec = codec or tiny_codec()
    codec.save_pretrained(root / "codec")  # the sample-synthesis and `llasa asr` tests load it
    prepare_dataset(root / "manifest.jsonl", out, codec,
                    PrepareConfig(shard_size=6, max_seconds=10.0))
    return out


def cached_prepared(speech) -> Path:
    """:func:`make_prepared` once per machine (cached under the temp dir like the espeak
    wavs); tests only read it."""
    import shutil
    import tempfile

    root = Path(tempfile.gettempdir()) / "llasa-test-lm-prepared-v2"
    done = root / "prepared" / "index.json"
    if not done.is_file():
        shutil.rmtree(root, ignore_errors=True)
        make_prepared(root, speech)
    return root / "prepared"
