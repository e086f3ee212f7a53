"""The CRM SPI's customer path: its Bloomreach calls and their congestion control."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from runtime.settings_sections.section import Section


class CustomerPathSettings(Section):
    SECTION_TITLE: ClassVar[str] = "Customer path (CRM SPI → Bloomreach)"

    bloomreach_timeout_seconds: float = Field(
        default=5.0,
        description="cap on one Bloomreach call of the customer path; the caller's remaining "
        "deadline (minus a margin to answer in) lowers it further",
    )
    purchase_history_limit: int = Field(
        default=20, description="purchases the customer card's history shows"
    )
    # Congestion control of the customer path (issue 11): a request waits for a slot only if,
    # by the running estimate of that integration's Bloomreach latency, it can still finish
    # within the edge's deadline; otherwise it is answered at once instead of starting a call
    # it cannot finish.
    bloomreach_call_slots: int = Field(
        default=64,
        ge=1,
        description="customer-path Bloomreach calls in flight per integration (and its own "
        "connection pool's size); see *Slow Bloomreach and overload* in docs/operations.md",
    )
    bloomreach_max_queued: int = Field(
        default=256,
        ge=0,
        description="requests per integration waiting for a slot; a request waits only if it "
        "can still finish within the deadline, else 503 + `Retry-After` at once",
    )
    # Hedged reads: a till is not kept waiting on a Bloomreach that hangs when the card cache
    # has the customer (core_service/services/card_hedge.py).
    # 0.6 s: under the POS's one-second feel with margin on a loaded host; a healthy Bloomreach
    # read answers well within it, so a hedge is rare outside an outage.
    card_cache_hedge_seconds: float = Field(
        default=0.6,
        ge=0,
        le=60,
        description="a search, card or lookup of a customer with a cached card that Bloomreach "
        "has not answered within this is answered from the card cache (header "
        "`X-Sitoo-Bloomreach-Cache`) while the call goes on up to its timeout; 0 turns it off",
    )
    # A circuit breaker per Bloomreach project (issue 15 §3): during an outage the till does
    # not first pay a timeout on every call.
    bloomreach_circuit_failures: int = Field(
        default=5,
        ge=0,
        description="consecutive failed Bloomreach calls of one project (timeout, connection "
        "error, 5xx, 429; customer path and relay) that open its circuit: customer calls then "
        "fall back at once; 0 turns the breaker off",
    )
    bloomreach_circuit_cool_down_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="how long an open circuit refuses calls before one probe call may go out; "
        "doubled after each failed probe, up to the maximum",
    )
    bloomreach_circuit_max_cool_down_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="the longest cool-down of an open circuit, however many probes failed",
    )
