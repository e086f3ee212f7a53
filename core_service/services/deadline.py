"""The time left to answer the caller, shared by every upstream call of one request."""

from __future__ import annotations

import time
from dataclasses import dataclass

from core_service.domain.errors import UpstreamTimeout

# Time kept back to turn an upstream failure into an answer before the caller gives up.
ANSWER_MARGIN_S = 0.2


@dataclass(frozen=True)
class Deadline:
    expires_at: float  # time.monotonic()

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(time.monotonic() + (seconds if seconds is not None else 3600.0))

    def left(self) -> float:
        """Seconds an upstream call may still take (the answer margin kept back)."""
        return self.expires_at - time.monotonic() - ANSWER_MARGIN_S

    def timeout(self, cap: float) -> float:
        """The timeout for the next upstream call: at most ``cap``, and never past the
        caller's deadline minus the answer margin."""
        left = self.left()
        if left <= 0:
            raise UpstreamTimeout("no time left to call Bloomreach within the caller's deadline")
        return min(cap, left)
