"""The dashboard's login: an API token pasted once becomes a signed session cookie.

The cookie holds the token and an HMAC-SHA256 of it under the app's session secret
(`DRONEDEAL_WEB_SECRET`, else a random secret made when the app starts, so a restart
signs everyone out). It is HttpOnly, SameSite=Lax (a form posted from another site
carries no cookie) and Secure over HTTPS. Every request looks the token up again with
`services.users.authenticate`, so a page has exactly the permissions of the API for
the same user; a cookie whose signature or token fails is treated as no login.

Every form that changes something (log in, log out, import) carries a CSRF token in a
hidden field: an HMAC under the same secret of a random nonce kept in its own cookie
(`dronedeal_csrf`) and of the session cookie, so the token changes when the visitor
logs in or out and a page of another site can neither read nor compute it. A POST
whose token is missing or wrong is refused before anything is read or written.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from typing import Final

from fastapi import Request, Response

from dronedeal.api.deps import settings
from dronedeal.services import users

COOKIE: Final = "dronedeal_session"
LANG_COOKIE: Final = "dronedeal_lang"
CSRF_COOKIE: Final = "dronedeal_csrf"
#: the hidden form field that carries the CSRF token
CSRF_FIELD: Final = "csrf_token"
MAX_AGE: Final = 8 * 3600
#: a CSRF nonce: 32 random bytes in base64url
NONCE: Final = re.compile(r"[A-Za-z0-9_-]{43}")


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


def _csrf_nonce(request: Request) -> str | None:
    value = request.cookies.get(CSRF_COOKIE)
    return value if value is not None and NONCE.fullmatch(value) else None


def _csrf_mac(secret: bytes, nonce: str, session_value: str) -> str:
    message = f"dronedeal-web-csrf\n{nonce}\n{session_value}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_token(request: Request) -> tuple[str, str | None]:
    """The token this visitor's forms carry, and a new nonce to set as the CSRF cookie
    (None when the request already holds a well-formed one)."""
    nonce = _csrf_nonce(request)
    fresh = None
    if nonce is None:
        nonce = fresh = secrets.token_urlsafe(32)
    assert NONCE.fullmatch(nonce), "a nonce is 32 bytes in base64url"
    return _csrf_mac(app_secret(request), nonce, request.cookies.get(COOKIE, "")), fresh


def set_csrf_cookie(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


def csrf_valid(request: Request, submitted: object) -> bool:
    """Whether `submitted` (a form field's value) is this visitor's CSRF token,
    compared in constant time."""
    nonce = _csrf_nonce(request)
    if nonce is None or not isinstance(submitted, str) or not submitted:
        return False
    expected = _csrf_mac(app_secret(request), nonce, request.cookies.get(COOKIE, ""))
    return hmac.compare_digest(submitted.encode(), expected.encode())
