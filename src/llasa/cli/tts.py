"""`llasa tts`: speak text to an audio file (optionally cloning a voice, optionally streaming).

Parse → validate (text, sampling, voice options: before any model loads) → Llasa API → print.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .._common.errors import InputError

EXAMPLES = """examples:
  llasa tts "Hello there." -o hello.wav --lm HKUSTAudio/Llasa-1B --codec HKUSTAudio/xcodec2
  llasa tts --text-file story.txt -o story.wav --voice alice --seed 1
  echo "From stdin." | llasa tts - -o out.wav --voice-audio me.wav --voice-text "What I said."
  llasa tts "Streaming." -o s.wav --stream --temperature 0.9 --top-p 0.95
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "tts", help="synthesise speech from text", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Speak TEXT (or --text-file, or '-' for stdin) into an audio file.")
    p.add_argument("text", nargs="?", help="text to speak; '-' reads standard input")
    p.add_argument("--text-file", type=Path, help="read the text from this UTF-8 file")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output audio file (.wav, .flac or .ogg)")
    v = p.add_argument_group("voice (zero-shot cloning)")
    v.add_argument("--voice", help="a saved voice: a name in the voice registry or a .npz file")
    v.add_argument("--voice-audio", type=Path, help="prompt audio to clone (with --voice-text)")
    v.add_argument("--voice-text", help="exact transcript of --voice-audio")
    v.add_argument("--voices-dir", type=Path,
                   help="voice registry (default $LLASA_VOICES_DIR or ~/.cache/llasa/voices)")
    m = p.add_argument_group("models")
    m.add_argument("--lm", help="LM hub id or directory (default: the model shipped with llasa)")
    m.add_argument("--codec", help="codec hub id or directory (default: the shipped one)")
    m.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    m.add_argument("--dtype", help="LM dtype: fp32, bf16, fp16 (default fp32)")
    m.add_argument("--no-optimize", dest="optimize", action="store_false",
                   help="do not pack the LM for fast CPU decoding (packing keeps outputs)")
    s = p.add_argument_group("sampling (defaults: the model card's)")
    s.add_argument("--seed", type=int, help="seed; the same seed gives the same audio")
    s.add_argument("--temperature", type=float)
    s.add_argument("--top-p", type=float)
    s.add_argument("--top-k", type=int, help="0 disables top-k")
    s.add_argument("--min-p", type=float)
    s.add_argument("--repetition-penalty", type=float)
    s.add_argument("--max-new-tokens", type=int, help="cap on speech tokens (50 per second)")
    s.add_argument("--greedy", action="store_true", help="argmax decoding (no sampling)")
    p.add_argument("--duration", type=float,
                   help="target length in seconds (exactly round(50*S) tokens; see docs/tts.md)")
    p.add_argument("--stream", action="store_true",
                   help="write audio chunks to the file as tokens arrive")
    p.add_argument("--max-chars", type=int, default=20_000,
                   help="refuse text longer than this many characters (default 20000)")
    p.add_argument("--chunk-chars", type=int, default=200,
                   help="long text is synthesised in sentence chunks of at most this size")
    p.set_defaults(func=run)


def read_text(args) -> str:
    """The text from the positional argument, ``-`` (stdin) or --text-file (exactly one)."""
    sources = [s for s in (args.text is not None, args.text_file is not None) if s]
    if len(sources) != 1:
        raise InputError("give the text either as an argument, as '-' (stdin) or with "
                         "--text-file, exactly once")
    if args.text_file is not None:
        if not args.text_file.is_file():
            raise InputError(f"text file not found: {args.text_file}")
        try:
            return args.text_file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{args.text_file} is not UTF-8 text") from None
    if args.text == "-":
        return sys.stdin.read()
    return args.text


def sampling_kwargs(args) -> dict:
    """Only the options the user set, so the library defaults stay the defaults."""
    names = {"seed": "seed", "temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
             "min_p": "min_p", "repetition_penalty": "repetition_penalty",
             "max_new_tokens": "max_new_tokens"}
    kw = {k: getattr(args, a) for a, k in names.items() if getattr(args, a) is not None}
    if args.greedy:
        kw["do_sample"] = False
    return kw


def check_args(args):
    """Everything that can be checked before loading a model. Returns (text, limits, settings)."""
    from ..lm.sampling import GenerationSettings
    from ..tts.text import TextLimits, check_text
    from ..tts.types import duration_to_tokens

    if args.voice and (args.voice_audio or args.voice_text):
        raise InputError("use either --voice or --voice-audio/--voice-text, not both")
    if args.voice_text is not None and args.voice_audio is None:
        raise InputError("--voice-text needs --voice-audio")
    if args.voice_audio is not None:
        if not args.voice_audio.is_file():
            raise InputError(f"voice audio not found: {args.voice_audio}")
        if not (args.voice_text or "").strip():
            raise InputError("--voice-audio needs --voice-text: the exact words spoken in it")
    if args.output.suffix.lower() not in (".wav", ".flac", ".ogg"):
        raise InputError(f"output must end in .wav, .flac or .ogg, got {args.output.name!r}")
    if args.stream and args.output.suffix.lower() != ".wav":
        raise InputError("--stream writes WAV only")
    if args.duration is not None:
        duration_to_tokens(args.duration)
        if args.stream:
            raise InputError("--duration cannot be combined with --stream")
    limits = TextLimits(max_chars=args.max_chars, chunk_chars=min(args.chunk_chars,
                                                                  args.max_chars))
    text = check_text(read_text(args), limits)
    settings = GenerationSettings(**sampling_kwargs(args))
    return text, limits, settings


def run(args) -> int:
    text, limits, settings = check_args(args)
    from ..tts import Llasa
    from ..tts.voices import VoiceRegistry, resolve_voice

    voice = None
    if args.voice:  # before the models load: a bad name should fail fast
        voice = resolve_voice(args.voice, VoiceRegistry(args.voices_dir))
    t0 = time.perf_counter()
    tts = Llasa.from_pretrained(args.lm, args.codec, device=args.device, dtype=args.dtype,
                                decode_only=args.voice_audio is None,
                                optimize=args.optimize, limits=limits)
    t_load = time.perf_counter() - t0
    if args.voice_audio is not None:
        voice = tts.voice_from_audio(args.voice_audio, args.voice_text)
    if args.stream:
        seconds, info = _stream_to_wav(tts, text, voice, settings, args.output)
    else:
        from ..audio import save_audio

        res = tts.synthesize(text, voice, settings=settings, duration=args.duration)
        save_audio(args.output, res.audio, res.sample_rate)
        seconds, info = res.duration, res.info
    ended = "ended on END" if info.get("ended") else "hit the token cap"
    print(f"wrote {args.output} ({seconds:.2f} s of audio, {info.get('tokens')} tokens, "
          f"{ended}; models loaded in {t_load:.1f} s, synthesis "
          f"{time.perf_counter() - t0 - t_load:.1f} s)")
    if args.stream and info.get("first_audio_seconds") is not None:
        print(f"first audio after {info['first_audio_tokens']} tokens, "
              f"{info['first_audio_seconds']:.2f} s")
    return 0


def _stream_to_wav(tts, text, voice, settings, path: Path):
    """Append chunks to a WAV file as they come (readable while it grows)."""
    import numpy as np
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    stream = tts.stream(text, voice, settings=settings)
    with sf.SoundFile(str(path), "w", samplerate=tts.sample_rate, channels=1,
                      subtype="PCM_16") as f:
        for chunk in stream:
            f.write(np.clip(chunk, -1.0, 1.0))
            f.flush()
    return stream.info["seconds"], stream.info
