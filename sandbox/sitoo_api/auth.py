"""HTTP Basic authentication with a Sitoo API id (``{accountid}-{n}``) and password."""

from __future__ import annotations

import hmac

from aiohttp import BasicAuth, web

from sandbox.sitoo_api.config import SitooAccount, SitooApiConfig
from sandbox.sitoo_api.errors import ApiError


def _fail(detail: str) -> ApiError:
    # [inferred] errortext; Sitoo's exact wording is not documented.
    return ApiError(401, f"Authorization failed: {detail}")


def parse_basic(header: str | None) -> tuple[str, str]:
    """``Authorization: Basic base64(id:password)`` → ``(id, password)``; 401 otherwise."""
    if not header:
        raise _fail("missing credentials")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        raise _fail("Basic credentials expected")
    try:
        # ValueError covers bad base64, bytes that are not UTF-8 and a missing colon.
        credentials = BasicAuth.decode(f"{scheme} {token.strip()}", encoding="utf-8")
    except ValueError:
        raise _fail("malformed credentials") from None
    return credentials.login, credentials.password


def authenticate(request: web.Request, config: SitooApiConfig) -> SitooAccount:
    """Check the caller against the account in the URL; every failure is a ``401``.

    The account id in the URL must equal the API id's prefix (spec §4.2).
    """
    api_id, password = parse_basic(request.headers.get("Authorization"))
    account_id = int(request.match_info["account"])
    if api_id.partition("-")[0] != str(account_id):
        raise _fail("the API id does not belong to this account")
    account = config.account(account_id)
    if account is None:
        raise _fail("wrong API id or password")
    id_ok = hmac.compare_digest(api_id.encode(), account.api_id.encode())
    password_ok = hmac.compare_digest(password.encode(), account.password.encode())
    if not (id_ok and password_ok):
        raise _fail("wrong API id or password")
    return account
