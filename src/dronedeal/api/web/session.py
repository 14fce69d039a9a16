"""The dashboard's login: an API token pasted once becomes a signed session cookie.

The cookie holds the token and an HMAC-SHA256 of it under the app's session secret
(`DRONEDEAL_WEB_SECRET`, else a random secret made when the app starts, so a restart
signs everyone out). It is HttpOnly, SameSite=Lax (a form posted from another site
carries no cookie) and Secure over HTTPS. Every request looks the token up again with
`services.users.authenticate`, so a page has exactly the permissions of the API for
the same user; a cookie whose signature or token fails is treated as no login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from typing import Final

from fastapi import Request, Response

from dronedeal.api.deps import settings
from dronedeal.services import users

COOKIE: Final = "dronedeal_session"
LANG_COOKIE: Final = "dronedeal_lang"
MAX_AGE: Final = 8 * 3600


def app_secret(request: Request) -> bytes:
    """The session secret of this app (made on first use when the env names none)."""
    state = request.app.state
    secret: bytes | None = getattr(state, "web_secret", None)
    if secret is None:
        configured = os.environ.get("DRONEDEAL_WEB_SECRET")
        secret = configured.encode() if configured else secrets.token_bytes(32)
        state.web_secret = secret
    return secret


def _mac(secret: bytes, token: str) -> str:
    digest = hmac.new(secret, b"dronedeal-web-session\n" + token.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def sign(secret: bytes, token: str) -> str:
    encoded = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
    return f"{encoded}.{_mac(secret, token)}"


def unsign(secret: bytes, value: str) -> str | None:
    """The token in a cookie value, or None when it is malformed or its MAC is wrong."""
    encoded, _, mac = value.partition(".")
    if not encoded or not mac or len(value) > 1024:
        return None
    try:
        token = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return token if hmac.compare_digest(mac, _mac(secret, token)) else None


def authenticate(request: Request, token: str) -> users.User | None:
    with settings(request).readers() as session, session.begin():
        return users.authenticate(session, token)


def viewer(request: Request) -> users.User | None:
    """The signed-in user, or None for the public."""
    value = request.cookies.get(COOKIE)
    if value is None:
        return None
    token = unsign(app_secret(request), value)
    return None if token is None else authenticate(request, token)


def start(request: Request, response: Response, token: str) -> None:
    response.set_cookie(COOKIE, sign(app_secret(request), token), max_age=MAX_AGE,
                        httponly=True, samesite="lax", secure=request.url.scheme == "https",
                        path="/")


def end(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def language(request: Request) -> str:
    """`?lang=` when given, else the language cookie, else the browser's first choice."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in ("en", "uk"):
        return asked
    accept = request.headers.get("accept-language", "")
    return "uk" if accept.lower().startswith("uk") else "en"
