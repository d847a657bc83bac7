"""`llasa tts`: speak text to an audio file (optionally cloning a voice, optionally streaming).

Parse → validate (text, sampling, voice options: before any model loads) → Llasa API → print.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .._common.errors import InputError
from .._common.paths import check_output_file

EXAMPLES = """examples:
  llasa tts "Hello there." -o hello.wav --lm HKUSTAudio/Llasa-1B --codec HKUSTAudio/xcodec2
  llasa tts --text-file story.txt -o story.wav --voice alice --seed 1
  echo "From stdin." | llasa tts - -o out.wav --voice-audio me.wav --voice-text "What I said."
  llasa tts "Streaming." -o s.wav --stream --temperature 0.9 --top-p 0.95
  # verifier-guided search (docs/search.md): best of 8 by WER, scores to a JSON file
  llasa tts "Please call Stella." -o best.wav --voice alice --search best-of-n:8 \
      --verifier wer --scores-json scores.json
  # the paper's hybrid: SIM-guided beam (B=2, K=4, 25-token steps) for 1 s, then WER over 4
  llasa tts "Please call Stella." -o hyb.wav --voice alice --search hybrid:2x4x25:1.0:4
  # voice prompt without a transcript: it is transcribed with the bundled Whisper tiny.en
  llasa tts "Hello." -o out.wav --voice-audio me.wav
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
    v.add_argument("--prompt-join", choices=["bare", "space"],
                   help="how the voice transcript meets the text: bare (the model card's "
                        "recipe; default for text models) or space (default for phoneme models)")
    v.add_argument("--voices-dir", type=Path,
                   help="voice registry (default $LLASA_VOICES_DIR or ~/.cache/llasa/voices)")
    m = p.add_argument_group("models")
    m.add_argument("--lm", help="LM hub id or directory (default: the model shipped with llasa)")
    m.add_argument("--codec", help="codec hub id or directory (default: the shipped one)")
    m.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    m.add_argument("--dtype", help="LM dtype: auto (what the CPU/GPU computes natively), fp32, "
                   "bf16, fp16 (default fp32)")
    m.add_argument("--quant", choices=["int8", "int4"],
                   help="LM weights quantized for CPU decoding: int8 or int4 (see llasa quantize)")
    m.add_argument("--no-optimize", dest="optimize", action="store_false",
                   help="do not pack the LM for fast CPU decoding (packing keeps outputs)")
    m.add_argument("--engine", choices=("auto", "torch", "onnx"), default="auto",
                   help="onnx: the torch-free engine on an ONNX export (the shipped model has "
                        "one; `llasa export onnx`); starts in a fraction of the time. auto "
                        "(default): onnx when the models have an export and no option needs "
                        "torch (voice audio, search, verifiers, streaming, cfg, a GPU)")
    s = p.add_argument_group("sampling (defaults: the model card's, or what the model's "
                             "config.json recommends)")
    s.add_argument("--seed", type=int, help="seed; the same seed gives the same audio")
    s.add_argument("--temperature", type=float)
    s.add_argument("--top-p", type=float)
    s.add_argument("--top-k", type=int, help="0 disables top-k")
    s.add_argument("--min-p", type=float)
    s.add_argument("--repetition-penalty", type=float)
    s.add_argument("--cfg-scale", type=float,
                   help="classifier-free guidance on the text, >= 1 (1 = off); each step runs "
                        "the LM twice. See docs/lm.md")
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
    carry = p.add_mutually_exclusive_group()
    carry.add_argument("--no-carry", dest="carry", action="store_false", default=None,
                       help="long text: prompt every chunk with the voice alone instead of "
                            "also the previous chunk (for small models; docs/tts.md). "
                            "Default: what the model declares, else carry")
    carry.add_argument("--carry", dest="carry", action="store_true",
                       help="long text: carry the previous chunk even if the model declares "
                            "otherwise")
    q = p.add_argument_group("verifiers and search (docs/search.md)")
    q.add_argument("--search", metavar="SPEC",
                   help="best-of-n:N | beam:BxK[xT] | partial:BxK[xT]:SECONDS | "
                        "hybrid:BxK[xT]:SECONDS:M | threshold:wer<=X,max=N[,batch=B]")
    q.add_argument("--verifier", action="append", default=[], metavar="SPEC",
                   help="verifier (repeatable): sim, wer, cer, mos, distillmos, hf-asr:<id>, "
                        "wavlm-sim:<id>, '0.7*wer+0.3*sim'. With --search it ranks candidates "
                        "(several: equal weights; hybrid: first = PRM, rest = ORM); "
                        "without, the output is scored")
    q.add_argument("--scores-json", type=Path, metavar="FILE",
                   help="write the verifier scores (and the search's candidates and compute)")
    q.add_argument("--language", default="en", help="language of the text for ASR verifiers")
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
    if args.text == "-":  # bytes, decoded strictly: the locale may let bad bytes through
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
        if isinstance(data, str):
            return data
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("stdin is not UTF-8 text") from None
    return args.text


