"""EventSender against real HTTP receivers playing the edge's ``POST /events``."""

from __future__ import annotations

import asyncio
import base64
import random
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from edge.spi_contract import EVENTS, MAX_EVENTS_PER_BATCH, integration_path
from sandbox.driver.receiver import HANG, Received, Receiver
from sandbox.driver.webhooks import (
    Event,
    EventSender,
    Outcome,
    RetryRule,
    RetrySchedule,
    classify,
    order_event,
)

ReceiverFactory = Callable[..., Awaitable[Receiver]]
ENVELOPE_KEYS = {"event_id", "event_type", "event_date", "account_id", "data"}


def make_events(n: int, *, start: int = 1_700_000_000, shuffle: bool = False) -> list[Event]:
    rng = random.Random(7)
    events = [
        order_event(
            account_id=1500,
            eshop_id=1,
            order_id=10_000 + i,
            warehouse_id=3,
            event_date=start + i * 10,
            order_event_type="add" if i % 2 == 0 else "update",
            order_state_changed=None if i % 2 == 0 else "closed",
        )
        for i in range(n)
    ]
    if shuffle:
        rng.shuffle(events)
    return events


class FakeSleep:
    """Records the (compressed) delays the sender asks for, without sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)


def sender_for(url: str, **kwargs: object) -> EventSender:
    kwargs.setdefault("username", "hook-user")
    kwargs.setdefault("password", "hook-secret")
    kwargs.setdefault("compression", 1e9)
    return EventSender.for_integration(url, "acme", **kwargs)


async def test_envelope_batches_order_and_auth(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver()
    events = make_events(25, shuffle=True)
    async with sender_for(receiver.url) as sender:
        results = await sender.send(events)

    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 3
    assert [len(r.body) for r in receiver.records] == [10, 10, 5]
    expected_path = integration_path("acme", EVENTS)
    expected_auth = "Basic " + base64.b64encode(b"hook-user:hook-secret").decode()
    sent: list[dict[str, Any]] = []
    for record in receiver.records:
        assert record.method == "POST"
        assert record.path == expected_path
        assert record.headers["Authorization"] == expected_auth
        assert record.headers["Content-Type"].startswith("application/json")
        assert isinstance(record.body, list)
        assert 1 <= len(record.body) <= MAX_EVENTS_PER_BATCH
        sent.extend(record.body)
    dates = [e["event_date"] for e in sent]
    assert dates == sorted(dates), "events must go out in chronological order"
    assert {e["event_id"] for e in sent} == {e.event_id for e in events}
    for event in sent:
        assert set(event) == ENVELOPE_KEYS
        assert re.fullmatch(r"[0-9a-f]{32}", str(event["event_id"]))
        assert type(event["event_date"]) is int
        assert type(event["account_id"]) is int
        assert event["event_type"] == "order"
        data = event["data"]
        assert isinstance(data, dict)
        assert type(data["eshop_id"]) is int and type(data["order_id"]) is int
        assert data["warehouse_id"] == 3
        assert data["order_event_type"] in ("add", "update")
        if data["order_event_type"] == "add":
            assert "order_state_changed" not in data
        else:
            assert data["order_state_changed"] == "closed"


def test_order_event_validation() -> None:
    with pytest.raises(ValueError):
        order_event(account_id=1, eshop_id=1, order_id=1, event_date=1, order_event_type="bogus")
    with pytest.raises(ValueError):
        order_event(account_id=1, eshop_id=1, order_id=1, event_date=1, order_state_changed="x")
    with pytest.raises(ValueError):
        Event("5E9FD002-119a", "order", 1, 1, {})
    event = order_event(account_id=1500, eshop_id=1, order_id=12345, event_date=1611138542)
    assert event.to_json()["data"] == {"eshop_id": 1, "order_id": 12345, "order_event_type": "add"}


async def test_no_auth_header_without_credentials(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver()
    async with EventSender.for_integration(receiver.url, "acme", compression=1e9) as sender:
        await sender.send(make_events(1))
    assert "Authorization" not in receiver.records[0].headers


CURRENT_TABLE = [
    (429, Outcome.RETRIED),
    (503, Outcome.RETRIED),
    (504, Outcome.RETRIED),
    (500, Outcome.DROPPED),
    (502, Outcome.DROPPED),
    (404, Outcome.DROPPED),
    (400, Outcome.DROPPED),
    (401, Outcome.DROPPED),
    (201, Outcome.DROPPED),
]
EARLIER_TABLE = [
    (429, Outcome.RETRIED),
    (500, Outcome.RETRIED),
    (502, Outcome.RETRIED),
    (503, Outcome.RETRIED),
    (400, Outcome.DROPPED),
    (401, Outcome.DROPPED),
    (403, Outcome.DROPPED),
    (404, Outcome.DROPPED),
    (422, Outcome.DROPPED),
]


@pytest.mark.parametrize(
    ("rule", "status", "expected"),
    [(RetryRule.CURRENT, s, o) for s, o in CURRENT_TABLE]
    + [(RetryRule.EARLIER, s, o) for s, o in EARLIER_TABLE],
)
async def test_retry_classification_over_http(
    start_receiver: ReceiverFactory, rule: RetryRule, status: int, expected: Outcome
) -> None:
    receiver = await start_receiver(script=[status, 200])
    events = make_events(3)
    async with sender_for(receiver.url, rule=rule) as sender:
        results = await sender.send(events)

    first = sender.log[0]
    assert first.status == status
    assert first.outcome is expected
    if expected is Outcome.RETRIED:
        assert len(receiver.records) == 2
        assert [a.outcome for a in sender.log] == [Outcome.RETRIED, Outcome.DELIVERED]
        assert receiver.records[0].body == receiver.records[1].body
        assert results[0].outcome is Outcome.DELIVERED
    else:
        assert len(receiver.records) == 1, "a discarded batch is never resent"
        assert results[0].outcome is Outcome.DROPPED
        assert sender.dropped_event_ids() == [e.event_id for e in events]


def test_400_401_discard_under_both_rules() -> None:
    for rule in RetryRule:
        assert classify(400, rule) is Outcome.DROPPED
        assert classify(401, rule) is Outcome.DROPPED
        assert classify(200, rule) is Outcome.DELIVERED
        assert classify(None, rule) is Outcome.RETRIED


async def test_timeout_is_retried(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver(script=[HANG, 200])
    events = make_events(2)
    async with sender_for(receiver.url, timeout_s=0.3) as sender:
        results = await sender.send(events)

    assert [(a.status, a.error, a.outcome) for a in sender.log] == [
        (None, "timeout", Outcome.RETRIED),
        (200, None, Outcome.DELIVERED),
    ]
    assert results[0].outcome is Outcome.DELIVERED
    assert len(receiver.records) == 2
    assert receiver.records[0].body == receiver.records[1].body


async def test_head_of_line_blocking(start_receiver: ReceiverFactory) -> None:
    second_attempt = asyncio.Event()

    async def watch(request: web.Request, record: Received) -> None:
        if len(receiver.records) == 2:
            second_attempt.set()

    receiver = await start_receiver(script=[503, 429, 504, 200], handler=watch)
    events = make_events(15)
    first_ids = [e.event_id for e in events[:10]]
    second_ids = [e.event_id for e in events[10:]]
    async with sender_for(receiver.url) as sender:
        # Enqueue more events while the first batch is being retried: they must wait too.
        sender.enqueue(*events[:12])
        flushing = asyncio.create_task(sender.flush())
        await second_attempt.wait()
        sender.enqueue(*events[12:])
        await flushing
        await sender.flush()

    seen = [[e["event_id"] for e in r.body] for r in receiver.records]
    assert seen == [first_ids] * 4 + [second_ids]
    assert receiver.max_in_flight == 1
    assert [a.batch_no for a in sender.log] == [1, 1, 1, 1, 2]


async def test_second_batch_waits_for_a_dropped_first(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver(default=503)
    events = make_events(12)
    sleep = FakeSleep()
    schedule = RetrySchedule.of(1.0, 2.0)
    async with sender_for(receiver.url, schedule=schedule, sleep=sleep) as sender:
        results = await sender.send(events)

    batch_of = [len(r.body) for r in receiver.records]
    assert batch_of == [10, 10, 10, 2, 2, 2]
    assert [r.outcome for r in results] == [Outcome.DROPPED, Outcome.DROPPED]
    assert sender.log[2].reason.startswith("retry window expired")


async def test_sitoo_schedule_compressed(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver(default=503)
    sleep = FakeSleep()
    async with sender_for(receiver.url, compression=3600.0, sleep=sleep) as sender:
        results = await sender.send(make_events(1))

    assert results[0].outcome is Outcome.DROPPED
    assert len(receiver.records) == 34
    assert sleep.calls == pytest.approx([0.1] * 10 + [1.0] * 23)
    retried = [a for a in sender.log if a.outcome is Outcome.RETRIED]
    assert len(retried) == 33
    # On Sitoo's clock: ten retries inside the first hour, the last attempt at 24 h.
    assert sum(1 for a in sender.log[1:] if a.elapsed_spec_s <= 3600) == 10
    assert sender.log[-1].elapsed_spec_s == 24 * 3600
    assert sender.log[-1].outcome is Outcome.DROPPED


async def test_real_sleep_with_high_compression_completes(
    start_receiver: ReceiverFactory,
) -> None:
    receiver = await start_receiver(script=[503] * 12)
    async with sender_for(receiver.url, compression=1e7) as sender:
        results = await sender.send(make_events(4))
    assert results[0].outcome is Outcome.DELIVERED
    assert results[0].attempts == 13
    assert sender.log[-1].elapsed_spec_s == 10 * 360 + 2 * 3600


async def test_duplicate_redelivery_same_event_ids(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver()
    events = make_events(13)
    async with sender_for(receiver.url, duplicate_probability=1.0, seed=1) as sender:
        await sender.send(events)
        explicit = await sender.redeliver(1)

    ids = [[e["event_id"] for e in r.body] for r in receiver.records]
    assert len(ids) == 5
    assert ids[0] == ids[1] == ids[4]
    assert ids[2] == ids[3]
    assert explicit.duplicate and explicit.outcome is Outcome.DELIVERED
    assert [a.duplicate for a in sender.log] == [False, True, False, True, True]
    assert sender.summary()["duplicate_deliveries"] == 3
    assert sender.summary()["events_delivered"] == 13


async def test_no_duplicates_by_default(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver()
    async with sender_for(receiver.url) as sender:
        await sender.send(make_events(20))
    all_ids = [e["event_id"] for r in receiver.records for e in r.body]
    assert len(all_ids) == len(set(all_ids)) == 20


async def test_background_worker_and_post_raw(start_receiver: ReceiverFactory) -> None:
    receiver = await start_receiver(script=[200, 200, 401])
    async with sender_for(receiver.url) as sender:
        sender.start()
        sender.enqueue(*make_events(3))
        await sender.drain()
        assert sender.pending == 0
        sender.enqueue(*make_events(2, start=1_800_000_000))
        await sender.drain()
        status = await sender.post_raw([{"not": "an event"}], auth=False)
    assert status == 401
    assert "Authorization" not in receiver.records[-1].headers
    assert [len(r.body) for r in receiver.records] == [3, 2, 1]


async def test_connection_refused_is_retried() -> None:
    sleep = FakeSleep()
    sender = EventSender(
        "http://127.0.0.1:9", schedule=RetrySchedule.of(5.0), sleep=sleep, compression=5.0
    )
    async with sender:
        results = await sender.send(make_events(1))
    assert [a.outcome for a in sender.log] == [Outcome.RETRIED, Outcome.DROPPED]
    assert sender.log[0].error is not None and sender.log[0].error.startswith("connection")
    assert sleep.calls == [1.0]
    assert results[0].outcome is Outcome.DROPPED
