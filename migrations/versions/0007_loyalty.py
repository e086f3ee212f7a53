"""loyalty: the redemption ledger and the per-integration offer settings (issue 14)

Revision ID: 0007_loyalty
Revises: 0006
Create Date: 2026-11-30 09:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_loyalty"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("loyalty", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
        )
    op.create_table(
        "loyalty_redemptions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("integration_id", _ID, nullable=False),
        sa.Column("customer_key", sa.String(length=64), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_call", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.Double(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_loyalty_redemptions_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_redemptions")),
        # The race guard: two tills redeeming one offer meet on this key.
        sa.UniqueConstraint(
            "integration_id",
            "customer_key",
            "item_kind",
            "item_id",
            name=op.f("uq_loyalty_redemptions_integration_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("loyalty_redemptions")
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_column("loyalty")