def sampling_kwargs(args) -> dict:
    """Only the options the user set, so the library defaults stay the defaults."""
    names = {"seed": "seed", "temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
             "min_p": "min_p", "repetition_penalty": "repetition_penalty",
             "max_new_tokens": "max_new_tokens", "cfg_scale": "cfg_scale"}
    kw = {k: getattr(args, a) for a, k in names.items() if getattr(args, a) is not None}
    if args.greedy:
        kw["do_sample"] = False
    return kw


def check_args(args):
    """Everything that can be checked before loading a model. Returns (text, limits, sampling):
    ``sampling`` holds only the options given, checked; the model's own defaults fill the rest
    (``Llasa.make_settings``)."""
    from ..lm.settings import GenerationSettings
    from ..tts.text import TextLimits, check_text
    from ..tts.types import duration_to_tokens

    if args.voice and (args.voice_audio or args.voice_text):
        raise InputError("use either --voice or --voice-audio/--voice-text, not both")
    if args.voice_text is not None and args.voice_audio is None:
        raise InputError("--voice-text needs --voice-audio")
    if args.voice_audio is not None:
        if not args.voice_audio.is_file():
            raise InputError(f"voice audio not found: {args.voice_audio}")
        from ..audio import load_audio
        from ..tts.voices import check_voice_audio

        check_voice_audio(load_audio(args.voice_audio))  # before any model loads
        if args.voice_text is not None and not args.voice_text.strip():
            raise InputError("--voice-text is empty: give the exact words spoken in "
                             "--voice-audio, or leave it out to transcribe the audio")
    if args.output.suffix.lower() not in (".wav", ".flac", ".ogg"):
        raise InputError(f"output must end in .wav, .flac or .ogg, got {args.output.name!r}")
    if args.stream and args.output.suffix.lower() != ".wav":
        raise InputError("--stream writes WAV only")
    check_output_file(args.output)  # a directory or a file as parent: fail before synthesis
    if args.scores_json is not None:
        check_output_file(args.scores_json, "--scores-json")
    if args.duration is not None:
        duration_to_tokens(args.duration)
        if args.stream:
            raise InputError("--duration cannot be combined with --stream")
    limits = TextLimits(max_chars=args.max_chars, carry=args.carry,
                        chunk_chars=min(args.chunk_chars, args.max_chars))
    text = check_text(read_text(args), limits)
    sampling = sampling_kwargs(args)
    GenerationSettings(**sampling)  # bad values fail before a model loads
    if args.search or args.verifier or args.scores_json:
        check_search_args(args)
    return text, limits, sampling


