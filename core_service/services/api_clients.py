"""API clients: issue, rotate, revoke and delete their tokens, and tell who a caller is.

Authentication runs on every RPC, so it reads an in-memory snapshot of the (small) client
table instead of the database. The snapshot is reloaded when it is older than
``refresh_s`` — and at once on this core after a change made through it — so a change made
through another core replica takes effect here within ``refresh_s``. A token whose key id the
snapshot does not know triggers a reload at most once a second, so a client created on
another replica works almost at once while a flood of made-up tokens costs the database
nothing more than that."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core_service.crypto import SecretBox
from core_service.domain.api_clients import (
    ClientIdentity,
    StoredClient,
    new_token,
    token_key_id,
    validate_name,
    validate_scopes,
    validate_tls_subject,
)
from core_service.domain.errors import UpstreamUnavailable
from core_service.services.ports import ApiClientStore

log = logging.getLogger(__name__)

MISS_RELOAD_INTERVAL_S = 1.0
# Binds verifiers to this use: a client token's verifier never equals the verifier of the
# same string used as a Sitoo credential (both use the installation's verifier key).
_CONTEXT = "api-client-token:"


@dataclass(frozen=True)
class _Snapshot:
    loaded_at: float  # monotonic
    tokens: dict[str, tuple[str, float | None, ClientIdentity]] = field(default_factory=dict)
    subjects: dict[str, ClientIdentity] = field(default_factory=dict)


def _snapshot(clients: list[StoredClient], loaded_at: float) -> _Snapshot:
    result = _Snapshot(loaded_at)
    for client in clients:
        identity = ClientIdentity(client.name, client.scopes)
        for token in client.tokens:
            result.tokens[token.key_id] = (token.verifier, token.expires_at, identity)
        if client.tls_subject:
            result.subjects[client.tls_subject] = identity
    return result


class ApiClientService:
    def __init__(
        self,
        repository: ApiClientStore,
        box: SecretBox,
        *,
        rotation_grace_s: float,
        refresh_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._repository = repository
        self._box = box
        self._grace_s = rotation_grace_s
        self._refresh_s = refresh_s
        self._clock = clock
        self._snapshot: _Snapshot | None = None
        self._last_attempt = float("-inf")
        self._lock = asyncio.Lock()

    def _verifier(self, token: str) -> str:
        return self._box.credential_hash(_CONTEXT + token)

    # ---- administration ----

    async def create(
        self, name: str, scopes: list[str], tls_subject: str = ""
    ) -> tuple[StoredClient, str]:
        token, key_id = new_token()
        client = await self._repository.create(
            validate_name(name),
            validate_scopes(scopes),
            validate_tls_subject(tls_subject),
            key_id=key_id,
            verifier=self._verifier(token),
            now=self._clock(),
        )
        self._invalidate()
        log.info("api client created", extra={"api_client": name, "scopes": sorted(client.scopes)})
        return client, token

    async def list_clients(self) -> list[StoredClient]:
        return await self._repository.list_clients()

    async def rotate(self, name: str, grace_s: float | None = None) -> tuple[StoredClient, str]:
        token, key_id = new_token()
        now = self._clock()
        grace = self._grace_s if grace_s is None else grace_s
        client = await self._repository.add_token(
            name, key_id, self._verifier(token), now, now + grace
        )
        self._invalidate()
        log.info("api client token rotated", extra={"api_client": name, "grace_seconds": grace})
        return client, token

    async def revoke_old(self, name: str) -> StoredClient:
        client = await self._repository.revoke_old(name)
        self._invalidate()
        log.info("api client old tokens revoked", extra={"api_client": name})
        return client

    async def delete(self, name: str) -> None:
        await self._repository.delete(name)
        self._invalidate()
        log.info("api client deleted", extra={"api_client": name})

    # ---- authentication ----

    async def by_token(self, token: str) -> ClientIdentity | None:
        key_id = token_key_id(token)
        if key_id is None:
            return None
        snapshot = await self._fresh()
        entry = snapshot.tokens.get(key_id)
        if entry is None and time.monotonic() - snapshot.loaded_at >= MISS_RELOAD_INTERVAL_S:
            snapshot = await self._fresh(max_age=MISS_RELOAD_INTERVAL_S)
            entry = snapshot.tokens.get(key_id)
        if entry is None:
            # Same work as a hit, so timing does not say whether the key id exists.
            self._box.verify_credential(_CONTEXT + token, "0" * 64)
            return None
        verifier, expires_at, identity = entry
        if not self._box.verify_credential(_CONTEXT + token, verifier):
            return None
        if expires_at is not None and self._clock() >= expires_at:
            return None
        return identity

    async def by_tls_subject(self, subject: str) -> ClientIdentity | None:
        snapshot = await self._fresh()
        return snapshot.subjects.get(subject)

    def _invalidate(self) -> None:
        self._snapshot = None
        self._last_attempt = float("-inf")

    async def _fresh(self, max_age: float | None = None) -> _Snapshot:
        max_age = self._refresh_s if max_age is None else max_age
        snapshot = self._snapshot
        if snapshot is not None and time.monotonic() - snapshot.loaded_at < max_age:
            return snapshot
        async with self._lock:
            snapshot = self._snapshot  # another call may have reloaded meanwhile
            if snapshot is not None and time.monotonic() - snapshot.loaded_at < max_age:
                return snapshot
            return await self._reload(snapshot)

    async def _reload(self, previous: _Snapshot | None) -> _Snapshot:
        started = time.monotonic()
        if previous is not None and started - self._last_attempt < MISS_RELOAD_INTERVAL_S:
            return previous  # the database just failed us; do not ask again at once
        self._last_attempt = started
        try:
            fresh = _snapshot(await self._repository.list_clients(), started)
        except Exception as exc:
            if previous is None:
                raise UpstreamUnavailable("the API client directory cannot be read") from exc
            log.warning(
                "api client directory not refreshed; using the last copy",
                extra={"reason": type(exc).__name__},
            )
            return previous
        self._snapshot = fresh
        return fresh
