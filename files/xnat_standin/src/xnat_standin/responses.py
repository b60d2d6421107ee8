"""XNAT's error conventions (contract §2.0): status from the exception type, text/plain body."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

BASIC_REALM = 'Basic realm="XNAT"'


class XnatErrorResponse(Exception):
    """An error answer XNAT sends: this status and a plain-text message; app.xnat_errors writes it."""

    status = 500

    def __init__(self, message: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class NotAuthenticated(XnatErrorResponse):
    status = 401


class InsufficientPrivileges(XnatErrorResponse):
    status = 403


class NotFound(XnatErrorResponse):
    status = 404


class AlreadyExists(XnatErrorResponse):
    status = 409


class DataFormatError(XnatErrorResponse):
    status = 400


class IllegalArgument(XnatErrorResponse):
    """XNAT maps IllegalArgumentException to 500, not 400 (contract §2.0, defect 22)."""

    status = 500


def text_error(status: int, message: str) -> web.Response:
    response = web.Response(status=status, text=message, content_type="text/plain")
    if status == 401:
        response.headers["WWW-Authenticate"] = BASIC_REALM
    return response


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(data, separators=(",", ":")),
        content_type="application/json",
    )


def empty(status: int = 200) -> web.Response:
    return web.Response(status=status)


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; unreadable JSON is a 400, as with Spring's message converters."""
    raw = await request.read()
    try:
        return json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"JSON parse error: {exc}") from exc


async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The request body as a form; one that does not parse as the form it claims to be (a broken multipart
    body, bytes that are not the charset's) is a 400, not an unhandled error."""
    try:
        return await request.post()
    except (ValueError, HttpProcessingError) as exc:
        raise DataFormatError(f"The form could not be read: {exc}") from exc


async def read_json_of(request: web.Request, kind: type, what: str) -> Any:
    body = await read_json(request)
    if not isinstance(body, kind):
        raise DataFormatError(f"JSON parse error: expected {what}")
    return body
