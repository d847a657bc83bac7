"""`llasa eval`: Seed-TTS-eval-style TTS metrics, codec reconstruction metrics, search scaling
curves, and comparison tables. Thin over :mod:`llasa.eval`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .._common.errors import InputError

EXAMPLES = """examples:
  # our model on the shipped list (zero-shot cloning, WER / SIM-o / SIM-r / MOS)
  llasa eval tts --list data/evalsets/tiny/meta.lst --out runs/eval/ours \\
      --lm HKUSTAudio/Llasa-1B --codec HKUSTAudio/xcodec2
  # any other system's outputs (<utt>.wav per list line), same judges
  llasa eval tts --list data/evalsets/tiny/meta.lst --audio-dir peer_wavs --out runs/eval/peer
  # codec reconstruction (PESQ, STOI, WER, SIM, MOS, speed)
  llasa eval codec --list data/evalsets/tiny/meta.lst --codec HKUSTAudio/xcodec2 --out runs/codec
  # metric vs compute for search strategies
  llasa eval search --list data/evalsets/tiny/meta.lst --out runs/scaling --budgets 1,2,4,8
  # one paper-style table from several runs
  llasa eval compare runs/eval/ours runs/eval/peer
"""


def _judge_args(p) -> None:
    g = p.add_argument_group("judges (defaults run offline on CPU)")
    g.add_argument("--asr", default="default",
                   help="'default' (bundled Whisper tiny.en), a faster-whisper model dir, "
                        "'hf-asr:<id or dir>' (e.g. openai/whisper-large-v3), or 'none'")
    g.add_argument("--asr-fallback", action="store_true",
                   help="re-transcribe looping transcripts (zlib ratio > 2.4) with Whisper's "
                        "temperature fallback, so one judge failure cannot swamp a mean WER")
    g.add_argument("--sim", default="sim",
                   help="'sim' (resemblyzer), 'wavlm-sim:<id or dir>' (e.g. a WavLM-large SV "
                        "checkpoint), or 'none'")
    g.add_argument("--mos", default="mos", help="'mos' (DNSMOS), 'distillmos', or 'none'")
    g.add_argument("--judge-device", default="cpu", help="device of the judge models")


def _model_args(p, lm: bool = True) -> None:
    g = p.add_argument_group("models")
    if lm:
        g.add_argument("--lm", help="LM hub id or directory (default: the shipped model)")
    g.add_argument("--codec", help="codec hub id or directory (default: the shipped one)")
    g.add_argument("--device", help="cpu, cuda, ... (default: cuda when available)")
    if lm:
        g.add_argument("--dtype", help="LM dtype: auto, fp32, bf16, fp16")
        g.add_argument("--quant", choices=["int8", "int4"],
                       help="LM weights quantized for CPU decoding (see llasa quantize)")
        s = p.add_argument_group("sampling (defaults: the model card's, or what the model's "
                                 "config.json recommends)")
        s.add_argument("--seed", type=int)
        s.add_argument("--temperature", type=float)
        s.add_argument("--top-p", type=float)
        s.add_argument("--top-k", type=int)
        s.add_argument("--min-p", type=float)
        s.add_argument("--repetition-penalty", type=float)
        s.add_argument("--cfg-scale", type=float,
                       help="classifier-free guidance on the text, >= 1 (1 = off; 2x compute)")
        s.add_argument("--max-new-tokens", type=int)


def _list_args(p, required: bool = True) -> None:
    p.add_argument("--list", type=Path, required=required,
                   help="evaluation list: Seed-TTS-eval 'utt|prompt_text|prompt_wav|"
                        "target_text' (.lst) or JSONL (.jsonl); paths relative to the list")
    p.add_argument("--language", choices=["en", "zh"],
                   help="force the language of every line (default: guessed per line)")
    p.add_argument("--limit", type=int, help="evaluate only the first N lines")
    p.add_argument("--out", type=Path, required=True, help="output folder (resumable)")


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="evaluate TTS, codec and search (metrics, plots)",
                              epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="eval_command", metavar="MODE", required=True)

    t = sub.add_parser("tts", help="zero-shot TTS metrics: WER/CER, SIM-o, SIM-r, MOS",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _list_args(t)
    t.add_argument("--audio-dir", type=Path,
                   help="score these files (<utt>.wav/.flac per line) instead of synthesising; "
                        "--codec then only serves SIM-r")
    t.add_argument("--search", help="synthesise with a search strategy (see 'eval search')")
    t.add_argument("--budget", type=int, default=4, help="compute budget for --search")
    t.add_argument("--batch-size", type=int, default=4, help="utterances per batch")
    t.add_argument("--no-sim-r", action="store_true", help="skip the codec resynthesis of "
                   "prompts (SIM-r)")
    _model_args(t)
    _judge_args(t)
    t.set_defaults(func=run_tts)

    c = sub.add_parser("codec", help="codec reconstruction: PESQ, STOI, WER, SIM, MOS, speed",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--audio-dir", type=Path, help="every audio file in this folder (a "
                     "<stem>.txt beside a file is its transcript)")
    src.add_argument("--list", type=Path, help="an evaluation list's target recordings")
    c.add_argument("--language", choices=["en", "zh"])
    c.add_argument("--limit", type=int, help="only the first N clips")
    c.add_argument("--out", type=Path, required=True, help="output folder (resumable)")
    _model_args(c, lm=False)
    _judge_args(c)
    c.set_defaults(func=run_codec)

    s = sub.add_parser("search", help="metric vs compute curves for search strategies",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _list_args(s)
    s.add_argument("--strategies", default="best-of-n",
                   help="comma-separated strategy names (see llasa.search)")
    s.add_argument("--budgets", default="1,2,4,8", help="compute budgets, e.g. 1,2,4,8,16")
    s.add_argument("--verifier", default="sim",
                   help="verifier spec that guides the search (e.g. sim, wer, wavlm-sim:<id>)")
    _model_args(s)
    _judge_args(s)
    s.set_defaults(func=run_search)

    g = sub.add_parser("gate", help="parity gate: a changed model (e.g. --quant) against its "
                       "reference, paired by seed and utterance",
                       description="Pair run i of --reference with run i of --candidate (one "
                       "'llasa eval tts' folder per seed, same list) by utterance; a metric "
                       "(WER, CER, SIM-o) passes when the candidate's mean lies inside the "
                       "reference's 95%% interval or beyond it on the good side. Exit 1 when "
                       "a metric fails.")
    g.add_argument("--reference", type=Path, nargs="+", required=True, help="reference runs")
    g.add_argument("--candidate", type=Path, nargs="+", required=True, help="candidate runs")
    g.add_argument("--name", default="candidate", help="candidate's column name")
    g.add_argument("--json", type=Path, help="also write the verdict here")
    g.set_defaults(func=run_gate)

    m = sub.add_parser("compare", help="one markdown table from several summary.json runs")
    m.add_argument("runs", nargs="+", type=Path, help="run folders (or summary.json files)")
    m.add_argument("--names", help="comma-separated row names (default: folder names)")
    m.set_defaults(func=run_compare)


# ------------------------------------------------------------------------------ helpers
def _items(args):
    from ..eval.testsets import load_list

    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be >= 1")
    items = load_list(args.list, language=args.language)
    return items[: args.limit] if args.limit else items


def _judges(args):
    from ..eval.judges import Judges

    return Judges.build(asr=args.asr, sim=args.sim, mos=args.mos, device=args.judge_device,
                        asr_fallback=args.asr_fallback)


def _settings(args, tts=None):
    """The sampling options given (checked), over ``tts``'s defaults when a model is loaded
    (the card's, plus what the model's config declares)."""
    from ..lm.sampling import GenerationSettings

    kw = {k: getattr(args, k) for k in ("seed", "temperature", "top_p", "top_k", "min_p",
                                         "repetition_penalty", "max_new_tokens", "cfg_scale")
          if getattr(args, k) is not None}
    return tts.make_settings(**kw) if tts is not None else GenerationSettings(**kw)


def _tts(args):
    from ..tts.pipeline import Llasa

    return Llasa.from_pretrained(args.lm, args.codec, device=args.device, dtype=args.dtype,
                                 quant=getattr(args, "quant", None))


def _system(args, **extra) -> dict:
    """What produced a run's audio, weights fingerprints included: a resumed output folder
    must hold the same system (:func:`llasa.eval.harness.check_same_run`)."""
    from .._common.hub import weights_fingerprint
    from ..tts.defaults import default_model_dir

    def name(x):  # one spelling per folder, however the command line wrote it
        return "shipped" if x is None else str(Path(x).resolve()) if Path(x).is_dir() else x

    ship = default_model_dir()
    return {"lm": name(args.lm), "codec": name(args.codec),
            "lm_weights": weights_fingerprint(args.lm, ship / "lm"),
            "codec_weights": weights_fingerprint(args.codec, ship / "codec"), **extra}


def _print(summary: dict, out: Path) -> None:
    print((out / "summary.md").read_text() if (out / "summary.md").exists()
          else json.dumps(summary, indent=2))
    print(f"results in {out}")


# -------------------------------------------------------------------------------- modes
def run_tts(args) -> int:
    from ..eval.harness import evaluate_audio_dir, evaluate_tts, llasa_synthesizer

    items = _items(args)
    if args.audio_dir is not None and args.search:
        raise InputError("--audio-dir scores existing audio; it cannot be combined with --search")
    if args.batch_size < 1:
        raise InputError("--batch-size must be >= 1")
    settings = _settings(args)  # validate sampling before loading anything
    judges = _judges(args)
    judges.check_languages({it.language for it in items})
    if args.audio_dir is not None:
        codec = None
        if args.codec and not args.no_sim_r:
            from ..codec.model import Codec

            codec = Codec.from_pretrained(args.codec, device=args.device)
        summary = evaluate_audio_dir(args.audio_dir, items, args.out, judges, codec=codec,
                                     batch_size=args.batch_size)
    else:
        tts = _tts(args)
        settings = _settings(args, tts)
        system = _system(args, settings={k: v for k, v in vars(settings).items()})
        synth = llasa_synthesizer(tts, settings)
        if args.search:
            from ..eval.strategies import build_strategy

            fn = build_strategy(args.search, tts, settings, verifier_spec=args.sim,
                                judge_device=args.judge_device)
            synth = (lambda batch, fn=fn, b=args.budget: fn(batch, b))
            system.update(search=args.search, budget=args.budget)
        summary = evaluate_tts(synth, items, args.out, judges,
                               codec=None if args.no_sim_r else tts.codec,
                               batch_size=args.batch_size, system=system)
    _print(summary, args.out)
    return 0


def run_codec(args) -> int:
    from ..codec.model import Codec
    from ..eval.codec_eval import clips_from_dir, clips_from_items, evaluate_codec
    from ..eval.testsets import load_list

    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be >= 1")
    clips = (clips_from_dir(args.audio_dir) if args.audio_dir is not None
             else clips_from_items(load_list(args.list, language=args.language)))
    clips = clips[: args.limit] if args.limit else clips
    judges = _judges(args)
    if args.codec is None:
        from ..tts.pipeline import default_model_dir

        args.codec = str(default_model_dir() / "codec")
    codec = Codec.from_pretrained(args.codec, device=args.device)
    summary = evaluate_codec(codec, clips, args.out, judges, system={"codec": args.codec})
    _print(summary, args.out)
    return 0


def run_search(args) -> int:
    from ..eval.strategies import build_strategy
    from ..eval.sweep import parse_budgets, sweep

    items = _items(args)
    budgets = parse_budgets(args.budgets)
    names = [n.strip() for n in args.strategies.split(",") if n.strip()]
    if not names:
        raise InputError("--strategies is empty")
    settings = _settings(args)
    judges = _judges(args)
    judges.check_languages({it.language for it in items})
    tts = _tts(args)
    settings = _settings(args, tts)
    strategies = {n: build_strategy(n, tts, settings, verifier_spec=args.verifier,
                                    judge_device=args.judge_device) for n in names}
    result = sweep(strategies, items, budgets, args.out, judges, codec=tts.codec,
                   system=_system(args, verifier=args.verifier,
                                  settings={k: v for k, v in vars(settings).items()}))
    print((args.out / "sweep.md").read_text())
    for key, path in result["plots"].items():
        print(f"plot {key}: {path}")
    return 0


def run_gate(args) -> int:
    from ..eval.gate import gate_runs, markdown, to_json

    gates = gate_runs(args.reference, args.candidate)
    print(markdown(gates, args.name), end="")
    verdict = to_json(gates)
    if args.json:
        args.json.write_text(json.dumps(verdict, indent=1) + "\n")
    print("gate: " + ("passed" if verdict["passed"] else "FAILED"))
    return 0 if verdict["passed"] else 1


def run_compare(args) -> int:
    from ..eval.report import markdown_compare

    names = [n.strip() for n in args.names.split(",")] if args.names else None
    if names is not None and len(names) != len(args.runs):
        raise InputError(f"--names has {len(names)} names for {len(args.runs)} runs")
    summaries = {}
    for i, run in enumerate(args.runs):
        path = run / "summary.json" if run.is_dir() else run
        if not path.is_file():
            raise InputError(f"no summary.json in {run}")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise InputError(f"{path} is not valid JSON ({e})") from None
        if "metrics" not in data:
            raise InputError(f"{path} is not a llasa eval summary")
        summaries[names[i] if names else (run.name if run.is_dir() else run.parent.name)] = data
    print(markdown_compare(summaries), end="")
    return 0
