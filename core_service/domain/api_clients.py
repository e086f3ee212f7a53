"""API clients: who calls the core's gRPC API and what each may do. Rules only, no I/O."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from core_service.domain.errors import InvalidArgument

CUSTOMERS_READ = "customers:read"
CUSTOMERS_WRITE = "customers:write"
ORDERS_INGEST = "orders:ingest"
ADMIN = "admin"
SCOPES = (CUSTOMERS_READ, CUSTOMERS_WRITE, ORDERS_INGEST, ADMIN)

# The clients process settings define; their names cannot be taken by stored clients.
EDGE_CLIENT = "edge"
ADMIN_CLIENT = "admin"
BUILTIN_SCOPES = {
    EDGE_CLIENT: frozenset({CUSTOMERS_READ, CUSTOMERS_WRITE, ORDERS_INGEST}),
    ADMIN_CLIENT: frozenset({ADMIN}),
}

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
# Token layout: "sbr_" + 12 hex (the key id: public, how the core finds the verifier without
# a scan) + "_" + 43 URL-safe characters (256 random bits). The prefix makes a leaked token
# recognisable to secret scanners.
TOKEN_PREFIX = "sbr_"  # noqa: S105 - a public prefix, not a secret
_KEY_ID_CHARS = 12
MAX_TLS_SUBJECT_CHARS = 255  # an X.509 common name is at most 64; 255 leaves room
_TOKEN = re.compile(r"sbr_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class StoredToken:
    key_id: str
    verifier: str
    created_at: float
    expires_at: float | None


@dataclass(frozen=True)
class StoredClient:
    """A stored API client as its repository hands it out: its token verifiers, never a
    token."""

    name: str
    scopes: frozenset[str]
    tls_subject: str | None
    created_at: float
    tokens: tuple[StoredToken, ...]  # oldest first


@dataclass(frozen=True)
class ClientIdentity:
    """The authenticated caller of one RPC."""

    name: str
    scopes: frozenset[str]
    builtin: bool = False

    def may(self, scope: str) -> bool:
        return scope in self.scopes


def validate_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidArgument(
            "a client name is 1-63 lower-case letters, digits, '.', '_' or '-', starting "
            "with a letter or digit",
            field="name",
        )
    if name in BUILTIN_SCOPES:
        raise InvalidArgument(
            f"{name!r} is a built-in client (from SITOO_BR_SERVICE_TOKEN / "
            "SITOO_BR_ADMIN_TOKEN); choose another name",
            field="name",
        )
    return name


def validate_scopes(scopes: list[str] | tuple[str, ...]) -> frozenset[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise InvalidArgument(
            f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}", field="scopes"
        )
    if not scopes:
        raise InvalidArgument(f"give at least one scope of {', '.join(SCOPES)}", field="scopes")
    return frozenset(scopes)


def validate_tls_subject(subject: str) -> str | None:
    subject = subject.strip()
    if not subject:
        return None
    if len(subject) > MAX_TLS_SUBJECT_CHARS or not subject.isprintable():
        raise InvalidArgument("tls_subject is a certificate common name", field="tls_subject")
    return subject


def new_token() -> tuple[str, str]:
    """A fresh token and its key id."""
    key_id = secrets.token_hex(_KEY_ID_CHARS // 2)
    return f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}", key_id


def token_key_id(token: str) -> str | None:
    """The key id of a well-formed client token; None for anything else (e.g. a built-in
    token from settings, which has no fixed shape)."""
    match = _TOKEN.fullmatch(token)
    return match.group(1) if match else None
