"""Issue 15: an answer the core gave from its card cache (Bloomreach failed) says so to the
caller in our own header (``edge.spi_contract.CARD_CACHE_HEADER``) and in a metric."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from aiohttp import web

from edge import spi_contract
from edge.metrics import EdgeMetrics

T = TypeVar("T")

# The core's trailing metadata (protos/sitoo_bloomreach/v1/customers.proto).
SERVED_FROM = "x-served-from"
CARD_AGE = "x-card-age-seconds"
CACHE_REASON = "x-card-cache-reason"
REASONS = ("fallback", "hedged")


@dataclass(frozen=True)
class CacheSource:
    header: str  # the X-Sitoo-Bloomreach-Cache value
    reason: str  # fallback (Bloomreach failed) or hedged (it had not answered in time)


async def answer_and_source(
    call: grpc.aio.UnaryUnaryCall[Any, T],
) -> tuple[T, CacheSource | None]:
    """The core's answer, and where it came from when that was the card cache."""
    response = await call
    metadata = dict((await call.trailing_metadata()) or ())
    if metadata.get(SERVED_FROM) != "cache":
        return response, None
    age = str(metadata.get(CARD_AGE, ""))
    reason = str(metadata.get(CACHE_REASON, ""))
    return response, CacheSource(
        f"hit; age={age if age.isdigit() else 0}", reason if reason in REASONS else "fallback"
    )


def marked(
    response: web.StreamResponse, source: CacheSource | None, metrics: EdgeMetrics, route: str
) -> web.StreamResponse:
    if source is not None:
        response.headers[spi_contract.CARD_CACHE_HEADER] = source.header
        metrics.card_cache_answers.labels(route, source.reason).inc()
    return response
