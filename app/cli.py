"""The ``pingyi`` command. Each command is one unit of work inside ``session_scope()``."""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
import yaml
from pydantic import ValidationError

from app import i18n, strict_yaml
from app.accounts.cli import user_cli
from app.admission import codes
from app.admission import service as admission_service
from app.audit.cli import audit_cli
from app.ballot_box.cli import box_cli, tally_cli, trustees_cli
from app.campaigns import lifecycle
from app.campaigns import service as campaign_service
from app.campaigns.models import CampaignStatus
from app.campaigns.schemas import CampaignSpec
from app.config import PROJECT_ROOT, get_settings
from app.credentials import sealing
from app.credentials import service as credential_service
from app.credentials.cli import keys_cli, roster_cli
from app.db import session_scope
from app.departments import service as department_service
from app.departments.service import DepartmentImportInvalid
from app.errors import PingyiError
from app.results import export as results_export
from app.results import service as results_service
from app.surveys import service as survey_service
from app.surveys.service import QuestionnaireInvalid

if TYPE_CHECKING:
    from app.reports.bulletin import BulletinContext
    from app.reports.slips import Slip
    from app.results.schemas import CampaignResults

cli = typer.Typer(
    no_args_is_help=True, help="Pingyi 评议: anonymous evaluation of government offices."
)
survey_cli = typer.Typer(no_args_is_help=True, help="Questionnaire templates.")
departments_cli = typer.Typer(no_args_is_help=True, help="Departments that campaigns rate.")
campaign_cli = typer.Typer(no_args_is_help=True, help="Evaluation campaigns.")
codes_cli = typer.Typer(no_args_is_help=True, help="One-time admission codes.")
db_cli = typer.Typer(no_args_is_help=True, help="The database schema.")
cli.add_typer(survey_cli, name="survey")
cli.add_typer(departments_cli, name="departments")
cli.add_typer(campaign_cli, name="campaign")
cli.add_typer(codes_cli, name="codes")
cli.add_typer(db_cli, name="db")
cli.add_typer(user_cli, name="user")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(roster_cli, name="roster")
cli.add_typer(trustees_cli, name="trustees")
cli.add_typer(tally_cli, name="tally")
cli.add_typer(box_cli, name="ballot-box")


DEMO_STAFF_FILE = "demo-staff.txt"
DEMO_TRUSTEES_DIR = "trustees"


class ResultsFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


def main() -> None:
    i18n.set_locale(i18n.negotiate_locale(os.environ.get("PINGYI_LANG"), os.environ.get("LANG")))
    cli()


def _fail(message: str) -> NoReturn:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


@contextmanager
def _reported_errors() -> Iterator[None]:
    """Print domain errors as plain messages (with every problem listed) and exit with 1."""
    try:
        yield
    except DepartmentImportInvalid as error:
        _fail("\n".join([error.translated(), *(str(problem) for problem in error.problems)]))
    except QuestionnaireInvalid as error:
        _fail("\n".join([f"{error.source}:", *(f"  - {problem}" for problem in error.problems)]))
    except PingyiError as error:
        field = f" ({error.field})" if error.field else ""
        _fail(error.translated() + field)


def _hashing_key() -> bytes:
    return codes.hashing_key(get_settings().secret_bytes())


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the latest schema."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    command.upgrade(config, "head")


@survey_cli.command("check")
def survey_check(files: Annotated[list[Path], typer.Argument(help="YAML templates")]) -> None:
    """Validate questionnaire templates; every problem names the file and the item."""
    failed = False
    for path in files:
        try:
            questionnaire = survey_service.load_questionnaire(path)
        except QuestionnaireInvalid as error:
            failed = True
            typer.secho(f"{error.source}:", fg=typer.colors.RED, err=True)
            for problem in error.problems:
                typer.secho(f"  - {problem}", fg=typer.colors.RED, err=True)
            continue
        groups = ", ".join(
            f"{group.key} ({len(questionnaire.items_for(group.key))})"
            for group in questionnaire.rater_groups
        )
        typer.echo(f"{path}: OK, {len(questionnaire.items)} items; items per group: {groups}")
    if failed:
        raise typer.Exit(code=1)


