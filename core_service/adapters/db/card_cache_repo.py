"""The card cache in the database (issue 15): customer cards sealed at rest, found by keyed
digests of their search keys.

* ``card_cache`` holds one row per (integration, customer): the card as JSON sealed with
  AES-GCM under the master key, associated data = the integration and the customer's digest,
  so a sealed card moved onto another tenant's or another customer's row does not open.
* ``card_cache_keys`` maps a digest of (integration, key type, normalised key) to the card.
  The digest is an HMAC-SHA256 under the installation's card index key: a random key kept in
  ``meta``, sealed like the credential-verifier key (so it survives a master-key rotation and
  ``rekey`` reseals it). Neither table holds an e-mail, phone number, member number or
  customer id in clear.
* Every read also checks the card's integration, and that the opened card is the customer the
  row's digest names: nothing another integration cached can come back.
* Bounds: a card expires ``card_cache_ttl_seconds`` after it was stored (reads ignore expired
  and older-than-the-current-TTL cards; the retention purge deletes expired ones), and each
  remember trims its integration to ``card_cache_max_cards``, oldest first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core_service.adapters.db.errors import translated
from core_service.adapters.db.models import CachedCardKeyRow, CachedCardRow, Meta
from core_service.crypto import MasterKeyError, SecretBox
from core_service.domain.card_cache import (
    CUSTOMER_ID,
    CachedCard,
    CacheStats,
    card_from_json,
    card_to_json,
    index_keys,
    normalised_key,
)
from core_service.domain.customer import Customer
from core_service.domain.integration import Integration

log = logging.getLogger(__name__)

INDEX_KEY = "card_cache_index_key"
INDEX_KEY_CONTEXT = "meta/card_cache_index_key"


def card_context(integration_id: int, customer_digest: str) -> str:
    """Associated data of a sealed card: its integration and its customer."""
    return f"card-cache:{integration_id}:{customer_digest}"


async def load_index_key(sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> bytes:
    """The installation's card index key, made on first use."""
    for _ in range(2):
        try:
            async with sessions.begin() as session:
                sealed = await session.scalar(select(Meta.value).where(Meta.key == INDEX_KEY))
                if sealed is not None:
                    return base64.b64decode(box.open(sealed, context=INDEX_KEY_CONTEXT))
                key = secrets.token_bytes(32)
                value = box.seal(base64.b64encode(key).decode(), context=INDEX_KEY_CONTEXT)
                session.add(Meta(key=INDEX_KEY, value=value))
            return key
        except IntegrityError:
            continue  # another process made it at the same moment: read theirs
    raise RuntimeError("could not read or create the card index key")


