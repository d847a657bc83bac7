"""``POST /v1/audio/speech`` (OpenAI-compatible, plus our extensions) and ``GET /v1/models``.

Non-streaming answers carry the verifier scores and generation facts as JSON in the
``X-Llasa-Scores`` and ``X-Llasa-Info`` headers. Streaming (``"stream": true``) sends WAV or
PCM bytes with chunked transfer as the codec decodes them; ``"stream_format": "sse"`` sends
OpenAI-style server-sent events instead: ``speech.audio.delta`` (base64 PCM16) per chunk and a
final ``speech.audio.done`` event that holds ``scores`` and ``info``. A raw audio stream cannot
carry scores after its body, so clients that need them while streaming use SSE.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError

from .._common.errors import InputError
from ..search import check_search_request
from .engine import DEFAULT_VOICE, SpeechJob, search_config
from .formats import MEDIA_TYPES_STREAM, encode_audio, pcm16, sse_audio_delta, sse_event
from .formats import wav_stream_header
from .http_errors import ApiError, from_exception, read_body_limited, validation_message
from .schemas import MEDIA_TYPES, STREAM_FORMATS, SpeechRequest
from .worker import ClientGone, RequestTimeout

MAX_JSON_BYTES = 1 << 20  # a speech request is text plus a few numbers
MAX_JSON_DEPTH = 16  # our bodies nest 3 levels; pydantic and json both recurse per level
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(body: bytes) -> int:
    """Deepest ``[``/``{`` nesting of a JSON text, without recursion (strings skipped)."""
    import numpy as np

    brackets = np.frombuffer(_JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS),
                             dtype=np.uint8)
    if not brackets.size:
        return 0
    opens = (brackets == ord("[")) | (brackets == ord("{"))
    return int(np.cumsum(np.where(opens, 1, -1)).max())


def _parse_json(body: bytes):
    depth = json_depth(body)
    if depth > MAX_JSON_DEPTH:  # json.loads recurses per level: refuse before it runs
        raise ApiError(400, f"request body nests {depth} levels deep; at most "
                       f"{MAX_JSON_DEPTH} are accepted", code="invalid_json")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, int limit
        raise ApiError(400, f"request body is not valid JSON: {e}", code="invalid_json") from None


async def read_json(request: Request, limit: int = MAX_JSON_BYTES) -> dict:
    """The request body as a JSON object, or a 4xx ApiError saying what is wrong."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(415, f"Content-Type must be application/json, got {ctype or 'none'!r}",
                       code="unsupported_media_type")
    body = await read_body_limited(request, limit, "request body", "body_too_large")
    data = await asyncio.to_thread(_parse_json, body)  # up to 1 MiB: keep the loop free
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object", code="invalid_json")
    return data


def parse_speech(data: dict, app_state) -> tuple[SpeechRequest, SpeechJob]:
    """Validate a speech body against the schema and the server's limits."""
    settings, engine = app_state.settings, app_state.engine
    try:
        req = SpeechRequest.model_validate(data)
    except ValidationError as e:
        msg, param = validation_message(e.errors())
        raise ApiError(400, msg, param=param) from None
    models = (settings.model_id, *settings.model_aliases)
    if req.model not in models:
        raise ApiError(400, f"unknown model {req.model!r}; this server serves {list(models)}",
                       param="model", code="model_not_found")
    if len(req.input) > settings.max_input_chars:
        raise ApiError(400, f"input is {len(req.input)} characters; the limit is "
                       f"{settings.max_input_chars}", param="input", code="input_too_long")
    if (req.max_new_tokens or 0) > settings.max_new_tokens:
        raise ApiError(400, f"max_new_tokens {req.max_new_tokens} is over this server's limit "
                       f"of {settings.max_new_tokens}", param="max_new_tokens")
    fps = engine.frame_rate
    if req.duration is not None and req.duration * fps > settings.max_new_tokens:
        raise ApiError(400, f"duration {req.duration:g} s is over this server's limit of "
                       f"{settings.max_new_tokens / fps:g} s", param="duration")
    name = req.voice_name
    if name != DEFAULT_VOICE and not engine.has_voice(name):
        names = [v["name"] for v in engine.list_voices()]
        raise ApiError(400, f"unknown voice {name!r}; available: {names} (upload one with "
                       "POST /v1/voices)", param="voice", code="voice_not_found")
    if req.streaming:
        fmt_ok = req.response_format in STREAM_FORMATS or req.stream_format == "sse"
        if not fmt_ok:
            raise ApiError(400, f"streaming sends {' or '.join(STREAM_FORMATS)} (or SSE); "
                           f"response_format {req.response_format!r} needs stream=false",
                           param="response_format")
        if req.speed != 1.0:
            raise ApiError(400, "speed other than 1.0 needs stream=false", param="speed")
        if req.search is not None:
            raise ApiError(400, "search ranks whole candidates: it needs stream=false",
                           param="search")
    verifiers = tuple(req.verifiers) if req.verifiers is not None else tuple(
        v for v in settings.default_verifiers if not (v == "sim" and name == DEFAULT_VOICE))
    engine.check_verifiers(verifiers, name)
    search = None
    if req.search is not None:
        s = req.search
        try:  # the library's rules, as the CLI applies them (rows = budget here)
            check_search_request(search_config({**s.model_dump(), "verifiers": ["wer"]}),
                                 duration=req.duration, max_rows=settings.max_search_candidates)
        except InputError as e:
            param = "duration" if req.duration is not None else "search.budget"
            raise ApiError(400, str(e), param=param) from None
        sv = tuple(s.verifiers) if s.verifiers else verifiers
        if not sv:
            raise ApiError(400, "search needs at least one verifier (search.verifiers)",
                           param="search.verifiers")
        engine.check_verifiers(sv, name)
        search = {**s.model_dump(), "verifiers": list(sv)}
    job = SpeechJob(text=req.input, voice=name, sampling=req.sampling(), duration=req.duration,
                    speed=req.speed, verifiers=verifiers, search=search)
    return req, job


def _check_sampling(job: SpeechJob) -> None:
    """Let the LM's own settings class judge value combinations (InputError → 400)."""
    try:
        from ..tts import GenerationSettings  # re-exported by the pipeline when present
    except ImportError:
        return
    keys = {k: v for k, v in job.sampling.items()}
    GenerationSettings(**keys)


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/models")
    async def models(request: Request):
        s = request.app.state.settings
        data = [{"id": s.model_id, "object": "model", "owned_by": "llasa", "created": 0}]
        data += [{"id": a, "object": "model", "owned_by": "llasa", "created": 0,
                  "alias_of": s.model_id} for a in s.model_aliases]
        return {"object": "list", "data": data}

    @router.post("/v1/audio/speech")
    async def speech(request: Request):
        state = request.app.state
        req, job = parse_speech(await read_json(request), state)
        _check_sampling(job)
        if req.streaming:
            return await _stream(request, req, job)
        worker, engine = state.worker, state.engine

        def run(jobs):
            # one stop flag per client: a gone (or timed-out) client's rows leave the batch
            return engine.synthesize([j.payload for j in jobs],
                                     should_stop=[j.cancelled for j in jobs])

        j = worker.submit(run, job, key=job.batch_key())
        out = await worker.result(j, state.settings.request_timeout_s, request.is_disconnected)
        body = encode_audio(out.audio, out.sample_rate, req.response_format)
        info = {**out.info, "queue_seconds": round((j.started or j.submitted) - j.submitted, 4)}
        headers = {"X-Llasa-Scores": json.dumps(out.scores), "X-Llasa-Info": json.dumps(info),
                   "X-Sample-Rate": str(out.sample_rate)}
        return Response(body, media_type=MEDIA_TYPES[req.response_format], headers=headers)

    return router


async def _next(j, deadline: float, is_disconnected=None):
    """The next streamed chunk, or None once the job's result is in (errors are raised)."""
    while True:
        if not j.chunks.empty():
            return j.chunks.get_nowait()
        if j.future.done():
            j.future.result()  # raises the job's error, if any
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise RequestTimeout("stream ran past the server's per-request time limit")
        get = asyncio.ensure_future(j.chunks.get())
        done, _ = await asyncio.wait({get, j.future}, timeout=min(left, 0.5),
                                     return_when=asyncio.FIRST_COMPLETED)
        if get in done:
            return get.result()
        get.cancel()
        if is_disconnected is not None and not done and await is_disconnected():
            raise ClientGone("client disconnected")


async def _stream(request: Request, req: SpeechRequest, job: SpeechJob):
    state = request.app.state
    worker, engine, timeout = state.worker, state.engine, state.settings.request_timeout_s

    def run(jobs):
        j = jobs[0]
        return [engine.stream(j.payload, j.emit, j.check, should_stop=j.cancelled)]

    j = worker.submit(run, job, key=None, stream=True)
    deadline = j.submitted + timeout
    sse = req.stream_format == "sse"
    sr = engine.sample_rate
    try:
        # Wait for the first decoded chunk before answering, so that errors raised before any
        # audio exists (bad settings, queue timeout) still get a proper 4xx/5xx status.
        first = await _next(j, deadline, request.is_disconnected)
    except BaseException:
        worker.withdraw(j)
        raise

    def encode(chunk):
        return sse_audio_delta(chunk) if sse else pcm16(chunk)

    async def body():
        try:
            if not sse and req.response_format == "wav":
                yield wav_stream_header(sr)
            chunk = first
            while chunk is not None:
                yield encode(chunk)
                chunk = await _next(j, deadline)
            out = j.future.result()
            if sse:
                yield sse_event({"type": "speech.audio.done", "scores": out.scores,
                                 "info": out.info, "sample_rate": sr,
                                 "usage": {"output_seconds": out.info.get("seconds")}})
        except Exception as e:  # noqa: BLE001 - the status line is gone: report in the stream
            if not sse:
                raise  # uvicorn then drops the connection: the client sees an incomplete body
            yield sse_event({"type": "error", **json.loads(from_exception(e).body)})
        finally:
            worker.withdraw(j)  # client gone or finished: stop generating (no-op when done)

    media = "text/event-stream" if sse else MEDIA_TYPES_STREAM[req.response_format]
    headers = {"X-Sample-Rate": str(sr), "Cache-Control": "no-store"}
    return StreamingResponse(body(), media_type=media, headers=headers)
