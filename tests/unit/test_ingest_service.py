"""The ingest service against an in-memory inbox (services/ports.py's InboxStore): grouping,
the per-batch retry of refused data and the one retry of a lost connection, decided on the
domain's storage errors. tests/db/test_inbox_writes.py runs the same service on both
databases."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from core_service.domain.errors import (
    ConnectionLost,
    DataRejected,
    InvalidArgument,
    StorageError,
    StorageUnavailable,
    UpstreamUnavailable,
)
from core_service.domain.inbox import InboxEntry, InboxWrite, QuarantineCaps, QuarantineResult
from core_service.domain.integration import BloomreachAccess, Integration, SitooAccess
from core_service.metrics import CoreMetrics
from core_service.services.ingest import IncomingEvent, IngestService, Outcome
from core_service.services.ports import InboxStore


class FakeInbox:
    """Event ids per integration, in memory. ``fail`` holds errors raised by the next calls
    (one each); integration ids in ``refused`` have their data refused, as a foreign key
    would; ``gate`` holds the first group until the test opens it."""

    def __init__(self) -> None:
        self.seen: set[tuple[int, str]] = set()
        self.groups: list[int] = []
        self.single_writes = 0
        self.fail: list[StorageError] = []
        self.refused: set[int] = set()
        self.gate: asyncio.Event | None = None
        self.held = asyncio.Event()  # set while the gate holds a group
        self.quarantined: list[tuple[int, str, bytes]] = []

    def _check(self, writes: Sequence[InboxWrite]) -> None:
        if self.fail:
            raise self.fail.pop(0)
        if any(w.integration_id in self.refused for w in writes):
            raise DataRejected("the database refused the data", "IntegrityError")

    def _apply(self, write: InboxWrite) -> set[str]:
        new = set()
        for entry in write.entries:
            key = (write.integration_id, entry.event_id)
            if key not in self.seen:
                self.seen.add(key)
                new.add(entry.event_id)
        return new

    async def record(
        self, integration_id: int, entries: Sequence[InboxEntry], now: float
    ) -> set[str]:
        write = InboxWrite(integration_id, entries)
        self.single_writes += 1
        self._check([write])
        return self._apply(write)

    async def record_many(self, writes: Sequence[InboxWrite], now: float) -> list[set[str]]:
        if self.gate is not None:
            gate, self.gate = self.gate, None
            self.held.set()
            await gate.wait()
        self.groups.append(len(writes))
        self._check(writes)
        return [self._apply(w) for w in writes]

    async def quarantine(
        self,
        integration_id: int,
        reason: str,
        raw_body: bytes,
        *,
        request_id: str,
        now: float,
        caps: QuarantineCaps,
    ) -> QuarantineResult:
        self._check([])
        self.quarantined.append((integration_id, reason, raw_body))
        return QuarantineResult(len(self.quarantined), 0, 0)


def _integration(integration_id: int) -> Integration:
    return Integration(
        id=integration_id,
        name=f"tenant{integration_id}",
        display_name="Acme",
        company="Acme AB",
        market="SE",
        enabled=True,
        bloomreach=BloomreachAccess("http://br", "token", "key", "secret"),
        sitoo=SitooAccess(1, "http://sitoo", "id", "pw", 1),
        hard_id_name="registered",
        hard_id_source_field="email",
        field_mappings=(),
        consent_types=(),
    )


def _events(batch: int, size: int = 3) -> list[IncomingEvent]:
    return [
        IncomingEvent(f"b{batch}-{n}", "order", 1_700_000_000, 1, 1, 1000 * batch + n + 1)
        for n in range(size)
    ]


def _service(inbox: InboxStore) -> IngestService:
    return IngestService(inbox, CoreMetrics.create(), clock=lambda: 1_700_000_000.0)


def test_batches_arriving_during_a_write_share_the_next_one() -> None:
    async def run() -> None:
        inbox = FakeInbox()
        gate = asyncio.Event()
        inbox.gate = gate
        ingest = _service(inbox)
        try:
            first = asyncio.create_task(ingest.ingest(_integration(1), _events(0), b"", "", "r"))
            await inbox.held.wait()  # the first group is being written
            rest = [
                asyncio.create_task(ingest.ingest(_integration(1), _events(n), b"", "", "r"))
                for n in (1, 2, 3, 1)
            ]
            for _ in range(10):  # yields (no wall time): the new batches reach the queue
                await asyncio.sleep(0)
            gate.set()
            results = await asyncio.gather(first, *rest)
        finally:
            await ingest.close()
        assert inbox.groups == [1, 4]
        accepted = [(f"b1-{n}", Outcome.ACCEPTED) for n in range(3)]
        assert results[1] == accepted
        assert results[4] == [(f"b1-{n}", Outcome.DUPLICATE) for n in range(3)]
        assert results[3] == [(f"b3-{n}", Outcome.ACCEPTED) for n in range(3)]
        assert inbox.single_writes == 0

    asyncio.run(run())


def test_a_refused_group_is_written_batch_by_batch_and_only_the_bad_batch_fails() -> None:
    async def run() -> None:
        inbox = FakeInbox()
        inbox.refused = {99}
        gate = asyncio.Event()
        inbox.gate = gate
        ingest = _service(inbox)
        try:
            first = asyncio.create_task(ingest.ingest(_integration(1), _events(0), b"", "", "r"))
            await inbox.held.wait()  # the first group is being written
            good = asyncio.create_task(ingest.ingest(_integration(1), _events(1), b"", "", "r"))
            bad = asyncio.create_task(ingest.ingest(_integration(99), _events(2), b"", "", "r"))
            for _ in range(10):  # yields (no wall time): the new batches reach the queue
                await asyncio.sleep(0)
            gate.set()
            results = await asyncio.gather(first, good, bad, return_exceptions=True)
        finally:
            await ingest.close()
        assert inbox.groups == [1, 2]  # the group of two was refused whole ...
        assert inbox.single_writes == 2  # ... then each batch went alone
        assert results[1] == [(f"b1-{n}", Outcome.ACCEPTED) for n in range(3)]
        assert isinstance(results[2], UpstreamUnavailable)
        assert isinstance(results[2].__cause__, DataRejected)

    asyncio.run(run())


def test_a_lone_refused_batch_is_not_written_again() -> None:
    async def run() -> None:
        inbox = FakeInbox()
        inbox.refused = {99}
        ingest = _service(inbox)
        try:
            with pytest.raises(UpstreamUnavailable):
                await ingest.ingest(_integration(99), _events(0), b"", "", "r")
        finally:
            await ingest.close()
        assert inbox.groups == [1]
        assert inbox.single_writes == 0

    asyncio.run(run())


def test_a_lost_connection_is_retried_once_and_nothing_is_doubled() -> None:
    async def run() -> None:
        inbox = FakeInbox()
        inbox.fail = [ConnectionLost("the database is unavailable", "DBAPIError")]
        ingest = _service(inbox)
        try:
            result = await ingest.ingest(_integration(1), _events(0), b"", "", "r")
        finally:
            await ingest.close()
        assert result == [(f"b0-{n}", Outcome.ACCEPTED) for n in range(3)]
        assert inbox.groups == [1, 1]

    asyncio.run(run())


@pytest.mark.parametrize(
    "failures",
    [
        # Lost twice in a row: the database is really gone.
        [ConnectionLost("x", "DBAPIError"), ConnectionLost("x", "DBAPIError")],
        # Unavailable (not a dropped connection): no retry, Sitoo retries later.
        [StorageUnavailable("x", "OperationalError")],
    ],
)
def test_a_database_that_stays_away_answers_retry_later(failures: list[StorageError]) -> None:
    async def run() -> None:
        inbox = FakeInbox()
        inbox.fail = list(failures)
        ingest = _service(inbox)
        try:
            with pytest.raises(UpstreamUnavailable):
                await ingest.ingest(_integration(1), _events(0), b"", "", "r")
        finally:
            await ingest.close()
        assert len(inbox.groups) == len(failures)
        assert inbox.seen == set()

    asyncio.run(run())


def test_a_malformed_batch_is_quarantined_verbatim_and_refused() -> None:
    async def run() -> None:
        inbox = FakeInbox()
        ingest = _service(inbox)
        try:
            with pytest.raises(InvalidArgument):
                await ingest.ingest(_integration(1), [], b"{not json", "", "r")
        finally:
            await ingest.close()
        assert inbox.quarantined == [(1, "the body must hold 1 to 10 events", b"{not json")]
        assert inbox.groups == []

    asyncio.run(run())


def test_a_malformed_batch_that_cannot_be_quarantined_is_retried_not_lost() -> None:
    async def run() -> None:
        inbox = FakeInbox()
        inbox.fail = [StorageUnavailable("x", "OperationalError")]
        ingest = _service(inbox)
        try:
            with pytest.raises(UpstreamUnavailable):
                await ingest.ingest(_integration(1), [], b"{not json", "", "r")
        finally:
            await ingest.close()
        assert inbox.quarantined == []

    asyncio.run(run())
