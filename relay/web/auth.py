"""Check who calls: the operator's bearer admin token, and the bearer token a request carries.

`require_admin` guards every `/api/v1/admin/*` route (relay/web/api.py, relay/web/refunds_api.py);
`bearer_token` reads `Authorization: Bearer <token>` for them and for a store's api_token
(relay/web/storeapi.py). Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac

from flask import current_app, request

from relay.errors import AuthError
from relay.web.context import settings_of

# the most rows one admin listing answers (newest first)
ADMIN_PAGE_LIMIT = 100


def bearer_token() -> str | None:
    """Return the token of the request's `Authorization: Bearer <token>` header, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def require_admin() -> None:
    """Raise AuthError (401) unless the request carries the relay's admin token."""
    token = bearer_token()
    expected = settings_of(current_app).relay.admin_token.encode()
    if token is None or not hmac.compare_digest(token.encode(), expected):
        raise AuthError("admin endpoints need 'Authorization: Bearer <admin_token>'")
