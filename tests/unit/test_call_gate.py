"""The per-integration gate in front of Bloomreach calls: who gets a slot, who waits, who is
refused at once. Real asyncio, no clocks faked; deadlines are generous or plainly impossible,
so the outcomes do not depend on the machine's speed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from core_service.domain.errors import Overloaded, UpstreamTimeout
from core_service.services.call_gate import CallGate, LatencyEstimate
from core_service.services.deadline import Deadline

CAP = 5.0


async def _hold(
    gate: CallGate, deadline: Deadline, release: asyncio.Event, cap: float = CAP
) -> float:
    async with gate.call(deadline, cap) as timeout:
        await release.wait()
        return timeout


async def _until(condition: Callable[[], bool]) -> None:
    """Let the other tasks run until the gate is in the state wanted (bounded)."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - a plain attribute of the gate, no event
            await asyncio.sleep(0)


def test_estimate_keeps_room_for_slow_calls() -> None:
    estimate = LatencyEstimate()
    assert estimate.needed == 0.0  # nothing known: the first call goes out
    for _ in range(20):
        estimate.observe(1.0)
    assert 1.0 < estimate.needed < 1.5
    estimate.observe(3.0)
    assert estimate.needed > 1.5  # a slower call widens the room kept


async def test_a_full_queue_is_refused_at_once_with_a_retry_hint() -> None:
    gate = CallGate(slots=1, max_queued=0)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(gate, Deadline.after(60), release))
    await _until(lambda: gate.busy == 1)
    with pytest.raises(Overloaded) as refused:
        async with gate.call(Deadline.after(60), CAP):
            pass
    assert refused.value.retry_after_s is not None and refused.value.retry_after_s >= 1
    release.set()
    assert await holder <= CAP
    assert gate.busy == 0


async def test_no_wait_when_the_call_could_not_finish_in_time() -> None:
    gate = CallGate(slots=2, max_queued=10)
    gate.estimate.observe(2.0)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(gate, Deadline.after(60), release))
    await _until(lambda: gate.busy == 1)
    # A free slot, but one second left for a two-second call: refused, not started.
    with pytest.raises(Overloaded):
        async with gate.call(Deadline.after(1.0), CAP):
            pass
    release.set()
    await holder


async def test_a_project_slower_than_the_cap_gets_one_probe_at_a_time() -> None:
    gate = CallGate(slots=8, max_queued=10)
    gate.estimate.observe(CAP * 2)
    release = asyncio.Event()
    probe = asyncio.create_task(_hold(gate, Deadline.after(60), release))
    await _until(lambda: gate.busy == 1)
    with pytest.raises(Overloaded):
        async with gate.call(Deadline.after(60), CAP):
            pass
    release.set()
    assert await probe == CAP


async def test_waiters_go_first_come_first_served() -> None:
    gate = CallGate(slots=1, max_queued=10)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(gate, Deadline.after(60), release))
    await _until(lambda: gate.busy == 1)
    order: list[int] = []

    async def wait_then_note(n: int) -> None:
        async with gate.call(Deadline.after(60), CAP):
            order.append(n)

    waiters = [asyncio.create_task(wait_then_note(n)) for n in range(3)]
    await _until(lambda: gate.queued == 3)
    release.set()
    await asyncio.gather(holder, *waiters)
    assert order == [0, 1, 2]
    assert (gate.busy, gate.queued) == (0, 0)


async def test_a_waiter_whose_time_ran_out_is_refused_when_a_slot_frees() -> None:
    gate = CallGate(slots=1, max_queued=10)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(gate, Deadline.after(60), release))
    await _until(lambda: gate.busy == 1)
    hopeful = asyncio.create_task(_hold(gate, Deadline.after(30), asyncio.Event()))
    await _until(lambda: gate.queued == 1)
    # Meanwhile the project turned out to need longer than the waiter has left.
    for _ in range(5):
        gate.estimate.observe(40.0)
    release.set()
    await holder
    with pytest.raises(Overloaded):
        await hopeful
    assert (gate.busy, gate.queued) == (0, 0)


async def test_a_timed_out_call_counts_as_longer_than_its_timeout() -> None:
    gate = CallGate(slots=1, max_queued=0)
    with pytest.raises(UpstreamTimeout):
        async with gate.call(Deadline.after(60), 0.01):
            raise UpstreamTimeout("Bloomreach did not answer in time")
    assert gate.estimate.mean >= 0.015
    assert gate.busy == 0


async def test_no_queueing_behind_calls_that_free_up_too_late() -> None:
    gate = CallGate(slots=1, max_queued=10)
    for _ in range(10):
        gate.estimate.observe(10.0)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(gate, Deadline.after(60), release))
    await _until(lambda: gate.busy == 1)
    # The slot frees in about 10 s and the call then needs about 11 s: 15 s is not enough.
    with pytest.raises(Overloaded) as refused:
        async with gate.call(Deadline.after(15), CAP * 10):
            pass
    assert refused.value.retry_after_s is not None and refused.value.retry_after_s >= 9
    assert gate.queued == 0
    # With 60 s it may wait.
    waiter = asyncio.create_task(_hold(gate, Deadline.after(60), asyncio.Event(), CAP * 10))
    await _until(lambda: gate.queued == 1)
    waiter.cancel()
    release.set()
    await holder
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (gate.busy, gate.queued) == (0, 0)
