"""Project-token and API-key authentication [documented statuses and messages].

Order of checks [inferred]: the project token first (keys belong to a project), then the
``Authorization`` header. A key that exists but is not a member of the project is "access key
not found"; a public token on a private-only endpoint is ``401`` [inferred].
"""

from __future__ import annotations

import hmac

from aiohttp import BasicAuth, web

from sandbox.bloomreach.config import ApiKey
from sandbox.bloomreach.responses import ApiError, error_body
from sandbox.bloomreach.state import EmulatorState
from sandbox.bloomreach.store import ProjectStore

COULD_NOT_AUTHENTICATE = "Could not authenticate"
NOT_PROVIDED = "Access key not provided"
NOT_FOUND = "access key not found"
INVALID_SECRET = "invalid secret"  # noqa: S105 - an error message, not a secret
PUBLIC_NOT_ALLOWED = "Public access is not allowed for this endpoint"  # [inferred] text


def _credentials(request: web.Request) -> tuple[str, str | None]:
    """``(key_id, secret)`` for Basic, ``(token, None)`` for public Token auth."""
    header = request.headers.get("Authorization")
    if header is None:
        token = request.query.get("access_token")
        if token:
            return token, None
        raise ApiError(error_body(401, NOT_PROVIDED))
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "basic" and value:
        try:
            # ValueError covers bad base64, bytes that are not UTF-8 and a missing colon.
            credentials = BasicAuth.decode(f"basic {value}", encoding="utf-8")
        except ValueError as exc:
            raise ApiError(error_body(401, NOT_PROVIDED)) from exc
        if not credentials.login:
            raise ApiError(error_body(401, NOT_PROVIDED))
        return credentials.login, credentials.password
    if scheme == "token" and value:
        return value, None
    raise ApiError(error_body(401, NOT_PROVIDED))


def authorize(
    request: web.Request, state: EmulatorState, *, public_ok: bool
) -> tuple[ProjectStore, ApiKey]:
    store = state.projects.get(request.match_info["token"])
    if store is None:
        raise ApiError(error_body(400, COULD_NOT_AUTHENTICATE))
    key_id, secret = _credentials(request)
    key = state.keys.get(key_id)
    if key is None or key.public != (secret is None) or not key.may_use(store.config.token):
        raise ApiError(error_body(401, NOT_FOUND))
    if secret is not None and not hmac.compare_digest(secret.encode(), (key.secret or "").encode()):
        raise ApiError(error_body(403, INVALID_SECRET))
    if key.public and not public_ok:
        raise ApiError(error_body(401, PUBLIC_NOT_ALLOWED))
    return store, key
