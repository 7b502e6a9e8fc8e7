"""``pingyi survey check``: validate questionnaire templates (no database needed)."""

from pathlib import Path
from typing import Annotated

import typer

from app.cli_support import describe
from app.surveys import service as survey_service
from app.surveys.service import QuestionnaireInvalid

survey_cli = typer.Typer(no_args_is_help=True, help="Questionnaire templates.")


@survey_cli.command("check")
def survey_check(files: Annotated[list[Path], typer.Argument(help="YAML templates")]) -> None:
    """Validate questionnaire templates; every problem names the file and the item."""
    failed = False
    for path in files:
        try:
            questionnaire = survey_service.load_questionnaire(path)
        except QuestionnaireInvalid as error:
            failed = True
            typer.secho(describe(error), fg=typer.colors.RED, err=True)
            continue
        groups = ", ".join(
            f"{group.key} ({len(questionnaire.items_for(group.key))})"
            for group in questionnaire.rater_groups
        )
        typer.echo(f"{path}: OK, {len(questionnaire.items)} items; items per group: {groups}")
    if failed:
        raise typer.Exit(code=1)
