"""Where Sitoo's Basic credentials are checked: the verifier of the integration named in the URL.

An unknown name must cost what a wrong password costs, or response times tell an attacker
which tenants exist (issue 11: misses went to the database every time, ~0.7 ms slower). So:

* hits and misses are both remembered for ``ttl`` seconds, misses in an LRU of at most
  ``max_misses`` names so a scan of made-up names cannot grow memory;
* concurrent requests for a name not in the cache share one database read;
* an unknown name is checked against a dummy verifier with the same constant-time
  comparisons, so the CPU work matches as well.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from core_service.adapters.db.integrations_repo import StoredIntegration
from core_service.crypto import SecretBox, constant_time_equals
from core_service.domain.errors import NotFound
from core_service.metrics import CoreMetrics

CredentialKind = Literal["spi", "webhook"]
Load = Callable[[str], Awaitable[StoredIntegration]]


@dataclass(frozen=True)
class _Hit:
    stored: StoredIntegration
    loaded_at: float


class CredentialDirectory:
    def __init__(
        self,
        load: Load,
        box: SecretBox,
        *,
        ttl: float = 5.0,
        max_misses: int = 10_000,
        metrics: CoreMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._box = box
        self._ttl = ttl
        self._max_misses = max_misses
        self._metrics = metrics
        self._clock = clock
        self._hits: dict[str, _Hit] = {}
        self._misses: OrderedDict[str, float] = OrderedDict()
        self._loading: dict[str, asyncio.Future[StoredIntegration | None]] = {}
        # A verifier no password matches (a random 256-bit key's HMAC), shaped like a real one.
        self._dummy_user = "unknown-" + secrets.token_hex(8)
        self._dummy_hash = box.credential_hash(secrets.token_urlsafe(32))

    def forget(self, name: str) -> None:
        """After this process changed or created ``name``: read it afresh next time."""
        self._hits.pop(name, None)
        self._misses.pop(name, None)

    async def find(self, name: str) -> StoredIntegration | None:
        now = self._clock()
        hit = self._hits.get(name)
        if hit is not None and now - hit.loaded_at < self._ttl:
            return hit.stored
        missed_at = self._misses.get(name)
        if missed_at is not None and now - missed_at < self._ttl:
            self._misses.move_to_end(name)
            return None
        pending = self._loading.get(name)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[StoredIntegration | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._loading[name] = future
        try:
            stored = await self._read(name)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            future.set_result(stored)
            return stored
        finally:
            self._loading.pop(name, None)

    async def _read(self, name: str) -> StoredIntegration | None:
        try:
            stored = await self._load(name)
        except NotFound:
            self._count_lookup("missing")
            self._hits.pop(name, None)
            self._misses[name] = self._clock()
            self._misses.move_to_end(name)
            while len(self._misses) > self._max_misses:
                self._misses.popitem(last=False)
            return None
        self._count_lookup("found")
        self._misses.pop(name, None)
        self._hits[name] = _Hit(stored, self._clock())
        return stored

    def check(
        self, stored: StoredIntegration | None, kind: CredentialKind, username: str, password: str
    ) -> bool:
        """Constant-time check of ``username:password`` against ``stored``'s credential of
        ``kind``; against the dummy verifier (always false, same work) when it is None."""
        if stored is None:
            expected_user, expected_hash = self._dummy_user, self._dummy_hash
        elif kind == "spi":
            expected_user, expected_hash = stored.integration.spi_username, stored.spi_password_hash
        else:
            expected_user = stored.integration.webhook_username
            expected_hash = stored.webhook_password_hash
        user_ok = constant_time_equals(username, expected_user)
        password_ok = self._box.verify_credential(password, expected_hash)
        if self._metrics is not None:
            self._metrics.sitoo_credential_checks.inc()
        return stored is not None and user_ok and password_ok

    def _count_lookup(self, result: str) -> None:
        if self._metrics is not None:
            self._metrics.sitoo_credential_lookups.labels(result).inc()
