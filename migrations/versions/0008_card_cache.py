"""card cache: sealed customer cards and their keyed search digests; outage settings per
integration (issue 15)

Revision ID: 0008_card_cache
Revises: 0006
Create Date: 2026-11-30 09:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_card_cache"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cached_reads", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("queued_writes", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("card_cache_max_cards", sa.Integer(), server_default="100000", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "card_cache_ttl_seconds", sa.Integer(), server_default="2592000", nullable=False
            )
        )
    op.create_table(
        "card_cache",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("integration_id", _ID, nullable=False),
        sa.Column("customer_digest", sa.String(length=64), nullable=False),
        sa.Column("sealed_card", sa.Text(), nullable=False),
        sa.Column("stored_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_card_cache_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_cache")),
        sa.UniqueConstraint(
            "integration_id", "customer_digest", name=op.f("uq_card_cache_integration_id")
        ),
    )
    with op.batch_alter_table("card_cache", schema=None) as batch_op:
        batch_op.create_index(
            "ix_card_cache_integration_stored", ["integration_id", "stored_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_card_cache_expires_at"), ["expires_at"], unique=False)
    op.create_table(
        "card_cache_keys",
        sa.Column("integration_id", _ID, nullable=False),
        sa.Column("key_digest", sa.String(length=64), nullable=False),
        sa.Column("card_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["card_cache.id"],
            name=op.f("fk_card_cache_keys_card_id_card_cache"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_card_cache_keys_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("integration_id", "key_digest", name=op.f("pk_card_cache_keys")),
    )
    with op.batch_alter_table("card_cache_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_cache_keys_card_id"), ["card_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("card_cache_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_cache_keys_card_id"))
    op.drop_table("card_cache_keys")
    with op.batch_alter_table("card_cache", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_cache_expires_at"))
        batch_op.drop_index("ix_card_cache_integration_stored")
    op.drop_table("card_cache")
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_column("card_cache_ttl_seconds")
        batch_op.drop_column("card_cache_max_cards")
        batch_op.drop_column("queued_writes")
        batch_op.drop_column("cached_reads")
