"""``pingyi services …``: import the service catalog (办事项目) from CSV or XLSX, list it."""

from pathlib import Path
from typing import Annotated

import typer

from app.cli_support import fail, reported_errors
from app.db import session_scope
from app.services import service as catalog_service
from app.services.importer import ServiceImportInvalid

services_cli = typer.Typer(no_args_is_help=True, help="Departments' services (办事项目公开).")


@services_cli.command("import")
def services_import(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Create or update services from a CSV or XLSX file (see docs/services.md)."""
    with reported_errors():
        try:
            with session_scope() as session:
                report = catalog_service.import_file(session, file.read_bytes())
        except ServiceImportInvalid as error:  # every problem, one a line
            problems = [f"  - {problem}" for problem in error.problems]
            fail("\n".join([error.translated(), *problems]))
    typer.echo(f"{report.created} created, {report.updated} updated")


@services_cli.command("list")
def services_list() -> None:
    """Every department's services, one per line: code, time limit, name."""
    with reported_errors(), session_scope() as session:
        for _, catalogs in catalog_service.catalog_by_category(session):
            for catalog in catalogs:
                for service in catalog.services:
                    typer.echo(f"{catalog.department.code}\t{service.time_limit}\t{service.name}")
