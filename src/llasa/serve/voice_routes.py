"""Voice registry over HTTP: ``GET/POST /v1/voices``, ``DELETE /v1/voices/{name}``,
``GET /v1/voices/{name}/audio``.

An upload is ``multipart/form-data`` with ``name``, ``file`` (WAV/FLAC/OGG, any rate) and an
optional ``text`` (the transcript; without it the server transcribes the audio). The body is
read with a byte limit before parsing, the audio duration is bounded, and names are checked
against one pattern (letters, digits, ``_``, ``-``), so no name can reach outside the voice
directory. The prompt codes are computed once at upload (on the model worker) and kept.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.requests import Request as StarletteRequest

from ..audio import SAMPLE_RATE, AudioLimits, load_audio
from ..tts.voices import check_voice_name
from .formats import encode_audio
from .http_errors import ApiError, read_body_limited

_FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the text fields


async def _form(request: Request, limit: int):
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "multipart/form-data":
        raise ApiError(415, "upload a voice as multipart/form-data with fields 'name', 'file' "
                       f"and optional 'text' (got Content-Type {ctype or 'none'!r})",
                       code="unsupported_media_type")
    body = await read_body_limited(request, limit + _FORM_OVERHEAD, "upload", "upload_too_large")
    sent = False

    async def receive():  # replay the bounded body to the multipart parser
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        return await StarletteRequest(request.scope, receive).form(max_files=1, max_fields=8)
    except Exception as e:  # noqa: BLE001 - malformed multipart has many shapes
        raise ApiError(400, f"malformed multipart upload: {e}", code="invalid_form") from None


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/voices")
    async def list_voices(request: Request):
        return {"object": "list", "data": request.app.state.engine.list_voices()}

    @router.post("/v1/voices", status_code=201)
    async def add_voice(request: Request):
        state = request.app.state
        settings, engine, worker = state.settings, state.engine, state.worker
        form = await _form(request, settings.max_upload_bytes)
        name = form.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "missing form field 'name'", param="name")
        try:
            check_voice_name(name)
        except Exception as e:  # InputError with the naming rule
            raise ApiError(400, str(e), param="name", code="invalid_name") from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "missing file field 'file' (the prompt audio)", param="file")
        data = await upload.read()
        if len(data) > settings.max_upload_bytes:
            raise ApiError(413, f"audio file is {len(data)} bytes; the limit is "
                           f"{settings.max_upload_bytes}", code="upload_too_large")
        text = form.get("text")
        if text is not None and not isinstance(text, str):
            raise ApiError(400, "form field 'text' must be text", param="text")
        if text is not None and len(text) > settings.max_input_chars:
            raise ApiError(400, "voice transcript is too long", param="text")
        limits = AudioLimits(max_seconds=settings.max_voice_seconds,
                             min_seconds=settings.min_voice_seconds)
        wav = load_audio(data, limits=limits)  # InputError (400) for bad/too long/too short audio

        def run(jobs):
            return [engine.add_voice(name, wav, text)]

        job = worker.submit(run, None)
        return await worker.result(job, settings.request_timeout_s, request.is_disconnected)

    @router.delete("/v1/voices/{name}")
    async def delete_voice(name: str, request: Request):
        request.app.state.engine.delete_voice(name)
        return {"name": name, "deleted": True}

    @router.get("/v1/voices/{name}/audio")
    async def voice_audio(name: str, request: Request):
        engine = request.app.state.engine
        if name == "default" or not engine.has_voice(name):
            raise ApiError(404, f"no voice named {name!r}", code="voice_not_found")
        v = engine.voice(name)
        return Response(encode_audio(v.audio, SAMPLE_RATE, "wav"), media_type="audio/wav")

    return router
