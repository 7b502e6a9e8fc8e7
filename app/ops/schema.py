"""The database schema against this code: where the migrations are, whether the schema is one
this code can run on, and whether it drifted from the models. (Downgrades: ``app.ops.db_cli``.)

Releases follow expand/contract. A migration that only adds (a table, a nullable column) keeps
the earlier revisions listed in ``schema_compatibility``, so replicas of the previous release
stay ready while the others are replaced one by one; a migration that removes or changes what
older code relies on lists only its own revision, and older replicas report "behind".
"""

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, inspect, select, text

from app.config import PROJECT_ROOT

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

# Alembic is imported when first used rather than with this module (about 0.25 s that every
# server process would otherwise pay at start-up, before it can answer).

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
DESTROY_DATA_ATTRIBUTE = "destroy_data"  # config.attributes key: the operator confirmed

SchemaStatus = Literal["head", "compatible", "behind"]


def alembic_config(
    connection: Connection | None = None,
    *,
    destroy_data: bool = False,
    configure_logging: bool = True,
    script_location: Path = MIGRATIONS_DIR,
) -> "Config":
    """An Alembic configuration that works from any working directory.

    The migrations are found beside the installed ``app`` package, not relative to the current
    directory; the database comes from PINGYI_DATABASE_URL unless ``connection`` is given.
    ``destroy_data`` is the operator's confirmation that a downgrade may drop data.
    """
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI) if ALEMBIC_INI.exists() else None)
    config.set_main_option("script_location", str(script_location))
    config.attributes["configure_logging"] = configure_logging
    config.attributes[DESTROY_DATA_ATTRIBUTE] = destroy_data
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_directory(script_location: Path = MIGRATIONS_DIR) -> "ScriptDirectory":
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(script_location=script_location))


_REVISION_LINE = re.compile(r"^revision\s*(?::[^=]*)?=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION_LINE = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)


@lru_cache
def release_revisions(
    script_location: Path = MIGRATIONS_DIR,
) -> tuple[frozenset[str], frozenset[str]]:
    """This code's head revisions and all its revisions, read from the migration files'
    headers: the same as Alembic's script directory says (a test checks), without importing
    Alembic, which would cost every command about a quarter of a second."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (script_location / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        match = _REVISION_LINE.search(source)
        if match is None:
            continue
        revisions.add(match.group(1))
        down = _DOWN_REVISION_LINE.search(source)
        if down is not None:
            parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    return frozenset(revisions - parents), frozenset(revisions)


def code_head(script_location: Path = MIGRATIONS_DIR) -> str:
    """The newest migration this code was built with (its "application revision")."""
    heads, _ = release_revisions(script_location)
    if len(heads) != 1:  # pragma: no cover - the repository keeps one line of migrations
        raise RuntimeError(f"expected one head migration in {script_location}, found {heads}")
    return next(iter(heads))


def database_heads(connection: Connection) -> frozenset[str]:
    """The revisions the database says it is at (empty before the first migration)."""
    if not inspect(connection).has_table("alembic_version"):
        return frozenset()
    return frozenset(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def schema_status(connection: Connection, script_location: Path = MIGRATIONS_DIR) -> SchemaStatus:
    """Whether this code can serve the database's schema.

    "head": the database is at this code's newest migration. "compatible": the database is at
    a migration this code does not know (a newer release's) and that migration listed this
    code's revision in ``schema_compatibility``. "behind": anything else, either the database
    still needs ``pingyi db upgrade`` or a newer release contracted the schema.
    """
    head = code_head(script_location)
    heads = database_heads(connection)
    if heads == {head}:
        return "head"
    if not heads or _all_known(heads, script_location):
        return "behind"  # older than this code (or a branch of it): it needs an upgrade
    if not inspect(connection).has_table("schema_compatibility"):
        return "behind"
    from app.ops.models import SchemaCompatibility

    listed = connection.scalars(
        select(SchemaCompatibility.revision).where(SchemaCompatibility.revision == head)
    ).first()
    return "compatible" if listed is not None else "behind"


def _all_known(revisions: Iterable[str], script_location: Path) -> bool:
    _, known = release_revisions(script_location)
    return all(revision in known for revision in revisions)


def schema_drift(connection: Connection) -> list[str]:
    """Differences between the database and the models, one human line each (none: empty).

    Meaningful when the database is at this code's head; a database a newer, compatible
    release has expanded has more than the models know of.
    """
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import app.all_models  # noqa: F401 - registers every table on Base.metadata
    from app.db import Base

    context = MigrationContext.configure(connection, opts={"compare_type": True})
    differences = compare_metadata(context, Base.metadata)
    return [_describe_difference(difference) for difference in differences]


def _describe_difference(difference: Any) -> str:
    """One line for an Alembic autogenerate difference, from the database's point of view."""
    if isinstance(difference, list):  # modify_* differences come grouped per column
        return "; ".join(_describe_difference(item) for item in difference)
    kind = difference[0]
    if kind in {"add_table", "remove_table"}:
        table = difference[1]
        where = "missing from the database" if kind == "add_table" else "not in the models"
        return f"table {table.name} is {where}"
    if kind in {"add_column", "remove_column"}:
        _, _, table_name, column = difference
        where = "missing from the database" if kind == "add_column" else "not in the models"
        return f"column {table_name}.{column.name} is {where}"
    if kind in {"add_index", "remove_index", "add_constraint", "remove_constraint"}:
        item = difference[1]
        noun = "index" if kind.endswith("index") else "constraint"
        where = "missing from the database" if kind.startswith("add") else "not in the models"
        return f"{noun} {item.name} on {item.table.name} is {where}"
    if kind in {"add_fk", "remove_fk"}:
        foreign_key = difference[1]
        where = "missing from the database" if kind == "add_fk" else "not in the models"
        return f"foreign key {foreign_key.name} on {foreign_key.parent.name} is {where}"
    if kind.startswith("modify_"):
        _, _, table_name, column_name, _, database_value, model_value = difference
        what = kind.removeprefix("modify_")
        return (
            f"column {table_name}.{column_name}: {what} is {database_value} in the database, "
            f"{model_value} in the models"
        )
    return f"{kind}: {difference[1:]}"  # a kind this function does not word yet
