"""Answer every error as `{"error": {"code", "message"}}` with its HTTP status; never a traceback.

A RelayError answers its own `code` and `http_status` (relay/errors.py); an HTTP error of Flask
or werkzeug (404 route, 405, 413 body too large, …) its name in snake case, with its headers
(a 405's `Allow`); anything else a 500 that points at the relay's log, where the traceback goes.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from relay.errors import RelayError

log = logging.getLogger(__name__)


def error_body(code: str, message: str) -> dict[str, Any]:
    """Return the relay's error shape `{"error": {"code", "message"}}`."""
    return {"error": {"code": code, "message": message}}


def init_app(app: Flask) -> None:
    """Register the error handlers on the app."""

    @app.errorhandler(RelayError)
    def _relay_error(exc: RelayError) -> Any:
        return jsonify(error_body(exc.code, exc.message)), exc.http_status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        code = (exc.name or "error").lower().replace(" ", "_")
        # keep werkzeug's own headers (a 405's `Allow`, RFC 9110), not its HTML content type
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return jsonify(error_body(code, exc.description or "")), exc.code or 500, headers

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled error")
        return jsonify(error_body("internal_error", "internal error; see the relay's log")), 500
