"""Tables. Times are Unix seconds as floats: portable across SQLite and PostgreSQL, and
what the relay compares against its clock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Explicit constraint names: Alembic's batch mode on SQLite and downgrades need them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Meta(Base):
    """Small key/value facts about the installation (e.g. the master-key canary)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class IntegrationRow(Base):
    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    company: Mapped[str] = mapped_column(String(200), default="")
    market: Mapped[str] = mapped_column(String(2), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    bloomreach_api_base_url: Mapped[str] = mapped_column(String(500), default="")
    bloomreach_project_token: Mapped[str] = mapped_column(String(200), default="")
    bloomreach_api_key_id: Mapped[str] = mapped_column(String(200), default="")
    bloomreach_api_secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)

    hard_id_name: Mapped[str] = mapped_column(String(100), default="registered")
    hard_id_source_field: Mapped[str] = mapped_column(String(100), default="email")
    field_mappings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    consent_types: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    channel_categories: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    enrichment_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    sitoo_account_id: Mapped[int] = mapped_column(BigInteger, default=0)
    sitoo_api_base_url: Mapped[str] = mapped_column(String(500), default="")
    sitoo_api_id: Mapped[str] = mapped_column(String(200), default="")
    sitoo_api_password_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    sitoo_site_id: Mapped[int] = mapped_column(BigInteger, default=1)

    spi_username: Mapped[str] = mapped_column(String(100))
    spi_password_hash: Mapped[str] = mapped_column(String(128))
    webhook_username: Mapped[str] = mapped_column(String(100))
    webhook_password_hash: Mapped[str] = mapped_column(String(128))

    created_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)
    # Issue 15 (revision 0008): outage behaviour, per integration.
    cached_reads: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    queued_writes: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    card_cache_max_cards: Mapped[int] = mapped_column(
        Integer, default=100_000, server_default="100000"
    )
    card_cache_ttl_seconds: Mapped[int] = mapped_column(
        Integer, default=2_592_000, server_default="2592000"
    )


class InboxEvent(Base):
    """Every Sitoo event id we acknowledged: the dedupe key for webhook redeliveries."""

    __tablename__ = "inbox_events"
    __table_args__ = (UniqueConstraint("integration_id", "event_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(40))
    event_date: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(16))
    # Indexed for the retention purge (oldest first, in bounded chunks).
    received_at: Mapped[float] = mapped_column(Double, index=True)


OPEN_STATES = ("pending", "in_flight")


class OutboxMessage(Base):
    """One unit of delivery work: an order to fetch from Sitoo and track in Bloomreach."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        # At most one open message per order: new events for it coalesce into that message.
        Index(
            "uq_outbox_open_order",
            "integration_id",
            "order_key",
            unique=True,
            sqlite_where=text("state IN ('pending', 'in_flight')"),
            postgresql_where=text("state IN ('pending', 'in_flight')"),
        ),
        # The relay's claim query: open messages in due order (an in-flight message's
        # available_at is its lease expiry, so a crashed worker's messages come due again).
        Index(
            "ix_outbox_claim",
            "available_at",
            sqlite_where=text("state IN ('pending', 'in_flight')"),
            postgresql_where=text("state IN ('pending', 'in_flight')"),
        ),
        # Operators list messages by state (e.g. dead) in id order.
        Index("ix_outbox_state", "state", "id"),
        # Backfill and reconcile: has this order ever had a message?
        Index("ix_outbox_order", "integration_id", "order_key"),
        # The retention purge: delivered and skipped messages finished before a cut-off.
        Index("ix_outbox_finished", "state", "finished_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), index=True
    )
    order_key: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="order")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[float] = mapped_column(Double)
    lease_expires_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    skip_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)
    finished_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    # Bumped by every event coalesced into an open message: a relay that claimed an older
    # generation must not close the message on stale information.
    generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class TrackedOrder(Base):
    """The exactly-once record: an order listed here has reached Bloomreach and is never
    tracked again. Written in the transaction that marks its message delivered."""

    __tablename__ = "tracked_orders"

    integration_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True
    )
    order_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    purchase_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[int] = mapped_column(BigInteger)
    commands: Mapped[int] = mapped_column(Integer)
    tracked_at: Mapped[float] = mapped_column(Double)


class QuarantinedPayload(Base):
    """Authenticated but malformed webhook bodies, kept verbatim for inspection."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), index=True
    )
    received_at: Mapped[float] = mapped_column(Double, index=True)  # the retention purge
    reason: Mapped[str] = mapped_column(Text)
    raw_body: Mapped[bytes] = mapped_column(LargeBinary)
    request_id: Mapped[str] = mapped_column(String(100), default="")


