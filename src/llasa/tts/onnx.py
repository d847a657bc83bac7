"""The ONNX engine: export a model pair to ONNX, and load it as a torch-free :class:`Llasa`.

An export folder holds ``lm.onnx`` (LM with KV cache, :mod:`llasa.lm.onnx_export`),
``codec_decoder.onnx`` (:mod:`llasa.codec.onnx_export`), ``tokenizer.json`` and the manifest
``llasa_onnx.json``::

    {"format": "llasa-onnx", "version": 1, "lm": {...}, "codec": {...},
     "sources": {"lm": {"sha256": ...}, "codec": {"sha256": ...}}}

Why: importing torch + transformers and building the Llama take 2-4 s on a 2-core CPU,
while the shipped model needs a few hundred milliseconds of compute. ONNX Runtime, numpy and
``tokenizers`` load in about 0.2 s, so ``llasa tts`` with the shipped model (whose export
ships in ``llasa/models/default/onnx``) starts and finishes in about half a second
(``bench/cold_start.py``). The torch engine stays the reference: voices from audio, search,
streaming, guidance and other checkpoints use it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from .._common.errors import InputError, ModelLoadError
from ..codec.onnx_decoder import OnnxCodecConfig, OnnxCodecDecoder
from ..lm.onnx_lm import OnnxLM, OnnxLMConfig
from .defaults import default_model_dir
from .text import TextLimits

MANIFEST = "llasa_onnx.json"
FORMAT, VERSION = "llasa-onnx", 1


def default_onnx_dir() -> Path:
    """Where the shipped model's export lives (``<default model>/onnx``)."""
    return default_model_dir() / "onnx"


def is_export(directory) -> bool:
    """True when ``directory`` is a local folder holding an ONNX export."""
    try:
        return (Path(directory) / MANIFEST).is_file()
    except (TypeError, OSError):
        return False


def find_export(lm=None, codec=None) -> Path | None:
    """The export that serves ``--lm lm --codec codec``, or None.

    Both None: the shipped model's export (if present). ``lm`` an export folder and ``codec``
    None or the same folder: that folder. Anything else (hub ids, checkpoint folders) has none,
    and so has everything when onnxruntime is not installed.
    """
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None:
        return None
    if lm is None and codec is None:
        d = default_onnx_dir()
        return d if is_export(d) else None
    if lm is not None and is_export(lm) and (codec is None or Path(codec) == Path(lm)):
        return Path(lm)
    return None


def read_manifest(directory) -> dict:
    """The checked manifest of an export folder.

    Raises:
        ModelLoadError: no manifest, another format, or a newer version.
    """
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ModelLoadError(f"{directory} holds no ONNX export ({MANIFEST} is missing); "
                             "make one with `llasa export onnx -o DIR`")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"cannot read {path}: {e}") from None
    if data.get("format") != FORMAT:
        raise ModelLoadError(f"{path} is not a llasa ONNX manifest")
    if int(data.get("version", 0)) > VERSION:
        raise ModelLoadError(f"{path} has version {data.get('version')}; this llasa reads "
                             f"version {VERSION}: upgrade llasa or export again")
    return data


def load_onnx(directory=None, *, limits: TextLimits = TextLimits(), warm_up: bool = False,
              lm_threads: int = 1, codec_threads: int = 2):
    """A :class:`~llasa.tts.pipeline.Llasa` on the ONNX engine (no torch imported).

    Args:
        directory: an export folder (default: the shipped model's).
        limits: text limits, as for ``Llasa.from_pretrained``.
        warm_up: run each graph once on a tiny input first. Off: measured, the first
            synthesis is as fast with it as without (1.18× a warm one either way, the
            difference being the espeak-ng run that later calls find in the phoneme cache).

    Raises:
        ModelLoadError: no export there, or it cannot be loaded.
    """
    from .pipeline import Llasa

    d = Path(directory) if directory is not None else default_onnx_dir()
    data = read_manifest(d)
    try:
        lm_cfg = OnnxLMConfig(**data["lm"])
        codec_cfg = OnnxCodecConfig(**data["codec"])
    except (KeyError, TypeError) as e:
        raise ModelLoadError(f"{d / MANIFEST} is incomplete or unknown: {e}") from None
    lm = OnnxLM(d, lm_cfg, threads=lm_threads)
    codec = OnnxCodecDecoder(d, codec_cfg, threads=codec_threads)
    if warm_up:
        lm.warm_up()
        codec.warm_up()
    tts = Llasa(lm, codec, limits=limits)  # type: ignore[arg-type]
    tts.engine = "onnx"
    return tts


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def source_hashes(lm_dir: Path, codec_dir: Path) -> dict:
    """sha256 of the weights an export was made from (tests compare the shipped ones)."""
    return {"lm": {"sha256": _sha256(lm_dir / "model.safetensors")},
            "codec": {"sha256": _sha256(codec_dir / "model.safetensors")}}


def export_onnx(out_dir, lm=None, codec=None, *, revision: str | None = None) -> Path:
    """Export an LM and a codec (default: the shipped ones) into ``out_dir``; needs torch.

    Returns:
        ``out_dir``, loadable with :func:`load_onnx` and ``llasa tts --lm OUT_DIR``.

    Raises:
        ModelLoadError: a model cannot be loaded or has a layout the export does not cover.
        InputError: ``out_dir`` is a file.
    """
    from .._common.hub import resolve
    from ..codec.model import Codec
    from ..codec.onnx_export import export_decoder
    from ..lm.model import LlasaLM
    from ..lm.onnx_export import export_lm

    default = default_model_dir()
    lm_dir = Path(resolve(lm if lm is not None else default / "lm", revision=revision))
    codec_dir = Path(resolve(codec if codec is not None else default / "codec",
                             revision=revision))
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file, not a folder")
    tok = lm_dir / "tokenizer.json"
    if not tok.is_file():
        raise ModelLoadError(f"{lm_dir} has no tokenizer.json (the ONNX engine reads it "
                             "with the tokenizers library)")
    out.mkdir(parents=True, exist_ok=True)
    lm_model = LlasaLM.from_pretrained(lm_dir, device="cpu", dtype="fp32", optimize=False)
    codec_model = Codec.from_pretrained(codec_dir, device="cpu", decode_only=True,
                                        optimize=False)
    if lm_model.vocab.codebook_size > codec_model.codebook_size:
        raise ModelLoadError("LM and codec do not match: the LM has more speech tokens "
                             "than the codec has codes")
    lm_section = export_lm(lm_model, out / "lm.onnx")
    codec_section = export_decoder(codec_model, out / "codec_decoder.onnx")
    if tok.resolve() != (out / "tokenizer.json").resolve():
        shutil.copyfile(tok, out / "tokenizer.json")
    hashes = (source_hashes(lm_dir, codec_dir) if (lm_dir / "model.safetensors").is_file()
              and (codec_dir / "model.safetensors").is_file() else {})
    manifest = {"format": FORMAT, "version": VERSION, "lm": lm_section, "codec": codec_section,
                "sources": hashes}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return out
