"""The dashboard's sign-in: the admin token, the session cookie, CSRF on every form, sign-out,
and failed sign-ins locked out for longer and longer (relay/web/admin/session.py, throttle.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask

from relay.config import parse_settings
from relay.db import Database
from relay.web.admin.session import SESSION_KEY, THROTTLE
from relay.web.admin.throttle import SignInThrottle, lockout_seconds
from relay.web.app import create_app
from tests.conftest import ADMIN_TOKEN, config_dict, make_settings
from tests.support import admin_client, csrf_token_of


@pytest.fixture
def app(db: Database) -> Flask:
    return create_app(make_settings(rpc_url="http://127.0.0.1:9"), db)


class Clock:
    """A monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def signed_in_ago(client: Any, seconds: int) -> None:
    """Move the session's sign-in time `seconds` into the past (the cookie stays signed)."""
    with client.session_transaction("/admin") as session:
        session[SESSION_KEY] = session[SESSION_KEY] | {"since": int(time.time()) - seconds}


def sign_in(client: Any, token: str, **extra: Any) -> Any:
    form = client.get("/admin/sign-in", **extra).get_data(as_text=True)
    return client.post(
        "/admin/sign-in", data={"token": token, "csrf_token": csrf_token_of(form)}, **extra
    )


def test_the_dashboard_asks_for_the_admin_token_first(app: Flask) -> None:
    client = app.test_client()
    answer = client.get("/admin/invoices?status=new")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/admin/sign-in?next=/admin/invoices?status%3Dnew"
    form = client.get(answer.headers["Location"])
    html = form.get_data(as_text=True)
    assert form.status_code == 200
    assert '<label for="token">Admin token</label>' in html
    assert '<button class="button primary" type="submit">Sign in</button>' in html
    assert "script-src" not in form.headers["Content-Security-Policy"]  # no script at all
    assert form.headers["Cache-Control"] == "no-store"
    # the right token goes on to the page first asked for
    html_next = 'name="next" value="/admin/invoices?status=new"'
    assert html_next in html
    answer = client.post(
        "/admin/sign-in",
        data={
            "token": ADMIN_TOKEN,
            "csrf_token": csrf_token_of(html),
            "next": "/admin/invoices?status=new",
        },
    )
    assert (answer.status_code, answer.headers["Location"]) == (303, "/admin/invoices?status=new")
    assert client.get("/admin/invoices?status=new").status_code == 200


def test_the_session_cookie_is_signed_httponly_lax_and_expires(app: Flask) -> None:
    client = app.test_client()
    answer = sign_in(client, ADMIN_TOKEN)
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("relay_admin=")
    for flag in ("HttpOnly", "SameSite=Lax", "Path=/admin", "Expires="):
        assert flag in cookie
    assert "Secure" not in cookie  # plain HTTP on 127.0.0.1: a Secure cookie would never return
    # over HTTPS the cookie is Secure
    secure = app.test_client()
    referer = {"Referer": "https://relay.example/admin/sign-in"}  # Flask-WTF asks over HTTPS
    answer = sign_in(secure, ADMIN_TOKEN, base_url="https://relay.example", headers=referer)
    assert "; Secure" in answer.headers["Set-Cookie"]
    # a cookie someone wrote by hand is not signed: no way in
    forged = app.test_client()
    forged.set_cookie("relay_admin", '{"admin": {"since": 9999999999}}', path="/admin")
    assert forged.get("/admin").status_code == 302
    # the sign-in ends after relay.admin_session_minutes (480 by default)
    signed_in_ago(client, 480 * 60 + 1)
    assert client.get("/admin").status_code == 302


def test_a_new_admin_token_signs_every_session_out(db: Database) -> None:
    data = config_dict(rpc_url="http://127.0.0.1:9")
    client = admin_client(create_app(parse_settings(data, env={}), db))
    data["relay"]["admin_token"] = "another-admin-token-0123456789"
    moved = create_app(parse_settings(data, env={}), db).test_client()
    with client.session_transaction("/admin") as old, moved.session_transaction("/admin") as new:
        new.update(old)
    assert client.get("/admin").status_code == 200
    assert moved.get("/admin").status_code == 302


