"""Sign in to the dashboard with the admin token, stay signed in by a session cookie, sign out.

The session is Flask's signed cookie (itsdangerous, keyed by `relay.secret_key`), HttpOnly,
SameSite=Lax, path /admin, Secure when the request came over HTTPS (or `public_url` is https),
and it expires `relay.admin_session_minutes` after the sign-in (checked on the server from the
signed time, not only by the browser). It holds a fingerprint of the admin token, so changing the
token signs every session out. Every POST under /admin must carry the session's CSRF token
(Flask-WTF CSRFProtect); failed sign-ins lock the client address out for longer and longer
(relay/web/admin/throttle.py); the token is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta
from typing import Any

from flask import Flask, current_app, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect

from relay.web.admin.blueprint import back_to, bp, page
from relay.web.admin.throttle import SignInThrottle
from relay.web.context import settings_of
from relay.web.languages import gettext as _

SESSION_KEY = "admin"
THROTTLE = "relay.admin.throttle"
OPEN_ENDPOINTS = frozenset({"admin.sign_in", "admin.sign_in_form"})
csrf = CSRFProtect()


class AdminSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Return True for an HTTPS request, an https `public_url` or SESSION_COOKIE_SECURE."""
        public_url = settings_of(app).relay.public_url
        return bool(
            request.is_secure or public_url.startswith("https://") or super().get_cookie_secure(app)
        )


def init_app(app: Flask) -> None:
    """Configure the session cookie and CSRF protection (checked on the dashboard's POSTs only)."""
    settings = settings_of(app)
    app.secret_key = settings.relay.secret_key
    app.session_interface = AdminSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME="relay_admin",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/admin",
        SESSION_REFRESH_EACH_REQUEST=False,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.relay.admin_session_minutes),
        # the storefront hooks and JSON APIs have no forms: the dashboard checks its own POSTs
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as the session that holds it
    )
    csrf.init_app(app)
    app.extensions.setdefault(THROTTLE, SignInThrottle())


def throttle_of(app: Flask) -> SignInThrottle:
    """Return the app's sign-in throttle (tests may replace it with one on their own clock)."""
    throttle: SignInThrottle = app.extensions[THROTTLE]
    return throttle


def _fingerprint(token: str) -> str:
    key = settings_of(current_app).relay.secret_key.encode()
    return hmac.new(key, b"relay.admin.session:" + token.encode(), hashlib.sha256).hexdigest()


def token_matches(typed: str) -> bool:
    """Tell whether `typed` is the admin token, in constant time (digests of equal length)."""
    expected = settings_of(current_app).relay.admin_token
    if not expected:
        return False
    return hmac.compare_digest(
        hashlib.sha256(typed.encode()).digest(), hashlib.sha256(expected.encode()).digest()
    )


def signed_in() -> bool:
    """Tell whether the request's session is a live dashboard sign-in."""
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return False
    since, fingerprint = data.get("since"), data.get("token")
    if not isinstance(since, int | float) or not isinstance(fingerprint, str):
        return False
    lifetime = settings_of(current_app).relay.admin_session_minutes * 60
    current = _fingerprint(settings_of(current_app).relay.admin_token)
    return 0 <= time.time() - since < lifetime and hmac.compare_digest(fingerprint, current)


@bp.context_processor
def _signed_in() -> dict[str, bool]:
    return {"signed_in": signed_in()}


@bp.before_request
def guard() -> Any:
    """Check the CSRF token of every POST, then send a visitor who is not signed in to sign in."""
    if request.method == "POST":
        csrf.protect()
    if request.endpoint in OPEN_ENDPOINTS or signed_in():
        return None
    if request.method == "POST":
        return page("sign_in.html", 401, error=_("Your session has ended. Please sign in again."))
    return redirect(url_for("admin.sign_in_form", next=request.full_path.rstrip("?")))


@bp.errorhandler(CSRFError)
def csrf_refused(exc: CSRFError) -> Any:
    """Answer a form without a valid CSRF token with a page that says so (400)."""
    return page(
        "error.html", 400, message=_("The form had expired. Reload the page and try again.")
    )


@bp.get("/sign-in")
def sign_in_form() -> Any:
    """Show the sign-in form (or go on to the dashboard when already signed in)."""
    if signed_in():
        return redirect(back_to(url_for("admin.overview")))
    return page("sign_in.html", next=back_to(""))


@bp.post("/sign-in")
def sign_in() -> Any:
    """Sign in with the admin token; refuse it (401), or a locked-out address (429)."""
    throttle = throttle_of(current_app)
    address = request.remote_addr or "unknown"
    wait = throttle.wait_seconds(address)
    if wait:
        message = _("Too many failed sign-ins. Try again in %(seconds)s seconds.", seconds=wait)
        html, status, headers = page("sign_in.html", 429, error=message, next=back_to(""))
        return html, status, headers | {"Retry-After": str(wait)}
    if not token_matches(request.form.get("token", "")):
        throttle.failed(address)
        return page("sign_in.html", 401, error=_("That is not the admin token."), next=back_to(""))
    throttle.succeeded(address)
    session.clear()  # a fresh session (and CSRF token) for the signed-in merchant
    session.permanent = True
    session[SESSION_KEY] = {
        "since": int(time.time()),
        "token": _fingerprint(settings_of(current_app).relay.admin_token),
    }
    return redirect(back_to(url_for("admin.overview")), 303)


@bp.post("/sign-out")
def sign_out() -> Any:
    """End the session and show the sign-in form."""
    session.clear()
    return page("sign_in.html", notice=_("You are signed out."))
