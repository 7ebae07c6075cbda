"""Task liveness and drift lookups: a heartbeat column, a comparable target key and its index.

The heartbeat lets a task running on another host be told from one whose process died;
`target_key` (absolute path for local targets) finds the previous task on the same target.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("target_key", sa.Text(), nullable=True))
    op.execute("UPDATE tasks SET target_key = target")
    op.create_index("ix_tasks_target_key_created", "tasks", ["target_key", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_target_key_created", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("target_key")
        batch.drop_column("heartbeat_at")
