"""glibc's malloc arenas, capped for a long-running asyncio process with helper threads.

glibc gives each thread that allocates its own arena (up to 8 per core) and keeps the memory
freed into it; in a serving process the gRPC event-engine threads and one thread per
aiosqlite connection each grow an arena that stays resident. Two arenas keep the core about
3 MB lower under load (docs/operations.md, "Memory"). `malloc_trim` after start-up was tried
and gave nothing back: start-up garbage is Python's own (pymalloc), not malloc's.

Elsewhere (musl, macOS) the cap is skipped: the process runs as it did.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def _libc() -> ctypes.CDLL | None:
    """The C library the interpreter runs on (its symbols are the process's own), if it
    has mallopt."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") else None


def limit_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas (0 = glibc's default). Call before the process starts any
    thread: arenas already made stay. Returns whether the cap was applied."""
    if arenas <= 0:
        return False
    libc = _libc()
    if libc is None:
        return False
    applied = bool(libc.mallopt(ctypes.c_int(M_ARENA_MAX), ctypes.c_int(arenas)))
    if not applied:
        log.warning("malloc arena limit %d not applied", arenas)
    return applied