def check_search_args(args) -> None:
    """Parse --search and the verifier specs (nothing loads) so mistakes fail early; the
    cross-field rules are the library's (the server applies the same ones)."""
    from ..search import check_search_request, parse_search
    from ..verifiers import build_verifier, check_reference

    if args.search:
        if args.stream:
            raise InputError("--search ranks whole candidates: it cannot be combined with "
                             "--stream")
        args.search_config = parse_search(args.search, tuple(args.verifier))
        check_search_request(args.search_config, duration=args.duration)
    specs = list(args.verifier)
    if args.search:
        cfg = args.search_config
        specs += [v for v in (*cfg.verifiers, *getattr(getattr(cfg, "beam", None),
                                                       "verifiers", ())) if isinstance(v, str)]
    check_reference(specs, bool(args.voice or args.voice_audio),
                    remedy="give --voice or --voice-audio")
    for spec in args.verifier:
        build_verifier(spec)  # unknown names and bad weights are errors now, not after synthesis
    cfg = getattr(args, "search_config", None)
    if getattr(cfg, "op", None) is not None and isinstance(cfg.verifier, str):
        cfg.check_direction(build_verifier(cfg.verifier).higher_is_better, cfg.verifier)
    if args.scores_json is not None and not (args.search or args.verifier):
        raise InputError("--scores-json needs --verifier or --search (what should be scored?)")


def onnx_blockers(args) -> list[str]:
    """The options given that only the torch engine serves."""
    why = []
    for flag, used in (("--voice-audio", args.voice_audio is not None),
                       ("--search", bool(args.search)), ("--verifier", bool(args.verifier)),
                       ("--scores-json", args.scores_json is not None),
                       ("--stream", args.stream),
                       ("--prompt-join", args.prompt_join is not None),
                       ("--cfg-scale", args.cfg_scale not in (None, 1.0)),
                       ("--device", args.device not in (None, "cpu")),
                       ("--dtype", args.dtype not in (None, "fp32", "float32")),
                       ("--quant", getattr(args, "quant", None) is not None)):
        if used:
            why.append(flag)
    return why


def pick_engine(args):
    """("onnx", export folder) or ("torch", None), as --engine asks (see its help).

    Raises:
        InputError: --engine onnx where it cannot run.
    """
    if args.engine == "torch":
        return "torch", None
    from ..tts.onnx import find_export

    blockers = onnx_blockers(args)
    found = find_export(args.lm, args.codec)
    if args.engine == "onnx":
        if blockers:
            raise InputError(f"--engine onnx cannot serve {', '.join(blockers)}; use "
                             "--engine torch (or auto)")
        if found is None:
            where = args.lm or args.codec or "the shipped model"
            raise InputError(f"--engine onnx needs an ONNX export, and {where} has none; make "
                             "one with `llasa export onnx [--lm ...] [--codec ...] -o DIR` "
                             "and pass --lm DIR")
    if blockers or found is None:
        return "torch", None
    return "onnx", found


