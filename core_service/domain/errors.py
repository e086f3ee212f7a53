"""Domain errors. The gRPC layer maps each to one status code; nothing else needs to know."""

from __future__ import annotations


class DomainError(Exception):
    """Base class; ``str(error)`` is safe to show to the caller (no secrets, no raw PII)."""


class InvalidArgument(DomainError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(DomainError):
    pass


class AlreadyExists(DomainError):
    pass


class Unauthenticated(DomainError):
    pass


class UnknownIntegration(Unauthenticated):
    """Answered exactly like a wrong password; only metrics tell the two apart, so that a
    scan of made-up names cannot grow a label set without bound."""


class PermissionDenied(DomainError):
    pass


class FailedPrecondition(DomainError):
    pass


class UpstreamUnavailable(DomainError):
    """Bloomreach, Sitoo or the database did not answer usefully; the caller may retry."""


class Overloaded(UpstreamUnavailable):
    """Shed before calling upstream: the call could not finish within the caller's deadline
    (issue 11). Retryable after ``retry_after_s``."""

    reason = "overloaded"

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class CircuitOpen(UpstreamUnavailable):
    """Refused before any call (issue 15 §3): Bloomreach failed several times in a row for
    this project and its circuit breaker's cool-down is not over, or another caller's probe is
    in flight. Readers fall back to the cache, writers to the outbox; retryable after
    ``retry_after_s``."""

    reason = "circuit-open"

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UpstreamRateLimited(DomainError):
    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TooManyRequests(DomainError):
    """The caller itself is over a limit of ours (not an upstream's); retry after a while."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UpstreamTimeout(DomainError):
    pass


class UpstreamMisconfigured(DomainError):
    """Our configuration of an upstream is wrong (e.g. Bloomreach refuses the integration's
    API key). Not the caller's fault and not transient: Sitoo's 502 ``bad-gateway``."""

    reason = "upstream-misconfigured"


class UpstreamRejected(DomainError):
    """The upstream refused a request we built (a 400 or ``success: false``); retrying the
    same request cannot help. Also a 502 for Sitoo."""

    reason = "upstream-rejected"


class StorageError(DomainError):
    """The database failed a call (raised by the adapters, which translate their driver's and
    SQLAlchemy's exceptions, so services decide on failures without knowing the database).
    ``cause`` names the original exception's type, for logs; the message holds no SQL."""

    def __init__(self, message: str, cause: str = "") -> None:
        super().__init__(message)
        self.cause = cause


class StorageUnavailable(StorageError):
    """The database did not answer usefully (down, restarting, out of connections); the
    same call may succeed later."""


class ConnectionLost(StorageUnavailable):
    """The server dropped the connection the call ran on (a pooled connection that a database
    restart invalidated); the call may be repeated at once on a fresh connection."""


class DataRejected(StorageError):
    """The database refused the data itself (a constraint or a value it cannot store);
    repeating the same write cannot help."""