class BackfillJob(Base):
    """The resumable cursor of one backfill or reconcile window: orders up to
    ``cursor_order_id`` (Sitoo order ids increase) have been enqueued or found known."""

    __tablename__ = "backfill_jobs"
    __table_args__ = (UniqueConstraint("integration_id", "job_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("integrations.id", ondelete="CASCADE")
    )
    job_key: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # backfill | reconcile
    from_date: Mapped[int] = mapped_column(BigInteger)
    to_date: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))  # running | done
    cursor_order_id: Mapped[int] = mapped_column(BigInteger)
    scanned: Mapped[int] = mapped_column(BigInteger)
    enqueued: Mapped[int] = mapped_column(BigInteger)
    already_known: Mapped[int] = mapped_column(BigInteger)
    runs: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)
    finished_at: Mapped[float | None] = mapped_column(Double, nullable=True)


class ValidationRun(Base):
    """The outcome of each `integration validate`, so every console and CLI sees the last one."""

    __tablename__ = "validation_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), index=True
    )
    ran_at: Mapped[float] = mapped_column(Double)
    passed: Mapped[bool] = mapped_column(Boolean)
    # [{name, passed, skipped, detail, remedy}] — details and remedies name settings, never
    # secrets (the checks are written that way; validation's tests check it).
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class ApiClientRow(Base):
    """A named caller of the gRPC API (an internal service) and the scopes it holds. The
    built-in `edge` and `admin` clients come from process settings and have no row."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated
    # Common name of the client certificate mapped to this client (mTLS); NULL = tokens only.
    tls_subject: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    created_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)


class ApiClientTokenRow(Base):
    """One bearer token of a client: the public key id it starts with, and a keyed
    HMAC-SHA256 verifier of the whole token (never the token). A client has one current
    token and, during a rotation, the previous one until ``expires_at``."""

    __tablename__ = "api_client_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("api_clients.id", ondelete="CASCADE"), index=True
    )
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    verifier: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Double)
    expires_at: Mapped[float | None] = mapped_column(Double, nullable=True)


class CachedCardRow(Base):
    """A customer card as the core last built it (issue 15), sealed: AES-GCM under the
    master key, associated data = the integration and the customer's digest. ``customer_digest``
    is a keyed HMAC of the integration and the customer_id, never the id itself."""

    __tablename__ = "card_cache"
    __table_args__ = (
        UniqueConstraint("integration_id", "customer_digest"),
        # The count bound evicts the oldest of an integration first.
        Index("ix_card_cache_integration_stored", "integration_id", "stored_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("integrations.id", ondelete="CASCADE")
    )
    customer_digest: Mapped[str] = mapped_column(String(64))
    sealed_card: Mapped[str] = mapped_column(Text)
    stored_at: Mapped[float] = mapped_column(Double)
    expires_at: Mapped[float] = mapped_column(Double, index=True)  # TTL and the purge


class CachedCardKeyRow(Base):
    """A search key a cached card is found by: keyed digest of integration, key type and the
    normalised key (e-mail, mobile, member number, customer_id), never the key itself."""

    __tablename__ = "card_cache_keys"

    integration_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True
    )
    key_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    card_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("card_cache.id", ondelete="CASCADE"), index=True
    )
