"""Every error leaves the server as OpenAI-style JSON: ``{"error": {message, type, code, param}}``.

Bad input is always 4xx: validation, malformed JSON and wrong content type are 400/415,
unknown routes 404, a busy server 429, a slow request 504. 5xx is kept for the server's own
faults (and 503 for a model that cannot load), so a client can tell "fix your request" from
"try again later".
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._common.errors import BudgetError, InputError, LlasaError, ModelLoadError
from .._common.log import get_logger
from .engine import VoiceExists, VoiceNotFound
from .worker import Cancelled, ClientGone, QueueFull, RequestTimeout

log = get_logger(__name__)


class ApiError(Exception):
    """An HTTP error with a user-facing message."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.type = status, message, type
        self.code, self.param, self.headers = code, param, headers


async def read_body_limited(request: Request, limit: int, what: str, code: str) -> bytes:
    """The request body, refused with a 413 ``code`` as soon as it passes ``limit`` bytes
    (by the declared Content-Length, else while streaming it in: nothing larger is buffered)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ApiError(413, f"{what} is {int(length)} bytes; the limit is {limit} bytes",
                       code=code)
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise ApiError(413, f"{what} is over the limit of {limit} bytes", code=code)
    return bytes(body)


def error_response(status: int, message: str, *, type: str = "invalid_request_error",
                   code: str | None = None, param: str | None = None,
                   headers: dict | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": type, "code": code, "param": param}}
    return JSONResponse(body, status_code=status, headers=headers)


def from_exception(e: BaseException) -> JSONResponse:
    """Map any exception to its JSON error response (also used inside streaming routes)."""
    if isinstance(e, ApiError):
        return error_response(e.status, e.message, type=e.type, code=e.code, param=e.param,
                              headers=e.headers)
    if isinstance(e, QueueFull):
        return error_response(429, str(e), type="rate_limit_error", code="queue_full",
                              headers={"Retry-After": "1"})
    if isinstance(e, RequestTimeout):
        return error_response(504, str(e), type="timeout_error", code="timeout")
    if isinstance(e, (Cancelled, ClientGone)):
        return error_response(503, str(e), type="server_error", code="cancelled")
    if isinstance(e, VoiceNotFound):
        return error_response(404, str(e), code="voice_not_found", param="name")
    if isinstance(e, VoiceExists):
        return error_response(409, str(e), code="voice_exists", param="name")
    if isinstance(e, (InputError, BudgetError)):
        return error_response(400, str(e), code="invalid_value")
    if isinstance(e, ModelLoadError):
        return error_response(503, str(e), type="server_error", code="model_unavailable")
    if isinstance(e, LlasaError):
        return error_response(400, str(e))
    log.error("internal error: %r", e, exc_info=e)
    return error_response(500, f"internal server error ({type(e).__name__})",
                          type="server_error", code="internal_error")


def validation_message(errors: list[dict]) -> tuple[str, str | None]:
    """Pydantic errors → one readable sentence and the first offending field."""
    parts, param = [], None
    for err in errors[:5]:
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body",)]
        field = ".".join(loc)
        param = param or field or None
        if err.get("type") == "json_invalid":
            return "request body is not valid JSON", None
        msg = err.get("msg", "invalid value").removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field (see the API docs at /docs for the accepted fields)"
        parts.append(f"{field}: {msg}" if field else msg)
    return "; ".join(parts) or "invalid request", param


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        msg, param = validation_message(exc.errors())
        return error_response(400, msg, param=param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404:
            detail = f"no route {request.method} {request.url.path}"
        return error_response(exc.status_code, detail, code=code)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError):
        return from_exception(exc)

    @app.exception_handler(LlasaError)
    async def _llasa(request: Request, exc: LlasaError):
        return from_exception(exc)

    @app.exception_handler(Exception)
    async def _any(request: Request, exc: Exception):
        return from_exception(exc)