@departments_cli.command("import")
def departments_import(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Create or update departments from a CSV file (code,name,category[,name_en])."""
    with _reported_errors(), session_scope() as session:
        report = department_service.import_csv(session, file.read_bytes())
    typer.echo(f"{report.created} created, {report.updated} updated")


@departments_cli.command("list")
def departments_list() -> None:
    with session_scope() as session:
        for department in department_service.list_departments(session):
            typer.echo(f"{department.code}\t{department.category}\t{department.name}")


@campaign_cli.command("create")
def campaign_create(
    spec_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
) -> None:
    """Create a draft campaign from a YAML spec."""
    settings = get_settings()
    with _reported_errors():
        try:
            raw = strict_yaml.safe_load(spec_file.read_text(encoding="utf-8"))
            spec = CampaignSpec.model_validate(raw)
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            _fail(f"{spec_file}: {error}")
        except ValidationError as error:
            problems = [
                f"  - {'.'.join(str(part) for part in detail['loc']) or 'spec'}: {detail['msg']}"
                for detail in error.errors()
            ]
            _fail("\n".join([f"{spec_file}:", *problems]))
        reference = spec.questionnaire
        relative = spec_file.parent / reference
        if relative.suffix in survey_service.TEMPLATE_SUFFIXES and relative.exists():
            reference = str(relative)
        questionnaire = survey_service.find_template(settings.surveys_dir, reference)
        with session_scope() as session:
            campaign = campaign_service.create_campaign(
                session, spec, questionnaire, default_threshold=settings.disclosure_threshold
            )
            typer.echo(
                f"Created campaign {campaign.slug} (draft): {len(campaign.targets)} targets, "
                f"{len(campaign.rater_groups)} rater groups, "
                f"threshold {campaign.disclosure_threshold}"
            )


def _lifecycle_step(slug: str, step: "Callable[..., object]", done: str) -> None:
    """Run one lifecycle stage in a write transaction; report only once it has committed."""
    from app.accounts.cli import cli_actor

    with _reported_errors(), session_scope() as session:
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        campaign = campaign_service.get_campaign(session, slug)
        step(session, campaign, actor=cli_actor())
    typer.echo(f"{slug}: {done}")


@campaign_cli.command("open")
def campaign_open(slug: str) -> None:
    """Open a draft campaign for ratings (it needs its tally key: `pingyi trustees create`)."""
    _lifecycle_step(slug, lifecycle.open_campaign, "open")


@campaign_cli.command("close")
def campaign_close(slug: str) -> None:
    """Close an open campaign: no more ratings are accepted.

    The ballot box stays sealed until its trustees open it (`pingyi tally`); the campaign's
    admission records are sealed (stored in random order).
    """
    _lifecycle_step(
        slug,
        lifecycle.close_campaign,
        "closed; admission records sealed (stored in random order); the ballot box stays "
        "sealed until the trustees open it with `pingyi tally`",
    )


@campaign_cli.command("seal")
def campaign_seal(slug: str) -> None:
    """Store a campaign's ratings and admission records in random order, then vacuum.

    Closing a campaign and tallying it seal it. Sealing an open campaign protects what is
    stored so far; what arrives later is written in order again until the next seal.
    """
    with _reported_errors(), session_scope() as session:
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        campaign = campaign_service.get_campaign(session, slug)
        sealing.seal(session, campaign)
    typer.echo(f"{slug}: sealed (ratings and admission records stored in random order)")


@campaign_cli.command("publish")
def campaign_publish(slug: str) -> None:
    """Publish a tallied campaign's results."""
    _lifecycle_step(slug, lifecycle.publish_campaign, "published")


@campaign_cli.command("list")
def campaign_list() -> None:
    with session_scope() as session:
        for campaign in campaign_service.list_campaigns(session):
            typer.echo(f"{campaign.slug}\t{campaign.status.value}\t{campaign.title_zh}")


@codes_cli.command("issue")
def codes_issue(
    slug: str,
    group: Annotated[str, typer.Option(help="Rater group key, e.g. citizens")],
    count: Annotated[int, typer.Option(help="How many codes")],
    out: Annotated[Path | None, typer.Option(help="CSV file to write; must not exist yet")] = None,
    pdf: Annotated[
        Path | None,
        typer.Option(help="PDF of printable slips, ten to an A4 page; must not exist yet"),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Department code, to scope the codes to one target")
    ] = None,
) -> None:
    """Issue codes and write them, once, to a new CSV file, a PDF of slips, or both.

    Only hashes are kept, so these files are the only copy of the codes: they are created
    before any code is issued and removed again if the command fails. The slips are drawn
    after the codes are committed, so a large batch does not hold the database's write lock
    while it renders; should drawing fail, the batch is revoked.
    """
    from app.reports import fonts  # fpdf takes a while to import; only this command needs it
    from app.reports import slips as slips_report

    if not get_settings().issues_credentials:
        _fail("This is a collector (PINGYI_ROLE=collector): codes belong to the issuer")
    files = [path for path in (out, pdf) if path is not None]
    if not files:
        _fail("Name a file for the codes: --out FILE.csv, --pdf FILE.pdf, or both")
    if out is not None and pdf is not None and out.resolve() == pdf.resolve():
        _fail(f"--out and --pdf both name {out}; give each its own file")
    for path in files:
        if path.exists():
            _fail(f"{path} already exists; codes are written once, to a new file")
    created: list[Path] = []
    try:
        with _reported_errors():
            if pdf is not None:
                fonts.find_cjk_font()  # a missing font is reported before any code is issued
            for path in files:
                _create_empty_file(path, created)
            with session_scope() as session:
                campaign = campaign_service.get_campaign(session, slug)
                issued = admission_service.issue_codes(
                    session,
                    campaign,
                    hashing_key=_hashing_key(),
                    group_key=group,
                    count=count,
                    target_code=target,
                )
                if get_settings().issues_credentials:  # a scoped batch gets its scope's key
                    credential_service.ensure_batch_key(
                        session, campaign, issued.batch, get_settings().secret_bytes()
                    )
                printable = [] if pdf is None else slips_report.slips_for_batch(campaign, issued)
                if out is not None:
                    with out.open("w", encoding="utf-8", newline="") as stream:
                        admission_service.write_codes_csv(issued, stream)
        if out is not None:
            typer.echo(f"Batch {issued.batch.id}: {count} codes written to {out}")
        if pdf is not None:
            page_count = _write_slips_or_revoke(slug, issued.batch.id, printable, pdf)
            typer.echo(f"Batch {issued.batch.id}: {count} slips on {page_count} pages in {pdf}")
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise


def _create_empty_file(path: Path, created: list[Path]) -> None:
    """Create ``path``, which must not exist, and note it in ``created``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.open("x").close()
    except OSError as error:
        _fail(f"Cannot create {path}: {error.strerror or error}")
    created.append(path)


def _write_slips_or_revoke(slug: str, batch_id: int, printable: "list[Slip]", path: Path) -> int:
    """Draw the batch's slips into ``path``; if that fails, revoke the batch and exit with 1."""
    from app.reports import slips as slips_report

    try:
        with path.open("wb") as stream:
            return slips_report.render_slips_pdf(
                printable, base_url=get_settings().public_base_url, stream=stream
            )
    except Exception as error:
        problem = (
            error.translated()
            if isinstance(error, PingyiError)
            else f"{type(error).__name__}: {error}"
        )
    try:
        with session_scope() as session:
            campaign = campaign_service.get_campaign(session, slug)
            admission_service.revoke_batch(session, campaign, batch_id)
    except Exception as error:  # report both problems, not a traceback
        _fail(
            f"Could not write {path} ({problem}), nor revoke batch {batch_id} ({error}). "
            f"Revoke it with `pingyi codes revoke {slug} --batch {batch_id}`."
        )
    _fail(
        f"Could not write {path} ({problem}). Batch {batch_id} is revoked, so none of its "
        f"codes can be used; issue a new batch."
    )


@codes_cli.command("list")
def codes_list(slug: str) -> None:
    """Batches of a campaign: id, rater group, scope, size, revoked."""
    with _reported_errors(), session_scope() as session:
        campaign = campaign_service.get_campaign(session, slug)
        groups = {group.id: group.key for group in campaign.rater_groups}
        targets = {target.id: target.department.code for target in campaign.targets}
        for batch in admission_service.list_batches(session, campaign):
            scope = targets[batch.target_id] if batch.target_id else "*"
            revoked = "revoked" if batch.revoked else ""
            typer.echo(
                f"{batch.id}\t{groups[batch.rater_group_id]}\t{scope}\t{batch.size}\t{revoked}"
            )


@codes_cli.command("revoke")
def codes_revoke(slug: str, batch: Annotated[int, typer.Option(help="Batch id")]) -> None:
    """Revoke a batch: its unused codes stop working. Used codes stay counted."""
    with _reported_errors(), session_scope() as session:
        campaign = campaign_service.get_campaign(session, slug)
        admission_service.revoke_batch(session, campaign, batch)
    typer.echo(f"Batch {batch} revoked: its unused codes no longer work")


@cli.command("results")
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

    with _reported_errors():
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
        with _reported_errors():
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


@cli.command("demo")
def demo(
    codes_out: Annotated[Path, typer.Option(help="CSV file for the demo admission codes")],
    show: Annotated[int, typer.Option(help="How many codes to print per rater group")] = 2,
) -> None:
    """Load a demo district and open a demo campaign (kept as is if it already exists)."""
    from app.demo import service as demo_service

    settings = get_settings()
    with _reported_errors(), session_scope() as session:
        report = demo_service.load_demo(
            session,
            settings.surveys_dir,
            _hashing_key(),
            codes_out,
            settings.disclosure_threshold,
            settings.var_dir / DEMO_TRUSTEES_DIR,
        )
        accounts = demo_service.demo_accounts(session, settings.var_dir / DEMO_STAFF_FILE)
        demo_campaign = campaign_service.get_campaign(session, report.slug)
        if demo_campaign.status == CampaignStatus.OPEN and settings.issues_credentials:
            credential_service.open_campaign_keys(session, demo_campaign, settings.secret_bytes())
        unused = demo_service.unused_codes(session, _hashing_key(), codes_out, per_group=show)
        campaign = campaign_service.get_campaign(session, report.slug)
        group_names = {group.key: group.name_zh for group in campaign.rater_groups}
    state = "created" if report.created else "already loaded; kept as it is"
    typer.echo(f"Demo campaign “{report.title}” ({report.slug}): {state}.")
    if accounts:
        typer.echo(
            f"Office console: {settings.public_base_url}/admin/login "
            f"(passwords kept in {settings.var_dir / DEMO_STAFF_FILE})"
        )
        for account in accounts:
            typer.echo(f"  {account.username:<12} {account.password:<14} {account.note}")
    if not codes_out.exists():
        typer.echo(
            f"{codes_out} does not exist: the demo codes were written once, to the file named "
            f"when the demo was first loaded, and only their hashes are kept. Issue new ones "
            f"with `pingyi codes issue {report.slug} --group citizens --count 10 --out FILE`."
        )
        return
    typer.echo(f"All demo codes are in {codes_out}. A few unused ones, by rater group:")
    for group_key, group_codes in unused.items():
        typer.echo(f"  {group_names.get(group_key, group_key)} ({group_key}):")
        for code in group_codes:
            typer.echo(f"    {code}    {settings.public_base_url}/r#{code}")
    typer.echo(f"Rate at {settings.public_base_url}/r by entering a code, or open a link above.")
    shares_found = sorted(report.shares_dir.glob("*.json"))
    if shares_found:
        typer.echo(
            "The demo trustees' shares (any 2 of 3 open the ballot box) are in "
            f"{report.shares_dir}."
        )
        typer.echo("To close this year's campaign and count it:")
        typer.echo(f"  pingyi campaign close {report.slug}")
        share_options = " ".join(f"--share {path}" for path in shares_found[:2])
        typer.echo(f"  pingyi tally {report.slug} {share_options}")


@cli.command("serve")
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    graceful_seconds: Annotated[
        int, typer.Option(min=1, help="On SIGTERM, how long requests in flight may finish")
    ] = 30,
) -> None:
    """Serve the web application with uvicorn. No access log is written (DESIGN.md, rule 5).

    With several workers, a supervisor restarts any worker that dies. SIGTERM or Ctrl-C stops
    accepting connections and lets requests in flight finish (up to --graceful-seconds).
    Logs go to stderr, as JSON lines when PINGYI_LOG_FORMAT=json.
    """
    import uvicorn

    from app.logs import logging_config

    settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        server_header=False,
        log_config=logging_config(settings.log_format),
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=graceful_seconds,
    )


# Raw evaluations (CLI only: what a database dump holds, in a usable form; see raw_export).

evaluations_cli = typer.Typer(no_args_is_help=True, help="Evaluations as stored.")
cli.add_typer(evaluations_cli, name="evaluations")


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

    with _reported_errors(), session_scope() as session:
        results_service.check_releasable(campaign_service.get_campaign(session, slug))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with _reported_errors():
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
