"""flows: the event reminder sends at once (the gatherings job now picks the moment)

Revision ID: 7a3e5c1d9b62
Revises: 5d2c7e9a1b40
Create Date: 2026-12-07 05:30:00+00:00

The ``event_reminder`` preset used to wait until 10:00 after its trigger; the gatherings
job now emits the trigger at 10:00 on the day before (or, missed, at its first run before
the event starts), so that wait would push the reminder to the next day. A stored flow
whose first step is exactly the old preset's wait loses that step; any other edit the
owner made is kept. Enrolments waiting on it go on with the send (the engine's rule for
a removed step).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "7a3e5c1d9b62"
down_revision: str | Sequence[str] | None = "5d2c7e9a1b40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_WAIT = {"key": "morning", "type": "wait", "minutes": 1, "at": "10:00"}

flows = sa.table(
    "flows",
    sa.column("id", sa.Uuid()),
    sa.column("key", sa.String()),
    sa.column("definition", sa.JSON()),
)


def _steps(definition: Any) -> list[Any]:
    steps = definition.get("steps") if isinstance(definition, dict) else None
    return steps if isinstance(steps, list) else []


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(flows.c.id, flows.c.definition).where(flows.c.key == "event_reminder")
    ).all()
    for flow_id, definition in rows:
        steps = _steps(definition)
        if len(steps) > 1 and steps[0] == OLD_WAIT:
            changed = {**definition, "steps": steps[1:]}
            bind.execute(flows.update().where(flows.c.id == flow_id).values(definition=changed))


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(flows.c.id, flows.c.definition).where(flows.c.key == "event_reminder")
    ).all()
    for flow_id, definition in rows:
        steps = _steps(definition)
        if steps and steps[0] != OLD_WAIT:
            changed = {**definition, "steps": [OLD_WAIT, *steps]}
            bind.execute(flows.update().where(flows.c.id == flow_id).values(definition=changed))