def run(args) -> int:
    text, limits, sampling = check_args(args)
    from ..tts.voices import VoiceRegistry, resolve_voice

    engine, export_dir = pick_engine(args)
    voice = None
    if args.voice:  # before the models load: a bad name should fail fast
        voice = resolve_voice(args.voice, VoiceRegistry(args.voices_dir))
    t0 = time.perf_counter()
    if engine == "onnx":
        from ..tts.onnx import load_onnx

        tts = load_onnx(export_dir, limits=limits)
    else:
        from ..tts import Llasa

        tts = Llasa.from_pretrained(args.lm, args.codec, device=args.device,
                                    dtype=args.dtype, decode_only=args.voice_audio is None,
                                    optimize=args.optimize, limits=limits, quant=args.quant,
                                    prompt_join=args.prompt_join)
    t_load = time.perf_counter() - t0
    settings = tts.make_settings(**sampling)
    registry = None
    if args.search or args.verifier or args.voice_audio is not None and not args.voice_text:
        from ..verifiers import VerifierRegistry

        registry = VerifierRegistry()
    if args.voice_audio is not None:
        auto = not args.voice_text
        voice = tts.voice_from_audio(args.voice_audio, args.voice_text,
                                     transcriber=registry.transcriber if auto else None)
        if auto:
            print(f"transcribed the voice prompt: {voice.text!r}")
    if args.search:
        return _run_search(args, tts, text, voice, settings, registry, t0, t_load)
    request = None
    if args.verifier:  # build and check the verifiers before spending time on synthesis
        from ..search import score_audio
        from ..verifiers import VerifyRequest

        request = VerifyRequest(text=text, language=args.language,
                                reference_audio=None if voice is None else voice.audio)
        score_audio([], request, args.verifier, registry)
    if args.stream:
        seconds, info = _stream_to_wav(tts, text, voice, settings, args.output)
    else:
        from ..audio import save_audio

        res = tts.synthesize(text, voice, settings=settings, duration=args.duration)
        save_audio(args.output, res.audio, res.sample_rate)
        seconds, info = res.duration, res.info
    ended = "ended on END" if info.get("ended") else "hit the token cap"
    print(f"wrote {args.output} ({seconds:.2f} s of audio, {info.get('tokens')} tokens, "
          f"{ended}; {engine} engine: models loaded in {t_load:.1f} s, synthesis "
          f"{time.perf_counter() - t0 - t_load:.1f} s)")
    if args.stream and info.get("first_audio_seconds") is not None:
        print(f"first audio after {info['first_audio_tokens']} tokens, "
              f"{info['first_audio_seconds']:.2f} s")
    if request is not None:
        from ..audio import load_audio

        audio = load_audio(args.output)  # what was written (stream or not)
        [scores] = score_audio([audio], request, args.verifier, registry)
        _report_scores(args, {"scores": scores, "tokens": info.get("tokens"),
                              "seconds": round(seconds, 3)})
    return 0


def _report_scores(args, data: dict) -> None:
    import json

    scores = data["scores"]
    if "transcript" in scores:  # plain synthesis: the ASR's words, beside the scores
        data = {**data, "scores": {k: v for k, v in scores.items() if k != "transcript"},
                "transcript": scores["transcript"]}
    print("scores: " + ", ".join(f"{k}={v:.4f}" for k, v in data["scores"].items()))
    if data.get("transcript") is not None:
        print(f"transcript: {data['transcript']!r}")
    if args.scores_json is not None:
        args.scores_json.parent.mkdir(parents=True, exist_ok=True)
        args.scores_json.write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote scores to {args.scores_json}")


def _run_search(args, tts, text, voice, settings, registry, t0, t_load) -> int:
    from ..audio import save_audio
    from ..search import search

    res = search(tts, text, voice, args.search_config, settings=settings, registry=registry,
                 language=args.language)
    save_audio(args.output, res.audio, res.sample_rate)
    c = res.compute
    print(f"wrote {args.output} ({res.duration:.2f} s of audio, {res.info['tokens']} tokens; "
          f"{res.strategy}: candidate {res.chosen} of {c.candidates} by {res.ranking['name']}; "
          f"{c.lm_tokens} LM tokens, {c.verifier_calls} verifier "
          f"call{'' if c.verifier_calls == 1 else 's'} "
          f"({c.verifier_seconds:.1f} s); models loaded in {t_load:.1f} s, search "
          f"{time.perf_counter() - t0 - t_load:.1f} s)")
    _report_scores(args, res.to_dict())
    return 0


def _stream_to_wav(tts, text, voice, settings, path: Path):
    """Append chunks to a WAV file as they come (readable while it grows)."""
    from ..audio.io import WavAppender

    path.parent.mkdir(parents=True, exist_ok=True)
    stream = tts.stream(text, voice, settings=settings)
    with WavAppender(path, tts.sample_rate) as f:  # header valid after every chunk
        for chunk in stream:
            f.write(chunk)
    return stream.info["seconds"], stream.info
