"""Shared fixtures: real speech from espeak-ng, offline hub, tiny temp dirs."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before any ORT session, ours or not
os.environ.setdefault("LLASA_QUIET", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_CACHE = Path(tempfile.gettempdir()) / "llasa-test-speech"


def espeak(text: str, voice: str = "en-us", speed: int = 160, pitch: int = 50) -> np.ndarray:
    """Real speech: espeak-ng → 16 kHz mono float32 [n] (cached on disk by arguments)."""
    from llasa.audio import load_audio

    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (apt-get install espeak-ng); see README")
    _CACHE.mkdir(exist_ok=True)
    key = abs(hash((text, voice, speed, pitch))) % (10**12)
    path = _CACHE / f"{key}.wav"
    if not path.exists():
        tmp = path.with_suffix(".tmp.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch),
                        "-w", str(tmp), text], check=True, capture_output=True)
        tmp.rename(path)
    return load_audio(path)


@pytest.fixture(scope="session")
def speech():
    """Factory fixture: ``speech(text, voice=..., speed=..., pitch=...)`` → waveform [n]."""
    return espeak


@pytest.fixture
def one_torch_thread():
    """Torch on one intra-op thread for the test, restored after. Tiny models gain nothing
    from threads, and on a shared 2-core machine thread hand-offs make them 10-30x slower.
    Use it as ``@pytest.fixture(autouse=True) def _one_thread(one_torch_thread): ...``."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# Tiny real models shared by the pipeline and search tests (built once per session):
# ``tiny_tts`` has the official 65 536 speech tokens (random weights: it rarely samples END, so
# rows run to their cap); ``chatty_tts`` is a 16-code LM with weights scaled up, which ends after
# a few to a few dozen tokens and whose greedy output depends on the text.
@pytest.fixture(scope="session")
def tiny_codec():
    from llasa.codec import presets
    from llasa.codec.model import Codec

    return Codec.from_config(presets.tiny(), seed=0)


@pytest.fixture(scope="session")
def tiny_tts(tiny_codec):
    from llasa.lm.tiny import tiny_lm
    from llasa.tts import Llasa

    return Llasa(tiny_lm(codebook_size=65536, seed=0), tiny_codec)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """``<dir>/lm`` and ``<dir>/codec`` in HF layout: ``tiny_tts``'s models (65 536 speech
    tokens, so any codec code fits the LM; seed 0), saved once for the CLI, eval and serving
    tests, which load models by path. Read only: tests write elsewhere."""
    from llasa.codec import presets
    from llasa.codec.model import Codec
    from llasa.lm.tiny import tiny_lm

    root = tmp_path_factory.mktemp("tiny-model")
    tiny_lm(codebook_size=65536, seed=0).save_pretrained(root / "lm")
    Codec.from_config(presets.tiny(), seed=0).save_pretrained(root / "codec")
    return root


@pytest.fixture(scope="session")
def tiny_model_args(tiny_model_dir) -> list[str]:
    """``--lm DIR --codec DIR`` of :func:`tiny_model_dir` for CLI calls."""
    return ["--lm", str(tiny_model_dir / "lm"), "--codec", str(tiny_model_dir / "codec")]


@pytest.fixture(scope="session")
def chatty_tts(tiny_codec):
    from llasa.lm.tiny import tiny_lm
    from llasa.tts import Llasa

    import torch

    lm = tiny_lm(codebook_size=16, seed=0)
    with torch.no_grad():
        for p in lm.model.parameters():
            if p.ndim == 2:  # embeddings and projections; norms stay 1
                p.mul_(25.0)
    return Llasa(lm, tiny_codec)
