"""`GET /api/v1/openapi.json`: the OpenAPI 3.1 description of every JSON route.

The description is `relay/web/openapi.json`, checked in and shipped as package data; it is the
contract, written by hand beside the routes. tests/test_openapi.py fuzzes a live relay against
it and checks that it names every JSON route of the app, so a new route must be described there.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from flask import Blueprint, Response

bp = Blueprint("openapi", __name__)
DOCUMENT = "openapi.json"


@cache
def document() -> bytes:
    """Return the description's bytes (UTF-8 JSON), read once from the package."""
    return files("relay.web").joinpath(DOCUMENT).read_bytes()


@bp.get("/api/v1/openapi.json")
def openapi() -> Response:
    """Answer the OpenAPI description."""
    return Response(document(), mimetype="application/json")
