"""``pingyi results`` and ``pingyi evaluations export``: a campaign's results in every
format, and its evaluations as stored; each export is recorded in the audit trail."""

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app import i18n
from app.campaigns import service as campaign_service
from app.cli_support import reported_errors
from app.db import session_scope
from app.results import export as results_export
from app.results import service as results_service

if TYPE_CHECKING:
    from app.reports.bulletin import BulletinContext
    from app.results.schemas import CampaignResults


class ResultsFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


def results(
    slug: str,
    out: Annotated[Path, typer.Option(help="File to write")],
    format: Annotated[ResultsFormat, typer.Option("--format")] = ResultsFormat.JSON,
) -> None:
    """Write a campaign's results as JSON, CSV, an XLSX workbook or a PDF bulletin (通报).

    Every format withholds the same figures. The export is recorded in the audit trail.
    """
    from app.accounts.cli import cli_actor
    from app.audit import service as audit_service

    with reported_errors():
        if format == ResultsFormat.PDF:
            from app.reports import fonts  # fpdf takes a while to import; only PDFs need it

            fonts.find_cjk_font()  # a missing font is reported before anything is computed
        with session_scope() as session:
            campaign = campaign_service.get_campaign(session, slug)
            results_service.check_releasable(campaign)
            computed = results_service.campaign_results(session, campaign, i18n.current_locale())
            context = None
            if format == ResultsFormat.PDF:
                from app.reports import bulletin

                context = bulletin.bulletin_context(campaign, computed)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with reported_errors():
            _write_results(computed, context, format, out)
            with session_scope() as session:  # recorded once the file is made
                audit_service.record(
                    session,
                    actor=cli_actor(),
                    action="results_export",
                    object=f"campaign:{slug}",
                    detail={"format": format.value},
                )
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    typer.echo(f"Results of {slug} written to {out}")


def _write_results(
    computed: "CampaignResults",
    context: "BulletinContext | None",
    format: ResultsFormat,
    out: Path,
) -> None:
    """Write ``computed`` to ``out``: CSV line by line, XLSX row by row, JSON and PDF whole."""
    if format in (ResultsFormat.JSON, ResultsFormat.CSV):
        with out.open("w", encoding="utf-8", newline="") as text_stream:
            if format == ResultsFormat.JSON:
                results_export.write_json(computed, text_stream)
            else:
                results_export.write_csv(computed, text_stream)
        return
    from app.reports import bulletin, xlsx

    with out.open("wb") as binary_stream:
        if format == ResultsFormat.XLSX:
            xlsx.write_xlsx(computed, binary_stream)
        elif context is not None:
            bulletin.render_bulletin(computed, context, binary_stream)
        else:
            raise ValueError("a PDF bulletin needs its campaign's context")


# Raw evaluations (CLI only: what a database dump holds, in a usable form; see raw_export).

evaluations_cli = typer.Typer(no_args_is_help=True, help="Evaluations as stored.")


class RawEvaluationsFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


@evaluations_cli.command("export")
def evaluations_export(
    slug: str,
    out: Annotated[Path, typer.Option(help="File to write")],
    format: Annotated[RawEvaluationsFormat, typer.Option("--format")] = RawEvaluationsFormat.CSV,
) -> None:
    """Write a closed campaign's evaluations, one row each, as CSV or XLSX.

    Department, rater group, each item's level and the quality flags: no ids, no comments,
    rows sorted by department, rater group and answers, so their order says nothing about
    when anyone rated. The export is recorded in the audit trail.
    """
    from app.accounts.cli import cli_actor
    from app.audit import service as audit_service
    from app.results import raw_export

    with reported_errors(), session_scope() as session:
        results_service.check_releasable(campaign_service.get_campaign(session, slug))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with reported_errors():
            with session_scope() as session, out.open("wb") as stream:
                campaign = campaign_service.get_campaign(session, slug)
                written = raw_export.write_raw_evaluations(session, campaign, format.value, stream)
            with session_scope() as session:  # recorded once the file is made
                audit_service.record(
                    session,
                    actor=cli_actor(),
                    action="evaluations_export",
                    object=f"campaign:{slug}",
                    detail={"format": format.value, "evaluations": written},
                )
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    typer.echo(f"{written} evaluations of {slug} written to {out}")
