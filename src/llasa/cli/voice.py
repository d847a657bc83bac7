"""`llasa voice add/list/remove/show`: manage the on-disk voice registry."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLES = """examples:
  llasa voice add alice --audio alice.wav --text "Exactly what Alice says." --codec HKUSTAudio/xcodec2
  llasa voice list
  llasa voice show alice
  llasa voice remove alice
  llasa tts "Hi, I am Alice." -o hi.wav --voice alice
The registry lives in $LLASA_VOICES_DIR (default ~/.cache/llasa/voices), one .npz per voice.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("voice", help="manage saved voices for cloning", epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--voices-dir", type=Path, help="registry directory (default "
                        "$LLASA_VOICES_DIR or ~/.cache/llasa/voices)")
    sub = p.add_subparsers(dest="voice_command", metavar="ACTION")
    a = sub.add_parser("add", parents=[common],
                       help="encode prompt audio + transcript and save it under NAME")
    a.add_argument("name", help="1-64 letters, digits, '_' or '-'")
    a.add_argument("--audio", type=Path, required=True, help="prompt audio (WAV/FLAC/OGG)")
    a.add_argument("--text", required=True, help="exact transcript of the audio")
    a.add_argument("--codec", help="codec hub id or directory (default: the shipped one)")
    a.add_argument("--device", help="cpu, cuda ... (default: cuda when available)")
    a.add_argument("--max-seconds", type=float, default=15.0,
                   help="keep at most this much prompt audio (default 15)")
    a.add_argument("--overwrite", action="store_true", help="replace an existing voice")
    a.set_defaults(func=add)
    ls = sub.add_parser("list", parents=[common], help="list saved voices")
    ls.set_defaults(func=list_voices)
    sh = sub.add_parser("show", parents=[common], help="print a voice's transcript and length")
    sh.add_argument("name")
    sh.set_defaults(func=show)
    rm = sub.add_parser("remove", parents=[common], help="delete a saved voice")
    rm.add_argument("name")
    rm.set_defaults(func=remove)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _registry(args):
    from ..tts.voices import VoiceRegistry

    return VoiceRegistry(args.voices_dir)


def add(args) -> int:
    from .._common.errors import InputError, ModelLoadError
    from ..tts.defaults import default_model_dir
    from ..tts.voices import Voice, check_voice_name

    reg = _registry(args)
    check_voice_name(args.name)
    if reg.path(args.name).exists() and not args.overwrite:
        raise InputError(f"voice {args.name!r} already exists in {reg.root} (use --overwrite)")
    if not args.audio.is_file():
        raise InputError(f"audio file not found: {args.audio}")
    if not args.text.strip():
        raise InputError("--text is empty: give the exact words spoken in the audio")
    from ..codec.model import Codec

    codec_path = args.codec
    if codec_path is None:
        codec_path = default_model_dir() / "codec"
        if not codec_path.is_dir():
            raise ModelLoadError(f"no default codec is shipped (looked in {codec_path}); pass "
                                 "--codec, e.g. --codec HKUSTAudio/xcodec2")
    codec = Codec.from_pretrained(codec_path, device=args.device)
    voice = Voice.from_audio(codec, args.audio, args.text, max_seconds=args.max_seconds)
    path = reg.add(args.name, voice, overwrite=args.overwrite)
    print(f"saved voice {args.name!r} ({voice.seconds:.2f} s, {len(voice.codes)} codes) "
          f"to {path}")
    return 0


def list_voices(args) -> int:
    reg = _registry(args)
    names = reg.list()
    if not names:
        print(f"no voices in {reg.root}")
    for n in names:
        print(n)
    return 0


def show(args) -> int:
    v = _registry(args).get(args.name)
    print(f"{args.name}: {v.seconds:.2f} s, {len(v.codes)} codes, "
          f"codebook {v.codebook_size}\ntext: {v.text}")
    return 0


def remove(args) -> int:
    reg = _registry(args)
    reg.delete(args.name)
    print(f"removed voice {args.name!r} from {reg.root}")
    return 0
