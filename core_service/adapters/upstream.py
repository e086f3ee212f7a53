"""The vendor clients over shared connection pools: satisfies ``services.upstream_ports``'s
``Upstream`` (and ``BloomreachScratch`` with :func:`scratch_bloomreach`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from core_service.adapters.bloomreach import BloomreachClient
from core_service.adapters.http_client import HttpClients
from core_service.adapters.sitoo_api import SitooClient, SitooOrderLister
from core_service.domain.bloomreach_api import BloomreachProject
from core_service.domain.sitoo_api import SitooAccount
from core_service.domain.upstream import Unreachable


class HttpUpstream:
    def __init__(self, http: HttpClients) -> None:
        self._http = http

    def bloomreach(
        self, project: BloomreachProject, *, pool: str | None = None
    ) -> BloomreachClient:
        return BloomreachClient(self._http, project, pool=pool)

    def sitoo_orders(self, account: SitooAccount) -> SitooClient:
        return SitooClient(self._http, account)

    def sitoo_order_lister(self, account: SitooAccount) -> SitooOrderLister:
        return SitooOrderLister(self._http, account)

    async def status(self, url: str, timeout: float) -> int:
        try:
            async with self._http.session(url).get(
                url, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                return response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Unreachable(type(exc).__name__) from exc


@asynccontextmanager
async def scratch_bloomreach(project: BloomreachProject) -> AsyncIterator[BloomreachClient]:
    """A client on two connections of its own, closed after the block."""
    http = HttpClients(connections_per_host=2)
    try:
        yield BloomreachClient(http, project)
    finally:
        await http.close()