class CardCacheRepository:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], box: SecretBox, index_key: bytes
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._index_key = index_key

    @classmethod
    async def open(
        cls, sessions: async_sessionmaker[AsyncSession], box: SecretBox
    ) -> CardCacheRepository:
        return cls(sessions, box, await load_index_key(sessions, box))

    def digest(self, integration_id: int, key_type: str, normalised: str) -> str:
        message = f"{integration_id}\x1f{key_type}\x1f{normalised}".encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()

    # ---- writes -----------------------------------------------------------------------

    async def remember(self, integration: Integration, card: Customer, *, now: float) -> None:
        await self.remember_many([(integration, card)], now=now)

    @translated
    async def remember_many(
        self, cards: Sequence[tuple[Integration, Customer]], *, now: float
    ) -> None:
        """Store or refresh cards in one transaction, then trim each integration to its
        bound. A card without a customer_id (a lookup's prefill) is not stored."""
        try:
            await self._remember_many(cards, now)
        except IntegrityError:
            # Another core stored the same customer or key at the same moment: once more,
            # now finding their rows.
            await self._remember_many(cards, now)

    async def _remember_many(
        self, cards: Sequence[tuple[Integration, Customer]], now: float
    ) -> None:
        touched: dict[int, Integration] = {}
        async with self._sessions.begin() as session:
            for integration, card in cards:
                keys = index_keys(integration, card)
                if not keys or keys[0][0] != CUSTOMER_ID:
                    continue
                await self._store(session, integration, card, keys, now)
                touched[integration.id] = integration
            for integration in touched.values():
                await self._trim(session, integration)

    async def _store(
        self,
        session: AsyncSession,
        integration: Integration,
        card: Customer,
        keys: tuple[tuple[str, str], ...],
        now: float,
    ) -> None:
        iid = integration.id
        customer_digest = self.digest(iid, *keys[0])
        sealed = self._box.seal(card_to_json(card), context=card_context(iid, customer_digest))
        expires_at = now + integration.card_cache_ttl_seconds
        card_id = await session.scalar(
            select(CachedCardRow.id).where(
                CachedCardRow.integration_id == iid,
                CachedCardRow.customer_digest == customer_digest,
            )
        )
        if card_id is None:
            row = CachedCardRow(
                integration_id=iid,
                customer_digest=customer_digest,
                sealed_card=sealed,
                stored_at=now,
                expires_at=expires_at,
            )
            session.add(row)
            await session.flush()
            card_id = row.id
        else:
            await session.execute(
                update(CachedCardRow)
                .where(CachedCardRow.id == card_id)
                .values(sealed_card=sealed, stored_at=now, expires_at=expires_at)
            )
        digests = [customer_digest, *(self.digest(iid, t, k) for t, k in keys[1:])]
        # The card's keys now, and nobody else's: a key another card had (an e-mail that
        # moved) points here from now on.
        await session.execute(
            delete(CachedCardKeyRow).where(
                CachedCardKeyRow.integration_id == iid,
                (CachedCardKeyRow.card_id == card_id) | CachedCardKeyRow.key_digest.in_(digests),
            )
        )
        session.add_all(
            CachedCardKeyRow(integration_id=iid, key_digest=d, card_id=card_id)
            for d in dict.fromkeys(digests)
        )
        await session.flush()

    @staticmethod
    async def _trim(session: AsyncSession, integration: Integration) -> None:
        count = await session.scalar(
            select(func.count())
            .select_from(CachedCardRow)
            .where(CachedCardRow.integration_id == integration.id)
        )
        excess = int(count or 0) - integration.card_cache_max_cards
        if excess <= 0:
            return
        oldest = (
            select(CachedCardRow.id)
            .where(CachedCardRow.integration_id == integration.id)
            .order_by(CachedCardRow.stored_at, CachedCardRow.id)
            .limit(excess)
        )
        ids = list((await session.scalars(oldest)).all())
        await session.execute(delete(CachedCardKeyRow).where(CachedCardKeyRow.card_id.in_(ids)))
        await session.execute(delete(CachedCardRow).where(CachedCardRow.id.in_(ids)))

    # ---- reads ------------------------------------------------------------------------

    async def recall_by_id(
        self, integration: Integration, customer_id: str, *, now: float
    ) -> Customer | None:
        found = await self.find(integration, CUSTOMER_ID, customer_id, now=now)
        return None if found is None else found.card

    async def recall_by_key(
        self, integration: Integration, key_type: str, key: str, *, now: float
    ) -> Customer | None:
        found = await self.find(integration, key_type, key, now=now)
        return None if found is None else found.card

    @translated
    async def find(
        self, integration: Integration, key_type: str, key: str, *, now: float
    ) -> CachedCard | None:
        """The live card a search key names in this integration, with when it was stored."""
        normalised = normalised_key(integration, key_type, key)
        if normalised is None:
            return None
        iid = integration.id
        async with self._sessions() as session:
            found = (
                await session.execute(
                    select(
                        CachedCardRow.customer_digest,
                        CachedCardRow.sealed_card,
                        CachedCardRow.stored_at,
                    )
                    .join(CachedCardKeyRow, CachedCardKeyRow.card_id == CachedCardRow.id)
                    .where(
                        CachedCardKeyRow.integration_id == iid,
                        CachedCardKeyRow.key_digest == self.digest(iid, key_type, normalised),
                        CachedCardRow.integration_id == iid,
                        CachedCardRow.expires_at > now,
                        CachedCardRow.stored_at > now - integration.card_cache_ttl_seconds,
                    )
                )
            ).first()
        if found is None:
            return None
        customer_digest, sealed, stored_at = found
        try:
            card = card_from_json(
                self._box.open(sealed, context=card_context(iid, customer_digest))
            )
        except MasterKeyError:
            log.warning("a cached card does not open", extra={"integration": integration.name})
            return None
        own = normalised_key(integration, CUSTOMER_ID, card.customer_id)
        if own is None or self.digest(iid, CUSTOMER_ID, own) != customer_digest:
            return None
        return CachedCard(card, stored_at)

    # ---- operations -------------------------------------------------------------------

    @translated
    async def stats(self, integration: Integration, *, now: float) -> CacheStats:
        cutoff = max(0.0, now - integration.card_cache_ttl_seconds)
        live = (CachedCardRow.expires_at > now) & (CachedCardRow.stored_at > cutoff)
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(
                        func.count(),
                        func.sum(case((live, 0), else_=1)),
                        func.min(CachedCardRow.stored_at),
                        func.max(CachedCardRow.stored_at),
                    ).where(CachedCardRow.integration_id == integration.id)
                )
            ).one()
        total, expired, oldest, newest = row
        return CacheStats(
            integration=integration.name,
            cards=int(total or 0) - int(expired or 0),
            expired=int(expired or 0),
            oldest_stored_at=float(oldest or 0.0),
            newest_stored_at=float(newest or 0.0),
            max_cards=integration.card_cache_max_cards,
            ttl_seconds=integration.card_cache_ttl_seconds,
            enabled=integration.cached_reads,
        )

    @translated
    async def purge(self, integration: Integration) -> int:
        """Forget every card of one integration; how many went."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(CachedCardKeyRow).where(CachedCardKeyRow.integration_id == integration.id)
            )
            result = await session.execute(
                delete(CachedCardRow).where(CachedCardRow.integration_id == integration.id)
            )
        return int(result.rowcount)  # type: ignore[attr-defined]
