"""Per-integration admission at the edge: how many customer requests of one integration may be
in flight to the core at once (issue 11). Beyond that the edge answers 503 with Retry-After
at once, so one tenant's flood, or a slow Bloomreach project, cannot take the edge's and the
core's capacity from the other tenants' tills. Deadline-aware queueing happens in the core,
which knows each project's latency (core_service/services/call_gate.py).

Keyed by the name in the URL, which anyone may send: an entry exists only while requests are
in flight, so made-up names cannot grow the table."""

from __future__ import annotations


class IntegrationAdmission:
    def __init__(self, max_in_flight: int) -> None:
        self._max = max_in_flight
        self._in_flight: dict[str, int] = {}

    def try_enter(self, integration: str) -> bool:
        count = self._in_flight.get(integration, 0)
        if count >= self._max:
            return False
        self._in_flight[integration] = count + 1
        return True

    def leave(self, integration: str) -> None:
        count = self._in_flight.get(integration, 0) - 1
        if count > 0:
            self._in_flight[integration] = count
        else:
            self._in_flight.pop(integration, None)

    def in_flight(self, integration: str) -> int:
        return self._in_flight.get(integration, 0)