def test_the_session_lifetime_is_a_config_key(db: Database) -> None:
    data = config_dict(rpc_url="http://127.0.0.1:9")
    data["relay"]["admin_session_minutes"] = 5
    client = admin_client(create_app(parse_settings(data, env={}), db))
    signed_in_ago(client, 4 * 60)
    assert client.get("/admin").status_code == 200
    signed_in_ago(client, 5 * 60 + 1)
    assert client.get("/admin").status_code == 302
    data["relay"]["admin_session_minutes"] = 0
    with pytest.raises(Exception, match="admin_session_minutes"):
        parse_settings(data, env={})


def test_a_wrong_token_is_refused_and_guessing_is_slowed_down(app: Flask) -> None:
    clock = Clock()
    app.extensions[THROTTLE] = SignInThrottle(clock)
    client = app.test_client()
    for _ in range(2):
        answer = sign_in(client, "not-the-admin-token")
        assert answer.status_code == 401
        assert "That is not the admin token." in answer.get_data(as_text=True)
    assert client.get("/admin").status_code == 302  # still signed out
    assert sign_in(client, ADMIN_TOKEN[:-1]).status_code == 401  # the third: locked for 2 s
    locked = sign_in(client, ADMIN_TOKEN)  # even the right token waits: it is not looked at
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "2"
    assert "Try again in 2 seconds" in locked.get_data(as_text=True)
    # another address is not locked out
    other = app.test_client()
    assert sign_in(other, ADMIN_TOKEN, environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 303
    clock.now += 2
    assert sign_in(client, "wrong-again").status_code == 401  # the fourth: 4 s
    clock.now += 3
    assert sign_in(client, ADMIN_TOKEN).status_code == 429
    clock.now += 1
    assert sign_in(client, ADMIN_TOKEN).status_code == 303
    # a success forgets the failures
    client.post("/admin/sign-out", data={"csrf_token": csrf_token_of(client.get("/admin").text)})
    assert sign_in(client, "wrong").status_code == 401
    assert sign_in(client, ADMIN_TOKEN).status_code == 303


def test_lockouts_grow_and_stop_growing() -> None:
    assert [lockout_seconds(n) for n in range(1, 8)] == [0, 0, 2, 4, 8, 16, 32]
    assert lockout_seconds(50) == 300


def test_every_form_needs_the_csrf_token(app: Flask) -> None:
    client = app.test_client()
    client.get("/admin/sign-in")
    refused = client.post("/admin/sign-in", data={"token": ADMIN_TOKEN})
    assert refused.status_code == 400
    assert "The form had expired" in refused.get_data(as_text=True)
    assert client.get("/admin").status_code == 302
    signed = admin_client(app)
    assert signed.post("/admin/sign-out").status_code == 400
    bad = signed.post("/admin/sign-out", data={"csrf_token": "forged"})
    assert bad.status_code == 400
    assert signed.get("/admin").status_code == 200  # still signed in
    # a token from another session is no good either
    stranger = app.test_client()
    token = csrf_token_of(stranger.get("/admin/sign-in").text)
    assert signed.post("/admin/sign-out", data={"csrf_token": token}).status_code == 400


def test_sign_out_ends_the_session(app: Flask) -> None:
    client = admin_client(app)
    page = client.get("/admin").get_data(as_text=True)
    assert ">Sign out</button>" in page
    answer = client.post("/admin/sign-out", data={"csrf_token": csrf_token_of(page)})
    assert answer.status_code == 200
    assert "You are signed out." in answer.get_data(as_text=True)
    assert client.get("/admin").status_code == 302


def test_the_json_api_and_hooks_need_no_csrf_token(app: Flask) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    answer = app.test_client().post("/api/v1/admin/deliveries/1/redeliver", headers=headers)
    assert answer.status_code == 404  # reached the view: no such delivery, not a CSRF refusal
