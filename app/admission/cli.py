"""``pingyi codes …``: issue one-time admission codes to new files (CSV, PDF slips), list
and revoke their batches."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.admission import code_files
from app.admission import service as admission_service
from app.campaigns import service as campaign_service
from app.cli_support import fail, hashing_key, reported_errors
from app.config import get_settings
from app.credentials import keys as credential_keys
from app.db import session_scope
from app.errors import PingyiError

if TYPE_CHECKING:
    from app.reports.slips import Slip

codes_cli = typer.Typer(no_args_is_help=True, help="One-time admission codes.")


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

    Only hashes are kept, so these files are the only copy of the codes. The batch is
    committed first, not ready, and its id printed; the files are written as drafts beside
    their names, synced, and put in place; only then is the batch made ready, so its codes
    work. A large batch thus does not hold the database's write lock while its slips are
    drawn, and an interrupted command leaves a batch whose codes admit no one (`pingyi codes
    list` shows it as not ready), and no file under the names asked for: run it again.
    Should writing fail, the batch is revoked too.
    """
    from app.reports import fonts  # fpdf takes a while to import; only this command needs it
    from app.reports import slips as slips_report

    if not get_settings().issues_credentials:
        fail("This is a collector (PINGYI_ROLE=collector): codes belong to the issuer")
    files = [path for path in (out, pdf) if path is not None]
    if not files:
        fail("Name a file for the codes: --out FILE.csv, --pdf FILE.pdf, or both")
    if out is not None and pdf is not None and out.resolve() == pdf.resolve():
        fail(f"--out and --pdf both name {out}; give each its own file")
    for path in files:
        if path.exists():
            fail(f"{path} already exists; codes are written once, to a new file")
    drafts: dict[Path, code_files.Draft] = {}
    batch_id: int | None = None
    try:
        with reported_errors():
            if pdf is not None:
                fonts.find_cjk_font()  # a missing font is reported before any code is issued
            for path in files:
                drafts[path] = _open_draft(path)
            with session_scope() as session:
                campaign = campaign_service.get_campaign(session, slug)
                issued = admission_service.issue_codes(
                    session,
                    campaign,
                    hashing_key=hashing_key(),
                    group_key=group,
                    count=count,
                    target_code=target,
                    ready=False,
                )
                if get_settings().issues_credentials:  # a scoped batch gets its scope's key
                    credential_keys.ensure_batch_key(
                        session, campaign, issued.batch, get_settings().secret_bytes()
                    )
                printable = [] if pdf is None else slips_report.slips_for_batch(campaign, issued)
        batch_id = issued.batch.id
        typer.echo(
            f"Batch {batch_id}: {count} codes issued, not usable until their files are written"
        )
        page_count = _write_slips_or_revoke(
            slug,
            issued,
            printable,
            drafts[out] if out is not None else None,
            drafts[pdf] if pdf is not None else None,
        )
    except BaseException as error:
        code_files.discard(list(drafts.values()))
        if batch_id is not None and not isinstance(error, typer.Exit | SystemExit):
            typer.secho(
                f"Interrupted: batch {batch_id} is not ready, so none of its codes can be used; "
                "issue a new batch.",
                fg=typer.colors.RED,
                err=True,
            )
        raise
    if out is not None:
        typer.echo(f"Batch {batch_id}: {count} codes written to {out}")
    if pdf is not None:
        typer.echo(f"Batch {batch_id}: {count} slips on {page_count} pages in {pdf}")
    typer.echo(f"Batch {batch_id} is ready: its codes can be used")


def _open_draft(path: Path) -> code_files.Draft:
    """A draft for ``path`` (see :mod:`app.admission.code_files`), or exit with 1."""
    try:
        return code_files.open_draft(path)
    except FileExistsError:
        fail(f"{path} already exists; codes are written once, to a new file")
    except OSError as error:
        fail(f"Cannot create {path}: {error.strerror or error}")


def _write_slips_or_revoke(
    slug: str,
    issued: admission_service.IssuedBatch,
    printable: "list[Slip]",
    csv_draft: code_files.Draft | None,
    pdf_draft: code_files.Draft | None,
) -> int:
    """Write the batch's drafts, put them in place and make the batch ready; the PDF's page
    count. If any of that fails, revoke the batch and exit with 1."""
    from app.reports import slips as slips_report
    from app.split import links as split_links

    batch_id = issued.batch.id
    drafts = [draft for draft in (csv_draft, pdf_draft) if draft is not None]
    names = " and ".join(str(draft.target) for draft in drafts)
    page_count = 0
    placed = False
    try:
        if csv_draft is not None:
            with code_files.text_stream(csv_draft) as text_stream:
                admission_service.write_codes_csv(issued, text_stream)
        if pdf_draft is not None:
            with code_files.binary_stream(pdf_draft) as binary_stream:
                page_count = slips_report.render_slips_pdf(
                    printable, base_url=split_links.rating_base_url(), stream=binary_stream
                )
        code_files.put_in_place(drafts)
        placed = True
        with session_scope() as session:
            campaign = campaign_service.get_campaign(session, slug)
            admission_service.mark_batch_ready(session, campaign, batch_id)
        return page_count
    except BaseException as error:
        code_files.discard(drafts)
        if placed:  # their codes will not work: the names must be free for the next batch
            for draft in drafts:
                draft.target.unlink(missing_ok=True)
        if not isinstance(error, Exception):  # interrupted: the batch stays not ready
            raise
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
        fail(
            f"Could not write {names} ({problem}), nor revoke batch {batch_id} ({error}). "
            f"It is not ready, so none of its codes can be used; issue a new batch."
        )
    fail(
        f"Could not write {names} ({problem}). Batch {batch_id} is revoked, so none of its "
        f"codes can be used; issue a new batch."
    )


@codes_cli.command("list")
def codes_list(slug: str) -> None:
    """Batches of a campaign: id, rater group, scope, size, and "revoked", or "not ready" for
    a batch whose files were never written (its codes admit no one)."""
    with reported_errors(), session_scope() as session:
        campaign = campaign_service.get_campaign(session, slug)
        groups = {group.id: group.key for group in campaign.rater_groups}
        targets = {target.id: target.department.code for target in campaign.targets}
        for batch in admission_service.list_batches(session, campaign):
            scope = targets[batch.target_id] if batch.target_id else "*"
            state = "revoked" if batch.revoked else ("" if batch.ready else "not ready")
            typer.echo(
                f"{batch.id}\t{groups[batch.rater_group_id]}\t{scope}\t{batch.size}\t{state}"
            )


@codes_cli.command("revoke")
def codes_revoke(slug: str, batch: Annotated[int, typer.Option(help="Batch id")]) -> None:
    """Revoke a batch: its unused codes stop working. Used codes stay counted."""
    with reported_errors(), session_scope() as session:
        campaign = campaign_service.get_campaign(session, slug)
        admission_service.revoke_batch(session, campaign, batch)
    typer.echo(f"Batch {batch} revoked: its unused codes no longer work")
