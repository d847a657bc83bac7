"""``llasa serve``: the HTTP server (OpenAI-compatible speech, voices, scores, web page)."""

from __future__ import annotations

import argparse

EXAMPLE = """examples:
  llasa serve --lm HKUSTAudio/Llasa-1B --codec HKUSTAudio/xcodec2 --port 8000
  llasa serve --lm ./my-lm --codec ./my-codec --api-key "$LLASA_API_KEY" --data-dir ./voices
then open http://127.0.0.1:8000/ or:
  curl -s http://127.0.0.1:8000/v1/audio/speech -H 'Content-Type: application/json' \\
       -d '{"model": "llasa", "input": "Hello.", "voice": "default"}' -o hello.wav
"""


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the HTTP server and web page",
                       description=__doc__, epilog=EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--lm", default=None, help="LM hub id or directory (default: shipped model)")
    p.add_argument("--codec", default=None, help="codec hub id or directory (default: shipped)")
    p.add_argument("--device", default=None, help="cpu | cuda | auto")
    p.add_argument("--dtype", default=None, help="LM dtype: auto | fp32 | bf16 | fp16")
    p.add_argument("--quant", choices=["int8", "int4"],
                   help="LM weights quantized for CPU decoding (see llasa quantize)")
    p.add_argument("--api-key", default=None,
                   help="require 'Authorization: Bearer KEY' on /v1 routes")
    p.add_argument("--data-dir", default="llasa-data", help="where uploaded voices are stored")
    p.add_argument("--model-id", default="llasa", help="model name listed by /v1/models")
    p.add_argument("--max-queue", type=int, default=16,
                   help="requests allowed to wait; more are answered 429 at once")
    p.add_argument("--max-batch", type=int, default=4,
                   help="requests decoded together (continuous: rows of the running batch)")
    p.add_argument("--scheduler", choices=["continuous", "batch"], default="continuous",
                   help="continuous: requests join the running batch between decoding steps; "
                        "batch: one job or batch of compatible requests at a time")
    p.add_argument("--codec-every", type=int, default=1,
                   help="continuous: decode stream windows every N steps so that streams "
                        "share codec calls (up to N-1 tokens of added latency)")
    p.add_argument("--first-chunk", type=int, default=0,
                   help="continuous: a stream's first audio after N codes + the crossfade "
                        "(0: standard windows, 75 codes)")
    p.add_argument("--timeout", type=float, default=120.0, help="per-request limit in seconds")
    p.add_argument("--max-new-tokens", type=int, default=1500,
                   help="cap on speech tokens per request (50 = 1 s)")
    p.add_argument("--verifiers", default="sim,wer,cer,mos,distillmos",
                   help="comma-separated verifiers requests may ask for")
    p.add_argument("--default-verifiers", default="",
                   help="comma-separated verifiers scored on every response (e.g. 'mos')")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=run)


def _names(s: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in s.split(",") if x.strip())


def run(args) -> int:
    from .._common.errors import InputError
    from ..serve import ServeSettings, create_app, load_engine

    if not 0 <= args.port <= 65535:  # uvicorn would fail after the models load
        raise InputError(f"--port must be in 0..65535, got {args.port}")
    settings = ServeSettings(
        data_dir=args.data_dir, model_id=args.model_id, api_key=args.api_key,
        max_queue=args.max_queue, max_batch=args.max_batch, request_timeout_s=args.timeout,
        scheduler=args.scheduler, codec_every=args.codec_every,
        stream_first_chunk=args.first_chunk,
        max_new_tokens=args.max_new_tokens, verifiers=_names(args.verifiers),
        default_verifiers=_names(args.default_verifiers))
    engine = load_engine(args.lm, args.codec, settings, device=args.device, dtype=args.dtype,
                         quant=args.quant)
    app = create_app(engine, settings)
    import uvicorn

    print(f"llasa: serving {settings.model_id} on http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
