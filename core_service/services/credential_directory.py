"""Where Sitoo's Basic credentials are checked: the verifier of the integration named in the URL.

An unknown name must cost what a wrong password costs, or response times tell an attacker
which tenants exist (issue 11: misses went to the database every time, ~0.7 ms slower). A
cache of misses per name is not enough: the first request for a made-up name would still read
the database while a live tenant's name is always warm (its tills keep it so), and that first
request is all a scan needs. So the directory holds the verifiers of *every* integration,
read in one query and kept for ``ttl`` seconds:

* a known and an unknown name cost the same: one lookup in the same dictionary, then the same
  constant-time comparisons, against a dummy verifier when the name is unknown;
* the database is read at most once per ``ttl`` (concurrent requests share that one read),
  whichever names are asked for, so made-up names never reach the database per request and
  cannot grow any cache;
* a change made by this process (create, rotate, disable, delete) is seen at once; one made
  by another replica within ``ttl``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

from core_service.crypto import SecretBox, constant_time_equals
from core_service.domain.stored_integration import CredentialVerifiers
from core_service.metrics import CoreMetrics

CredentialKind = Literal["spi", "webhook"]
LoadAll = Callable[[], Awaitable[Mapping[str, CredentialVerifiers]]]


class CredentialDirectory:
    def __init__(
        self,
        load_all: LoadAll,
        box: SecretBox,
        *,
        ttl: float = 5.0,
        metrics: CoreMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load_all = load_all
        self._box = box
        self._ttl = ttl
        self._metrics = metrics
        self._clock = clock
        self._verifiers: Mapping[str, CredentialVerifiers] = {}
        self._loaded_at: float | None = None
        self._loading: asyncio.Future[Mapping[str, CredentialVerifiers]] | None = None
        # A verifier no password matches (a random key's HMAC), shaped like a real one.
        self._dummy_user = "unknown-" + secrets.token_hex(8)
        self._dummy_hash = box.credential_hash(secrets.token_urlsafe(32))

    def forget(self) -> None:
        """After this process changed an integration: read the verifiers afresh next time."""
        self._loaded_at = None

    async def find(self, name: str) -> CredentialVerifiers | None:
        return (await self._current()).get(name)

    async def _current(self) -> Mapping[str, CredentialVerifiers]:
        loaded_at = self._loaded_at
        if loaded_at is not None and self._clock() - loaded_at < self._ttl:
            return self._verifiers
        if self._loading is not None:
            return await asyncio.shield(self._loading)
        future: asyncio.Future[Mapping[str, CredentialVerifiers]] = (
            asyncio.get_running_loop().create_future()
        )
        self._loading = future
        try:
            started = self._clock()
            verifiers = await self._load_all()
            if self._metrics is not None:
                self._metrics.sitoo_credential_lookups.inc()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no warning when nobody else was waiting
            raise
        else:
            self._verifiers, self._loaded_at = verifiers, started
            future.set_result(verifiers)
            return verifiers
        finally:
            self._loading = None

    def check(
        self,
        verifiers: CredentialVerifiers | None,
        kind: CredentialKind,
        username: str,
        password: str,
    ) -> bool:
        """Constant-time check of ``username:password`` against the credential of ``kind``;
        against the dummy verifier (never true, same work) when ``verifiers`` is None."""
        if verifiers is None:
            expected_user, expected_hash = self._dummy_user, self._dummy_hash
        elif kind == "spi":
            expected_user, expected_hash = verifiers.spi_username, verifiers.spi_password_hash
        else:
            expected_user = verifiers.webhook_username
            expected_hash = verifiers.webhook_password_hash
        user_ok = constant_time_equals(username, expected_user)
        password_ok = self._box.verify_credential(password, expected_hash)
        if self._metrics is not None:
            self._metrics.sitoo_credential_checks.inc()
        return verifiers is not None and user_ok and password_ok
