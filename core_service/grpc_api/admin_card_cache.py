"""The AdminService's card-cache RPCs (issue 15; a part of AdminServicer, kept apart)."""

from __future__ import annotations

from typing import Any

import grpc

from core_service.domain.errors import FailedPrecondition
from core_service.grpc_api.calls import rpc
from core_service.services.card_cache import CardCacheAdmin
from sitoo_bloomreach.v1 import admin_pb2 as pb

Context = grpc.aio.ServicerContext[Any, Any]


class CardCacheAdminMixin:
    _card_cache: CardCacheAdmin | None

    def _card_cache_admin(self) -> CardCacheAdmin:
        if self._card_cache is None:
            raise FailedPrecondition("this core has no card cache")
        return self._card_cache

    @rpc
    async def GetCardCacheStats(
        self, request: pb.CardCacheRequest, context: Context
    ) -> pb.CardCacheStats:
        stats = await self._card_cache_admin().stats(request.integration)
        return pb.CardCacheStats(
            integration=stats.integration,
            cards=stats.cards,
            expired=stats.expired,
            oldest_stored_at=stats.oldest_stored_at,
            newest_stored_at=stats.newest_stored_at,
            max_cards=stats.max_cards,
            ttl_seconds=stats.ttl_seconds,
            cached_reads=stats.enabled,
        )

    @rpc
    async def PurgeCardCache(
        self, request: pb.CardCacheRequest, context: Context
    ) -> pb.PurgeCardCacheResponse:
        purged = await self._card_cache_admin().purge(request.integration)
        return pb.PurgeCardCacheResponse(purged=purged)
