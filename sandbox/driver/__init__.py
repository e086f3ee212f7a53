"""The Sitoo-side driver: plays what Sitoo does toward the middleware's edge.

* :mod:`sandbox.driver.pos_client` — a POS calling the CRM SPI v2 (``PosClient``).
* :mod:`sandbox.driver.webhooks` — Sitoo's event queue delivering Events SPI webhooks
  (``EventSender``).
* :mod:`sandbox.driver.scenario` — "a store day": customers, sales, refunds and anonymous
  sales, with the :class:`ExpectedOutcome` end-to-end tests compare against.

Routes, header names, the error body and the batch bound come from the driver's own statement
of Sitoo's contract, :mod:`sandbox.driver.sitoo_contract` — never from the edge it tests.
"""

from sandbox.driver.pos_client import Origin, PosClient, SpiResult, encode_header_value
from sandbox.driver.webhooks import (
    DeliveryAttempt,
    Event,
    EventSender,
    Outcome,
    RetryRule,
    RetrySchedule,
    order_event,
)

__all__ = [
    "DeliveryAttempt",
    "Event",
    "EventSender",
    "Origin",
    "Outcome",
    "PosClient",
    "RetryRule",
    "RetrySchedule",
    "SpiResult",
    "encode_header_value",
    "order_event",
]
