"""Start-up patience: a process started before its database (a fresh deployment, a database
restart, an orchestrator starting everything at once) waits for it, with backoff, instead of
dying on the first refused connection."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

SETTING = "SITOO_BR_DATABASE_STARTUP_TIMEOUT_SECONDS"
FIRST_DELAY_S = 0.25
MAX_DELAY_S = 5.0
# One attempt never takes longer than this (asyncpg's own connect timeout is 60 s; a host
# that drops packets would otherwise eat the whole window in one try).
ATTEMPT_TIMEOUT_S = 10.0


class DatabaseUnreachableError(Exception):
    """The database did not answer within the start-up window."""


def _unreachable(exc: BaseException) -> bool:
    """Errors that mean "not there (yet)", as opposed to a database that answered and said no
    in a way waiting will not change (those propagate at once)."""
    if isinstance(exc, OSError | TimeoutError | OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _reason(exc: BaseException) -> str:
    # SQLAlchemy's wrapper adds the statement and a help link; the driver's own error is the
    # useful part, and it never holds the password.
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    message = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    name = type(cause).__name__
    return f"{name}: {message}" if message else name


async def _probe(engine: AsyncEngine, timeout: float) -> None:
    async with asyncio.timeout(timeout), engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def wait_until_reachable(
    engine: AsyncEngine,
    timeout_s: float,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Returns once the database answers; raises DatabaseUnreachableError, naming the setting,
    when it has not answered within ``timeout_s`` seconds (0 = one try)."""
    where = engine.url.render_as_string(hide_password=True)
    deadline = time.monotonic() + timeout_s
    delay = FIRST_DELAY_S
    attempt = 0
    while True:
        attempt += 1
        remaining = deadline - time.monotonic()
        try:
            await _probe(engine, max(1.0, min(ATTEMPT_TIMEOUT_S, remaining)))
        except Exception as exc:
            if not _unreachable(exc):
                raise
            reason = _reason(exc)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DatabaseUnreachableError(
                    f"the database at {where} did not answer within {timeout_s:g} s "
                    f"({attempt} attempts; last: {reason}); start it or raise {SETTING}"
                ) from None
            pause = min(delay * random.uniform(0.8, 1.2), remaining)  # noqa: S311 - jitter
            log.warning(
                "database not reachable yet; retrying",
                extra={
                    "database": where,
                    "reason": reason,
                    "attempt": attempt,
                    "retry_in_seconds": round(pause, 2),
                    "gives_up_in_seconds": round(remaining, 1),
                    "setting": SETTING,
                },
            )
            await sleep(pause)
            delay = min(delay * 2, MAX_DELAY_S)
            continue
        if attempt > 1:
            log.info("database reachable", extra={"database": where, "attempt": attempt})
        return
