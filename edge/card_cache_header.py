"""Issue 15: an answer the core gave from its card cache (Bloomreach failed) says so to the
caller in our own header (``edge.spi_contract.CARD_CACHE_HEADER``) and in a metric."""

from __future__ import annotations

from typing import Any, TypeVar

import grpc
from aiohttp import web

from edge import spi_contract
from edge.metrics import EdgeMetrics

T = TypeVar("T")

# The core's trailing metadata (protos/sitoo_bloomreach/v1/customers.proto).
SERVED_FROM = "x-served-from"
CARD_AGE = "x-card-age-seconds"


async def answer_and_source(call: grpc.aio.UnaryUnaryCall[Any, T]) -> tuple[T, str | None]:
    """The core's answer, and the header value when it came from the card cache."""
    response = await call
    metadata = dict((await call.trailing_metadata()) or ())
    if metadata.get(SERVED_FROM) != "cache":
        return response, None
    age = str(metadata.get(CARD_AGE, ""))
    return response, f"hit; age={age if age.isdigit() else 0}"


def marked(
    response: web.StreamResponse, header: str | None, metrics: EdgeMetrics, route: str
) -> web.StreamResponse:
    if header is not None:
        response.headers[spi_contract.CARD_CACHE_HEADER] = header
        metrics.card_cache_answers.labels(route).inc()
    return response
