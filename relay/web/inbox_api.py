"""The operator's view of the inbox: list rows (dead letters first of all) and put one back.

`GET /api/v1/admin/inbox?status=dead` lists rows newest first (relay/dead_letters.py
`inbox_json`); `POST /api/v1/admin/inbox/<id>/retry` queues a dead letter again, due at once
(202 with the row), after the cause was fixed. Bearer admin token; errors in the relay's JSON
shape: 400 for an unknown status, 404 for an id that is no row, 409 for a row that is not dead,
422 for a kept spool line that still cannot be read.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from relay.dead_letters import list_rows, retry, row_id_of
from relay.models import utcnow
from relay.web.auth import ADMIN_PAGE_LIMIT, require_admin
from relay.web.context import db_of, inbox_of

bp = Blueprint("inbox_api", __name__)


@bp.get("/api/v1/admin/inbox")
def list_inbox() -> Any:
    """List inbox rows, newest first, optionally by status (bearer admin token)."""
    require_admin()
    rows = list_rows(db_of(current_app), request.args.get("status"), ADMIN_PAGE_LIMIT)
    return jsonify({"inbox": rows})


@bp.post("/api/v1/admin/inbox/<row_id>/retry")
def retry_row(row_id: str) -> Any:
    """Queue a dead letter again, due now (bearer admin token)."""
    require_admin()
    row = retry(db_of(current_app), row_id_of(row_id), utcnow())
    inbox_of(current_app).wake()
    return jsonify(row), 202
