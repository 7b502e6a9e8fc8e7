"""``pingyi departments …``: import departments from CSV and list them."""

from pathlib import Path
from typing import Annotated

import typer

from app.cli_support import reported_errors
from app.db import session_scope
from app.departments import service as department_service

departments_cli = typer.Typer(no_args_is_help=True, help="Departments that campaigns rate.")


@departments_cli.command("import")
def departments_import(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Create or update departments from a CSV file (code,name,category[,name_en])."""
    with reported_errors(), session_scope() as session:
        report = department_service.import_csv(session, file.read_bytes())
    typer.echo(f"{report.created} created, {report.updated} updated")


@departments_cli.command("list")
def departments_list() -> None:
    with session_scope() as session:
        for department in department_service.list_departments(session):
            typer.echo(f"{department.code}\t{department.category}\t{department.name}")
