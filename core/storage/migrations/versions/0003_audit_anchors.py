"""Audit anchors: each task row records its last audit link, and the head may carry an HMAC.

A chain whose tail (or whole) was deleted and whose head was moved back verifies by itself;
the tasks table is the witness outside it (decision 0023). Rows stored before this revision
have no anchor: `audit verify` asks only that some event names them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("audit_seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("audit_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("audit_mac", sa.String(64), nullable=True))
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("mac", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("mac")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("audit_mac")
        batch.drop_column("audit_hash")
        batch.drop_column("audit_seq")
