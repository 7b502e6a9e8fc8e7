"""Downgrades drop tables and columns, so they need the operator to say so after a backup.

``pingyi db downgrade REVISION --destroy-data`` and ``alembic -x destroy_data=yes downgrade``
confirm; ``migrations/env.py`` refuses any other downgrade with :class:`DowngradeRefused`,
naming what would be lost (:func:`data_lost_by`), before its first step runs.
"""

import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from alembic.script import Script
from alembic.util import CommandError

from app.errors import PingyiError
from app.i18n import N_
from app.ops.schema import alembic_config


class DowngradeNeedsConfirmation(PingyiError):
    code = "downgrade_destroys_data"
    message = N_(
        "Refusing to downgrade to %(revision)s: the data in %(tables)s would be lost. "
        "Take a backup first, then run again with --destroy-data."
    )


class DowngradeFailed(PingyiError):
    code = "downgrade_failed"
    message = N_("Cannot downgrade to %(revision)s: %(reason)s")


def downgrade(revision: str, *, destroy_data: bool) -> None:
    """Migrate the database down to ``revision``; refuse if data would be lost unconfirmed."""
    from alembic import command

    config = alembic_config(destroy_data=destroy_data, configure_logging=False)  # one line
    try:
        command.downgrade(config, revision)
    except DowngradeRefused as refusal:
        raise DowngradeNeedsConfirmation(
            revision=revision, tables=", ".join(refusal.loss.affected())
        ) from refusal
    except CommandError as error:  # an unknown revision, or one above the current
        raise DowngradeFailed(revision=revision, reason=str(error)) from error


@dataclass
class DataLoss:
    """What a downgrade would destroy: dropped tables and columns, deleted or changed rows."""

    dropped_tables: list[str] = field(default_factory=list)
    dropped_columns: list[str] = field(default_factory=list)  # "table.column"
    changed_tables: list[str] = field(default_factory=list)  # rows deleted or rewritten
    unreadable_revisions: list[str] = field(default_factory=list)  # could not be analysed

    def __bool__(self) -> bool:
        return bool(
            self.dropped_tables
            or self.dropped_columns
            or self.changed_tables
            or self.unreadable_revisions
        )

    def affected(self) -> list[str]:
        """Every table (or ``table.column``) whose data would be lost."""
        unreadable = [f"(revision {revision})" for revision in self.unreadable_revisions]
        return [*self.dropped_tables, *self.dropped_columns, *self.changed_tables, *unreadable]

    def describe(self) -> str:
        """The tables that lose data, in one line."""
        parts = []
        if self.dropped_tables:
            parts.append("drops tables " + ", ".join(self.dropped_tables))
        if self.dropped_columns:
            parts.append("drops columns " + ", ".join(self.dropped_columns))
        if self.changed_tables:
            parts.append("deletes or rewrites rows of " + ", ".join(self.changed_tables))
        if self.unreadable_revisions:
            parts.append(
                "runs downgrades that could not be checked ("
                + ", ".join(self.unreadable_revisions)
                + ")"
            )
        return "; ".join(parts)


_DROP_TABLE = re.compile(r"^DROP TABLE (?:IF EXISTS )?\"?(\w+)\"?", re.IGNORECASE)
_DROP_COLUMN = re.compile(
    r"^ALTER TABLE \"?(\w+)\"? DROP COLUMN (?:IF EXISTS )?\"?(\w+)\"?", re.IGNORECASE
)
_CHANGE_ROWS = re.compile(r"^(?:DELETE FROM|UPDATE|TRUNCATE(?: TABLE)?) \"?(\w+)\"?", re.IGNORECASE)


def data_lost_by(scripts: Sequence[Script]) -> DataLoss:
    """What running these revisions' ``downgrade()`` in order would destroy.

    Each downgrade is rendered as PostgreSQL SQL without a database (Alembic's offline mode)
    and its statements read: DROP TABLE, ALTER TABLE … DROP COLUMN, DELETE, UPDATE, TRUNCATE.
    A downgrade that cannot be rendered offline (it reads the database) counts as destructive.
    """
    loss = DataLoss()
    migration_log = logging.getLogger("alembic.runtime.migration")
    level = migration_log.level
    migration_log.setLevel(logging.WARNING)  # not "Generating static SQL" for each revision
    try:
        for script in scripts:
            _record_downgrade(loss, script)
    finally:
        migration_log.setLevel(level)
    dropped = set(loss.dropped_tables)
    loss.dropped_columns = [c for c in loss.dropped_columns if c.split(".")[0] not in dropped]
    loss.changed_tables = [t for t in loss.changed_tables if t not in dropped]
    return loss


def _record_downgrade(loss: DataLoss, script: Script) -> None:
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    output = io.StringIO()
    context = MigrationContext.configure(
        dialect_name="postgresql", opts={"as_sql": True, "output_buffer": output}
    )
    try:
        with Operations.context(context):
            script.module.downgrade()
    except Exception:  # it needs a live database: assume the worst
        loss.unreadable_revisions.append(script.revision)
        return
    for statement in output.getvalue().split(";"):
        _record_statement(loss, statement.strip())


def _record_statement(loss: DataLoss, statement: str) -> None:
    if match := _DROP_TABLE.match(statement):
        _append_once(loss.dropped_tables, match[1])
    elif match := _DROP_COLUMN.match(statement):
        _append_once(loss.dropped_columns, f"{match[1]}.{match[2]}")
    elif match := _CHANGE_ROWS.match(statement):
        _append_once(loss.changed_tables, match[1])


def _append_once(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


class DowngradeRefused(CommandError):
    """A downgrade that would destroy data, run without the operator's confirmation."""

    def __init__(self, loss: DataLoss) -> None:
        self.loss = loss
        super().__init__(
            f"Refusing to downgrade: it {loss.describe()}, and their data is lost. "
            "Take a backup first, then confirm with `pingyi db downgrade REVISION "
            "--destroy-data` (or `alembic -x destroy_data=yes downgrade REVISION`)."
        )
