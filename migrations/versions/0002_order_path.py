"""order path: tracked orders, outbox generation, claim index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "state IN ('pending', 'in_flight')"


def upgrade() -> None:
    op.create_table(
        "tracked_orders",
        sa.Column(
            "integration_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("order_key", sa.String(length=100), nullable=False),
        sa.Column("purchase_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("commands", sa.Integer(), nullable=False),
        sa.Column("tracked_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_tracked_orders_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("integration_id", "order_key", name=op.f("pk_tracked_orders")),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("generation", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.drop_index("ix_outbox_due")
        # The relay's claim: open messages in due order. Partial, so a backlog of finished
        # messages never slows it, and ordered, so LIMIT stops after one batch.
        batch_op.create_index(
            "ix_outbox_claim",
            ["available_at"],
            unique=False,
            sqlite_where=sa.text(OPEN),
            postgresql_where=sa.text(OPEN),
        )
        batch_op.create_index("ix_outbox_state", ["state", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_state")
        batch_op.drop_index("ix_outbox_claim")
        batch_op.create_index("ix_outbox_due", ["state", "available_at"], unique=False)
        batch_op.drop_column("generation")
    op.drop_table("tracked_orders")
