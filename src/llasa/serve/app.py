"""``create_app(engine, settings)``: the FastAPI application around one injected engine.

Routes: ``/`` (web page), ``/health``, ``/v1/models``, ``/v1/audio/speech``,
``/v1/voices`` (see :mod:`.openai_routes`, :mod:`.voice_routes`). One model worker thread
serves all model work through a bounded queue (:mod:`.worker`), started and stopped with the
app's lifespan. With ``settings.api_key`` set, every ``/v1`` route needs
``Authorization: Bearer <key>`` (what the OpenAI client sends) or ``X-API-Key: <key>``.
"""

from __future__ import annotations

import hmac
import time
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

from .. import __version__
from . import http_errors, openai_routes, voice_routes
from .config import ServeSettings
from .continuous import make_worker

_STATIC = {"app.js": "text/javascript", "style.css": "text/css"}


def _static(name: str) -> str:
    return resources.files("llasa.serve").joinpath("static", name).read_text()


# The API description lists every route and field: with a key set it is not public either.
_API_DOC_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")


class ApiKeyMiddleware:
    """Pure ASGI check of the API key on ``/v1`` routes (a pure middleware keeps streaming and
    disconnect detection intact, which ``BaseHTTPMiddleware`` wrappers can break)."""

    def __init__(self, app, key: str):
        self.app, self.key = app, key.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and (scope["path"].startswith("/v1")
                                        or scope["path"] in _API_DOC_PATHS):
            h = {k.decode("latin-1").lower(): v.decode("latin-1")
                 for k, v in scope.get("headers", [])}
            auth = h.get("authorization", "")
            given = auth[7:] if auth.lower().startswith("bearer ") else h.get("x-api-key", "")
            if not hmac.compare_digest(given.encode(), self.key):
                resp = http_errors.error_response(
                    401, "missing or wrong API key: send 'Authorization: Bearer <key>'",
                    type="authentication_error", code="invalid_api_key")
                await resp(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(engine: Any, settings: ServeSettings | None = None) -> FastAPI:
    """Build the app.

    Args:
        engine: a :class:`llasa.serve.engine.LlasaEngine` (or anything with its methods).
        settings: limits and switches; defaults to :class:`ServeSettings()`.

    Returns:
        A FastAPI app; run it with ``uvicorn.run(app)`` or ``llasa serve``.
    """
    settings = settings or getattr(engine, "settings", None) or ServeSettings()
    worker = make_worker(engine, settings)  # continuous batching unless settings say "batch"

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        worker.start()
        try:
            yield
        finally:
            worker.stop()

    app = FastAPI(title="llasa", version=__version__, lifespan=lifespan,
                  description="Llasa text-to-speech: OpenAI-compatible speech, voices, scores.")
    app.state.engine, app.state.settings, app.state.worker = engine, settings, worker
    app.state.started = time.time()
    http_errors.install(app)

    if settings.api_key:
        app.add_middleware(ApiKeyMiddleware, key=settings.api_key)

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": settings.model_id, "version": __version__,
                "sample_rate": engine.sample_rate, "queued": worker.queued,
                "busy": bool(worker.stats["running"]), "cancelled": worker.stats["cancelled"],
                "max_queue": settings.max_queue, "uptime_seconds": round(
                    time.time() - app.state.started, 1), "worker": dict(worker.stats),
                "auth": bool(settings.api_key)}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index():
        return HTMLResponse(_static("index.html"))

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str):
        if name not in _STATIC:  # fixed list: nothing else on disk is reachable
            raise http_errors.ApiError(404, f"no static file {name!r}", code="not_found")
        return Response(_static(name), media_type=_STATIC[name])

    @app.get("/v1/config", include_in_schema=False)
    async def config():
        """What the web page needs to build its form."""
        return {"model": settings.model_id, "verifiers": list(settings.verifiers),
                "default_verifiers": list(settings.default_verifiers),
                "max_input_chars": settings.max_input_chars,
                "max_new_tokens": settings.max_new_tokens,
                "max_search_candidates": settings.max_search_candidates,
                "max_upload_bytes": settings.max_upload_bytes,
                "max_voice_seconds": settings.max_voice_seconds}

    app.include_router(openai_routes.build_router())
    app.include_router(voice_routes.build_router())
    return app
