"""`llasa asr`: transcribe audio files.

Two engines: with ``--lm`` (and ``--codec``) a Llasa LM trained in the ASR direction
(``llasa train lm --task asr``) reads the codec codes of the audio; without ``--lm`` the
bundled Whisper tiny.en (faster-whisper, offline) transcribes, or any faster-whisper model
given by ``--whisper``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

EXAMPLES = """examples:
  llasa asr speech.wav                                   # bundled Whisper tiny.en
  llasa asr a.wav b.flac --json                          # one JSON line per file
  llasa asr speech.wav --lm runs/asr/model --codec HKUSTAudio/xcodec2-hf
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("asr", help="transcribe audio (Whisper, or a Llasa ASR LM)",
                              description="Transcribe audio files to text.", epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("audio", nargs="+", type=Path, help="audio files (WAV/FLAC/OGG, any rate)")
    p.add_argument("--lm", help="Llasa LM trained with task 'asr' (directory or hub id)")
    p.add_argument("--codec", help="codec (directory or hub id) that made the LM's codes; "
                   "required with --lm")
    p.add_argument("--whisper", help="faster-whisper model directory (default: bundled "
                   "tiny.en); ignored with --lm")
    p.add_argument("--language", help="language code for Whisper (e.g. en)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available for --lm)")
    p.add_argument("--max-new-tokens", type=int, default=200,
                   help="text tokens per file at most (--lm)")
    p.add_argument("--json", action="store_true", help='print {"audio": ..., "text": ...} lines')
    p.set_defaults(func=run)


def run(args) -> int:
    from .._common.errors import InputError
    from ..audio import load_audio

    if args.lm and not args.codec:
        raise InputError("--lm needs --codec: the codec that encoded the LM's training data")
    if args.max_new_tokens < 1:
        raise InputError("--max-new-tokens must be >= 1")
    wavs = [load_audio(p) for p in args.audio]
    texts = _with_lm(args, wavs) if args.lm else _with_whisper(args, wavs)
    for path, text in zip(args.audio, texts):
        print(json.dumps({"audio": str(path), "text": text}, ensure_ascii=False)
              if args.json else (f"{path}\t{text}" if len(args.audio) > 1 else text))
    return 0


def _with_whisper(args, wavs) -> list[str]:
    from ..verifiers import Transcriber, VerifierRegistry

    if args.whisper:
        tr = Transcriber(args.whisper, device=args.device or "cpu")
    else:
        tr = VerifierRegistry().transcriber
    return tr.transcribe(wavs, language=args.language)


def _with_lm(args, wavs) -> list[str]:
    from ..codec import Codec
    from ..lm import LlasaLM
    from ..training.lm_asr import transcribe_codes

    codec = Codec.from_pretrained(args.codec, device=args.device)
    lm = LlasaLM.from_pretrained(args.lm, device=args.device)
    codes = codec.encode(wavs)
    return transcribe_codes(lm.model, lm.tokenizer, codes, max_new_tokens=args.max_new_tokens)
