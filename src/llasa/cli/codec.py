"""`llasa codec encode|decode|convert`: thin commands over :class:`llasa.codec.Codec`."""

from __future__ import annotations

import argparse
from pathlib import Path

from .._common.paths import check_output_dir, check_output_file


_EPILOG = """examples:
  llasa codec encode speech.wav -o speech.npy --codec HKUSTAudio/xcodec2
  llasa codec decode speech.npy -o resynth.wav --codec ./xcodec2-hf
  llasa codec convert ./xcodec2-original ./xcodec2-hf
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("codec", help="encode audio to X-codec2 codes, decode, convert",
                              description="Encode audio to X-codec2 codes, decode codes to "
                                          "audio, convert original checkpoints.", epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="codec_command", metavar="ACTION", required=True)

    def common(q):
        q.add_argument("--codec", default=None, metavar="PATH_OR_ID",
                       help="codec directory/file (original or transformers format) or hub id, "
                            "e.g. HKUSTAudio/xcodec2 (default: the shipped codec, as llasa tts)")
        q.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: auto)")
        q.add_argument("--dtype", default=None, help="fp32 (default) or bf16")

    enc = sub.add_parser("encode", help="audio file(s) → codes (.npy, int64 [t])",
                         epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    enc.add_argument("inputs", nargs="+", metavar="IN", help="WAV/FLAC/OGG files (any rate)")
    enc.add_argument("-o", "--output", required=True, metavar="OUT",
                     help="CODES.npy for one input, or a directory for several")
    common(enc)
    enc.set_defaults(func=_encode)

    dec = sub.add_parser("decode", help="codes (.npy) → 16 kHz audio",
                         epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    dec.add_argument("input", metavar="CODES.npy")
    dec.add_argument("-o", "--output", required=True, metavar="OUT.wav",
                     help="output audio (.wav, .flac or .ogg)")
    common(dec)
    dec.set_defaults(func=_decode)

    conv = sub.add_parser("convert", help="original X-codec2 checkpoint → transformers format",
                          epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    conv.add_argument("src", metavar="SRC",
                      help="original checkpoint: dir, model.safetensors or Lightning .ckpt")
    conv.add_argument("dst", metavar="DST", help="output directory (config.json + "
                      "model.safetensors)")
    conv.set_defaults(func=_convert)


def _codec(args) -> str:
    """--codec, else the shipped codec (the default of ``llasa tts`` too)."""
    from ..tts.defaults import default_model_dir

    return args.codec or str(default_model_dir() / "codec")


def _encode(args) -> int:
    import numpy as np

    from ..audio import load_audio
    from ..codec import Codec

    out = Path(args.output)
    if len(args.inputs) == 1 and out.suffix == ".npy":
        targets = [check_output_file(out)]
    else:
        check_output_dir(out)
        targets = [out / (Path(p).stem + ".npy") for p in args.inputs]
    wavs = [load_audio(p) for p in args.inputs]  # fail on bad audio before loading the model
    codec = Codec.from_pretrained(_codec(args), device=args.device, dtype=args.dtype)
    codes = codec.encode(wavs)
    for src, dst, c in zip(args.inputs, targets, codes):
        dst.parent.mkdir(parents=True, exist_ok=True)
        np.save(dst, c)
        print(f"{src} → {dst} ({len(c)} codes, {len(c) / codec.frame_rate:.2f} s)")
    return 0


def _decode(args) -> int:
    import numpy as np

    from .._common.errors import InputError
    from ..audio import save_audio
    from ..codec import Codec

    src = Path(args.input)
    if not src.is_file():
        raise InputError(f"codes file not found: {src}")
    try:
        codes = np.load(src, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - numpy raises several types for bad files
        raise InputError(f"cannot read codes from {src}: {e} (expected a .npy int array)") from None
    check_output_file(args.output)
    codec = Codec.from_pretrained(_codec(args), device=args.device, dtype=args.dtype,
                                  decode_only=True)
    wav = codec.decode(codec.check_codes(codes, str(src)))[0]
    save_audio(args.output, wav, codec.sample_rate)
    print(f"{src} → {args.output} ({len(wav) / codec.sample_rate:.2f} s)")
    return 0


def _convert(args) -> int:
    from ..codec.convert import convert_checkpoint

    out = convert_checkpoint(args.src, args.dst)
    print(f"{args.src} → {out} (transformers Xcodec2Model format)")
    return 0
