"""Sign-in throttling: guessing the admin token from one address gets slower and slower.

The admin token is long and random when issued by us, but an operator may set a weak one. A
few mistakes are free; after that, each further failure locks the address out for twice as
long as the last (1 s, 2 s, 4 s, ... up to 15 minutes). While locked out, even the right token
is refused, or guessing would simply carry on. A success clears the address. Memory is
bounded: the least recently failing addresses are forgotten first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Failures:
    count: int
    locked_until: float


class SignInThrottle:
    def __init__(
        self,
        *,
        free_failures: int = 5,
        first_lockout_s: float = 1.0,
        max_lockout_s: float = 900.0,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = free_failures
        self._first = first_lockout_s
        self._max = max_lockout_s
        self._max_addresses = max_addresses
        self._clock = clock
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def retry_after(self, address: str) -> float:
        """Seconds until ``address`` may try again; 0 when it may now."""
        found = self._failures.get(address)
        if found is None:
            return 0.0
        return max(0.0, found.locked_until - self._clock())

    def failed(self, address: str) -> None:
        found = self._failures.pop(address, None) or _Failures(0, 0.0)
        found.count += 1
        beyond = found.count - self._free
        if beyond > 0:
            lockout = min(self._max, self._first * 2 ** min(beyond - 1, 30))
            found.locked_until = self._clock() + lockout
        self._failures[address] = found  # most recent last
        while len(self._failures) > self._max_addresses:
            self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)
